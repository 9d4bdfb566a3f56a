//! A session (one stdio process, later one HTTP session), the calls in flight on it, and where replies go.

use crate::bus::{Bus, Notice, Receiver};
use crate::context::{RequestCtx, Transport};
use crate::engine::{Created, Done, InputRoundTrip, Journal, Listener, ResultFields, TaskLink};
use crate::error::{modern_code, CoreError};
use crate::jsonrpc::{self, RequestId};
use crate::protocol::{self, ProtocolVersion};
use crate::relay::Relay;
use crate::schema::CompiledSchema;
use crate::store::{SessionRecord, StoreError};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// What an outgoing message is: the answer to a request, or something sent along the way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutKind {
    Response,
    Notification,
    /// A server→client request (sampling, elicitation, roots, ping).
    Request,
}

/// The client's answer to a server→client request: the raw JSON of its `result` or of its `error`.
#[derive(Debug, PartialEq, Eq)]
pub enum ReplyOutcome {
    Result(Vec<u8>),
    Error(Vec<u8>),
}

/// Server→client requests waiting for an answer, per session, at most this many.
pub const MAX_PENDING_REQUESTS: usize = 1024;

/// Where a session's (or one request's) outgoing messages go: the stdio writer, an HTTP response, a batch.
pub trait Outbound: Send + Sync {
    /// `msg` is one complete JSON-RPC message without framing.
    fn send(&self, msg: Vec<u8>, kind: OutKind);
    /// A request that was expected to be answered will not be (it was cancelled).
    fn abandon(&self) {}
    /// Ends the transport stream carrying this request's messages without ending the request (SSE polling):
    /// the client reconnects and resumes. False where the transport has no such stream.
    fn close_stream(&self) -> bool {
        false
    }
    /// Whether this outbound delivers to the outbound at address `target` (is it, or wraps it, as a batch's
    /// collector wraps its POST's answer): which calls a closed connection leaves without a reader.
    fn delivers_to(&self, target: usize) -> bool {
        std::ptr::from_ref(self).cast::<()>() as usize == target
    }
}

/// The address `Outbound::delivers_to` compares with.
pub fn outbound_address(out: &Arc<dyn Outbound>) -> usize {
    Arc::as_ptr(out).cast::<()>() as usize
}

/// Receives the work that needs the embedder (the Python handlers). Called on I/O threads; must not block.
pub trait Dispatcher: Send + Sync {
    /// A validated tool call, with its arguments already filtered to what the handler accepts.
    fn call(&self, call: Arc<Call>, arguments: Value);
    /// The client cancelled a call that was handed to `call`; its response is already suppressed.
    fn cancel(&self, call: &Arc<Call>);
    /// The input side closed (stdin EOF): no more calls will arrive on this transport.
    fn closed(&self);
    /// The client answered the server→client request registered under `key` (see `Call::request`).
    fn reply(&self, key: u64, outcome: ReplyOutcome);
}

pub(crate) struct SessionState {
    pub version: Option<ProtocolVersion>,
    pub inflight: HashMap<RequestId, Arc<Call>>,
    /// Server→client requests awaiting the client's answer: our request id → the embedder's key.
    pub pending: HashMap<RequestId, u64>,
    pub next_request: u64,
    /// Resource URIs this session subscribed to.
    pub subscriptions: HashSet<String>,
    /// What the client declared in `initialize` (`sampling`, `elicitation`, `roots`, ...).
    pub client_capabilities: Arc<Map<String, Value>>,
    /// Open `subscriptions/listen` streams (2026-07-28), by the id of their request.
    pub listeners: HashMap<RequestId, Arc<Listener>>,
}

pub struct Session {
    pub(crate) out: Arc<dyn Outbound>,
    pub(crate) dispatcher: Arc<dyn Dispatcher>,
    state: Mutex<SessionState>,
    /// 0 = no `logging/setLevel` yet (everything is sent), otherwise `protocol::log_rank` of the level.
    pub(crate) log_rank: AtomicU8,
    /// What carries this session's messages.
    pub transport: Transport,
    pub(crate) task_table: Mutex<crate::tasks::TaskTable>,
    /// Set when other processes may serve this session too (see [`crate::relay`]).
    relay: OnceLock<Relay>,
    /// Who rate limits count this session's calls against when no principal is known (`session:<id>`,
    /// `address:<ip>`); unset for stdio (one client).
    client: OnceLock<Arc<str>>,
    /// Another process ended this shared session (`DELETE`): this copy is to be dropped.
    ended_elsewhere: AtomicBool,
}

