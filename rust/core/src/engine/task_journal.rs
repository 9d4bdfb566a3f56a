//! The durable side of the tasks extension: every change of a task's state written to a [`TaskStore`], so
//! another process (or this one, after it lost the task) can answer `tasks/get` for it.
//!
//! The engine's own table stays the authority for the tasks it runs (it holds their calls); the store holds
//! what any process needs to answer a poll. Writes go through one queue, in the order the changes happened,
//! to one writer task on the runtime the store was given with — a task's `completed` can never be overtaken by
//! its earlier `working`. A write that must be durable before the client hears of it (the creation: "the task
//! is durably created before the response is sent") carries a completion called once the store answered.

use crate::store::{StoreError, TaskRecord, TaskStore};
use std::sync::Arc;
use std::time::Duration;
use tokio::runtime::Handle;
use tokio::sync::mpsc;

/// Called with the store's answer to a write.
pub(crate) type Done = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

struct Write {
    record: TaskRecord,
    keep: Duration,
    done: Option<Done>,
}

/// The queue to the writer, and the store for reads.
pub(crate) struct Journal {
    store: Arc<dyn TaskStore>,
    writes: mpsc::UnboundedSender<Write>,
    runtime: Handle,
}

impl Journal {
    /// Starts the writer on `runtime`; it ends when the journal is dropped.
    pub(crate) fn start(store: Arc<dyn TaskStore>, runtime: Handle) -> Journal {
        let (writes, mut queue) = mpsc::unbounded_channel::<Write>();
        let writer_store = store.clone();
        runtime.spawn(async move {
            while let Some(write) = queue.recv().await {
                let task_id = write.record.task_id.clone();
                let outcome = writer_store.put(write.record, write.keep).await;
                if let Err(e) = &outcome {
                    tracing::warn!(task = %task_id, error = %e, "a task's state was not written to the task store");
                }
                if let Some(done) = write.done {
                    done(outcome);
                }
            }
        });
        Journal { store, writes, runtime }
    }

    /// Queues a write (in order after every earlier one); `done` hears how it went (at once, with the reason,
    /// when the writer is gone).
    pub(crate) fn write(&self, record: TaskRecord, keep: Duration, done: Option<Done>) {
        if let Err(mpsc::error::SendError(write)) = self.writes.send(Write { record, keep, done }) {
            if let Some(done) = write.done {
                done(Err(StoreError::Unavailable("the task store's writer has stopped".into())));
            }
        }
    }

    pub(crate) fn store(&self) -> &Arc<dyn TaskStore> {
        &self.store
    }

    pub(crate) fn runtime(&self) -> &Handle {
        &self.runtime
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryTaskStore;
    use std::sync::mpsc as std_mpsc;

    fn record(status: &str) -> TaskRecord {
        TaskRecord {
            task_id: "t1".into(),
            owner: "alice".into(),
            status: status.into(),
            status_message: None,
            created_at: "2026-11-29T00:00:00.000Z".into(),
            last_updated_at: "2026-11-29T00:00:00.000Z".into(),
            ttl_ms: 60_000,
            outcome: None,
            input_requests: None,
        }
    }

    #[test]
    fn writes_land_in_order_and_report_back() -> Result<(), Box<dyn std::error::Error>> {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
        let store = Arc::new(MemoryTaskStore::new());
        let journal = Journal::start(store.clone(), runtime.handle().clone());
        let (tx, rx) = std_mpsc::channel();
        for status in ["working", "input_required", "working"] {
            journal.write(record(status), Duration::from_secs(60), None);
        }
        journal.write(record("completed"), Duration::from_secs(60), Some(Box::new(move |r| drop(tx.send(r)))));
        assert_eq!(rx.recv_timeout(Duration::from_secs(5))?, Ok(()));
        let kept = runtime.block_on(store.get("alice", "t1"))?;
        assert_eq!(kept.map(|r| r.status), Some("completed".to_owned()), "the last change is what is kept");
        Ok(())
    }
}
