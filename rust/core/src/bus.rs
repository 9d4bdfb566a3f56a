//! The notification bus: what every interested receiver must hear about (a list changed, a resource was
//! updated) is published once and fanned out to the receivers that want it.
//!
//! Receivers are legacy sessions today (each takes what its protocol state asks for: list changes once
//! initialized, resource updates for the URIs it subscribed to) and, in the stateless era, `subscriptions/listen`
//! streams. The in-memory `LocalBus` reaches this process's receivers; an out-of-process bus
//! ([`crate::store::redis::RedisBus`]) publishes to the other processes too, whose buses deliver to theirs.
//! `publish` never blocks on delivery.

use crate::jsonrpc;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex, RwLock, Weak};

/// Something receivers may need to hear about. Serialized (as JSON between processes, by serde's externally
/// tagged form: `"ToolsChanged"`, `{"ResourceUpdated":"file:///a"}`) for out-of-process buses; a process that
/// does not know a variant another one sends ignores it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Notice {
    ToolsChanged,
    PromptsChanged,
    ResourcesChanged,
    /// The resource at this URI changed.
    ResourceUpdated(String),
    /// A task of the tasks extension changed: `detail` is its `DetailedTask` (a JSON object without
    /// `resultType`), for the `subscriptions/listen` streams of its owner that named it in `taskIds`.
    TaskStatus {
        owner: String,
        task_id: String,
        detail: String,
    },
    /// `tasks/cancel` of a task this process does not run: the process that runs it cancels it.
    CancelTask {
        owner: String,
        task_id: String,
    },
    /// `tasks/update` of a task this process does not run: its answers (`inputResponses`, a JSON object), for
    /// the process that runs it.
    TaskInput {
        owner: String,
        task_id: String,
        responses: String,
    },
    /// A client's answer to a server→client request of a shared session, received by a process that did not
    /// ask: the request's `id` (JSON) and its `result` or `error` (JSON), for the process that asked.
    ClientReply {
        session: String,
        id: String,
        result: Option<String>,
        error: Option<String>,
    },
    /// A shared session's state changed in one process (its log level or subscriptions): the other processes
    /// holding a copy take it on.
    SessionChanged(crate::store::SessionRecord),
    /// An event a shared session's SSE stream sent (its SSE text in `data`), or its end: for a process where a
    /// client resumed that stream.
    StreamEvent {
        session: String,
        stream: u64,
        seq: u64,
        data: String,
        end: bool,
    },
    /// A 2025-11-25 task of a shared session changed (its record as stored): for a process where a client waits
    /// on `tasks/result` for it.
    LegacyTask {
        session: String,
        task_id: String,
        record: crate::store::TaskRecord,
    },
    /// A shared session was ended (`DELETE`) in one process: the others drop their copies.
    SessionEnded(String),
}

impl Notice {
    /// The method of the notification a client gets; None for notices between processes.
    pub fn method(&self) -> Option<&'static str> {
        Some(match self {
            Notice::ToolsChanged => "notifications/tools/list_changed",
            Notice::PromptsChanged => "notifications/prompts/list_changed",
            Notice::ResourcesChanged => "notifications/resources/list_changed",
            Notice::ResourceUpdated(_) => "notifications/resources/updated",
            Notice::TaskStatus { .. } => "notifications/tasks",
            Notice::CancelTask { .. }
            | Notice::TaskInput { .. }
            | Notice::ClientReply { .. }
            | Notice::SessionChanged(_)
            | Notice::StreamEvent { .. }
            | Notice::LegacyTask { .. }
            | Notice::SessionEnded(_) => return None,
        })
    }

    /// The notice as a JSON-RPC notification (empty for notices between processes).
    pub fn to_notification(&self) -> Vec<u8> {
        let Some(method) = self.method() else { return Vec::new() };
        match self {
            Notice::ResourceUpdated(uri) => {
                let mut params = Vec::with_capacity(16 + uri.len());
                params.extend_from_slice(b"{\"uri\":");
                jsonrpc::push_json_string(&mut params, uri);
                params.push(b'}');
                jsonrpc::notification(method, &params)
            }
            Notice::TaskStatus { detail, .. } => jsonrpc::notification(method, detail.as_bytes()),
            _ => jsonrpc::notification(method, b"{}"),
        }
    }
}

/// Where notices are delivered.
pub trait Receiver: Send + Sync {
    /// Delivers `notice` if this receiver wants it (`message` is its notification, encoded once per publish);
    /// returns whether it was delivered.
    fn deliver(&self, notice: &Notice, message: &[u8]) -> bool;
}

pub trait Bus: Send + Sync {
    /// Publishes a notice; returns how many receivers of this process took it.
    fn publish(&self, notice: Notice) -> usize;
    /// Adds a receiver, held weakly: it leaves the bus when it is dropped.
    fn join(&self, receiver: Weak<dyn Receiver>);
}

/// The bus of one process: receivers in a list, dead ones pruned as they are found.
#[derive(Default)]
pub struct LocalBus {
    receivers: Mutex<Vec<Weak<dyn Receiver>>>,
}

impl LocalBus {
    pub fn new() -> Arc<LocalBus> {
        Arc::new(LocalBus::default())
    }

