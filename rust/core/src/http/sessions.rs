//! HTTP sessions: the registry (bounded, with an idle TTL), and per session its SSE streams and limits.

use super::mirror::{self, EventJournal, Mirror};
use super::sse::SseStream;
use crate::context::Transport;
use crate::session::{Dispatcher, OutKind, Outbound, Session};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Limits that shape every session.
#[derive(Clone, Debug)]
pub struct SessionLimits {
    pub max_in_flight: usize,
    pub replay_capacity: usize,
    /// Streams (finished or not) kept per session for resumption; the oldest finished ones go first.
    pub max_streams: usize,
}

/// Where messages unrelated to any request go: the session's standalone stream (the GET stream).
struct StandaloneOut(Arc<SseStream>);

impl Outbound for StandaloneOut {
    fn send(&self, msg: Vec<u8>, _kind: OutKind) {
        self.0.push(&msg);
    }
}

/// What the streams of a session shared with other processes need: this process's tag (the upper bits of
/// their ids) and where their events are recorded (see [`super::mirror`]).
#[derive(Clone)]
pub struct SharedStreams {
    pub tag: u32,
    pub journal: Arc<EventJournal>,
}

pub struct HttpSession {
    pub id: String,
    /// Set when other processes may resume this session's streams.
    shared: Option<SharedStreams>,
    pub core: Arc<Session>,
    /// Stream 0: server messages not tied to a request, delivered on the GET stream.
    pub standalone: Arc<SseStream>,
    streams: Mutex<BTreeMap<u64, Arc<SseStream>>>,
    next_stream: AtomicU64,
    /// A GET stream is open (at most one per session).
    pub get_open: AtomicBool,
    pub in_flight: Arc<Semaphore>,
    pub terminated: AtomicBool,
    last_seen_ms: AtomicU64,
    /// When the session store's record was last written or touched (see `due_for_store_touch`).
    stored_ms: AtomicU64,
    /// The registry's clock origin, so the session can note activity on its own.
    clock: Instant,
    limits: SessionLimits,
    /// The subject of the principal that created the session (with authorization): only it may use it.
    pub owner: std::sync::OnceLock<String>,
}

/// Notes the end of an activity (a call answered over SSE, a GET stream closing) when dropped: the idle clock
/// starts when activity ends, not when its request arrived.
pub struct ActivityGuard(pub Arc<HttpSession>);

impl Drop for ActivityGuard {
    fn drop(&mut self) {
        self.0.touch();
    }
}

impl HttpSession {
    pub fn new(
        id: String,
        dispatcher: Arc<dyn Dispatcher>,
        limits: SessionLimits,
        clock: Instant,
        shared: Option<SharedStreams>,
    ) -> Arc<HttpSession> {
        let now_ms = clock.elapsed().as_millis() as u64;
        let standalone = Arc::new(Self::make_stream(&id, shared.as_ref(), 0, limits.replay_capacity));
        let core = Session::new(Arc::new(StandaloneOut(standalone.clone())), dispatcher, Transport::Http);
        core.set_client(format!("session:{id}"));
        Arc::new(HttpSession {
            id,
            shared,
            core,
            standalone,
            streams: Mutex::new(BTreeMap::new()),
            next_stream: AtomicU64::new(1),
            get_open: AtomicBool::new(false),
            in_flight: Arc::new(Semaphore::new(limits.max_in_flight.max(1))),
            terminated: AtomicBool::new(false),
            last_seen_ms: AtomicU64::new(now_ms),
            stored_ms: AtomicU64::new(now_ms),
            clock,
            limits,
            owner: std::sync::OnceLock::new(),
        })
    }

    /// Records activity now (the idle timeout counts from the last activity).
    /// Whether the session store's record should be kept alive now (at most once per `every`): records the
    /// time when it says yes.
    pub fn due_for_store_touch(&self, every: Duration) -> bool {
        let now = self.clock.elapsed().as_millis() as u64;
        let last = self.stored_ms.load(Ordering::Relaxed);
        now.saturating_sub(last) >= every.as_millis() as u64
            && self.stored_ms.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
    }

