//! The stateless era's own methods: `server/discover`, input-required round trips, `subscriptions/listen`.

use super::*;
use crate::registry::{Prompt, Resource};

fn meta_id(v: &Value) -> &Value {
    &v["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"]
}

#[test]
fn discover_describes_the_server_and_follows_the_registry() {
    let f = Fixture::new();
    let r = f.send(modern(1, "server/discover", json!({})));
    let result = &r[0]["result"];
    assert_eq!(result["supportedVersions"], json!(["2026-07-28"]));
    assert_eq!(result["capabilities"]["tools"], json!({"listChanged": true}));
    assert!(result["capabilities"].get("prompts").is_none());
    assert!(result["capabilities"].get("tasks").is_none());
    assert_eq!(result["instructions"], "be nice");
    assert_eq!(result["resultType"], "complete");
    assert_eq!(result["cacheScope"], "private");
    assert_eq!(result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"], "t");
    f.engine.add_prompt(Prompt::new(9, r#"{"name":"p"}"#).unwrap_or_else(|e| panic!("{e}")));
    let r = f.send(modern(2, "server/discover", json!({})));
    assert_eq!(r[0]["result"]["capabilities"]["prompts"], json!({"listChanged": true}), "a stale discover result");
    // Not a method of legacy sessions (nor is listen).
    f.init("2025-11-25");
    for method in ["server/discover", "subscriptions/listen"] {
        let r = f.send(json!({"jsonrpc": "2.0", "id": 3, "method": method, "params": {}}));
        assert_eq!(code(&r[0]), -32601, "{method}");
    }
}

fn call_echo(f: &Fixture, id: i64, extra: Value) -> Option<Arc<Call>> {
    let mut params = json!({"name": "echo", "arguments": {"x": 1}});
    if let (Some(p), Value::Object(more)) = (params.as_object_mut(), extra) {
        p.extend(more);
    }
    let answered = f.send(modern(id, "tools/call", params));
    if !answered.is_empty() {
        f.out
            .sent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(answered.into_iter().map(|v| (v, OutKind::Response)));
    }
    f.calls.take().pop().map(|(call, _)| call)
}

const NAME_Q: &[u8] = br#"{"method":"elicitation/create","params":{"message":"Name?","requestedSchema":{}}}"#;
const ROOTS_Q: &[u8] = br#"{"method":"roots/list","params":{}}"#;

fn asking(key: &str, question: &[u8]) -> Vec<u8> {
    format!("{{\"{key}\":{}}}", String::from_utf8_lossy(question)).into_bytes()
}

#[test]
fn input_required_round_trips_carry_every_answer_in_sealed_state() {
    let f = Fixture::new();
    let first = call_echo(&f, 1, json!({})).unwrap_or_else(|| panic!("not dispatched"));
    assert!(first.can_require_input());
    assert_eq!(first.input_response("name", NAME_Q), None);
    assert_eq!(first.respond_input_required(&asking("name", NAME_Q), &[]).ok(), Some(true));
    let r = f.out.take().remove(0);
    assert_eq!(r["result"]["resultType"], "input_required");
    assert_eq!(r["result"]["inputRequests"]["name"]["method"], "elicitation/create");
    let state1 = r["result"]["requestState"].as_str().unwrap_or_default().to_owned();
    assert!(!state1.is_empty());

    // Round 2: the answer is there (for that question only); the handler asks for more and keeps it.
    let answer = json!({"action": "accept", "content": {"name": "Ada"}});
    let second = call_echo(&f, 2, json!({"inputResponses": {"name": answer, "unasked": 1}, "requestState": state1}))
        .unwrap_or_else(|| panic!("not dispatched"));
    let got = second.input_response("name", NAME_Q).and_then(|s| serde_json::from_str::<Value>(&s).ok());
    assert_eq!(got, Some(answer));
    assert_eq!(second.input_response("name", ROOTS_Q), None, "an answer to another question");
    assert_eq!(second.input_response("unasked", ROOTS_Q), None, "an answer to a question never asked");
    assert_eq!(second.respond_input_required(&asking("color", ROOTS_Q), &["name".into()]).ok(), Some(true));
    let state2 = f.out.take().remove(0)["result"]["requestState"].as_str().unwrap_or_default().to_owned();
    assert_ne!(state1, state2);

    // Round 3: only the new answer is sent; the first comes from the state, and cannot be rewritten.
    let forged = json!({"action": "decline"});
    let third =
        call_echo(&f, 3, json!({"inputResponses": {"color": {"roots": []}, "name": forged}, "requestState": state2}))
            .unwrap_or_else(|| panic!("not dispatched"));
    assert!(third.input_response("name", NAME_Q).is_some_and(|a| a.contains("Ada")), "an earlier answer was lost");
    assert!(third.input_response("color", ROOTS_Q).is_some());
    assert!(third.respond(br#"{"content":[]}"#));
    assert_eq!(f.out.take()[0]["result"]["resultType"], "complete");

    // Without a state, answers given up front are taken for what is asked under their keys.
    let bare = call_echo(&f, 4, json!({"inputResponses": {"name": {"action": "accept"}}}))
        .unwrap_or_else(|| panic!("not dispatched"));
    assert!(bare.input_response("name", NAME_Q).is_some());
}

#[test]
fn request_state_that_fails_verification_is_invalid_params_before_any_handler_runs() {
    let f = Fixture::new();
    let first = call_echo(&f, 1, json!({})).unwrap_or_else(|| panic!("not dispatched"));
    assert_eq!(first.respond_input_required(&asking("k", ROOTS_Q), &[]).ok(), Some(true));
    let state = f.out.take()[0]["result"]["requestState"].as_str().unwrap_or_default().to_owned();
    let mut tampered = state.clone().into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap_or_default();
    for (id, bad) in [(2, json!(tampered)), (3, json!("not-a-state")), (4, json!(""))] {
        assert!(call_echo(&f, id, json!({"requestState": bad})).is_none(), "dispatched with a bad state");
        assert_eq!(code(&f.out.take()[0]), -32602);
    }
    // The same state on other arguments (or another tool) does not open.
    let mut other = modern(5, "tools/call", json!({"name": "echo", "arguments": {"x": 2}, "requestState": state}));
    assert_eq!(code(&f.send(other.clone())[0]), -32602);
    other["params"]["name"] = json!("add");
    other["params"]["arguments"] = json!({"a": 1, "b": 2});
    assert_eq!(code(&f.send(other)[0]), -32602);
    // inputResponses must be an object.
    assert!(call_echo(&f, 6, json!({"inputResponses": [1]})).is_none());
    assert_eq!(code(&f.out.take()[0]), -32602);
    assert!(f.calls.take().is_empty());
}

#[test]
fn legacy_calls_ask_the_client_directly() {
    let f = Fixture::new();
    f.init("2025-11-25");
    f.send(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "echo", "arguments": {}}}));
    let (call, _) = f.calls.take().remove(0);
    assert!(!call.can_require_input());
    assert!(call.respond_input_required(b"{}", &[]).is_err());
}

fn listen(f: &Fixture, id: i64, filter: Value) -> Vec<Value> {
    f.send(modern(id, "subscriptions/listen", json!({"notifications": filter})))
}

#[test]
fn listen_acknowledges_first_then_delivers_what_was_asked_for() {
    let f = Fixture::new();
    f.engine.add_resource(Resource::new(3, r#"{"uri":"test://a","name":"a"}"#).unwrap_or_else(|e| panic!("{e}")));
    let ack = listen(
        &f,
        10,
        json!({"toolsListChanged": true, "promptsListChanged": true, "resourceSubscriptions": ["test://a"]}),
    );
    assert_eq!(ack.len(), 1);
    assert_eq!(ack[0]["method"], "notifications/subscriptions/acknowledged");
    // No prompts are registered, so that kind is not agreed to.
    assert_eq!(
        ack[0]["params"]["notifications"],
        json!({"toolsListChanged": true, "resourceSubscriptions": ["test://a"]})
    );
    assert_eq!(meta_id(&ack[0]), &json!(10));

    f.engine.add_tool(
        Tool::new(20, r#"{"name":"new","inputSchema":{"type":"object"}}"#, None).unwrap_or_else(|e| panic!("{e}")),
    );
    f.engine.notify_resource_updated("test://a");
    f.engine.notify_resource_updated("test://other");
    f.engine.add_resource(Resource::new(4, r#"{"uri":"test://b","name":"b"}"#).unwrap_or_else(|e| panic!("{e}")));
    let got = f.out.take();
    let methods: Vec<&str> = got.iter().filter_map(|m| m["method"].as_str()).collect();
    assert_eq!(methods, ["notifications/tools/list_changed", "notifications/resources/updated"]);
    assert!(got.iter().all(|m| meta_id(m) == &json!(10)));
    assert_eq!(got[1]["params"]["uri"], "test://a");

    // A second subscription with another filter; then the first is cancelled.
    listen(&f, 11, json!({"resourcesListChanged": true}));
    f.send(json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 10}}));
    f.engine.add_tool(
        Tool::new(21, r#"{"name":"newer","inputSchema":{"type":"object"}}"#, None).unwrap_or_else(|e| panic!("{e}")),
    );
    f.engine.remove_resource("test://b");
    let got = f.out.take();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["method"], "notifications/resources/list_changed");
    assert_eq!(meta_id(&got[0]), &json!(11));

    // A graceful end answers the listen request itself, once.
    assert_eq!(f.engine.end_subscriptions(), 1);
    let end = f.out.take();
    assert_eq!(end[0]["id"], 11);
    assert_eq!(end[0]["result"]["resultType"], "complete");
    assert_eq!(end[0]["result"]["_meta"]["io.modelcontextprotocol/subscriptionId"], 11);
    assert_eq!(f.engine.end_subscriptions(), 0);
    f.engine.remove_tool("new");
    assert!(f.out.take().is_empty(), "an ended subscription still delivers");
}

#[test]
fn listen_needs_a_filter_and_a_fresh_id() {
    let f = Fixture::new();
    let r = f.send(modern(1, "subscriptions/listen", json!({})));
    assert_eq!(code(&r[0]), -32602);
    listen(&f, 2, json!({}));
    assert_eq!(code(&listen(&f, 2, json!({}))[0]), -32600);
}

#[test]
fn custom_methods_get_their_params_and_progress_token() {
    let f = Fixture::new();
    f.engine.add_method("vendor/echo", 42, None).unwrap_or_else(|e| panic!("{e}"));
    let mut request = modern(1, "vendor/echo", json!({"x": 1}));
    request["params"]["_meta"]["progressToken"] = json!(5);
    f.send(request);
    let (call, args) = f.calls.take().remove(0);
    assert_eq!((call.handler_id, call.progress_token()), (42, Some("5")));
    assert_eq!(args["params"]["x"], 1);
    assert!(f.engine.add_method("tools/list", 1, None).is_err(), "a protocol method cannot be replaced");
    assert_eq!(code(&f.send(modern(2, "vendor/other", json!({})))[0]), -32601);
}
