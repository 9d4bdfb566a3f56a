//! Test doubles shared by the unit tests of several modules.

use crate::engine::{Engine, ServerConfig};
use crate::http::mirror::EventJournal;
use crate::http::service::Service;
use crate::http::sessions::SessionRegistry;
use crate::http::stack::McpService;
use crate::http::{HttpConfig, SharedEvents, SharedSessionStore};
use crate::session::{Call, Dispatcher, ReplyOutcome};
use crate::store::{SessionRecord, SessionStore, StoreError, StoreFuture, TaskRecord, TaskStore};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// A dispatcher with no handlers behind it: calls go nowhere (the protocol paths are what is under test).
pub struct NoHandlers;

impl Dispatcher for NoHandlers {
    fn call(&self, _: Arc<Call>, _: Value) {}
    fn cancel(&self, _: &Arc<Call>) {}
    fn closed(&self) {}
    fn reply(&self, _: u64, _: ReplyOutcome) {}
}

/// An HTTP endpoint (no sockets: driven with `tower::ServiceExt::oneshot`) on an engine with no tools, with the
/// session store given, as if bound to 127.0.0.1:8000.
pub fn endpoint(store: Option<Arc<dyn SessionStore>>) -> McpService {
    let server = ServerConfig::new(json!({"name": "t", "version": "1"}));
    let engine = Arc::new(Engine::new(server).unwrap_or_else(|e| panic!("{e}")));
    endpoint_on(engine, Arc::new(NoHandlers), store)
}

/// An HTTP endpoint (as `endpoint`) serving `engine` with `dispatcher`.
pub fn endpoint_on(
    engine: Arc<Engine>,
    dispatcher: Arc<dyn Dispatcher>,
    store: Option<Arc<dyn SessionStore>>,
) -> McpService {
    let config = HttpConfig { session_store: store.map(SharedSessionStore), ..HttpConfig::default() };
    endpoint_with(engine, dispatcher, config)
}

/// An HTTP endpoint (as `endpoint_on`) with the configuration given.
pub fn endpoint_with(engine: Arc<Engine>, dispatcher: Arc<dyn Dispatcher>, config: HttpConfig) -> McpService {
    let registry = Arc::new(SessionRegistry::new(config.max_sessions));
    McpService(Arc::new(Service::new(engine, dispatcher, config, registry)))
}

/// An HTTP endpoint (as `endpoint_on`) whose sessions are shared through `sessions`, with their SSE events
/// recorded in `events` (so another endpoint can resume their streams). Must be called on a tokio runtime.
pub fn shared_endpoint(
    engine: Arc<Engine>,
    dispatcher: Arc<dyn Dispatcher>,
    sessions: Arc<dyn SessionStore>,
    events: Arc<dyn crate::store::EventStore>,
) -> McpService {
    let journal = EventJournal::start(events, engine.bus().clone(), tokio::runtime::Handle::current());
    let config = HttpConfig {
        session_store: Some(SharedSessionStore(sessions)),
        events: Some(SharedEvents(journal)),
        ..HttpConfig::default()
    };
    let registry = Arc::new(SessionRegistry::new(config.max_sessions));
    McpService(Arc::new(Service::new(engine, dispatcher, config, registry)))
}

/// A session (or task) store that is down: every operation fails as an unreachable store does.
pub struct DownStore;

fn refused<'a, T: Send + 'a>() -> StoreFuture<'a, T> {
    Box::pin(async { Err(StoreError::Unavailable("connection refused".into())) })
}

impl SessionStore for DownStore {
    fn put(&self, _: SessionRecord, _: Duration) -> StoreFuture<'_, ()> {
        refused()
    }
    fn get<'a>(&'a self, _: &'a str) -> StoreFuture<'a, Option<SessionRecord>> {
        refused()
    }
    fn touch<'a>(&'a self, _: &'a str, _: Duration) -> StoreFuture<'a, bool> {
        refused()
    }
    fn remove<'a>(&'a self, _: &'a str) -> StoreFuture<'a, bool> {
        refused()
    }
}

impl TaskStore for DownStore {
    fn put(&self, _: TaskRecord, _: Duration) -> StoreFuture<'_, ()> {
        refused()
    }
    fn get<'a>(&'a self, _: &'a str, _: &'a str) -> StoreFuture<'a, Option<TaskRecord>> {
        refused()
    }
    fn list<'a>(
        &'a self,
        _: &'a str,
        _: Option<&'a str>,
        _: usize,
    ) -> StoreFuture<'a, (Vec<TaskRecord>, Option<String>)> {
        refused()
    }
    fn remove<'a>(&'a self, _: &'a str, _: &'a str) -> StoreFuture<'a, bool> {
        refused()
    }
}
