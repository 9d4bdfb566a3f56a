//! The stores on Redis, for several processes (on one machine or many) serving the same clients: session
//! records, the events of resumable SSE streams and task records, in one Redis database under one key prefix;
//! and [`RedisBus`], which carries the notification bus's notices between the processes over Redis pub/sub.
//!
//! One [`RedisStores`] holds one connection (redis-rs's `ConnectionManager`: multiplexed, shared by the three
//! stores, reconnected after it is lost). Every operation is bounded: it answers within `connect_timeout +
//! response_timeout` (a reconnection may come first), and a Redis that is down, unreachable or does not answer
//! in time is [`StoreError::Unavailable`], never a hang (one that refuses connections, at once). Once Redis is
//! back, operations reconnect (the first may still fail, having met the lost connection): the store is never
//! re-created. A value that cannot be read back (or a key of the wrong type) is [`StoreError::Corrupt`].
//!
//! Keys, under the prefix `P` (`ferromcp:` unless configured), with `O` an owner written as `<its length in
//! bytes>:<owner>` so that no owner and task id run into each other:
//!
//! | key | type | what | expiry |
//! | --- | --- | --- | --- |
//! | `P session:<id>` | string | a [`SessionRecord`] as JSON | `ttl` after put or touch |
//! | `P events:<stream>` | list | the stream's events, oldest first, at most `event_capacity` | `event_ttl` after the last append |
//! | `P task:O:<task id>` | string | a [`TaskRecord`] as JSON | `ttl_ms` after the first put |
//! | `P tasks:O` | sorted set | the owner's task ids, scored by creation sequence | the longest-lived of its records |
//! | `P task-seq` | string | the creation sequence (`INCR`) | none |
//! | `P bus` | channel | the bus's notices ([`RedisBus`]) | |
//!
//! Multi-key operations are atomic (a `MULTI`/`EXEC` pipeline or a Lua script), and each takes one round trip
//! (the first run of a script on a Redis takes two more: `EVALSHA` is answered `NOSCRIPT`, and the script is
//! loaded). The scripts name keys they build from a prefix, so the stores need one Redis 6.0 or later (`SET
//! KEEPTTL`), or a primary with replicas, not a Redis Cluster.

mod bus;
mod events;
mod sessions;
mod tasks;

#[cfg(test)]
pub(crate) mod server;
#[cfg(test)]
mod tests;

pub use bus::RedisBus;
pub use events::RedisEventStore;
pub use sessions::RedisSessionStore;
pub use tasks::RedisTaskStore;

use super::StoreError;
#[cfg(doc)]
use super::{SessionRecord, TaskRecord};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, RedisError};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Where the Redis stores and bus connect, and how they behave.
#[derive(Clone, Debug)]
pub struct RedisOptions {
    /// `redis://[[user]:password@]host[:port][/db]` (or `redis+unix:///path`); `?protocol=resp3` may follow.
    pub url: String,
    /// Put before every key and the bus's channel, so that several servers (or other programs) can share one
    /// database. Default `ferromcp:`.
    pub prefix: String,
    /// How long one connection attempt may take. Default 1 s.
    pub connect_timeout: Duration,
    /// How long Redis may take to answer a command. Default 1 s.
    pub response_timeout: Duration,
    /// The events kept per SSE stream (the oldest go first). Default 256, as `HttpConfig::replay_buffer_events`.
    pub event_capacity: usize,
    /// How long a stream's events are kept after its last append: a stream nothing was sent on for this long is
    /// forgotten (its session has most likely ended; a client resuming it starts afresh). Default 1 hour.
    pub event_ttl: Duration,
}

impl RedisOptions {
    /// The defaults, for the Redis at `url`.
    pub fn new(url: impl Into<String>) -> RedisOptions {
        RedisOptions {
            url: url.into(),
            prefix: "ferromcp:".into(),
            connect_timeout: Duration::from_secs(1),
            response_timeout: Duration::from_secs(1),
            event_capacity: 256,
            event_ttl: Duration::from_secs(3600),
        }
    }

    /// The longest one operation may take: a reconnection, then the command.
    fn deadline(&self) -> Duration {
        self.connect_timeout.saturating_add(self.response_timeout)
    }

    fn client(&self) -> Result<redis::Client, StoreError> {
        redis::Client::open(self.url.as_str())
            .map_err(|e| StoreError::Unavailable(format!("cannot use the Redis URL {:?}: {e}", redact(&self.url))))
    }

