//! A real `redis-server` for the tests: each test starts its own on a free port of 127.0.0.1, in a directory of
//! its own, with nothing saved to disk; it is killed when the test is done. Without the binary the tests fail,
//! saying how to install it (they never skip).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const HOW_TO_INSTALL: &str = "the Redis store tests need a real redis-server on PATH: run `make redis` \
     (or `apt-get install redis-server` on Debian/Ubuntu, `brew install redis` on macOS)";

/// A `redis-server` process this test owns.
pub(crate) struct RedisServer {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server and waits until it answers `PING`.
    pub(crate) fn start() -> RedisServer {
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port();
            let dir = std::env::temp_dir().join(format!("ferromcp-redis-{}-{port}", std::process::id()));
            let mut server = RedisServer { port, dir, child: None };
            match server.launch() {
                Ok(()) => return server,
                Err(why) => last = why, // most likely the port was taken meanwhile: another one
            }
        }
        panic!("redis-server did not start: {last}");
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the server (as a crash would: SIGKILL) and waits for it to be gone.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port (empty: nothing was saved).
    pub(crate) fn restart(&mut self) {
        self.kill();
        if let Err(why) = self.launch() {
            panic!("redis-server did not restart: {why}");
        }
    }

    fn launch(&mut self) -> Result<(), String> {
        std::fs::create_dir_all(&self.dir).map_err(|e| format!("cannot create {}: {e}", self.dir.display()))?;
        let log = self.dir.join("redis.log");
        let spawned = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--daemonize", "no", "--logfile"])
            .arg(&log)
            .arg("--dir")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!("{HOW_TO_INSTALL}"),
            Err(e) => panic!("cannot run redis-server: {e}"),
        };
        self.child = Some(child);
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if answers(self.port) {
                return Ok(());
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                let said = std::fs::read_to_string(&log).unwrap_or_default();
                return Err(format!("it exited ({status}) on port {}: {said}", self.port));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
        Err(format!("it did not answer PING on port {} within 10 s", self.port))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port on 127.0.0.1: {e}"))
}

/// Whether a Redis on the port answers `PING` (inline command) with `+PONG`.
fn answers(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut reply = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok() && stream.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n"
}
