//! The method table: every request method the engine answers, what gates it, and the function that answers it.
//! Adding a method is one entry here and one function in its family's module.

use super::{completion, lifecycle, listen, logging, prompts, resources, task_ext, tools, Engine};
use crate::context::RequestCtx;
use crate::error::McpError;
use crate::jsonrpc::{self, RequestId};
use crate::registry::Registry;
use crate::session::{OutKind, Outbound, Session};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;
use std::sync::Arc;

/// One request being answered: who asked, under which id, with which params, and where the answer goes.
pub(super) struct Req<'a> {
    pub engine: &'a Engine,
    pub session: &'a Arc<Session>,
    /// What the request is handled under; None only before `initialize` (for `initialize` and `ping`).
    pub ctx: Option<RequestCtx>,
    pub id: &'a RequestId,
    pub method: &'a str,
    pub params: Option<&'a RawValue>,
    pub reply: &'a Arc<dyn Outbound>,
}

impl<'a> Req<'a> {
    /// Sends `result` (JSON bytes) as the response, shaped for the request's era.
    pub fn answer(&self, result: &[u8]) {
        if self.ctx.as_ref().is_some_and(RequestCtx::is_modern) {
            let response = self.engine.result_fields(self.method).response(self.id, result);
            return self.reply.send(response, OutKind::Response);
        }
        self.reply.send(jsonrpc::result_response(self.id, result), OutKind::Response);
    }

    /// The params as `T` (absent params read as `{}`); a mismatch is `-32602` naming the method.
    pub fn params<T: Deserialize<'a>>(&self) -> Result<T, McpError> {
        serde_json::from_str(self.params.map_or("{}", RawValue::get))
            .map_err(|e| McpError::invalid_params(format!("Invalid params for {}: {e}", self.method)))
    }
}

/// A method's answer is sent through `Req` (at once, or later by the handler it was dispatched to); an error is
/// sent by the engine.
pub(super) type Handler = fn(&Engine, &Req<'_>) -> Result<(), McpError>;

/// What must be registered for a method to be offered (otherwise it is `-32601`).
#[derive(Clone, Copy)]
pub(super) enum Offered {
    Always,
    Resources,
    Prompts,
    Completion,
    TaskTools,
}

impl Offered {
    pub fn by(self, registry: &Registry) -> bool {
        match self {
            Offered::Always => true,
            Offered::Resources => !registry.resources.is_empty() || !registry.templates.is_empty(),
            Offered::Prompts => !registry.prompts.is_empty(),
            Offered::Completion => registry.completion.is_some(),
            Offered::TaskTools => registry.has_task_tools(),
        }
    }
}

pub(super) struct Method {
    pub name: &'static str,
    /// Answered before `initialize` (only `initialize` and `ping`).
    pub before_initialize: bool,
    /// Part of the legacy era (sessions); stateless-only methods are -32601 there.
    pub legacy: bool,
    /// Part of the stateless era (2026-07-28); legacy-only methods are -32601 there.
    pub modern: bool,
    pub offered: Offered,
    pub handler: Handler,
}

/// A method of both eras.
const fn method(name: &'static str, offered: Offered, handler: Handler) -> Method {
    Method { name, before_initialize: false, legacy: true, modern: true, offered, handler }
}

/// A method of the stateless era only.
const fn stateless(name: &'static str, offered: Offered, handler: Handler) -> Method {
    Method { name, before_initialize: false, legacy: false, modern: true, offered, handler }
}

/// A method of the legacy era only.
const fn legacy(name: &'static str, offered: Offered, handler: Handler) -> Method {
    Method { name, before_initialize: false, legacy: true, modern: false, offered, handler }
}

pub(super) static METHODS: &[Method] = &[
    Method {
        name: "initialize",
        before_initialize: true,
        legacy: true,
        modern: false,
        offered: Offered::Always,
        handler: lifecycle::initialize,
    },
    Method {
        name: "ping",
        before_initialize: true,
        legacy: true,
        modern: false,
        offered: Offered::Always,
        handler: lifecycle::ping,
    },
    stateless("server/discover", Offered::Always, lifecycle::discover),
    stateless("subscriptions/listen", Offered::Always, listen::listen),
    method("tools/list", Offered::Always, tools::list),
    method("tools/call", Offered::Always, tools::call),
    legacy("logging/setLevel", Offered::Always, logging::set_level),
    method("resources/list", Offered::Resources, resources::list),
    method("resources/templates/list", Offered::Resources, resources::templates_list),
    method("resources/read", Offered::Resources, resources::read),
    legacy("resources/subscribe", Offered::Resources, resources::subscribe),
    legacy("resources/unsubscribe", Offered::Resources, resources::unsubscribe),
    method("prompts/list", Offered::Prompts, prompts::list),
    method("prompts/get", Offered::Prompts, prompts::get),
    method("completion/complete", Offered::Completion, completion::complete),
    method("tasks/get", Offered::TaskTools, tasks),
    legacy("tasks/result", Offered::TaskTools, tasks),
    legacy("tasks/list", Offered::TaskTools, tasks),
    method("tasks/cancel", Offered::TaskTools, tasks),
    stateless("tasks/update", Offered::TaskTools, task_ext::request),
];

pub(super) fn lookup(name: &str) -> Option<&'static Method> {
    METHODS.iter().find(|m| m.name == name)
}

