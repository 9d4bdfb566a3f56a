//! The era gate: a request whose `params._meta` names a protocol version is a stateless (2026-07-28) request
//! and is handled with the context its `_meta` declares, never a session's; any other request belongs to the
//! legacy session it arrived on. Errors are the modern ones (-32022 for an unsupported version, -32602 for a
//! missing required `_meta` field), so a client probing the era learns it from the answer.

use crate::context::{LogThreshold, RequestCtx, Transport};
use crate::engine::{CallParams, RequestMeta, TaskParams};
use crate::error::McpError;
use crate::jsonrpc;
use crate::protocol::{self, meta, ProtocolVersion};
use memchr::memmem::Finder;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

/// The request `_meta` fields that make a request stateless and describe its context.
#[derive(Deserialize, Default)]
pub(crate) struct Meta<'a> {
    #[serde(rename = "io.modelcontextprotocol/protocolVersion", borrow, default)]
    pub protocol_version: Option<&'a RawValue>,
    #[serde(rename = "io.modelcontextprotocol/clientCapabilities", borrow, default)]
    pub client_capabilities: Option<&'a RawValue>,
    #[serde(rename = "io.modelcontextprotocol/logLevel", borrow, default)]
    pub log_level: Option<&'a RawValue>,
    /// Not part of the context, but read from the same object by transports that parse `_meta` once.
    #[serde(rename = "progressToken", borrow, default)]
    pub progress_token: Option<&'a RawValue>,
}

/// The params of a stateless request, parsed once for everything that reads them before the handler: `_meta`
/// (the request's context), the name or URI `Mcp-Name` mirrors and the arguments `Mcp-Param-*` mirror (HTTP
/// routing), and the rest of a `tools/call`'s params.
#[derive(Deserialize, Default)]
pub(crate) struct StatelessParams<'a> {
    #[serde(rename = "_meta", borrow, default)]
    pub meta: Option<Meta<'a>>,
    #[serde(borrow, default)]
    pub name: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub uri: Option<&'a RawValue>,
    #[serde(rename = "taskId", borrow, default)]
    pub task_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub arguments: Option<&'a RawValue>,
    // The rest of what `tools/call` reads, so that its params are parsed once (kept raw here, so a malformed
    // one is reported by the engine, precisely, instead of failing this parse).
    #[serde(borrow, default)]
    task: Option<&'a RawValue>,
    #[serde(rename = "inputResponses", borrow, default)]
    input_responses: Option<&'a RawValue>,
    #[serde(rename = "requestState", borrow, default)]
    request_state: Option<&'a RawValue>,
    /// `name` as text, read once for every use (None when absent or not a string).
    #[serde(skip)]
    pub name_text: Option<Cow<'a, str>>,
}

impl<'a> StatelessParams<'a> {
    pub fn of(params: Option<&'a RawValue>) -> StatelessParams<'a> {
        let mut parsed: StatelessParams<'a> =
            params.and_then(|p| serde_json::from_str(p.get()).ok()).unwrap_or_default();
        parsed.name_text = parsed.name.and_then(jsonrpc::json_str);
        parsed
    }

    /// The params of a `tools/call` with a string `name`, handed to the engine as they are; None otherwise
    /// (the engine then parses them itself, and reports what is wrong).
    pub fn into_call(self) -> Option<CallParams<'a>> {
        fn parse<'a, T: Deserialize<'a>>(raw: Option<&'a RawValue>) -> Option<Option<T>> {
            raw.map(|r| serde_json::from_str(r.get())).transpose().ok()
        }
        let name = self.name_text?;
        let progress_token = self.meta.and_then(|m| m.progress_token);
        Some(CallParams {
            name,
            arguments: self.arguments,
            meta: Some(RequestMeta { progress_token }),
            task: parse::<TaskParams>(self.task)?,
            input_responses: parse::<Value>(self.input_responses)?,
            request_state: parse::<Cow<'a, str>>(self.request_state)?,
        })
    }

    /// The context the request's `_meta` declares (see [`context`]).
    pub fn context(&self, transport: Transport) -> Result<RequestCtx, McpError> {
        const NO_META: Meta<'static> =
            Meta { protocol_version: None, client_capabilities: None, log_level: None, progress_token: None };
        context(self.meta.as_ref().unwrap_or(&NO_META), transport)
    }

    /// The `_meta` protocol version, as a string.
    pub fn version(&self) -> Option<Cow<'a, str>> {
        jsonrpc::json_str(self.meta.as_ref()?.protocol_version?)
    }
}

/// The params of a stateless request, `None` for a legacy one (no `_meta` protocol version).
pub(super) fn stateless_params(params: Option<&RawValue>) -> Option<StatelessParams<'_>> {
    // Cheap first: only requests that mention the key are parsed for it (a prebuilt searcher: building one per
    // request cost more than the rest of the gate).
    static FINDER: OnceLock<Finder<'static>> = OnceLock::new();
    let finder = FINDER.get_or_init(|| Finder::new(meta::PROTOCOL_VERSION));
    let raw = params.filter(|p| finder.find(p.get().as_bytes()).is_some())?;
    let parsed = StatelessParams::of(Some(raw));
    parsed.meta.as_ref()?.protocol_version?;
    Some(parsed)
}

/// The context a stateless request's `_meta` declares (its protocol version must be present): -32022 for a
/// version this server does not speak per request, -32602 for missing capabilities or a bad log level.
fn context(m: &Meta<'_>, transport: Transport) -> Result<RequestCtx, McpError> {
    let requested = m.protocol_version.ok_or_else(|| {
        McpError::invalid_params(format!("Invalid params: _meta[\"{}\"] is required", meta::PROTOCOL_VERSION))
    })?;
    let version = serde_json::from_str::<&str>(requested.get())
        .ok()
        .and_then(ProtocolVersion::parse)
        .filter(|v| !v.is_legacy())
        .ok_or_else(|| unsupported(requested))?;
    let client_capabilities = capabilities(m.client_capabilities).ok_or_else(|| {
        McpError::invalid_params(format!(
            "Invalid params: _meta[\"{}\"] (an object) is required",
            meta::CLIENT_CAPABILITIES
        ))
    })?;
    let log = match m.log_level {
        None => LogThreshold::Off,
        Some(raw) => match jsonrpc::json_str(raw) {
            Some(level) => LogThreshold::Fixed(protocol::log_rank(&level).ok_or_else(|| bad_level(&level))?),
            None => return Err(bad_level(raw.get())),
        },
    };
    Ok(RequestCtx { version, client_capabilities, log, principal: None, transport })
}

/// The declared capabilities; an empty declaration (most requests) shares one map instead of allocating.
fn capabilities(raw: Option<&RawValue>) -> Option<Arc<Map<String, Value>>> {
    static EMPTY: OnceLock<Arc<Map<String, Value>>> = OnceLock::new();
    let raw = raw?;
    if raw.get() == "{}" {
        return Some(EMPTY.get_or_init(|| Arc::new(Map::new())).clone());
    }
    match serde_json::from_str::<Value>(raw.get()) {
        Ok(Value::Object(caps)) if caps.is_empty() => Some(EMPTY.get_or_init(|| Arc::new(Map::new())).clone()),
        Ok(Value::Object(caps)) => Some(Arc::new(caps)),
        _ => None,
    }
}

fn unsupported(requested: &RawValue) -> McpError {
    McpError::unsupported_version(&serde_json::from_str(requested.get()).unwrap_or(Value::Null))
}

fn bad_level(level: &str) -> McpError {
    McpError::invalid_params(format!("Invalid params: _meta[\"{}\"] is not a log level: {level}", meta::LOG_LEVEL))
}
