//! The tasks extension (`io.modelcontextprotocol/tasks`, SEP-2663) for stateless (2026-07-28) requests.
//!
//! A `tools/call` of a tool with task support, from a client that declared the extension in the request's
//! client capabilities, may be answered with a `CreateTaskResult` (`resultType: "task"`) while the tool runs on;
//! the client polls `tasks/get` (the result, or the error, inlined once terminal), answers input the task asks
//! for through `tasks/update`, and may `tasks/cancel` it. Tasks live in the engine (no session), belong to the
//! principal that created them (anonymous when there is none), expire after their TTL, and an owner holds at
//! most [`MAX_TASKS_PER_OWNER`]. `tasks/result` and `tasks/list` do not exist in this era.
//!
//! A task keeps the running call; the call, once it is a task, sends nothing to the request's transport: its
//! result or error lands in the task, a progress message becomes the task's `statusMessage`, and a request to
//! the client (elicitation, sampling, roots) becomes one of the task's `inputRequests`.

use super::table::Req;
use super::Engine;
use crate::error::McpError;
use crate::jsonrpc::push_json_string;
use crate::protocol::MISSING_REQUIRED_CLIENT_CAPABILITY;
use crate::session::{Call, ReplyOutcome};
use crate::tasks::iso8601;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

pub const EXTENSION: &str = "io.modelcontextprotocol/tasks";
pub const TTL_MS: u64 = 10 * 60 * 1000;
pub const POLL_INTERVAL_MS: u64 = 500;
/// Tasks an owner may have running at once.
pub const MAX_TASKS_PER_OWNER: usize = 1000;
/// Finished tasks kept per owner (the oldest go first when there are more, before their TTL).
pub const MAX_FINISHED_PER_OWNER: usize = 10_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Working,
    InputRequired,
    Completed,
    Failed,
    Cancelled,
}

impl Status {
    fn name(self) -> &'static str {
        match self {
            Status::Working => "working",
            Status::InputRequired => "input_required",
            Status::Completed => "completed",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }

    fn is_terminal(self) -> bool {
        matches!(self, Status::Completed | Status::Failed | Status::Cancelled)
    }
}

struct Entry {
    owner: String,
    status: Status,
    message: Option<String>,
    created: SystemTime,
    updated: SystemTime,
    /// Set when the task ends: it is kept for the TTL from then (a running task never expires).
    expires: Option<SystemTime>,
    /// The inlined result (completed) or error (failed), as JSON.
    outcome: Option<Vec<u8>>,
    /// Requests to the client still unanswered: key → (`{method, params}` JSON, the embedder's reply key).
    pending: BTreeMap<String, (Vec<u8>, u64)>,
    next_input: u64,
    /// The running call, until the task is terminal.
    call: Option<Arc<Call>>,
}

impl Entry {
    fn new(owner: &str, status: Status, call: Option<Arc<Call>>) -> Entry {
        let now = SystemTime::now();
        Entry {
            owner: owner.to_owned(),
            status,
            message: None,
            created: now,
            updated: now,
            expires: None,
            outcome: None,
            pending: BTreeMap::new(),
            next_input: 0,
            call,
        }
    }
}

/// What a call that may become a task needs: where tasks live, who would own it, and whether the tool requires
/// a task.
pub struct TaskLink {
    pub(crate) tasks: Arc<Tasks>,
    pub(crate) owner: String,
    pub(crate) required: bool,
    pub(crate) id: std::sync::OnceLock<String>,
}

/// The tasks of one engine.
#[derive(Default)]
pub struct Tasks {
    entries: Mutex<HashMap<String, Entry>>,
}

fn new_id() -> Option<String> {
    let mut raw = [0u8; 16];
    getrandom::fill(&mut raw).ok()?;
    Some(raw.iter().map(|b| format!("{b:02x}")).collect())
}

impl Tasks {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn purge(entries: &mut HashMap<String, Entry>, now: SystemTime) {
        entries.retain(|_, e| e.expires.is_none_or(|t| t > now));
    }

