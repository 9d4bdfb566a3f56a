//! Where one POST's messages go. The fast path answers with plain JSON; the first message that is not the
//! response (progress, a log, a request to the client, or the handler closing its stream) switches the
//! answer to an SSE stream, which then carries everything up to and including the response.
//!
//! The sink holds the POST's in-flight slot (see `HttpSession::in_flight`) until the POST is answered or
//! abandoned, not merely until its connection closes: a call whose client went away keeps counting against the
//! session's cap for as long as it runs.

use super::sessions::HttpSession;
use super::sse::SseStream;
use crate::protocol::Feature;
use crate::session::{OutKind, Outbound};
use std::sync::{Arc, Mutex};
use tokio::sync::{oneshot, OwnedSemaphorePermit};

/// How the POST is answered, decided by the first message.
pub enum Answer {
    Json(Vec<u8>),
    Sse(Arc<SseStream>),
}

enum State {
    Waiting(oneshot::Sender<Answer>),
    Streaming(Arc<SseStream>),
    Done,
}

/// What the POST belongs to: a legacy session (its streams are registered for resumption, and it has a GET
/// stream), or nothing (a stateless request: its stream lives and dies with the response).
pub enum Owner {
    Session(Arc<HttpSession>),
    Stateless { replay_capacity: usize },
}

pub struct RequestSink {
    owner: Owner,
    state: Mutex<State>,
    json_only: bool,
    retry_ms: Option<u64>,
    /// The in-flight slots this POST takes (the session's, the process's), released once it is answered or
    /// abandoned.
    slot: Mutex<Vec<OwnedSemaphorePermit>>,
}

impl RequestSink {
    pub fn new(
        session: Arc<HttpSession>,
        json_only: bool,
        retry_ms: Option<u64>,
        slot: Vec<OwnedSemaphorePermit>,
    ) -> (Arc<RequestSink>, oneshot::Receiver<Answer>) {
        let (sink, rx) = Self::owned_by(Owner::Session(session), json_only, retry_ms);
        *sink.slot.lock().unwrap_or_else(|p| p.into_inner()) = slot;
        (sink, rx)
    }

    pub fn owned_by(
        owner: Owner,
        json_only: bool,
        retry_ms: Option<u64>,
    ) -> (Arc<RequestSink>, oneshot::Receiver<Answer>) {
        let (tx, rx) = oneshot::channel();
        let sink = Arc::new(RequestSink {
            owner,
            state: Mutex::new(State::Waiting(tx)),
            json_only,
            retry_ms,
            slot: Mutex::new(Vec::new()),
        });
        (sink, rx)
    }

    /// Lets the in-flight slot go once the POST is answered or abandoned (`state` is Done).
    fn release_if_done(&self, state: &State) {
        if matches!(state, State::Done) {
            drop(std::mem::take(&mut *self.slot.lock().unwrap_or_else(|p| p.into_inner())));
        }
    }

    /// Whether the session speaks SSE polling (2025-11-25): streams are primed and may be closed early.
    fn polls(&self) -> bool {
        match &self.owner {
            Owner::Session(session) => session.core.version().is_some_and(|v| v.supports(Feature::StreamPolling)),
            Owner::Stateless { .. } => false,
        }
    }

    /// Opens the SSE stream for this POST: a priming event first on sessions that speak 2025-11-25 (older
    /// clients reject an event with empty data).
    fn open_stream(&self, tx: oneshot::Sender<Answer>) -> Arc<SseStream> {
        let stream = match &self.owner {
            Owner::Session(session) => session.new_stream(),
            Owner::Stateless { replay_capacity } => Arc::new(SseStream::new(1, *replay_capacity)),
        };
        if self.polls() {
            stream.prime(self.retry_ms);
        }
        let _ = tx.send(Answer::Sse(stream.clone()));
        stream
    }
}

impl Outbound for RequestSink {
    fn send(&self, msg: Vec<u8>, kind: OutKind) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match std::mem::replace(&mut *state, State::Done) {
            State::Waiting(tx) if kind == OutKind::Response => {
                let _ = tx.send(Answer::Json(msg));
            }
            State::Waiting(tx) if self.json_only => {
                // JSON-only responses cannot carry it; a session's GET stream can (a stateless request has none).
                if let Owner::Session(session) = &self.owner {
                    session.standalone.push(&msg);
                }
                *state = State::Waiting(tx);
            }
            State::Waiting(tx) => {
                let stream = self.open_stream(tx);
                stream.push(&msg);
                *state = State::Streaming(stream);
            }
            State::Streaming(stream) => {
                stream.push(&msg);
                if kind == OutKind::Response {
                    stream.finish();
                } else {
                    *state = State::Streaming(stream);
                }
            }
            State::Done => {}
        }
        self.release_if_done(&state);
    }

    fn abandon(&self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let State::Streaming(stream) = std::mem::replace(&mut *state, State::Done) {
            stream.finish();
        }
        // A Waiting sender is dropped: the POST is answered 202 with no body.
        self.release_if_done(&state);
    }

    fn close_stream(&self) -> bool {
        // Closing a stream is only safe once the client has an event id to resume from: the priming event,
        // which exists from 2025-11-25 on (SEP-1699). Older sessions keep their stream open.
        if self.json_only || !self.polls() {
            return false;
        }
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match std::mem::replace(&mut *state, State::Done) {
            State::Waiting(tx) => {
                let stream = self.open_stream(tx);
                stream.park();
                *state = State::Streaming(stream);
                true
            }
            State::Streaming(stream) => {
                stream.park();
                *state = State::Streaming(stream);
                true
            }
            State::Done => false,
        }
    }
}
