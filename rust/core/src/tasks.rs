//! Tasks (2025-11-25, experimental): a `tools/call` with `task: {ttl}` is answered at once with a
//! `CreateTaskResult`; the tool runs on, and its outcome is kept for `tasks/get`, `tasks/result`, `tasks/list`
//! and `tasks/cancel`. Tasks belong to the session that created them (the session is the requestor's identity
//! here), have unguessable ids, expire after their TTL, and a session holds at most `MAX_TASKS`. The tasks of a
//! session shared by several processes are written to the task store too ([`shared`]).

mod shared;

use crate::engine::Done;
use crate::jsonrpc::{self, RequestId, INTERNAL_ERROR, INVALID_PARAMS};
use crate::session::{Call, OutKind, Outbound, Session};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const MAX_TASKS: usize = 1000;
pub const DEFAULT_TTL_MS: u64 = 5 * 60 * 1000;
pub const MAX_TTL_MS: u64 = 24 * 60 * 60 * 1000;
pub const POLL_INTERVAL_MS: u64 = 500;
const RELATED_TASK: &str = "io.modelcontextprotocol/related-task";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskStatus {
    Working,
    Completed,
    Failed,
    Cancelled,
}

impl TaskStatus {
    fn name(self) -> &'static str {
        match self {
            TaskStatus::Working => "working",
            TaskStatus::Completed => "completed",
            TaskStatus::Failed => "failed",
            TaskStatus::Cancelled => "cancelled",
        }
    }

    fn is_terminal(self) -> bool {
        self != TaskStatus::Working
    }
}

enum Outcome {
    Result(Value),
    Error(Value),
}

struct Task {
    seq: u64,
    status: TaskStatus,
    message: Option<String>,
    created: SystemTime,
    updated: SystemTime,
    ttl_ms: u64,
    outcome: Option<Outcome>,
    /// `tasks/result` requests waiting for the outcome.
    waiters: Vec<(RequestId, Arc<dyn Outbound>)>,
    call: Option<Arc<Call>>,
}

#[derive(Default)]
pub struct TaskTable {
    tasks: HashMap<String, Task>,
    order: BTreeMap<u64, String>,
    next_seq: u64,
}

