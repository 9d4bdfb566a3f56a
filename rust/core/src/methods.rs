//! Resources, resource templates, prompts and completion: listing, validation and dispatch, all in the core;
//! only reading a resource, rendering a prompt and computing completions run the embedder's handlers.

use super::{params, Engine, ListParams};
use crate::jsonrpc::{self, RequestId, INVALID_PARAMS, METHOD_NOT_FOUND};
use crate::registry::{ListKind, Prompt, Resource, ResourceTemplate};
use crate::session::{OutKind, Outbound, Session};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::sync::Arc;

/// Legacy-era "resource not found" (2026-07-28 uses -32602 instead).
pub const RESOURCE_NOT_FOUND: i32 = -32002;

#[derive(Deserialize)]
struct UriParams<'a> {
    #[serde(borrow)]
    uri: Cow<'a, str>,
    #[serde(rename = "_meta", borrow, default)]
    meta: Option<Meta<'a>>,
}

#[derive(Deserialize)]
struct Meta<'a> {
    #[serde(rename = "progressToken", borrow, default)]
    progress_token: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct GetPromptParams<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(default)]
    arguments: Option<Map<String, Value>>,
    #[serde(rename = "_meta", borrow, default)]
    meta: Option<Meta<'a>>,
}

#[derive(Deserialize)]
struct CompleteParams {
    #[serde(rename = "ref")]
    reference: Value,
    argument: Value,
    #[serde(default)]
    context: Option<Value>,
}

impl Engine {
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

    pub fn add_resource(&self, resource: Resource) {
        self.update_registry(Some(ListKind::Resources), |r| Some(r.with_resource(resource)));
    }

    pub fn add_template(&self, template: ResourceTemplate) {
        self.update_registry(Some(ListKind::Resources), |r| Some(r.with_template(template)));
    }

    /// Removes a resource or template by URI (template text); false if there was none.
    pub fn remove_resource(&self, uri: &str) -> bool {
        self.update_registry(Some(ListKind::Resources), |r| r.without_resource(uri))
    }

    pub fn add_prompt(&self, prompt: Prompt) {
        self.update_registry(Some(ListKind::Prompts), |r| Some(r.with_prompt(prompt)));
    }

    pub fn remove_prompt(&self, name: &str) -> bool {
        self.update_registry(Some(ListKind::Prompts), |r| r.without_prompt(name))
    }

    pub fn set_completion(&self, handler: Option<u32>) {
        self.update_registry(None, |r| Some(r.with_completion(handler)));
    }

    /// Sends `notifications/resources/updated` to the sessions subscribed to `uri`; returns how many.
    pub fn notify_resource_updated(&self, uri: &str) -> usize {
        let mut params = Vec::with_capacity(16 + uri.len());
        params.extend_from_slice(b"{\"uri\":");
        jsonrpc::push_json_string(&mut params, uri);
        params.push(b'}');
        let msg = jsonrpc::notification("notifications/resources/updated", &params);
        self.broadcast(|s| s.state().subscriptions.contains(uri), &msg)
    }

