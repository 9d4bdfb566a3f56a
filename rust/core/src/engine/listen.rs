//! `subscriptions/listen` (2026-07-28, `basic/patterns/subscriptions.mdx`): a long-lived request whose stream
//! carries the notifications the client opted in to — list changes, updates of the resources it names, and
//! (tasks extension) status changes of the tasks it names in `taskIds` — from the notification bus. The acknowledgement comes first and says which of the requested kinds the server
//! honours; every message carries the subscription's id (the request's id) in `_meta`. The subscription ends
//! when the client cancels it or closes its stream (no answer), or when the server shuts down (an empty
//! result, so the client knows it was not a failure).

use super::table::Req;
use super::{task_ext, Engine};
use crate::bus::{Notice, Receiver};
use crate::error::McpError;
use crate::jsonrpc::{self, push_json_string, RequestId};
use crate::protocol::meta;
use crate::registry::Registry;
use crate::session::{OutKind, Outbound};
use serde::Deserialize;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

#[derive(Deserialize)]
struct ListenParams {
    #[serde(default)]
    notifications: Option<Filter>,
}

/// `SubscriptionFilter`: every kind is opt-in.
#[derive(Deserialize, Default)]
struct Filter {
    #[serde(rename = "toolsListChanged", default)]
    tools: bool,
    #[serde(rename = "promptsListChanged", default)]
    prompts: bool,
    #[serde(rename = "resourcesListChanged", default)]
    resources: bool,
    #[serde(rename = "resourceSubscriptions", default)]
    uris: Option<Vec<String>>,
    /// Tasks whose status changes the client wants as `notifications/tasks` (the tasks extension adds this).
    #[serde(rename = "taskIds", default)]
    task_ids: Option<Vec<String>>,
}

/// One open subscription: what it agreed to deliver, and where.
pub struct Listener {
    id: RequestId,
    tools: bool,
    prompts: bool,
    resources: bool,
    uris: Option<HashSet<String>>,
    task_ids: Option<HashSet<String>>,
    /// Who opened the subscription: it hears only about that principal's tasks.
    owner: String,
    reply: Arc<dyn Outbound>,
    ended: AtomicBool,
}

impl Listener {
    /// The filter the server agreed to, as the acknowledgement's `notifications`: only kinds it can deliver.
    fn agreed(requested: Filter, registry: &Registry) -> Filter {
        let has_resources = !registry.resources.is_empty() || !registry.templates.is_empty();
        Filter {
            tools: requested.tools,
            prompts: requested.prompts && !registry.prompts.is_empty(),
            resources: requested.resources && has_resources,
            uris: requested.uris.filter(|_| has_resources),
            task_ids: requested.task_ids.filter(|_| registry.has_task_tools()),
        }
    }

    /// `"key":["a","b"]` for a list the acknowledgement echoes.
    fn push_list<'a>(out: &mut Vec<u8>, first: &mut bool, key: &str, items: impl Iterator<Item = &'a String>) {
        if !*first {
            out.push(b',');
        }
        *first = false;
        push_json_string(out, key);
        out.extend_from_slice(b":[");
        for (i, item) in items.enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_json_string(out, item);
        }
        out.push(b']');
    }

    fn acknowledgement(&self) -> Vec<u8> {
        let mut params = String::from("{\"notifications\":{");
        let mut first = true;
        for (on, key) in [
            (self.tools, "toolsListChanged"),
            (self.prompts, "promptsListChanged"),
            (self.resources, "resourcesListChanged"),
        ] {
            if on {
                if !first {
                    params.push(',');
                }
                first = false;
                params.push_str(&format!("\"{key}\":true"));
            }
        }
        let mut out = params.into_bytes();
        if let Some(uris) = &self.uris {
            Self::push_list(&mut out, &mut first, "resourceSubscriptions", uris.iter());
        }
        if let Some(ids) = &self.task_ids {
            Self::push_list(&mut out, &mut first, "taskIds", ids.iter());
        }
        out.extend_from_slice(b"},");
        self.push_meta(&mut out);
        out.push(b'}');
        jsonrpc::notification("notifications/subscriptions/acknowledged", &out)
    }

    /// `"_meta":{"io.modelcontextprotocol/subscriptionId":<id>}`.
    fn push_meta(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"\"_meta\":{");
        push_json_string(out, meta::SUBSCRIPTION_ID);
        out.push(b':');
        out.extend_from_slice(self.id.json().as_bytes());
        out.push(b'}');
    }

    fn wants(&self, notice: &Notice) -> bool {
        match notice {
            Notice::ToolsChanged => self.tools,
            Notice::PromptsChanged => self.prompts,
            Notice::ResourcesChanged => self.resources,
            Notice::ResourceUpdated(uri) => self.uris.as_ref().is_some_and(|u| u.contains(uri)),
            Notice::TaskStatus { owner, task_id, .. } => {
                *owner == self.owner && self.task_ids.as_ref().is_some_and(|ids| ids.contains(task_id))
            }
            // Notices between processes (`Notice::method` is None) are never a listener's.
            _ => false,
        }
    }

    /// Ends the subscription gracefully (server shutdown): the listen request's result. False if it had ended.
    pub fn end(&self) -> bool {
        if self.ended.swap(true, Ordering::AcqRel) {
            return false;
        }
        let mut result = b"{\"resultType\":\"complete\",".to_vec();
        self.push_meta(&mut result);
        result.push(b'}');
        self.reply.send(jsonrpc::result_response(&self.id, &result), OutKind::Response);
        true
    }

    /// Stops deliveries without an answer (the client cancelled, or its stream closed).
    pub(crate) fn cancel(&self) {
        if !self.ended.swap(true, Ordering::AcqRel) {
            self.reply.abandon();
        }
    }
}

