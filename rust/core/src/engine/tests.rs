use super::*;
use crate::error::CoreError;
use crate::registry::Tool;
use crate::session::Dispatcher;
use serde_json::json;
use std::sync::Mutex;

#[derive(Default)]
struct Recorder {
    sent: Mutex<Vec<(Value, OutKind)>>,
}

impl Outbound for Recorder {
    fn send(&self, msg: Vec<u8>, kind: OutKind) {
        let v: Value = serde_json::from_slice(&msg).unwrap_or_else(|e| panic!("server sent invalid JSON: {e}"));
        self.sent.lock().unwrap_or_else(|p| p.into_inner()).push((v, kind));
    }
}

impl Recorder {
    fn take(&self) -> Vec<Value> {
        std::mem::take(&mut *self.sent.lock().unwrap_or_else(|p| p.into_inner())).into_iter().map(|(v, _)| v).collect()
    }
}

#[derive(Default)]
struct Calls {
    calls: Mutex<Vec<(Arc<Call>, Value)>>,
    cancelled: Mutex<Vec<String>>,
    replies: Mutex<Vec<(u64, crate::session::ReplyOutcome)>>,
}

impl Dispatcher for Calls {
    fn call(&self, call: Arc<Call>, arguments: Value) {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).push((call, arguments));
    }
    fn cancel(&self, call: &Arc<Call>) {
        self.cancelled.lock().unwrap_or_else(|p| p.into_inner()).push(call.id.json().to_owned());
    }
    fn closed(&self) {}
    fn reply(&self, key: u64, outcome: crate::session::ReplyOutcome) {
        self.replies.lock().unwrap_or_else(|p| p.into_inner()).push((key, outcome));
    }
}

impl Calls {
    fn take(&self) -> Vec<(Arc<Call>, Value)> {
        std::mem::take(&mut *self.calls.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

struct Fixture {
    engine: Engine,
    out: Arc<Recorder>,
    calls: Arc<Calls>,
    session: Arc<Session>,
}

impl Fixture {
    /// A fixture around `engine` (tools and all already registered).
    fn with_engine(engine: Engine) -> Fixture {
        let out = Arc::new(Recorder::default());
        let calls = Arc::new(Calls::default());
        let session = Session::new(out.clone(), calls.clone(), crate::context::Transport::Stdio);
        Fixture { engine, out, calls, session }
    }

    fn new() -> Fixture {
        let engine = Engine::new(ServerConfig {
            instructions: Some("be nice".into()),
            page_size: 2,
            ..ServerConfig::new(json!({"name": "t", "version": "1"}))
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let add = r#"{"name":"add","description":"Add","inputSchema":{"type":"object",
            "properties":{"a":{"type":"integer"},"b":{"type":"integer"}},"required":["a","b"]}}"#;
        engine.add_tool(Tool::new(7, add, Some(["a".into(), "b".into()].into())).unwrap_or_else(|e| panic!("{e}")));
        let echo = r#"{"name":"echo","inputSchema":{"type":"object"}}"#;
        engine.add_tool(Tool::new(8, echo, None).unwrap_or_else(|e| panic!("{e}")));
        let out = Arc::new(Recorder::default());
        let calls = Arc::new(Calls::default());
        let session = Session::new(out.clone(), calls.clone(), crate::context::Transport::Stdio);
        Fixture { engine, out, calls, session }
    }

    fn send(&self, msg: Value) -> Vec<Value> {
        self.engine.handle(&self.session, msg.to_string().as_bytes());
        self.out.take()
    }

    fn init(&self, version: &str) -> Value {
        let mut r = self.send(json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
            "protocolVersion": version, "capabilities": {}, "clientInfo": {"name":"c","version":"1"}}}));
        self.send(json!({"jsonrpc":"2.0","method":"notifications/initialized"}));
        r.remove(0)
    }
}

fn code(v: &Value) -> i64 {
    v["error"]["code"].as_i64().unwrap_or(0)
}

