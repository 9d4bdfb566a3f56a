//! The notification bus across processes, on Redis pub/sub: each process publishes its notices on the channel
//! `P bus` and delivers those of the other processes to its own receivers.
//!
//! A message is `{"origin":"<the publishing bus's random id>","notice":<the Notice as JSON>}`; a bus ignores its
//! own (delivered locally already), and logs and ignores a message it cannot read (another version's notice).
//! Pub/sub delivers at most once: a notice published while a process is not subscribed (Redis down, or the
//! subscription being re-established) does not reach that process.

use super::{redact, RedisOptions};
use crate::bus::{Bus, LocalBus, Notice, Receiver};
use crate::store::StoreError;
use futures_util::StreamExt;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Notices waiting to be published on Redis; past this, publishing drops them (with a warning).
const OUTBOX: usize = 1024;
/// How often the subscription's connection is checked (a `PING`), so that a dead one is noticed.
const KEEPALIVE: Duration = Duration::from_secs(15);
const RESUBSCRIBE_MIN: Duration = Duration::from_millis(50);
const RESUBSCRIBE_MAX: Duration = Duration::from_secs(1);

#[derive(Serialize)]
struct Outgoing<'a> {
    origin: &'a str,
    notice: &'a Notice,
}

#[derive(Deserialize)]
struct Incoming {
    origin: String,
    notice: Notice,
}

/// A bus whose notices reach this process's receivers at once (a [`LocalBus`] inside) and the other processes'
/// through Redis. `publish` never waits on Redis: the notice is handed to a background task through a bounded
/// queue, and dropped with a warning when the queue is full.
pub struct RedisBus {
    local: Arc<LocalBus>,
    outbox: mpsc::Sender<Notice>,
    /// Set while notices are being dropped, so that a Redis outage warns once rather than per notice.
    dropping: AtomicBool,
    origin: Arc<str>,
    listener: JoinHandle<()>,
}

impl RedisBus {
    /// Starts the bus's two background tasks (one publishes, one listens) on `runtime`, which is taken as an
    /// argument because an engine gets its bus when it is built, before it serves on a runtime. Connects in the
    /// background: Redis need not be up yet (meanwhile notices reach this process's receivers only). Fails only
    /// on a URL that cannot be used.
    pub fn start(options: &RedisOptions, runtime: &Handle) -> Result<Arc<RedisBus>, StoreError> {
        let client = options.client()?;
        let publisher = {
            let _in_runtime = runtime.enter();
            options.manager()?
        };
        let origin: Arc<str> = random_id().into();
        let channel = format!("{}bus", options.prefix);
        let local = LocalBus::new();
        let (outbox, queued) = mpsc::channel(OUTBOX);
        runtime.spawn(publish(publisher, queued, channel.clone(), origin.clone(), options.deadline()));
        let listener = runtime.spawn(listen(client, channel, origin.clone(), Arc::downgrade(&local), options.clone()));
        Ok(Arc::new(RedisBus { local, outbox, dropping: AtomicBool::new(false), origin, listener }))
    }

    /// This bus's id, which its messages carry.
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

impl Drop for RedisBus {
    /// The listener stops; the publisher sends what is queued and stops when the queue closes.
    fn drop(&mut self) {
        self.listener.abort();
    }
}

impl Bus for RedisBus {
    fn publish(&self, notice: Notice) -> usize {
        match self.outbox.try_send(notice.clone()) {
            Ok(()) => {
                if self.dropping.swap(false, Ordering::Relaxed) {
                    tracing::info!("the Redis bus takes notices again");
                }
            }
            Err(e) => {
                if !self.dropping.swap(true, Ordering::Relaxed) {
                    let why = match e {
                        mpsc::error::TrySendError::Full(_) => "its queue is full (is Redis down?)",
                        mpsc::error::TrySendError::Closed(_) => "its publisher has stopped",
                    };
                    tracing::warn!("notices are not reaching the other processes: {why}; dropping them");
                }
            }
        }
        self.local.publish(notice)
    }

