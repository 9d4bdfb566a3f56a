//! The protocol engine: classifies each message, answers every built-in method and every protocol error itself,
//! and hands validated calls to the dispatcher. Transport-independent.
//!
//! - `table`: the method table (which function answers which method, and what gates it).
//! - one module per method family: `lifecycle` (initialize, ping), `tools`, `resources`, `prompts`,
//!   `completion`, `logging`; `tasks/*` are answered by [`crate::tasks`].
//! - `batch`: JSON-RPC batches (2025-03-26 sessions).

use crate::audit::Auditor;
use crate::bus::{Bus, BusSlot, LocalBus, Notice, Receiver};
use crate::context::{Principal, RequestCtx};
use crate::error::{CoreError, McpError};
use crate::jsonrpc::{self, Frame, Message, Rejection, RequestId, INVALID_REQUEST};
use crate::protocol::Feature;
use crate::rate_limit::{Limiter, RateLimits, LIMITED_METHODS};
use crate::registry::{ListKind, Registry};
use crate::request_state::KeyRing;
use crate::schema::CompiledSchema;
use crate::session::{Call, OutKind, Outbound, Session};
use batch::BatchReply;
use input::{RoundTrip, StateSealing};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use shape::Shapes;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock, Weak};
use std::time::Duration;

/// Static facts about the server, fixed at construction.
pub struct ServerConfig {
    /// The `Implementation` object sent as `serverInfo` (name, version, title, ...).
    pub server_info: Value,
    pub instructions: Option<String>,
    /// Tools per `tools/list` page.
    pub page_size: usize,
    /// Caching hints of stateless results, by method (`tools/list`, `resources/read`, ...); the default is
    /// `ttlMs: 0, cacheScope: "private"`.
    pub cache_hints: HashMap<String, CacheHint>,
    /// The keys that seal input-required `requestState` (the first seals, all open); None is one random key
    /// of this process, so states neither survive a restart nor cross to another process.
    pub request_state_keys: Option<KeyRing>,
    /// How long a sealed `requestState` stays valid.
    pub request_state_ttl: Duration,
}

impl ServerConfig {
    /// A server named by `server_info`, with the defaults for everything else.
    pub fn new(server_info: Value) -> ServerConfig {
        ServerConfig {
            server_info,
            instructions: None,
            page_size: 100,
            cache_hints: HashMap::new(),
            request_state_keys: None,
            request_state_ttl: input::DEFAULT_STATE_TTL,
        }
    }
}

pub struct Engine {
    config: ServerConfig,
    registry: RwLock<Arc<Registry>>,
    /// Where list changes and resource updates are published; sessions (and later listen streams) receive them.
    bus: Arc<dyn Bus>,
    /// The same bus, switchable to a shared one ([`Engine::share_bus`]).
    bus_slot: Arc<BusSlot>,
    /// What stateless results carry besides their own fields, per method.
    shapes: Shapes,
    /// How input-required request states are sealed.
    sealing: Arc<StateSealing>,
    /// Open `subscriptions/listen` streams, for their graceful end.
    listeners: listen::Listeners,
    /// Tasks of stateless requests (the tasks extension).
    tasks: Arc<task_ext::Tasks>,
    /// This engine's tag in the ids of its requests to clients of shared sessions (see [`crate::relay`]).
    relay_tag: Arc<str>,
    /// Where audit records go, once configured ([`Engine::set_auditor`]); unset costs one atomic load.
    auditor: OnceLock<Arc<Auditor>>,
    /// Rate limits, once configured ([`Engine::set_rate_limits`]).
    limiter: OnceLock<Limiter>,
}

/// What a call carries besides its request: a tool's output schema, a stateless call's round-trip state.
#[derive(Default)]
pub(crate) struct CallExtras {
    pub output: Option<Arc<CompiledSchema>>,
    pub round_trip: Option<RoundTrip>,
    /// What a stateless result carries when it is not the method's (a resource with its own caching hint).
    pub fields: Option<Arc<ResultFields>>,
    /// Set for a stateless call that may become a task (tasks extension).
    pub task: Option<TaskLink>,
}

