//! The protocol engine: classifies each message, answers every built-in method and every protocol error itself,
//! and hands validated tool calls to the dispatcher. Transport-independent.

use crate::jsonrpc::{self, Frame, Message, RequestId, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND};
use crate::protocol::{self, Feature, ProtocolVersion};
use crate::registry::{ListKind, Registry, TaskSupport, Tool};
use crate::schema::CompiledSchema;
use crate::session::{Call, OutKind, Outbound, Session};
use crate::tasks;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};

/// Static facts about the server, fixed at construction.
pub struct ServerConfig {
    /// The `Implementation` object sent as `serverInfo` (name, version, title, ...).
    pub server_info: Value,
    pub instructions: Option<String>,
    /// Tools per `tools/list` page.
    pub page_size: usize,
}

pub struct Engine {
    config: ServerConfig,
    registry: RwLock<Arc<Registry>>,
    /// Live sessions, for notifications that go to every client (list changes, resource updates).
    sessions: Mutex<Vec<Weak<Session>>>,
}

#[derive(Deserialize)]
struct InitializeParams<'a> {
    #[serde(rename = "protocolVersion", borrow)]
    protocol_version: Cow<'a, str>,
    #[serde(default)]
    capabilities: Option<Map<String, Value>>,
}

#[derive(Deserialize, Default)]
pub(crate) struct ListParams<'a> {
    #[serde(borrow, default)]
    pub(crate) cursor: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct CallParams<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(default)]
    arguments: Option<Value>,
    #[serde(rename = "_meta", borrow, default)]
    meta: Option<CallMeta<'a>>,
    #[serde(default)]
    task: Option<TaskParams>,
}

#[derive(Deserialize)]
struct TaskParams {
    #[serde(default)]
    ttl: Option<u64>,
}

#[derive(Deserialize)]
struct CallMeta<'a> {
    #[serde(rename = "progressToken", borrow, default)]
    progress_token: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct SetLevelParams<'a> {
    #[serde(borrow)]
    level: Cow<'a, str>,
}

#[derive(Deserialize)]
struct CancelledParams<'a> {
    #[serde(rename = "requestId", borrow)]
    request_id: &'a RawValue,
}

/// Deserializes `params`, treating absent params as `{}`.
pub(crate) fn params<'a, T: Deserialize<'a>>(raw: Option<&'a RawValue>) -> Result<T, String> {
    serde_json::from_str(raw.map_or("{}", RawValue::get)).map_err(|e| e.to_string())
}

impl Engine {
    pub fn new(config: ServerConfig) -> Engine {
        let registry = Registry::new(config.page_size);
        Engine { config, registry: RwLock::new(Arc::new(registry)), sessions: Mutex::new(Vec::new()) }
    }

    pub(crate) fn page_size(&self) -> usize {
        self.config.page_size
    }

