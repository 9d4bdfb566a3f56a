//! The Streamable HTTP transport (2025-03-26 … 2025-11-25 semantics), on hyper and tokio.
//!
//! - [`auth`]: the endpoint as an OAuth 2.1 resource server (bearer tokens, challenges, RFC 9728 metadata).
//! - [`service`]: one MCP endpoint: POST / GET / DELETE, header and session rules, status codes.
//! - [`sessions`]: the session registry and per-session streams and limits.
//! - [`sink`]: how a POST is answered (plain JSON, switching to SSE when needed).
//! - [`sse`]: resumable SSE streams with replay buffers.
//! - [`body`]: response bodies.
//! - [`stack`]: the endpoint as a `tower::Service`, and the layer slot in front of it.
//! - `stateless`: POSTs of the stateless era (2026-07-28): no session, routing headers checked, errors as statuses.
//! - [`routing`]: the 2026-07-28 routing headers (`MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`,
//!   `Mcp-Param-*`) checked against the request body.

pub mod auth;
pub mod body;
pub mod health;
pub mod host_check;
pub mod mirror;
pub mod routing;
pub mod service;
pub mod sessions;
pub mod sink;
pub mod sse;
pub mod stack;
mod stateless;
pub mod throttle;

#[cfg(test)]
mod hardening_tests;
#[cfg(test)]
mod shared_sessions;

use crate::engine::Engine;
use crate::session::Dispatcher;
use crate::store::redis::{RedisBus, RedisOptions, RedisStores};
use crate::store::SessionStore;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use service::Service;
use sessions::{SessionLimits, SessionRegistry};
use stack::{McpService, Stack};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpSocket};
use tokio::runtime::Runtime;
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Clone, Debug)]
pub struct HttpConfig {
    pub host: String,
    pub port: u16,
    pub path: String,
    /// Answer every POST with JSON, never SSE (messages sent along the way go to the GET stream).
    pub json_response: bool,
    pub max_body_bytes: usize,
    pub max_sessions: usize,
    /// Sessions with nothing running or connected for this long are removed.
    pub session_idle_timeout: Duration,
    pub max_in_flight_per_session: usize,
    /// Requests being handled at once by this process (every session and stateless client together); further
    /// POSTs carrying a request wait (back-pressure). Long-lived `subscriptions/listen` streams do not count.
    pub max_in_flight: usize,
    pub replay_buffer_events: usize,
    pub max_streams_per_session: usize,
    /// `retry:` sent with priming events, in milliseconds.
    pub retry_ms: Option<u64>,
    pub keepalive: Option<Duration>,
    /// How long a request's head (request line and headers) may take to arrive, counted from when the connection
    /// starts waiting for it, so it also bounds how long a keep-alive connection stays open idle. On expiry the
    /// connection is closed (no response: the request was never read). None waits forever.
    pub header_read_timeout: Option<Duration>,
    /// How long a POST body may take to arrive in full once its head is read (a deadline, not per chunk): a
    /// body shorter than its Content-Length or a chunked body that never ends gets 408 and the connection closes.
    /// None waits forever.
    pub body_read_timeout: Option<Duration>,
    /// Allowed `Host` values (`name:*` = any port, see `host_check`); `None` = any port on the loopback names
    /// when bound to loopback, anything otherwise.
    pub allowed_hosts: Option<Vec<String>>,
    /// Allowed `Origin` values (`http://name:*` = any port); `None` = http(s) origins of the allowed hosts
    /// (same-origin when unrestricted).
    pub allowed_origins: Option<Vec<String>>,
    pub allow_delete: bool,
    pub io_threads: usize,
    /// Where session records are shared with other processes serving the same clients; None keeps sessions in
    /// this process only.
    pub session_store: Option<SharedSessionStore>,
    /// Binds with `SO_REUSEPORT`, so several worker processes serve one port (the kernel spreads connections).
    pub reuse_port: bool,
    /// This process's worker id, sent as the `Ferromcp-Worker` response header (which worker answered).
    pub worker_id: Option<String>,
    /// Put before every session id this process mints, so a load balancer can route a session's requests to
    /// the replica that holds it by the `Mcp-Session-Id` prefix (see [`valid_session_id_prefix`]).
    pub session_id_prefix: Option<String>,
    /// Shares state with the other processes serving the same clients through this Redis: legacy session
    /// records (any process serves any session), the notification bus (list changes, resource updates, listen
    /// streams, task status, answers to server→client requests) and task records. Connected at start: a Redis
    /// that cannot be reached then is an error.
    pub redis: Option<RedisOptions>,
    /// Where the SSE events of shared sessions are recorded, so another process can resume their streams
    /// (with a session store; see [`mirror`]).
    pub events: Option<SharedEvents>,
    /// Bearer-token authorization (OAuth 2.1 resource server); None serves everyone.
    pub auth: Option<crate::auth::AuthConfig>,
}