#[derive(Deserialize)]
struct CancelledParams<'a> {
    #[serde(rename = "requestId", borrow)]
    request_id: &'a RawValue,
}

impl Engine {
    /// An engine for `config`; an invalid caching hint is a `CoreError::Definition`.
    pub fn new(config: ServerConfig) -> Result<Engine, CoreError> {
        Self::with_bus(config, LocalBus::new())
    }

    /// An engine publishing its notices on `bus` (one shared by several processes, for instance).
    pub fn with_bus(config: ServerConfig, bus: Arc<dyn Bus>) -> Result<Engine, CoreError> {
        let shapes = Shapes::new(&config.server_info, &config.cache_hints).map_err(CoreError::Definition)?;
        let registry = Registry::new(config.page_size);
        let keys = match &config.request_state_keys {
            Some(keys) => keys.clone(),
            None => KeyRing::random().map_err(|e| CoreError::Definition(e.to_string()))?,
        };
        let sealing = Arc::new(StateSealing { keys, ttl: config.request_state_ttl });
        let slot = BusSlot::new(bus);
        let bus: Arc<dyn Bus> = slot.clone();
        let tasks = Arc::new(task_ext::Tasks::new(bus.clone()));
        // The bus brings this engine the `tasks/update` and `tasks/cancel` other processes got for its tasks.
        let tasks_receiver: Arc<dyn Receiver> = tasks.clone();
        bus.join(Arc::downgrade(&tasks_receiver));
        Ok(Engine {
            config,
            registry: RwLock::new(Arc::new(registry)),
            bus,
            bus_slot: slot,
            shapes,
            sealing,
            listeners: listen::Listeners::default(),
            tasks,
            relay_tag: crate::relay::new_tag(),
            auditor: OnceLock::new(),
            limiter: OnceLock::new(),
        })
    }

    /// Records every audited call ([`crate::audit`]) through `auditor` from now on. False if one was set already.
    pub fn set_auditor(&self, auditor: Arc<Auditor>) -> bool {
        self.auditor.set(auditor).is_ok()
    }

    /// Enforces `limits` ([`crate::rate_limit`]) from now on. False if limits were set already.
    pub fn set_rate_limits(&self, limits: RateLimits) -> bool {
        self.limiter.set(Limiter::new(limits)).is_ok()
    }