impl Session {
    /// Names the client this session's calls count against for rate limits (once; later calls do nothing).
    pub fn set_client(&self, key: String) {
        let _ = self.client.set(key.into());
    }

    /// The client this session's calls count against, when a transport named one.
    pub fn client(&self) -> Option<&str> {
        self.client.get().map(|k| &**k)
    }

    pub fn new(out: Arc<dyn Outbound>, dispatcher: Arc<dyn Dispatcher>, transport: Transport) -> Arc<Session> {
        Arc::new(Session {
            out,
            dispatcher,
            transport,
            client: OnceLock::new(),
            state: Mutex::new(SessionState {
                version: None,
                inflight: HashMap::new(),
                pending: HashMap::new(),
                next_request: 1,
                subscriptions: HashSet::new(),
                client_capabilities: Arc::new(Map::new()),
                listeners: HashMap::new(),
            }),
            log_rank: AtomicU8::new(0),
            task_table: Mutex::new(crate::tasks::TaskTable::default()),
            relay: OnceLock::new(),
            ended_elsewhere: AtomicBool::new(false),
        })
    }

    /// Marks the session as shared with other processes under `session_id` on `bus`: its requests to the
    /// client get ids no other process uses, and answers to another process's requests are relayed there.
    pub(crate) fn share(&self, session_id: &str, bus: Arc<dyn Bus>, tag: Arc<str>, tasks: Option<Arc<Journal>>) {
        let _ = self.relay.set(Relay { session_id: session_id.to_owned(), bus, tag, tasks });
    }

    /// Whether another process ended this shared session.
    pub fn ended_elsewhere(&self) -> bool {
        self.ended_elsewhere.load(Ordering::Acquire)
    }

    /// How the session reaches other processes, when it is shared.
    pub(crate) fn relay(&self) -> Option<&Relay> {
        self.relay.get()
    }

