//! Tests of the endpoint's defences against clients that stall or mislabel their requests: the body read
//! deadline (408) and an `MCP-Protocol-Version` other than the session's (400).

use crate::engine::{Engine, ServerConfig};
use crate::http::HttpConfig;
use crate::testing::{endpoint, endpoint_with, NoHandlers};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, SizeHint};
use hyper::{Request, StatusCode};
use serde_json::{json, Value};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tower::ServiceExt;

/// A request body whose first bytes arrive and whose rest never does.
struct Stalled(Option<Bytes>);

impl Body for Stalled {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut().0.take() {
            Some(first) => Poll::Ready(Some(Ok(Frame::data(first)))),
            None => Poll::Pending,
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

fn post<B>(body: B, session: Option<(&str, &str)>) -> Request<B> {
    let mut req = Request::post("/mcp")
        .header("host", "127.0.0.1:8000")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    if let Some((id, version)) = session {
        req = req.header("mcp-session-id", id).header("mcp-protocol-version", version);
    }
    req.body(body).unwrap_or_else(|e| panic!("{e}"))
}

async fn answer(resp: hyper::Response<crate::http::body::HttpBody>) -> (StatusCode, Option<String>, Value) {
    let status = resp.status();
    let connection = resp.headers().get("connection").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let bytes = resp.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    (status, connection, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "current_thread")]
async fn a_body_that_never_completes_gets_408_and_closes_the_connection() {
    let engine = Engine::new(ServerConfig::new(json!({"name": "t", "version": "1"}))).unwrap_or_else(|e| panic!("{e}"));
    let config = HttpConfig { body_read_timeout: Some(Duration::from_millis(200)), ..HttpConfig::default() };
    let svc = endpoint_with(Arc::new(engine), Arc::new(NoHandlers), config);
    let started = tokio::time::Instant::now();
    let resp = svc.clone().oneshot(post(Stalled(Some(Bytes::from_static(b"{\"jsonrpc\""))), None)).await;
    let (status, connection, body) = answer(resp.unwrap_or_else(|e| match e {})).await;
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT, "{body}");
    assert_eq!(connection.as_deref(), Some("close"));
    assert_eq!(body["error"]["code"], -32600);
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(200) && waited < Duration::from_secs(5), "{waited:?}");
}

#[tokio::test]
async fn a_version_header_other_than_the_sessions_is_400_naming_both() {
    let svc = endpoint(None);
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "c", "version": "1"}}});
    let resp = svc.clone().oneshot(post(Full::new(Bytes::from(init.to_string())), None)).await;
    let resp = resp.unwrap_or_else(|e| match e {});
    let id = resp.headers().get("mcp-session-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let Some(id) = id else { panic!("no session") };
    let ping = |n: i64| Full::new(Bytes::from(json!({"jsonrpc": "2.0", "id": n, "method": "ping"}).to_string()));
    for (n, (version, expected)) in
        [("2025-06-18", StatusCode::OK), ("2025-03-26", StatusCode::OK), ("2025-11-25", StatusCode::BAD_REQUEST)]
            .into_iter()
            .enumerate()
    {
        let resp = svc.clone().oneshot(post(ping(n as i64 + 2), Some((&id, version)))).await;
        let (status, _, body) = answer(resp.unwrap_or_else(|e| match e {})).await;
        assert_eq!(status, expected, "{version}: {body}");
        if status == StatusCode::BAD_REQUEST {
            let message = body["error"]["message"].as_str().unwrap_or_default();
            assert!(message.contains("2025-11-25") && message.contains("2025-06-18"), "{message}");
            assert_eq!(body["id"], n as i64 + 2, "the refusal answers the request's id");
        }
    }
}
