//! Authorization as an OAuth 2.1 resource server: who a bearer token says is asking, and what the server
//! tells clients about it (RFC 9728 Protected Resource Metadata).
//!
//! - [`jwt`]: JWTs verified against a JWKS (signature by the key `kid` names, `iss`, `aud` = this server's
//!   resource URL per RFC 8707, `exp`/`nbf`, required scopes).
//! - [`TokenVerifier`]: the seam any verifier fills (the JWT one, or one the embedder writes: an opaque-token
//!   introspection in Python).
//! - [`AuthConfig`]: what the HTTP transport needs (the verifier, the resource URL, the authorization servers,
//!   the scopes); the HTTP behaviour itself (401/403 challenges, the metadata endpoint) is `http::auth`.

pub mod jwt;

use crate::context::Principal;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// Why a token was not accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthError {
    /// The token is malformed, forged, expired, not yet valid, or meant for someone else: 401 with
    /// `error="invalid_token"`.
    InvalidToken(String),
    /// The token is valid but lacks these scopes: 403 with `error="insufficient_scope"`.
    InsufficientScope(Vec<String>),
    /// The token could not be checked now (keys or the verifier unavailable): 503, the client may retry.
    Unavailable(String),
}

impl std::fmt::Display for AuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthError::InvalidToken(why) => write!(f, "invalid token: {why}"),
            AuthError::InsufficientScope(scopes) => write!(f, "insufficient scope: needs {}", scopes.join(" ")),
            AuthError::Unavailable(why) => write!(f, "token verification unavailable: {why}"),
        }
    }
}

/// A verification in progress.
pub type Verification<'a> = Pin<Box<dyn Future<Output = Result<Principal, AuthError>> + Send + 'a>>;

/// Turns a bearer token into the principal it speaks for. Called on the HTTP I/O threads: it must not block
/// them (a verifier that needs I/O awaits it).
pub trait TokenVerifier: Send + Sync {
    fn verify<'a>(&'a self, token: &'a str) -> Verification<'a>;
}

/// What the HTTP transport needs to act as a resource server.
#[derive(Clone)]
pub struct AuthConfig {
    pub verifier: Arc<dyn TokenVerifier>,
    /// This server's canonical resource URL (RFC 8707 / RFC 9728 `resource`), e.g. `https://mcp.example.com/mcp`.
    pub resource: String,
    /// `authorization_servers` of the metadata: the issuers clients get tokens from.
    pub authorization_servers: Vec<String>,
    /// Scopes every request needs (challenged in 401s).
    pub required_scopes: Vec<String>,
    /// `scopes_supported` of the metadata; the required scopes when empty.
    pub scopes_supported: Vec<String>,
    /// `resource_name` of the metadata, if any.
    pub resource_name: Option<String>,
    /// `resource_documentation` of the metadata, if any.
    pub resource_documentation: Option<String>,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("resource", &self.resource)
            .field("authorization_servers", &self.authorization_servers)
            .field("required_scopes", &self.required_scopes)
            .finish_non_exhaustive()
    }
}

impl AuthConfig {
    /// A configuration for `resource` with `verifier` and nothing else set.
    pub fn new(verifier: Arc<dyn TokenVerifier>, resource: impl Into<String>) -> AuthConfig {
        AuthConfig {
            verifier,
            resource: resource.into(),
            authorization_servers: Vec::new(),
            required_scopes: Vec::new(),
            scopes_supported: Vec::new(),
            resource_name: None,
            resource_documentation: None,
        }
    }

    /// Checks the configuration: the resource is an absolute http(s) URL without a fragment (RFC 8707 §2).
    pub fn validate(&self) -> Result<(), String> {
        check_resource_url(&self.resource)
    }
}

/// An RFC 8707 resource indicator: absolute http(s), no fragment.
pub fn check_resource_url(url: &str) -> Result<(), String> {
    let lower = url.to_ascii_lowercase();
    let rest = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://"));
    match rest {
        None => Err(format!("resource URL {url:?} must be an absolute http(s) URL")),
        Some(r) if r.is_empty() || r.starts_with('/') => Err(format!("resource URL {url:?} has no host")),
        Some(_) if url.contains('#') => Err(format!("resource URL {url:?} must not have a fragment")),
        Some(_) => Ok(()),
    }
}

/// The scopes a token grants: `scope` (space-separated, RFC 9068 / RFC 8693) or `scp` (an array, or a
/// space-separated string, as some issuers send).
pub fn scopes_of(claims: &serde_json::Map<String, serde_json::Value>) -> Vec<String> {
    use serde_json::Value;
    let split = |s: &str| s.split_ascii_whitespace().map(str::to_owned).collect::<Vec<_>>();
    match (claims.get("scope"), claims.get("scp")) {
        (Some(Value::String(s)), _) => split(s),
        (_, Some(Value::Array(items))) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        (_, Some(Value::String(s))) => split(s),
        _ => Vec::new(),
    }
}

/// The scopes of `needed` that `granted` lacks, in `needed`'s order.
pub fn missing_scopes(needed: &[String], granted: &[String]) -> Vec<String> {
    needed.iter().filter(|s| !granted.contains(s)).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scopes_come_from_scope_or_scp() {
        let claims = |v: serde_json::Value| v.as_object().cloned().unwrap_or_default();
        assert_eq!(scopes_of(&claims(json!({"scope": "a  b"}))), ["a", "b"]);
        assert_eq!(scopes_of(&claims(json!({"scp": ["a", 3, "c"]}))), ["a", "c"]);
        assert_eq!(scopes_of(&claims(json!({"scp": "x y"}))), ["x", "y"]);
        assert!(scopes_of(&claims(json!({"scope": 5}))).is_empty());
        let needed = ["a".to_owned(), "b".to_owned()];
        assert_eq!(missing_scopes(&needed, &["b".to_owned()]), ["a"]);
    }

    #[test]
    fn resource_urls_are_absolute_without_fragment() {
        assert!(check_resource_url("https://mcp.example.com/mcp").is_ok());
        assert!(check_resource_url("HTTP://127.0.0.1:8000").is_ok());
        for bad in ["mcp.example.com", "https://", "https:///x", "https://a.b/#f", "ftp://a"] {
            assert!(check_resource_url(bad).is_err(), "{bad}");
        }
    }
}
