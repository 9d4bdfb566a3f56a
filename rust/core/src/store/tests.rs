use super::*;
use serde_json::json;

fn record(id: &str) -> SessionRecord {
    SessionRecord {
        id: id.into(),
        version: "2025-11-25".into(),
        client_capabilities: json!({"sampling": {}}).as_object().cloned().unwrap_or_default(),
        log_level: Some("info".into()),
        subscriptions: vec!["test://a".into()],
        principal: None,
    }
}

#[tokio::test]
async fn session_records_live_for_their_ttl() -> Result<(), StoreError> {
    let store = MemorySessionStore::new();
    store.put(record("a"), Duration::from_secs(60)).await?;
    store.put(record("b"), Duration::from_millis(30)).await?;
    assert_eq!(store.get("a").await?, Some(record("a")));
    assert!(store.touch("a", Duration::from_secs(60)).await?);
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(store.get("b").await?, None, "an expired record is gone");
    assert!(!store.touch("b", Duration::from_secs(60)).await?, "an expired record cannot be revived");
    assert_eq!(store.len(), 1);
    assert!(store.remove("a").await?);
    assert!(!store.remove("a").await?);
    assert!(store.is_empty());
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

fn event(id: &str) -> StoredEvent {
    StoredEvent { id: id.into(), data: Bytes::from(format!("data {id}")) }
}

#[tokio::test]
async fn events_replay_after_the_last_seen_one_within_capacity() -> Result<(), StoreError> {
    let store = MemoryEventStore::new(3);
    for id in ["1", "2", "3", "4"] {
        store.append("s/1", event(id)).await?;
    }
    store.append("s/2", event("x")).await?;
    let after_two = store.replay_after("s/1", "2").await?.unwrap_or_default();
    assert_eq!(after_two, vec![event("3"), event("4")]);
    assert_eq!(store.replay_after("s/1", "4").await?, Some(vec![]), "caught up: nothing to replay");
    assert_eq!(store.replay_after("s/1", "1").await?, None, "evicted: cannot resume from it");
    assert_eq!(store.replay_after("s/9", "1").await?, None);
    store.forget("s/1").await?;
    assert_eq!(store.replay_after("s/1", "3").await?, None);
    assert_eq!(store.replay_after("s/2", "x").await?, Some(vec![]));
    Ok(())
}

const MINUTE: Duration = Duration::from_secs(60);

fn task(owner: &str, id: &str, ttl_ms: u64) -> TaskRecord {
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

#[tokio::test]
async fn tasks_are_kept_per_owner_in_creation_order() -> Result<(), StoreError> {
    let store = MemoryTaskStore::new();
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

    let (first, next) = store.list("alice", None, 2).await?;
    assert_eq!(first.iter().map(|t| t.task_id.as_str()).collect::<Vec<_>>(), ["t1", "t2"]);
    let (rest, end) = store.list("alice", next.as_deref(), 2).await?;
    assert_eq!((rest.len(), rest[0].task_id.as_str(), end), (1, "t3", None));
    assert!(store.list("alice", Some("nope"), 2).await.is_err(), "an unknown cursor is refused");

    assert!(store.remove("alice", "t1").await?);
    assert!(!store.remove("alice", "t1").await?);
    store.put(task("carol", "short", 20), Duration::from_millis(20)).await?;
    tokio::time::sleep(Duration::from_millis(40)).await;
    assert_eq!(store.get("carol", "short").await?, None, "past its keep");
    store.put(task("carol", "kept", 20), Duration::from_millis(30)).await?;
    tokio::time::sleep(Duration::from_millis(20)).await;
    store.put(task("carol", "kept", 20), Duration::from_millis(60)).await?;
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(store.get("carol", "kept").await?.is_some(), "each put keeps the record for its own keep");
    Ok(())
}
