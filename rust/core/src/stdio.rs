//! The stdio transport: one reader thread (framing, parsing, validation, built-ins) and one writer thread.
//!
//! NOTE: plain threads, not tokio: stdin and stdout are blocking pipes (tokio would hand every read to its
//! blocking pool anyway), and the reader thread answers built-ins itself without ever touching Python.
//!
//! Back-pressure: what waits to be written is bounded ([`OUTBOX_BYTES`]). While it is full, the reader stops
//! reading stdin (a client that does not read its answers stops getting its requests read) and a sender waits
//! for room, so memory stays bounded however long the client stays away; and while [`MAX_IN_FLIGHT`] calls run,
//! the reader pauses too.

use crate::context::Transport;
use crate::engine::Engine;
use crate::framing::{Line, LineReader};
use crate::jsonrpc::{self, INVALID_REQUEST};
use crate::session::{Dispatcher, OutKind, Outbound, Session};
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

/// Bytes of output that may wait to be written; past this, the reader and the senders wait (one message of any
/// size is always taken when nothing waits).
pub const OUTBOX_BYTES: usize = 16 * 1024 * 1024;

/// Calls running at once before the reader pauses. It pauses at most [`IN_FLIGHT_PAUSE`] at a time, then reads
/// one more message: the client's answers to the running calls' own requests must still get through.
pub const MAX_IN_FLIGHT: usize = 1024;
const IN_FLIGHT_PAUSE: std::time::Duration = std::time::Duration::from_secs(1);

#[derive(Default)]
struct Queued {
    messages: VecDeque<Vec<u8>>,
    bytes: usize,
    /// No more output is taken (closing, or stdout is gone).
    closed: bool,
}

/// The writer side: messages queue here and one thread writes them, coalescing whatever is ready into one flush.
struct StdioOut {
    queued: Mutex<Queued>,
    /// Signalled when a message is queued or the outbox closes.
    ready: Condvar,
    /// Signalled when the writer takes messages (room) or the outbox closes.
    room: Condvar,
    limit: usize,
}

impl StdioOut {
    fn new(limit: usize) -> StdioOut {
        StdioOut { queued: Mutex::new(Queued::default()), ready: Condvar::new(), room: Condvar::new(), limit }
    }

    fn lock(&self) -> MutexGuard<'_, Queued> {
        self.queued.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn full(&self, q: &Queued) -> bool {
        !q.closed && q.bytes >= self.limit
    }

    /// Blocks while the outbox is full (the reader calls it before reading the next request).
    fn wait_for_room(&self) {
        let mut q = self.lock();
        while self.full(&q) {
            q = self.room.wait(q).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Takes no more output; wakes everyone waiting.
    fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
        self.room.notify_all();
    }

    /// Everything queued, in order (waiting for something first); None once closed and empty.
    fn take(&self) -> Option<VecDeque<Vec<u8>>> {
        let mut q = self.lock();
        while q.messages.is_empty() && !q.closed {
            q = self.ready.wait(q).unwrap_or_else(|p| p.into_inner());
        }
        if q.messages.is_empty() {
            return None;
        }
        q.bytes = 0;
        let taken = std::mem::take(&mut q.messages);
        drop(q);
        self.room.notify_all();
        Some(taken)
    }
}

impl Outbound for StdioOut {
    fn send(&self, msg: Vec<u8>, _kind: OutKind) {
        let mut q = self.lock();
        while !q.messages.is_empty() && !q.closed && q.bytes + msg.len() > self.limit {
            q = self.room.wait(q).unwrap_or_else(|p| p.into_inner());
        }
        if q.closed {
            return; // the writer is gone (stdout closed) or closing: the message has nowhere to go
        }
        q.bytes += msg.len() + 1;
        q.messages.push_back(msg);
        drop(q);
        self.ready.notify_one();
    }
}

pub struct StdioTransport {
    session: Arc<Session>,
    out: Arc<StdioOut>,
    writer: Option<JoinHandle<()>>,
    reader: Option<JoinHandle<()>>,
    /// Writing to (or dropping) this ends the reader even while it waits for input.
    stop: Option<UnixStream>,
}

/// Input that reads as end-of-file once `stop` is signalled, so `close()` never leaves a thread blocked in read().
struct StoppableInput {
    file: File,
    stop: UnixStream,
}

impl Read for StoppableInput {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut fds = [
            libc::pollfd { fd: self.file.as_raw_fd(), events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: self.stop.as_raw_fd(), events: libc::POLLIN, revents: 0 },
        ];
        loop {
            // SAFETY: `fds` is a valid array of two pollfd structs for the duration of the call.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
            if n >= 0 {
                break;
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
        if fds[1].revents != 0 {
            return Ok(0);
        }
        self.file.read(buf)
    }
}

impl StdioTransport {
    /// Starts serving `input`/`output`. `dispatcher.closed()` is called when the input ends.
    pub fn start(
        engine: Arc<Engine>,
        dispatcher: Arc<dyn Dispatcher>,
        input: File,
        output: File,
        max_message_size: usize,
    ) -> std::io::Result<StdioTransport> {
        let out = Arc::new(StdioOut::new(OUTBOX_BYTES));
        let session = Session::new(out.clone(), dispatcher.clone(), Transport::Stdio);
        engine.register_session(&session);
        let writer_out = out.clone();
        let writer = std::thread::Builder::new()
            .name("ferromcp-stdout".into())
            .spawn(move || write_loop(&writer_out, output))?;
        let (reader_session, reader_out) = (session.clone(), out.clone());
        let (stop, stop_rx) = UnixStream::pair()?;
        let input = StoppableInput { file: input, stop: stop_rx };
        let reader = std::thread::Builder::new().name("ferromcp-stdin".into()).spawn(move || {
            read_loop(&engine, &reader_session, &reader_out, input, max_message_size);
            dispatcher.closed();
        })?;
        Ok(StdioTransport { session, out, writer: Some(writer), reader: Some(reader), stop: Some(stop) })
    }

