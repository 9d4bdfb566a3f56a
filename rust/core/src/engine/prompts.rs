//! `prompts/list` (pre-serialized pages) and `prompts/get` (name and required arguments checked here; the
//! embedder's handler renders the messages).

use super::input::{self, Args, Echo};
use super::table::{answer_page, granted, ListParams, Req, RequestMeta};
use super::{CallExtras, Engine};
use crate::error::McpError;
use crate::registry::{ListKind, Prompt};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::borrow::Cow;

#[derive(Deserialize)]
struct GetPromptParams<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(default)]
    arguments: Option<Map<String, Value>>,
    #[serde(rename = "_meta", borrow, default)]
    meta: Option<RequestMeta<'a>>,
    #[serde(rename = "inputResponses", default)]
    input_responses: Option<Value>,
    #[serde(rename = "requestState", borrow, default)]
    request_state: Option<Cow<'a, str>>,
}

pub(super) fn list(engine: &Engine, req: &Req<'_>) -> Result<(), McpError> {
    let p: ListParams<'_> = req.params()?;
    answer_page(req, engine.registry().prompts.page_for(p.cursor.as_deref(), granted(req)))
}

pub(super) fn get(engine: &Engine, req: &Req<'_>) -> Result<(), McpError> {
    let p: GetPromptParams<'_> = req.params()?;
    let registry = engine.registry();
    let prompt =
        registry.prompts.get(&p.name).ok_or_else(|| McpError::invalid_params(format!("Unknown prompt: {}", p.name)))?;
    let mut args = p.arguments.unwrap_or_default();
    if let Some(missing) = prompt.required.iter().find(|r| !args.contains_key(*r)) {
        let msg = format!("Invalid params: prompt {:?} needs the argument {missing:?}", prompt.name);
        return Err(McpError::invalid_params(msg));
    }
    args.retain(|k, _| prompt.arguments.contains(k));
    let args = Value::Object(args);
    let echo = Echo { input_responses: p.input_responses, request_state: p.request_state.as_deref() };
    let round_trip = input::begin(engine, req, &prompt.name, Args::Value(&args), echo)?;
    let token = p.meta.and_then(|m| m.progress_token);
    engine.dispatch(
        req,
        prompt.id,
        args,
        token,
        req.reply,
        CallExtras { output: None, round_trip, fields: None, task: None },
    );
    Ok(())
}

impl Engine {
    pub fn add_prompt(&self, prompt: Prompt) {
        self.update_registry(Some(ListKind::Prompts), |r| Some(r.with_prompt(prompt)));
    }

    pub fn remove_prompt(&self, name: &str) -> bool {
        self.update_registry(Some(ListKind::Prompts), |r| r.without_prompt(name))
    }
}