    /// Makes room for one more task of `owner`: false when it has too many running; the oldest finished ones
    /// go when it keeps too many.
    fn room_for(entries: &mut HashMap<String, Entry>, owner: &str) -> bool {
        let mine = entries.values().filter(|e| e.owner == owner);
        let (running, finished) =
            mine.fold((0, 0), |(r, f), e| if e.status.is_terminal() { (r, f + 1) } else { (r + 1, f) });
        if running >= MAX_TASKS_PER_OWNER {
            return false;
        }
        if finished >= MAX_FINISHED_PER_OWNER {
            let mut done: Vec<(SystemTime, String)> = entries
                .iter()
                .filter(|(_, e)| e.owner == owner && e.status.is_terminal())
                .map(|(id, e)| (e.updated, id.clone()))
                .collect();
            done.sort_unstable();
            for (_, id) in done.into_iter().take(finished + 1 - MAX_FINISHED_PER_OWNER) {
                entries.remove(&id);
            }
        }
        true
    }

    /// Creates a working task for `call`; None when the owner holds too many or there is no randomness.
    pub(crate) fn create(&self, owner: &str, call: Arc<Call>) -> Option<(String, Vec<u8>)> {
        let now = SystemTime::now();
        let mut entries = self.lock();
        Self::purge(&mut entries, now);
        if !Self::room_for(&mut entries, owner) {
            return None;
        }
        let id = new_id()?;
        let entry = Entry::new(owner, Status::Working, Some(call));
        let created = envelope(&id, &entry, "task");
        entries.insert(id.clone(), entry);
        Some((id, created))
    }

    fn update<F: FnOnce(&mut Entry)>(&self, id: &str, f: F) {
        if let Some(entry) = self.lock().get_mut(id) {
            if !entry.status.is_terminal() {
                f(entry);
                entry.updated = SystemTime::now();
            }
        }
    }

    /// The task's call finished with `result` (a shaped result object) or, with `failed`, an error object.
    pub(crate) fn finish(&self, id: &str, outcome: Vec<u8>, failed: bool) {
        self.update(id, |e| {
            e.status = if failed { Status::Failed } else { Status::Completed };
            e.outcome = Some(outcome);
            e.pending.clear();
            e.call = None;
            e.expires = Some(SystemTime::now() + Duration::from_millis(TTL_MS));
        });
    }

    pub(crate) fn set_message(&self, id: &str, message: &str) {
        self.update(id, |e| e.message = Some(message.to_owned()));
    }

    /// Parks a request to the client in the task (`input_required`); returns its key.
    pub(crate) fn ask(&self, id: &str, method: &str, params: &[u8], reply_key: u64) -> Option<String> {
        let mut key = None;
        self.update(id, |e| {
            e.next_input += 1;
            let k = format!("input-{}", e.next_input);
            let mut request = Vec::with_capacity(32 + method.len() + params.len());
            request.extend_from_slice(b"{\"method\":");
            push_json_string(&mut request, method);
            request.extend_from_slice(b",\"params\":");
            request.extend_from_slice(params);
            request.push(b'}');
            e.pending.insert(k.clone(), (request, reply_key));
            e.status = Status::InputRequired;
            key = Some(k);
        });
        key
    }

    /// Withdraws a parked request (the handler stopped waiting for it); false if it was not pending.
    pub(crate) fn withdraw(&self, id: &str, key: &str) -> bool {
        let mut withdrawn = false;
        self.update(id, |e| {
            withdrawn = e.pending.remove(key).is_some();
            if e.pending.is_empty() && e.status == Status::InputRequired {
                e.status = Status::Working;
            }
        });
        withdrawn
    }

    fn owned<'a>(entries: &'a mut HashMap<String, Entry>, owner: &str, id: &str) -> Result<&'a mut Entry, McpError> {
        entries
            .get_mut(id)
            .filter(|e| e.owner == owner)
            .ok_or_else(|| McpError::invalid_params(format!("Invalid params: unknown taskId {id:?}")))
    }
}

/// `CreateTaskResult` (`kind` "task") or the task part of a `DetailedTask` (`kind` "complete").
fn envelope(id: &str, e: &Entry, kind: &str) -> Vec<u8> {
    let mut out = format!(
        r#"{{"resultType":"{kind}","taskId":"{id}","status":"{}","createdAt":"{}","lastUpdatedAt":"{}","ttlMs":{},"pollIntervalMs":{}"#,
        e.status.name(),
        iso8601(e.created),
        iso8601(e.updated),
        TTL_MS,
        POLL_INTERVAL_MS
    )
    .into_bytes();
    if let Some(message) = &e.message {
        out.extend_from_slice(b",\"statusMessage\":");
        push_json_string(&mut out, message);
    }
    out.push(b'}');
    out
}