    fn join(&self, receiver: Weak<dyn Receiver>) {
        self.local.join(receiver);
    }
}

/// Random hex, to tell this bus's messages from the others'. Should the system have no randomness to give, the
/// process id and the clock still set processes apart.
fn random_id() -> String {
    let mut raw = [0u8; 16];
    if getrandom::fill(&mut raw).is_err() {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        return format!("{}-{}", std::process::id(), nanos.as_nanos());
    }
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

/// Publishes the queued notices, each bounded by `deadline`; failures are logged (once per outage).
async fn publish(
    mut redis: ConnectionManager,
    mut queued: mpsc::Receiver<Notice>,
    channel: String,
    origin: Arc<str>,
    deadline: Duration,
) {
    let mut failing = false;
    while let Some(notice) = queued.recv().await {
        let message = match serde_json::to_vec(&Outgoing { origin: &origin, notice: &notice }) {
            Ok(message) => message,
            Err(e) => {
                tracing::warn!("cannot encode {notice:?} for the Redis bus: {e}");
                continue;
            }
        };
        let mut cmd = redis::cmd("PUBLISH");
        cmd.arg(&channel).arg(message);
        let sent = tokio::time::timeout(deadline, cmd.query_async::<i64>(&mut redis)).await;
        match sent {
            Ok(Ok(_)) if failing => {
                failing = false;
                tracing::info!("the Redis bus publishes again");
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) if !failing => {
                failing = true;
                tracing::warn!("cannot publish on the Redis bus (notices are not reaching the other processes): {e}");
            }
            Err(_) if !failing => {
                failing = true;
                tracing::warn!(
                    "Redis did not take a notice within {deadline:?}; notices are not reaching the other processes"
                );
            }
            _ => {}
        }
    }
}

/// Subscribes to the channel and delivers the other processes' notices to this process's receivers, for as
/// long as the bus lives; resubscribes (after a short, growing pause) whenever the subscription is lost.
async fn listen(
    client: redis::Client,
    channel: String,
    origin: Arc<str>,
    local: Weak<LocalBus>,
    options: RedisOptions,
) {
    let deadline = options.deadline();
    let mut pause = RESUBSCRIBE_MIN;
    let mut failing = false;
    loop {
        let subscribed = tokio::time::timeout(deadline, async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(pubsub.split())
        })
        .await;
        match subscribed {
            Ok(Ok((mut sink, mut messages))) => {
                if failing {
                    tracing::info!("subscribed to the Redis bus again");
                }
                pause = RESUBSCRIBE_MIN;
                let mut keepalive = tokio::time::interval(KEEPALIVE);
                keepalive.tick().await;
                loop {
                    tokio::select! {
                        message = messages.next() => match message {
                            Some(message) => {
                                let Some(local) = local.upgrade() else { return };
                                deliver(&local, &origin, message.get_payload_bytes());
                            }
                            None => break,
                        },
                        _ = keepalive.tick() => {
                            let ping = tokio::time::timeout(deadline, sink.ping::<redis::Value>()).await;
                            if !matches!(ping, Ok(Ok(_))) {
                                break;
                            }
                        }
                    }
                }
                failing = true; // until subscribed again
                tracing::warn!("lost the Redis bus subscription at {}; resubscribing", redact(&options.url));
            }
            Ok(Err(e)) if !failing => {
                failing = true;
                tracing::warn!("cannot subscribe to the Redis bus at {} (retrying): {e}", redact(&options.url));
            }
            Err(_) if !failing => {
                failing = true;
                tracing::warn!("Redis at {} did not answer within {deadline:?} (retrying)", redact(&options.url));
            }
            _ => {}
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(RESUBSCRIBE_MAX);
    }
}

/// Delivers a message published by another process to this one's receivers.
fn deliver(local: &LocalBus, origin: &str, payload: &[u8]) {
    match serde_json::from_slice::<Incoming>(payload) {
        Ok(incoming) if incoming.origin == origin => {}
        Ok(incoming) => {
            local.publish(incoming.notice);
        }
        Err(e) => {
            let shown = String::from_utf8_lossy(&payload[..payload.len().min(200)]);
            tracing::warn!("ignoring a message on the Redis bus that this version cannot read ({e}): {shown}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_the_origin_and_the_notice() {
        let notice = Notice::ResourceUpdated("file:///a".into());
        let text = serde_json::to_string(&Outgoing { origin: "o1", notice: &notice }).unwrap_or_default();
        assert_eq!(text, r#"{"origin":"o1","notice":{"ResourceUpdated":"file:///a"}}"#);
        let back: Incoming =
            serde_json::from_str(r#"{"origin":"o2","notice":"ToolsChanged"}"#).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((back.origin.as_str(), back.notice), ("o2", Notice::ToolsChanged));
        assert!(serde_json::from_str::<Incoming>(r#"{"origin":"o2","notice":"SomethingNew"}"#).is_err());
        assert_ne!(random_id(), random_id());
    }
}
