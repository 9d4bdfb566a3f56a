//! Storage seams: what must outlive one process's memory when several processes serve the same clients — a
//! legacy session's record, the events of its SSE streams (for `Last-Event-ID` replay elsewhere), and task
//! records. Each is an async trait (an out-of-process store such as Redis answers over the network), with an
//! in-memory implementation here that several servers in one process can share (and that the tests use).
//!
//! The hot path never waits on a store it does not need: a process serves the sessions it holds from its own
//! memory, and consults the store only to adopt a session it does not hold, to record a change of a session's
//! state, or (throttled) to keep a record alive. Without a store configured, nothing here runs at all.
//!
//! Notifications between processes are the bus's business ([`crate::bus`]).
//!
//! [`redis`] has the implementations on Redis (and the bus's), for several processes sharing one Redis.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub mod redis;

/// What a store operation returns: a future that may run on another thread (the store is shared).
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A store could not do what was asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreError {
    /// The store is down or unreachable (answered as 503 where a request depends on it).
    Unavailable(String),
    /// What the store holds cannot be read back (another version wrote it, or it was altered).
    Corrupt(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Unavailable(why) => write!(f, "the session store is unavailable: {why}"),
            StoreError::Corrupt(why) => write!(f, "the session store holds an unreadable record: {why}"),
        }
    }
}

impl std::error::Error for StoreError {}

fn ready<'a, T: Send + 'a>(value: Result<T, StoreError>) -> StoreFuture<'a, T> {
    Box::pin(std::future::ready(value))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

// -- sessions ---------------------------------------------------------------------------------------------------

/// What another process needs to serve a legacy session's requests: what `initialize` negotiated and what the
/// client has set since. Serialized as JSON by out-of-process stores.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub id: String,
    /// The negotiated protocol version.
    pub version: String,
    #[serde(rename = "clientCapabilities", default)]
    pub client_capabilities: Map<String, Value>,
    /// The level set with `logging/setLevel`, if any.
    #[serde(rename = "logLevel", default, skip_serializing_if = "Option::is_none")]
    pub log_level: Option<String>,
    /// Resource URIs subscribed to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subscriptions: Vec<String>,
    /// The authenticated subject that created the session; another principal's requests never adopt it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
}

/// Where session records live. A record expires `ttl` after it was last put or touched.
pub trait SessionStore: Send + Sync {
    fn put(&self, record: SessionRecord, ttl: Duration) -> StoreFuture<'_, ()>;
    fn get<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<SessionRecord>>;
    /// Extends a record's life; false if there is none.
    fn touch<'a>(&'a self, id: &'a str, ttl: Duration) -> StoreFuture<'a, bool>;
    /// Removes a record; false if there was none.
    fn remove<'a>(&'a self, id: &'a str) -> StoreFuture<'a, bool>;
}

/// Session records in this process's memory, expired lazily.
#[derive(Default)]
pub struct MemorySessionStore {
    records: Mutex<HashMap<String, (SessionRecord, Instant)>>,
}

impl MemorySessionStore {
    pub fn new() -> MemorySessionStore {
        MemorySessionStore::default()
    }

    /// Records still alive.
    pub fn len(&self) -> usize {
        let now = Instant::now();
        lock(&self.records).values().filter(|(_, until)| *until > now).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl SessionStore for MemorySessionStore {
    fn put(&self, record: SessionRecord, ttl: Duration) -> StoreFuture<'_, ()> {
        let now = Instant::now();
        let mut records = lock(&self.records);
        if records.len() % 1024 == 1023 {
            records.retain(|_, (_, until)| *until > now);
        }
        records.insert(record.id.clone(), (record, now + ttl));
        ready(Ok(()))
    }

    fn get<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<SessionRecord>> {
        let now = Instant::now();
        let found = lock(&self.records).get(id).filter(|(_, until)| *until > now).map(|(r, _)| r.clone());
        ready(Ok(found))
    }

    fn touch<'a>(&'a self, id: &'a str, ttl: Duration) -> StoreFuture<'a, bool> {
        let now = Instant::now();
        let mut records = lock(&self.records);
        let alive = match records.get_mut(id) {
            Some((_, until)) if *until > now => {
                *until = now + ttl;
                true
            }
            _ => false,
        };
        ready(Ok(alive))
    }

    fn remove<'a>(&'a self, id: &'a str) -> StoreFuture<'a, bool> {
        let now = Instant::now();
        let removed = lock(&self.records).remove(id).is_some_and(|(_, until)| until > now);
        ready(Ok(removed))
    }
}

// -- SSE events ---------------------------------------------------------------------------------------------------

/// One SSE event as kept for replay: its id (what a client sends back as `Last-Event-ID`) and its `data`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvent {
    pub id: String,
    pub data: Bytes,
}

