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
//!
//! Every change is published on the bus as a [`Notice::TaskStatus`] (the `subscriptions/listen` streams that
//! named the task turn it into `notifications/tasks`) and, when a [`TaskStore`] is attached, written to it in
//! order ([`super::task_journal`]); what this process does not hold is looked up there ([`super::task_remote`]).

use super::table::Req;
use super::task_journal::{Done, Journal};
use super::{task_remote, Engine};
use crate::bus::{Bus, Notice};
use crate::error::McpError;
use crate::jsonrpc::push_json_string;
use crate::protocol::MISSING_REQUIRED_CLIENT_CAPABILITY;
use crate::session::{Call, ReplyOutcome};
use crate::store::{TaskRecord, TaskStore};
use crate::tasks::iso8601;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime};

pub const EXTENSION: &str = "io.modelcontextprotocol/tasks";
pub const TTL_MS: u64 = 10 * 60 * 1000;
pub const POLL_INTERVAL_MS: u64 = 500;
/// Tasks an owner may have running at once.
pub const MAX_TASKS_PER_OWNER: usize = 1000;
/// Finished tasks kept per owner (the oldest go first when there are more, before their TTL).
pub const MAX_FINISHED_PER_OWNER: usize = 10_000;
/// How long a task store keeps the record of a running task after its last change (a running task never
/// expires here; the store's copy outlives a process that died while running it by this much).
pub const RUNNING_KEEP: Duration = Duration::from_secs(24 * 60 * 60);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Status {
    Working,
    InputRequired,
    Completed,
    Failed,
    Cancelled,
}

impl Status {
    pub(super) fn name(self) -> &'static str {
        match self {
            Status::Working => "working",
            Status::InputRequired => "input_required",
            Status::Completed => "completed",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }

    pub(super) fn is_terminal(self) -> bool {
        matches!(self, Status::Completed | Status::Failed | Status::Cancelled)
    }
}

pub(super) struct Entry {
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

/// The tasks of one engine: the ones it runs, the bus their changes are published on, and the store they
/// are written to when one is attached.
pub struct Tasks {
    entries: Mutex<HashMap<String, Entry>>,
    bus: Arc<dyn Bus>,
    journal: OnceLock<Arc<Journal>>,
}

/// How a new task's `CreateTaskResult` reaches the client: at once, or once the store holds the task.
pub(crate) enum Created {
    Now(Vec<u8>),
    WhenStored,
}

fn new_id() -> Option<String> {
    let mut raw = [0u8; 16];
    getrandom::fill(&mut raw).ok()?;
    Some(raw.iter().map(|b| format!("{b:02x}")).collect())
}

impl Tasks {
    pub(crate) fn new(bus: Arc<dyn Bus>) -> Tasks {
        Tasks { entries: Mutex::new(HashMap::new()), bus, journal: OnceLock::new() }
    }

    /// Writes every task change to `store` from now on, with the writer on `runtime`; false if one was
    /// attached already.
    pub(crate) fn attach_store(&self, store: Arc<dyn TaskStore>, runtime: tokio::runtime::Handle) -> bool {
        self.journal.set(Arc::new(Journal::start(store, runtime))).is_ok()
    }

    pub(crate) fn journal(&self) -> Option<&Arc<Journal>> {
        self.journal.get()
    }