/// ISO 8601 / RFC 3339 UTC timestamp with milliseconds.
pub fn iso8601(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

fn task_json(id: &str, task: &Task) -> Value {
    let mut out = json!({
        "taskId": id,
        "status": task.status.name(),
        "createdAt": iso8601(task.created),
        "lastUpdatedAt": iso8601(task.updated),
        "ttl": task.ttl_ms,
        "pollInterval": POLL_INTERVAL_MS,
    });
    if let (Some(message), Some(obj)) = (&task.message, out.as_object_mut()) {
        obj.insert("statusMessage".into(), Value::String(message.clone()));
    }
    out
}

fn related(task_id: &str) -> Value {
    json!({ RELATED_TASK: {"taskId": task_id} })
}

/// Adds the related-task `_meta` to a result object.
fn with_related(mut result: Value, task_id: &str) -> Value {
    if let Some(obj) = result.as_object_mut() {
        let meta = obj.entry("_meta").or_insert_with(|| Value::Object(Map::new()));
        if let (Some(meta), Value::Object(rel)) = (meta.as_object_mut(), related(task_id)) {
            meta.extend(rel);
        }
    }
    result
}

impl Session {
    pub(crate) fn tasks(&self) -> MutexGuard<'_, TaskTable> {
        self.task_table.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl TaskTable {
    fn expire(&mut self, now: SystemTime) {
        let expired: Vec<String> = self
            .tasks
            .iter()
            .filter(|(_, t)| {
                t.status.is_terminal()
                    && now.duration_since(t.created).unwrap_or(Duration::ZERO) > Duration::from_millis(t.ttl_ms)
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            if let Some(t) = self.tasks.remove(&id) {
                self.order.remove(&t.seq);
            }
        }
    }

    /// A new working task; `None` when the session already holds `MAX_TASKS` live ones.
    fn create(&mut self, ttl_ms: Option<u64>) -> Option<(String, Value)> {
        let now = SystemTime::now();
        self.expire(now);
        if self.tasks.len() >= MAX_TASKS {
            return None;
        }
        let mut raw = [0u8; 16];
        getrandom::fill(&mut raw).ok()?;
        let id: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        let seq = self.next_seq;
        self.next_seq += 1;
        let task = Task {
            seq,
            status: TaskStatus::Working,
            message: None,
            created: now,
            updated: now,
            ttl_ms: ttl_ms.unwrap_or(DEFAULT_TTL_MS).min(MAX_TTL_MS),
            outcome: None,
            waiters: Vec::new(),
            call: None,
        };
        let json = task_json(&id, &task);
        self.order.insert(seq, id.clone());
        self.tasks.insert(id.clone(), task);
        Some((id, json))
    }
}

/// Where a task's call sends its messages: the outcome is stored; notifications and requests to the client go
/// to the session (tagged with the related task).
pub struct TaskSink {
    session: Arc<Session>,
    task_id: String,
}

impl TaskSink {
    fn settle(&self, status: TaskStatus, message: Option<String>, outcome: Option<Outcome>) {
        let (waiters, json, notice) = {
            let mut tasks = self.session.tasks();
            let Some(task) = tasks.tasks.get_mut(&self.task_id) else { return };
            if task.status.is_terminal() {
                return; // a cancelled task stays cancelled
            }
            task.status = status;
            task.message = message;
            task.updated = SystemTime::now();
            task.outcome = outcome;
            task.call = None;
            let (notice, _) = shared::changed(&self.session, &self.task_id, task, None);
            (std::mem::take(&mut task.waiters), task_json(&self.task_id, task), notice)
        };
        shared::announce(&self.session, notice);
        self.session.out.send(
            jsonrpc::notification("notifications/tasks/status", json.to_string().as_bytes()),
            OutKind::Notification,
        );
        let tasks = self.session.tasks();
        if let Some(task) = tasks.tasks.get(&self.task_id) {
            for (id, reply) in waiters {
                reply.send(outcome_response(&id, &self.task_id, task), OutKind::Response);
            }
        }
    }
}

fn outcome_response(id: &RequestId, task_id: &str, task: &Task) -> Vec<u8> {
    match &task.outcome {
        Some(Outcome::Result(result)) => {
            jsonrpc::result_response(id, with_related(result.clone(), task_id).to_string().as_bytes())
        }
        Some(Outcome::Error(error)) => {
            let code = error.get("code").and_then(Value::as_i64).unwrap_or(i64::from(INTERNAL_ERROR)) as i32;
            let message = error.get("message").and_then(Value::as_str).unwrap_or("error");
            let data = error.get("data").map(Value::to_string);
            jsonrpc::error_response(Some(id), code, message, data.as_deref())
        }
        None => {
            jsonrpc::error_response(Some(id), INTERNAL_ERROR, "Task was cancelled before it produced a result", None)
        }
    }
}

impl Outbound for TaskSink {
    fn send(&self, msg: Vec<u8>, kind: OutKind) {
        let Ok(mut value) = serde_json::from_slice::<Value>(&msg) else { return };
        if kind == OutKind::Response {
            if let Some(error) = value.get_mut("error").map(Value::take) {
                let message = error.get("message").and_then(Value::as_str).map(str::to_owned);
                self.settle(TaskStatus::Failed, message, Some(Outcome::Error(error)));
            } else {
                let result = value.get_mut("result").map(Value::take).unwrap_or(Value::Null);
                let failed = result.get("isError").and_then(Value::as_bool) == Some(true);
                let (status, message) = if failed {
                    let text = result.pointer("/content/0/text").and_then(Value::as_str).map(str::to_owned);
                    (TaskStatus::Failed, text)
                } else {
                    (TaskStatus::Completed, None)
                };
                self.settle(status, message, Some(Outcome::Result(result)));
            }
            return;
        }
        // Everything sent on behalf of the task carries the related-task metadata.
        if let Some(params) = value.get_mut("params").and_then(Value::as_object_mut) {
            let meta = params.entry("_meta").or_insert_with(|| Value::Object(Map::new()));
            if let (Some(meta), Value::Object(rel)) = (meta.as_object_mut(), related(&self.task_id)) {
                meta.extend(rel);
            }
        }
        self.session.out.send(value.to_string().into_bytes(), kind);
    }

    fn abandon(&self) {
        self.settle(TaskStatus::Cancelled, Some("The request was cancelled".into()), None);
    }
}

/// `tools/call` with `task`: answers the `CreateTaskResult` and returns the sink the call must report to.
pub(crate) fn begin(
    session: &Arc<Session>,
    id: &RequestId,
    ttl_ms: Option<u64>,
    reply: &Arc<dyn Outbound>,
) -> Option<(String, Arc<dyn Outbound>)> {
    let created = {
        let mut tasks = session.tasks();
        tasks.create(ttl_ms).map(|(task_id, json)| {
            let answer = jsonrpc::result_response(id, json!({"task": json}).to_string().as_bytes());
            // A shared session's task is answered once the task store holds it (any process may be asked next).
            let (reply, request_id, held) = (reply.clone(), id.clone(), task_id.clone());
            let done: Done = Box::new(move |stored| match stored {
                Ok(()) => reply.send(answer, OutKind::Response),
                Err(e) => {
                    let message = format!("the task could not be stored: {e}");
                    reply.send(
                        jsonrpc::error_response(Some(&request_id), INTERNAL_ERROR, &message, None),
                        OutKind::Response,
                    );
                    tracing::warn!(task = %held, "a task the store refused runs on unobserved");
                }
            });
            let (notice, unqueued) = match tasks.tasks.get(&task_id) {
                Some(task) => shared::changed(session, &task_id, task, Some(done)),
                None => (None, Some(done)),
            };
            (task_id, notice, unqueued)
        })
    };
    let Some((task_id, notice, unqueued)) = created else {
        let msg = format!("Too many tasks in this session (limit {MAX_TASKS})");
        reply.send(jsonrpc::error_response(Some(id), INTERNAL_ERROR, &msg, None), OutKind::Response);
        return None;
    };
    if let Some(answer_now) = unqueued {
        answer_now(Ok(())); // not shared: the task exists here only
    }
    shared::announce(session, notice);
    Some((task_id.clone(), Arc::new(TaskSink { session: session.clone(), task_id })))
}

/// Remembers the running call of a task (for `tasks/cancel`).
pub(crate) fn attach_call(session: &Session, task_id: &str, call: Arc<Call>) {
    if let Some(task) = session.tasks().tasks.get_mut(task_id) {
        if !task.status.is_terminal() {
            task.call = Some(call);
        }
    }
}

/// Answers `tasks/get`, `tasks/result`, `tasks/list` and `tasks/cancel`.
pub(crate) fn request(
    session: &Arc<Session>,
    id: &RequestId,
    method: &str,
    params: &Value,
    reply: &Arc<dyn Outbound>,
    page_size: usize,
) {
    let answer = |v: Value| reply.send(jsonrpc::result_response(id, v.to_string().as_bytes()), OutKind::Response);
    let fail = |msg: &str| reply.send(jsonrpc::error_response(Some(id), INVALID_PARAMS, msg, None), OutKind::Response);
    if method == "tasks/list" {
        if shared::list(session, id, params, reply, page_size) {
            return;
        }
        let mut tasks = session.tasks();
        tasks.expire(SystemTime::now());
        let start = match params.get("cursor").and_then(Value::as_str) {
            None => 0,
            Some(c) => match c.parse::<u64>() {
                Ok(n) => n,
                Err(_) => return fail("Invalid params: unknown cursor"),
            },
        };
        let page: Vec<(&u64, &String)> = tasks.order.range(start..).take(page_size + 1).collect();
        let mut list: Vec<Value> = page
            .iter()
            .take(page_size)
            .filter_map(|(_, tid)| tasks.tasks.get(*tid).map(|t| task_json(tid, t)))
            .collect();
        let mut result = json!({"tasks": []});
        if page.len() > page_size {
            result["nextCursor"] = Value::String(page[page_size].0.to_string());
        }
        result["tasks"] = Value::Array(std::mem::take(&mut list));
        return answer(result);
    }
    let Some(task_id) = params.get("taskId").and_then(Value::as_str) else {
        return fail(&format!("Invalid params: {method} needs a taskId"));
    };
    let mut tasks = session.tasks();
    tasks.expire(SystemTime::now());
    let Some(task) = tasks.tasks.get_mut(task_id) else {
        drop(tasks);
        // Another process's task, in a shared session: the task store knows it.
        if shared::remote(session, id, method, task_id, reply) {
            return;
        }
        return fail(&format!("Invalid params: unknown task {task_id:?}"));
    };
    match method {
        "tasks/get" => {
            let json = task_json(task_id, task);
            drop(tasks);
            answer(json)
        }
        "tasks/result" => {
            if task.status.is_terminal() {
                let msg = outcome_response(id, task_id, task);
                drop(tasks);
                reply.send(msg, OutKind::Response);
            } else {
                task.waiters.push((id.clone(), reply.clone()));
            }
        }
        _ => {
            drop(tasks);
            match cancel_here(session, task_id) {
                Ok(json) => answer(json),
                Err(message) => fail(&message),
            }
        }
    }
}

/// Cancels a task this process holds: its call is cancelled, waiters get the outcome, the client the status.
/// Returns the task as it now is, or why it cannot be cancelled.
pub(crate) fn cancel_here(session: &Session, task_id: &str) -> Result<Value, String> {
    let (call, json, notice) = {
        let mut tasks = session.tasks();
        let Some(task) = tasks.tasks.get_mut(task_id) else {
            return Err(format!("Invalid params: unknown task {task_id:?}"));
        };
        if task.status.is_terminal() {
            return Err(format!("Invalid params: task {task_id:?} already finished"));
        }
        task.status = TaskStatus::Cancelled;
        task.message = Some("Cancelled by the client".into());
        task.updated = SystemTime::now();
        let call = task.call.take();
        let waiters = std::mem::take(&mut task.waiters);
        let json = task_json(task_id, task);
        for (wid, wreply) in waiters {
            wreply.send(outcome_response(&wid, task_id, task), OutKind::Response);
        }
        (call, json, shared::changed(session, task_id, task, None).0)
    };
    shared::announce(session, notice);
    if let Some(call) = call {
        session.forget(&call.id);
        if call.cancel() {
            session.dispatcher.cancel(&call);
        }
    }
    session
        .out
        .send(jsonrpc::notification("notifications/tasks/status", json.to_string().as_bytes()), OutKind::Notification);
    Ok(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(iso8601(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(UNIX_EPOCH + Duration::from_millis(1_763_700_000_123)), "2025-11-21T04:40:00.123Z");
        assert_eq!(iso8601(UNIX_EPOCH + Duration::from_secs(951_782_400)), "2000-02-29T00:00:00.000Z");
    }
}
