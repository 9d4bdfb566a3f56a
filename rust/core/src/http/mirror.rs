//! SSE streams of shared sessions, resumable on another process: every event a stream sends is also written to
//! the event store and then announced on the bus ([`Notice::StreamEvent`]), so a client whose connection
//! dropped can resume with `Last-Event-ID` on any process — which replays what the store kept after that event
//! and then relays the stream's new events as the process that runs it sends them, until it ends.
//!
//! Stream ids of shared sessions carry the process's tag in their upper 32 bits, so event ids (`<stream>.<seq>`)
//! stay unique in a session whichever process sent them, and name the process that owns the stream.
//!
//! Order and completeness: events are written and announced by one writer task in the order they were sent,
//! each announced only once the store holds it; a resuming process joins the bus before it reads the store,
//! holds what the bus brings until the replay is out, and drops whatever it has already sent (by sequence). So
//! the client gets every event after its `Last-Event-ID` once, in order.

use super::sse::{parse_event_id, SseStream};
use crate::bus::{Bus, Notice, Receiver};
use crate::store::{EventStore, StoredEvent};
use bytes::Bytes;
use std::sync::{Arc, Mutex};
use tokio::runtime::Handle;
use tokio::sync::mpsc;

/// The id a stored stream ends with: nothing more will be sent on it.
const END: &str = "end";

struct Entry {
    session: Arc<str>,
    stream: u64,
    seq: u64,
    data: Bytes,
    end: bool,
}

/// Writes and announces the events of one process's shared streams, in order.
pub struct EventJournal {
    writes: mpsc::UnboundedSender<Entry>,
    store: Arc<dyn EventStore>,
    bus: Arc<dyn Bus>,
}

fn key(session: &str, stream: u64) -> String {
    format!("{session}/{stream}")
}

impl EventJournal {
    pub fn start(store: Arc<dyn EventStore>, bus: Arc<dyn Bus>, runtime: Handle) -> Arc<EventJournal> {
        let (writes, mut queue) = mpsc::unbounded_channel::<Entry>();
        let (writer_store, writer_bus) = (store.clone(), bus.clone());
        runtime.spawn(async move {
            while let Some(e) = queue.recv().await {
                let id = if e.end { END.to_owned() } else { format!("{}.{}", e.stream, e.seq) };
                let stored = StoredEvent { id, data: e.data.clone() };
                if let Err(err) = writer_store.append(&key(&e.session, e.stream), stored).await {
                    // Announced anyway: a client resuming elsewhere right now still gets it live.
                    tracing::warn!(error = %err, "an SSE event was not written to the event store");
                }
                writer_bus.publish(Notice::StreamEvent {
                    session: e.session.to_string(),
                    stream: e.stream,
                    seq: e.seq,
                    data: String::from_utf8_lossy(&e.data).into_owned(),
                    end: e.end,
                });
            }
        });
        Arc::new(EventJournal { writes, store, bus })
    }

    fn send(&self, entry: Entry) {
        // Fails only once the runtime is gone (shutdown): nothing can resume then anyway.
        let _ = self.writes.send(entry);
    }
}

/// What a stream of a shared session records its events through.
pub struct Mirror {
    pub journal: Arc<EventJournal>,
    pub session: Arc<str>,
    pub stream: u64,
}

impl Mirror {
    pub fn record(&self, seq: u64, data: &Bytes) {
        let (session, stream) = (self.session.clone(), self.stream);
        self.journal.send(Entry { session, stream, seq, data: data.clone(), end: false });
    }

    pub fn end(&self) {
        let (session, stream) = (self.session.clone(), self.stream);
        self.journal.send(Entry { session, stream, seq: u64::MAX, data: Bytes::new(), end: true });
    }
}

/// A stream of another process, resumed here: replayed from the store, then relayed from the bus.
pub struct RemoteStream {
    session: String,
    stream: u64,
    state: Mutex<Relay>,
}

struct Relay {
    out: Option<mpsc::Sender<Bytes>>,
    /// The highest sequence sent to the client.
    sent: u64,
    /// Live events that came while the replay was being read, sent after it.
    held: Option<Vec<(u64, Bytes, bool)>>,
}

impl Relay {
    fn forward(&mut self, seq: u64, data: Bytes, end: bool) {
        if end {
            self.out = None; // the stream is over: the response ends once the client has what was sent
            return;
        }
        if seq <= self.sent {
            return;
        }
        if let Some(out) = &self.out {
            if out.try_send(data).is_ok() {
                self.sent = seq;
            } else {
                self.out = None; // too slow or gone: the client resumes again from the store
            }
        }
    }
}

impl RemoteStream {
    /// Resumes `stream` of `session` after `last_event_id`: None when the store does not keep that event (the
    /// stream cannot be resumed), else what the SSE response sends and what must stay alive while it does.
    pub async fn open(
        journal: &EventJournal,
        session: &str,
        stream: u64,
        last_event_id: &str,
        capacity: usize,
    ) -> Option<(mpsc::Receiver<Bytes>, Arc<RemoteStream>)> {
        let (_, after) = parse_event_id(last_event_id)?;
        let (tx, rx) = mpsc::channel(capacity.max(2));
        let remote = Arc::new(RemoteStream {
            session: session.to_owned(),
            stream,
            state: Mutex::new(Relay { out: Some(tx), sent: after, held: Some(Vec::new()) }),
        });
        // On the bus before the store is read: nothing sent in between is missed.
        let receiver: Arc<dyn Receiver> = remote.clone();
        journal.bus.join(Arc::downgrade(&receiver));
        let replay = match journal.store.replay_after(&key(session, stream), last_event_id.trim()).await {
            Ok(Some(events)) => events,
            Ok(None) => return None,
            Err(e) => {
                tracing::warn!(error = %e, "cannot replay a stream from the event store");
                return None;
            }
        };
        let mut state = remote.lock();
        for event in replay {
            match event.id.as_str() {
                END => state.forward(u64::MAX, Bytes::new(), true),
                id => {
                    if let Some((_, seq)) = parse_event_id(id) {
                        state.forward(seq, event.data, false);
                    }
                }
            }
        }
        for (seq, data, end) in state.held.take().unwrap_or_default() {
            state.forward(seq, data, end);
        }
        drop(state);
        Some((rx, remote))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Relay> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Receiver for RemoteStream {
    fn deliver(&self, notice: &Notice, _: &[u8]) -> bool {
        let Notice::StreamEvent { session, stream, seq, data, end } = notice else { return false };
        if *stream != self.stream || *session != self.session {
            return false;
        }
        let mut state = self.lock();
        let data = Bytes::from(data.clone().into_bytes());
        match &mut state.held {
            Some(held) => held.push((*seq, data, *end)),
            None => state.forward(*seq, data, *end),
        }
        true
    }
}

/// The id of a shared session's stream `n` on the process tagged `tag` (the standalone GET stream is `n` 0).
pub fn stream_id(tag: u32, n: u64) -> u64 {
    (u64::from(tag) << 32) | (n & 0xffff_ffff)
}

/// The tag of the process that owns stream `id`.
pub fn owner_of(id: u64) -> u32 {
    (id >> 32) as u32
}

/// A stream of a shared session: it records its events through `mirror`.
pub fn mirrored(id: u64, replay_capacity: usize, mirror: Mirror) -> SseStream {
    SseStream::new(id, replay_capacity).with_mirror(mirror)
}