    pub(super) fn bus(&self) -> &Arc<dyn Bus> {
        &self.bus
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A change of task `id` (made under the lock): written to the store in order, and the notice to publish
    /// once the lock is released.
    pub(super) fn changed(&self, id: &str, e: &Entry, done: Option<Done>) -> Notice {
        if let Some(journal) = self.journal.get() {
            let keep = if e.status.is_terminal() { Duration::from_millis(TTL_MS) } else { RUNNING_KEEP };
            journal.write(record(id, e), keep, done);
        }
        let detail = String::from_utf8(detailed(id, e, None)).unwrap_or_default();
        Notice::TaskStatus { owner: e.owner.clone(), task_id: id.to_owned(), detail }
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

    /// Creates a working task for `call`; None when the owner holds too many or there is no randomness. With
    /// a store, the `CreateTaskResult` waits until the store holds the task: `on_stored(id, created)` gives what
    /// to do with the store's answer.
    pub(crate) fn create(
        &self,
        owner: &str,
        call: Arc<Call>,
        on_stored: impl FnOnce(String, Vec<u8>) -> Done,
    ) -> Option<(String, Created)> {
        let now = SystemTime::now();
        let (id, created, notice) = {
            let mut entries = self.lock();
            Self::purge(&mut entries, now);
            if !Self::room_for(&mut entries, owner) {
                return None;
            }
            let id = new_id()?;
            let entry = Entry::new(owner, Status::Working, Some(call));
            let bytes = envelope(&id, &entry, Some("task"));
            let (created, done) = match self.journal.get() {
                Some(_) => (Created::WhenStored, Some(on_stored(id.clone(), bytes))),
                None => (Created::Now(bytes), None),
            };
            let notice = self.changed(&id, &entry, done);
            entries.insert(id.clone(), entry);
            (id, created, notice)
        };
        self.bus.publish(notice);
        Some((id, created))
    }

    /// Forgets a task that never reached its client (the store refused it).
    pub(crate) fn discard(&self, id: &str) {
        self.lock().remove(id);
    }

    fn update<F: FnOnce(&mut Entry)>(&self, id: &str, f: F) {
        let notice = {
            let mut entries = self.lock();
            let Some(entry) = entries.get_mut(id).filter(|e| !e.status.is_terminal()) else { return };
            f(entry);
            entry.updated = SystemTime::now();
            self.changed(id, entry, None)
        };
        self.bus.publish(notice);
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

    /// `owner`'s task `id`, if this process holds it.
    fn held<'a>(entries: &'a HashMap<String, Entry>, owner: &str, id: &str) -> Option<&'a Entry> {
        entries.get(id).filter(|e| e.owner == owner)
    }

    /// `tasks/update`'s work on a task this process runs: the answers to its pending requests go to its
    /// call (unknown or already answered keys are ignored). False if `owner` has no such task here.
    pub(super) fn answer_inputs(&self, owner: &str, id: &str, responses: Map<String, Value>) -> bool {
        let (call, answered, notice) = {
            let mut entries = self.lock();
            let Some(entry) = entries.get_mut(id).filter(|e| e.owner == owner) else { return false };
            let mut answered = Vec::new();
            for (key, value) in responses {
                if let Some((_, reply_key)) = entry.pending.remove(&key) {
                    answered.push((reply_key, value));
                }
            }
            if answered.is_empty() {
                return true;
            }
            entry.updated = SystemTime::now();
            if entry.pending.is_empty() && entry.status == Status::InputRequired {
                entry.status = Status::Working;
            }
            (entry.call.clone(), answered, self.changed(id, entry, None))
        };
        self.bus.publish(notice);
        if let Some(call) = call {
            for (key, value) in answered {
                call.deliver_reply(key, ReplyOutcome::Result(value.to_string().into_bytes()));
            }
        }
        true
    }

    /// `tasks/cancel`'s work on a task this process runs (acknowledged even when already terminal:
    /// cancellation is cooperative). False if `owner` has no such task here.
    pub(super) fn cancel(&self, owner: &str, id: &str) -> bool {
        let (call, notice) = {
            let mut entries = self.lock();
            let Some(entry) = entries.get_mut(id).filter(|e| e.owner == owner) else { return false };
            if entry.status.is_terminal() {
                return true;
            }
            entry.status = Status::Cancelled;
            entry.updated = SystemTime::now();
            entry.expires = Some(entry.updated + Duration::from_millis(TTL_MS));
            entry.pending.clear();
            (entry.call.take(), self.changed(id, entry, None))
        };
        self.bus.publish(notice);
        if let Some(call) = call {
            call.cancel_task_call();
        }
        true
    }
}

/// -32602 for a task the requestor does not have (unknown, expired, or another principal's: the same answer,
/// so a task id cannot be probed).
pub(super) fn unknown_task(id: &str) -> McpError {
    McpError::invalid_params(format!("Invalid params: unknown taskId {id:?}"))
}

/// What a task store keeps of a task: what any process needs to answer `tasks/get`.
fn record(id: &str, e: &Entry) -> TaskRecord {
    let text = |bytes: &Vec<u8>| String::from_utf8_lossy(bytes).into_owned();
    TaskRecord {
        task_id: id.to_owned(),
        owner: e.owner.clone(),
        status: e.status.name().to_owned(),
        status_message: e.message.clone(),
        created_at: iso8601(e.created),
        last_updated_at: iso8601(e.updated),
        ttl_ms: TTL_MS,
        outcome: e.outcome.as_ref().map(text),
        input_requests: (e.status == Status::InputRequired).then(|| text(&input_requests(e))),
    }
}

/// The pending requests as the `inputRequests` object.
fn input_requests(e: &Entry) -> Vec<u8> {
    let mut out = vec![b'{'];
    for (i, (key, (request, _))) in e.pending.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_json_string(&mut out, key);
        out.push(b':');
        out.extend_from_slice(request);
    }
    out.push(b'}');
    out
}

/// The fields of a task as its answers show it, whether held here or read back from a store.
pub(super) struct TaskView<'a> {
    pub id: &'a str,
    pub status: &'a str,
    pub created: &'a str,
    pub updated: &'a str,
    pub message: Option<&'a str>,
    /// The result (completed), error (failed) or `inputRequests` (input_required), as JSON.
    pub inlined: Option<(&'static str, &'a [u8])>,
}

