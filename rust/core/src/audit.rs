//! The audit trail: one record per call (`tools/call`, `resources/read`, `prompts/get`), with when, who, what,
//! how it ended and how long it took, delivered to an [`AuditSink`]. The arguments are never recorded in clear:
//! only their HMAC-SHA256, under a per-server key, in canonical JSON form (keys sorted), so equal arguments can
//! be matched across records without being readable.
//!
//! A call is watched by wrapping its reply channel ([`Auditor::watch`]): the record is made when the response
//! goes out, whichever part answered (a protocol error of the core, the handler's result or error), or when the
//! call ends unanswered (cancelled). Without an auditor nothing is wrapped.

use crate::context::Principal;
use crate::jsonrpc::push_json_string;
use crate::request_state::canonical_json;
use crate::session::{OutKind, Outbound};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The methods that get a record.
pub const AUDITED_METHODS: [&str; 3] = ["tools/call", "resources/read", "prompts/get"];

/// How a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// A tool result with `isError: true`.
    ToolError,
    /// A JSON-RPC error with this code.
    Error(i64),
    /// Ended without a response (cancelled by the client, or by shutdown).
    Cancelled,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::ToolError => "tool_error",
            Outcome::Error(_) => "error",
            Outcome::Cancelled => "cancelled",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct AuditRecord {
    /// When the call arrived, in milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The authenticated subject, when there is one.
    pub principal: Option<String>,
    pub method: String,
    /// The tool or prompt name, or the resource URI.
    pub name: Option<String>,
    pub outcome: Outcome,
    pub duration_us: u64,
    /// Lowercase hex HMAC-SHA256 of the canonical arguments (`tools/call`, `prompts/get`; absent ones are `{}`).
    pub arguments_hmac: Option<String>,
}

impl AuditRecord {
    /// One JSON object: `time` (ms), `principal`, `method`, `name`, `outcome`, `errorCode` (null but for errors),
    /// `durationMs`, `argumentsHmac`.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(format!("{{\"time\":{},\"principal\":", self.time_ms).as_bytes());
        push_opt(&mut out, self.principal.as_deref());
        out.extend_from_slice(b",\"method\":");
        push_json_string(&mut out, &self.method);
        out.extend_from_slice(b",\"name\":");
        push_opt(&mut out, self.name.as_deref());
        out.extend_from_slice(b",\"outcome\":");
        push_json_string(&mut out, self.outcome.as_str());
        match self.outcome {
            Outcome::Error(code) => out.extend_from_slice(format!(",\"errorCode\":{code}").as_bytes()),
            _ => out.extend_from_slice(b",\"errorCode\":null"),
        }
        out.extend_from_slice(format!(",\"durationMs\":{:.3}", self.duration_us as f64 / 1000.0).as_bytes());
        out.extend_from_slice(b",\"argumentsHmac\":");
        push_opt(&mut out, self.arguments_hmac.as_deref());
        out.push(b'}');
        out
    }
}

fn push_opt(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        Some(text) => push_json_string(out, text),
        None => out.extend_from_slice(b"null"),
    }
}

/// Where records go. Called on the thread that sent the response (an I/O thread): must not block.
pub trait AuditSink: Send + Sync {
    fn record(&self, record: AuditRecord);
}

/// HMAC-SHA256 (RFC 2104).
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(message).finalize();
    Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize().into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub struct Auditor {
    key: Vec<u8>,
    sink: Arc<dyn AuditSink>,
}

#[derive(Deserialize)]
struct Params<'a> {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    uri: Option<String>,
    #[serde(borrow, default)]
    arguments: Option<&'a RawValue>,
}

impl Auditor {
    pub fn new(key: Vec<u8>, sink: Arc<dyn AuditSink>) -> Auditor {
        Auditor { key, sink }
    }

    /// The HMAC of `arguments` in canonical form (absent and `null` count as `{}`; unparsable ones are hashed
    /// as sent).
    pub fn arguments_hmac(&self, arguments: Option<&RawValue>) -> String {
        let canonical = match arguments.map(|raw| serde_json::from_str::<Value>(raw.get())) {
            None | Some(Ok(Value::Null)) => b"{}".to_vec(),
            Some(Ok(value)) => canonical_json(&value),
            Some(Err(_)) => arguments.map_or_else(Vec::new, |raw| raw.get().as_bytes().to_vec()),
        };
        hex(&hmac_sha256(&self.key, &canonical))
    }