    /// The rate-limit refusal of this request, if it is one; None when it may run (or nothing is limited).
    fn rate_limited(
        &self,
        session: &Session,
        method: &str,
        params: Option<&RawValue>,
        ctx: Option<&RequestCtx>,
    ) -> Option<McpError> {
        let limiter = self.limiter.get()?;
        if !LIMITED_METHODS.contains(&method) {
            return None;
        }
        #[derive(Deserialize)]
        struct Named<'a> {
            #[serde(borrow)]
            name: Cow<'a, str>,
        }
        let named = (method == "tools/call")
            .then(|| params.and_then(|raw| serde_json::from_str::<Named<'_>>(raw.get()).ok()))
            .flatten();
        let principal = ctx.and_then(|c| c.principal.as_deref()).map(|p| format!("principal:{}", p.subject));
        let client = principal.as_deref().or(session.client()).unwrap_or("stdio");
        limiter.check(client, named.as_ref().map(|n| &*n.name)).err().map(|refusal| refusal.error())
    }

    /// `reply`, watched by the auditor when there is one and `method` is audited.
    fn audited(
        &self,
        method: &str,
        params: Option<&RawValue>,
        ctx: Option<&RequestCtx>,
        reply: &Arc<dyn Outbound>,
    ) -> Option<Arc<dyn Outbound>> {
        let principal = ctx.and_then(|c| c.principal.as_deref());
        self.auditor.get()?.watch(method, params, principal, reply)
    }

    /// Publishes on `bus` (one shared with other processes, such as the Redis bus) from now on; everything that
    /// listens here so far listens there too. Called before serving.
    pub fn share_bus(&self, bus: Arc<dyn Bus>) {
        self.bus_slot.switch_to(bus);
    }

    /// Where task states are written when a task store is attached (the legacy tasks of shared sessions use it
    /// too).
    pub(crate) fn task_journal(&self) -> Option<Arc<task_journal::Journal>> {
        self.tasks.journal().cloned()
    }

    /// This engine's tag in the ids of its requests to clients of shared sessions.
    pub fn relay_tag(&self) -> &Arc<str> {
        &self.relay_tag
    }

    /// Tasks of stateless requests.
    pub(crate) fn tasks(&self) -> &Arc<task_ext::Tasks> {
        &self.tasks
    }

    /// Writes the state of every task of the tasks extension to `store` from now on (a writer task on
    /// `runtime`), and answers `tasks/*` for tasks this process does not hold from it: several processes
    /// sharing a store and a bus serve each other's tasks. False if a store was attached already.
    pub fn attach_task_store(&self, store: Arc<dyn crate::store::TaskStore>, runtime: tokio::runtime::Handle) -> bool {
        self.tasks.attach_store(store, runtime)
    }

    /// How input-required request states are sealed.
    pub(crate) fn sealing(&self) -> &Arc<StateSealing> {
        &self.sealing
    }

    /// The fields stateless results of `method` carry besides their own.
    pub(crate) fn result_fields(&self, method: &str) -> &Arc<ResultFields> {
        self.shapes.for_method(method)
    }

    /// The bus this engine publishes list changes and resource updates on.
    pub fn bus(&self) -> &Arc<dyn Bus> {
        &self.bus
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
            self.bus.publish(match kind {
                ListKind::Tools => Notice::ToolsChanged,
                ListKind::Resources => Notice::ResourcesChanged,
                ListKind::Prompts => Notice::PromptsChanged,
            });
        }
        changed
    }

    /// Joins a session to the bus (list changes, resource updates). Transports call it once per session.
    pub fn register_session(&self, session: &Arc<Session>) {
        let receiver: Weak<dyn Receiver> = Arc::downgrade(session) as Weak<Session>;
        self.bus.join(receiver);
    }

    /// Handles one framed input (a line) on `session`, replying through the session's own outbound.
    pub fn handle(&self, session: &Arc<Session>, input: &[u8]) -> bool {
        self.handle_reply(session, input, &session.out)
    }

    /// Handles one input (a line or a request body) on `session`; replies and request-scoped messages go to
    /// `reply`. Returns whether a response was or will be sent through `reply` (false for notifications and
    /// responses, which need none). Nothing here blocks on the embedder.
    pub fn handle_reply(&self, session: &Arc<Session>, input: &[u8], reply: &Arc<dyn Outbound>) -> bool {
        self.handle_frame(session, jsonrpc::split(input), reply)
    }

    /// `handle_reply` for input a transport has already split (the HTTP service parses each body once).
    pub fn handle_frame(
        &self,
        session: &Arc<Session>,
        frame: Result<Frame<'_>, Rejection>,
        reply: &Arc<dyn Outbound>,
    ) -> bool {
        self.handle_frame_as(session, frame, reply, None)
    }

    /// `handle_frame` for requests made by `principal` (the authenticated caller; None without authorization):
    /// it is in the context of every request of the frame.
    pub fn handle_frame_as(
        &self,
        session: &Arc<Session>,
        frame: Result<Frame<'_>, Rejection>,
        reply: &Arc<dyn Outbound>,
        principal: Option<&Arc<Principal>>,
    ) -> bool {
        match frame {
            Err(rejection) => {
                reply.send(rejection.encode(), OutKind::Response);
                true
            }
            Ok(Frame::Single(raw)) => self.handle_one(session, raw, reply, principal),
            Ok(Frame::Batch(items)) => self.handle_batch(session, items, reply, principal),
        }
    }

