//! The stdio transport: one reader thread (framing, parsing, validation, built-ins) and one writer thread.
//!
//! NOTE: plain threads, not tokio: stdin and stdout are blocking pipes (tokio would hand every read to its
//! blocking pool anyway), and the reader thread answers built-ins itself without ever touching Python.

use crate::context::Transport;
use crate::engine::Engine;
use crate::framing::{Line, LineReader};
use crate::jsonrpc::{self, INVALID_REQUEST};
use crate::session::{Dispatcher, OutKind, Outbound, Session};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// The writer side: messages queue here and one thread writes them, coalescing whatever is ready into one flush.
struct StdioOut {
    tx: Mutex<Option<Sender<Vec<u8>>>>,
}

impl Outbound for StdioOut {
    fn send(&self, msg: Vec<u8>, _kind: OutKind) {
        if let Some(tx) = self.tx.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            // A send error means the writer is gone (stdout closed); the message has nowhere to go.
            let _ = tx.send(msg);
        }
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
        let (tx, rx) = channel::<Vec<u8>>();
        let out = Arc::new(StdioOut { tx: Mutex::new(Some(tx)) });
        let session = Session::new(out.clone(), dispatcher.clone(), Transport::Stdio);
        engine.register_session(&session);
        let writer =
            std::thread::Builder::new().name("ferromcp-stdout".into()).spawn(move || write_loop(rx, output))?;
        let reader_session = session.clone();
        let (stop, stop_rx) = UnixStream::pair()?;
        let input = StoppableInput { file: input, stop: stop_rx };
        let reader = std::thread::Builder::new().name("ferromcp-stdin".into()).spawn(move || {
            read_loop(&engine, &reader_session, input, max_message_size);
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
        self.out.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
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

fn read_loop(engine: &Engine, session: &Arc<Session>, input: StoppableInput, max: usize) {
    let mut reader = LineReader::new(BufReader::with_capacity(64 * 1024, input), max);
    loop {
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

fn write_loop(rx: Receiver<Vec<u8>>, output: File) {
    let mut w = BufWriter::with_capacity(64 * 1024, output);
    while let Ok(first) = rx.recv() {
        let mut ok = write_msg(&mut w, &first);
        while ok {
            match rx.try_recv() {
                Ok(msg) => ok = write_msg(&mut w, &msg),
                Err(_) => break,
            }
        }
        if !ok || w.flush().is_err() {
            // The peer closed stdout; keep draining so senders never block, but write nothing more.
            tracing::warn!("stdout closed by the client; later responses are discarded");
            while rx.recv().is_ok() {}
            return;
        }
    }
}

fn write_msg(w: &mut BufWriter<File>, msg: &[u8]) -> bool {
    w.write_all(msg).is_ok() && w.write_all(b"\n").is_ok()
}