    /// `reply`, watched: the call's record is made when its response goes through. None for a method that is
    /// not audited.
    pub fn watch(
        self: &Arc<Self>,
        method: &str,
        params: Option<&RawValue>,
        principal: Option<&Principal>,
        reply: &Arc<dyn Outbound>,
    ) -> Option<Arc<dyn Outbound>> {
        if !AUDITED_METHODS.contains(&method) {
            return None;
        }
        let parsed = params.and_then(|raw| serde_json::from_str::<Params<'_>>(raw.get()).ok());
        let (name, arguments_hmac) = match (method, parsed) {
            ("resources/read", Some(p)) => (p.uri, None),
            (_, Some(p)) => (p.name, Some(self.arguments_hmac(p.arguments))),
            (_, None) => (None, None),
        };
        let time_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        let pending = AuditRecord {
            time_ms,
            principal: principal.map(|p| p.subject.clone()),
            method: method.to_owned(),
            name,
            outcome: Outcome::Cancelled,
            duration_us: 0,
            arguments_hmac,
        };
        Some(Arc::new(Watched {
            inner: reply.clone(),
            sink: self.sink.clone(),
            started: Instant::now(),
            pending: Mutex::new(Some(pending)),
        }))
    }
}

/// A reply channel that makes the call's record when the response goes through.
struct Watched {
    inner: Arc<dyn Outbound>,
    sink: Arc<dyn AuditSink>,
    started: Instant,
    pending: Mutex<Option<AuditRecord>>,
}

impl Watched {
    fn finish(&self, outcome: impl FnOnce() -> Outcome) {
        let taken = self.pending.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(mut record) = taken {
            record.outcome = outcome();
            record.duration_us = self.started.elapsed().as_micros() as u64;
            self.sink.record(record);
        }
    }
}

#[derive(Deserialize)]
struct Response {
    #[serde(default)]
    error: Option<ErrorCode>,
    #[serde(default)]
    result: Option<ResultFlag>,
}

#[derive(Deserialize)]
struct ErrorCode {
    #[serde(default)]
    code: i64,
}

#[derive(Deserialize)]
struct ResultFlag {
    #[serde(rename = "isError", default)]
    is_error: bool,
}

/// How a response ended its call.
fn outcome_of(msg: &[u8]) -> Outcome {
    match serde_json::from_slice::<Response>(msg) {
        Ok(Response { error: Some(e), .. }) => Outcome::Error(e.code),
        Ok(Response { result: Some(r), .. }) if r.is_error => Outcome::ToolError,
        Ok(_) => Outcome::Success,
        Err(_) => Outcome::Error(crate::jsonrpc::INTERNAL_ERROR.into()),
    }
}

impl Outbound for Watched {
    fn send(&self, msg: Vec<u8>, kind: OutKind) {
        if kind == OutKind::Response {
            self.finish(|| outcome_of(&msg));
        }
        self.inner.send(msg, kind);
    }

    fn abandon(&self) {
        self.finish(|| Outcome::Cancelled);
        self.inner.abandon();
    }

    fn close_stream(&self) -> bool {
        self.inner.close_stream()
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.finish(|| Outcome::Cancelled);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Kept(Mutex<Vec<AuditRecord>>);

    impl AuditSink for Kept {
        fn record(&self, record: AuditRecord) {
            self.0.lock().unwrap_or_else(|p| p.into_inner()).push(record);
        }
    }

    struct Nowhere;

    impl Outbound for Nowhere {
        fn send(&self, _: Vec<u8>, _: OutKind) {}
    }

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_owned()).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(hex(&mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        // Test case 6: a key longer than the block is hashed first.
        let mac = hmac_sha256(&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First");
        assert_eq!(hex(&mac), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    }

    #[test]
    fn equal_arguments_hash_alike_whatever_their_key_order_and_the_key_matters() {
        let kept = Arc::new(Kept::default());
        let auditor = Auditor::new(b"k1".to_vec(), kept.clone());
        let a = auditor.arguments_hmac(Some(&raw(r#"{"b":1,"a":{"y":2,"x":"secret"}}"#)));
        let b = auditor.arguments_hmac(Some(&raw(r#"{ "a": {"x": "secret", "y": 2}, "b": 1 }"#)));
        assert_eq!(a, b);
        assert_eq!(auditor.arguments_hmac(None), auditor.arguments_hmac(Some(&raw("{}"))));
        assert_ne!(
            a,
            Auditor::new(b"k2".to_vec(), kept).arguments_hmac(Some(&raw(r#"{"b":1,"a":{"y":2,"x":"secret"}}"#)))
        );
    }

    #[test]
    fn a_record_per_watched_call_with_its_outcome() {
        let kept = Arc::new(Kept::default());
        let auditor = Arc::new(Auditor::new(b"k".to_vec(), kept.clone()));
        let reply: Arc<dyn Outbound> = Arc::new(Nowhere);
        let params = raw(r#"{"name":"search","arguments":{"q":"secret"}}"#);
        let principal = Principal { subject: "alice".into(), ..Principal::default() };
        assert!(auditor.watch("tools/list", None, None, &reply).is_none());
        let responses: [&[u8]; 3] = [
            br#"{"jsonrpc":"2.0","id":1,"result":{"content":[]}}"#,
            br#"{"jsonrpc":"2.0","id":1,"result":{"content":[],"isError":true}}"#,
            br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"Unknown tool"}}"#,
        ];
        for response in responses {
            let Some(watched) = auditor.watch("tools/call", Some(&params), Some(&principal), &reply) else {
                panic!("tools/call is audited")
            };
            watched.send(br#"{"jsonrpc":"2.0","method":"notifications/progress"}"#.to_vec(), OutKind::Notification);
            watched.send(response.to_vec(), OutKind::Response);
            watched.send(response.to_vec(), OutKind::Response); // one record per call
        }
        drop(auditor.watch("resources/read", Some(&raw(r#"{"uri":"file:///x"}"#)), None, &reply));
        let records = kept.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let outcomes: Vec<Outcome> = records.iter().map(|r| r.outcome).collect();
        assert_eq!(outcomes, [Outcome::Success, Outcome::ToolError, Outcome::Error(-32602), Outcome::Cancelled]);
        assert_eq!(records[0].principal.as_deref(), Some("alice"));
        assert_eq!(records[0].name.as_deref(), Some("search"));
        assert_eq!(records[3].name.as_deref(), Some("file:///x"));
        assert_eq!(records[3].arguments_hmac, None);
        let json = String::from_utf8(records[2].to_json()).unwrap_or_default();
        assert!(!json.contains("secret"), "{json}");
        let parsed: Value = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(parsed["errorCode"], -32602);
        assert_eq!(parsed["outcome"], "error");
        assert_eq!(parsed["argumentsHmac"].as_str().map(str::len), Some(64));
    }
}
