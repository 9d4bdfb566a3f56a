//! The stores' semantics, as one body per trait run against every implementation: here the in-memory ones,
//! in `redis/tests.rs` the Redis ones.

use super::*;
use serde_json::json;

pub(super) fn record(id: &str) -> SessionRecord {
    SessionRecord {
        id: id.into(),
        version: "2025-11-25".into(),
        client_capabilities: json!({"sampling": {}}).as_object().cloned().unwrap_or_default(),
        log_level: Some("info".into()),
        subscriptions: vec!["test://a".into()],
        principal: None,
    }
}

/// What every `SessionStore` does. Leaves nothing alive.
pub(super) async fn session_store_semantics(store: &dyn SessionStore) -> Result<(), StoreError> {
    store.put(record("a"), Duration::from_secs(60)).await?;
    store.put(record("b"), Duration::from_millis(30)).await?;
    assert_eq!(store.get("a").await?, Some(record("a")));
    assert!(store.touch("a", Duration::from_secs(60)).await?);
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(store.get("b").await?, None, "an expired record is gone");
    assert!(!store.touch("b", Duration::from_secs(60)).await?, "an expired record cannot be revived");
    assert!(!store.touch("never", Duration::from_secs(60)).await?);
    assert!(!store.remove("b").await?, "an expired record is not removed");

    let mut changed = record("a");
    changed.log_level = None;
    changed.subscriptions.clear();
    changed.principal = Some("alice".into());
    store.put(changed.clone(), Duration::from_secs(60)).await?;
    assert_eq!(store.get("a").await?, Some(changed), "a put replaces the record");

    store.put(record("c"), Duration::from_millis(150)).await?;
    assert!(store.touch("c", Duration::from_secs(60)).await?);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(store.get("c").await?, Some(record("c")), "a touch extends the record's life");
    assert!(store.remove("c").await?);

    store.put(record("z"), Duration::ZERO).await?;
    assert_eq!(store.get("z").await?, None, "a record put with no time to live is dead at once");

    assert!(store.remove("a").await?);
    assert!(!store.remove("a").await?);
    assert_eq!(store.get("a").await?, None);
    Ok(())
}

#[tokio::test]
async fn session_records_live_for_their_ttl() -> Result<(), StoreError> {
    let store = MemorySessionStore::new();
    session_store_semantics(&store).await?;
    assert!(store.is_empty());
    store.put(record("a"), Duration::from_secs(60)).await?;
    store.put(record("b"), Duration::from_millis(1)).await?;
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(store.len(), 1, "only live records count");
    Ok(())
}

