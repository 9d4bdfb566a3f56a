//! Audit records (see `ferromcp_core::audit`) delivered to a Python callable.
//!
//! The core makes a record on the I/O thread that answered the call and puts its JSON on a bounded queue; one
//! forwarder thread per engine calls the Python sink with it, in order. No I/O thread waits for the GIL. A full
//! queue drops the record and logs an error (the count is reported); `flush` waits until the queue is empty.

use ferromcp_core::audit::{AuditRecord, AuditSink};
use pyo3::prelude::*;
use pyo3::types::PyString;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Records waiting for the forwarder; beyond this they are dropped (and counted).
const QUEUE: usize = 65_536;

pub struct ToPython {
    tx: SyncSender<Vec<u8>>,
    /// Records queued or being delivered.
    pending: Arc<AtomicUsize>,
    dropped: AtomicU64,
}

impl ToPython {
    /// A sink calling `callback(record_json: str)` on a new forwarder thread.
    pub fn start(callback: Py<PyAny>) -> std::io::Result<Arc<ToPython>> {
        let (tx, rx) = sync_channel(QUEUE);
        let pending = Arc::new(AtomicUsize::new(0));
        let counter = pending.clone();
        std::thread::Builder::new().name("ferromcp-audit".into()).spawn(move || forward(rx, callback, counter))?;
        Ok(Arc::new(ToPython { tx, pending, dropped: AtomicU64::new(0) }))
    }

    /// Waits (without the GIL) until every record made so far has been delivered, at most `timeout`.
    pub fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.pending.load(Ordering::Acquire) > 0 {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    }
}

impl AuditSink for ToPython {
    fn record(&self, record: AuditRecord) {
        self.pending.fetch_add(1, Ordering::AcqRel);
        if self.tx.try_send(record.to_json()).is_err() {
            self.pending.fetch_sub(1, Ordering::AcqRel);
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::error!(dropped, "audit record dropped: the audit sink is not keeping up");
        }
    }
}

fn forward(rx: Receiver<Vec<u8>>, callback: Py<PyAny>, pending: Arc<AtomicUsize>) {
    while let Ok(json) = rx.recv() {
        let text = String::from_utf8_lossy(&json);
        // None once the interpreter is shutting down: the record is then lost, not hung on.
        let _ = Python::try_attach(|py| {
            if let Err(err) = callback.call1(py, (PyString::new(py, &text),)) {
                tracing::error!(error = %err, "the audit sink raised");
            }
        });
        pending.fetch_sub(1, Ordering::AcqRel);
    }
}