/// `tasks/get`'s answer: the task, with the result (completed), error (failed) or input requests inlined.
fn detailed(id: &str, e: &Entry) -> Vec<u8> {
    let mut out = envelope(id, e, "complete");
    out.pop();
    match (e.status, &e.outcome) {
        (Status::Completed, Some(result)) => {
            out.extend_from_slice(b",\"result\":");
            out.extend_from_slice(result);
        }
        (Status::Failed, Some(error)) => {
            out.extend_from_slice(b",\"error\":");
            out.extend_from_slice(error);
        }
        (Status::InputRequired, _) => {
            out.extend_from_slice(b",\"inputRequests\":{");
            for (i, (key, (request, _))) in e.pending.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                push_json_string(&mut out, key);
                out.push(b':');
                out.extend_from_slice(request);
            }
            out.push(b'}');
        }
        _ => {}
    }
    out.push(b'}');
    out
}

/// Whether the request's client declared the tasks extension.
pub(crate) fn declared(req: &Req<'_>) -> bool {
    req.ctx.as_ref().and_then(|c| c.client_capability("extensions")).and_then(|ext| ext.get(EXTENSION)).is_some()
}

/// -32021: the request needs the tasks extension, which its client did not declare.
pub(crate) fn missing_extension(what: &str) -> McpError {
    let data = serde_json::json!({"requiredCapabilities": {"extensions": {EXTENSION: {}}}}).to_string();
    McpError::new(
        MISSING_REQUIRED_CLIENT_CAPABILITY,
        format!("{what} needs the {EXTENSION} extension, which this request's client capabilities do not declare"),
    )
    .with_data(data)
}

/// Who owns tasks created by `req`.
pub(crate) fn owner(req: &Req<'_>) -> String {
    req.ctx.as_ref().and_then(|c| c.principal.as_ref()).map(|p| p.subject.clone()).unwrap_or_default()
}

#[derive(Deserialize)]
struct TaskParams<'a> {
    #[serde(rename = "taskId", borrow)]
    task_id: std::borrow::Cow<'a, str>,
    #[serde(rename = "inputResponses", default)]
    input_responses: Option<Map<String, Value>>,
}