/// `tasks/*`: the session's task table answers them (`crate::tasks`); in the stateless era, the tasks extension
/// (`task_ext`).
fn tasks(engine: &Engine, req: &Req<'_>) -> Result<(), McpError> {
    if req.ctx.as_ref().is_some_and(RequestCtx::is_modern) {
        return task_ext::request(engine, req);
    }
    let params: Value = req.params()?;
    crate::tasks::request(req.session, req.id, req.method, &params, req.reply, engine.page_size());
    Ok(())
}

/// `{cursor?}` of the list methods.
#[derive(Deserialize, Default)]
pub(super) struct ListParams<'a> {
    #[serde(borrow, default)]
    pub cursor: Option<Cow<'a, str>>,
}

/// Answers a list method with the page `cursor` names; an unknown cursor is `-32602`.
pub(super) fn answer_page(req: &Req<'_>, page: Option<std::borrow::Cow<'_, [u8]>>) -> Result<(), McpError> {
    match page {
        Some(page) => {
            req.answer(&page);
            Ok(())
        }
        None => Err(McpError::invalid_params("Invalid params: unknown cursor")),
    }
}

/// The scopes the request's principal was granted; None without authorization (everything is listed).
pub(super) fn granted<'r>(req: &'r Req<'_>) -> Option<&'r [String]> {
    req.ctx.as_ref().and_then(|c| c.principal.as_ref()).map(|p| p.scopes.as_slice())
}

/// `params._meta` as far as the engine reads it.
#[derive(Deserialize)]
pub(crate) struct RequestMeta<'a> {
    #[serde(rename = "progressToken", borrow, default)]
    pub progress_token: Option<&'a RawValue>,
}

#[cfg(test)]
mod table_tests {
    use super::*;

    #[test]
    fn every_method_is_listed_once() {
        for (i, m) in METHODS.iter().enumerate() {
            assert!(METHODS[i + 1..].iter().all(|n| n.name != m.name), "{} is listed twice", m.name);
            assert!(lookup(m.name).is_some_and(|found| std::ptr::eq(found, m)));
        }
        assert!(lookup("tools/lis").is_none());
    }

    #[test]
    fn only_the_handshake_and_ping_come_before_initialize() {
        let early: Vec<&str> = METHODS.iter().filter(|m| m.before_initialize).map(|m| m.name).collect();
        assert_eq!(early, ["initialize", "ping"]);
    }
}