#[test]
fn session_records_have_a_stable_json_form() {
    let text = serde_json::to_string(&record("s1")).unwrap_or_default();
    assert_eq!(
        text,
        r#"{"id":"s1","version":"2025-11-25","clientCapabilities":{"sampling":{}},"logLevel":"info","subscriptions":["test://a"]}"#
    );
    let back: SessionRecord =
        serde_json::from_str(r#"{"id":"s1","version":"2025-06-18"}"#).unwrap_or_else(|e| panic!("{e}"));
    assert!(back.client_capabilities.is_empty() && back.log_level.is_none() && back.subscriptions.is_empty());
}

pub(super) fn event(id: &str) -> StoredEvent {
    StoredEvent { id: id.into(), data: Bytes::from(format!("data {id}")) }
}

/// What every `EventStore` of capacity 3 does.
pub(super) async fn event_store_semantics(store: &dyn EventStore) -> Result<(), StoreError> {
    for id in ["1", "2", "3", "4"] {
        store.append("s/1", event(id)).await?;
    }
    store.append("s/2", event("x")).await?;
    let after_two = store.replay_after("s/1", "2").await?.unwrap_or_default();
    assert_eq!(after_two, vec![event("3"), event("4")]);
    assert_eq!(store.replay_after("s/1", "4").await?, Some(vec![]), "caught up: nothing to replay");
    assert_eq!(store.replay_after("s/1", "1").await?, None, "evicted: cannot resume from it");
    assert_eq!(store.replay_after("s/1", "").await?, None);
    assert_eq!(store.replay_after("s/9", "1").await?, None);
    store.forget("s/1").await?;
    assert_eq!(store.replay_after("s/1", "3").await?, None);
    assert_eq!(store.replay_after("s/2", "x").await?, Some(vec![]));
    store.forget("s/9").await?;

    // Ids are compared whole, and data is kept byte for byte.
    let odd = [
        StoredEvent { id: "1".into(), data: Bytes::from_static(b"\x00\xff\r\n") },
        StoredEvent { id: "12".into(), data: Bytes::new() },
        StoredEvent { id: "1:2".into(), data: Bytes::from_static(b"2:12") },
    ];
    for e in &odd {
        store.append("s/3", e.clone()).await?;
    }
    assert_eq!(store.replay_after("s/3", "1").await?, Some(odd[1..].to_vec()));
    assert_eq!(store.replay_after("s/3", "12").await?, Some(odd[2..].to_vec()));
    assert_eq!(store.replay_after("s/3", "2").await?, None);
    Ok(())
}

#[tokio::test]
async fn events_replay_after_the_last_seen_one_within_capacity() -> Result<(), StoreError> {
    event_store_semantics(&MemoryEventStore::new(3)).await
}

pub(super) fn task(owner: &str, id: &str, ttl_ms: u64) -> TaskRecord {
    TaskRecord {
        task_id: id.into(),
        owner: owner.into(),
        status: "working".into(),
        status_message: None,
        created_at: "2026-11-29T00:00:00.000Z".into(),
        last_updated_at: "2026-11-29T00:00:00.000Z".into(),
        ttl_ms,
        outcome: None,
        input_requests: None,
    }
}

const MINUTE: Duration = Duration::from_secs(60);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn ids(page: &[TaskRecord]) -> Vec<&str> {
    page.iter().map(|t| t.task_id.as_str()).collect()
}

/// What every `TaskStore` does.
pub(super) async fn task_store_semantics(store: &dyn TaskStore) -> Result<(), StoreError> {
    for id in ["t1", "t2", "t3"] {
        store.put(task("alice", id, 60_000), MINUTE).await?;
    }
    store.put(task("bob", "t9", 60_000), MINUTE).await?;
    let mut done = task("alice", "t2", 60_000);
    done.status = "completed".into();
    done.outcome = Some(r#"{"content":[]}"#.into());
    store.put(done.clone(), MINUTE).await?;
    assert_eq!(store.get("alice", "t2").await?, Some(done), "an update keeps the task in place");
    assert_eq!(store.get("bob", "t2").await?, None, "another owner's task is invisible");
    assert_eq!(store.get("alice", "t9").await?, None);

    let (first, next) = store.list("alice", None, 2).await?;
    assert_eq!(ids(&first), ["t1", "t2"]);
    let (rest, end) = store.list("alice", next.as_deref(), 2).await?;
    assert_eq!((ids(&rest), end), (vec!["t3"], None));
    assert!(store.list("alice", Some("nope"), 2).await.is_err(), "an unknown cursor is refused");
    assert!(store.list("alice", Some("t9"), 2).await.is_err(), "another owner's task is no cursor");
    let (all, end) = store.list("alice", None, 10).await?;
    assert_eq!((ids(&all), end), (vec!["t1", "t2", "t3"], None));
    let (one, next) = store.list("alice", None, 0).await?;
    assert_eq!((ids(&one), next.as_deref()), (vec!["t1"], Some("t1")), "a page has at least one task");
    assert_eq!(store.list("nobody", None, 2).await?, (vec![], None));
    assert_eq!(store.list("nobody", Some("t1"), 2).await?, (vec![], None), "an owner with no tasks has no pages");

    assert!(!store.remove("bob", "t1").await?, "another owner's task is not removed");
    assert!(store.remove("alice", "t1").await?);
    assert!(!store.remove("alice", "t1").await?);
    let (left, _) = store.list("alice", None, 10).await?;
    assert_eq!(ids(&left), ["t2", "t3"]);

    // Each put keeps the record for its own `keep` from then; a later put keeps the task's place.
    store.put(task("carol", "short", 50), ms(50)).await?;
    store.put(task("carol", "first", 60_000), ms(150)).await?;
    store.put(task("carol", "second", 60_000), MINUTE).await?;
    let mut again = task("carol", "first", 60_000);
    again.status = "completed".into();
    store.put(again.clone(), ms(300)).await?;
    assert_eq!(ids(&store.list("carol", None, 10).await?.0), ["short", "first", "second"]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(store.get("carol", "short").await?, None, "past its keep");
    assert_eq!(store.get("carol", "first").await?, Some(again), "the later put kept it longer");
    assert_eq!(ids(&store.list("carol", None, 10).await?.0), ["first", "second"], "expired tasks are not listed");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(store.get("carol", "first").await?, None, "kept for the last put's keep, no longer");
    assert!(store.list("carol", Some("first"), 10).await.is_err(), "an expired task is no cursor");

    // A task put again after it expired is a new one: last in line.
    store.put(task("carol", "short", 60_000), MINUTE).await?;
    assert_eq!(ids(&store.list("carol", None, 10).await?.0), ["second", "short"]);
    store.put(task("dave", "none", 0), Duration::ZERO).await?;
    assert_eq!(store.get("dave", "none").await?, None, "a task kept for no time is dead at once");

    // Pages skip the tasks that expired between them, however many in a row.
    for i in 0..9 {
        let keep = if [1, 2, 3, 6].contains(&i) { ms(30) } else { MINUTE };
        store.put(task("erin", &format!("e{i}"), 60_000), keep).await?;
    }
    tokio::time::sleep(Duration::from_millis(60)).await;
    let mut pages = Vec::new();
    let mut cursor = None;
    loop {
        let (page, next) = store.list("erin", cursor.as_deref(), 2).await?;
        pages.push(ids(&page).join(","));
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, ["e0,e4", "e5,e7", "e8"]);
    Ok(())
}

#[tokio::test]
async fn tasks_are_kept_per_owner_in_creation_order() -> Result<(), StoreError> {
    task_store_semantics(&MemoryTaskStore::new()).await
}
