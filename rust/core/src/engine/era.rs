//! The era gate: a request whose `params._meta` names a protocol version is a stateless (2026-07-28) request
//! and is handled with the context its `_meta` declares, never a session's; any other request belongs to the
//! legacy session it arrived on. Errors are the modern ones (-32022 for an unsupported version, -32602 for a
//! missing required `_meta` field), so a client probing the era learns it from the answer.

use crate::context::{LogThreshold, RequestCtx};
use crate::error::McpError;
use crate::protocol::{self, meta, ProtocolVersion};
use crate::session::Session;
use memchr::memmem::Finder;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::sync::{Arc, OnceLock};

#[derive(Deserialize)]
struct Params<'a> {
    #[serde(rename = "_meta", borrow, default)]
    meta: Option<Meta<'a>>,
}

#[derive(Deserialize)]
struct Meta<'a> {
    #[serde(rename = "io.modelcontextprotocol/protocolVersion", borrow, default)]
    protocol_version: Option<&'a RawValue>,
    #[serde(rename = "io.modelcontextprotocol/clientCapabilities", default)]
    client_capabilities: Option<Value>,
    #[serde(rename = "io.modelcontextprotocol/logLevel", default)]
    log_level: Option<Value>,
}

/// The context of a stateless request, `None` for a legacy one (no `_meta` protocol version).
pub(super) fn modern_ctx(session: &Session, params: Option<&RawValue>) -> Result<Option<RequestCtx>, McpError> {
    // Cheap first: only requests that mention the key are parsed for it (a prebuilt searcher: building one per
    // request cost more than the rest of the gate).
    static FINDER: OnceLock<Finder<'static>> = OnceLock::new();
    let finder = FINDER.get_or_init(|| Finder::new(meta::PROTOCOL_VERSION));
    let Some(raw) = params.filter(|p| finder.find(p.get().as_bytes()).is_some()) else { return Ok(None) };
    let Ok(Params { meta: Some(m) }) = serde_json::from_str::<Params<'_>>(raw.get()) else { return Ok(None) };
    let Some(requested) = m.protocol_version else { return Ok(None) };
    let version = serde_json::from_str::<&str>(requested.get())
        .ok()
        .and_then(ProtocolVersion::parse)
        .filter(|v| !v.is_legacy())
        .ok_or_else(|| unsupported(requested))?;
    let capabilities = match m.client_capabilities {
        Some(Value::Object(caps)) => caps,
        _ => {
            return Err(McpError::invalid_params(format!(
                "Invalid params: _meta[\"{}\"] (an object) is required",
                meta::CLIENT_CAPABILITIES
            )))
        }
    };
    let log = match m.log_level {
        None => LogThreshold::Off,
        Some(Value::String(level)) => LogThreshold::Fixed(protocol::log_rank(&level).ok_or_else(|| bad_level(&level))?),
        Some(other) => return Err(bad_level(&other.to_string())),
    };
    Ok(Some(RequestCtx {
        version,
        client_capabilities: Arc::new(capabilities),
        log,
        principal: None,
        transport: session.transport,
    }))
}

fn unsupported(requested: &RawValue) -> McpError {
    McpError::unsupported_version(&serde_json::from_str(requested.get()).unwrap_or(Value::Null))
}

fn bad_level(level: &str) -> McpError {
    McpError::invalid_params(format!("Invalid params: _meta[\"{}\"] is not a log level: {level}", meta::LOG_LEVEL))
}