    fn handle_batch(
        &self,
        session: &Arc<Session>,
        items: Vec<&RawValue>,
        reply: &Arc<dyn Outbound>,
        principal: Option<&Arc<Principal>>,
    ) -> bool {
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
            if !self.handle_one(session, item, &collector, principal) {
                collector.abandon();
            }
        }
        batch.expects_response()
    }

    /// Returns whether a response to this message was (or will be) sent through `reply`.
    fn handle_one(
        &self,
        session: &Arc<Session>,
        raw: &RawValue,
        reply: &Arc<dyn Outbound>,
        principal: Option<&Arc<Principal>>,
    ) -> bool {
        match jsonrpc::classify(raw) {
            Err(rejection) => {
                reply.send(rejection.encode(), OutKind::Response);
                true
            }
            Ok(Message::Request { id, method, params }) => {
                self.request(session, id, &method, params, reply, principal);
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
        params: Option<&RawValue>,
        reply: &Arc<dyn Outbound>,
        principal: Option<&Arc<Principal>>,
    ) {
        if let Some(parsed) = era::stateless_params(params) {
            let ctx = match parsed.context(session.transport) {
                Ok(ctx) => RequestCtx { principal: principal.cloned(), ..ctx },
                Err(error) => return reply.send(error.encode(Some(&id)), OutKind::Response),
            };
            let call = if method == "tools/call" { parsed.into_call() } else { None };
            return self.handle_stateless(session, &id, method, params, ctx, reply, call);
        }
        let entry = table::lookup(method);
        let ctx = RequestCtx::legacy(session).map(|ctx| RequestCtx { principal: principal.cloned(), ..ctx });
        let watched = self.audited(method, params, ctx.as_ref(), reply);
        let reply = watched.as_ref().unwrap_or(reply);
        let limited = ctx.as_ref().and_then(|c| self.rate_limited(session, method, params, Some(c)));
        let outcome = if let Some(refusal) = limited {
            Err(refusal)
        } else if !entry.is_some_and(|m| m.before_initialize) && ctx.is_none() {
            Err(McpError::invalid_request("Invalid Request: the session is not initialized; send initialize first"))
        } else {
            match entry {
                Some(m) if !m.legacy => Err(McpError::method_not_found(format!("Method not found: {method}"))),
                None => custom::call(self, &table::Req { engine: self, session, ctx, id: &id, method, params, reply }),
                Some(m) if !m.offered.by(&self.registry()) => {
                    Err(McpError::method_not_found(format!("Method not found: {method} (no such capability)")))
                }
                Some(m) => {
                    (m.handler)(self, &table::Req { engine: self, session, ctx, id: &id, method, params, reply })
                }
            }
        };
        if let Err(error) = outcome {
            reply.send(error.encode(Some(&id)), OutKind::Response);
        }
    }

    /// A stateless request, with the context its `_meta` declares: nothing of the session is read, and the
    /// errors are the modern ones. Transports that have parsed `_meta` already (HTTP, for its routing checks)
    /// call this directly instead of `handle_frame`.
    /// A stateless request, with the context its `_meta` declares: nothing of the session is read, and the
    /// errors are the modern ones. Transports that have parsed the params already (HTTP, for its routing checks)
    /// call this directly instead of `handle_frame`, with a `tools/call`'s params as `parsed`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn handle_stateless(
        &self,
        session: &Arc<Session>,
        id: &RequestId,
        method: &str,
        params: Option<&RawValue>,
        ctx: RequestCtx,
        reply: &Arc<dyn Outbound>,
        parsed: Option<CallParams<'_>>,
    ) {
        let watched = self.audited(method, params, Some(&ctx), reply);
        let reply = watched.as_ref().unwrap_or(reply);
        if let Some(refusal) = self.rate_limited(session, method, params, Some(&ctx)) {
            return reply.send(refusal.encode(Some(id)), OutKind::Response);
        }
        let outcome = match table::lookup(method) {
            Some(m) if m.modern && m.offered.by(&self.registry()) => {
                let req = table::Req { engine: self, session, ctx: Some(ctx), id, method, params, reply };
                match parsed {
                    Some(p) if method == "tools/call" => tools::call_parsed(self, &req, p),
                    _ => (m.handler)(self, &req),
                }
            }
            Some(_) => Err(McpError::method_not_found(format!("Method not found: {method}"))),
            None => {
                custom::call(self, &table::Req { engine: self, session, ctx: Some(ctx), id, method, params, reply })
            }
        };
        if let Err(error) = outcome {
            reply.send(error.for_modern().encode(Some(id)), OutKind::Response);
        }
    }

    /// Hands a validated request to the embedder's handler `handler_id`, tracking it for cancellation; the
    /// handler's messages and answer go to `reply`.
    fn dispatch(
        &self,
        req: &table::Req<'_>,
        handler_id: u32,
        arguments: Value,
        progress_token: Option<&RawValue>,
        reply: &Arc<dyn Outbound>,
        extras: CallExtras,
    ) -> Option<Arc<Call>> {
        let (session, id) = (req.session, req.id);
        let Some(ctx) = req.ctx.clone() else {
            let msg = "Invalid Request: the session is not initialized; send initialize first";
            reply.send(jsonrpc::error_response(Some(id), INVALID_REQUEST, msg, None), OutKind::Response);
            return None;
        };
        let token = progress_token.filter(|t| RequestId::from_raw(t).is_some()).map(|t| t.to_owned());
        // Only stateless results get extra fields; legacy calls skip the lookup.
        let fields = match extras.fields {
            Some(own) if ctx.is_modern() => Some(own),
            _ => ctx.is_modern().then(|| self.result_fields(req.method).clone()),
        };
        let call = Arc::new(
            Call::new(id.clone(), handler_id, token, ctx, session.clone(), reply.clone())
                .with_output(extras.output)
                .with_result_fields(fields)
                .with_round_trip(extras.round_trip)
                .with_task(extras.task),
        );
        {
            let mut state = session.state();
            if state.inflight.contains_key(id) || state.listeners.contains_key(id) {
                drop(state);
                let msg = "Invalid Request: a request with this id is already in flight";
                reply.send(jsonrpc::error_response(Some(id), INVALID_REQUEST, msg, None), OutKind::Response);
                return None;
            }
            state.inflight.insert(id.clone(), call.clone());
        }
        session.dispatcher.call(call.clone(), arguments);
        Some(call)
    }

    fn notification(&self, session: &Arc<Session>, method: &str, raw: Option<&RawValue>) {
        if method == "notifications/cancelled" {
            let Ok(p) = serde_json::from_str::<CancelledParams<'_>>(raw.map_or("{}", RawValue::get)) else {
                return;
            };
            let Some(id) = RequestId::from_raw(p.request_id) else {
                return;
            };
            if session.cancel_listener(&id) {
                return;
            }
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

mod batch;
mod completion;
mod custom;
pub(crate) mod era;
mod input;
mod lifecycle;
mod listen;
mod logging;
mod prompts;
mod resources;
mod shape;
mod table;
mod task_ext;
mod task_journal;
mod task_remote;
mod tools;

pub use input::{RoundTrip as InputRoundTrip, DEFAULT_STATE_TTL};
pub use listen::Listener;
pub use shape::{CacheHint, ResultFields};
pub(crate) use table::RequestMeta;
pub(crate) use task_ext::Created;
pub use task_ext::TaskLink;
pub(crate) use task_journal::{Done, Journal};
pub(crate) use task_remote::settled as task_settled;
pub use tools::error_result;
pub(crate) use tools::{CallParams, TaskParams};

#[cfg(test)]
mod tests;
