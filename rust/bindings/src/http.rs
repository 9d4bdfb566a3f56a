//! `HttpServer`: serves the engine over Streamable HTTP on tokio threads owned by this object.

use crate::auth::{self, JwtVerifier, PythonVerifier};
use crate::engine::Engine;
use crate::queue::Queue;
use ferromcp_core::auth::{AuthConfig, TokenVerifier};
use ferromcp_core::http::{valid_session_id_prefix, HttpConfig, HttpServer as CoreHttpServer};
use ferromcp_core::store::redis::RedisOptions;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyList;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[pyclass(frozen, module = "ferromcp._core")]
pub struct HttpServer {
    queue: Arc<Queue>,
    server: Mutex<Option<CoreHttpServer>>,
    host: String,
    port: u16,
}

/// The longest duration a setting takes: longer ones (infinity included) mean "never" in practice, and are capped
/// so that adding one to a clock cannot overflow.
const MAX_SECS: f64 = 365.0 * 24.0 * 3600.0;

/// A positive number of seconds as a duration (at most a year); none, zero, negative or NaN is None.
fn secs(s: Option<f64>) -> Option<Duration> {
    let v = s.filter(|v| !v.is_nan() && *v > 0.0)?;
    Duration::try_from_secs_f64(v.min(MAX_SECS)).ok()
}

/// A timeout option: None disables it; otherwise a positive number of seconds (capped at a year).
fn timeout(name: &str, s: Option<f64>) -> PyResult<Option<Duration>> {
    match s {
        None => Ok(None),
        Some(v) => secs(Some(v)).map(Some).ok_or_else(|| {
            PyValueError::new_err(format!("{name} must be a positive number of seconds or None, not {v}"))
        }),
    }
}

