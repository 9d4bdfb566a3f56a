//! `initialize` (the legacy handshake: version negotiation, client capabilities) and `ping`.

use super::table::Req;
use super::Engine;
use crate::error::McpError;
use crate::protocol::ProtocolVersion;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::sync::Arc;

#[derive(Deserialize)]
struct InitializeParams<'a> {
    #[serde(rename = "protocolVersion", borrow)]
    protocol_version: Cow<'a, str>,
    #[serde(default)]
    capabilities: Option<Map<String, Value>>,
}

pub(super) fn initialize(engine: &Engine, req: &Req<'_>) -> Result<(), McpError> {
    let p: InitializeParams<'_> = req.params()?;
    let version = ProtocolVersion::negotiate(&p.protocol_version);
    {
        let mut state = req.session.state();
        if state.version.is_some() {
            return Err(McpError::invalid_request("Invalid Request: the session is already initialized"));
        }
        state.version = Some(version);
        state.client_capabilities = Arc::new(p.capabilities.unwrap_or_default());
    }
    let mut result = json!({
        "protocolVersion": version.as_str(),
        "capabilities": engine.capabilities(),
        "serverInfo": engine.config.server_info,
    });
    if let (Some(text), Some(obj)) = (&engine.config.instructions, result.as_object_mut()) {
        obj.insert("instructions".into(), Value::String(text.clone()));
    }
    req.answer(result.to_string().as_bytes());
    Ok(())
}

/// `server/discover` (2026-07-28): the versions spoken per request, what is offered, and who serves it.
/// Serialized once per registry snapshot; the caching hints and `_meta.serverInfo` are added like any result's.
pub(super) fn discover(engine: &Engine, req: &Req<'_>) -> Result<(), McpError> {
    let registry = engine.registry();
    let body = registry.discover.get_or_init(|| {
        let versions: Vec<&str> = ProtocolVersion::MODERN.iter().map(|v| v.as_str()).collect();
        let mut result = json!({"supportedVersions": versions, "capabilities": engine.modern_capabilities()});
        if let (Some(text), Some(obj)) = (&engine.config.instructions, result.as_object_mut()) {
            obj.insert("instructions".into(), Value::String(text.clone()));
        }
        result.to_string().into_bytes()
    });
    req.answer(body);
    Ok(())
}

pub(super) fn ping(_: &Engine, req: &Req<'_>) -> Result<(), McpError> {
    req.answer(b"{}");
    Ok(())
}

impl Engine {
    /// The capabilities of the stateless era, from what is registered: list changes and resource updates are
    /// delivered on `subscriptions/listen`, logging is requested per request, and tasks are not offered there.
    pub(crate) fn modern_capabilities(&self) -> Value {
        let mut caps = self.capabilities();
        let registry = self.registry();
        if let Some(obj) = caps.as_object_mut() {
            obj.remove("tasks");
            let mut extensions: serde_json::Map<String, Value> =
                registry.extensions.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            if registry.has_task_tools() {
                extensions.insert(super::task_ext::EXTENSION.into(), json!({}));
            }
            if !extensions.is_empty() {
                obj.insert("extensions".into(), Value::Object(extensions));
            }
        }
        caps
    }

    /// The capabilities answered to `initialize`, from what is registered.
    pub(crate) fn capabilities(&self) -> Value {
        let reg = self.registry();
        let mut caps = json!({"logging": {}, "tools": {"listChanged": true}});
        if let Some(obj) = caps.as_object_mut() {
            if !reg.resources.is_empty() || !reg.templates.is_empty() {
                obj.insert("resources".into(), json!({"subscribe": true, "listChanged": true}));
            }
            if !reg.prompts.is_empty() {
                obj.insert("prompts".into(), json!({"listChanged": true}));
            }
            if reg.completion.is_some() {
                obj.insert("completions".into(), json!({}));
            }
            if reg.has_task_tools() {
                obj.insert("tasks".into(), json!({"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}));
            }
        }
        caps
    }
}
