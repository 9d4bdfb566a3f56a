//! The stdio transport: one reader thread (framing, parsing, validation, built-ins) and one writer thread.
//!
//! NOTE: plain threads, not tokio: stdin and stdout are blocking pipes (tokio would hand every read to its
//! blocking pool anyway), and the reader thread answers built-ins itself without ever touching Python.

use crate::engine::Engine;
use crate::framing::{Line, LineReader};
use crate::jsonrpc::{self, INVALID_REQUEST};
use crate::session::{Dispatcher, OutKind, Outbound, Session};
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
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
        let out = Arc::new(StdioOut {
            tx: Mutex::new(Some(tx)),
        });
        let session = Session::new(out.clone(), dispatcher.clone());
        let writer = std::thread::Builder::new()
            .name("ferromcp-stdout".into())
            .spawn(move || write_loop(rx, output))?;
        let reader_session = session.clone();
        std::thread::Builder::new()
            .name("ferromcp-stdin".into())
            .spawn(move || {
                read_loop(&engine, &reader_session, input, max_message_size);
                dispatcher.closed();
            })?;
        Ok(StdioTransport {
            session,
            out,
            writer: Some(writer),
        })
    }

    pub fn session(&self) -> &Arc<Session> {
        &self.session
    }

    /// Stops accepting output, writes what is queued, and waits for the writer to finish.
    pub fn close(&mut self) {
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

fn read_loop(engine: &Engine, session: &Arc<Session>, input: File, max: usize) {
    let mut reader = LineReader::new(BufReader::with_capacity(64 * 1024, input), max);
    loop {
        match reader.next_line() {
            Ok(Some(Line::Message(line))) => engine.handle(session, &line),
            Ok(Some(Line::Oversized { seen })) => {
                let msg = format!("Invalid Request: message of at least {seen} bytes exceeds the limit of {max} bytes");
                session.out.send(
                    jsonrpc::error_response(None, INVALID_REQUEST, &msg, None),
                    OutKind::Response,
                );
            }
            Ok(None) | Err(_) => return,
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
            while rx.recv().is_ok() {}
            return;
        }
    }
}

fn write_msg(w: &mut BufWriter<File>, msg: &[u8]) -> bool {
    w.write_all(msg).is_ok() && w.write_all(b"\n").is_ok()
}