    /// The id of the next request to the client.
    fn next_request_id(&self, state: &mut SessionState) -> RequestId {
        let n = state.next_request;
        state.next_request += 1;
        match self.relay.get() {
            Some(relay) => relay.request_id(n),
            None => RequestId::from_number(n),
        }
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, SessionState> {
        // A panic while holding this lock cannot leave the map half-updated, so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The negotiated protocol version, once `initialize` has been answered.
    pub fn version(&self) -> Option<ProtocolVersion> {
        self.state().version
    }

    pub(crate) fn set_log_rank(&self, rank: u8) {
        self.log_rank.store(rank, Ordering::Relaxed);
    }

    /// Number of calls handed to the dispatcher and not yet answered or cancelled.
    pub fn in_flight(&self) -> usize {
        self.state().inflight.len()
    }

    pub(crate) fn forget(&self, id: &RequestId) {
        self.state().inflight.remove(id);
    }

    /// Ends the `subscriptions/listen` stream opened by request `id` without an answer; false if none is open.
    pub(crate) fn cancel_listener(&self, id: &RequestId) -> bool {
        let listener = self.state().listeners.remove(id);
        listener.map(|l| l.cancel()).is_some()
    }

    /// Routes a client's response to the server→client request it answers. Unknown ids are ignored, except
    /// in a shared session, where another process's requests are relayed to it.
    pub(crate) fn resolve(&self, id: &RequestId, result: Option<&RawValue>, error: Option<&RawValue>) {
        if self.resolve_here(id, result.map(RawValue::get), error.map(RawValue::get)) {
            return;
        }
        if let Some(relay) = self.relay.get().filter(|r| r.asked_elsewhere(id)) {
            relay.relay_reply(id, result.map(RawValue::get), error.map(RawValue::get));
        }
    }

    /// Delivers the answer to one of this process's requests; false if it is not waiting for `id`.
    fn resolve_here(&self, id: &RequestId, result: Option<&str>, error: Option<&str>) -> bool {
        let Some(key) = self.state().pending.remove(id) else { return false };
        let outcome = match (result, error) {
            (Some(r), _) => ReplyOutcome::Result(r.as_bytes().to_vec()),
            (None, Some(e)) => ReplyOutcome::Error(e.as_bytes().to_vec()),
            (None, None) => ReplyOutcome::Error(br#"{"code":-32603,"message":"empty response"}"#.to_vec()),
        };
        self.dispatcher.reply(key, outcome);
        true
    }

    /// Cancels every call still running (the client went away where nobody can resume: a stateless request's
    /// stream closed; or the session ended); their responses are suppressed.
    pub(crate) fn cancel_all(&self) {
        let listeners: Vec<Arc<Listener>> = self.state().listeners.drain().map(|(_, l)| l).collect();
        for listener in listeners {
            listener.cancel();
        }
        let calls: Vec<Arc<Call>> = self.state().inflight.drain().map(|(_, call)| call).collect();
        for call in calls {
            if call.cancel() {
                self.dispatcher.cancel(&call);
            }
        }
    }

    /// Cancels the calls still running whose answers go to the outbound at `target` (see
    /// `Outbound::delivers_to`): the client went away where nobody can pick their answers up. Calls that became
    /// tasks are not the request's any more and go on. Returns how many were cancelled.
    pub fn cancel_delivering_to(&self, target: usize) -> usize {
        let calls: Vec<Arc<Call>> = {
            let mut state = self.state();
            let ids: Vec<RequestId> =
                state.inflight.iter().filter(|(_, c)| c.reply.delivers_to(target)).map(|(id, _)| id.clone()).collect();
            ids.iter().filter_map(|id| state.inflight.remove(id)).collect()
        };
        let mut cancelled = 0;
        for call in calls {
            if call.cancel() {
                self.dispatcher.cancel(&call);
                cancelled += 1;
            }
        }
        cancelled
    }

    /// What another process needs to serve this session (see [`crate::store`]); None before `initialize`.
    pub fn record(&self, id: &str) -> Option<SessionRecord> {
        let state = self.state();
        let version = state.version?;
        let rank = self.log_rank.load(Ordering::Relaxed);
        let mut subscriptions: Vec<String> = state.subscriptions.iter().cloned().collect();
        subscriptions.sort_unstable();
        Some(SessionRecord {
            id: id.to_owned(),
            version: version.as_str().to_owned(),
            client_capabilities: (*state.client_capabilities).clone(),
            log_level: protocol::LOG_LEVELS.get(usize::from(rank).wrapping_sub(1)).map(|l| (*l).to_owned()),
            subscriptions,
            principal: None,
        })
    }

    /// Takes on the state a record describes (a session another process created); a record naming no legacy
    /// version or an unknown log level is refused.
    pub fn restore(&self, record: &SessionRecord) -> Result<(), StoreError> {
        let version = ProtocolVersion::parse(&record.version)
            .filter(|v| v.is_legacy())
            .ok_or_else(|| StoreError::Corrupt(format!("session {}: version {:?}", record.id, record.version)))?;
        let rank = match &record.log_level {
            None => 0,
            Some(level) => protocol::log_rank(level)
                .ok_or_else(|| StoreError::Corrupt(format!("session {}: log level {level:?}", record.id)))?,
        };
        let mut state = self.state();
        state.version = Some(version);
        state.client_capabilities = Arc::new(record.client_capabilities.clone());
        state.subscriptions = record.subscriptions.iter().cloned().collect();
        drop(state);
        self.set_log_rank(rank);
        Ok(())
    }

    /// Server→client requests still waiting for an answer.
    pub fn pending_requests(&self) -> usize {
        self.state().pending.len()
    }
}

/// A legacy session hears list changes once initialized, and updates of the resources it subscribed to.
impl Receiver for Session {
    fn deliver(&self, notice: &Notice, message: &[u8]) -> bool {
        if let Notice::ClientReply { session, id, result, error } = notice {
            if self.relay.get().is_none_or(|r| r.session_id != *session) {
                return false;
            }
            let Ok(raw) = serde_json::from_str::<&RawValue>(id) else { return false };
            return RequestId::from_raw(raw)
                .is_some_and(|id| self.resolve_here(&id, result.as_deref(), error.as_deref()));
        }
        if let Notice::SessionEnded(id) = notice {
            if self.relay.get().is_none_or(|r| r.session_id != *id) {
                return false;
            }
            self.ended_elsewhere.store(true, Ordering::Release);
            return true;
        }
        if let Notice::CancelTask { owner, task_id } = notice {
            // `tasks/cancel` of one of this session's 2025-11-25 tasks, received by another process.
            if self.relay.get().is_none_or(|r| r.session_id != *owner) {
                return false;
            }
            return crate::tasks::cancel_here(self, task_id).is_ok();
        }
        if let Notice::SessionChanged(record) = notice {
            if self.relay.get().is_none_or(|r| r.session_id != record.id) {
                return false;
            }
            if let Err(e) = self.restore(record) {
                tracing::warn!(error = %e, "ignoring another process's unusable session state");
            }
            return true;
        }
        {
            let state = self.state();
            let wanted = state.version.is_some()
                && match notice {
                    Notice::ToolsChanged | Notice::PromptsChanged | Notice::ResourcesChanged => true,
                    Notice::ResourceUpdated(uri) => state.subscriptions.contains(uri),
                    // Task status is for stateless listeners; the notices between processes are handled above.
                    _ => false,
                };
            if !wanted {
                return false;
            }
        }
        self.out.send(message.to_vec(), OutKind::Notification);
        true
    }
}

/// One tool call in flight. The embedder answers it exactly once; later answers are ignored.
pub struct Call {
    pub id: RequestId,
    /// The embedder's handler for this request (a tool, resource, prompt or completion handler).
    pub handler_id: u32,
    progress_token: Option<Box<RawValue>>,
    /// What the request is handled under.
    pub ctx: RequestCtx,
    session: Arc<Session>,
    reply: Arc<dyn Outbound>,
    done: AtomicBool,
    /// The tool's output schema: structured results must conform.
    output: Option<Arc<CompiledSchema>>,
    /// What a stateless result carries besides its own fields (`resultType`, caching hints, the server's `_meta`).
    fields: Option<Arc<ResultFields>>,
    /// A stateless call's input-required round trip (the client's answers so far, and how to ask for more).
    round_trip: Option<InputRoundTrip>,
    /// Set when the call may become a task (tasks extension): once it is one, its outcome goes to the task.
    task: Option<TaskLink>,
}

impl Call {
    pub(crate) fn new(
        id: RequestId,
        handler_id: u32,
        progress_token: Option<Box<RawValue>>,
        ctx: RequestCtx,
        session: Arc<Session>,
        reply: Arc<dyn Outbound>,
    ) -> Call {
        Call {
            id,
            handler_id,
            progress_token,
            ctx,
            session,
            reply,
            done: AtomicBool::new(false),
            output: None,
            fields: None,
            round_trip: None,
            task: None,
        }
    }

    pub(crate) fn with_task(mut self, task: Option<TaskLink>) -> Call {
        self.task = task;
        self
    }

    /// The task this call runs as, once it is one.
    fn task_id(&self) -> Option<(&TaskLink, &str)> {
        self.task.as_ref().and_then(|t| t.id.get().map(|id| (t, id.as_str())))
    }

    /// Whether the call may still become a task (`start_task`).
    pub fn task_eligible(&self) -> bool {
        self.task.as_ref().is_some_and(|t| t.id.get().is_none()) && self.is_active()
    }

    /// Whether the tool requires running as a task.
    pub fn task_required(&self) -> bool {
        self.task.as_ref().is_some_and(|t| t.required)
    }

    /// Turns the call into a task: the client gets a `CreateTaskResult` now, and the call's outcome, progress
    /// messages and requests to the client go to the task from here on. Returns the task id.
    pub fn start_task(self: &Arc<Self>) -> Result<String, CoreError> {
        let Some(link) = self.task.as_ref().filter(|_| self.task_eligible()) else {
            return Err(CoreError::Unsupported("this call cannot become a task (or already is one)".into()));
        };
        // With a task store, the client hears of the task once the store holds it; if the store refuses it,
        // the client gets the error instead and the call is cancelled.
        let (reply, request_id, call, tasks) = (self.reply.clone(), self.id.clone(), self.clone(), link.tasks.clone());
        let on_stored = move |task_id: String, created: Vec<u8>| -> Done {
            Box::new(move |stored| match stored {
                Ok(()) => reply.send(jsonrpc::result_response(&request_id, &created), OutKind::Response),
                Err(e) => {
                    tasks.discard(&task_id);
                    let message = format!("the task could not be stored: {e}");
                    reply.send(
                        jsonrpc::error_response(Some(&request_id), jsonrpc::INTERNAL_ERROR, &message, None),
                        OutKind::Response,
                    );
                    call.cancel_task_call();
                }
            })
        };
        // No longer the request's call: closing its stream or ending its session does not cancel the task. Done
        // before the task exists: with a task store, the `CreateTaskResult` may reach the client (ending its
        // request, which cancels what the request still holds) before `create` even returns.
        self.session.forget(&self.id);
        let Some((id, created)) = link.tasks.create(&link.owner, self.clone(), on_stored) else {
            self.session.state().inflight.insert(self.id.clone(), self.clone());
            return Err(CoreError::Limit("too many tasks for this requestor; try again later".into()));
        };
        if link.id.set(id.clone()).is_err() {
            return Err(CoreError::Unsupported("this call is already a task".into()));
        }
        if let Created::Now(created) = created {
            self.reply.send(jsonrpc::result_response(&self.id, &created), OutKind::Response);
        }
        Ok(id)
    }

    /// Hands the client's answer to a request this call made (through its task) to the embedder.
    pub(crate) fn deliver_reply(&self, key: u64, outcome: ReplyOutcome) {
        self.session.dispatcher.reply(key, outcome);
    }

    /// Cancels a call that runs as a task (`tasks/cancel`).
    pub(crate) fn cancel_task_call(self: &Arc<Self>) {
        if self.cancel() {
            self.session.dispatcher.cancel(self);
        }
    }

    pub(crate) fn with_round_trip(mut self, round_trip: Option<InputRoundTrip>) -> Call {
        self.round_trip = round_trip;
        self
    }

    /// Whether the call can answer input-required (a stateless `tools/call`, `prompts/get` or `resources/read`).
    pub fn can_require_input(&self) -> bool {
        self.round_trip.is_some() && self.task_id().is_none()
    }

    /// The client's answer (JSON text) to the input request `key`, given on this retry or an earlier one.
    pub fn input_response(&self, key: &str, question: &[u8]) -> Option<String> {
        self.round_trip.as_ref().and_then(|r| r.answer(key, question))
    }

    /// Answers `resultType: "input_required"` asking `requests` (a JSON object of input requests) and sealing
    /// the answers under `keep` for the retry. Returns false if the call was already finished.
    pub fn respond_input_required(&self, requests: &[u8], keep: &[String]) -> Result<bool, CoreError> {
        let Some(round_trip) = &self.round_trip else {
            return Err(CoreError::Unsupported(
                "input-required results exist only for 2026-07-28 tools/call, prompts/get and resources/read".into(),
            ));
        };
        let result = round_trip.input_required(requests, keep)?;
        if !self.finish() {
            return Ok(false);
        }
        self.reply.send(jsonrpc::result_response(&self.id, &result), OutKind::Response);
        Ok(true)
    }

    pub(crate) fn with_result_fields(mut self, fields: Option<Arc<ResultFields>>) -> Call {
        self.fields = fields;
        self
    }

    pub(crate) fn with_output(mut self, output: Option<Arc<CompiledSchema>>) -> Call {
        self.output = output;
        self
    }

    /// False once answered or cancelled.
    pub fn is_active(&self) -> bool {
        !self.done.load(Ordering::Acquire)
    }

    /// Whether the handler is a tool with an `outputSchema` (its results must carry `structuredContent`).
    pub fn expects_structured(&self) -> bool {
        self.output.is_some()
    }

    /// Checks structured content (JSON bytes) against the tool's output schema; `Err` names each problem.
    pub fn check_output(&self, structured: &[u8]) -> Result<(), CoreError> {
        let Some(schema) = &self.output else { return Ok(()) };
        let value: Value = serde_json::from_slice(structured)
            .map_err(|e| CoreError::Result(format!("structured content is not JSON: {e}")))?;
        match schema.check(&value) {
            None => Ok(()),
            Some(problems) => {
                Err(CoreError::Result(format!("structured content does not match the tool's outputSchema: {problems}")))
            }
        }
    }

    /// Sends a notification on the session (not tied to this call's stream), e.g.
    /// `notifications/elicitation/complete`. `params` is JSON bytes.
    pub fn notify_session(&self, method: &str, params: &[u8]) {
        if self.task_id().is_some() {
            return; // a task's client is not listening on this request's transport
        }
        self.session.out.send(jsonrpc::notification(method, params), OutKind::Notification);
    }

    /// The client's declared capability `name` as JSON text, if it declared one.
    pub fn client_capability(&self, name: &str) -> Option<String> {
        self.ctx.client_capability(name).map(Value::to_string)
    }

    /// Who made the request, when the transport authenticated it.
    pub fn principal(&self) -> Option<&Arc<crate::context::Principal>> {
        self.ctx.principal.as_ref()
    }

    /// The protocol version the request is handled under.
    pub fn protocol_version(&self) -> ProtocolVersion {
        self.ctx.version
    }

    /// The request's `_meta.progressToken` as JSON text (string or integer), if it sent one.
    pub fn progress_token(&self) -> Option<&str> {
        self.progress_token.as_deref().map(RawValue::get)
    }

    fn finish(&self) -> bool {
        if self.done.swap(true, Ordering::AcqRel) {
            return false;
        }
        // A task's request id was freed when the task started; the client may have reused it since.
        if self.task_id().is_none() {
            self.session.forget(&self.id);
        }
        true
    }

    /// Marks the call cancelled; true if it was still active.
    pub(crate) fn cancel(&self) -> bool {
        if self.done.swap(true, Ordering::AcqRel) {
            return false;
        }
        self.reply.abandon();
        true
    }

    /// Answers with a result object given as JSON bytes. Returns false if the call was already finished.
    pub fn respond(&self, result: &[u8]) -> bool {
        if !self.finish() {
            return false;
        }
        if let Some((link, id)) = self.task_id() {
            let shaped = self.fields.as_ref().map_or_else(|| result.to_vec(), |f| f.shape(result));
            link.tasks.finish(id, shaped, false);
            return true;
        }
        // Only stateless calls carry fields (see `Engine::dispatch`).
        if let Some(fields) = &self.fields {
            self.reply.send(fields.response(&self.id, result), OutKind::Response);
        } else {
            self.reply.send(jsonrpc::result_response(&self.id, result), OutKind::Response);
        }
        true
    }

    /// Answers with a JSON-RPC error.
    pub fn respond_error(&self, code: i32, message: &str) -> bool {
        self.respond_error_data(code, message, None)
    }

    /// Answers with a JSON-RPC error carrying `data` (JSON text).
    pub fn respond_error_data(&self, code: i32, message: &str, data: Option<&str>) -> bool {
        if !self.finish() {
            return false;
        }
        let code = if self.ctx.is_modern() { modern_code(code) } else { code };
        if let Some((link, id)) = self.task_id() {
            let mut error = format!("{{\"code\":{code},\"message\":").into_bytes();
            jsonrpc::push_json_string(&mut error, message);
            if let Some(data) = data {
                error.extend_from_slice(b",\"data\":");
                error.extend_from_slice(data.as_bytes());
            }
            error.push(b'}');
            link.tasks.finish(id, error, true);
            return true;
        }
        self.reply.send(jsonrpc::error_response(Some(&self.id), code, message, data), OutKind::Response);
        true
    }

    /// Sends a server→client request (e.g. `sampling/createMessage`) on this call's stream; the client's answer
    /// reaches `Dispatcher::reply` with `key`. Returns the request's id (JSON text).
    pub fn request(&self, method: &str, params: &[u8], key: u64) -> Result<String, CoreError> {
        if !self.is_active() {
            return Err(CoreError::Finished);
        }
        if let Some((link, id)) = self.task_id() {
            let asked = link.tasks.ask(id, method, params, key).ok_or(CoreError::Finished)?;
            let mut text = Vec::with_capacity(asked.len() + 2);
            jsonrpc::push_json_string(&mut text, &asked);
            return Ok(String::from_utf8(text).unwrap_or_default());
        }
        if self.ctx.is_modern() {
            // 2026-07-28 servers never send requests; input-required round trips will carry them.
            return Err(CoreError::Unsupported(format!(
                "{method}: asking the client during a 2026-07-28 request (an input-required round trip) is not \
                 supported yet; the client can connect with the initialize handshake instead"
            )));
        }
        let id = {
            let mut state = self.session.state();
            if state.pending.len() >= MAX_PENDING_REQUESTS {
                return Err(CoreError::Limit(format!(
                    "too many requests to the client are waiting (limit {MAX_PENDING_REQUESTS})"
                )));
            }
            let id = self.session.next_request_id(&mut state);
            state.pending.insert(id.clone(), key);
            id
        };
        let mut msg = Vec::with_capacity(64 + method.len() + params.len());
        msg.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
        msg.extend_from_slice(id.json().as_bytes());
        msg.extend_from_slice(b",\"method\":");
        jsonrpc::push_json_string(&mut msg, method);
        msg.extend_from_slice(b",\"params\":");
        msg.extend_from_slice(params);
        msg.push(b'}');
        self.reply.send(msg, OutKind::Request);
        Ok(id.json().to_owned())
    }

    /// Gives up on a server→client request (timeout): forgets it and tells the client with
    /// `notifications/cancelled`. False if it was already answered.
    pub fn cancel_request(&self, id: &str, reason: &str) -> bool {
        if let Some((link, task)) = self.task_id() {
            return serde_json::from_str::<String>(id).is_ok_and(|key| link.tasks.withdraw(task, &key));
        }
        let Ok(raw) = serde_json::from_str::<&RawValue>(id) else { return false };
        let Some(id) = RequestId::from_raw(raw) else { return false };
        if self.session.state().pending.remove(&id).is_none() {
            return false;
        }
        let mut params = Vec::with_capacity(48 + reason.len());
        params.extend_from_slice(b"{\"requestId\":");
        params.extend_from_slice(id.json().as_bytes());
        params.extend_from_slice(b",\"reason\":");
        jsonrpc::push_json_string(&mut params, reason);
        params.push(b'}');
        self.reply.send(jsonrpc::notification("notifications/cancelled", &params), OutKind::Notification);
        true
    }

    /// Closes the stream that carries this call's messages, if the transport has one (SSE polling).
    pub fn close_stream(&self) -> bool {
        self.is_active() && self.reply.close_stream()
    }

    /// Sends `notifications/progress` if the request asked for progress and is still active.
    pub fn progress(&self, progress: f64, total: Option<f64>, message: Option<&str>) -> bool {
        if let Some((link, id)) = self.task_id() {
            if let Some(message) = message {
                link.tasks.set_message(id, message);
            }
            return false;
        }
        let Some(token) = self.progress_token.as_deref() else {
            return false;
        };
        if !self.is_active() || !progress.is_finite() {
            return false;
        }
        let mut params = Vec::with_capacity(96);
        params.extend_from_slice(b"{\"progressToken\":");
        params.extend_from_slice(token.get().as_bytes());
        params.extend_from_slice(b",\"progress\":");
        push_number(&mut params, progress);
        if let Some(total) = total.filter(|t| t.is_finite()) {
            params.extend_from_slice(b",\"total\":");
            push_number(&mut params, total);
        }
        if let Some(message) = message {
            params.extend_from_slice(b",\"message\":");
            jsonrpc::push_json_string(&mut params, message);
        }
        params.push(b'}');
        self.reply.send(jsonrpc::notification("notifications/progress", &params), OutKind::Notification);
        true
    }

    /// Sends `notifications/message` if the session's level lets `level` through. `data` is JSON bytes.
    pub fn log(&self, level: &str, logger: Option<&str>, data: &[u8]) -> Result<bool, CoreError> {
        let rank =
            protocol::log_rank(level).ok_or_else(|| CoreError::Argument(format!("unknown log level {level:?}")))?;
        if rank < self.ctx.log_rank(&self.session) || !self.is_active() || self.task_id().is_some() {
            return Ok(false);
        }
        let mut params = Vec::with_capacity(48 + data.len());
        params.extend_from_slice(b"{\"level\":\"");
        params.extend_from_slice(level.as_bytes());
        params.push(b'"');
        if let Some(logger) = logger {
            params.extend_from_slice(b",\"logger\":");
            jsonrpc::push_json_string(&mut params, logger);
        }
        params.extend_from_slice(b",\"data\":");
        params.extend_from_slice(data);
        params.push(b'}');
        self.reply.send(jsonrpc::notification("notifications/message", &params), OutKind::Notification);
        Ok(true)
    }
}

/// Integers print without a fraction (`50`, not `50.0`).
fn push_number(out: &mut Vec<u8>, n: f64) {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        out.extend_from_slice((n as i64).to_string().as_bytes());
    } else {
        out.extend_from_slice(n.to_string().as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::push_number;

    #[test]
    fn numbers() {
        let mut v = Vec::new();
        push_number(&mut v, 50.0);
        v.push(b' ');
        push_number(&mut v, 0.25);
        assert_eq!(v, b"50 0.25");
    }
}
