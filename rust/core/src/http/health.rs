//! Health endpoints for orchestrators and load balancers: `GET /healthz` (liveness: the process answers) and
//! `GET /readyz` (readiness: accepting requests, not draining, and the session store reachable when one is
//! configured). They expose nothing but a status, so they are answered before the Host and Origin rules (a
//! kubelet probes the pod's address, not a name the server would accept); any other method is 405.

use super::body::HttpBody;
use super::service::{Resp, Service};
use hyper::header::{HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Method, Response, StatusCode};
use std::sync::atomic::Ordering;

pub const LIVENESS: &str = "/healthz";
pub const READINESS: &str = "/readyz";

fn status(code: StatusCode, status: &str, detail: Option<&str>) -> Resp {
    let mut body = format!(r#"{{"status":"{status}""#);
    if let Some(detail) = detail {
        body.push_str(&format!(r#","detail":{}"#, serde_json::Value::String(detail.to_owned())));
    }
    body.push('}');
    let mut resp = Response::new(HttpBody::bytes(body));
    *resp.status_mut() = code;
    resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

impl Service {
    /// The answer to a health probe at `path`, or None when `path` is not a health endpoint.
    pub(super) async fn health(&self, method: &Method, path: &str) -> Option<Resp> {
        if path != LIVENESS && path != READINESS {
            return None;
        }
        if method != Method::GET && method != Method::HEAD {
            let mut resp = status(StatusCode::METHOD_NOT_ALLOWED, "method not allowed", None);
            resp.headers_mut().insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            return Some(resp);
        }
        if path == LIVENESS {
            return Some(status(StatusCode::OK, "ok", None));
        }
        if self.draining.load(Ordering::Acquire) {
            return Some(status(StatusCode::SERVICE_UNAVAILABLE, "draining", None));
        }
        if let Some(store) = &self.config.session_store {
            if let Err(e) = store.0.get("ferromcp-readiness-probe").await {
                return Some(status(StatusCode::SERVICE_UNAVAILABLE, "unavailable", Some(&e.to_string())));
            }
        }
        Some(status(StatusCode::OK, "ready", None))
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{endpoint, DownStore};
    use http_body_util::{BodyExt, Full};
    use hyper::{Request, StatusCode};
    use std::sync::atomic::Ordering;
    use std::sync::Arc;
    use tower::ServiceExt;

    async fn probe(svc: &crate::http::stack::McpService, method: &str, path: &str) -> (StatusCode, String) {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "10.1.2.3:8000") // a pod address: not a host the MCP endpoint accepts
            .body(Full::new(bytes::Bytes::new()))
            .unwrap_or_else(|e| panic!("{e}"));
        let resp = svc.clone().oneshot(req).await.unwrap_or_else(|e| match e {});
        let status = resp.status();
        let body = resp.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn liveness_and_readiness() {
        let svc = endpoint(None);
        assert_eq!(probe(&svc, "GET", "/healthz").await, (StatusCode::OK, r#"{"status":"ok"}"#.into()));
        assert_eq!(probe(&svc, "GET", "/readyz").await, (StatusCode::OK, r#"{"status":"ready"}"#.into()));
        assert_eq!(probe(&svc, "POST", "/readyz").await.0, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(probe(&svc, "GET", "/mcp").await.0, StatusCode::FORBIDDEN, "the MCP endpoint keeps its Host rule");
        assert_eq!(probe(&svc, "GET", "/healthzz").await.0, StatusCode::NOT_FOUND);
        svc.0.draining.store(true, Ordering::Release);
        assert_eq!(
            probe(&svc, "GET", "/readyz").await,
            (StatusCode::SERVICE_UNAVAILABLE, r#"{"status":"draining"}"#.into())
        );
        assert_eq!(probe(&svc, "GET", "/healthz").await.0, StatusCode::OK, "a draining process is still alive");
    }

    #[tokio::test]
    async fn not_ready_while_the_session_store_is_unreachable() {
        let (status, body) = probe(&endpoint(Some(Arc::new(DownStore))), "GET", "/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("unavailable") && body.contains("connection refused"), "{body}");
    }
}
