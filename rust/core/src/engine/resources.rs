//! Resources and resource templates: `resources/list`, `resources/templates/list` (pre-serialized pages),
//! `resources/read` (template matching here; the embedder's handler reads), `resources/subscribe` and
//! `resources/unsubscribe`, and the `notifications/resources/updated` they lead to.

use super::input::{self, Args, Echo};
use super::table::{answer_page, granted, ListParams, Req, RequestMeta};
use super::{CacheHint, ResultFields};
use super::{CallExtras, Engine};
use crate::bus::Notice;
use crate::error::{CoreError, McpError};
use crate::registry::{ListKind, Resource, ResourceTemplate};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::sync::Arc;

#[derive(Deserialize)]
struct UriParams<'a> {
    #[serde(borrow)]
    uri: Cow<'a, str>,
    #[serde(rename = "_meta", borrow, default)]
    meta: Option<RequestMeta<'a>>,
    #[serde(rename = "inputResponses", default)]
    input_responses: Option<Value>,
    #[serde(rename = "requestState", borrow, default)]
    request_state: Option<Cow<'a, str>>,
}

pub(super) fn list(engine: &Engine, req: &Req<'_>) -> Result<(), McpError> {
    let p: ListParams<'_> = req.params()?;
    answer_page(req, engine.registry().resources.page_for(p.cursor.as_deref(), granted(req)))
}

pub(super) fn templates_list(engine: &Engine, req: &Req<'_>) -> Result<(), McpError> {
    let p: ListParams<'_> = req.params()?;
    answer_page(req, engine.registry().templates.page_for(p.cursor.as_deref(), granted(req)))
}

pub(super) fn read(engine: &Engine, req: &Req<'_>) -> Result<(), McpError> {
    let p: UriParams<'_> = req.params()?;
    let resolved = engine.registry().resolve_resource(&p.uri).ok_or_else(|| McpError::resource_not_found(&p.uri))?;
    let (handler, fields) = (resolved.handler, resolved.fields);
    let mut args: Map<String, Value> = resolved.vars.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
    args.insert("uri".into(), Value::String(p.uri.clone().into_owned()));
    let echo = Echo { input_responses: p.input_responses, request_state: p.request_state.as_deref() };
    let round_trip = input::begin(engine, req, &p.uri, Args::Value(&Value::Null), echo)?;
    let token = p.meta.and_then(|m| m.progress_token);
    engine.dispatch(
        req,
        handler,
        Value::Object(args),
        token,
        req.reply,
        CallExtras { output: None, round_trip, fields, task: None },
    );
    Ok(())
}

pub(super) fn subscribe(_: &Engine, req: &Req<'_>) -> Result<(), McpError> {
    let p: UriParams<'_> = req.params()?;
    req.session.state().subscriptions.insert(p.uri.into_owned());
    req.answer(b"{}");
    Ok(())
}

pub(super) fn unsubscribe(_: &Engine, req: &Req<'_>) -> Result<(), McpError> {
    let p: UriParams<'_> = req.params()?;
    req.session.state().subscriptions.remove(p.uri.as_ref());
    req.answer(b"{}");
    Ok(())
}

impl Engine {
    pub fn add_resource(&self, resource: Resource) {
        self.update_registry(Some(ListKind::Resources), |r| Some(r.with_resource(resource)));
    }

    pub fn add_template(&self, template: ResourceTemplate) {
        self.update_registry(Some(ListKind::Resources), |r| Some(r.with_template(template)));
    }

    /// What stateless reads of a resource with its own caching `hint` carry; an invalid scope is an error.
    pub fn read_fields(&self, hint: &CacheHint) -> Result<Arc<ResultFields>, CoreError> {
        self.shapes.with_hint(hint).map_err(CoreError::Definition)
    }

    /// Removes a resource or template by URI (template text); false if there was none.
    pub fn remove_resource(&self, uri: &str) -> bool {
        self.update_registry(Some(ListKind::Resources), |r| r.without_resource(uri))
    }

    /// Sends `notifications/resources/updated` to the sessions subscribed to `uri`; returns how many.
    pub fn notify_resource_updated(&self, uri: &str) -> usize {
        self.bus.publish(Notice::ResourceUpdated(uri.to_owned()))
    }
}