impl Receiver for Listener {
    fn deliver(&self, notice: &Notice, _: &[u8]) -> bool {
        let Some(method) = notice.method() else { return false };
        if !self.wants(notice) || self.ended.load(Ordering::Acquire) {
            return false;
        }
        let mut params = Vec::with_capacity(96);
        match notice {
            Notice::ResourceUpdated(uri) => {
                params.extend_from_slice(b"{\"uri\":");
                push_json_string(&mut params, uri);
                params.push(b',');
            }
            // The task's fields, then the subscription's `_meta`.
            Notice::TaskStatus { detail, .. } => match detail.strip_suffix('}') {
                Some(open) if open.len() > 1 => {
                    params.extend_from_slice(open.as_bytes());
                    params.push(b',');
                }
                _ => return false,
            },
            _ => params.push(b'{'),
        }
        self.push_meta(&mut params);
        params.push(b'}');
        self.reply.send(jsonrpc::notification(method, &params), OutKind::Notification);
        true
    }
}

/// Open subscriptions of an engine, held weakly (their requests hold them), for a graceful end at shutdown.
#[derive(Default)]
pub(crate) struct Listeners(Mutex<Vec<Weak<Listener>>>);

impl Listeners {
    fn add(&self, listener: &Arc<Listener>) {
        let mut all = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if all.len() % 64 == 63 {
            all.retain(|w| w.strong_count() > 0);
        }
        all.push(Arc::downgrade(listener));
    }

    /// Ends every open subscription; returns how many.
    pub fn end_all(&self) -> usize {
        let live: Vec<Arc<Listener>> =
            self.0.lock().unwrap_or_else(|p| p.into_inner()).drain(..).filter_map(|w| w.upgrade()).collect();
        live.iter().filter(|l| l.end()).count()
    }
}

pub(super) fn listen(engine: &Engine, req: &Req<'_>) -> Result<(), McpError> {
    let p: ListenParams = req.params()?;
    let requested = p.notifications.ok_or_else(|| {
        McpError::invalid_params("Invalid params: subscriptions/listen needs notifications (a SubscriptionFilter)")
    })?;
    // Task notifications are the tasks extension's: a client that names tasks must have declared it.
    if requested.task_ids.is_some() && !task_ext::declared(req) {
        return Err(task_ext::missing_extension("subscriptions/listen with taskIds"));
    }
    let agreed = Listener::agreed(requested, &engine.registry());
    let listener = Arc::new(Listener {
        id: req.id.clone(),
        tools: agreed.tools,
        prompts: agreed.prompts,
        resources: agreed.resources,
        uris: agreed.uris.map(|u| u.into_iter().collect()),
        task_ids: agreed.task_ids.map(|t| t.into_iter().collect()),
        owner: task_ext::owner(req),
        reply: req.reply.clone(),
        ended: AtomicBool::new(false),
    });
    {
        let mut state = req.session.state();
        if state.inflight.contains_key(req.id) || state.listeners.contains_key(req.id) {
            return Err(McpError::invalid_request("Invalid Request: a request with this id is already in flight"));
        }
        state.listeners.insert(req.id.clone(), listener.clone());
    }
    // Acknowledged before it can hear anything, so no notification precedes the acknowledgement.
    req.reply.send(listener.acknowledgement(), OutKind::Notification);
    let receiver: Arc<dyn Receiver> = listener.clone();
    engine.bus().join(Arc::downgrade(&receiver));
    engine.listeners.add(&listener);
    Ok(())
}

impl Engine {
    /// Ends every open `subscriptions/listen` stream with its result (graceful shutdown); returns how many.
    pub fn end_subscriptions(&self) -> usize {
        self.listeners.end_all()
    }
}
