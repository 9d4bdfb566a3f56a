//! The endpoint as an OAuth 2.1 resource server (with `HttpConfig::auth`): every request to the MCP path
//! carries `Authorization: Bearer <token>`, verified before anything else looks at it.
//!
//! - No token: 401 with `WWW-Authenticate: Bearer resource_metadata="…", scope="…"`.
//! - A token that fails verification: 401 with `error="invalid_token"` and a description too.
//! - A malformed `Authorization` header (several, or a Bearer without a token): 400 `error="invalid_request"`.
//! - A token without the scopes the server or the tool, resource or prompt needs: 403 with
//!   `error="insufficient_scope", scope="<every scope the operation needs>"` (step-up authorization).
//! - The verifier cannot answer (keys or its backend unavailable): 503 with `Retry-After`.
//!
//! Protected Resource Metadata (RFC 9728) is served at `/.well-known/oauth-protected-resource` and at that path
//! followed by the MCP path (and by the resource URL's path), open to all, like the health endpoints.

use super::body::HttpBody;
use super::service::{Resp, Service};
use crate::auth::{AuthConfig, AuthError};
use crate::context::Principal;
use crate::jsonrpc::{self, Frame, Message};
use crate::registry::permits;
use hyper::header::{
    HeaderMap, HeaderValue, ACCESS_CONTROL_ALLOW_ORIGIN, ALLOW, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE,
    RETRY_AFTER, WWW_AUTHENTICATE,
};
use hyper::{Method, Response, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;

/// Where RFC 9728 metadata lives (the root form; the path form appends the resource's path).
pub const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

/// Splits an absolute URL into its origin (`https://host:port`) and path ("" for none).
fn split_url(url: &str) -> (&str, &str) {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find(['/', '?']) {
        Some(i) => {
            let (origin, rest) = url.split_at(after_scheme + i);
            (origin, rest.split('?').next().unwrap_or("").trim_end_matches('/'))
        }
        None => (url, ""),
    }
}

/// The URL of the resource's metadata document: the well-known path inserted before the resource's path
/// (RFC 9728 §3.1).
pub fn metadata_url(resource: &str) -> String {
    let (origin, path) = split_url(resource);
    format!("{origin}{METADATA_PATH}{path}")
}

/// A quoted-string parameter value (RFC 9110 §5.6.4).
fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        // Control characters cannot appear in a header value.
        out.push(if c.is_control() { ' ' } else { c });
    }
    out.push('"');
    out
}

/// The challenge and its response.
struct Challenge<'a> {
    status: StatusCode,
    error: Option<&'a str>,
    description: Option<&'a str>,
    scopes: &'a [String],
}

impl Challenge<'_> {
    fn response(&self, config: &AuthConfig) -> Resp {
        let mut params = Vec::new();
        if let Some(error) = self.error {
            params.push(format!("error={}", quoted(error)));
        }
        if let Some(description) = self.description {
            params.push(format!("error_description={}", quoted(description)));
        }
        if !self.scopes.is_empty() {
            params.push(format!("scope={}", quoted(&self.scopes.join(" "))));
        }
        params.push(format!("resource_metadata={}", quoted(&metadata_url(&config.resource))));
        let challenge = format!("Bearer {}", params.join(", "));
        let mut body = serde_json::Map::new();
        body.insert("error".into(), Value::from(self.error.unwrap_or("unauthorized")));
        if let Some(description) = self.description {
            body.insert("error_description".into(), Value::from(description));
        }
        let mut resp = Response::new(HttpBody::bytes(Value::Object(body).to_string()));
        *resp.status_mut() = self.status;
        let headers = resp.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            headers.insert(WWW_AUTHENTICATE, value);
        }
        resp
    }
}

/// The bearer token of a request: Ok(None) without an `Authorization` header of the Bearer scheme, Err for a
/// malformed one.
fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, &'static str> {
    let mut values = headers.get_all(AUTHORIZATION).into_iter();
    let Some(value) = values.next() else { return Ok(None) };
    if values.next().is_some() {
        return Err("more than one Authorization header");
    }
    let value = value.to_str().map_err(|_| "the Authorization header is not text")?.trim();
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        // Another scheme is no bearer token: the client is asked for one.
        return Ok(None);
    }
    let token = token.trim();
    // RFC 6750 §2.1: b64token.
    let b64token = |c: char| c.is_ascii_alphanumeric() || "-._~+/=".contains(c);
    if token.is_empty() || !token.chars().all(b64token) {
        return Err("the Bearer credentials are not a token");
    }
    Ok(Some(token))
}

/// How long a client is asked to wait when the verifier is unavailable.
const RETRY_AFTER_SECS: &str = "5";

