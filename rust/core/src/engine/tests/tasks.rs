//! The tasks extension beyond one request: status notifications on `subscriptions/listen`, and tasks served by
//! processes that share a task store and a bus.

use super::*;
use crate::bus::{Bus, LocalBus};
use crate::store::{MemoryTaskStore, TaskStore};
use crate::testing::DownStore;
use std::time::{Duration, Instant};

const JOB: &str = r#"{"name":"job","inputSchema":{"type":"object"},"execution":{"taskSupport":"optional"}}"#;

fn engine_on(bus: Arc<dyn Bus>) -> Engine {
    let engine = Engine::with_bus(ServerConfig::new(json!({"name": "t", "version": "1"})), bus)
        .unwrap_or_else(|e| panic!("{e}"));
    engine.add_tool(Tool::new(1, JOB, None).unwrap_or_else(|e| panic!("{e}")));
    engine
}

/// A stateless request from a client that declared the tasks extension.
fn with_tasks(id: i64, method: &str, params: Value) -> Value {
    let mut msg = modern(id, method, params);
    msg["params"]["_meta"]["io.modelcontextprotocol/clientCapabilities"] =
        json!({"extensions": {"io.modelcontextprotocol/tasks": {}}});
    msg
}

/// Calls `job` and makes it a task; returns the call and the task id.
fn start_job(f: &Fixture, id: i64) -> (Arc<Call>, String) {
    f.send(with_tasks(id, "tools/call", json!({"name": "job", "arguments": {}})));
    let (call, _) = f.calls.take().pop().unwrap_or_else(|| panic!("job was not dispatched"));
    let task = call.start_task().unwrap_or_else(|e| panic!("{e}"));
    (call, task)
}

