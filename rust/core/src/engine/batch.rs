//! JSON-RPC batches (2025-03-26 sessions only): the members' responses go out as one array once every member is
//! accounted for.

use crate::session::{OutKind, Outbound};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Collects the responses of a batch and sends them as one JSON array once every member is accounted for.
pub(super) struct BatchReply {
    remaining: AtomicUsize,
    responses: Mutex<Vec<Vec<u8>>>,
    /// Set once any member produced a response, i.e. the array will not be empty.
    answered: AtomicBool,
    out: Arc<dyn Outbound>,
}

impl BatchReply {
    pub(super) fn new(expected: usize, out: Arc<dyn Outbound>) -> BatchReply {
        BatchReply {
            remaining: AtomicUsize::new(expected),
            responses: Mutex::new(Vec::new()),
            answered: AtomicBool::new(false),
            out,
        }
    }

    /// Whether the batch will send an array: true unless every member was a notification or response.
    pub(super) fn expects_response(&self) -> bool {
        self.answered.load(Ordering::Acquire) || self.remaining.load(Ordering::Acquire) > 0
    }

    fn settle(&self) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        let responses = std::mem::take(&mut *self.responses.lock().unwrap_or_else(|p| p.into_inner()));
        if responses.is_empty() {
            return;
        }
        let mut array = Vec::with_capacity(responses.iter().map(|r| r.len() + 1).sum::<usize>() + 2);
        array.push(b'[');
        for (i, r) in responses.iter().enumerate() {
            if i > 0 {
                array.push(b',');
            }
            array.extend_from_slice(r);
        }
        array.push(b']');
        self.out.send(array, OutKind::Response);
    }
}

impl Outbound for BatchReply {
    fn send(&self, msg: Vec<u8>, kind: OutKind) {
        match kind {
            OutKind::Notification | OutKind::Request => self.out.send(msg, kind),
            OutKind::Response => {
                self.answered.store(true, Ordering::Release);
                self.responses.lock().unwrap_or_else(|p| p.into_inner()).push(msg);
                self.settle();
            }
        }
    }

    fn abandon(&self) {
        self.settle();
    }

    fn close_stream(&self) -> bool {
        self.out.close_stream()
    }

    fn delivers_to(&self, target: usize) -> bool {
        std::ptr::from_ref(self).cast::<()>() as usize == target || self.out.delivers_to(target)
    }
}