/// `tasks/get`, `tasks/update` and `tasks/cancel` of the stateless era.
pub(super) fn request(engine: &Engine, req: &Req<'_>) -> Result<(), McpError> {
    if !declared(req) {
        return Err(missing_extension(req.method));
    }
    let p: TaskParams<'_> = req.params()?;
    let owner = owner(req);
    let tasks = engine.tasks();
    let mut entries = tasks.lock();
    Tasks::purge(&mut entries, SystemTime::now());
    let entry = Tasks::owned(&mut entries, &owner, &p.task_id)?;
    match req.method {
        "tasks/get" => {
            let body = detailed(&p.task_id, entry);
            drop(entries);
            req.reply.send(crate::jsonrpc::result_response(req.id, &body), crate::session::OutKind::Response);
        }
        "tasks/update" => {
            let mut answered = Vec::new();
            for (key, value) in p.input_responses.unwrap_or_default() {
                if let Some((_, reply_key)) = entry.pending.remove(&key) {
                    answered.push((reply_key, value));
                }
            }
            if !answered.is_empty() {
                entry.updated = SystemTime::now();
                if entry.pending.is_empty() && entry.status == Status::InputRequired {
                    entry.status = Status::Working;
                }
            }
            let call = entry.call.clone();
            drop(entries);
            if let Some(call) = call {
                for (key, value) in answered {
                    call.deliver_reply(key, ReplyOutcome::Result(value.to_string().into_bytes()));
                }
            }
            req.answer(b"{}");
        }
        _ => {
            // tasks/cancel: acknowledged even when already terminal (cancellation is cooperative).
            let call = if entry.status.is_terminal() {
                None
            } else {
                entry.status = Status::Cancelled;
                entry.updated = SystemTime::now();
                entry.expires = Some(entry.updated + Duration::from_millis(TTL_MS));
                entry.pending.clear();
                entry.call.take()
            };
            drop(entries);
            if let Some(call) = call {
                call.cancel_task_call();
            }
            req.answer(b"{}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(owner: &str, status: Status) -> Entry {
        Entry::new(owner, status, None)
    }

    fn json(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)))
    }

    #[test]
    fn input_requests_park_and_resume_the_task() {
        let tasks = Tasks::default();
        tasks.lock().insert("t1".into(), entry("alice", Status::Working));
        let first = tasks.ask("t1", "elicitation/create", br#"{"message":"ok?"}"#, 7);
        let second = tasks.ask("t1", "roots/list", b"{}", 8);
        assert_eq!((first.as_deref(), second.as_deref()), (Some("input-1"), Some("input-2")));
        let shown = json(&detailed("t1", &tasks.lock()["t1"]));
        assert_eq!(shown["status"], "input_required");
        assert_eq!(
            shown["inputRequests"]["input-1"],
            serde_json::json!({"method": "elicitation/create", "params": {"message": "ok?"}})
        );
        assert!(tasks.withdraw("t1", "input-1") && !tasks.withdraw("t1", "input-1"));
        assert_eq!(tasks.lock()["t1"].status, Status::InputRequired, "one request still pending");
        assert!(tasks.withdraw("t1", "input-2"));
        assert_eq!(tasks.lock()["t1"].status, Status::Working);
    }

    #[test]
    fn a_terminal_task_does_not_change_and_shows_its_outcome() {
        let tasks = Tasks::default();
        tasks.lock().insert("t1".into(), entry("alice", Status::Working));
        tasks.finish("t1", br#"{"code":-32603,"message":"boom"}"#.to_vec(), true);
        tasks.finish("t1", br#"{"content":[]}"#.to_vec(), false);
        tasks.set_message("t1", "too late");
        let shown = json(&detailed("t1", &tasks.lock()["t1"]));
        assert_eq!((shown["status"].clone(), shown["error"]["message"].clone()), ("failed".into(), "boom".into()));
        assert!(shown.get("result").is_none() && shown.get("statusMessage").is_none());
        let created = json(&envelope("t1", &tasks.lock()["t1"], "task"));
        assert_eq!(created["resultType"], "task");
        assert_eq!(
            (created["ttlMs"].clone(), created["pollIntervalMs"].clone()),
            (TTL_MS.into(), POLL_INTERVAL_MS.into())
        );
    }

    #[test]
    fn tasks_belong_to_their_owner_and_expire() {
        let tasks = Tasks::default();
        let mut old = entry("alice", Status::Completed);
        old.expires = Some(SystemTime::now() - Duration::from_secs(1));
        let mut running = entry("alice", Status::Working);
        running.created = SystemTime::now() - Duration::from_secs(86_400);
        tasks.lock().insert("running".into(), running);
        tasks.lock().insert("old".into(), old);
        tasks.lock().insert("t1".into(), entry("alice", Status::Working));
        let mut entries = tasks.lock();
        assert!(Tasks::owned(&mut entries, "bob", "t1").is_err(), "another owner's task is unknown to them");
        assert!(Tasks::owned(&mut entries, "alice", "t1").is_ok());
        Tasks::purge(&mut entries, SystemTime::now());
        assert!(!entries.contains_key("old"));
        assert!(entries.contains_key("running"), "a running task never expires");
    }

    #[test]
    fn an_owner_has_a_cap_on_running_tasks_and_finished_ones_make_room() {
        let mut entries = HashMap::new();
        for i in 0..MAX_TASKS_PER_OWNER {
            entries.insert(format!("r{i}"), entry("alice", Status::Working));
        }
        assert!(!Tasks::room_for(&mut entries, "alice"));
        assert!(Tasks::room_for(&mut entries, "bob"), "another owner is not affected");
        entries.retain(|_, e| e.owner != "alice");
        for i in 0..MAX_FINISHED_PER_OWNER {
            entries.insert(format!("d{i}"), entry("alice", Status::Completed));
        }
        assert!(Tasks::room_for(&mut entries, "alice"));
        assert_eq!(entries.len(), MAX_FINISHED_PER_OWNER - 1, "the oldest finished task made room");
    }
}