    /// Receivers still alive.
    pub fn len(&self) -> usize {
        self.receivers.lock().unwrap_or_else(|p| p.into_inner()).iter().filter(|w| w.strong_count() > 0).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Bus for LocalBus {
    fn publish(&self, notice: Notice) -> usize {
        let live: Vec<Arc<dyn Receiver>> = {
            let mut receivers = self.receivers.lock().unwrap_or_else(|p| p.into_inner());
            receivers.retain(|w| w.strong_count() > 0);
            receivers.iter().filter_map(Weak::upgrade).collect()
        };
        // Delivered outside the lock: a receiver may take its own locks, or join the bus.
        let message = notice.to_notification();
        live.iter().filter(|r| r.deliver(&notice, &message)).count()
    }

    fn join(&self, receiver: Weak<dyn Receiver>) {
        let mut receivers = self.receivers.lock().unwrap_or_else(|p| p.into_inner());
        // NOTE: pruning dead receivers on every join made opening n sessions O(n²); in batches it is amortised
        // O(1), and at most 256 dead entries wait for the next prune (or publish).
        if receivers.len() % 256 == 255 {
            receivers.retain(|w| w.strong_count() > 0);
        }
        receivers.push(receiver);
    }
}

/// An engine's bus: the process's own [`LocalBus`] until a shared one (Redis) takes its place when serving
/// starts. What joined before the switch is joined to the new bus too, so holders of the slot never notice.
pub struct BusSlot {
    current: RwLock<Arc<dyn Bus>>,
    /// Everything that joined, for a switch (pruned of dropped receivers as it grows).
    joined: Mutex<Vec<Weak<dyn Receiver>>>,
}

impl BusSlot {
    pub fn new(bus: Arc<dyn Bus>) -> Arc<BusSlot> {
        Arc::new(BusSlot { current: RwLock::new(bus), joined: Mutex::new(Vec::new()) })
    }

    /// Puts `bus` in place of the current one; receivers joined so far join it.
    pub fn switch_to(&self, bus: Arc<dyn Bus>) {
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        let mut joined = self.joined.lock().unwrap_or_else(|p| p.into_inner());
        joined.retain(|w| w.strong_count() > 0);
        for receiver in joined.iter() {
            bus.join(receiver.clone());
        }
        *current = bus;
    }

    fn current(&self) -> Arc<dyn Bus> {
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Bus for BusSlot {
    fn publish(&self, notice: Notice) -> usize {
        self.current().publish(notice)
    }

    fn join(&self, receiver: Weak<dyn Receiver>) {
        // Under the read lock: a switch cannot slip between recording the receiver and joining it.
        let current = self.current.read().unwrap_or_else(|p| p.into_inner());
        {
            let mut joined = self.joined.lock().unwrap_or_else(|p| p.into_inner());
            if joined.len() % 256 == 255 {
                joined.retain(|w| w.strong_count() > 0);
            }
            joined.push(receiver.clone());
        }
        current.join(receiver);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// Takes list changes, and updates of one URI.
    struct Watcher {
        uri: &'static str,
        got: Mutex<Vec<Value>>,
    }

    impl Receiver for Watcher {
        fn deliver(&self, notice: &Notice, message: &[u8]) -> bool {
            if matches!(notice, Notice::ResourceUpdated(uri) if uri != self.uri) {
                return false;
            }
            let v = serde_json::from_slice(message).unwrap_or(Value::Null);
            self.got.lock().unwrap_or_else(|p| p.into_inner()).push(v);
            true
        }
    }

    fn watcher(uri: &'static str) -> Arc<Watcher> {
        Arc::new(Watcher { uri, got: Mutex::new(Vec::new()) })
    }

    fn joined(bus: &LocalBus, w: &Arc<Watcher>) {
        let as_receiver: Arc<dyn Receiver> = w.clone();
        bus.join(Arc::downgrade(&as_receiver));
    }

    #[test]
    fn notices_reach_the_receivers_that_want_them() {
        let bus = LocalBus::new();
        let (a, b) = (watcher("file:///a"), watcher("file:///b"));
        joined(&bus, &a);
        joined(&bus, &b);
        assert_eq!(bus.publish(Notice::ToolsChanged), 2);
        assert_eq!(bus.publish(Notice::ResourceUpdated("file:///a".into())), 1);
        let got = a.got.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert_eq!(
            got[0],
            serde_json::json!({"jsonrpc": "2.0", "method": "notifications/tools/list_changed", "params": {}})
        );
        assert_eq!(got[1]["params"], serde_json::json!({"uri": "file:///a"}));
        assert_eq!(b.got.lock().unwrap_or_else(|p| p.into_inner()).len(), 1);
    }

    #[test]
    fn a_switched_slot_keeps_its_receivers() {
        let slot = BusSlot::new(LocalBus::new());
        let early = watcher("x");
        let as_receiver: Arc<dyn Receiver> = early.clone();
        slot.join(Arc::downgrade(&as_receiver));
        assert_eq!(slot.publish(Notice::ToolsChanged), 1);
        let shared = LocalBus::new();
        slot.switch_to(shared.clone());
        assert_eq!(shared.publish(Notice::PromptsChanged), 1, "the early receiver joined the new bus");
        assert_eq!(slot.publish(Notice::ResourcesChanged), 1, "the slot publishes on the new bus");
        assert_eq!(early.got.lock().unwrap_or_else(|p| p.into_inner()).len(), 3);
    }

    #[test]
    fn dropped_receivers_leave_the_bus() {
        let bus = LocalBus::new();
        let kept = watcher("x");
        joined(&bus, &kept);
        for _ in 0..600 {
            joined(&bus, &watcher("y")); // dropped at once
        }
        assert!(bus.receivers.lock().unwrap_or_else(|p| p.into_inner()).len() < 300, "dead receivers were not pruned");
        assert_eq!(bus.len(), 1);
        assert_eq!(bus.publish(Notice::PromptsChanged), 1);
        drop(kept);
        assert!(bus.is_empty());
        assert_eq!(bus.publish(Notice::ResourcesChanged), 0);
    }
}
