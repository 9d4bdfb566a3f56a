//! The Redis stores against a real `redis-server` each ([`RedisServer`]): the same semantics as the memory
//! stores (the shared bodies in `store/tests.rs`), the key layout, corrupt values, and a Redis that is down,
//! hangs or comes back.

use super::server::RedisServer;
use super::*;
use crate::bus::{Bus, Notice, Receiver};
use crate::store::tests::{event, event_store_semantics, record, session_store_semantics, task, task_store_semantics};
use crate::store::{EventStore, SessionRecord, SessionStore, TaskStore};
use std::sync::Mutex;
use std::time::Instant;

fn options(server: &RedisServer) -> RedisOptions {
    RedisOptions {
        event_capacity: 3,
        connect_timeout: Duration::from_millis(300),
        response_timeout: Duration::from_millis(300),
        ..RedisOptions::new(server.url())
    }
}

async fn stores(server: &RedisServer) -> RedisStores {
    RedisStores::connect(options(server)).await.unwrap_or_else(|e| panic!("{e}"))
}

/// A plain connection, to look at (and tamper with) what the stores keep.
async fn raw(server: &RedisServer) -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(server.url()).unwrap_or_else(|e| panic!("{e}"));
    client.get_multiplexed_async_connection().await.unwrap_or_else(|e| panic!("{e}"))
}