#[pymethods]
impl HttpServer {
    /// Binds `host:port` (port 0 picks a free one) and starts serving `path`.
    #[new]
    #[pyo3(signature = (
        engine, *, host, port, path, json_response=false, max_body_bytes=4*1024*1024, max_sessions=10_000,
        session_idle_timeout=1800.0, max_in_flight_per_session=64, max_in_flight=1024, replay_buffer_events=256,
        max_streams_per_session=64, retry_ms=Some(1000), keepalive=Some(15.0), header_read_timeout=Some(30.0),
        body_read_timeout=Some(30.0), allowed_hosts=None,
        allowed_origins=None, allow_delete=true, io_threads=1, reuse_port=false, worker_id=None,
        session_id_prefix=None, redis_url=None, redis_prefix=None, jwt_verifier=None, python_verifier=false,
        resource_url=None, authorization_servers=None, required_scopes=None, scopes_supported=None,
        resource_name=None, resource_documentation=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        engine: &Engine,
        host: String,
        port: u16,
        path: String,
        json_response: bool,
        max_body_bytes: usize,
        max_sessions: usize,
        session_idle_timeout: f64,
        max_in_flight_per_session: usize,
        max_in_flight: usize,
        replay_buffer_events: usize,
        max_streams_per_session: usize,
        retry_ms: Option<u64>,
        keepalive: Option<f64>,
        header_read_timeout: Option<f64>,
        body_read_timeout: Option<f64>,
        allowed_hosts: Option<Vec<String>>,
        allowed_origins: Option<Vec<String>>,
        allow_delete: bool,
        io_threads: usize,
        reuse_port: bool,
        worker_id: Option<String>,
        session_id_prefix: Option<String>,
        redis_url: Option<String>,
        redis_prefix: Option<String>,
        jwt_verifier: Option<PyRef<'_, JwtVerifier>>,
        python_verifier: bool,
        resource_url: Option<String>,
        authorization_servers: Option<Vec<String>>,
        required_scopes: Option<Vec<String>>,
        scopes_supported: Option<Vec<String>>,
        resource_name: Option<String>,
        resource_documentation: Option<String>,
    ) -> PyResult<Self> {
        if let Some(prefix) = session_id_prefix.as_deref().filter(|p| !valid_session_id_prefix(p)) {
            return Err(PyValueError::new_err(format!(
                "session_id_prefix {prefix:?}: use 1 to 32 letters, digits, '-', '_' or '.'"
            )));
        }
        let queue = Queue::new()?;
        let verifier: Option<Arc<dyn TokenVerifier>> = match (&jwt_verifier, python_verifier) {
            (Some(_), true) => return Err(PyValueError::new_err("give either jwt_verifier or python_verifier")),
            (Some(jwt), false) => {
                auth::hook_refresh(&jwt.inner, &queue);
                Some(jwt.inner.clone())
            }
            (None, true) => Some(Arc::new(PythonVerifier { queue: Arc::downgrade(&queue) })),
            (None, false) => None,
        };
        let auth = match verifier {
            None => None,
            Some(verifier) => {
                let Some(resource) = resource_url else {
                    return Err(PyValueError::new_err("authorization needs resource_url (this server's URL)"));
                };
                let servers = authorization_servers.unwrap_or_default();
                if servers.is_empty() {
                    return Err(PyValueError::new_err("authorization needs at least one authorization server"));
                }
                let mut config = AuthConfig::new(verifier, resource);
                config.validate().map_err(PyValueError::new_err)?;
                config.authorization_servers = servers;
                config.required_scopes = required_scopes.unwrap_or_default();
                config.scopes_supported = scopes_supported.unwrap_or_default();
                config.resource_name = resource_name;
                config.resource_documentation = resource_documentation;
                Some(config)
            }
        };
        let config = HttpConfig {
            host,
            port,
            path,
            json_response,
            max_body_bytes,
            max_sessions,
            session_idle_timeout: secs(Some(session_idle_timeout)).unwrap_or(Duration::from_secs(1800)),
            max_in_flight_per_session,
            max_in_flight,
            replay_buffer_events,
            max_streams_per_session,
            retry_ms,
            keepalive: secs(keepalive),
            header_read_timeout: timeout("header_read_timeout", header_read_timeout)?,
            body_read_timeout: timeout("body_read_timeout", body_read_timeout)?,
            allowed_hosts,
            allowed_origins,
            allow_delete,
            io_threads,
            session_store: None,
            reuse_port,
            worker_id,
            session_id_prefix,
            redis: redis_url.map(|url| {
                let mut options = RedisOptions::new(url);
                if let Some(prefix) = redis_prefix {
                    options.prefix = prefix;
                }
                options
            }),
            events: None,
            auth,
        };
        let server = CoreHttpServer::start(engine.inner.clone(), queue.clone(), config)
            .map_err(|e| PyOSError::new_err(format!("cannot serve HTTP: {e}")))?;
        let addr = server.local_addr();
        Ok(HttpServer { queue, server: Mutex::new(Some(server)), host: addr.ip().to_string(), port: addr.port() })
    }

    #[getter]
    fn host(&self) -> &str {
        &self.host
    }

    #[getter]
    fn port(&self) -> u16 {
        self.port
    }

    fn wake_fd(&self) -> i32 {
        self.queue.wake_fd()
    }

    fn drain<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        self.queue.drain(py)
    }

    /// Sessions currently open.
    fn sessions(&self) -> usize {
        self.server.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map_or(0, |s| s.sessions())
    }

    /// Calls handed to Python and not yet answered, across all sessions.
    fn in_flight(&self) -> usize {
        self.server.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map_or(0, |s| s.in_flight())
    }

    /// Starts the drain: new requests get 503; running calls go on (see the core's `begin_shutdown`).
    fn begin_shutdown(&self) {
        if let Some(s) = self.server.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            s.begin_shutdown();
        }
    }

    /// Ends all sessions and streams and stops the I/O threads (waiting up to `grace` seconds). Idempotent.
    #[pyo3(signature = (grace=5.0))]
    fn close(&self, py: Python<'_>, grace: f64) {
        let server = self.server.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(mut server) = server {
            let grace = secs(Some(grace)).unwrap_or(Duration::ZERO);
            py.detach(move || server.close(grace));
        }
    }
}
