//! A task this process does not hold (tasks extension, with a task store attached): another process created
//! it, or this one forgot it. The store says whether the requestor has such a task and what it looks like;
//! `tasks/update` and `tasks/cancel` travel on the bus to the process that runs it ([`Notice::TaskInput`],
//! [`Notice::CancelTask`]), whose [`Tasks`] take them as a bus receiver.
//!
//! A task whose process died keeps the state it last wrote until the store lets it go
//! ([`super::task_ext::RUNNING_KEEP`] after its last change); `tasks/cancel` of it is acknowledged (cancellation
//! is cooperative) and changes nothing.

use super::shape::ResultFields;
use super::table::Req;
use super::task_ext::{unknown_task, TaskView, Tasks};
use super::task_journal::Journal;
use super::Engine;
use crate::bus::{Notice, Receiver};
use crate::error::McpError;
use crate::jsonrpc::{self, RequestId, INTERNAL_ERROR};
use crate::session::{OutKind, Outbound};
use crate::store::TaskRecord;
use serde_json::{Map, Value};
use std::sync::Arc;

/// Where a request answered after a store round trip sends its answer.
struct Later {
    id: RequestId,
    reply: Arc<dyn Outbound>,
    fields: Arc<ResultFields>,
}

impl Later {
    fn ack(&self) {
        self.reply.send(self.fields.response(&self.id, b"{}"), OutKind::Response);
    }

    fn fail(&self, error: McpError) {
        self.reply.send(error.for_modern().encode(Some(&self.id)), OutKind::Response);
    }
}

fn is_terminal(status: &str) -> bool {
    matches!(status, "completed" | "failed" | "cancelled")
}

/// `tasks/get`'s `DetailedTask` from a stored record.
pub(super) fn detailed(record: &TaskRecord) -> Vec<u8> {
    let inlined = match record.status.as_str() {
        "completed" => record.outcome.as_deref().map(|r| ("result", r.as_bytes())),
        "failed" => record.outcome.as_deref().map(|e| ("error", e.as_bytes())),
        "input_required" => record.input_requests.as_deref().map(|i| ("inputRequests", i.as_bytes())),
        _ => None,
    };
    TaskView {
        id: &record.task_id,
        status: &record.status,
        created: &record.created_at,
        updated: &record.last_updated_at,
        message: record.status_message.as_deref(),
        inlined,
    }
    .encode(Some("complete"), true)
}

/// How long a process that relayed `tasks/update` or `tasks/cancel` waits for the store to show it applied.
const SETTLE: std::time::Duration = std::time::Duration::from_secs(2);

/// Waits (polling the store, up to [`SETTLE`]) until the task's stored record satisfies `done`.
pub(crate) async fn settled(
    store: &dyn crate::store::TaskStore,
    owner: &str,
    task_id: &str,
    done: impl Fn(&TaskRecord) -> bool,
) {
    let deadline = tokio::time::Instant::now() + SETTLE;
    while tokio::time::Instant::now() < deadline {
        match store.get(owner, task_id).await {
            Ok(Some(record)) if !done(&record) => {}
            _ => return,
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    tracing::warn!(task = %task_id, "the process running a task did not show a relayed change in time");
}

/// Answers `req` (a `tasks/*` request for a task not held here) once the store answered.
pub(super) fn request(
    engine: &Engine,
    req: &Req<'_>,
    journal: &Journal,
    owner: String,
    task_id: String,
    responses: Option<Map<String, Value>>,
) {
    let later =
        Later { id: req.id.clone(), reply: req.reply.clone(), fields: engine.result_fields(req.method).clone() };
    let method = req.method.to_owned();
    let store = journal.store().clone();
    let bus = engine.tasks().bus().clone();
    journal.runtime().spawn(async move {
        let record = match store.get(&owner, &task_id).await {
            Ok(Some(record)) => record,
            Ok(None) => return later.fail(unknown_task(&task_id)),
            Err(e) => {
                return later.fail(McpError::new(INTERNAL_ERROR, format!("{method}: the task store failed: {e}")));
            }
        };
        match method.as_str() {
            "tasks/get" => later.reply.send(jsonrpc::result_response(&later.id, &detailed(&record)), OutKind::Response),
            "tasks/update" => {
                if !is_terminal(&record.status) {
                    let responses = responses.unwrap_or_default();
                    let keys: Vec<String> = responses.keys().cloned().collect();
                    let text = Value::Object(responses).to_string();
                    bus.publish(Notice::TaskInput { owner: owner.clone(), task_id: task_id.clone(), responses: text });
                    // Acknowledged once the store shows it taken, so a poll that follows (anywhere) sees it.
                    settled(&*store, &owner, &task_id, |r| {
                        is_terminal(&r.status)
                            || r.input_requests.as_deref().is_none_or(|pending| {
                                let pending: Map<String, Value> = serde_json::from_str(pending).unwrap_or_default();
                                keys.iter().all(|k| !pending.contains_key(k))
                            })
                    })
                    .await;
                }
                later.ack();
            }
            _ => {
                if !is_terminal(&record.status) {
                    bus.publish(Notice::CancelTask { owner: owner.clone(), task_id: task_id.clone() });
                    settled(&*store, &owner, &task_id, |r| is_terminal(&r.status)).await;
                }
                later.ack();
            }
        }
    });
}

/// The process that runs a task takes the `tasks/update` and `tasks/cancel` another process received for it.
impl Receiver for Tasks {
    fn deliver(&self, notice: &Notice, _: &[u8]) -> bool {
        match notice {
            Notice::CancelTask { owner, task_id } => self.cancel(owner, task_id),
            Notice::TaskInput { owner, task_id, responses } => serde_json::from_str::<Map<String, Value>>(responses)
                .is_ok_and(|answers| self.answer_inputs(owner, task_id, answers)),
            _ => false,
        }
    }
}