    /// A connection that reconnects by itself, without connecting yet (it needs a tokio runtime's context).
    fn manager(&self) -> Result<ConnectionManager, StoreError> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.connect_timeout))
            .set_response_timeout(Some(self.response_timeout))
            // One connection attempt at a time, no retries in a loop: while Redis is down each operation fails
            // as soon as its attempt does (at once when the connection is refused), rather than waiting out its
            // deadline behind a retry loop; a failed attempt makes the next operation try again (and an operation
            // that meets a connection Redis dropped runs once more on a new one: see `Redis::bounded`).
            .set_number_of_retries(0);
        ConnectionManager::new_lazy_with_config(self.client()?, config).map_err(failure)
    }
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}://***{}", &url[..scheme], &url[at..]),
        _ => url.to_owned(),
    }
}

/// The three stores on one Redis connection. Build it with [`RedisStores::connect`]; each store it gives is a
/// cheap handle on the same connection.
#[derive(Clone)]
pub struct RedisStores {
    redis: Redis,
    options: Arc<RedisOptions>,
}

impl RedisStores {
    /// Connects to Redis (within the deadline: an unreachable Redis is [`StoreError::Unavailable`], as is a URL
    /// that cannot be used). Must run on a tokio runtime (with its timers), where the connection's background
    /// work is spawned.
    pub async fn connect(options: RedisOptions) -> Result<RedisStores, StoreError> {
        let redis = Redis { manager: options.manager()?, deadline: options.deadline() };
        redis.query::<String>(&redis::cmd("PING")).await?;
        Ok(RedisStores { redis, options: Arc::new(options) })
    }

    pub fn options(&self) -> &RedisOptions {
        &self.options
    }

    pub fn sessions(&self) -> RedisSessionStore {
        RedisSessionStore::new(self.redis.clone(), &self.options)
    }

    pub fn events(&self) -> RedisEventStore {
        RedisEventStore::new(self.redis.clone(), &self.options)
    }

    pub fn tasks(&self) -> RedisTaskStore {
        RedisTaskStore::new(self.redis.clone(), &self.options)
    }
}

/// A handle on the shared connection, whose every use is bounded by the deadline.
#[derive(Clone)]
struct Redis {
    manager: ConnectionManager,
    deadline: Duration,
}

impl Redis {
    /// Runs `op` on the connection, within the deadline. An operation that finds the connection dead (Redis
    /// restarted since the last one) runs once more on the new connection the manager makes, so the first
    /// request after Redis is back does not fail for nothing.
    async fn bounded<T, F>(&self, op: impl Fn(ConnectionManager) -> F) -> Result<T, StoreError>
    where
        F: Future<Output = Result<T, RedisError>>,
    {
        let attempts = async {
            match op(self.manager.clone()).await {
                Err(e) if e.is_connection_dropped() || e.is_io_error() => op(self.manager.clone()).await,
                outcome => outcome,
            }
        };
        match tokio::time::timeout(self.deadline, attempts).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(failure(e)),
            Err(_) => Err(StoreError::Unavailable(format!("Redis did not answer within {:?}", self.deadline))),
        }
    }

    async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, StoreError> {
        self.bounded(|mut con| async move { cmd.query_async(&mut con).await }).await
    }

    async fn query_pipe<T: redis::FromRedisValue>(&self, pipe: &redis::Pipeline) -> Result<T, StoreError> {
        self.bounded(|mut con| async move { pipe.query_async(&mut con).await }).await
    }

    async fn invoke<T: redis::FromRedisValue>(&self, script: &redis::ScriptInvocation<'_>) -> Result<T, StoreError> {
        self.bounded(|mut con| async move { script.invoke_async(&mut con).await }).await
    }
}

/// What a Redis error means to a store's caller: a value of the wrong shape is corrupt, anything else is Redis
/// being unavailable.
fn failure(e: RedisError) -> StoreError {
    let corrupt = matches!(e.kind(), ErrorKind::UnexpectedReturnType | ErrorKind::Parse)
        || e.code() == Some("WRONGTYPE")
        || e.to_string().contains("WRONGTYPE");
    if corrupt {
        StoreError::Corrupt(e.to_string())
    } else {
        StoreError::Unavailable(e.to_string())
    }
}

/// A duration as Redis's milliseconds: rounded up (a non-zero ttl stays non-zero), and at most about a thousand
/// years (Redis refuses an expiry past its clock's range).
fn millis(d: Duration) -> u64 {
    const MAX: u64 = 1 << 45;
    let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX).min(MAX);
    if Duration::from_millis(ms) < d && ms < MAX {
        ms + 1
    } else {
        ms
    }
}

/// Reads back a JSON record; anything else is corrupt.
fn decode<T: serde::de::DeserializeOwned>(what: &str, key: &str, raw: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(raw).map_err(|e| StoreError::Corrupt(format!("{what} at {key:?}: {e}")))
}

fn encode<T: serde::Serialize>(record: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(record).map_err(|e| StoreError::Corrupt(format!("cannot encode a record: {e}")))
}
