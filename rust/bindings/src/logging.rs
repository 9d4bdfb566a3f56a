//! The core's `tracing` events, forwarded to Python's `logging` (logger `ferromcp` and its children).
//!
//! An event is filtered by the level Python last told us (`set_log_level`, the effective level of the
//! `ferromcp` logger), formatted on the thread that emitted it and put on a bounded queue; one forwarder thread
//! hands it to `logging`. No tokio or stdio thread ever waits for the GIL, so a Python thread that holds the GIL
//! while waiting on the core cannot deadlock against a log call. When the queue is full events are counted,
//! not kept, and the count is reported with the next event that gets through. Nothing is written to stdout.

use pyo3::prelude::*;
use pyo3::types::PyAnyMethods;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Mutex, OnceLock};
use std::thread::JoinHandle;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

/// Events waiting for the forwarder; beyond this they are counted and dropped.
const QUEUE: usize = 4096;

/// Python's level number below which events are dropped (`logging.WARNING` until told otherwise).
static THRESHOLD: AtomicU32 = AtomicU32::new(30);
static DROPPED: AtomicU64 = AtomicU64::new(0);
static STOPPED: AtomicBool = AtomicBool::new(false);
static FORWARDER: OnceLock<Forwarder> = OnceLock::new();

struct Forwarder {
    tx: SyncSender<Option<Record>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

struct Record {
    logger: String,
    level: u32,
    message: String,
}

fn levelno(level: &Level) -> u32 {
    match *level {
        Level::ERROR => 40,
        Level::WARN => 30,
        Level::INFO => 20,
        Level::DEBUG => 10,
        Level::TRACE => 5,
    }
}

/// `ferromcp_core::http::sessions` → `ferromcp.http.sessions`.
fn logger_name(target: &str) -> String {
    let mut parts = target.split("::");
    let first = parts.next().unwrap_or("");
    let mut name = String::from("ferromcp");
    if !first.starts_with("ferromcp") {
        name.push('.');
        name.push_str(first);
    }
    for part in parts {
        name.push('.');
        name.push_str(part);
    }
    name
}

#[derive(Default)]
struct Message {
    text: String,
    fields: String,
}

impl Visit for Message {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.text.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={}", field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.text, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={:?}", field.name(), value);
        }
    }
}

struct ToPython {
    tx: SyncSender<Option<Record>>,
}

impl<S: Subscriber> Layer<S> for ToPython {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> tracing::subscriber::Interest {
        // The threshold changes at run time, so every callsite asks `enabled` each time.
        tracing::subscriber::Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>, _: Context<'_, S>) -> bool {
        !STOPPED.load(Ordering::Relaxed) && levelno(metadata.level()) >= THRESHOLD.load(Ordering::Relaxed)
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut message = Message::default();
        event.record(&mut message);
        message.text.push_str(&message.fields);
        let metadata = event.metadata();
        let record =
            Record { logger: logger_name(metadata.target()), level: levelno(metadata.level()), message: message.text };
        match self.tx.try_send(Some(record)) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                DROPPED.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

fn forward(rx: Receiver<Option<Record>>) {
    while let Ok(Some(record)) = rx.recv() {
        let dropped = DROPPED.swap(0, Ordering::Relaxed);
        // `try_attach` returns None once the interpreter is shutting down: the record is then lost, not hung on.
        let _ = Python::try_attach(|py| -> PyResult<()> {
            let logging = py.import("logging")?;
            if dropped > 0 {
                logging.call_method1("getLogger", ("ferromcp",))?.call_method1(
                    "warning",
                    (format!("{dropped} log records from the core were dropped (the log queue was full)"),),
                )?;
            }
            logging.call_method1("getLogger", (record.logger,))?.call_method1("log", (record.level, record.message))?;
            Ok(())
        });
    }
}

/// Installs the bridge as this extension's global `tracing` subscriber (once per process).
pub fn install() {
    FORWARDER.get_or_init(|| {
        let (tx, rx) = sync_channel(QUEUE);
        let subscriber = tracing_subscriber::registry().with(ToPython { tx: tx.clone() });
        // Fails only if this module already installed one, which OnceLock rules out.
        let _ = tracing::subscriber::set_global_default(subscriber);
        let thread = std::thread::Builder::new().name("ferromcp-log".into()).spawn(move || forward(rx)).ok();
        Forwarder { tx, thread: Mutex::new(thread) }
    });
}

/// Sets the level (Python's numbering) below which core events are not forwarded.
#[pyfunction]
pub fn set_log_level(level: u32) {
    THRESHOLD.store(level, Ordering::Relaxed);
}

/// Delivers what is queued and stops forwarding (registered with `atexit`, before the interpreter shuts down).
#[pyfunction]
pub fn flush_logs(py: Python<'_>) {
    STOPPED.store(true, Ordering::Relaxed);
    let Some(forwarder) = FORWARDER.get() else { return };
    let thread = forwarder.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(thread) = thread {
        // The forwarder needs the GIL to deliver what is queued before the end marker: wait without holding it.
        let tx = forwarder.tx.clone();
        py.detach(move || {
            let _ = tx.send(None);
            let _ = thread.join();
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logger_names_follow_the_module_path() {
        assert_eq!(logger_name("ferromcp_core::http::sessions"), "ferromcp.http.sessions");
        assert_eq!(logger_name("ferromcp_core"), "ferromcp");
        assert_eq!(logger_name("_core::logging"), "ferromcp._core.logging");
        assert_eq!(logger_name("hyper::proto"), "ferromcp.hyper.proto");
    }

    #[test]
    fn levels_map_to_python_numbers() {
        assert_eq!(levelno(&Level::ERROR), 40);
        assert_eq!(levelno(&Level::WARN), 30);
        assert_eq!(levelno(&Level::INFO), 20);
        assert_eq!(levelno(&Level::DEBUG), 10);
        assert_eq!(levelno(&Level::TRACE), 5);
    }

    #[test]
    fn events_are_formatted_filtered_and_queued() {
        let (tx, rx) = sync_channel(4);
        let subscriber = tracing_subscriber::registry().with(ToPython { tx });
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(session = "abc", streams = 3, "stream evicted");
            tracing::debug!("below the default threshold");
        });
        let Ok(Some(record)) = rx.try_recv() else { panic!("the warning was not queued") };
        assert_eq!(record.logger, "ferromcp._core.logging.tests");
        assert_eq!(record.level, 30);
        assert_eq!(record.message, "stream evicted session=abc streams=3");
        assert!(rx.try_recv().is_err(), "a debug event passed the WARNING threshold");
    }
}
