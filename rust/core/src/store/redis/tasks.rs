//! Task records: one string per record, `P task:O:<task id>`, and per owner a sorted set of its task ids scored
//! by a creation sequence, `P tasks:O` (with `O` the owner as `<its length>:<owner>`), for `list` in creation
//! order. A record whose key expired leaves its id in the set until a `list` or the set's own expiry prunes it.

use super::{decode, encode, Redis, RedisOptions};
use crate::store::{StoreError, StoreFuture, TaskRecord, TaskStore};
use redis::Script;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

/// Puts a record, kept for ARGV[2] ms from now. A task already there keeps its place; a new one (or one whose
/// record expired) takes the next creation sequence; the owner's set lives at least as long as its records.
static PUT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local keep = tonumber(ARGV[2])
if keep <= 0 then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[3])
  return 0
end
local placed = redis.call('EXISTS', KEYS[1]) == 1 and redis.call('ZSCORE', KEYS[2], ARGV[3])
redis.call('SET', KEYS[1], ARGV[1], 'PX', keep)
if not placed then
  redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), ARGV[3])
end
if redis.call('PTTL', KEYS[2]) < keep then
  redis.call('PEXPIRE', KEYS[2], keep)
end
return 1
",
    )
});

/// A page of the owner's live tasks after the cursor (ARGV[3], when ARGV[2] is '1'), at most ARGV[4], as
/// `{'ok', more, records...}` (`more` '1' when live tasks follow the page), or `{'unknown'}` when the cursor is
/// no live task of the owner's but others are. Resumes at the cursor's score (no walk from the start); ids whose
/// records expired are pruned as they are met.
static LIST: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local index, prefix, cursor, limit = KEYS[1], ARGV[1], ARGV[3], tonumber(ARGV[4])
local from = '-inf'
if ARGV[2] == '1' then
  local score = redis.call('ZSCORE', index, cursor)
  if not score or redis.call('EXISTS', prefix .. cursor) == 0 then
    redis.call('ZREM', index, cursor)
    for _, id in ipairs(redis.call('ZRANGE', index, 0, -1)) do
      if redis.call('EXISTS', prefix .. id) == 1 then return {'unknown'} end
      redis.call('ZREM', index, id)
    end
    return {'ok', '0'}
  end
  from = '(' .. score
end
local out, taken, more = {'ok', '0'}, 0, false
while not more do
  local batch = redis.call('ZRANGEBYSCORE', index, from, '+inf', 'WITHSCORES', 'LIMIT', 0, limit + 1)
  if #batch == 0 then break end
  for i = 1, #batch, 2 do
    local id = batch[i]
    from = '(' .. batch[i + 1]
    local record = redis.call('GET', prefix .. id)
    if not record then
      redis.call('ZREM', index, id)
    elseif taken < limit then
      taken = taken + 1
      out[#out + 1] = record
    else
      more = true
      break
    end
  end
end
if more then out[2] = '1' end
return out
",
    )
});

/// Task records on Redis.
#[derive(Clone)]
pub struct RedisTaskStore {
    redis: Redis,
    prefix: Arc<str>,
}

impl RedisTaskStore {
    pub(super) fn new(redis: Redis, options: &RedisOptions) -> RedisTaskStore {
        RedisTaskStore { redis, prefix: options.prefix.as_str().into() }
    }

    /// The owner as it appears in keys.
    fn owner_tag(owner: &str) -> String {
        format!("{}:{owner}", owner.len())
    }

    /// What an owner's record keys start with.
    fn records_of(&self, owner: &str) -> String {
        format!("{}task:{}:", self.prefix, Self::owner_tag(owner))
    }

    fn index(&self, owner: &str) -> String {
        format!("{}tasks:{}", self.prefix, Self::owner_tag(owner))
    }

    fn sequence(&self) -> String {
        format!("{}task-seq", self.prefix)
    }
}

impl TaskStore for RedisTaskStore {
    /// The `PUT` script: one round trip.
    fn put(&self, record: TaskRecord, keep: Duration) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let json = encode(&record)?;
            let mut put = PUT.prepare_invoke();
            put.key(format!("{}{}", self.records_of(&record.owner), record.task_id))
                .key(self.index(&record.owner))
                .key(self.sequence())
                .arg(json)
                .arg(u64::try_from(keep.as_millis()).unwrap_or(u64::MAX).min(1 << 45))
                .arg(&record.task_id);
            self.redis.invoke::<i64>(&put).await.map(|_| ())
        })
    }

    /// `GET` of the record's key (the owner is part of it: another owner's task is not found).
    fn get<'a>(&'a self, owner: &'a str, task_id: &'a str) -> StoreFuture<'a, Option<TaskRecord>> {
        Box::pin(async move {
            let key = format!("{}{task_id}", self.records_of(owner));
            let raw: Option<Vec<u8>> = self.redis.query(redis::cmd("GET").arg(&key)).await?;
            raw.map(|raw| decode("a task record", &key, &raw)).transpose()
        })
    }

    /// The `LIST` script: one round trip, the page found on the server from the cursor's place in the owner's
    /// sorted set, and only its records sent back. An unknown cursor is refused (as [`StoreError::Corrupt`], as the memory store does).
    fn list<'a>(
        &'a self,
        owner: &'a str,
        cursor: Option<&'a str>,
        limit: usize,
    ) -> StoreFuture<'a, (Vec<TaskRecord>, Option<String>)> {
        Box::pin(async move {
            let index = self.index(owner);
            let mut list = LIST.prepare_invoke();
            list.key(&index)
                .arg(self.records_of(owner))
                .arg(if cursor.is_some() { "1" } else { "0" })
                .arg(cursor.unwrap_or(""))
                .arg(limit.max(1));
            let answer: Vec<Vec<u8>> = self.redis.invoke(&list).await?;
            let mut answer = answer.into_iter();
            match (answer.next().as_deref(), answer.next().as_deref()) {
                (Some(b"ok"), Some(more)) => {
                    let page =
                        answer
                            .map(|raw| decode::<TaskRecord>("a task record", &index, &raw))
                            .collect::<Result<Vec<_>, _>>()?;
                    let next = if more == b"1" { page.last().map(|r| r.task_id.clone()) } else { None };
                    Ok((page, next))
                }
                (Some(b"unknown"), None) => {
                    Err(StoreError::Corrupt(format!("unknown cursor {:?}", cursor.unwrap_or(""))))
                }
                _ => Err(StoreError::Corrupt(format!("an unexpected answer to listing {index:?}"))),
            }
        })
    }

    /// `MULTI; DEL record; ZREM index id; EXEC`: one round trip; true when the record was there.
    fn remove<'a>(&'a self, owner: &'a str, task_id: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut pipe = redis::pipe();
            pipe.atomic()
                .cmd("DEL")
                .arg(format!("{}{task_id}", self.records_of(owner)))
                .cmd("ZREM")
                .arg(self.index(owner))
                .arg(task_id)
                .ignore();
            let (removed,): (i64,) = self.redis.query_pipe(&pipe).await?;
            Ok(removed > 0)
        })
    }
}
