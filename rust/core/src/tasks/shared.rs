//! The 2025-11-25 tasks of a session shared by several processes (a session store and a task store are
//! configured): every change of a task is written to the task store (its owner is the session id) and announced
//! on the bus ([`Notice::LegacyTask`]), so `tasks/get`, `tasks/result`, `tasks/list` and `tasks/cancel` that
//! reach a process which does not run the task are answered there: from the store, `tasks/result` of a running
//! task once the process running it announces its end, and `tasks/cancel` by the bus ([`Notice::CancelTask`])
//! to that process. A task's creation is answered once the store holds it.

use super::{with_related, Task, TaskStatus, POLL_INTERVAL_MS};
use crate::bus::{Notice, Receiver};
use crate::engine::Done;
use crate::jsonrpc::{self, RequestId, INTERNAL_ERROR, INVALID_PARAMS};
use crate::session::{OutKind, Outbound, Session};
use crate::store::{StoreError, TaskRecord};
use crate::tasks::iso8601;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::sync::oneshot;

/// How long the store keeps the record of a running task after its last change.
const RUNNING_KEEP: Duration = Duration::from_secs(24 * 60 * 60);

fn record(session_id: &str, task_id: &str, task: &Task) -> TaskRecord {
    // The outcome keeps which kind it is: a result (possibly `isError`) or a JSON-RPC error.
    let outcome = match &task.outcome {
        Some(super::Outcome::Result(result)) => Some(json!({ "result": result }).to_string()),
        Some(super::Outcome::Error(error)) => Some(json!({ "error": error }).to_string()),
        None => None,
    };
    TaskRecord {
        task_id: task_id.to_owned(),
        owner: session_id.to_owned(),
        status: task.status.name().to_owned(),
        status_message: task.message.clone(),
        created_at: iso8601(task.created),
        last_updated_at: iso8601(task.updated),
        ttl_ms: task.ttl_ms,
        outcome,
        input_requests: None,
    }
}

/// A running task's record outlives its process a while; a finished one is kept for what is left of its TTL.
fn keep(task: &Task) -> Duration {
    if !task.status.is_terminal() {
        return RUNNING_KEEP;
    }
    let age = SystemTime::now().duration_since(task.created).unwrap_or(Duration::ZERO);
    Duration::from_millis(task.ttl_ms).saturating_sub(age).max(Duration::from_secs(1))
}

/// A change of a task of `session` (made under the task table's lock): queued for the store in order when the
/// session is shared, with `done` to hear how the write went; returns the notice to announce once the lock is
/// released, and `done` back when nothing was queued (the caller goes on at once).
pub(super) fn changed(
    session: &Session,
    task_id: &str,
    task: &Task,
    done: Option<Done>,
) -> (Option<Notice>, Option<Done>) {
    let Some(relay) = session.relay() else { return (None, done) };
    let record = record(&relay.session_id, task_id, task);
    let done = match &relay.tasks {
        Some(journal) => {
            journal.write(record.clone(), keep(task), done);
            None
        }
        None => done,
    };
    let notice = Notice::LegacyTask { session: relay.session_id.clone(), task_id: task_id.to_owned(), record };
    (Some(notice), done)
}

/// Announces a change to the other processes (outside the task table's lock).
pub(super) fn announce(session: &Session, notice: Option<Notice>) {
    if let (Some(relay), Some(notice)) = (session.relay(), notice) {
        relay.bus.publish(notice);
    }
}

fn is_terminal(status: &str) -> bool {
    matches!(status, "completed" | "failed" | "cancelled")
}

/// The task as `tasks/get` shows it, from its record.
fn task_json(record: &TaskRecord) -> Value {
    let mut out = json!({
        "taskId": record.task_id,
        "status": record.status,
        "createdAt": record.created_at,
        "lastUpdatedAt": record.last_updated_at,
        "ttl": record.ttl_ms,
        "pollInterval": POLL_INTERVAL_MS,
    });
    if let (Some(message), Some(obj)) = (&record.status_message, out.as_object_mut()) {
        obj.insert("statusMessage".into(), Value::String(message.clone()));
    }
    out
}

/// `tasks/result`'s answer from a finished task's record.
fn outcome(id: &RequestId, record: &TaskRecord) -> Vec<u8> {
    let stored: Option<Value> = record.outcome.as_deref().and_then(|o| serde_json::from_str(o).ok());
    match stored {
        Some(Value::Object(mut o)) if o.contains_key("result") => {
            let result = with_related(o.remove("result").unwrap_or(Value::Null), &record.task_id);
            jsonrpc::result_response(id, result.to_string().as_bytes())
        }
        Some(Value::Object(o)) if o.contains_key("error") => {
            let error = &o["error"];
            let code = error.get("code").and_then(Value::as_i64).unwrap_or(i64::from(INTERNAL_ERROR)) as i32;
            let message = error.get("message").and_then(Value::as_str).unwrap_or("error");
            let data = error.get("data").map(Value::to_string);
            jsonrpc::error_response(Some(id), code, message, data.as_deref())
        }
        _ => jsonrpc::error_response(Some(id), INTERNAL_ERROR, "Task was cancelled before it produced a result", None),
    }
}

/// Waits for the end of a task another process runs (`tasks/result`).
struct EndOf {
    session: String,
    task_id: String,
    tx: Mutex<Option<oneshot::Sender<TaskRecord>>>,
}

