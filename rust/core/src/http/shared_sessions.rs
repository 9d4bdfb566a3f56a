//! Tests of sessions shared through a session store: two endpoints (two processes, as far as they can tell)
//! serve one client's session; what one records, the other adopts.

use super::stack::McpService;
use crate::bus::{Bus, LocalBus};
use crate::engine::{Engine, ServerConfig};
use crate::registry::Tool;
use crate::session::{Call, Dispatcher, ReplyOutcome};
use crate::store::{MemorySessionStore, SessionStore, StoreError};
use crate::testing::DownStore;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;
use tower::ServiceExt;

fn endpoint(store: Arc<dyn SessionStore>) -> McpService {
    crate::testing::endpoint(Some(store))
}

async fn post(svc: &McpService, body: Value, session: Option<&str>) -> (StatusCode, Option<String>, Value) {
    let mut req = Request::post("/mcp")
        .header("host", "127.0.0.1:8000")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    if let Some(id) = session {
        req = req.header("mcp-session-id", id); // no MCP-Protocol-Version: the session's own applies
    }
    let req = req.body(Full::new(Bytes::from(body.to_string()))).unwrap_or_else(|e| panic!("{e}"));
    let resp = svc.clone().oneshot(req).await.unwrap_or_else(|e| match e {});
    let status = resp.status();
    let id = resp.headers().get("mcp-session-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let bytes = resp.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    (status, id, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn request(id: i64, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

async fn open(svc: &McpService) -> String {
    let init = json!({"protocolVersion": "2025-06-18", "capabilities": {"roots": {}}, "clientInfo": {"name": "c", "version": "1"}});
    let (status, id, _) = post(svc, request(1, "initialize", init), None).await;
    assert_eq!(status, StatusCode::OK);
    let Some(id) = id else { panic!("no session id") };
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert_eq!(post(svc, initialized, Some(&id)).await.0, StatusCode::ACCEPTED);
    id
}

#[tokio::test]
async fn a_session_opened_on_one_endpoint_is_served_by_another() -> Result<(), StoreError> {
    let store = Arc::new(MemorySessionStore::new());
    let (a, b) = (endpoint(store.clone()), endpoint(store.clone()));
    let id = open(&a).await;
    let stored = store.get(&id).await?.unwrap_or_else(|| panic!("initialize did not store the session"));
    assert_eq!((stored.version.as_str(), stored.log_level.clone()), ("2025-06-18", None));
    assert_eq!(stored.client_capabilities.get("roots"), Some(&json!({})));

    // A change on A is recorded; B adopts the session as recorded.
    let (status, _, _) = post(&a, request(2, "logging/setLevel", json!({"level": "warning"})), Some(&id)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(store.get(&id).await?.and_then(|r| r.log_level), Some("warning".to_owned()));
    let (status, _, listed) = post(&b, request(3, "tools/list", json!({})), Some(&id)).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed["result"]["tools"], json!([]));
    let (_, _, subscribed) = post(&b, request(4, "resources/subscribe", json!({"uri": "test://x"})), Some(&id)).await;
    assert_eq!(subscribed["error"]["code"], -32601, "no resources registered: {subscribed}");
    post(&b, request(5, "logging/setLevel", json!({"level": "error"})), Some(&id)).await;
    let record = store.get(&id).await?.unwrap_or_else(|| panic!("lost"));
    assert_eq!((record.version.as_str(), record.log_level.as_deref()), ("2025-06-18", Some("error")));

    // An unknown session is still 404 everywhere; a deleted one is gone from the store.
    let (status, _, _) = post(&b, request(6, "tools/list", json!({})), Some("0123456789abcdef0123456789abcdef")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let delete = Request::delete("/mcp")
        .header("host", "127.0.0.1:8000")
        .header("mcp-session-id", id.as_str())
        .header("mcp-protocol-version", "2025-06-18")
        .body(Full::new(Bytes::new()))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(b.clone().oneshot(delete).await.unwrap_or_else(|e| match e {}).status(), StatusCode::OK);
    assert_eq!(store.get(&id).await?, None);
    Ok(())
}

#[tokio::test]
async fn a_store_that_is_down_is_a_clear_503() {
    let svc = endpoint(Arc::new(DownStore));
    let init =
        json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "c", "version": "1"}});
    let (status, id, body) = post(&svc, request(1, "initialize", init), None).await;
    assert_eq!((status, id), (StatusCode::SERVICE_UNAVAILABLE, None));
    assert_eq!(body["id"], 1);
    assert!(body["error"]["message"].as_str().unwrap_or_default().contains("session store"), "{body}");
    let (status, _, body) =
        post(&svc, request(2, "tools/list", json!({})), Some("0123456789abcdef0123456789abcdef")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["id"], 2);
}