/// The event journal of a process whose sessions are shared (see [`mirror`]).
#[derive(Clone)]
pub struct SharedEvents(pub Arc<mirror::EventJournal>);

impl std::fmt::Debug for SharedEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedEvents")
    }
}

/// A session id prefix keeps ids visible ASCII without separators a proxy could split on: letters, digits,
/// `-`, `_` and `.`, at most 32 of them.
pub fn valid_session_id_prefix(prefix: &str) -> bool {
    !prefix.is_empty()
        && prefix.len() <= 32
        && prefix.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A session store shared by the processes of one deployment (see [`crate::store`]).
#[derive(Clone)]
pub struct SharedSessionStore(pub Arc<dyn SessionStore>);

impl std::fmt::Debug for SharedSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedSessionStore")
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            host: "127.0.0.1".into(),
            port: 8000,
            path: "/mcp".into(),
            json_response: false,
            max_body_bytes: 4 * 1024 * 1024,
            max_sessions: 10_000,
            session_idle_timeout: Duration::from_secs(30 * 60),
            max_in_flight_per_session: 64,
            max_in_flight: 1024,
            replay_buffer_events: 256,
            max_streams_per_session: 64,
            retry_ms: Some(1000),
            keepalive: Some(Duration::from_secs(15)),
            header_read_timeout: Some(Duration::from_secs(30)),
            body_read_timeout: Some(Duration::from_secs(30)),
            allowed_hosts: None,
            allowed_origins: None,
            allow_delete: true,
            io_threads: 1,
            session_store: None,
            reuse_port: false,
            worker_id: None,
            session_id_prefix: None,
            redis: None,
            events: None,
            auth: None,
        }
    }
}

impl HttpConfig {
    fn limits(&self) -> SessionLimits {
        SessionLimits {
            max_in_flight: self.max_in_flight_per_session,
            replay_capacity: self.replay_buffer_events,
            max_streams: self.max_streams_per_session,
        }
    }
}

/// A listening socket on `host:port` (the first address it resolves to), with `SO_REUSEPORT` when asked.
async fn bind(host: &str, port: u16, reuse_port: bool) -> std::io::Result<TcpListener> {
    let Some(addr) = tokio::net::lookup_host((host, port)).await?.next() else {
        return Err(std::io::Error::new(std::io::ErrorKind::AddrNotAvailable, format!("{host} has no address")));
    };
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    if reuse_port {
        socket.set_reuseport(true)?;
    }
    socket.bind(addr)?;
    socket.listen(1024)
}

pub struct HttpServer {
    runtime: Option<Runtime>,
    local_addr: SocketAddr,
    service: Arc<Service>,
    shutdown: watch::Sender<bool>,
    accept: Option<JoinHandle<()>>,
    closed: AtomicBool,
}

impl HttpServer {
    /// Binds and starts serving on background threads; returns once the socket is listening.
    pub fn start(engine: Arc<Engine>, dispatcher: Arc<dyn Dispatcher>, config: HttpConfig) -> std::io::Result<Self> {
        Self::start_with(engine, dispatcher, config, stack::plain)
    }