impl TaskView<'_> {
    /// `CreateTaskResult` (`resultType` "task"), `tasks/get`'s `DetailedTask` (`resultType` "complete", with
    /// what is inlined), or a notification's `DetailedTask` (no `resultType`).
    pub(super) fn encode(&self, result_type: Option<&str>, inline: bool) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.push(b'{');
        if let Some(kind) = result_type {
            out.extend_from_slice(format!(r#""resultType":"{kind}","#).as_bytes());
        }
        out.extend_from_slice(
            format!(
                r#""taskId":"{}","status":"{}","createdAt":"{}","lastUpdatedAt":"{}","ttlMs":{TTL_MS},"pollIntervalMs":{POLL_INTERVAL_MS}"#,
                self.id, self.status, self.created, self.updated
            )
            .as_bytes(),
        );
        if let Some(message) = self.message {
            out.extend_from_slice(b",\"statusMessage\":");
            push_json_string(&mut out, message);
        }
        if let Some((key, value)) = self.inlined.filter(|_| inline) {
            out.extend_from_slice(format!(",\"{key}\":").as_bytes());
            out.extend_from_slice(value);
        }
        out.push(b'}');
        out
    }
}

/// `CreateTaskResult` (`result_type` "task").
fn envelope(id: &str, e: &Entry, result_type: Option<&str>) -> Vec<u8> {
    view(id, e, &iso8601(e.created), &iso8601(e.updated), None).encode(result_type, false)
}

fn view<'a>(id: &'a str, e: &'a Entry, created: &'a str, updated: &'a str, pending: Option<&'a [u8]>) -> TaskView<'a> {
    let inlined = match (e.status, &e.outcome) {
        (Status::Completed, Some(result)) => Some(("result", result.as_slice())),
        (Status::Failed, Some(error)) => Some(("error", error.as_slice())),
        (Status::InputRequired, _) => pending.map(|p| ("inputRequests", p)),
        _ => None,
    };
    TaskView { id, status: e.status.name(), created, updated, message: e.message.as_deref(), inlined }
}