/// Where the events of resumable streams are kept, per stream, in order, at most `capacity` each (the oldest
/// go first).
pub trait EventStore: Send + Sync {
    fn append<'a>(&'a self, stream: &'a str, event: StoredEvent) -> StoreFuture<'a, ()>;
    /// The events after `last_event_id`, in order; None when the stream or that event is not (or no longer)
    /// kept, so the client cannot resume from it.
    fn replay_after<'a>(&'a self, stream: &'a str, last_event_id: &'a str)
        -> StoreFuture<'a, Option<Vec<StoredEvent>>>;
    /// Forgets a stream (its session ended).
    fn forget<'a>(&'a self, stream: &'a str) -> StoreFuture<'a, ()>;
}

/// Events in this process's memory: a bounded buffer per stream.
pub struct MemoryEventStore {
    capacity: usize,
    streams: Mutex<HashMap<String, VecDeque<StoredEvent>>>,
}

impl MemoryEventStore {
    pub fn new(capacity: usize) -> MemoryEventStore {
        MemoryEventStore { capacity: capacity.max(1), streams: Mutex::new(HashMap::new()) }
    }
}

impl EventStore for MemoryEventStore {
    fn append<'a>(&'a self, stream: &'a str, event: StoredEvent) -> StoreFuture<'a, ()> {
        let mut streams = lock(&self.streams);
        let events = streams.entry(stream.to_owned()).or_default();
        if events.len() == self.capacity {
            events.pop_front();
        }
        events.push_back(event);
        ready(Ok(()))
    }

    fn replay_after<'a>(
        &'a self,
        stream: &'a str,
        last_event_id: &'a str,
    ) -> StoreFuture<'a, Option<Vec<StoredEvent>>> {
        let streams = lock(&self.streams);
        let found = streams.get(stream).and_then(|events| {
            let at = events.iter().position(|e| e.id == last_event_id)?;
            Some(events.iter().skip(at + 1).cloned().collect())
        });
        ready(Ok(found))
    }

    fn forget<'a>(&'a self, stream: &'a str) -> StoreFuture<'a, ()> {
        lock(&self.streams).remove(stream);
        ready(Ok(()))
    }
}

// -- tasks --------------------------------------------------------------------------------------------------------

/// A task as any process needs it to answer `tasks/get`, `tasks/result`, `tasks/list` and `tasks/cancel`: who owns
/// it, its status, and its result once there is one. The running work itself stays in the process that runs it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRecord {
    #[serde(rename = "taskId")]
    pub task_id: String,
    /// The session (legacy) or principal (stateless) the task belongs to; no one else sees it.
    pub owner: String,
    /// `working`, `input_required`, `completed`, `failed` or `cancelled`.
    pub status: String,
    #[serde(rename = "statusMessage", default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    #[serde(rename = "createdAt")]
    pub created_at: String,
    #[serde(rename = "lastUpdatedAt")]
    pub last_updated_at: String,
    /// Milliseconds the record is kept after creation.
    #[serde(rename = "ttlMs")]
    pub ttl_ms: u64,
    /// The JSON-RPC result (`completed`) or error (`failed`) of the finished task, as JSON text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// Requests to the client the task waits on (`input_required`): a JSON object of key → `{method, params}`.
    #[serde(rename = "inputRequests", default, skip_serializing_if = "Option::is_none")]
    pub input_requests: Option<String>,
}

