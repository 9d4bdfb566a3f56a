//! Input-required round trips (MRTR, 2026-07-28 `basic/patterns/mrtr.mdx`) for `tools/call`, `prompts/get` and
//! `resources/read`.
//!
//! A stateless request has nobody to ask mid-call: a handler that needs the user (elicitation), the client's
//! model (sampling) or its roots answers `resultType: "input_required"` with the `inputRequests` it needs and a
//! sealed `requestState`, and the client retries the same request with `inputResponses` and the state echoed.
//! The embedder re-runs the handler on each retry; the answers it has collected so far ride in the sealed state
//! (never trusted from the client in clear), so every round sees every earlier answer under the same key.
//!
//! The state is bound to the method, the tool/prompt name or resource URI, a digest of the arguments and the
//! principal, and it expires: tampered, foreign, expired or misdirected state is -32602 before any handler runs.

use super::table::Req;
use super::Engine;
use crate::context::RequestCtx;
use crate::error::{CoreError, McpError};
use crate::jsonrpc::push_json_string;
use crate::request_state::{ArgsDigest, Binding, KeyRing};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// How long a sealed state stays valid unless configured otherwise.
pub const DEFAULT_STATE_TTL: Duration = Duration::from_secs(600);

/// The sealing keys and lifetime of request states, shared by every call of an engine.
#[derive(Debug)]
pub struct StateSealing {
    pub keys: KeyRing,
    pub ttl: Duration,
}

/// The arguments a state is bound to: their digest, or (on the common first round, where nothing is opened)
/// their JSON text, digested only if the handler asks for input — most calls never do.
#[derive(Debug)]
enum Arguments {
    Digest(ArgsDigest),
    Text(Box<str>),
}

impl Arguments {
    fn digest(&self) -> Result<ArgsDigest, CoreError> {
        match self {
            Arguments::Digest(d) => Ok(*d),
            Arguments::Text(text) => {
                let value: Value = serde_json::from_str(text).map_err(|e| CoreError::Result(e.to_string()))?;
                Ok(ArgsDigest::of_arguments(Some(&value)))
            }
        }
    }
}

/// The round-trip state of one stateless call: what it answers for, and the client's answers so far.
#[derive(Debug)]
pub struct RoundTrip {
    method: &'static str,
    name: String,
    arguments: Arguments,
    principal: Option<String>,
    /// Answers by key, each with the digest of the question it answers: from earlier rounds (sealed), and this
    /// round's `inputResponses` to the questions the sealed state says were asked.
    answers: Map<String, Value>,
    sealing: Arc<StateSealing>,
}

