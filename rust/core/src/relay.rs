//! Sessions shared by several processes (a session store is configured): a client's answer to a server→client
//! request (sampling, elicitation, roots) may reach another process than the one whose handler waits for it —
//! a load balancer picks per request. That process publishes it on the bus ([`Notice::ClientReply`]) and the
//! process that asked takes it from there.
//!
//! So that the processes never hand out the same request id within one session, a shared session's requests
//! to the client carry string ids made of the serving engine's random tag and a counter (`"3f9c2a61-7"`); a
//! session of one process keeps plain integer ids.

use crate::bus::{Bus, Notice};
use crate::engine::Journal;
use crate::jsonrpc::RequestId;
use std::sync::Arc;

/// A random tag for an engine's requests in shared sessions: 8 hex digits.
pub fn new_tag() -> Arc<str> {
    let mut raw = [0u8; 4];
    // Without randomness the time and pid still set processes apart well enough for a tag.
    if getrandom::fill(&mut raw).is_err() {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        raw = (nanos.subsec_nanos() ^ std::process::id()).to_le_bytes();
    }
    raw.iter().map(|b| format!("{b:02x}")).collect::<String>().into()
}

/// How a shared session reaches the other processes: its id, the bus they share, and the tag of this
/// process's requests.
pub struct Relay {
    pub session_id: String,
    pub bus: Arc<dyn Bus>,
    pub tag: Arc<str>,
    /// Where the session's (2025-11-25) tasks are written, so any process answers `tasks/*` for them.
    pub(crate) tasks: Option<Arc<Journal>>,
}

impl Relay {
    /// The id of this process's `n`th request to the client in the session.
    pub fn request_id(&self, n: u64) -> RequestId {
        RequestId::from_text(&format!("{}-{n}", self.tag))
    }

    /// Whether `id` names a request another process made (so its answer is worth relaying).
    pub fn asked_elsewhere(&self, id: &RequestId) -> bool {
        let json = id.json();
        json.strip_prefix('"')
            .and_then(|s| s.split_once('-'))
            .is_some_and(|(tag, _)| tag.len() == 8 && tag != &*self.tag)
    }

    /// Hands the client's answer to request `id` to the other processes.
    pub fn relay_reply(&self, id: &RequestId, result: Option<&str>, error: Option<&str>) {
        self.bus.publish(Notice::ClientReply {
            session: self.session_id.clone(),
            id: id.json().to_owned(),
            result: result.map(str::to_owned),
            error: error.map(str::to_owned),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_of_shared_sessions_name_their_process() {
        let relay =
            Relay { session_id: "s".into(), bus: crate::bus::LocalBus::new(), tag: "12345678".into(), tasks: None };
        let id = relay.request_id(7);
        assert_eq!(id.json(), "\"12345678-7\"");
        assert!(!relay.asked_elsewhere(&id), "our own request");
        assert!(relay.asked_elsewhere(&RequestId::from_text("0badf00d-7")));
        assert!(!relay.asked_elsewhere(&RequestId::from_number(7)), "a plain id is never another process's");
        assert!(!relay.asked_elsewhere(&RequestId::from_text("short-7")));
        assert_eq!(new_tag().len(), 8);
    }
}