/// Where task records live. A put replaces the task's record (keeping its place in its owner's creation order)
/// and keeps it for `keep` from then: the writer decides how long each state lives (a legacy task until its
/// TTL from creation runs out, a finished stateless task for its TTL from the end).
pub trait TaskStore: Send + Sync {
    fn put(&self, record: TaskRecord, keep: Duration) -> StoreFuture<'_, ()>;
    fn get<'a>(&'a self, owner: &'a str, task_id: &'a str) -> StoreFuture<'a, Option<TaskRecord>>;
    /// An owner's tasks after `cursor` (a task id), in creation order, at most `limit`, and the cursor of the
    /// next page if there is one.
    fn list<'a>(
        &'a self,
        owner: &'a str,
        cursor: Option<&'a str>,
        limit: usize,
    ) -> StoreFuture<'a, (Vec<TaskRecord>, Option<String>)>;
    fn remove<'a>(&'a self, owner: &'a str, task_id: &'a str) -> StoreFuture<'a, bool>;
}

/// Task records in this process's memory.
#[derive(Default)]
pub struct MemoryTaskStore {
    inner: Mutex<TaskTables>,
}

#[derive(Default)]
struct TaskTables {
    next: u64,
    /// owner → creation sequence → record, with its expiry.
    by_owner: HashMap<String, BTreeMap<u64, (TaskRecord, Instant)>>,
}

impl MemoryTaskStore {
    pub fn new() -> MemoryTaskStore {
        MemoryTaskStore::default()
    }
}

impl TaskTables {
    fn expire(&mut self, owner: &str, now: Instant) {
        if let Some(tasks) = self.by_owner.get_mut(owner) {
            tasks.retain(|_, (_, until)| *until > now);
            if tasks.is_empty() {
                self.by_owner.remove(owner);
            }
        }
    }
}

impl TaskStore for MemoryTaskStore {
    fn put(&self, record: TaskRecord, keep: Duration) -> StoreFuture<'_, ()> {
        let now = Instant::now();
        let mut tables = lock(&self.inner);
        tables.expire(&record.owner, now);
        let existing = tables
            .by_owner
            .get(&record.owner)
            .and_then(|tasks| tasks.iter().find(|(_, (r, _))| r.task_id == record.task_id).map(|(k, _)| *k));
        let seq = match existing {
            Some(found) => found,
            None => {
                tables.next += 1;
                tables.next
            }
        };
        let until = now.checked_add(keep).unwrap_or(now + Duration::from_secs(365 * 86_400));
        tables.by_owner.entry(record.owner.clone()).or_default().insert(seq, (record, until));
        ready(Ok(()))
    }

    fn get<'a>(&'a self, owner: &'a str, task_id: &'a str) -> StoreFuture<'a, Option<TaskRecord>> {
        let mut tables = lock(&self.inner);
        tables.expire(owner, Instant::now());
        let found = tables
            .by_owner
            .get(owner)
            .and_then(|tasks| tasks.values().find(|(r, _)| r.task_id == task_id).map(|(r, _)| r.clone()));
        ready(Ok(found))
    }

    fn list<'a>(
        &'a self,
        owner: &'a str,
        cursor: Option<&'a str>,
        limit: usize,
    ) -> StoreFuture<'a, (Vec<TaskRecord>, Option<String>)> {
        let mut tables = lock(&self.inner);
        tables.expire(owner, Instant::now());
        let Some(tasks) = tables.by_owner.get(owner) else { return ready(Ok((Vec::new(), None))) };
        let start = match cursor {
            None => 0,
            Some(c) => match tasks.values().position(|(r, _)| r.task_id == c) {
                Some(i) => i + 1,
                None => return ready(Err(StoreError::Corrupt(format!("unknown cursor {c:?}")))),
            },
        };
        let page: Vec<TaskRecord> = tasks.values().skip(start).take(limit.max(1)).map(|(r, _)| r.clone()).collect();
        let more = tasks.len() > start + page.len();
        let next = if more { page.last().map(|r| r.task_id.clone()) } else { None };
        ready(Ok((page, next)))
    }

    fn remove<'a>(&'a self, owner: &'a str, task_id: &'a str) -> StoreFuture<'a, bool> {
        let mut tables = lock(&self.inner);
        let removed = tables.by_owner.get_mut(owner).is_some_and(|tasks| {
            let key = tasks.iter().find(|(_, (r, _))| r.task_id == task_id).map(|(k, _)| *k);
            key.and_then(|k| tasks.remove(&k)).is_some()
        });
        ready(Ok(removed))
    }
}

#[cfg(test)]
mod tests;
