//! `StdioServer`: serves the engine over two file descriptors (normally stdin and a saved stdout).

use crate::engine::Engine;
use crate::queue::Queue;
use ferromcp_core::StdioTransport;
use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;
use pyo3::types::PyList;
use std::fs::File;
use std::os::fd::FromRawFd;
use std::sync::{Arc, Mutex};

#[pyclass(frozen, module = "ferromcp._core")]
pub struct StdioServer {
    queue: Arc<Queue>,
    transport: Mutex<Option<StdioTransport>>,
}

fn owned_dup(fd: i32) -> PyResult<File> {
    // Close-on-exec, so a subprocess a handler starts never inherits (and holds open) the client's pipes.
    // SAFETY: fcntl(F_DUPFD_CLOEXEC) on a caller-provided descriptor; the new one is owned by the File alone.
    let new_fd = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if new_fd < 0 {
        return Err(PyOSError::new_err(format!("cannot duplicate file descriptor {fd}")));
    }
    // SAFETY: new_fd is a fresh descriptor that nothing else owns.
    Ok(unsafe { File::from_raw_fd(new_fd) })
}

#[pymethods]
impl StdioServer {
    /// Starts reading `input_fd` and writing `output_fd` (both are duplicated; the caller keeps its own).
    #[new]
    #[pyo3(signature = (engine, input_fd, output_fd, max_message_size=4 * 1024 * 1024))]
    fn new(engine: &Engine, input_fd: i32, output_fd: i32, max_message_size: usize) -> PyResult<Self> {
        let queue = Queue::new()?;
        let transport = StdioTransport::start(
            engine.inner.clone(),
            queue.clone(),
            owned_dup(input_fd)?,
            owned_dup(output_fd)?,
            max_message_size.max(1),
        )?;
        Ok(StdioServer { queue, transport: Mutex::new(Some(transport)) })
    }

    /// The descriptor that becomes readable when events are ready; register it with `loop.add_reader`.
    fn wake_fd(&self) -> i32 {
        self.queue.wake_fd()
    }

    /// Every ready event; see `Queue::drain`.
    fn drain<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        self.queue.drain(py)
    }

    /// Calls handed to Python and not yet answered or cancelled.
    fn in_flight(&self) -> usize {
        self.transport.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map_or(0, |t| t.session().in_flight())
    }

    /// Flushes queued output and stops the writer. Idempotent.
    fn close(&self, py: Python<'_>) {
        let transport = self.transport.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(mut transport) = transport {
            py.detach(move || transport.close());
        }
    }
}
