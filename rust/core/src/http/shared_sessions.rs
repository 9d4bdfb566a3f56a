//! Tests of sessions shared through a session store: two endpoints (two processes, as far as they can tell)
//! serve one client's session; what one records, the other adopts.

use super::stack::McpService;
use crate::store::{MemorySessionStore, SessionStore, StoreError};
use crate::testing::DownStore;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;
use tower::ServiceExt;

fn endpoint(store: Arc<dyn SessionStore>) -> McpService {
    crate::testing::endpoint(Some(store))
}

async fn post(svc: &McpService, body: Value, session: Option<&str>) -> (StatusCode, Option<String>, Value) {
    let mut req = Request::post("/mcp")
        .header("host", "127.0.0.1:8000")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    if let Some(id) = session {
        req = req.header("mcp-session-id", id).header("mcp-protocol-version", "2025-11-25");
    }
    let req = req.body(Full::new(Bytes::from(body.to_string()))).unwrap_or_else(|e| panic!("{e}"));
    let resp = svc.clone().oneshot(req).await.unwrap_or_else(|e| match e {});
    let status = resp.status();
    let id = resp.headers().get("mcp-session-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let bytes = resp.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    (status, id, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn request(id: i64, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

async fn open(svc: &McpService) -> String {
    let init = json!({"protocolVersion": "2025-06-18", "capabilities": {"roots": {}}, "clientInfo": {"name": "c", "version": "1"}});
    let (status, id, _) = post(svc, request(1, "initialize", init), None).await;
    assert_eq!(status, StatusCode::OK);
    let Some(id) = id else { panic!("no session id") };
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert_eq!(post(svc, initialized, Some(&id)).await.0, StatusCode::ACCEPTED);
    id
}

#[tokio::test]
async fn a_session_opened_on_one_endpoint_is_served_by_another() -> Result<(), StoreError> {
    let store = Arc::new(MemorySessionStore::new());
    let (a, b) = (endpoint(store.clone()), endpoint(store.clone()));
    let id = open(&a).await;
    let stored = store.get(&id).await?.unwrap_or_else(|| panic!("initialize did not store the session"));
    assert_eq!((stored.version.as_str(), stored.log_level.clone()), ("2025-06-18", None));
    assert_eq!(stored.client_capabilities.get("roots"), Some(&json!({})));

    // A change on A is recorded; B adopts the session as recorded.
    let (status, _, _) = post(&a, request(2, "logging/setLevel", json!({"level": "warning"})), Some(&id)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(store.get(&id).await?.and_then(|r| r.log_level), Some("warning".to_owned()));
    let (status, _, listed) = post(&b, request(3, "tools/list", json!({})), Some(&id)).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed["result"]["tools"], json!([]));
    let (_, _, subscribed) = post(&b, request(4, "resources/subscribe", json!({"uri": "test://x"})), Some(&id)).await;
    assert_eq!(subscribed["error"]["code"], -32601, "no resources registered: {subscribed}");
    post(&b, request(5, "logging/setLevel", json!({"level": "error"})), Some(&id)).await;
    let record = store.get(&id).await?.unwrap_or_else(|| panic!("lost"));
    assert_eq!((record.version.as_str(), record.log_level.as_deref()), ("2025-06-18", Some("error")));

    // An unknown session is still 404 everywhere; a deleted one is gone from the store.
    let (status, _, _) = post(&b, request(6, "tools/list", json!({})), Some("0123456789abcdef0123456789abcdef")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let delete = Request::delete("/mcp")
        .header("host", "127.0.0.1:8000")
        .header("mcp-session-id", id.as_str())
        .header("mcp-protocol-version", "2025-11-25")
        .body(Full::new(Bytes::new()))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(b.clone().oneshot(delete).await.unwrap_or_else(|e| match e {}).status(), StatusCode::OK);
    assert_eq!(store.get(&id).await?, None);
    Ok(())
}

#[tokio::test]
async fn a_store_that_is_down_is_a_clear_503() {
    let svc = endpoint(Arc::new(DownStore));
    let init =
        json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "c", "version": "1"}});
    let (status, id, body) = post(&svc, request(1, "initialize", init), None).await;
    assert_eq!((status, id), (StatusCode::SERVICE_UNAVAILABLE, None));
    assert_eq!(body["id"], 1);
    assert!(body["error"]["message"].as_str().unwrap_or_default().contains("session store"), "{body}");
    let (status, _, body) =
        post(&svc, request(2, "tools/list", json!({})), Some("0123456789abcdef0123456789abcdef")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["id"], 2);
}