async fn run<T: redis::FromRedisValue>(con: &mut redis::aio::MultiplexedConnection, args: &[&str]) -> T {
    let mut cmd = redis::cmd(args[0]);
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    cmd.query_async(con).await.unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

#[tokio::test]
async fn sessions_have_the_memory_stores_semantics() -> Result<(), StoreError> {
    let server = RedisServer::start();
    session_store_semantics(&stores(&server).await.sessions()).await
}

#[tokio::test]
async fn events_have_the_memory_stores_semantics() -> Result<(), StoreError> {
    let server = RedisServer::start();
    event_store_semantics(&stores(&server).await.events()).await
}

#[tokio::test]
async fn tasks_have_the_memory_stores_semantics() -> Result<(), StoreError> {
    let server = RedisServer::start();
    task_store_semantics(&stores(&server).await.tasks()).await
}

#[tokio::test]
async fn keys_are_laid_out_as_documented() -> Result<(), StoreError> {
    let server = RedisServer::start();
    let options = RedisOptions { prefix: "app1:".into(), event_ttl: Duration::from_secs(100), ..options(&server) };
    let stores = RedisStores::connect(options).await?;
    let mut con = raw(&server).await;
    stores.sessions().put(record("s1"), Duration::from_secs(50)).await?;
    for id in ["1", "2", "3", "4", "5"] {
        stores.events().append("st", event(id)).await?;
    }
    stores.tasks().put(task("al:ice", "t:1", 70_000), Duration::from_millis(70_000)).await?;
    stores.tasks().put(task("al", "ice:t:1", 90_000), Duration::from_millis(90_000)).await?;

    let mut keys: Vec<String> = run(&mut con, &["KEYS", "*"]).await;
    keys.sort();
    assert_eq!(
        keys,
        [
            "app1:events:st",
            "app1:session:s1",
            "app1:task-seq",
            "app1:task:2:al:ice:t:1",
            "app1:task:6:al:ice:t:1",
            "app1:tasks:2:al",
            "app1:tasks:6:al:ice",
        ]
    );
    let ttl = |max: i64| move |ms: i64| ms > max - 5_000 && ms <= max;
    assert!(ttl(50_000)(run(&mut con, &["PTTL", "app1:session:s1"]).await));
    assert!(ttl(100_000)(run(&mut con, &["PTTL", "app1:events:st"]).await));
    assert!(ttl(70_000)(run(&mut con, &["PTTL", "app1:task:6:al:ice:t:1"]).await));
    assert!(ttl(70_000)(run(&mut con, &["PTTL", "app1:tasks:6:al:ice"]).await));
    let session: String = run(&mut con, &["GET", "app1:session:s1"]).await;
    assert_eq!(serde_json::from_str::<SessionRecord>(&session).ok(), Some(record("s1")));
    let events: Vec<Vec<u8>> = run(&mut con, &["LRANGE", "app1:events:st", "0", "-1"]).await;
    assert_eq!(events, [b"1:3data 3".to_vec(), b"1:4data 4".to_vec(), b"1:5data 5".to_vec()]);
    let ids: Vec<String> = run(&mut con, &["ZRANGE", "app1:tasks:2:al", "0", "-1"]).await;
    assert_eq!(ids, ["ice:t:1"]);
    assert_eq!(stores.tasks().get("al", "ice:t:1").await?.map(|t| t.ttl_ms), Some(90_000));
    assert_eq!(stores.tasks().get("al:ice", "t:1").await?.map(|t| t.ttl_ms), Some(70_000));
    Ok(())
}

#[tokio::test]
async fn unreadable_values_are_corrupt() -> Result<(), StoreError> {
    let server = RedisServer::start();
    let stores = stores(&server).await;
    let mut con = raw(&server).await;
    let corrupt = |r: Result<_, StoreError>| matches!(r, Err(StoreError::Corrupt(_)));

    let () = run(&mut con, &["SET", "ferromcp:session:s1", "{not json"]).await;
    assert!(corrupt(stores.sessions().get("s1").await.map(|_| ())));
    let () = run(&mut con, &["SET", "ferromcp:session:s2", r#"{"id":"s2"}"#]).await;
    assert!(corrupt(stores.sessions().get("s2").await.map(|_| ())), "a record missing its version");
    assert!(stores.sessions().remove("s1").await?, "a corrupt record can still be removed");

    stores.events().append("st", event("1")).await?;
    let _: i64 = run(&mut con, &["RPUSH", "ferromcp:events:st", "garbage"]).await;
    assert!(corrupt(stores.events().replay_after("st", "1").await.map(|_| ())));
    let () = run(&mut con, &["SET", "ferromcp:events:s2", "a string, not a list"]).await;
    assert!(corrupt(stores.events().replay_after("s2", "1").await.map(|_| ())), "a key of the wrong type");
    assert!(corrupt(stores.events().append("s2", event("1")).await));

    stores.tasks().put(task("alice", "t1", 60_000), Duration::from_millis(60_000)).await?;
    let () = run(&mut con, &["SET", "ferromcp:task:5:alice:t1", "[]"]).await;
    assert!(corrupt(stores.tasks().get("alice", "t1").await.map(|_| ())));
    assert!(corrupt(stores.tasks().list("alice", None, 10).await.map(|_| ())));
    let () = run(&mut con, &["SET", "ferromcp:tasks:3:bob", "not a sorted set"]).await;
    assert!(corrupt(stores.tasks().list("bob", None, 10).await.map(|_| ())));
    assert!(corrupt(stores.tasks().put(task("bob", "t1", 60_000), Duration::from_millis(60_000)).await));
    Ok(())
}

/// One operation of each store, as `Unavailable` or not.
async fn all_unavailable(stores: &RedisStores) -> Vec<bool> {
    let down = |r: Result<(), StoreError>| matches!(r, Err(StoreError::Unavailable(_)));
    vec![
        down(stores.sessions().put(record("s"), Duration::from_secs(60)).await),
        down(stores.sessions().get("s").await.map(|_| ())),
        down(stores.events().append("st", event("1")).await),
        down(stores.events().replay_after("st", "1").await.map(|_| ())),
        down(stores.tasks().put(task("o", "t", 60_000), Duration::from_millis(60_000)).await),
        down(stores.tasks().list("o", None, 10).await.map(|_| ())),
    ]
}

/// Retries `get` until Redis answers again, for at most `within`.
async fn recovers(stores: &RedisStores, within: Duration) -> Duration {
    let start = Instant::now();
    while stores.sessions().get("s").await.is_err() {
        assert!(start.elapsed() < within, "the store did not recover within {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    start.elapsed()
}

#[tokio::test]
async fn a_redis_that_is_down_is_unavailable_quickly_and_recovery_needs_no_new_store() -> Result<(), StoreError> {
    let mut server = RedisServer::start();
    let stores = stores(&server).await;
    stores.sessions().put(record("s"), Duration::from_secs(60)).await?;
    server.kill();
    let deadline = stores.options().deadline();
    for round in 0..3 {
        let start = Instant::now();
        let answers = all_unavailable(&stores).await;
        assert_eq!(answers, [true; 6], "round {round}");
        let took = start.elapsed();
        assert!(took < deadline, "round {round}: a refused connection fails at once, but six operations took {took:?}");
    }
    server.restart();
    recovers(&stores, Duration::from_secs(5)).await;
    assert_eq!(stores.sessions().get("s").await?, None, "the restarted Redis is empty (nothing was saved)");
    assert_eq!(all_unavailable(&stores).await, [false; 6], "every store works again");
    Ok(())
}

#[tokio::test]
async fn a_redis_that_hangs_is_unavailable_at_the_deadline() -> Result<(), StoreError> {
    let server = RedisServer::start();
    let stores = stores(&server).await;
    let pid = server.pid().map(|p| p.to_string()).unwrap_or_default();
    let signal = |sig: &str| {
        let status = std::process::Command::new("kill").args([sig, pid.as_str()]).status();
        assert!(status.is_ok_and(|s| s.success()), "kill {sig} {pid}");
    };
    signal("-STOP");
    let start = Instant::now();
    let answer = stores.sessions().get("s").await;
    let took = start.elapsed();
    signal("-CONT");
    assert!(matches!(answer, Err(StoreError::Unavailable(_))), "{answer:?}");
    let deadline = stores.options().deadline();
    assert!(took >= stores.options().response_timeout && took < deadline + Duration::from_millis(300), "{took:?}");
    recovers(&stores, Duration::from_secs(5)).await;
    stores.tasks().put(task("o", "t", 60_000), Duration::from_millis(60_000)).await?;
    assert!(stores.tasks().get("o", "t").await?.is_some());
    Ok(())
}

#[tokio::test]
async fn connecting_to_no_redis_or_a_silent_one_fails_within_the_deadline() {
    // Nothing listens on this port.
    let nothing = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr());
    let port = nothing.map(|a| a.port()).unwrap_or_else(|e| panic!("{e}"));
    // This one accepts connections (the kernel does) but never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let silent_port = silent.local_addr().map(|a| a.port()).unwrap_or_else(|e| panic!("{e}"));
    for (what, url) in [
        ("nothing", format!("redis://127.0.0.1:{port}/0")),
        ("silent", format!("redis://127.0.0.1:{silent_port}/0")),
        ("bad url", "http://127.0.0.1/".to_owned()),
    ] {
        let options = RedisOptions {
            connect_timeout: Duration::from_millis(200),
            response_timeout: Duration::from_millis(200),
            ..RedisOptions::new(url)
        };
        let start = Instant::now();
        let connected = RedisStores::connect(options).await;
        assert!(matches!(connected, Err(StoreError::Unavailable(_))), "{what}");
        assert!(start.elapsed() < Duration::from_millis(700), "{what}: {:?}", start.elapsed());
    }
    drop(silent);
}

#[test]
fn passwords_stay_out_of_messages() {
    assert_eq!(redact("redis://user:secret@host:6379/0"), "redis://***@host:6379/0");
    assert_eq!(redact("redis://host:6379/0"), "redis://host:6379/0");
    assert_eq!(millis(Duration::from_micros(1500)), 2);
    assert_eq!(millis(Duration::ZERO), 0);
    assert_eq!(millis(Duration::MAX), 1 << 45);
}

// -- the bus ----------------------------------------------------------------------------------------------------

/// Counts what it is delivered.
#[derive(Default)]
struct Tally(Mutex<Vec<Notice>>);

impl Receiver for Tally {
    fn deliver(&self, notice: &Notice, _: &[u8]) -> bool {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(notice.clone());
        true
    }
}

impl Tally {
    fn got(&self) -> Vec<Notice> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// A bus (a "process") with one receiver.
fn process(server: &RedisServer) -> (Arc<RedisBus>, Arc<Tally>) {
    let bus = RedisBus::start(&options(server), &tokio::runtime::Handle::current()).unwrap_or_else(|e| panic!("{e}"));
    let tally = Arc::new(Tally::default());
    let receiver: Arc<dyn Receiver> = tally.clone();
    bus.join(Arc::downgrade(&receiver));
    (bus, tally)
}

/// Waits until `n` connections are subscribed to the bus's channel.
async fn subscribed(con: &mut redis::aio::MultiplexedConnection, n: i64) {
    let start = Instant::now();
    loop {
        let (_, count): (String, i64) = run(con, &["PUBSUB", "NUMSUB", "ferromcp:bus"]).await;
        if count >= n {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{count} of {n} buses subscribed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `tally` has `n` notices (and a little longer, to see that no more come).
async fn settles(tally: &Tally, n: usize) -> Vec<Notice> {
    let start = Instant::now();
    while tally.got().len() < n && start.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    tally.got()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notices_reach_the_other_processes_once() {
    let server = RedisServer::start();
    let mut con = raw(&server).await;
    let (a, a_got) = process(&server);
    let (b, b_got) = process(&server);
    assert_ne!(a.origin(), b.origin());
    subscribed(&mut con, 2).await;

    assert_eq!(a.publish(Notice::ToolsChanged), 1, "delivered locally at once");
    assert_eq!(a_got.got(), [Notice::ToolsChanged]);
    assert_eq!(settles(&b_got, 1).await, [Notice::ToolsChanged]);
    assert_eq!(a_got.got(), [Notice::ToolsChanged], "a process does not hear its own notice twice");

    let updated = Notice::ResourceUpdated("file:///a".into());
    b.publish(updated.clone());
    assert_eq!(settles(&a_got, 2).await, [Notice::ToolsChanged, updated.clone()]);
    assert_eq!(b_got.got(), [Notice::ToolsChanged, updated.clone()]);

    // Messages it cannot read are ignored, and the bus goes on.
    let _: i64 = run(&mut con, &["PUBLISH", "ferromcp:bus", "not json"]).await;
    let _: i64 = run(&mut con, &["PUBLISH", "ferromcp:bus", r#"{"origin":"x","notice":"FromTheFuture"}"#]).await;
    let _: i64 = run(&mut con, &["PUBLISH", "ferromcp:bus", r#"{"origin":"x","notice":"PromptsChanged"}"#]).await;
    assert_eq!(settles(&a_got, 3).await, [Notice::ToolsChanged, updated.clone(), Notice::PromptsChanged]);
    assert_eq!(b_got.got().len(), 3);

    drop(b);
    a.publish(Notice::ResourcesChanged);
    assert_eq!(settles(&a_got, 4).await.len(), 4);
    assert_eq!(b_got.got().len(), 3, "a dropped bus delivers no more");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bus_survives_a_redis_restart() {
    let mut server = RedisServer::start();
    let (a, a_got) = process(&server);
    let (_b, b_got) = process(&server);
    subscribed(&mut raw(&server).await, 2).await;
    server.kill();
    a.publish(Notice::ToolsChanged);
    assert_eq!(a_got.got(), [Notice::ToolsChanged], "local delivery goes on while Redis is down");
    server.restart();
    subscribed(&mut raw(&server).await, 2).await;
    // The publisher reconnects on its own; the first notices may still meet the lost connection.
    let start = Instant::now();
    while b_got.got().is_empty() {
        assert!(start.elapsed() < Duration::from_secs(10), "no notice reached the other process after the restart");
        a.publish(Notice::PromptsChanged);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The notice published while Redis was down may have waited in the queue for it, and arrived once.
    let early = b_got.got().iter().filter(|n| **n == Notice::ToolsChanged).count();
    assert!(early <= 1, "{:?}", b_got.got());
}

#[tokio::test]
async fn the_bus_keepalive_is_answered_while_subscribed() {
    let server = RedisServer::start();
    let client = redis::Client::open(server.url()).unwrap_or_else(|e| panic!("{e}"));
    let mut pubsub = client.get_async_pubsub().await.unwrap_or_else(|e| panic!("{e}"));
    pubsub.subscribe("ferromcp:bus").await.unwrap_or_else(|e| panic!("{e}"));
    let (mut sink, _messages) = pubsub.split();
    for _ in 0..2 {
        let ping = tokio::time::timeout(Duration::from_secs(1), sink.ping::<redis::Value>()).await;
        assert!(matches!(ping, Ok(Ok(_))), "{ping:?}");
    }
}