    /// `start`, with the endpoint wrapped by `layers` (authentication, rate limits, metrics, extra routes).
    pub fn start_with<S: Stack>(
        engine: Arc<Engine>,
        dispatcher: Arc<dyn Dispatcher>,
        config: HttpConfig,
        layers: impl FnOnce(McpService) -> S,
    ) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.io_threads.max(1))
            .thread_name("ferromcp-http")
            .enable_all()
            .build()?;
        let mut config = config;
        if let Some(options) = config.redis.clone() {
            let unavailable = |e: crate::store::StoreError| std::io::Error::other(format!("Redis: {e}"));
            let stores = runtime.block_on(RedisStores::connect(options.clone())).map_err(unavailable)?;
            engine.share_bus(RedisBus::start(&options, runtime.handle()).map_err(unavailable)?);
            engine.attach_task_store(Arc::new(stores.tasks()), runtime.handle().clone());
            config.session_store = Some(SharedSessionStore(Arc::new(stores.sessions())));
            let journal =
                mirror::EventJournal::start(Arc::new(stores.events()), engine.bus().clone(), runtime.handle().clone());
            config.events = Some(SharedEvents(journal));
            tracing::info!(prefix = %options.prefix, "sharing sessions, notifications and tasks through Redis");
        }
        let listener = runtime.block_on(bind(&config.host, config.port, config.reuse_port))?;
        let local_addr = listener.local_addr()?;
        tracing::info!(%local_addr, path = %config.path, "serving Streamable HTTP");
        let registry = Arc::new(SessionRegistry::new(config.max_sessions));
        let service = Arc::new(Service::new(engine, dispatcher, config.clone(), registry));
        let (shutdown, shutdown_rx) = watch::channel(false);
        let stack = layers(McpService(service.clone()));
        let accept = runtime.spawn(accept_loop(listener, stack, config.header_read_timeout, shutdown_rx.clone()));
        runtime.spawn(expire_loop(service.clone(), config.session_idle_timeout, shutdown_rx));
        Ok(HttpServer {
            runtime: Some(runtime),
            local_addr,
            service,
            shutdown,
            accept: Some(accept),
            closed: AtomicBool::new(false),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn sessions(&self) -> usize {
        self.service.sessions().len()
    }

    pub fn in_flight(&self) -> usize {
        self.service.sessions().in_flight()
    }

    /// Starts the drain: new requests get 503 (with `Connection: close`) while calls already running go on.
    /// Connections are still accepted, so a request sent now gets its 503 rather than a refused connection;
    /// except with `reuse_port`, where other processes serve the same port: this one stops accepting at once and
    /// the kernel hands new connections to them.
    pub fn begin_shutdown(&self) {
        self.service.draining.store(true, Ordering::Release);
        let ended = self.service.engine.end_subscriptions();
        if ended > 0 {
            tracing::info!(ended, "subscriptions/listen streams ended for shutdown");
        }
        if self.service.config.reuse_port {
            let _ = self.shutdown.send(true);
        }
    }

    /// Ends every session and stream (cancelling the calls still running), stops accepting, lets connections
    /// finish within `grace`, and stops the threads.
    pub fn close(&mut self, grace: Duration) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        self.begin_shutdown();
        self.service.sessions().terminate_all();
        let _ = self.shutdown.send(true);
        if let Some(runtime) = self.runtime.take() {
            if let Some(accept) = self.accept.take() {
                let _ = runtime.block_on(async { tokio::time::timeout(grace, accept).await });
            }
            runtime.shutdown_timeout(Duration::from_millis(100));
            tracing::info!("HTTP server closed");
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.close(Duration::from_secs(1));
    }
}

/// How long accepting pauses after a failure that will repeat at once (out of file descriptors or memory):
/// from the first to the last value, doubling, so the loop neither spins nor stays deaf for long.
const ACCEPT_BACKOFF_FIRST: Duration = Duration::from_millis(5);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Accept errors that say the process (or system) is out of a resource: retrying at once fails again.
fn is_resource_exhaustion(err: &std::io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM))
}

/// Failed accepts in a row, and the pause before the next try.
#[derive(Default)]
struct AcceptBackoff {
    failures: u64,
    delay: Option<Duration>,
}