    pub fn touch(&self) {
        self.last_seen_ms.store(self.clock.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// Stream `n` of the session: plain, or (shared) tagged with this process and recording its events.
    fn make_stream(session: &str, shared: Option<&SharedStreams>, n: u64, capacity: usize) -> SseStream {
        match shared {
            None => SseStream::new(n, capacity),
            Some(shared) => {
                let id = mirror::stream_id(shared.tag, n);
                let journal = shared.journal.clone();
                mirror::mirrored(id, capacity, Mirror { journal, session: session.into(), stream: id })
            }
        }
    }

    /// Where this session's streams record their events, when other processes may resume them.
    pub fn shared(&self) -> Option<&SharedStreams> {
        self.shared.as_ref()
    }

    /// A new request stream, registered for resumption.
    pub fn new_stream(&self) -> Arc<SseStream> {
        let n = self.next_stream.fetch_add(1, Ordering::Relaxed);
        let stream = Arc::new(Self::make_stream(&self.id, self.shared.as_ref(), n, self.limits.replay_capacity));
        let id = stream.id;
        let mut streams = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        streams.insert(id, stream.clone());
        while streams.len() > self.limits.max_streams {
            let oldest_finished = streams.iter().find(|(_, s)| s.is_finished()).map(|(k, _)| *k);
            match oldest_finished {
                Some(k) => streams.remove(&k),
                None => {
                    let evicted = streams.pop_first().map(|(_, s)| s);
                    if let Some(s) = &evicted {
                        tracing::warn!(
                            session = %self.id,
                            stream = s.id,
                            max_streams = self.limits.max_streams,
                            "too many open SSE streams in one session; the oldest unfinished one was evicted"
                        );
                    }
                    evicted
                }
            };
        }
        stream
    }

    pub fn stream(&self, id: u64) -> Option<Arc<SseStream>> {
        if id == self.standalone.id {
            return Some(self.standalone.clone());
        }
        self.streams.lock().unwrap_or_else(|p| p.into_inner()).get(&id).cloned()
    }

    /// True when nothing is running or connected: safe to expire.
    fn is_idle(&self) -> bool {
        self.in_flight.available_permits() == self.limits.max_in_flight.max(1)
            && !self.get_open.load(Ordering::Relaxed)
            && self.core.in_flight() == 0
    }

    /// Ends the session: its streams end, the calls still running on it are cancelled (nobody could receive
    /// their answers), and it accepts nothing more.
    pub fn terminate(&self) {
        self.terminated.store(true, Ordering::Release);
        self.core.cancel_all();
        self.standalone.finish();
        for stream in self.streams.lock().unwrap_or_else(|p| p.into_inner()).values() {
            stream.finish();
        }
    }
}

pub struct SessionRegistry {
    sessions: RwLock<HashMap<String, Arc<HttpSession>>>,
    max_sessions: usize,
    started: Instant,
}

pub enum CreateError {
    Full,
    Random,
}

impl SessionRegistry {
    pub fn new(max_sessions: usize) -> SessionRegistry {
        SessionRegistry { sessions: RwLock::new(HashMap::new()), max_sessions, started: Instant::now() }
    }

    pub fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// The clock origin sessions measure their activity from.
    pub fn clock(&self) -> Instant {
        self.started
    }

    /// A cryptographically random id: 128 bits as 32 lowercase hex characters (visible ASCII).
    pub fn new_id() -> Result<String, CreateError> {
        let mut raw = [0u8; 16];
        getrandom::fill(&mut raw).map_err(|_| CreateError::Random)?;
        Ok(raw.iter().map(|b| format!("{b:02x}")).collect())
    }

    pub fn has_room(&self) -> bool {
        self.len() < self.max_sessions
    }

    pub fn insert(&self, session: Arc<HttpSession>) -> Result<(), CreateError> {
        let mut sessions = self.sessions.write().unwrap_or_else(|p| p.into_inner());
        if sessions.len() >= self.max_sessions {
            return Err(CreateError::Full);
        }
        sessions.insert(session.id.clone(), session);
        Ok(())
    }

    /// Inserts `session` unless one with its id is there already (two requests adopting the same session from
    /// the store at once); returns the one that is registered.
    pub fn insert_or_existing(&self, session: Arc<HttpSession>) -> Result<Arc<HttpSession>, CreateError> {
        let mut sessions = self.sessions.write().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = sessions.get(&session.id) {
            return Ok(existing.clone());
        }
        if sessions.len() >= self.max_sessions {
            return Err(CreateError::Full);
        }
        sessions.insert(session.id.clone(), session.clone());
        Ok(session)
    }

    pub fn get(&self, id: &str) -> Option<Arc<HttpSession>> {
        self.sessions.read().unwrap_or_else(|p| p.into_inner()).get(id).cloned()
    }

    pub fn remove(&self, id: &str) -> Option<Arc<HttpSession>> {
        let removed = self.sessions.write().unwrap_or_else(|p| p.into_inner()).remove(id);
        if let Some(s) = &removed {
            s.terminate();
        }
        removed
    }

    pub fn len(&self) -> usize {
        self.sessions.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls in flight across all sessions.
    pub fn in_flight(&self) -> usize {
        self.sessions.read().unwrap_or_else(|p| p.into_inner()).values().map(|s| s.core.in_flight()).sum()
    }

    /// Removes sessions idle for longer than `ttl_ms`; returns how many.
    pub fn expire(&self, ttl_ms: u64) -> usize {
        let now = self.now_ms();
        let expired: Vec<String> = self
            .sessions
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .filter(|s| now.saturating_sub(s.last_seen_ms.load(Ordering::Relaxed)) > ttl_ms && s.is_idle())
            .map(|s| s.id.clone())
            .collect();
        for id in &expired {
            tracing::info!(session = %id, idle_ms = ttl_ms, "idle session expired");
            self.remove(id);
        }
        expired.len()
    }

    /// Ends every session (server shutdown).
    pub fn terminate_all(&self) {
        let all: Vec<Arc<HttpSession>> =
            self.sessions.write().unwrap_or_else(|p| p.into_inner()).drain().map(|(_, s)| s).collect();
        if !all.is_empty() {
            tracing::info!(sessions = all.len(), "ending every session (shutdown)");
        }
        for s in all {
            s.terminate();
        }
    }
}
