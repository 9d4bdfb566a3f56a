//! The resource-server behaviour through the endpoint, with a verifier that knows a few tokens by heart.

use super::*;
use crate::auth::{TokenVerifier, Verification};
use crate::engine::{Engine, ServerConfig};
use crate::http::sessions::SessionRegistry;
use crate::http::stack::McpService;
use crate::http::HttpConfig;
use crate::registry::Tool;
use crate::testing::NoHandlers;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use tower::ServiceExt;

/// Tokens "alice" (scopes mcp, files:read), "bob" (mcp), "weak" (no scopes), "down" (verifier unavailable).
struct Known;

impl TokenVerifier for Known {
    fn verify<'a>(&'a self, token: &'a str) -> Verification<'a> {
        Box::pin(async move {
            let scopes: &[&str] = match token {
                "alice" => &["mcp", "files:read"],
                "bob" => &["mcp"],
                "weak" => &[],
                "down" => return Err(AuthError::Unavailable("backend down".into())),
                _ => return Err(AuthError::InvalidToken("unknown token".into())),
            };
            Ok(Principal {
                subject: token.to_owned(),
                scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
                ..Principal::default()
            })
        })
    }
}

fn endpoint() -> McpService {
    let config = ServerConfig::new(json!({"name": "t", "version": "1"}));
    let engine = Engine::new(config).unwrap_or_else(|e| panic!("{e}"));
    let schema = r#""inputSchema":{"type":"object"}"#;
    let open = Tool::new(1, &format!(r#"{{"name":"open",{schema}}}"#), None).unwrap_or_else(|e| panic!("{e}"));
    let mut read = Tool::new(2, &format!(r#"{{"name":"read",{schema}}}"#), None).unwrap_or_else(|e| panic!("{e}"));
    read.scopes = vec!["files:read".into()];
    engine.add_tool(open);
    engine.add_tool(read);
    let mut auth = AuthConfig::new(Arc::new(Known), "https://mcp.example.com/mcp");
    auth.authorization_servers = vec!["https://issuer.example.com".into()];
    auth.required_scopes = vec!["mcp".into()];
    let config = HttpConfig { auth: Some(auth), ..HttpConfig::default() };
    let registry = Arc::new(SessionRegistry::new(config.max_sessions));
    McpService(Arc::new(Service::new(Arc::new(engine), Arc::new(NoHandlers), config, registry)))
}

fn post(body: Value, token: Option<&str>, session: Option<&str>) -> Request<Full<Bytes>> {
    let mut req = Request::post("/mcp")
        .header("host", "127.0.0.1:8000")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    if let Some(token) = token {
        req = req.header("authorization", format!("Bearer {token}"));
    }
    if let Some(session) = session {
        req = req.header("mcp-session-id", session);
    }
    req.body(Full::new(Bytes::from(body.to_string()))).unwrap_or_else(|e| panic!("{e}"))
}

fn get(path: &str) -> Request<Full<Bytes>> {
    let req = Request::get(path).header("host", "127.0.0.1:8000").body(Full::new(Bytes::new()));
    req.unwrap_or_else(|e| panic!("{e}"))
}

async fn send(svc: &McpService, req: Request<Full<Bytes>>) -> (StatusCode, HeaderMap, Value) {
    let resp = svc.clone().oneshot(req).await.unwrap_or_else(|e| match e {});
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.unwrap_or_else(|e| panic!("{e}")).to_bytes();
    (parts.status, parts.headers, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn challenge(headers: &HeaderMap) -> &str {
    headers.get(WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()).unwrap_or("")
}

const PRM: &str = r#"resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp""#;

fn initialize() -> Value {
    let params =
        json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "c", "version": "1"}});
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params})
}

async fn session_for(svc: &McpService, token: &str) -> String {
    let resp = svc.clone().oneshot(post(initialize(), Some(token), None)).await.unwrap_or_else(|e| match e {});
    assert_eq!(resp.status(), StatusCode::OK);
    let id = resp.headers().get("mcp-session-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    id.unwrap_or_else(|| panic!("no session"))
}

#[tokio::test]
async fn requests_without_a_valid_token_are_challenged() {
    let svc = endpoint();
    let (status, headers, body) = send(&svc, post(initialize(), None, None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(challenge(&headers), format!(r#"Bearer scope="mcp", {PRM}"#));
    assert_eq!(body["error"], "unauthorized");
    let (status, headers, body) = send(&svc, post(initialize(), Some("forged"), None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let c = challenge(&headers);
    assert!(c.starts_with(r#"Bearer error="invalid_token", error_description="unknown token", scope="mcp""#), "{c}");
    assert!(c.ends_with(PRM), "{c}");
    assert_eq!(body["error"], "invalid_token");
    // A malformed Authorization header is a bad request; another scheme is no token at all.
    let mut req = post(initialize(), None, None);
    req.headers_mut().insert(AUTHORIZATION, HeaderValue::from_static("Bearer a b"));
    assert_eq!(send(&svc, req).await.0, StatusCode::BAD_REQUEST);
    let mut req = post(initialize(), None, None);
    req.headers_mut().insert(AUTHORIZATION, HeaderValue::from_static("Basic YTpi"));
    assert_eq!(send(&svc, req).await.0, StatusCode::UNAUTHORIZED);
    // Missing server-wide scopes: 403 naming them.
    let (status, headers, _) = send(&svc, post(initialize(), Some("weak"), None)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(challenge(&headers).starts_with(r#"Bearer error="insufficient_scope""#));
    assert!(challenge(&headers).contains(r#"scope="mcp""#));
    let (status, headers, _) = send(&svc, post(initialize(), Some("down"), None)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers.get(RETRY_AFTER).and_then(|v| v.to_str().ok()), Some("5"));
    // GET is challenged too; health stays open.
    assert_eq!(send(&svc, get("/mcp")).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(send(&svc, get("/healthz")).await.0, StatusCode::OK);
}

#[tokio::test]
async fn metadata_is_served_at_both_well_known_paths() {
    let svc = endpoint();
    for path in ["/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"] {
        let (status, headers, doc) = send(&svc, get(path)).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(headers.get(ACCESS_CONTROL_ALLOW_ORIGIN).and_then(|v| v.to_str().ok()), Some("*"));
        assert_eq!(
            doc,
            json!({
                "resource": "https://mcp.example.com/mcp",
                "authorization_servers": ["https://issuer.example.com"],
                "scopes_supported": ["mcp"],
                "bearer_methods_supported": ["header"],
            })
        );
    }
    assert_eq!(send(&svc, get("/.well-known/oauth-protected-resource/other")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(metadata_url("https://a.example.com"), "https://a.example.com/.well-known/oauth-protected-resource");
    assert_eq!(metadata_url("https://a.example.com/"), "https://a.example.com/.well-known/oauth-protected-resource");
}

#[tokio::test]
async fn scopes_filter_lists_and_gate_calls_and_sessions_stay_with_their_owner() {
    let svc = endpoint();
    let alice = session_for(&svc, "alice").await;
    let bob = session_for(&svc, "bob").await;
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    let names = |body: &Value| -> Vec<String> {
        let tools = body["result"]["tools"].as_array().cloned().unwrap_or_default();
        tools.iter().filter_map(|t| t["name"].as_str()).map(str::to_owned).collect()
    };
    let (_, _, body) = send(&svc, post(list.clone(), Some("alice"), Some(&alice))).await;
    assert_eq!(names(&body), ["open", "read"]);
    let (_, _, body) = send(&svc, post(list, Some("bob"), Some(&bob))).await;
    assert_eq!(names(&body), ["open"]);
    // Calling the tool without its scope: 403, challenging every scope the call needs.
    let call = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "read", "arguments": {}}});
    let (status, headers, _) = send(&svc, post(call, Some("bob"), Some(&bob))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let c = challenge(&headers);
    assert!(c.starts_with(r#"Bearer error="insufficient_scope""#) && c.contains(r#"scope="mcp files:read""#), "{c}");
    // Bob presenting Alice's session: it does not exist for him.
    let ping = json!({"jsonrpc": "2.0", "id": 4, "method": "ping"});
    assert_eq!(send(&svc, post(ping.clone(), Some("bob"), Some(&alice))).await.0, StatusCode::NOT_FOUND);
    assert_eq!(send(&svc, post(ping, Some("alice"), Some(&alice))).await.0, StatusCode::OK);
}