/// The answer `f` sends to request `id` (answers that wait on the store come from its writer, later).
fn answer_to(f: &Fixture, id: i64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut got = Vec::new();
    while Instant::now() < deadline {
        got.extend(f.out.take());
        if let Some(answer) = got.iter().find(|m| m["id"] == id && m.get("method").is_none()) {
            return answer.clone();
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    panic!("no answer to {id}; got {got:?}");
}

/// Sends `msg` and waits for its answer.
fn ask(f: &Fixture, msg: Value) -> Value {
    let id = msg["id"].as_i64().unwrap_or_default();
    f.engine.handle(&f.session, msg.to_string().as_bytes());
    answer_to(f, id)
}

#[test]
fn listen_streams_the_status_of_the_tasks_it_names() {
    let f = Fixture::with_engine(engine_on(LocalBus::new()));
    let (call, task) = start_job(&f, 1);
    assert_eq!(f.out.take()[0]["result"]["resultType"], "task");

    // Naming tasks needs the extension declared on the listen request itself.
    let refused = f.send(modern(2, "subscriptions/listen", json!({"notifications": {"taskIds": [task]}})));
    assert_eq!(code(&refused[0]), -32021);
    let ack = f.send(with_tasks(3, "subscriptions/listen", json!({"notifications": {"taskIds": [task]}})));
    assert_eq!(ack[0]["params"]["notifications"], json!({"taskIds": [task]}));

    let (_, other) = start_job(&f, 4);
    f.out.take();
    assert!(!call.progress(0.5, None, Some("halfway")), "a task's progress is its status message, not a notification");
    let asked = call.request("elicitation/create", br#"{"message":"Go on?","requestedSchema":{}}"#, 9);
    assert!(asked.is_ok());
    let update = f.send(with_tasks(
        5,
        "tasks/update",
        json!({"taskId": task, "inputResponses": {"input-1": {"action": "accept"}}}),
    ));
    assert_eq!(update.iter().filter(|m| m["id"] == 5).count(), 1);
    assert!(call.respond(br#"{"content":[{"type":"text","text":"done"}]}"#));
    let seen: Vec<Value> =
        update.into_iter().chain(f.out.take()).filter(|m| m["method"] == "notifications/tasks").collect();
    let statuses: Vec<&str> = seen.iter().filter_map(|m| m["params"]["status"].as_str()).collect();
    assert_eq!(statuses, ["working", "input_required", "working", "completed"], "{seen:?}");
    for m in &seen {
        assert_eq!(m["params"]["taskId"], json!(task), "only the named task: {m}");
        assert_eq!(m["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"], 3);
        assert!(m["params"].get("resultType").is_none(), "a notification carries the task, not a result");
    }
    assert_eq!(seen[0]["params"]["statusMessage"], "halfway");
    assert_eq!(seen[1]["params"]["inputRequests"]["input-1"]["method"], "elicitation/create");
    assert_eq!(seen[3]["params"]["result"]["content"][0]["text"], "done");
    assert_ne!(other, task);

    // A server with no task tools does not agree to task notifications.
    let plain = Fixture::new();
    let ack = plain.send(with_tasks(1, "subscriptions/listen", json!({"notifications": {"taskIds": ["x"]}})));
    assert_eq!(ack[0]["params"]["notifications"], json!({}));
}

#[test]
fn processes_sharing_a_task_store_and_a_bus_serve_each_others_tasks() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    let (bus, store): (Arc<dyn Bus>, Arc<dyn TaskStore>) = (LocalBus::new(), Arc::new(MemoryTaskStore::new()));
    let (a, b) = (Fixture::with_engine(engine_on(bus.clone())), Fixture::with_engine(engine_on(bus)));
    for f in [&a, &b] {
        assert!(f.engine.attach_task_store(store.clone(), runtime.handle().clone()));
    }
    assert!(!a.engine.attach_task_store(store.clone(), runtime.handle().clone()), "one store per engine");

    // The task is in the store before its client hears of it.
    let (call, task) = start_job(&a, 1);
    assert_eq!(answer_to(&a, 1)["result"]["taskId"], json!(task));
    assert_eq!(ask(&b, with_tasks(2, "tasks/get", json!({"taskId": task})))["result"]["status"], "working");

    // Input asked on A, seen and answered through B.
    call.request("elicitation/create", br#"{"message":"Go on?","requestedSchema":{}}"#, 7)?;
    let deadline = Instant::now() + Duration::from_secs(5);
    for poll in 100.. {
        let got = ask(&b, with_tasks(poll, "tasks/get", json!({"taskId": task})));
        if got["result"]["status"] == "input_required" {
            assert_eq!(got["result"]["inputRequests"]["input-1"]["params"]["message"], "Go on?");
            break;
        }
        assert!(Instant::now() < deadline, "the store never showed the input request");
    }
    let answers = json!({"taskId": task, "inputResponses": {"input-1": {"action": "decline"}}});
    assert_eq!(ask(&b, with_tasks(4, "tasks/update", answers))["result"]["resultType"], "complete");
    let replies = a.calls.replies.lock().unwrap_or_else(|p| p.into_inner()).len();
    assert_eq!(replies, 1, "the answer reached the process that runs the task");

    // Cancelled through B: A's call is cancelled.
    ask(&b, with_tasks(5, "tasks/cancel", json!({"taskId": task})));
    assert_eq!(a.calls.cancelled.lock().unwrap_or_else(|p| p.into_inner()).len(), 1);
    assert!(!call.is_active());

    // Unknown everywhere: -32602.
    assert_eq!(code(&ask(&b, with_tasks(6, "tasks/get", json!({"taskId": "nope"})))), -32602);
    Ok(())
}

#[test]
fn a_task_the_store_refuses_is_an_error_and_its_call_is_cancelled() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    let f = Fixture::with_engine(engine_on(LocalBus::new()));
    assert!(f.engine.attach_task_store(Arc::new(DownStore), runtime.handle().clone()));
    let (call, _) = start_job(&f, 1);
    let answer = answer_to(&f, 1);
    assert_eq!(code(&answer), -32603, "{answer}");
    assert!(answer["error"]["message"].as_str().is_some_and(|m| m.contains("could not be stored")));
    assert!(!call.is_active());
    assert_eq!(f.calls.cancelled.lock().unwrap_or_else(|p| p.into_inner()).len(), 1);
    Ok(())
}