#[test]
fn initialize_negotiates_and_describes_the_server() {
    let f = Fixture::new();
    let r = f.init("2025-06-18");
    assert_eq!(r["result"]["protocolVersion"], "2025-06-18");
    assert_eq!(r["result"]["serverInfo"]["name"], "t");
    assert_eq!(r["result"]["instructions"], "be nice");
    assert_eq!(r["result"]["capabilities"]["tools"]["listChanged"], true);
    let again = f.send(json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}));
    assert_eq!(code(&again[0]), -32600);

    let f = Fixture::new();
    assert_eq!(f.init("2026-07-28")["result"]["protocolVersion"], "2025-11-25");
}

#[test]
fn requests_before_initialize_are_refused_except_ping() {
    let f = Fixture::new();
    assert_eq!(f.send(json!({"jsonrpc":"2.0","id":1,"method":"ping"}))[0]["result"], json!({}));
    assert_eq!(code(&f.send(json!({"jsonrpc":"2.0","id":2,"method":"tools/list"}))[0]), -32600);
}

#[test]
fn ping_is_exactly_empty() {
    let f = Fixture::new();
    f.init("2025-11-25");
    let r = f.send(json!({"jsonrpc":"2.0","id":"p","method":"ping"}));
    assert_eq!(r, vec![json!({"jsonrpc":"2.0","id":"p","result":{}})]);
}

#[test]
fn tools_list_pages() {
    let f = Fixture::new();
    f.init("2025-11-25");
    let r = f.send(json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}));
    assert_eq!(r[0]["result"]["tools"].as_array().map(Vec::len), Some(2));
    assert!(r[0]["result"].get("nextCursor").is_none());
    let bad = f.send(json!({"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"cursor":"zz"}}));
    assert_eq!(code(&bad[0]), -32602);
}

#[test]
fn tool_call_is_validated_filtered_and_dispatched() {
    let f = Fixture::new();
    f.init("2025-11-25");
    let none = f.send(json!({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{
        "name":"add","arguments":{"a":1,"b":2,"extra":true},"_meta":{"progressToken":"tok"}}}));
    assert!(none.is_empty());
    let mut calls = f.calls.take();
    assert_eq!(calls.len(), 1);
    let (call, args) = calls.remove(0);
    assert_eq!(args, json!({"a":1,"b":2}));
    assert_eq!(call.handler_id, 7);
    assert_eq!(call.progress_token(), Some("\"tok\""));
    assert_eq!(f.session.in_flight(), 1);

    assert!(call.progress(1.0, Some(2.0), Some("half")));
    assert!(call.respond(br#"{"content":[]}"#));
    assert!(!call.respond(br#"{"content":[]}"#), "a call is answered once");
    let sent = f.out.take();
    assert_eq!(sent[0]["params"], json!({"progressToken":"tok","progress":1,"total":2,"message":"half"}));
    assert_eq!(sent[1], json!({"jsonrpc":"2.0","id":5,"result":{"content":[]}}));
    assert_eq!(f.session.in_flight(), 0);
}

#[test]
fn missing_arguments_mean_empty_object() {
    let f = Fixture::new();
    f.init("2025-11-25");
    f.send(json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}));
    assert_eq!(f.calls.take()[0].1, json!({}));
}

#[test]
fn invalid_arguments_become_an_error_result_naming_the_path() {
    let f = Fixture::new();
    f.init("2025-11-25");
    let r = f.send(
        json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":"x","b":2}}}),
    );
    assert_eq!(r[0]["result"]["isError"], true);
    let text = r[0]["result"]["content"][0]["text"].as_str().unwrap_or_default();
    assert!(text.contains("/a") && text.contains("integer"), "{text}");
    assert!(f.calls.take().is_empty());
}

#[test]
fn protocol_errors() {
    let f = Fixture::new();
    f.init("2025-11-25");
    let unknown_tool = f.send(json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"nope"}}));
    assert_eq!(code(&unknown_tool[0]), -32602);
    let bad_args =
        f.send(json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"add","arguments":[1]}}));
    assert_eq!(code(&bad_args[0]), -32602);
    let no_name = f.send(json!({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{}}));
    assert_eq!(code(&no_name[0]), -32602);
    let unknown = f.send(json!({"jsonrpc":"2.0","id":4,"method":"nope/nope"}));
    assert_eq!(code(&unknown[0]), -32601);
    assert_eq!(unknown[0]["id"], 4);
    let level = f.send(json!({"jsonrpc":"2.0","id":5,"method":"logging/setLevel","params":{"level":"loud"}}));
    assert_eq!(code(&level[0]), -32602);

    f.engine.handle(&f.session, b"{not json");
    let parse = f.out.take();
    assert_eq!(code(&parse[0]), -32700);
    assert!(parse[0].get("id").is_none());
    let null_id = f.send(json!({"jsonrpc":"2.0","id":null,"method":"ping"}));
    assert_eq!(code(&null_id[0]), -32600);
    let batch = f.send(json!([{"jsonrpc":"2.0","id":6,"method":"ping"}]));
    assert_eq!(code(&batch[0]), -32600);
    assert!(f.send(json!({"jsonrpc":"2.0","method":"notifications/unknown"})).is_empty());
}