    pub fn session(&self) -> &Arc<Session> {
        &self.session
    }

    /// Stops reading, stops accepting output, writes what is queued, and waits for both threads to finish.
    pub fn close(&mut self) {
        // Dropping our end of the stop socket wakes the reader's poll, which then reports end-of-input.
        self.stop.take();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        self.out.close();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

impl Drop for StdioTransport {
    fn drop(&mut self) {
        self.close();
    }
}

fn read_loop(engine: &Engine, session: &Arc<Session>, out: &StdioOut, input: StoppableInput, max: usize) {
    let mut reader = LineReader::new(BufReader::with_capacity(64 * 1024, input), max);
    loop {
        // Back-pressure: no new request while the client leaves its answers unread, or while many calls run.
        out.wait_for_room();
        let paused = std::time::Instant::now();
        while session.in_flight() >= MAX_IN_FLIGHT && paused.elapsed() < IN_FLIGHT_PAUSE {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        match reader.next_line() {
            Ok(Some(Line::Message(line))) => {
                engine.handle(session, &line);
            }
            Ok(Some(Line::Oversized { seen })) => {
                tracing::warn!(seen, max, "stdin message over the size limit discarded");
                let msg = format!("Invalid Request: message of at least {seen} bytes exceeds the limit of {max} bytes");
                session.out.send(jsonrpc::error_response(None, INVALID_REQUEST, &msg, None), OutKind::Response);
            }
            Ok(None) => {
                tracing::debug!("stdin closed");
                return;
            }
            Err(err) => {
                tracing::warn!(error = %err, "reading stdin failed; no more requests are read");
                return;
            }
        }
    }
}

fn write_loop(out: &StdioOut, output: File) {
    let mut w = BufWriter::with_capacity(64 * 1024, output);
    while let Some(batch) = out.take() {
        let ok = batch.iter().all(|msg| write_msg(&mut w, msg));
        if !ok || w.flush().is_err() {
            // The peer closed stdout: nothing more is taken, so senders and the reader never wait on it.
            tracing::warn!("stdout closed by the client; later responses are discarded");
            out.close();
            return;
        }
    }
}

fn write_msg(w: &mut BufWriter<File>, msg: &[u8]) -> bool {
    w.write_all(msg).is_ok() && w.write_all(b"\n").is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_outbox_is_bounded_and_waits_for_room() {
        let out = Arc::new(StdioOut::new(10));
        out.send(vec![b'a'; 30], OutKind::Response); // an oversized message is taken when nothing waits
        let sender = {
            let out = out.clone();
            std::thread::spawn(move || out.send(b"c".to_vec(), OutKind::Response))
        };
        std::thread::sleep(Duration::from_millis(50));
        assert!(!sender.is_finished(), "a sender waits while the outbox is full");
        assert!(out.full(&out.lock()));
        let first = out.take().unwrap_or_default();
        assert_eq!(first.len(), 1, "the writer takes everything queued");
        let _ = sender.join();
        assert_eq!(out.take().map(|q| q.len()), Some(1), "the waiting message went in once there was room");
        out.close();
        out.wait_for_room();
        out.send(b"late".to_vec(), OutKind::Response);
        assert_eq!(out.take(), None, "closed: nothing more is taken");
    }
}