impl AcceptBackoff {
    /// Records a failed accept; returns how long to pause before accepting again, if at all.
    fn failed(&mut self, err: &std::io::Error) -> Option<Duration> {
        if !is_resource_exhaustion(err) {
            // A connection reset or aborted before it was accepted: the next one is unaffected.
            tracing::debug!(error = %err, "accept failed");
            return None;
        }
        self.failures += 1;
        let delay = match self.delay {
            None => {
                tracing::error!(
                    error = %err,
                    "cannot accept connections (out of file descriptors or memory); backing off until it recovers"
                );
                ACCEPT_BACKOFF_FIRST
            }
            Some(d) => (d * 2).min(ACCEPT_BACKOFF_MAX),
        };
        self.delay = Some(delay);
        Some(delay)
    }

    fn succeeded(&mut self) {
        if self.delay.take().is_some() {
            tracing::warn!(failed_accepts = self.failures, "accepting connections again");
        }
        self.failures = 0;
    }
}

async fn accept_loop<S: Stack>(
    listener: TcpListener,
    service: S,
    header_read_timeout: Option<Duration>,
    mut shutdown: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    // The timer runs hyper's header read timeout (None disables it).
    builder.keep_alive(true).timer(TokioTimer::new()).header_read_timeout(header_read_timeout);
    let mut backoff = AcceptBackoff::default();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok((stream, peer)) => {
                        backoff.succeeded();
                        (stream, peer)
                    }
                    Err(err) => {
                        if let Some(pause) = backoff.failed(&err) {
                            tokio::select! {
                                _ = tokio::time::sleep(pause) => {}
                                _ = shutdown.changed() => break,
                            }
                        }
                        continue;
                    }
                };
                // NOTE: without TCP_NODELAY a small SSE event can wait ~40 ms for a delayed ACK (Nagle).
                let _ = stream.set_nodelay(true);
                // Every request carries its connection's peer address (rate limits of stateless clients).
                let service = tower::ServiceExt::map_request(service.clone(), move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(throttle::PeerAddr(peer));
                    req
                });
                let conn = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(err) = conn.await {
                        tracing::debug!(error = %err, "connection ended with an error");
                    }
                });
            }
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    tracing::info!("stopped accepting connections");
    // Connections finish their current exchange; streams have been ended by the caller.
    graceful.shutdown().await;
}

async fn expire_loop(service: Arc<Service>, ttl: Duration, mut shutdown: watch::Receiver<bool>) {
    let period = (ttl / 4).clamp(Duration::from_millis(50), Duration::from_secs(30));
    let ttl_ms = ttl.as_millis() as u64;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(period) => {
                service.sessions().expire(ttl_ms);
            }
            _ = shutdown.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os_error(code: i32) -> std::io::Error {
        std::io::Error::from_raw_os_error(code)
    }

    #[test]
    fn fd_exhaustion_backs_off_doubling_up_to_the_cap_and_resets() {
        let mut b = AcceptBackoff::default();
        assert_eq!(b.failed(&os_error(libc::EMFILE)), Some(ACCEPT_BACKOFF_FIRST));
        assert_eq!(b.failed(&os_error(libc::ENFILE)), Some(ACCEPT_BACKOFF_FIRST * 2));
        let mut last = Duration::ZERO;
        for _ in 0..20 {
            last = b.failed(&os_error(libc::EMFILE)).unwrap_or_default();
        }
        assert_eq!(last, ACCEPT_BACKOFF_MAX);
        b.succeeded();
        assert_eq!(b.failures, 0);
        assert_eq!(b.failed(&os_error(libc::EMFILE)), Some(ACCEPT_BACKOFF_FIRST));
    }

    #[test]
    fn a_connection_that_died_before_accept_does_not_pause() {
        let mut b = AcceptBackoff::default();
        assert_eq!(b.failed(&os_error(libc::ECONNABORTED)), None);
        assert_eq!(b.failed(&std::io::Error::other("reset")), None);
        assert_eq!(b.failures, 0);
    }
}
