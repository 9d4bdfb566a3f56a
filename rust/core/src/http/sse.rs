//! Server-Sent Event streams that outlive their connections (SEP-1699 polling and resumability).
//!
//! A stream is a sequence of events with ids `<stream>.<seq>`, unique within the session and naming the stream
//! they belong to. Events are kept in a bounded replay buffer; a connection is only a window onto the stream:
//! the server may drop it (the stream goes on), and `GET` + `Last-Event-ID` attaches a new one, which first
//! receives what it missed. A connection that cannot keep up (its bounded channel is full) is dropped rather
//! than buffered without limit: the client resumes from the replay buffer.

use super::mirror::Mirror;
use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use tokio::sync::mpsc;

/// Formats one SSE event carrying a single-line JSON message.
fn event(stream: u64, seq: u64, data: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(data.len() + 32);
    out.extend_from_slice(format!("id: {stream}.{seq}\ndata: ").as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

/// Parses a `Last-Event-ID` of ours into (stream, seq).
pub fn parse_event_id(id: &str) -> Option<(u64, u64)> {
    let (stream, seq) = id.trim().split_once('.')?;
    Some((stream.parse().ok()?, seq.parse().ok()?))
}

struct Inner {
    buffer: VecDeque<(u64, Bytes)>,
    next_seq: u64,
    /// The highest seq handed to a live connection; a fresh (non-resuming) attach starts after it.
    delivered: u64,
    live: Option<mpsc::Sender<Bytes>>,
    /// The response was sent: the stream ends once a connection has drained it.
    finished: bool,
    /// The server closed the connection on purpose (polling); the stream continues until a client resumes.
    parked: bool,
}

pub struct SseStream {
    pub id: u64,
    replay_capacity: usize,
    inner: Mutex<Inner>,
    /// Set on the streams of shared sessions: every event is also written to the event store.
    mirror: Option<Mirror>,
}

impl SseStream {
    pub fn new(id: u64, replay_capacity: usize) -> SseStream {
        SseStream {
            id,
            replay_capacity: replay_capacity.max(1),
            inner: Mutex::new(Inner {
                buffer: VecDeque::new(),
                next_seq: 1,
                delivered: 0,
                live: None,
                finished: false,
                parked: false,
            }),
            mirror: None,
        }
    }

    /// The stream's events are recorded through `mirror` too (a shared session's stream).
    pub fn with_mirror(mut self, mirror: Mirror) -> SseStream {
        self.mirror = Some(mirror);
        self
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn append(&self, inner: &mut Inner, bytes: Bytes) {
        let seq = inner.next_seq;
        inner.next_seq += 1;
        if inner.buffer.len() == self.replay_capacity {
            inner.buffer.pop_front();
        }
        inner.buffer.push_back((seq, bytes.clone()));
        // Under the stream's lock: recorded in the order sent.
        if let Some(mirror) = &self.mirror {
            mirror.record(seq, &bytes);
        }
        if let Some(live) = &inner.live {
            if live.try_send(bytes).is_ok() {
                inner.delivered = seq;
            } else {
                // Full or closed: let this connection go; the client can resume from the replay buffer.
                tracing::debug!(stream = self.id, seq, "SSE connection too slow or gone; detached (resumable)");
                inner.live = None;
            }
        }
    }

    /// Appends a JSON-RPC message as an event.
    pub fn push(&self, data: &[u8]) {
        let mut inner = self.lock();
        let seq = inner.next_seq;
        let bytes = event(self.id, seq, data);
        self.append(&mut inner, bytes);
    }

    /// The priming event: an id and empty data, so the client has something to resume from; with `retry`, how
    /// long it should wait before reconnecting.
    pub fn prime(&self, retry_ms: Option<u64>) {
        let mut inner = self.lock();
        let seq = inner.next_seq;
        let retry = retry_ms.map(|ms| format!("retry: {ms}\n")).unwrap_or_default();
        let bytes = Bytes::from(format!("id: {}.{seq}\n{retry}data: \n\n", self.id));
        self.append(&mut inner, bytes);
    }

    /// The response went out: the connection closes once it has sent everything.
    pub fn finish(&self) {
        let mut inner = self.lock();
        if !inner.finished {
            if let Some(mirror) = &self.mirror {
                mirror.end();
            }
        }
        inner.finished = true;
        inner.live = None;
    }

    pub fn is_finished(&self) -> bool {
        self.lock().finished
    }

    /// Closes the current connection without ending the stream (the client resumes with `Last-Event-ID`).
    pub fn park(&self) {
        let mut inner = self.lock();
        inner.parked = true;
        inner.live = None;
    }

    /// A new connection onto the stream, replacing any previous one. It first receives the buffered events
    /// after `after` (or, when `None`, those no connection has received yet), then live ones. A connection
    /// onto a finished or parked stream ends after the replay, unless it is a resumption (which un-parks).
    pub fn attach(&self, after: Option<u64>, resume: bool, channel_capacity: usize) -> mpsc::Receiver<Bytes> {
        let mut inner = self.lock();
        let (tx, rx) = mpsc::channel(channel_capacity.max(self.replay_capacity + 1));
        let from = after.unwrap_or(inner.delivered);
        let mut delivered = inner.delivered;
        for (seq, bytes) in inner.buffer.iter() {
            if *seq > from && tx.try_send(bytes.clone()).is_ok() {
                delivered = delivered.max(*seq);
            }
        }
        inner.delivered = delivered;
        if resume {
            inner.parked = false;
        }
        if !inner.finished && !inner.parked {
            inner.live = Some(tx);
        }
        rx
    }

    /// Whether `seq` is still in the replay buffer (or the stream has produced nothing after it).
    pub fn can_resume_after(&self, seq: u64) -> bool {
        let inner = self.lock();
        match inner.buffer.front() {
            // Saturating: a client-chosen Last-Event-ID can carry u64::MAX.
            Some((first, _)) => seq.saturating_add(1) >= *first && seq < inner.next_seq,
            None => seq < inner.next_seq,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(rx: &mut mpsc::Receiver<Bytes>) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(b) = rx.try_recv() {
            out.push(String::from_utf8_lossy(&b).into_owned());
        }
        out
    }

    #[test]
    fn events_carry_stream_and_sequence_ids() {
        let s = SseStream::new(3, 10);
        s.prime(Some(500));
        s.push(br#"{"a":1}"#);
        let mut rx = s.attach(None, false, 16);
        assert_eq!(drain(&mut rx), vec!["id: 3.1\nretry: 500\ndata: \n\n", "id: 3.2\ndata: {\"a\":1}\n\n"]);
        s.push(b"2");
        assert_eq!(drain(&mut rx), vec!["id: 3.3\ndata: 2\n\n"]);
        assert_eq!(parse_event_id("3.2"), Some((3, 2)));
        assert_eq!(parse_event_id("x"), None);
    }

    #[test]
    fn parked_stream_resumes_with_missed_events_only() {
        let s = SseStream::new(1, 10);
        let mut first = s.attach(None, false, 16);
        s.prime(None);
        s.park();
        s.push(b"late");
        assert_eq!(drain(&mut first).len(), 1);
        assert!(first.try_recv().is_err(), "the parked connection is closed");
        let mut resumed = s.attach(Some(1), true, 16);
        assert_eq!(drain(&mut resumed), vec!["id: 1.2\ndata: late\n\n"]);
        s.push(b"live");
        s.finish();
        assert_eq!(drain(&mut resumed), vec!["id: 1.3\ndata: live\n\n"]);
        assert!(matches!(resumed.try_recv(), Err(mpsc::error::TryRecvError::Disconnected)));
    }

    #[test]
    fn replay_buffer_is_bounded() {
        let s = SseStream::new(0, 2);
        for i in 0..5 {
            s.push(format!("{i}").as_bytes());
        }
        let mut rx = s.attach(Some(0), true, 16);
        assert_eq!(drain(&mut rx), vec!["id: 0.4\ndata: 3\n\n", "id: 0.5\ndata: 4\n\n"]);
        assert!(!s.can_resume_after(1));
        assert!(s.can_resume_after(3));
        assert!(!s.can_resume_after(u64::MAX), "a client-chosen Last-Event-ID at u64::MAX");
    }

    #[test]
    fn a_slow_connection_is_dropped_not_buffered() {
        let s = SseStream::new(0, 1);
        let mut rx = s.attach(None, false, 2);
        for i in 0..10 {
            s.push(format!("{i}").as_bytes());
        }
        let got = drain(&mut rx);
        assert!(got.len() <= 2, "{got:?}");
        assert!(matches!(rx.try_recv(), Err(mpsc::error::TryRecvError::Disconnected)));
    }
}
