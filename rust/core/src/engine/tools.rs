//! `tools/list` (pre-serialized pages) and `tools/call`: the tool is found, its arguments checked against the
//! compiled input schema and filtered to what the handler accepts, and the call handed to the embedder (as a task
//! when the client asked for one).

use super::input::{self, Args, Echo};
use super::table::{answer_page, granted, ListParams, Req, RequestMeta};
use super::task_ext::{self, TaskLink};
use super::{CallExtras, Engine};
use crate::context::RequestCtx;
use crate::error::McpError;
use crate::jsonrpc;
use crate::registry::{ListKind, TaskSupport, Tool};
use crate::tasks;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::sync::OnceLock;

/// `tools/call` params. A transport that has parsed them already hands them over ([`call_parsed`]).
#[derive(Deserialize)]
pub(crate) struct CallParams<'a> {
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    #[serde(borrow, default)]
    pub arguments: Option<&'a RawValue>,
    #[serde(rename = "_meta", borrow, default)]
    pub meta: Option<RequestMeta<'a>>,
    #[serde(default)]
    pub task: Option<TaskParams>,
    #[serde(rename = "inputResponses", default)]
    pub input_responses: Option<Value>,
    #[serde(rename = "requestState", borrow, default)]
    pub request_state: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
pub(crate) struct TaskParams {
    #[serde(default)]
    ttl: Option<u64>,
}

pub(super) fn list(engine: &Engine, req: &Req<'_>) -> Result<(), McpError> {
    let p: ListParams<'_> = req.params()?;
    answer_page(req, engine.registry().tools.page_for(p.cursor.as_deref(), granted(req)))
}

pub(super) fn call(engine: &Engine, req: &Req<'_>) -> Result<(), McpError> {
    call_parsed(engine, req, req.params()?)
}

pub(super) fn call_parsed(engine: &Engine, req: &Req<'_>, p: CallParams<'_>) -> Result<(), McpError> {
    let registry = engine.registry();
    let tool = registry.tool(&p.name).ok_or_else(|| McpError::invalid_params(format!("Unknown tool: {}", p.name)))?;
    let parsed = p.arguments.map(|raw| crate::jsonrpc::parse_exact(raw.get())).transpose();
    let mut arguments = match parsed.map_err(|e| McpError::invalid_params(format!("Invalid params: {e}")))? {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(v @ Value::Object(_)) => v,
        Some(_) => return Err(McpError::invalid_params("Invalid params: tools/call arguments must be an object")),
    };
    // Invalid arguments are a tool execution error (SEP-1303), so the model sees what to fix.
    if let Some(problems) = tool.input.check(&arguments) {
        req.answer(&error_result(&format!("Invalid arguments for tool {:?}: {problems}", tool.name)));
        return Ok(());
    }
    let echo = Echo { input_responses: p.input_responses, request_state: p.request_state.as_deref() };
    let text = p.arguments.map(RawValue::get).filter(|t| *t != "null");
    let round_trip = input::begin(engine, req, &tool.name, Args::Text(text), echo)?;
    if let (Some(accepts), Value::Object(map)) = (&tool.accepts, &mut arguments) {
        if map.keys().any(|k| !accepts.contains(k)) {
            map.retain(|k, _| accepts.contains(k));
        }
    }
    let token = p.meta.and_then(|m| m.progress_token);
    if req.ctx.as_ref().is_some_and(RequestCtx::is_modern) {
        // The tasks extension: the server decides; a legacy `task` param is tolerated and ignored.
        let task = match (tool.task_support, task_ext::declared(req)) {
            (TaskSupport::Forbidden, _) | (TaskSupport::Optional, false) => None,
            (TaskSupport::Required, false) => {
                return Err(task_ext::missing_extension(&format!("Tool {:?}", tool.name)))
            }
            (support, true) => Some(TaskLink {
                tasks: engine.tasks().clone(),
                owner: task_ext::owner(req),
                required: support == TaskSupport::Required,
                id: OnceLock::new(),
            }),
        };
        let extras = CallExtras { output: tool.output.clone(), round_trip, fields: None, task };
        engine.dispatch(req, tool.id, arguments, token, req.reply, extras);
        return Ok(());
    }
    match (p.task, tool.task_support) {
        (Some(_), TaskSupport::Forbidden) => {
            Err(McpError::method_not_found(format!("Tool {:?} does not support task-augmented execution", tool.name)))
        }
        (None, TaskSupport::Required) => {
            Err(McpError::method_not_found(format!("Tool {:?} must be called as a task (params.task)", tool.name)))
        }
        (Some(task), _) => {
            if let Some((task_id, sink)) = tasks::begin(req.session, req.id, task.ttl, req.reply) {
                let output = tool.output.clone();
                if let Some(call) = engine.dispatch(
                    req,
                    tool.id,
                    arguments,
                    token,
                    &sink,
                    CallExtras { output, round_trip: None, fields: None, task: None },
                ) {
                    tasks::attach_call(req.session, &task_id, call);
                }
            }
            Ok(())
        }
        (None, _) => {
            let extras = CallExtras { output: tool.output.clone(), round_trip, fields: None, task: None };
            engine.dispatch(req, tool.id, arguments, token, req.reply, extras);
            Ok(())
        }
    }
}

/// `{"content":[{"type":"text","text":...}],"isError":true}`.
pub fn error_result(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + text.len());
    out.extend_from_slice(b"{\"content\":[{\"type\":\"text\",\"text\":");
    jsonrpc::push_json_string(&mut out, text);
    out.extend_from_slice(b"}],\"isError\":true}");
    out
}

impl Engine {
    pub fn add_tool(&self, tool: Tool) {
        self.update_registry(Some(ListKind::Tools), |r| Some(r.with_tool(tool)));
    }

    pub fn remove_tool(&self, name: &str) -> bool {
        self.update_registry(Some(ListKind::Tools), |r| r.without_tool(name))
    }
}