/// `tasks/get`'s answer (`result_type` "complete") or a notification's task (None): the task, with the result
/// (completed), error (failed) or input requests inlined.
fn detailed(id: &str, e: &Entry, result_type: Option<&str>) -> Vec<u8> {
    let pending = input_requests(e);
    view(id, e, &iso8601(e.created), &iso8601(e.updated), Some(&pending)).encode(result_type, true)
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
    let local = {
        let mut entries = tasks.lock();
        Tasks::purge(&mut entries, SystemTime::now());
        Tasks::held(&entries, &owner, &p.task_id).map(|e| detailed(&p.task_id, e, Some("complete")))
    };
    let Some(detail) = local else {
        // Not a task of this process: the store knows whether it exists, and the bus reaches the one that runs it.
        return match tasks.journal() {
            Some(journal) => {
                task_remote::request(engine, req, journal, owner, p.task_id.into_owned(), p.input_responses);
                Ok(())
            }
            None => Err(unknown_task(&p.task_id)),
        };
    };
    let held = match req.method {
        "tasks/get" => {
            req.reply.send(crate::jsonrpc::result_response(req.id, &detail), crate::session::OutKind::Response);
            return Ok(());
        }
        "tasks/update" => tasks.answer_inputs(&owner, &p.task_id, p.input_responses.unwrap_or_default()),
        _ => tasks.cancel(&owner, &p.task_id),
    };
    if !held {
        return Err(unknown_task(&p.task_id)); // it ended and expired in between
    }
    req.answer(b"{}");
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
        let tasks = Tasks::new(crate::bus::LocalBus::new());
        tasks.lock().insert("t1".into(), entry("alice", Status::Working));
        let first = tasks.ask("t1", "elicitation/create", br#"{"message":"ok?"}"#, 7);
        let second = tasks.ask("t1", "roots/list", b"{}", 8);
        assert_eq!((first.as_deref(), second.as_deref()), (Some("input-1"), Some("input-2")));
        let shown = json(&detailed("t1", &tasks.lock()["t1"], Some("complete")));
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
        let tasks = Tasks::new(crate::bus::LocalBus::new());
        tasks.lock().insert("t1".into(), entry("alice", Status::Working));
        tasks.finish("t1", br#"{"code":-32603,"message":"boom"}"#.to_vec(), true);
        tasks.finish("t1", br#"{"content":[]}"#.to_vec(), false);
        tasks.set_message("t1", "too late");
        let shown = json(&detailed("t1", &tasks.lock()["t1"], Some("complete")));
        assert_eq!((shown["status"].clone(), shown["error"]["message"].clone()), ("failed".into(), "boom".into()));
        assert!(shown.get("result").is_none() && shown.get("statusMessage").is_none());
        let created = json(&envelope("t1", &tasks.lock()["t1"], Some("task")));
        assert_eq!(created["resultType"], "task");
        assert_eq!(
            (created["ttlMs"].clone(), created["pollIntervalMs"].clone()),
            (TTL_MS.into(), POLL_INTERVAL_MS.into())
        );
    }

    #[test]
    fn tasks_belong_to_their_owner_and_expire() {
        let tasks = Tasks::new(crate::bus::LocalBus::new());
        let mut old = entry("alice", Status::Completed);
        old.expires = Some(SystemTime::now() - Duration::from_secs(1));
        let mut running = entry("alice", Status::Working);
        running.created = SystemTime::now() - Duration::from_secs(86_400);
        tasks.lock().insert("running".into(), running);
        tasks.lock().insert("old".into(), old);
        tasks.lock().insert("t1".into(), entry("alice", Status::Working));
        let mut entries = tasks.lock();
        assert!(Tasks::held(&entries, "bob", "t1").is_none(), "another owner's task is unknown to them");
        assert!(Tasks::held(&entries, "alice", "t1").is_some());
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