    /// The current registry snapshot.
    pub fn registry(&self) -> Arc<Registry> {
        self.registry.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Applies a registry change; when `kind` is given and something changed, clients are told the list changed.
    pub(crate) fn update_registry<F: FnOnce(&Registry) -> Option<Registry>>(
        &self,
        kind: Option<ListKind>,
        f: F,
    ) -> bool {
        let changed = {
            let mut guard = self.registry.write().unwrap_or_else(|p| p.into_inner());
            match f(&guard) {
                Some(next) => {
                    *guard = Arc::new(next);
                    true
                }
                None => false,
            }
        };
        if let (true, Some(kind)) = (changed, kind) {
            let method = match kind {
                ListKind::Tools => "notifications/tools/list_changed",
                ListKind::Resources => "notifications/resources/list_changed",
                ListKind::Prompts => "notifications/prompts/list_changed",
            };
            self.broadcast(|_| true, &jsonrpc::notification(method, b"{}"));
        }
        changed
    }

    pub fn add_tool(&self, tool: Tool) {
        self.update_registry(Some(ListKind::Tools), |r| Some(r.with_tool(tool)));
    }

    pub fn remove_tool(&self, name: &str) -> bool {
        self.update_registry(Some(ListKind::Tools), |r| r.without_tool(name))
    }

    /// Tracks a session for broadcasts (list changes, resource updates). Transports call it once per session.
    pub fn register_session(&self, session: &Arc<Session>) {
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        // NOTE: pruning ended sessions on every registration made opening n sessions O(n²); in batches it is
        // amortised O(1), and at most 256 dead entries wait for the next prune (or broadcast).
        if sessions.len() % 256 == 255 {
            sessions.retain(|w| w.strong_count() > 0);
        }
        sessions.push(Arc::downgrade(session));
    }

    /// Sends `msg` to every initialized session for which `select` holds.
    pub(crate) fn broadcast<F: Fn(&Session) -> bool>(&self, select: F, msg: &[u8]) -> usize {
        let live: Vec<Arc<Session>> = {
            let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
            sessions.retain(|w| w.strong_count() > 0);
            sessions.iter().filter_map(Weak::upgrade).collect()
        };
        let mut sent = 0;
        for session in live.iter().filter(|s| s.version().is_some() && select(s)) {
            session.out.send(msg.to_vec(), OutKind::Notification);
            sent += 1;
        }
        sent
    }

    /// Handles one framed input (a line) on `session`, replying through the session's own outbound.
    pub fn handle(&self, session: &Arc<Session>, input: &[u8]) -> bool {
        self.handle_reply(session, input, &session.out)
    }

    /// Handles one input (a line or a request body) on `session`; replies and request-scoped messages go to
    /// `reply`. Returns whether a response was or will be sent through `reply` (false for notifications and
    /// responses, which need none). Nothing here blocks on the embedder.
    pub fn handle_reply(&self, session: &Arc<Session>, input: &[u8], reply: &Arc<dyn Outbound>) -> bool {
        match jsonrpc::split(input) {
            Err(rejection) => {
                reply.send(rejection.encode(), OutKind::Response);
                true
            }
            Ok(Frame::Single(raw)) => self.handle_one(session, raw, reply),
            Ok(Frame::Batch(items)) => self.handle_batch(session, items, reply),
        }
    }

    fn handle_batch(&self, session: &Arc<Session>, items: Vec<&RawValue>, reply: &Arc<dyn Outbound>) -> bool {
        if !session.version().is_some_and(|v| v.supports(Feature::Batches)) {
            let msg = "Invalid Request: JSON-RPC batches are only accepted on 2025-03-26 sessions";
            reply.send(jsonrpc::error_response(None, INVALID_REQUEST, msg, None), OutKind::Response);
            return true;
        }
        if items.is_empty() {
            let msg = "Invalid Request: empty batch";
            reply.send(jsonrpc::error_response(None, INVALID_REQUEST, msg, None), OutKind::Response);
            return true;
        }
        let batch = Arc::new(BatchReply::new(items.len(), reply.clone()));
        let collector: Arc<dyn Outbound> = batch.clone();
        for item in items {
            if !self.handle_one(session, item, &collector) {
                collector.abandon();
            }
        }
        batch.expects_response()
    }

    /// Returns whether a response to this message was (or will be) sent through `reply`.
    fn handle_one(&self, session: &Arc<Session>, raw: &RawValue, reply: &Arc<dyn Outbound>) -> bool {
        match jsonrpc::classify(raw) {
            Err(rejection) => {
                reply.send(rejection.encode(), OutKind::Response);
                true
            }
            Ok(Message::Request { id, method, params }) => {
                self.request(session, id, &method, params, reply);
                true
            }
            Ok(Message::Notification { method, params }) => {
                self.notification(session, &method, params);
                false
            }
            Ok(Message::Response { id, result, error }) => {
                session.resolve(&id, result, error);
                false
            }
        }
    }

    fn request(
        &self,
        session: &Arc<Session>,
        id: RequestId,
        method: &str,
        raw: Option<&RawValue>,
        reply: &Arc<dyn Outbound>,
    ) {
        let answer = |result: &[u8]| reply.send(jsonrpc::result_response(&id, result), OutKind::Response);
        let fail =
            |code: i32, msg: &str| reply.send(jsonrpc::error_response(Some(&id), code, msg, None), OutKind::Response);

        if method == "initialize" {
            return match params::<InitializeParams<'_>>(raw) {
                Ok(p) => match self.initialize(session, &p.protocol_version, p.capabilities) {
                    Ok(result) => answer(&result),
                    Err(msg) => fail(INVALID_REQUEST, &msg),
                },
                Err(e) => fail(INVALID_PARAMS, &format!("Invalid params for initialize: {e}")),
            };
        }
        if method == "ping" {
            return answer(b"{}");
        }
        if session.version().is_none() {
            return fail(INVALID_REQUEST, "Invalid Request: the session is not initialized; send initialize first");
        }
        match method {
            "tools/list" => match params::<ListParams<'_>>(raw) {
                Ok(p) => match self.registry().page(p.cursor.as_deref()) {
                    Some(page) => answer(page),
                    None => fail(INVALID_PARAMS, "Invalid params: unknown cursor"),
                },
                Err(e) => fail(INVALID_PARAMS, &format!("Invalid params for tools/list: {e}")),
            },
            "tools/call" => self.call_tool(session, id.clone(), raw, reply),
            "logging/setLevel" => match params::<SetLevelParams<'_>>(raw) {
                Ok(p) => match protocol::log_rank(&p.level) {
                    Some(rank) => {
                        session.set_log_rank(rank);
                        answer(b"{}")
                    }
                    None => fail(INVALID_PARAMS, &format!("Invalid params: unknown log level {:?}", p.level)),
                },
                Err(e) => fail(INVALID_PARAMS, &format!("Invalid params for logging/setLevel: {e}")),
            },
            _ => {
                if !self.surface_request(session, &id, method, raw, reply) {
                    fail(METHOD_NOT_FOUND, &format!("Method not found: {method}"));
                }
            }
        }
    }

    fn initialize(
        &self,
        session: &Session,
        requested: &str,
        capabilities: Option<Map<String, Value>>,
    ) -> Result<Vec<u8>, String> {
        let version = ProtocolVersion::negotiate(requested);
        {
            let mut state = session.state();
            if state.version.is_some() {
                return Err("Invalid Request: the session is already initialized".into());
            }
            state.version = Some(version);
            state.client_capabilities = capabilities.map(|c| c.into_iter().collect()).unwrap_or_default();
        }
        let mut result = json!({
            "protocolVersion": version.as_str(),
            "capabilities": self.capabilities(),
            "serverInfo": self.config.server_info,
        });
        if let (Some(text), Some(obj)) = (&self.config.instructions, result.as_object_mut()) {
            obj.insert("instructions".into(), Value::String(text.clone()));
        }
        serde_json::to_vec(&result).map_err(|e| e.to_string())
    }

    fn call_tool(&self, session: &Arc<Session>, id: RequestId, raw: Option<&RawValue>, reply: &Arc<dyn Outbound>) {
        let fail =
            |code: i32, msg: &str| reply.send(jsonrpc::error_response(Some(&id), code, msg, None), OutKind::Response);
        let p = match params::<CallParams<'_>>(raw) {
            Ok(p) => p,
            Err(e) => return fail(INVALID_PARAMS, &format!("Invalid params for tools/call: {e}")),
        };
        let registry = self.registry();
        let Some(tool) = registry.tool(&p.name) else {
            return fail(INVALID_PARAMS, &format!("Unknown tool: {}", p.name));
        };
        let mut arguments = match p.arguments {
            None | Some(Value::Null) => Value::Object(Map::new()),
            Some(v @ Value::Object(_)) => v,
            Some(_) => return fail(INVALID_PARAMS, "Invalid params: tools/call arguments must be an object"),
        };
        // Invalid arguments are a tool execution error (SEP-1303), so the model sees what to fix.
        if let Some(problems) = tool.input.check(&arguments) {
            let text = format!("Invalid arguments for tool {:?}: {problems}", tool.name);
            return reply.send(jsonrpc::result_response(&id, &error_result(&text)), OutKind::Response);
        }
        if let (Some(accepts), Value::Object(map)) = (&tool.accepts, &mut arguments) {
            if map.keys().any(|k| !accepts.contains(k)) {
                map.retain(|k, _| accepts.contains(k));
            }
        }
        let token = p.meta.and_then(|m| m.progress_token);
        match (p.task, tool.task_support) {
            (Some(_), TaskSupport::Forbidden) => {
                fail(METHOD_NOT_FOUND, &format!("Tool {:?} does not support task-augmented execution", tool.name))
            }
            (None, TaskSupport::Required) => {
                fail(METHOD_NOT_FOUND, &format!("Tool {:?} must be called as a task (params.task)", tool.name))
            }
            (Some(task), _) => {
                if let Some((task_id, sink)) = tasks::begin(session, &id, task.ttl, reply) {
                    if let Some(call) =
                        self.dispatch(session, id, tool.id, arguments, token, &sink, tool.output.clone())
                    {
                        tasks::attach_call(session, &task_id, call);
                    }
                }
            }
            (None, _) => {
                self.dispatch(session, id, tool.id, arguments, token, reply, tool.output.clone());
            }
        }
    }

    /// Hands a validated request to the embedder's handler `handler_id`, tracking it for cancellation.
    #[allow(clippy::too_many_arguments)] // one call site per kind of request; a struct would only rename them
    pub(crate) fn dispatch(
        &self,
        session: &Arc<Session>,
        id: RequestId,
        handler_id: u32,
        arguments: Value,
        progress_token: Option<&RawValue>,
        reply: &Arc<dyn Outbound>,
        output: Option<Arc<CompiledSchema>>,
    ) -> Option<Arc<Call>> {
        let token = progress_token.filter(|t| RequestId::from_raw(t).is_some()).map(|t| t.to_owned());
        let call =
            Arc::new(Call::new(id.clone(), handler_id, token, session.clone(), reply.clone()).with_output(output));
        {
            let mut state = session.state();
            if state.inflight.contains_key(&id) {
                drop(state);
                let msg = "Invalid Request: a request with this id is already in flight";
                reply.send(jsonrpc::error_response(Some(&id), INVALID_REQUEST, msg, None), OutKind::Response);
                return None;
            }
            state.inflight.insert(id, call.clone());
        }
        session.dispatcher.call(call.clone(), arguments);
        Some(call)
    }

    fn notification(&self, session: &Arc<Session>, method: &str, raw: Option<&RawValue>) {
        if method == "notifications/cancelled" {
            let Ok(p) = params::<CancelledParams<'_>>(raw) else {
                return;
            };
            let Some(id) = RequestId::from_raw(p.request_id) else {
                return;
            };
            let call = session.state().inflight.remove(&id);
            if let Some(call) = call {
                if call.cancel() {
                    session.dispatcher.cancel(&call);
                }
            }
        }
        // notifications/initialized, roots/list_changed, progress and unknown notifications need no action.
    }
}

