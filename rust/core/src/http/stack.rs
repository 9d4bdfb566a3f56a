//! The MCP endpoint as a `tower::Service`, and the layer slot in front of it.
//!
//! `McpService` answers `Request<B>` for any body, so the same service runs on hyper's connections and on
//! synthetic requests (tests, embedding). `HttpServer::start_with` takes a function that wraps it in layers
//! (authentication, rate limits, metrics, extra routes): each connection is served by a clone of the result.

use super::body::HttpBody;
use super::service::Service;
use bytes::Bytes;
use hyper::body::{Body, Incoming};
use hyper::{Request, Response};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::util::BoxCloneSyncService;

/// A boxed stack, for layers whose service type is awkward to name.
pub type HttpService = BoxCloneSyncService<Request<Incoming>, Response<HttpBody>, Infallible>;

/// What `HttpServer::start_with` can serve connections with: the endpoint, possibly behind layers. Each request
/// is answered by a clone of it (cheap for the endpoint alone: one reference count).
pub trait Stack:
    tower::Service<Request<Incoming>, Response = Response<HttpBody>, Error = Infallible, Future = Self::Fut>
    + Clone
    + Send
    + Sync
    + 'static
{
    type Fut: Future<Output = Result<Response<HttpBody>, Infallible>> + Send + 'static;
}

impl<S> Stack for S
where
    S: tower::Service<Request<Incoming>, Response = Response<HttpBody>, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    type Fut = S::Future;
}

/// The MCP endpoint (POST / GET / DELETE on the configured path) as a tower service. Never fails: every
/// problem is an HTTP response.
#[derive(Clone)]
pub struct McpService(pub(crate) Arc<Service>);

impl McpService {
    /// The endpoint's state (sessions, draining flag).
    pub fn inner(&self) -> &Service {
        &self.0
    }
}

impl<B> tower::Service<Request<B>> for McpService
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    type Response = Response<HttpBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<HttpBody>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let service = self.0.clone();
        Box::pin(async move {
            let mut resp = service.handle(req).await;
            if let Some(worker) = &service.worker {
                resp.headers_mut().insert(WORKER_HEADER, worker.clone());
            }
            Ok(resp)
        })
    }
}

/// Which worker process answered (only when there are several).
pub const WORKER_HEADER: hyper::header::HeaderName = hyper::header::HeaderName::from_static("ferromcp-worker");

/// No layers: the endpoint alone.
pub fn plain(service: McpService) -> McpService {
    service
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Engine, ServerConfig};
    use crate::http::sessions::SessionRegistry;
    use crate::http::{HttpConfig, HttpServer};
    use crate::testing::NoHandlers;
    use http_body_util::{BodyExt, Full};
    use hyper::header::HeaderValue;
    use serde_json::{json, Value};
    use std::io::{Read, Write};
    use tower::ServiceExt;

    fn engine() -> Arc<Engine> {
        let config = ServerConfig::new(json!({"name": "t", "version": "1"}));
        Arc::new(Engine::new(config).unwrap_or_else(|e| panic!("{e}")))
    }

    fn endpoint() -> McpService {
        let config = HttpConfig::default();
        let registry = Arc::new(SessionRegistry::new(config.max_sessions));
        McpService(Arc::new(Service::new(engine(), Arc::new(NoHandlers), config, registry)))
    }

    fn post(path: &str, body: Value, session: Option<&str>, accept: &str) -> Request<Full<Bytes>> {
        let mut req = Request::post(path)
            .header("host", "127.0.0.1:8000")
            .header("content-type", "application/json")
            .header("accept", accept)
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap_or_else(|e| panic!("{e}"));
        if let Some(id) = session {
            req.headers_mut().insert("mcp-session-id", HeaderValue::from_str(id).unwrap_or_else(|e| panic!("{e}")));
        }
        req
    }

    async fn json_of(resp: Response<HttpBody>) -> Value {
        let bytes = resp.into_body().collect().await.unwrap_or_else(|e| panic!("{e}")).to_bytes();
        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}: {bytes:?}"))
    }

    const BOTH: &str = "application/json, text/event-stream";

    fn initialize() -> Value {
        let params =
            json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "c", "version": "1"}});
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params})
    }

    #[tokio::test]
    async fn synthetic_requests_reach_the_endpoint() {
        let svc = endpoint();
        let resp = svc.clone().oneshot(post("/mcp", initialize(), None, BOTH)).await.unwrap_or_else(|e| match e {});
        assert_eq!(resp.status(), 200);
        let session = resp.headers().get("mcp-session-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let Some(session) = session else { panic!("no session id") };
        assert_eq!(json_of(resp).await["result"]["protocolVersion"], "2025-11-25");

        let ping = json!({"jsonrpc": "2.0", "id": 2, "method": "ping"});
        let resp =
            svc.clone().oneshot(post("/mcp", ping.clone(), Some(&session), BOTH)).await.unwrap_or_else(|e| match e {});
        assert_eq!(json_of(resp).await, json!({"jsonrpc": "2.0", "id": 2, "result": {}}));

        // A refusal names the request it refuses.
        let resp = svc
            .clone()
            .oneshot(post("/mcp", ping, Some(&session), "application/json"))
            .await
            .unwrap_or_else(|e| match e {});
        assert_eq!(resp.status(), 406);
        assert_eq!(json_of(resp).await["id"], 2);

        let resp = svc.oneshot(post("/other", initialize(), None, BOTH)).await.unwrap_or_else(|e| match e {});
        assert_eq!(resp.status(), 404);
    }

    #[test]
    fn layers_wrap_every_connection() {
        let tagged = |svc: McpService| -> HttpService {
            let tag = tower::util::MapResponseLayer::new(|mut resp: Response<HttpBody>| {
                resp.headers_mut().insert("x-layer", HeaderValue::from_static("yes"));
                resp
            });
            BoxCloneSyncService::new(tower::Layer::layer(&tag, svc))
        };
        let config = HttpConfig { port: 0, io_threads: 1, ..HttpConfig::default() };
        let mut server = HttpServer::start_with(engine(), Arc::new(NoHandlers), config, tagged)
            .unwrap_or_else(|e| panic!("cannot serve: {e}"));
        let addr = server.local_addr();
        let mut stream = std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("{e}"));
        let request = format!("GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n", addr.port());
        stream.write_all(request.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        server.close(std::time::Duration::from_millis(200));
        assert!(answer.starts_with("HTTP/1.1 406"), "{answer}");
        assert!(answer.to_ascii_lowercase().contains("x-layer: yes"), "{answer}");
    }
}