/// The digest of a question (`{method, params}`), so an answer is only ever used for the question it answered.
fn question_digest(question: &Value) -> String {
    let digest = ArgsDigest::of(&crate::request_state::canonical_json(question));
    digest.0[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// Where a request's input responses and state are read from (the fields are the same for the three methods).
pub(super) struct Echo<'a> {
    pub input_responses: Option<Value>,
    pub request_state: Option<&'a str>,
}

/// The arguments of the request, as the caller has them.
pub(super) enum Args<'a> {
    /// Parsed (prompt arguments, a resource's none).
    Value(&'a Value),
    /// As the client sent them (a tool's), or None when absent.
    Text(Option<&'a str>),
}

/// The methods that may answer input-required, by their static names.
fn static_method(method: &str) -> Option<&'static str> {
    ["tools/call", "prompts/get", "resources/read"].into_iter().find(|m| *m == method)
}

/// The round trip of a stateless `req` for `name` with `arguments`; None for a legacy request. Opens the
/// echoed state first: if it fails verification, the request is refused as the spec asks (-32602).
pub(super) fn begin(
    engine: &Engine,
    req: &Req<'_>,
    name: &str,
    arguments: Args<'_>,
    echo: Echo<'_>,
) -> Result<Option<RoundTrip>, McpError> {
    let Some(ctx) = req.ctx.as_ref().filter(|c| c.is_modern()) else { return Ok(None) };
    let Some(method) = static_method(req.method) else { return Ok(None) };
    let sealing = engine.sealing().clone();
    let principal = principal_of(ctx);
    let arguments = match (arguments, echo.request_state) {
        (Args::Value(v), _) => Arguments::Digest(ArgsDigest::of_arguments(Some(v))),
        (Args::Text(text), None) => Arguments::Text(text.unwrap_or("{}").into()),
        (Args::Text(text), Some(_)) => {
            let value = text
                .map(serde_json::from_str::<Value>)
                .transpose()
                .map_err(|e| McpError::invalid_params(format!("Invalid params: arguments are not JSON: {e}")))?;
            Arguments::Digest(ArgsDigest::of_arguments(value.as_ref()))
        }
    };
    // The sealed state: {"answers": {key: {"q": question digest, "a": answer}}, "asked": {key: question digest}}.
    let (mut answers, asked) = match echo.request_state {
        None => (Map::new(), Map::new()),
        Some(token) => {
            let digest = arguments.digest().map_err(|e| McpError::invalid_params(e.to_string()))?;
            let binding = Binding::new(method, name, digest).with_principal(principal.as_deref());
            let payload = sealing.keys.open(token, &binding, SystemTime::now())?;
            let unreadable = || McpError::invalid_params("Invalid requestState: unreadable contents");
            let mut state = match serde_json::from_slice::<Value>(&payload) {
                Ok(Value::Object(map)) => map,
                _ => return Err(unreadable()),
            };
            match (state.remove("answers"), state.remove("asked")) {
                (Some(Value::Object(answers)), Some(Value::Object(asked))) => (answers, asked),
                _ => return Err(unreadable()),
            }
        }
    };
    // With a state, the client answers only what the state says it was asked, and never rewrites an earlier
    // answer. Without one (a first request that answers up front), its answers are taken for whatever is asked
    // under their keys: the client could give the same answers when asked, so nothing is lost by it.
    let stated = echo.request_state.is_some();
    match echo.input_responses {
        None | Some(Value::Null) => {}
        Some(Value::Object(responses)) => {
            for (key, answer) in responses {
                if answers.contains_key(&key) {
                    continue;
                }
                match asked.get(&key) {
                    Some(q) => answers.insert(key, serde_json::json!({"q": q, "a": answer})),
                    None if !stated => answers.insert(key, serde_json::json!({"a": answer})),
                    None => None,
                };
            }
        }
        Some(_) => return Err(McpError::invalid_params("Invalid params: inputResponses must be an object")),
    }
    Ok(Some(RoundTrip { method, name: name.to_owned(), arguments, principal, answers, sealing }))
}

fn principal_of(ctx: &RequestCtx) -> Option<String> {
    ctx.principal.as_ref().map(|p| p.subject.clone())
}

impl RoundTrip {
    /// The client's answer (JSON text) to the input request `key`, from this round or an earlier one, provided
    /// it answered this very `question` (`{method, params}` JSON): a replay that asks something else under the
    /// same key is asked again.
    pub fn answer(&self, key: &str, question: &[u8]) -> Option<String> {
        let entry = self.answers.get(key)?;
        let matches = match entry.get("q").and_then(Value::as_str) {
            None => true, // answered up front, before any question was sealed
            Some(q) => serde_json::from_slice::<Value>(question).is_ok_and(|asked| question_digest(&asked) == q),
        };
        matches.then(|| entry.get("a").map(Value::to_string)).flatten()
    }

    /// `{"resultType":"input_required","inputRequests":...,"requestState":...}`: `requests` (a JSON object of
    /// input requests) asked now, and the answers under `keep` sealed for the next round.
    pub fn input_required(&self, requests: &[u8], keep: &[String]) -> Result<Vec<u8>, CoreError> {
        let asked: Map<String, Value> = match serde_json::from_slice::<Value>(requests) {
            Ok(Value::Object(map)) if !map.is_empty() => {
                map.iter().map(|(k, q)| (k.clone(), Value::String(question_digest(q)))).collect()
            }
            _ => return Err(CoreError::Argument("inputRequests must be a non-empty JSON object".into())),
        };
        let kept: Map<String, Value> =
            keep.iter().filter_map(|k| self.answers.get(k).map(|v| (k.clone(), v.clone()))).collect();
        let state = serde_json::json!({"answers": kept, "asked": asked});
        let payload = serde_json::to_vec(&state).map_err(|e| CoreError::Result(e.to_string()))?;
        let binding =
            Binding::new(self.method, &self.name, self.arguments.digest()?).with_principal(self.principal.as_deref());
        let token = self
            .sealing
            .keys
            .seal(&binding, &payload, self.sealing.ttl, SystemTime::now())
            .map_err(|e| CoreError::Result(format!("cannot seal the requestState: {e}")))?;
        let mut out = Vec::with_capacity(80 + requests.len() + token.len());
        out.extend_from_slice(br#"{"resultType":"input_required","inputRequests":"#);
        out.extend_from_slice(requests);
        out.extend_from_slice(br#","requestState":"#);
        push_json_string(&mut out, &token);
        out.push(b'}');
        Ok(out)
    }
}
