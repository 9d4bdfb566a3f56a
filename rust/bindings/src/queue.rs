//! The hand-off from I/O threads to the Python loop thread.
//!
//! I/O threads push events without the GIL and write one byte to a socketpair only when the consumer is not
//! already due to wake (an armed flag), so a burst of N calls costs one wake-up. The loop's reader callback
//! calls `drain`, which clears the flag *before* taking the queue: an event pushed after the take re-arms and
//! writes again, so none is ever stranded.

use crate::auth::TokenCheck;
use crate::call::CallHandle;
use crate::convert::map_to_py;
use ferromcp_core::{Call, Dispatcher, ReplyOutcome};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};
use serde_json::Value;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

enum Event {
    Call(Arc<Call>, Value),
    Cancel(usize),
    Closed,
    Reply(u64, ReplyOutcome),
    /// The JWT verifier met an unknown key: fetch the key set again.
    JwksWanted,
    /// A token for the Python verifier.
    Verify(
        String,
        tokio::sync::oneshot::Sender<Result<ferromcp_core::context::Principal, ferromcp_core::auth::AuthError>>,
    ),
}

pub struct Queue {
    events: Mutex<Vec<Event>>,
    armed: AtomicBool,
    wake_tx: UnixStream,
    wake_rx: UnixStream,
}

impl Queue {
    pub fn new() -> std::io::Result<Arc<Queue>> {
        let (wake_tx, wake_rx) = UnixStream::pair()?;
        wake_tx.set_nonblocking(true)?;
        wake_rx.set_nonblocking(true)?;
        Ok(Arc::new(Queue { events: Mutex::new(Vec::new()), armed: AtomicBool::new(false), wake_tx, wake_rx }))
    }

    pub fn wake_fd(&self) -> i32 {
        self.wake_rx.as_raw_fd()
    }

    pub fn push_jwks_wanted(&self) {
        self.push(Event::JwksWanted);
    }

    pub fn push_token_check(
        &self,
        token: String,
        answer: tokio::sync::oneshot::Sender<Result<ferromcp_core::context::Principal, ferromcp_core::auth::AuthError>>,
    ) {
        self.push(Event::Verify(token, answer));
    }

    fn push(&self, event: Event) {
        self.events.lock().unwrap_or_else(|p| p.into_inner()).push(event);
        if !self.armed.swap(true, Ordering::AcqRel) {
            // WouldBlock means bytes are already pending, which wakes the loop just the same.
            let _ = (&self.wake_tx).write(&[1]);
        }
    }

    /// Takes every ready event as Python objects: `(CallHandle, handler_id, arguments)` for a call, the call's key
    /// (int) for a cancellation, `None` when the input closed, `(key, (is_error, json_bytes))` for the client's
    /// answer to a server→client request, `"jwks"` when the key set should be fetched again, a `TokenCheck`
    /// for a token the Python verifier must judge.
    pub fn drain<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let mut sink = [0u8; 256];
        while matches!((&self.wake_rx).read(&mut sink), Ok(n) if n > 0) {}
        self.armed.store(false, Ordering::SeqCst);
        let events = std::mem::take(&mut *self.events.lock().unwrap_or_else(|p| p.into_inner()));
        let out = PyList::empty(py);
        for event in events {
            match event {
                Event::Call(call, args) => {
                    let handler_id = call.handler_id;
                    let args = match &args {
                        Value::Object(map) => map_to_py(py, map)?,
                        _ => pyo3::types::PyDict::new(py),
                    };
                    let handle = Bound::new(py, CallHandle { call })?;
                    out.append(PyTuple::new(
                        py,
                        [handle.into_any(), handler_id.into_pyobject(py)?.into_any(), args.into_any()],
                    )?)?;
                }
                Event::Cancel(key) => out.append(key)?,
                Event::Closed => out.append(py.None())?,
                Event::JwksWanted => out.append("jwks")?,
                Event::Verify(token, answer) => out.append(Bound::new(py, TokenCheck::new(token, answer))?)?,
                Event::Reply(key, outcome) => {
                    let (is_error, bytes) = match &outcome {
                        ReplyOutcome::Result(b) => (false, b),
                        ReplyOutcome::Error(b) => (true, b),
                    };
                    let detail = PyTuple::new(
                        py,
                        [is_error.into_pyobject(py)?.to_owned().into_any(), PyBytes::new(py, bytes).into_any()],
                    )?;
                    out.append(PyTuple::new(py, [key.into_pyobject(py)?.into_any(), detail.into_any()])?)?;
                }
            }
        }
        Ok(out)
    }
}

impl Dispatcher for Queue {
    fn call(&self, call: Arc<Call>, arguments: Value) {
        self.push(Event::Call(call, arguments));
    }

    fn cancel(&self, call: &Arc<Call>) {
        self.push(Event::Cancel(CallHandle::key_of(call)));
    }

    fn closed(&self) {
        self.push(Event::Closed);
    }

    fn reply(&self, key: u64, outcome: ReplyOutcome) {
        self.push(Event::Reply(key, outcome));
    }
}
