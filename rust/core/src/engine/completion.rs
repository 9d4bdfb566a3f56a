//! `completion/complete`: the reference and argument are checked here; the embedder's handler computes values.

use super::table::Req;
use super::{CallExtras, Engine};
use crate::error::McpError;
use crate::registry::ListKind;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
struct CompleteParams {
    #[serde(rename = "ref")]
    reference: Value,
    argument: Value,
    #[serde(default)]
    context: Option<Value>,
}

pub(super) fn complete(engine: &Engine, req: &Req<'_>) -> Result<(), McpError> {
    let p: CompleteParams = req.params()?;
    let kind = p.reference.get("type").and_then(Value::as_str);
    let valid_ref = match kind {
        Some("ref/prompt") => p.reference.get("name").is_some_and(Value::is_string),
        Some("ref/resource") => p.reference.get("uri").is_some_and(Value::is_string),
        _ => false,
    };
    let valid_arg =
        p.argument.get("name").is_some_and(Value::is_string) && p.argument.get("value").is_some_and(Value::is_string);
    if !valid_ref || !valid_arg {
        return Err(McpError::invalid_params(
            "Invalid params: completion needs a ref/prompt or ref/resource reference and an argument {name, value}",
        ));
    }
    let context = p.context.unwrap_or(Value::Null);
    let args = json!({"ref": p.reference, "argument": p.argument, "context": context});
    if let Some(handler) = engine.registry().completion {
        engine.dispatch(req, handler, args, None, req.reply, CallExtras::default());
    }
    Ok(())
}

impl Engine {
    pub fn set_completion(&self, handler: Option<u32>) {
        self.update_registry(None::<ListKind>, |r| Some(r.with_completion(handler)));
    }
}