#[test]
fn duplicate_in_flight_id_is_refused() {
    let f = Fixture::new();
    f.init("2025-11-25");
    let call = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}});
    assert!(f.send(call.clone()).is_empty());
    assert_eq!(code(&f.send(call)[0]), -32600);
}

#[test]
fn cancellation_suppresses_the_response() {
    let f = Fixture::new();
    f.init("2025-11-25");
    f.send(json!({"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"echo"}}));
    let (call, _) = f.calls.take().remove(0);
    f.send(json!({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":9,"reason":"x"}}));
    assert_eq!(*f.calls.cancelled.lock().unwrap_or_else(|p| p.into_inner()), vec!["9".to_owned()]);
    assert!(!call.is_active());
    assert!(!call.respond(b"{}"));
    assert!(f.out.take().is_empty());
    // Unknown ids are ignored.
    f.send(json!({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"zz"}}));
    assert_eq!(f.session.in_flight(), 0);
}

#[test]
fn log_level_filters_messages() {
    let f = Fixture::new();
    f.init("2025-11-25");
    f.send(json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}));
    let (call, _) = f.calls.take().remove(0);
    assert_eq!(call.log("debug", None, b"1"), Ok(true));
    assert_eq!(f.out.take().len(), 1);
    assert_eq!(
        f.send(json!({"jsonrpc":"2.0","id":2,"method":"logging/setLevel","params":{"level":"warning"}}))[0]["result"],
        json!({})
    );
    assert_eq!(call.log("info", None, b"2"), Ok(false));
    assert_eq!(call.log("error", Some("db"), br#"{"x":1}"#), Ok(true));
    assert!(call.log("loud", None, b"3").is_err());
    let sent = f.out.take();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["params"], json!({"level":"error","logger":"db","data":{"x":1}}));
}

#[test]
fn batches_on_2025_03_26_sessions() {
    let f = Fixture::new();
    f.init("2025-03-26");
    let r = f.send(json!([
        {"jsonrpc":"2.0","id":1,"method":"ping"},
        {"jsonrpc":"2.0","method":"notifications/initialized"},
        {"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo"}},
        {"jsonrpc":"2.0","id":3,"method":"nope"}
    ]));
    assert!(r.is_empty(), "the batch waits for the dispatched call");
    let (call, _) = f.calls.take().remove(0);
    call.respond(br#"{"content":[]}"#);
    let r = f.out.take();
    assert_eq!(r.len(), 1);
    let ids: Vec<i64> =
        r[0].as_array().map(|a| a.iter().filter_map(|m| m["id"].as_i64()).collect()).unwrap_or_default();
    assert_eq!(ids, vec![1, 3, 2]);
    assert_eq!(code(&f.send(json!([]))[0]), -32600);
}

#[test]
fn batch_with_cancelled_member_still_completes() {
    let f = Fixture::new();
    f.init("2025-03-26");
    f.send(json!([
        {"jsonrpc":"2.0","id":1,"method":"ping"},
        {"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo"}}
    ]));
    let r = f.send(json!({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":2}}));
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].as_array().map(Vec::len), Some(1));
}

#[test]
fn error_result_shape() {
    let v: Value = serde_json::from_slice(&error_result("bad")).unwrap_or_default();
    assert_eq!(v, json!({"content":[{"type":"text","text":"bad"}],"isError":true}));
}

#[test]
fn server_to_client_requests_are_routed_back_by_id() {
    use crate::session::ReplyOutcome;
    let f = Fixture::new();
    f.init("2025-11-25");
    f.send(json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}));
    let (call, _) = f.calls.take().remove(0);
    let id = call.request("sampling/createMessage", br#"{"maxTokens":5}"#, 42).unwrap_or_default();
    let id2 = call.request("roots/list", b"{}", 43).unwrap_or_default();
    assert_ne!(id, id2);
    let sent = f.out.take();
    assert_eq!(sent[0]["method"], "sampling/createMessage");
    assert_eq!(sent[0]["params"], json!({"maxTokens":5}));
    assert_eq!(f.session.pending_requests(), 2);
    // Answers arrive as responses from the client; unknown ids are ignored.
    let r = f.send(json!({"jsonrpc":"2.0","id":sent[1]["id"].clone(),"error":{"code":-1,"message":"no"}}));
    assert!(r.is_empty());
    f.send(json!({"jsonrpc":"2.0","id":sent[0]["id"].clone(),"result":{"role":"assistant"}}));
    f.send(json!({"jsonrpc":"2.0","id":999,"result":{}}));
    let replies = std::mem::take(&mut *f.calls.replies.lock().unwrap_or_else(|p| p.into_inner()));
    assert_eq!(replies[0], (43, ReplyOutcome::Error(br#"{"code":-1,"message":"no"}"#.to_vec())));
    assert_eq!(replies[1], (42, ReplyOutcome::Result(br#"{"role":"assistant"}"#.to_vec())));
    assert_eq!(f.session.pending_requests(), 0);
}

#[test]
fn a_timed_out_request_is_cancelled_towards_the_client() {
    let f = Fixture::new();
    f.init("2025-11-25");
    f.send(json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}));
    let (call, _) = f.calls.take().remove(0);
    let id = call.request("roots/list", b"{}", 7).unwrap_or_default();
    f.out.take();
    assert!(call.cancel_request(&id, "timed out"));
    assert!(!call.cancel_request(&id, "timed out"));
    let sent = f.out.take();
    assert_eq!(sent[0]["method"], "notifications/cancelled");
    assert_eq!(sent[0]["params"]["reason"], "timed out");
    f.send(json!({"jsonrpc":"2.0","id":sent[0]["params"]["requestId"].clone(),"result":{}}));
    assert!(f.calls.replies.lock().unwrap_or_else(|p| p.into_inner()).is_empty());
    call.respond(b"{}");
    assert!(call.request("roots/list", b"{}", 8).is_err(), "no requests after the call finished");
}

fn task_fixture() -> Fixture {
    let f = Fixture::new();
    let def = r#"{"name":"slow","inputSchema":{"type":"object"},"execution":{"taskSupport":"optional"}}"#;
    f.engine.add_tool(Tool::new(9, def, None).unwrap_or_else(|e| panic!("{e}")));
    let must = r#"{"name":"must","inputSchema":{"type":"object"},"execution":{"taskSupport":"required"}}"#;
    f.engine.add_tool(Tool::new(10, must, None).unwrap_or_else(|e| panic!("{e}")));
    f
}

#[test]
fn task_augmented_calls() {
    let f = task_fixture();
    let init = f.init("2025-11-25");
    assert_eq!(init["result"]["capabilities"]["tasks"]["requests"]["tools"]["call"], json!({}));
    let created =
        f.send(json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"slow","task":{"ttl":60000}}}));
    let task = &created[0]["result"]["task"];
    assert_eq!(task["status"], "working");
    assert_eq!(task["ttl"], 60000);
    let task_id = task["taskId"].as_str().unwrap_or_default().to_owned();
    assert_eq!(task_id.len(), 32);
    let (call, _) = f.calls.take().remove(0);

    let got = f.send(json!({"jsonrpc":"2.0","id":2,"method":"tasks/get","params":{"taskId":task_id}}));
    assert_eq!(got[0]["result"]["status"], "working");
    // tasks/result blocks until the task finishes.
    assert!(f.send(json!({"jsonrpc":"2.0","id":3,"method":"tasks/result","params":{"taskId":task_id}})).is_empty());
    assert!(call.progress(1.0, None, None) || call.progress_token().is_none());
    assert!(call.respond(br#"{"content":[{"type":"text","text":"done"}]}"#));
    let sent = f.out.take();
    let status = sent.iter().find(|m| m["method"] == "notifications/tasks/status").cloned().unwrap_or_default();
    assert_eq!(status["params"]["status"], "completed");
    let result = sent.iter().find(|m| m["id"] == 3).cloned().unwrap_or_default();
    assert_eq!(result["result"]["content"][0]["text"], "done");
    assert_eq!(result["result"]["_meta"]["io.modelcontextprotocol/related-task"]["taskId"], json!(task_id));

    let list = f.send(json!({"jsonrpc":"2.0","id":4,"method":"tasks/list"}));
    assert_eq!(list[0]["result"]["tasks"][0]["status"], "completed");
    let cancel_done = f.send(json!({"jsonrpc":"2.0","id":5,"method":"tasks/cancel","params":{"taskId":task_id}}));
    assert_eq!(code(&cancel_done[0]), -32602);
    let unknown = f.send(json!({"jsonrpc":"2.0","id":6,"method":"tasks/get","params":{"taskId":"nope"}}));
    assert_eq!(code(&unknown[0]), -32602);
}

#[test]
fn task_cancellation_and_support_rules() {
    let f = task_fixture();
    f.init("2025-11-25");
    let created = f.send(json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"must","task":{}}}));
    let task_id = created[0]["result"]["task"]["taskId"].clone();
    let (call, _) = f.calls.take().remove(0);
    let cancelled = f.send(json!({"jsonrpc":"2.0","id":2,"method":"tasks/cancel","params":{"taskId":task_id}}));
    let answer = cancelled.iter().find(|m| m["id"] == 2).cloned().unwrap_or_default();
    assert_eq!(answer["result"]["status"], "cancelled");
    assert!(!call.is_active());
    assert_eq!(f.calls.cancelled.lock().unwrap_or_else(|p| p.into_inner()).len(), 1);
    assert!(!call.respond(b"{}"), "a cancelled task's call is not answered");

    let required = f.send(json!({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"must"}}));
    assert_eq!(code(&required[0]), -32601);
    let forbidden = f.send(json!({"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"echo","task":{}}}));
    assert_eq!(code(&forbidden[0]), -32601);
}

// -- the stateless era (2026-07-28): requests carry their context in `_meta` ---------------------------------

fn modern(id: i64, method: &str, mut params: Value) -> Value {
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    });
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

#[test]
fn modern_requests_need_no_session_and_carry_result_type() {
    let f = Fixture::new();
    let r = f.send(modern(1, "tools/list", json!({})));
    assert_eq!(r[0]["result"]["resultType"], "complete");
    assert_eq!(r[0]["result"]["ttlMs"], 0);
    assert_eq!(r[0]["result"]["cacheScope"], "private");
    assert_eq!(r[0]["result"]["_meta"]["io.modelcontextprotocol/serverInfo"]["name"], "t");
    assert_eq!(r[0]["result"]["tools"][0]["name"], "add");
    // The session was never initialized, and still is not.
    assert!(f.session.version().is_none());
    f.send(modern(2, "tools/call", json!({"name": "add", "arguments": {"a": 1, "b": 2}})));
    let (call, args) = f.calls.take().remove(0);
    assert!(call.ctx.is_modern());
    assert_eq!(args, json!({"a": 1, "b": 2}));
    assert!(call.respond(br#"{"content":[]}"#));
    let server = json!({"io.modelcontextprotocol/serverInfo": {"name": "t", "version": "1"}});
    assert_eq!(f.out.take()[0]["result"], json!({"resultType": "complete", "_meta": server, "content": []}));
}

#[test]
fn modern_errors() {
    let f = Fixture::new();
    // Legacy-only methods, and unknown ones, are not found.
    for method in ["initialize", "ping", "logging/setLevel", "nope"] {
        assert_eq!(code(&f.send(modern(1, method, json!({})))[0]), -32601, "{method}");
    }
    // An unknown version names the supported ones.
    let mut bad = modern(2, "tools/list", json!({}));
    bad["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!("2025-11-25");
    let r = f.send(bad);
    assert_eq!(code(&r[0]), -32022);
    assert_eq!(r[0]["error"]["data"], json!({"supported": ["2026-07-28"], "requested": "2025-11-25"}));
    // Client capabilities are required.
    let mut missing = modern(3, "tools/list", json!({}));
    missing["params"]["_meta"] = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28"});
    assert_eq!(code(&f.send(missing)[0]), -32602);
    // An invalid log level is invalid params.
    let mut loud = modern(4, "tools/list", json!({}));
    loud["params"]["_meta"]["io.modelcontextprotocol/logLevel"] = json!("loud");
    assert_eq!(code(&f.send(loud)[0]), -32602);
}

#[test]
fn modern_logging_only_with_a_log_level_and_no_requests_to_the_client() {
    let f = Fixture::new();
    f.send(modern(1, "tools/call", json!({"name": "echo", "arguments": {}})));
    let (quiet, _) = f.calls.take().remove(0);
    assert_eq!(quiet.log("emergency", None, b"1"), Ok(false), "no logLevel: nothing is sent");
    assert_eq!(quiet.request("roots/list", b"{}", 1).map_err(|e| matches!(e, CoreError::Unsupported(_))), Err(true));

    let mut chatty = modern(2, "tools/call", json!({"name": "echo", "arguments": {}}));
    chatty["params"]["_meta"]["io.modelcontextprotocol/logLevel"] = json!("warning");
    f.send(chatty);
    let (call, _) = f.calls.take().remove(0);
    assert_eq!(call.log("info", None, b"1"), Ok(false));
    assert_eq!(call.log("error", None, b"2"), Ok(true));
}

#[test]
fn rate_limits_count_the_principal_then_the_session() {
    let f = Fixture::new();
    f.init("2025-11-25");
    let limits = RateLimits {
        per_client: Some(crate::rate_limit::Rate::parse("1/h").unwrap_or_else(|e| panic!("{e}"))),
        ..RateLimits::default()
    };
    assert!(f.engine.set_rate_limits(limits.clone()));
    assert!(!f.engine.set_rate_limits(limits), "set once");
    let call = |id: i64| json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":"echo","arguments":{}}});
    assert!(f.send(call(1)).is_empty(), "the first call is dispatched");
    let refused = f.send(call(2));
    assert_eq!(code(&refused[0]), i64::from(crate::rate_limit::RATE_LIMITED));
    assert!(refused[0]["error"]["data"]["retryAfterMs"].as_u64().is_some_and(|ms| ms > 3_590_000));
    // Not counted: listing.
    assert!(f.send(json!({"jsonrpc":"2.0","id":3,"method":"tools/list"}))[0]["result"].is_object());
    // With a principal, the principal's bucket counts, whatever the session.
    let ctx = RequestCtx::legacy(&f.session).map(|c| RequestCtx {
        principal: Some(Arc::new(crate::context::Principal { subject: "alice".into(), ..Default::default() })),
        ..c
    });
    let params =
        serde_json::value::RawValue::from_string(r#"{"name":"echo"}"#.into()).unwrap_or_else(|e| panic!("{e}"));
    assert!(f.engine.rate_limited(&f.session, "tools/call", Some(&params), ctx.as_ref()).is_none());
    assert!(f.engine.rate_limited(&f.session, "tools/call", Some(&params), ctx.as_ref()).is_some());
    let other = Session::new(f.out.clone(), f.calls.clone(), crate::context::Transport::Http);
    other.set_client("session:other".into());
    assert!(f.engine.rate_limited(&other, "tools/call", Some(&params), None).is_none());
}

mod modern;
mod tasks;
