//! The events of resumable SSE streams: one list per stream, `P events:<stream>`, oldest first.
//!
//! An entry is the event's id and its data, as `<the id's length in bytes>:<id><data>` (an id cannot run into
//! its data, and a replay finds an id by that prefix alone).

use super::{millis, Redis, RedisOptions};
use crate::store::{EventStore, StoreError, StoreFuture, StoredEvent};
use bytes::Bytes;
use redis::Script;
use std::sync::{Arc, LazyLock};

/// The events after the entry that starts with ARGV[1] (the last event seen), or nil when no entry does.
static REPLAY: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local entries = redis.call('LRANGE', KEYS[1], 0, -1)
local seen = ARGV[1]
for i, entry in ipairs(entries) do
  if string.sub(entry, 1, #seen) == seen then
    local after = {}
    for j = i + 1, #entries do after[#after + 1] = entries[j] end
    return after
  end
end
return false
",
    )
});

/// Events on Redis: a capped list per stream, whose key expires `event_ttl` after the stream's last append.
#[derive(Clone)]
pub struct RedisEventStore {
    redis: Redis,
    prefix: Arc<str>,
    capacity: usize,
    ttl_ms: u64,
}

impl RedisEventStore {
    pub(super) fn new(redis: Redis, options: &RedisOptions) -> RedisEventStore {
        RedisEventStore {
            redis,
            prefix: format!("{}events:", options.prefix).into(),
            capacity: options.event_capacity.max(1),
            ttl_ms: millis(options.event_ttl).max(1),
        }
    }

    fn key(&self, stream: &str) -> String {
        format!("{}{stream}", self.prefix)
    }
}

/// The start of an event's entry: its id, length first.
fn entry_head(id: &str) -> Vec<u8> {
    let mut head = format!("{}:", id.len()).into_bytes();
    head.extend_from_slice(id.as_bytes());
    head
}

fn entry(event: &StoredEvent) -> Vec<u8> {
    let mut entry = entry_head(&event.id);
    entry.extend_from_slice(&event.data);
    entry
}

fn read_entry(key: &str, raw: Vec<u8>) -> Result<StoredEvent, StoreError> {
    let corrupt = || StoreError::Corrupt(format!("an event entry in {key:?} is not <length>:<id><data>"));
    let colon = raw.iter().position(|&b| b == b':').ok_or_else(corrupt)?;
    let len: usize = std::str::from_utf8(&raw[..colon]).ok().and_then(|n| n.parse().ok()).ok_or_else(corrupt)?;
    let id_end = colon.checked_add(1).and_then(|start| start.checked_add(len)).ok_or_else(corrupt)?;
    let id = raw.get(colon + 1..id_end).and_then(|id| std::str::from_utf8(id).ok()).ok_or_else(corrupt)?.to_owned();
    let data = Bytes::from(raw).slice(id_end..);
    Ok(StoredEvent { id, data })
}

impl EventStore for RedisEventStore {
    /// `MULTI; RPUSH key entry; LTRIM key -capacity -1; PEXPIRE key event_ttl; EXEC`: one round trip.
    fn append<'a>(&'a self, stream: &'a str, event: StoredEvent) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let key = self.key(stream);
            let keep_from = -(i64::try_from(self.capacity).unwrap_or(i64::MAX));
            let mut pipe = redis::pipe();
            pipe.atomic()
                .cmd("RPUSH")
                .arg(&key)
                .arg(entry(&event))
                .ignore()
                .cmd("LTRIM")
                .arg(&key)
                .arg(keep_from)
                .arg(-1)
                .ignore()
                .cmd("PEXPIRE")
                .arg(&key)
                .arg(self.ttl_ms)
                .ignore();
            self.redis.query_pipe::<()>(&pipe).await
        })
    }

    /// A Lua script (`LRANGE`, then the entries after the one seen): one round trip, and only the events to
    /// replay come back.
    fn replay_after<'a>(
        &'a self,
        stream: &'a str,
        last_event_id: &'a str,
    ) -> StoreFuture<'a, Option<Vec<StoredEvent>>> {
        Box::pin(async move {
            let key = self.key(stream);
            let mut replay = REPLAY.prepare_invoke();
            replay.key(&key).arg(entry_head(last_event_id));
            let after: Option<Vec<Vec<u8>>> = self.redis.invoke(&replay).await?;
            after.map(|entries| entries.into_iter().map(|raw| read_entry(&key, raw)).collect()).transpose()
        })
    }

    /// `DEL key`.
    fn forget<'a>(&'a self, stream: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move { self.redis.query::<()>(redis::cmd("DEL").arg(self.key(stream))).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_read_back_as_written() {
        for (id, data) in [("1", "data 1"), ("", ""), ("12:3", ":x"), ("é", "\u{0}")] {
            let event = StoredEvent { id: id.into(), data: Bytes::from(data) };
            assert_eq!(read_entry("k", entry(&event)), Ok(event));
        }
        let bad: [&[u8]; 7] =
            [b"", b"x", b"3:ab", b"-1:a", b"99999999999999999999999:a", b"18446744073709551615:a", b"1:\xff"];
        for raw in bad {
            assert!(matches!(read_entry("k", raw.to_vec()), Err(StoreError::Corrupt(_))), "{raw:?}");
        }
    }
}