    /// Answers the methods of resources, prompts and completion. False if `method` is none of them.
    pub(crate) fn surface_request(
        &self,
        session: &Arc<Session>,
        id: &RequestId,
        method: &str,
        raw: Option<&RawValue>,
        reply: &Arc<dyn Outbound>,
    ) -> bool {
        let answer = |result: &[u8]| reply.send(jsonrpc::result_response(id, result), OutKind::Response);
        let fail = |code: i32, msg: &str, data: Option<&str>| {
            reply.send(jsonrpc::error_response(Some(id), code, msg, data), OutKind::Response)
        };
        let reg = self.registry();
        let has_resources = !reg.resources.is_empty() || !reg.templates.is_empty();
        let offered = match method {
            "resources/list"
            | "resources/templates/list"
            | "resources/read"
            | "resources/subscribe"
            | "resources/unsubscribe" => has_resources,
            "prompts/list" | "prompts/get" => !reg.prompts.is_empty(),
            "completion/complete" => reg.completion.is_some(),
            "tasks/get" | "tasks/result" | "tasks/list" | "tasks/cancel" => reg.has_task_tools(),
            _ => return false,
        };
        if !offered {
            fail(METHOD_NOT_FOUND, &format!("Method not found: {method} (no such capability)"), None);
            return true;
        }
        match method {
            "tasks/get" | "tasks/result" | "tasks/list" | "tasks/cancel" => match params::<Value>(raw) {
                Ok(p) => crate::tasks::request(session, id, method, &p, reply, self.page_size()),
                Err(e) => fail(INVALID_PARAMS, &format!("Invalid params for {method}: {e}"), None),
            },
            "resources/list" | "resources/templates/list" | "prompts/list" => {
                let page = params::<ListParams<'_>>(raw).map(|p| match method {
                    "resources/list" => reg.resources.page(p.cursor.as_deref()).map(<[u8]>::to_vec),
                    "resources/templates/list" => reg.templates.page(p.cursor.as_deref()).map(<[u8]>::to_vec),
                    _ => reg.prompts.page(p.cursor.as_deref()).map(<[u8]>::to_vec),
                });
                match page {
                    Ok(Some(page)) => answer(&page),
                    Ok(None) => fail(INVALID_PARAMS, "Invalid params: unknown cursor", None),
                    Err(e) => fail(INVALID_PARAMS, &format!("Invalid params for {method}: {e}"), None),
                }
            }
            "resources/read" => match params::<UriParams<'_>>(raw) {
                Ok(p) => match reg.resolve_resource(&p.uri) {
                    Some((handler, vars)) => {
                        let mut args: Map<String, Value> =
                            vars.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
                        args.insert("uri".into(), Value::String(p.uri.clone().into_owned()));
                        let token = p.meta.and_then(|m| m.progress_token);
                        self.dispatch(session, id.clone(), handler, Value::Object(args), token, reply, None);
                    }
                    None => {
                        let data = json!({"uri": p.uri}).to_string();
                        fail(RESOURCE_NOT_FOUND, &format!("Resource not found: {}", p.uri), Some(&data));
                    }
                },
                Err(e) => fail(INVALID_PARAMS, &format!("Invalid params for resources/read: {e}"), None),
            },
            "resources/subscribe" | "resources/unsubscribe" => match params::<UriParams<'_>>(raw) {
                Ok(p) => {
                    let mut state = session.state();
                    if method == "resources/subscribe" {
                        state.subscriptions.insert(p.uri.into_owned());
                    } else {
                        state.subscriptions.remove(p.uri.as_ref());
                    }
                    drop(state);
                    answer(b"{}");
                }
                Err(e) => fail(INVALID_PARAMS, &format!("Invalid params for {method}: {e}"), None),
            },
            "prompts/get" => match params::<GetPromptParams<'_>>(raw) {
                Ok(p) => {
                    let Some(prompt) = reg.prompts.get(&p.name) else {
                        fail(INVALID_PARAMS, &format!("Unknown prompt: {}", p.name), None);
                        return true;
                    };
                    let mut args = p.arguments.unwrap_or_default();
                    if let Some(missing) = prompt.required.iter().find(|r| !args.contains_key(*r)) {
                        let msg = format!("Invalid params: prompt {:?} needs the argument {missing:?}", prompt.name);
                        fail(INVALID_PARAMS, &msg, None);
                        return true;
                    }
                    args.retain(|k, _| prompt.arguments.contains(k));
                    let token = p.meta.and_then(|m| m.progress_token);
                    self.dispatch(session, id.clone(), prompt.id, Value::Object(args), token, reply, None);
                }
                Err(e) => fail(INVALID_PARAMS, &format!("Invalid params for prompts/get: {e}"), None),
            },
            _ => match params::<CompleteParams>(raw) {
                Ok(p) => {
                    let kind = p.reference.get("type").and_then(Value::as_str);
                    let valid_ref = match kind {
                        Some("ref/prompt") => p.reference.get("name").is_some_and(Value::is_string),
                        Some("ref/resource") => p.reference.get("uri").is_some_and(Value::is_string),
                        _ => false,
                    };
                    let valid_arg = p.argument.get("name").is_some_and(Value::is_string)
                        && p.argument.get("value").is_some_and(Value::is_string);
                    if !valid_ref || !valid_arg {
                        fail(INVALID_PARAMS, "Invalid params: completion needs a ref/prompt or ref/resource reference and an argument {name, value}", None);
                        return true;
                    }
                    let context = p.context.unwrap_or(Value::Null);
                    let args = json!({"ref": p.reference, "argument": p.argument, "context": context});
                    if let Some(handler) = reg.completion {
                        self.dispatch(session, id.clone(), handler, args, None, reply, None);
                    }
                }
                Err(e) => fail(INVALID_PARAMS, &format!("Invalid params for completion/complete: {e}"), None),
            },
        }
        true
    }
}