impl Receiver for EndOf {
    fn deliver(&self, notice: &Notice, _: &[u8]) -> bool {
        let Notice::LegacyTask { session, task_id, record } = notice else { return false };
        if *session != self.session || *task_id != self.task_id || !is_terminal(&record.status) {
            return false;
        }
        let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
        tx.is_some_and(|tx| tx.send(record.clone()).is_ok())
    }
}

fn unavailable(id: &RequestId, method: &str, e: &StoreError) -> Vec<u8> {
    jsonrpc::error_response(Some(id), INTERNAL_ERROR, &format!("{method}: the task store failed: {e}"), None)
}

/// `tasks/get`, `tasks/result` or `tasks/cancel` of a task this process does not hold, in a shared session:
/// answered from the task store (later, from the runtime its writer runs on). False when the session is not
/// shared, so the task is simply unknown.
pub(super) fn remote(
    session: &Arc<Session>,
    id: &RequestId,
    method: &str,
    task_id: &str,
    reply: &Arc<dyn Outbound>,
) -> bool {
    let Some((relay, journal)) = session.relay().and_then(|r| r.tasks.as_ref().map(|j| (r, j))) else {
        return false;
    };
    let (store, bus) = (journal.store().clone(), relay.bus.clone());
    let (owner, task_id, method) = (relay.session_id.clone(), task_id.to_owned(), method.to_owned());
    let (id, reply) = (id.clone(), reply.clone());
    journal.runtime().spawn(async move {
        let send = |msg: Vec<u8>| reply.send(msg, OutKind::Response);
        let unknown = || {
            let message = format!("Invalid params: unknown task {task_id:?}");
            jsonrpc::error_response(Some(&id), INVALID_PARAMS, &message, None)
        };
        // For tasks/result: listening before the store is read, so an end announced in between is not missed.
        let (tx, ended) = oneshot::channel();
        let end = Arc::new(EndOf { session: owner.clone(), task_id: task_id.clone(), tx: Mutex::new(Some(tx)) });
        if method == "tasks/result" {
            let receiver: Arc<dyn Receiver> = end.clone();
            bus.join(Arc::downgrade(&receiver));
        }
        let record = match store.get(&owner, &task_id).await {
            Ok(Some(record)) => record,
            Ok(None) => return send(unknown()),
            Err(e) => return send(unavailable(&id, &method, &e)),
        };
        match method.as_str() {
            "tasks/get" => send(jsonrpc::result_response(&id, task_json(&record).to_string().as_bytes())),
            "tasks/result" if is_terminal(&record.status) => send(outcome(&id, &record)),
            "tasks/result" => {
                // Bounded by how long the store keeps a running task's record after its last change.
                match tokio::time::timeout(RUNNING_KEEP, ended).await {
                    Ok(Ok(done)) => send(outcome(&id, &done)),
                    _ => send(unknown()),
                }
                drop(end);
            }
            _ if is_terminal(&record.status) => {
                let message = format!("Invalid params: task {task_id:?} already finished");
                send(jsonrpc::error_response(Some(&id), INVALID_PARAMS, &message, None))
            }
            _ => {
                bus.publish(Notice::CancelTask { owner: owner.clone(), task_id: task_id.clone() });
                // Answered once the store shows the end, so a poll that follows (anywhere) sees it.
                crate::engine::task_settled(&*store, &owner, &task_id, |r| is_terminal(&r.status)).await;
                let mut cancelled = match store.get(&owner, &task_id).await {
                    Ok(Some(now)) if is_terminal(&now.status) => now,
                    _ => record,
                };
                if !is_terminal(&cancelled.status) {
                    cancelled.status = TaskStatus::Cancelled.name().to_owned();
                    cancelled.status_message = Some("Cancelled by the client".into());
                    cancelled.last_updated_at = iso8601(SystemTime::now());
                }
                send(jsonrpc::result_response(&id, task_json(&cancelled).to_string().as_bytes()))
            }
        }
    });
    true
}

/// `tasks/list` of a shared session: from the task store, which holds the tasks of every process (a task is
/// answered to its client only once stored). False when the session is not shared.
pub(super) fn list(
    session: &Arc<Session>,
    id: &RequestId,
    params: &Value,
    reply: &Arc<dyn Outbound>,
    page_size: usize,
) -> bool {
    let Some((relay, journal)) = session.relay().and_then(|r| r.tasks.as_ref().map(|j| (r, j))) else {
        return false;
    };
    let (store, owner) = (journal.store().clone(), relay.session_id.clone());
    let cursor = params.get("cursor").and_then(Value::as_str).map(str::to_owned);
    let (id, reply) = (id.clone(), reply.clone());
    journal.runtime().spawn(async move {
        let answer = match store.list(&owner, cursor.as_deref(), page_size).await {
            Ok((page, next)) => {
                let mut result = json!({ "tasks": page.iter().map(task_json).collect::<Vec<_>>() });
                if let Some(next) = next {
                    result["nextCursor"] = Value::String(next);
                }
                jsonrpc::result_response(&id, result.to_string().as_bytes())
            }
            Err(StoreError::Corrupt(_)) if cursor.is_some() => {
                jsonrpc::error_response(Some(&id), INVALID_PARAMS, "Invalid params: unknown cursor", None)
            }
            Err(e) => unavailable(&id, "tasks/list", &e),
        };
        reply.send(answer, OutKind::Response);
    });
    true
}
