//! Session records: one string per record, `P session:<id>`, expiring with Redis's own key expiry.

use super::{decode, encode, millis, Redis, RedisOptions};
use crate::store::{SessionRecord, SessionStore, StoreFuture};
use std::time::Duration;

/// Session records on Redis, as JSON, each under its own key; every operation is one command.
#[derive(Clone)]
pub struct RedisSessionStore {
    redis: Redis,
    prefix: String,
}

impl RedisSessionStore {
    pub(super) fn new(redis: Redis, options: &RedisOptions) -> RedisSessionStore {
        RedisSessionStore { redis, prefix: format!("{}session:", options.prefix) }
    }

    fn key(&self, id: &str) -> String {
        format!("{}{id}", self.prefix)
    }
}

impl SessionStore for RedisSessionStore {
    /// `SET key json PX ttl` (a zero ttl deletes: the record would be dead at once).
    fn put(&self, record: SessionRecord, ttl: Duration) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let key = self.key(&record.id);
            let ms = millis(ttl);
            if ms == 0 {
                return self.redis.query::<()>(redis::cmd("DEL").arg(&key)).await;
            }
            let json = encode(&record)?;
            self.redis.query::<()>(redis::cmd("SET").arg(&key).arg(json).arg("PX").arg(ms)).await
        })
    }

    /// `GET key`.
    fn get<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<SessionRecord>> {
        Box::pin(async move {
            let key = self.key(id);
            let raw: Option<Vec<u8>> = self.redis.query(redis::cmd("GET").arg(&key)).await?;
            raw.map(|raw| decode("a session record", &key, &raw)).transpose()
        })
    }

    /// `PEXPIRE key ttl`: 1 when the key exists (a zero ttl ends the record there and then).
    fn touch<'a>(&'a self, id: &'a str, ttl: Duration) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let alive: i64 = self.redis.query(redis::cmd("PEXPIRE").arg(self.key(id)).arg(millis(ttl))).await?;
            Ok(alive == 1)
        })
    }

    /// `DEL key`: how many keys it removed.
    fn remove<'a>(&'a self, id: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let removed: i64 = self.redis.query(redis::cmd("DEL").arg(self.key(id))).await?;
            Ok(removed > 0)
        })
    }
}
