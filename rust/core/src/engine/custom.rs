//! Methods the embedder answers beyond the protocol's own — an extension's (`skills/list`, `skills/get`) — and
//! the extensions declared under `capabilities.extensions`. A custom method's handler receives the request's
//! params and answers with a whole result; its stateless results carry `resultType`, the server's `_meta` and,
//! when it was registered with one, a caching hint.

use super::table::{self, Req};
use super::{CacheHint, CallExtras, Engine};
use crate::error::{CoreError, McpError};
use crate::registry::CustomMethod;
use serde_json::{json, Value};

/// Answers `req` with the custom method registered under its name; `-32601` when there is none.
pub(super) fn call(engine: &Engine, req: &Req<'_>) -> Result<(), McpError> {
    let registry = engine.registry();
    let Some(method) = registry.methods.get(req.method) else {
        return Err(McpError::method_not_found(format!("Method not found: {}", req.method)));
    };
    let params = match req.params()? {
        Value::Null => json!({}),
        v @ Value::Object(_) => v,
        _ => return Err(McpError::invalid_params(format!("Invalid params for {}: not an object", req.method))),
    };
    // The progress token, from the params already parsed.
    let token = params.pointer("/_meta/progressToken").and_then(|t| serde_json::value::to_raw_value(t).ok());
    let extras = CallExtras { fields: method.fields.clone(), ..CallExtras::default() };
    engine.dispatch(req, method.handler, json!({ "params": params }), token.as_deref(), req.reply, extras);
    Ok(())
}

impl Engine {
    /// Registers (or replaces) a request method answered by the embedder's handler `handler`; `hint` is the
    /// caching hint of its stateless results (none: they carry no `ttlMs`/`cacheScope`). The protocol's own
    /// methods cannot be replaced, and a name needs a `/` (a namespace).
    pub fn add_method(&self, name: &str, handler: u32, hint: Option<&CacheHint>) -> Result<(), CoreError> {
        if table::lookup(name).is_some() {
            return Err(CoreError::Definition(format!("{name:?} is a protocol method; it cannot be replaced")));
        }
        if !name.contains('/') || name.starts_with("notifications/") {
            return Err(CoreError::Definition(format!("{name:?}: a method name is a namespace and a name, a/b")));
        }
        let fields = hint.map(|h| self.shapes.with_hint(h)).transpose().map_err(CoreError::Definition)?;
        let method = CustomMethod { handler, fields };
        self.update_registry(None, |r| Some(r.with_method(name, Some(method))));
        Ok(())
    }

    /// Removes a custom method; false if there was none.
    pub fn remove_method(&self, name: &str) -> bool {
        self.update_registry(None, |r| r.methods.contains_key(name).then(|| r.with_method(name, None)))
    }

    /// Declares (or, with None, withdraws) an extension under `capabilities.extensions` of the stateless era.
    pub fn set_extension(&self, name: &str, settings: Option<Value>) {
        self.update_registry(None, |r| Some(r.with_extension(name, settings)));
    }
}