/// Calls wait here for the test to answer them; the client's answers to their requests are recorded.
#[derive(Default)]
struct Asker {
    calls: std::sync::Mutex<Vec<Arc<Call>>>,
    replies: std::sync::Mutex<Vec<(u64, ReplyOutcome)>>,
    cancelled: std::sync::atomic::AtomicUsize,
}

impl Dispatcher for Asker {
    fn call(&self, call: Arc<Call>, _: Value) {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).push(call);
    }
    fn cancel(&self, _: &Arc<Call>) {
        self.cancelled.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
    fn closed(&self) {}
    fn reply(&self, key: u64, outcome: ReplyOutcome) {
        self.replies.lock().unwrap_or_else(|p| p.into_inner()).push((key, outcome));
    }
}

#[tokio::test]
async fn an_answer_that_reaches_another_process_is_relayed_to_the_one_that_asked() {
    let (store, bus): (Arc<dyn SessionStore>, Arc<dyn Bus>) = (Arc::new(MemorySessionStore::new()), LocalBus::new());
    let process = |dispatcher: Arc<Asker>| {
        let config = ServerConfig::new(json!({"name": "t", "version": "1"}));
        let engine = Engine::with_bus(config, bus.clone()).unwrap_or_else(|e| panic!("{e}"));
        let tool = Tool::new(1, r#"{"name":"ask","inputSchema":{"type":"object"}}"#, None);
        engine.add_tool(tool.unwrap_or_else(|e| panic!("{e}")));
        crate::testing::endpoint_on(Arc::new(engine), dispatcher, Some(store.clone()))
    };
    let (asked_a, asked_b) = (Arc::new(Asker::default()), Arc::new(Asker::default()));
    let (a, b) = (process(asked_a.clone()), process(asked_b.clone()));
    let id = open(&a).await;

    // A call on A asks the client for its roots (its POST's answer turns into an SSE stream).
    let (a2, id2) = (a.clone(), id.clone());
    let running =
        tokio::spawn(async move { post(&a2, request(2, "tools/call", json!({"name": "ask"})), Some(&id2)).await });
    let call = loop {
        if let Some(call) = asked_a.calls.lock().unwrap_or_else(|p| p.into_inner()).pop() {
            break call;
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    };
    let request_id = call.request("roots/list", b"{}", 77).unwrap_or_else(|e| panic!("{e}"));
    assert!(request_id.starts_with('"') && request_id.len() > 10, "a tagged string id: {request_id}");

    // The client's answer lands on B, which does not hold the call: it reaches A.
    let answer: Value =
        serde_json::from_str(&format!(r#"{{"jsonrpc":"2.0","id":{request_id},"result":{{"roots":[]}}}}"#))
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(post(&b, answer, Some(&id)).await.0, StatusCode::ACCEPTED);
    let replies = std::mem::take(&mut *asked_a.replies.lock().unwrap_or_else(|p| p.into_inner()));
    assert_eq!(replies, vec![(77, ReplyOutcome::Result(br#"{"roots":[]}"#.to_vec()))]);
    assert!(asked_b.replies.lock().unwrap_or_else(|p| p.into_inner()).is_empty());
    call.respond(br#"{"content":[]}"#);
    drop(running);
}

#[tokio::test]
async fn a_change_made_in_one_process_reaches_the_copies_in_the_others() {
    let (store, bus): (Arc<dyn SessionStore>, Arc<dyn Bus>) = (Arc::new(MemorySessionStore::new()), LocalBus::new());
    let process = || {
        let config = ServerConfig::new(json!({"name": "t", "version": "1"}));
        let engine = Engine::with_bus(config, bus.clone()).unwrap_or_else(|e| panic!("{e}"));
        crate::testing::endpoint_on(Arc::new(engine), Arc::new(crate::testing::NoHandlers), Some(store.clone()))
    };
    let (a, b) = (process(), process());
    let id = open(&a).await;
    assert_eq!(post(&b, request(2, "tools/list", json!({})), Some(&id)).await.0, StatusCode::OK, "B adopts it");
    let level = |svc: &McpService| svc.0.registry.get(&id).and_then(|s| s.core.record(&id)).and_then(|r| r.log_level);
    assert_eq!(level(&b), None);
    post(&a, request(3, "logging/setLevel", json!({"level": "error"})), Some(&id)).await;
    assert_eq!(level(&b).as_deref(), Some("error"), "B's copy did not take the change on");
}

/// The next SSE event's text from a streaming body (None once it ends).
async fn next_event(body: &mut crate::http::body::HttpBody) -> Option<String> {
    loop {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(5), body.frame()).await.ok()??.ok()?;
        if let Ok(data) = frame.into_data() {
            let text = String::from_utf8_lossy(&data).into_owned();
            if text.starts_with("id:") {
                return Some(text);
            }
        }
    }
}

fn event_id(event: &str) -> &str {
    event.lines().next().and_then(|l| l.strip_prefix("id: ")).unwrap_or_default()
}

#[tokio::test]
async fn a_stream_dropped_on_one_process_resumes_on_another_with_nothing_missing_or_twice() {
    use crate::store::MemoryEventStore;
    let bus: Arc<dyn Bus> = LocalBus::new();
    let sessions: Arc<dyn SessionStore> = Arc::new(MemorySessionStore::new());
    let events: Arc<dyn crate::store::EventStore> = Arc::new(MemoryEventStore::new(64));
    let process = |dispatcher: Arc<Asker>| {
        let config = ServerConfig::new(json!({"name": "t", "version": "1"}));
        let engine = Engine::with_bus(config, bus.clone()).unwrap_or_else(|e| panic!("{e}"));
        engine.add_tool(
            Tool::new(1, r#"{"name":"ask","inputSchema":{"type":"object"}}"#, None).unwrap_or_else(|e| panic!("{e}")),
        );
        crate::testing::shared_endpoint(Arc::new(engine), dispatcher, sessions.clone(), events.clone())
    };
    let (asked_a, asked_b) = (Arc::new(Asker::default()), Arc::new(Asker::default()));
    let (a, b) = (process(asked_a.clone()), process(asked_b));
    let id = open(&a).await;

    // A call on A sends its first event, and the client's connection drops.
    let call_req = Request::post("/mcp")
        .header("host", "127.0.0.1:8000")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-session-id", id.as_str())
        .header("mcp-protocol-version", "2025-06-18")
        .body(Full::new(Bytes::from(request(2, "tools/call", json!({"name": "ask"})).to_string())))
        .unwrap_or_else(|e| panic!("{e}"));
    let a2 = a.clone();
    let pending = tokio::spawn(async move { a2.oneshot(call_req).await.unwrap_or_else(|e| match e {}) });
    let call = loop {
        if let Some(call) = asked_a.calls.lock().unwrap_or_else(|p| p.into_inner()).pop() {
            break call;
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    };
    call.request("roots/list", b"{}", 1).unwrap_or_else(|e| panic!("{e}"));
    let mut first_body = pending.await.unwrap_or_else(|e| panic!("{e}")).into_body();
    let first = next_event(&mut first_body).await.unwrap_or_else(|| panic!("no first event"));
    drop(first_body);

    // Sent while nobody listens: kept, and recorded for the other process.
    call.request("roots/list", b"{}", 2).unwrap_or_else(|e| panic!("{e}"));
    // The client resumes on B, which does not hold the stream.
    let resume = Request::get("/mcp")
        .header("host", "127.0.0.1:8000")
        .header("accept", "text/event-stream")
        .header("mcp-session-id", id.as_str())
        .header("mcp-protocol-version", "2025-06-18")
        .header("last-event-id", event_id(&first))
        .body(Full::new(Bytes::new()))
        .unwrap_or_else(|e| panic!("{e}"));
    let resumed = b.clone().oneshot(resume).await.unwrap_or_else(|e| match e {});
    assert_eq!(resumed.status(), StatusCode::OK);
    let mut body = resumed.into_body();
    let second = next_event(&mut body).await.unwrap_or_else(|| panic!("the missed event was not replayed"));
    // Sent after the resumption: relayed live from A.
    call.respond(br#"{"content":[{"type":"text","text":"done"}]}"#);
    let third = next_event(&mut body).await.unwrap_or_else(|| panic!("the live event was not relayed"));
    assert_eq!(next_event(&mut body).await, None, "the stream ends with its response");

    let (s1, s2, s3) = (event_id(&first), event_id(&second), event_id(&third));
    let seq = |id: &str| id.rsplit_once('.').and_then(|(_, s)| s.parse::<u64>().ok()).unwrap_or_default();
    assert_eq!((seq(s1) + 1, seq(s1) + 2), (seq(s2), seq(s3)), "{s1} {s2} {s3}: nothing missing or twice");
    assert!(second.contains("roots/list") && third.contains("\"done\""), "{second} {third}");
    assert_ne!(s1.split('.').next(), Some("0"), "a shared session's stream ids carry the process's tag");

    // Resuming from an event the store never had is refused.
    let unknown = Request::get("/mcp")
        .header("host", "127.0.0.1:8000")
        .header("accept", "text/event-stream")
        .header("mcp-session-id", id.as_str())
        .header("mcp-protocol-version", "2025-06-18")
        .header("last-event-id", "12345.1")
        .body(Full::new(Bytes::new()))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(b.clone().oneshot(unknown).await.unwrap_or_else(|e| match e {}).status(), StatusCode::NOT_FOUND);
}

impl Asker {
    async fn next_call(&self) -> Arc<Call> {
        loop {
            if let Some(call) = self.calls.lock().unwrap_or_else(|p| p.into_inner()).pop() {
                return call;
            }
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    }
}

#[tokio::test]
async fn a_legacy_task_created_on_one_process_is_polled_awaited_and_cancelled_on_another() {
    use crate::store::{MemoryEventStore, MemoryTaskStore, TaskStore};
    let bus: Arc<dyn Bus> = LocalBus::new();
    let sessions: Arc<dyn SessionStore> = Arc::new(MemorySessionStore::new());
    let events: Arc<dyn crate::store::EventStore> = Arc::new(MemoryEventStore::new(64));
    let tasks: Arc<dyn TaskStore> = Arc::new(MemoryTaskStore::new());
    let runtime = tokio::runtime::Handle::current();
    let process = |dispatcher: Arc<Asker>| {
        let config = ServerConfig::new(json!({"name": "t", "version": "1"}));
        let engine = Engine::with_bus(config, bus.clone()).unwrap_or_else(|e| panic!("{e}"));
        let job = r#"{"name":"job","inputSchema":{"type":"object"},"execution":{"taskSupport":"optional"}}"#;
        engine.add_tool(Tool::new(1, job, None).unwrap_or_else(|e| panic!("{e}")));
        assert!(engine.attach_task_store(tasks.clone(), runtime.clone()));
        crate::testing::shared_endpoint(Arc::new(engine), dispatcher, sessions.clone(), events.clone())
    };
    let (asked_a, asked_b) = (Arc::new(Asker::default()), Arc::new(Asker::default()));
    let (a, b) = (process(asked_a.clone()), process(asked_b.clone()));
    let init =
        json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "c", "version": "1"}});
    let (_, id, _) = post(&a, request(1, "initialize", init), None).await;
    let Some(id) = id else { panic!("no session") };
    post(&a, json!({"jsonrpc": "2.0", "method": "notifications/initialized"}), Some(&id)).await;

    // Created on A: answered once stored, so B knows it at once.
    let (_, _, created) =
        post(&a, request(2, "tools/call", json!({"name": "job", "task": {"ttl": 60000}})), Some(&id)).await;
    let task = created["result"]["task"]["taskId"].as_str().unwrap_or_else(|| panic!("{created}")).to_owned();
    let call = asked_a.next_call().await;
    let (_, _, got) = post(&b, request(3, "tasks/get", json!({"taskId": task})), Some(&id)).await;
    assert_eq!(
        (got["result"]["taskId"].as_str(), got["result"]["status"].as_str()),
        (Some(task.as_str()), Some("working"))
    );
    let (_, _, listed) = post(&b, request(4, "tasks/list", json!({})), Some(&id)).await;
    assert_eq!(listed["result"]["tasks"][0]["taskId"], json!(task), "{listed}");

    // tasks/result on B waits for A to finish the task.
    let (b2, id2, task2) = (b.clone(), id.clone(), task.clone());
    let waiting =
        tokio::spawn(async move { post(&b2, request(5, "tasks/result", json!({"taskId": task2})), Some(&id2)).await });
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(!waiting.is_finished(), "tasks/result answered before the task ended");
    assert!(call.respond(br#"{"content":[{"type":"text","text":"finished on A"}]}"#));
    let (_, _, result) = tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
        .await
        .unwrap_or_else(|_| panic!("tasks/result never answered"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(result["result"]["content"][0]["text"], "finished on A", "{result}");
    assert_eq!(result["result"]["_meta"]["io.modelcontextprotocol/related-task"]["taskId"], json!(task));

    // Another task, cancelled through B: A cancels its call.
    let (_, _, created) =
        post(&a, request(6, "tools/call", json!({"name": "job", "task": {"ttl": 60000}})), Some(&id)).await;
    let second = created["result"]["task"]["taskId"].as_str().unwrap_or_default().to_owned();
    let second_call = asked_a.next_call().await;
    let (_, _, cancelled) = post(&b, request(7, "tasks/cancel", json!({"taskId": second})), Some(&id)).await;
    assert_eq!(cancelled["result"]["status"], "cancelled", "{cancelled}");
    assert_eq!(asked_a.cancelled.load(std::sync::atomic::Ordering::SeqCst), 1, "A's call was not cancelled");
    assert!(!second_call.is_active());
    let (_, _, unknown) = post(&b, request(8, "tasks/get", json!({"taskId": "nope"})), Some(&id)).await;
    assert_eq!(unknown["error"]["code"], -32602);
    assert!(asked_b.calls.lock().unwrap_or_else(|p| p.into_inner()).is_empty());
}

#[tokio::test]
async fn a_session_deleted_on_one_process_is_gone_from_the_others() {
    let (store, bus): (Arc<dyn SessionStore>, Arc<dyn Bus>) = (Arc::new(MemorySessionStore::new()), LocalBus::new());
    let process = || {
        let config = ServerConfig::new(json!({"name": "t", "version": "1"}));
        let engine = Engine::with_bus(config, bus.clone()).unwrap_or_else(|e| panic!("{e}"));
        crate::testing::endpoint_on(Arc::new(engine), Arc::new(crate::testing::NoHandlers), Some(store.clone()))
    };
    let (a, b) = (process(), process());
    let id = open(&a).await;
    assert_eq!(post(&b, request(2, "tools/list", json!({})), Some(&id)).await.0, StatusCode::OK, "B adopts it");
    let delete = Request::delete("/mcp")
        .header("host", "127.0.0.1:8000")
        .header("mcp-session-id", id.as_str())
        .body(Full::new(Bytes::new()))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.clone().oneshot(delete).await.unwrap_or_else(|e| match e {}).status(), StatusCode::OK);
    let (status, _, _) = post(&b, request(3, "tools/list", json!({})), Some(&id)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "B still served a session deleted on A");
}