/// `{"content":[{"type":"text","text":...}],"isError":true}`.
pub fn error_result(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + text.len());
    out.extend_from_slice(b"{\"content\":[{\"type\":\"text\",\"text\":");
    jsonrpc::push_json_string(&mut out, text);
    out.extend_from_slice(b"}],\"isError\":true}");
    out
}

/// Collects the responses of a batch and sends them as one JSON array once every member is accounted for.
struct BatchReply {
    remaining: AtomicUsize,
    responses: Mutex<Vec<Vec<u8>>>,
    /// Set once any member produced a response, i.e. the array will not be empty.
    answered: AtomicBool,
    out: Arc<dyn Outbound>,
}

impl BatchReply {
    fn new(expected: usize, out: Arc<dyn Outbound>) -> BatchReply {
        BatchReply {
            remaining: AtomicUsize::new(expected),
            responses: Mutex::new(Vec::new()),
            answered: AtomicBool::new(false),
            out,
        }
    }

    /// Whether the batch will send an array: true unless every member was a notification or response.
    fn expects_response(&self) -> bool {
        self.answered.load(Ordering::Acquire) || self.remaining.load(Ordering::Acquire) > 0
    }

    fn settle(&self) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        let responses = std::mem::take(&mut *self.responses.lock().unwrap_or_else(|p| p.into_inner()));
        if responses.is_empty() {
            return;
        }
        let mut array = Vec::with_capacity(responses.iter().map(|r| r.len() + 1).sum::<usize>() + 2);
        array.push(b'[');
        for (i, r) in responses.iter().enumerate() {
            if i > 0 {
                array.push(b',');
            }
            array.extend_from_slice(r);
        }
        array.push(b']');
        self.out.send(array, OutKind::Response);
    }
}

impl Outbound for BatchReply {
    fn send(&self, msg: Vec<u8>, kind: OutKind) {
        match kind {
            OutKind::Notification | OutKind::Request => self.out.send(msg, kind),
            OutKind::Response => {
                self.answered.store(true, Ordering::Release);
                self.responses.lock().unwrap_or_else(|p| p.into_inner()).push(msg);
                self.settle();
            }
        }
    }

    fn abandon(&self) {
        self.settle();
    }

    fn close_stream(&self) -> bool {
        self.out.close_stream()
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;

#[path = "methods.rs"]
mod methods;