impl Service {
    /// The caller of a request to the MCP path: Ok(None) when the server has no authorization, the principal
    /// when its token verifies, or the challenge that refuses it.
    pub(super) async fn authenticate(&self, headers: &HeaderMap) -> Result<Option<Arc<Principal>>, Resp> {
        let Some(config) = &self.config.auth else { return Ok(None) };
        let required = &config.required_scopes;
        let token = match bearer_token(headers) {
            Ok(Some(token)) => token,
            Ok(None) => {
                let challenge =
                    Challenge { status: StatusCode::UNAUTHORIZED, error: None, description: None, scopes: required };
                return Err(challenge.response(config));
            }
            Err(why) => {
                let status = StatusCode::BAD_REQUEST;
                let challenge =
                    Challenge { status, error: Some("invalid_request"), description: Some(why), scopes: required };
                return Err(challenge.response(config));
            }
        };
        match config.verifier.verify(token).await {
            Ok(principal) => {
                if !permits(required, &principal.scopes) {
                    return Err(self.insufficient(config, required, "the token lacks scopes this server requires"));
                }
                Ok(Some(Arc::new(principal)))
            }
            Err(AuthError::InvalidToken(why)) => {
                tracing::debug!(%why, "bearer token refused");
                let (status, error) = (StatusCode::UNAUTHORIZED, Some("invalid_token"));
                Err(Challenge { status, error, description: Some(&why), scopes: required }.response(config))
            }
            Err(AuthError::InsufficientScope(needed)) => {
                Err(self.insufficient(config, &needed, "the token lacks scopes this server requires"))
            }
            Err(AuthError::Unavailable(why)) => {
                tracing::warn!(%why, "bearer token cannot be verified now");
                let mut resp = super::service::rpc_error_for(
                    None,
                    StatusCode::SERVICE_UNAVAILABLE,
                    jsonrpc::INTERNAL_ERROR,
                    "Service Unavailable: the token cannot be verified now; try again later",
                );
                resp.headers_mut().insert(RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECS));
                Err(resp)
            }
        }
    }

    fn insufficient(&self, config: &AuthConfig, scopes: &[String], description: &str) -> Resp {
        let (status, error) = (StatusCode::FORBIDDEN, Some("insufficient_scope"));
        Challenge { status, error, description: Some(description), scopes }.response(config)
    }

    /// 403 for a POST whose requests need scopes `principal` lacks (a tool, resource or prompt that declares
    /// scopes): the challenge names every scope the operation needs, the server's included. None to go on.
    pub(super) fn authorize(&self, principal: &Principal, body: &[u8]) -> Option<Resp> {
        let config = self.config.auth.as_ref()?;
        let registry = self.engine.registry();
        if !registry.is_restricted() {
            return None;
        }
        let needed_by = |raw: &serde_json::value::RawValue| match jsonrpc::classify(raw) {
            Ok(Message::Request { method, params, .. }) => registry.scopes_for(&method, params),
            _ => Vec::new(),
        };
        let needed: Vec<String> = match jsonrpc::split(body) {
            Ok(Frame::Single(raw)) => needed_by(raw),
            Ok(Frame::Batch(items)) => items.into_iter().flat_map(needed_by).collect(),
            Err(_) => Vec::new(),
        };
        if permits(&needed, &principal.scopes) {
            return None;
        }
        let mut all = config.required_scopes.clone();
        for scope in needed {
            if !all.contains(&scope) {
                all.push(scope);
            }
        }
        tracing::debug!(subject = %principal.subject, needed = %all.join(" "), "insufficient scope");
        Some(self.insufficient(config, &all, "the token lacks scopes this operation requires"))
    }

    /// The Protected Resource Metadata document, when `path` is where it is served and authorization is on.
    pub(super) fn resource_metadata(&self, method: &Method, path: &str) -> Option<Resp> {
        let config = self.config.auth.as_ref()?;
        let rest = path.strip_prefix(METADATA_PATH)?;
        let (_, resource_path) = split_url(&config.resource);
        let mcp_path = self.config.path.trim_end_matches('/');
        if !(rest.is_empty() || rest == "/" || rest == mcp_path || rest == resource_path) {
            return None;
        }
        let mut resp = if method == Method::GET || method == Method::HEAD {
            let scopes =
                if config.scopes_supported.is_empty() { &config.required_scopes } else { &config.scopes_supported };
            let mut doc = json!({
                "resource": config.resource,
                "authorization_servers": config.authorization_servers,
                "bearer_methods_supported": ["header"],
            });
            if !scopes.is_empty() {
                doc["scopes_supported"] = json!(scopes);
            }
            if let Some(name) = &config.resource_name {
                doc["resource_name"] = json!(name);
            }
            if let Some(docs) = &config.resource_documentation {
                doc["resource_documentation"] = json!(docs);
            }
            let mut resp = Response::new(HttpBody::bytes(doc.to_string()));
            resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            resp
        } else {
            let mut resp = Response::new(HttpBody::empty());
            *resp.status_mut() =
                if method == Method::OPTIONS { StatusCode::NO_CONTENT } else { StatusCode::METHOD_NOT_ALLOWED };
            resp.headers_mut().insert(ALLOW, HeaderValue::from_static("GET, HEAD, OPTIONS"));
            resp
        };
        // Public metadata: browser-based clients read it from other origins.
        resp.headers_mut().insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        Some(resp)
    }
}

#[cfg(test)]
mod tests;
