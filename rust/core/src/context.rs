//! The context a request is handled in, built once per request before anything runs and carried by its call to
//! the handler: the protocol version (and so the era), what the client declared, the log threshold, who is
//! asking, and what carried the request. A legacy request takes these from its session; a request of the
//! stateless era will take them from its own `_meta`, with no session at all.

use crate::protocol::ProtocolVersion;
use crate::session::Session;
use serde_json::{Map, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// What carried a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Stdio,
    Http,
}

/// Who is asking, once authentication has established it (the HTTP auth layer fills it in).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Principal {
    pub subject: String,
    pub scopes: Vec<String>,
    /// The verified token's claims.
    pub claims: Map<String, Value>,
    /// The OAuth client the token was issued to (`client_id` or `azp`), when it says.
    pub client_id: Option<String>,
    /// When the token expires (seconds since the epoch), when it says.
    pub expires_at: Option<u64>,
}

/// Where a request's log threshold comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogThreshold {
    /// The session's `logging/setLevel`, as it is when each message is sent (legacy).
    Session,
    /// Fixed for the request (a rank from `protocol::log_rank`; 0 lets everything through).
    Fixed(u8),
    /// Nothing is sent (a stateless request that set no `logLevel`).
    Off,
}

#[derive(Clone, Debug)]
pub struct RequestCtx {
    pub version: ProtocolVersion,
    /// The client's declared capabilities (`sampling`, `elicitation`, `roots`, `extensions`, ...).
    pub client_capabilities: Arc<Map<String, Value>>,
    pub log: LogThreshold,
    pub principal: Option<Arc<Principal>>,
    pub transport: Transport,
}

impl RequestCtx {
    /// The context of a request on a legacy session: None until `initialize` has been answered.
    pub fn legacy(session: &Session) -> Option<RequestCtx> {
        let state = session.state();
        Some(RequestCtx {
            version: state.version?,
            client_capabilities: state.client_capabilities.clone(),
            log: LogThreshold::Session,
            principal: None,
            transport: session.transport,
        })
    }

    /// The client's declared capability `name`, if it declared one.
    pub fn client_capability(&self, name: &str) -> Option<&Value> {
        self.client_capabilities.get(name)
    }

    /// The rank below which `notifications/message` is not sent for this request.
    pub fn log_rank(&self, session: &Session) -> u8 {
        match self.log {
            LogThreshold::Session => session.log_rank.load(Ordering::Relaxed),
            LogThreshold::Fixed(rank) => rank,
            LogThreshold::Off => u8::MAX,
        }
    }

    /// Whether the request is a stateless (2026-07-28) one.
    pub fn is_modern(&self) -> bool {
        !self.version.is_legacy()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{Call, Dispatcher, OutKind, Outbound, ReplyOutcome};

    struct Nowhere;

    impl Outbound for Nowhere {
        fn send(&self, _: Vec<u8>, _: OutKind) {}
    }

    impl Dispatcher for Nowhere {
        fn call(&self, _: Arc<Call>, _: Value) {}
        fn cancel(&self, _: &Arc<Call>) {}
        fn closed(&self) {}
        fn reply(&self, _: u64, _: ReplyOutcome) {}
    }

    #[test]
    fn a_legacy_context_follows_its_session() {
        let session = Session::new(Arc::new(Nowhere), Arc::new(Nowhere), Transport::Http);
        session.state().client_capabilities =
            Arc::new(serde_json::json!({"sampling": {}}).as_object().cloned().unwrap_or_default());
        assert!(RequestCtx::legacy(&session).is_none(), "no context before initialize");
        session.state().version = Some(ProtocolVersion::V2025_06_18);
        let Some(ctx) = RequestCtx::legacy(&session) else { panic!("no context after initialize") };
        assert_eq!(ctx.transport, Transport::Http);
        assert_eq!(ctx.client_capability("sampling"), Some(&serde_json::json!({})));
        assert_eq!(ctx.client_capability("roots"), None);
        assert_eq!(ctx.log_rank(&session), 0);
        session.set_log_rank(4);
        assert_eq!(ctx.log_rank(&session), 4, "a later logging/setLevel applies to calls already running");
        let fixed = RequestCtx { log: LogThreshold::Fixed(6), ..ctx };
        assert_eq!(fixed.log_rank(&session), 6);
    }
}
