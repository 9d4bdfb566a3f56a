//! Streamable HTTP for the stateless era (2026-07-28): a POST whose `MCP-Protocol-Version` is a stateless
//! version carries one request that names its context in `_meta`. No session is read or minted (an
//! `Mcp-Session-Id` is ignored); the routing headers must match the body (`MCP-Protocol-Version`, `Mcp-Method`,
//! `Mcp-Name`, `Mcp-Param-*`), else 400 with -32020; the answer is JSON, or SSE once the handler sends progress or
//! a log before its result; closing that stream cancels the handler. Errors map to statuses: -32601 is 404,
//! the invalid-params family 400.

use super::body::SseBody;
use super::routing;
use super::service::{accepted, json_response, rpc_error_for, sse_response, Resp, Service};
use super::sink::{Answer, Owner, RequestSink};
use super::throttle::{client_key, json_answer, PeerAddr};
use crate::context::Transport;
use crate::engine::era::StatelessParams;
use crate::error::McpError;
use crate::jsonrpc::{self, Frame, Message, RequestId, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, PARSE_ERROR};
use crate::protocol::{meta, HEADER_MISMATCH, MISSING_REQUIRED_CLIENT_CAPABILITY, UNSUPPORTED_PROTOCOL_VERSION};
use crate::session::{OutKind, Outbound, Session};
use bytes::Bytes;
use hyper::header::HeaderMap;
use hyper::StatusCode;
use serde_json::Value;
use std::sync::{Arc, OnceLock};

/// The outbound of a stateless request's session: nothing is ever sent there.
struct Nowhere;

impl Outbound for Nowhere {
    fn send(&self, _: Vec<u8>, _: OutKind) {}
}

fn nowhere() -> Arc<dyn Outbound> {
    static NOWHERE: OnceLock<Arc<dyn Outbound>> = OnceLock::new();
    NOWHERE.get_or_init(|| Arc::new(Nowhere)).clone()
}

/// Cancels what is still running when dropped before the answer was complete: a closed stream (or a vanished
/// client) is a cancellation in this era, and nobody can resume.
struct CancelOnDrop(Arc<Session>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel_all();
    }
}

/// The HTTP status a stateless error is answered with: -32601 is 404, the invalid-request family 400.
fn status_for(code: i32) -> StatusCode {
    match code {
        METHOD_NOT_FOUND => StatusCode::NOT_FOUND,
        INVALID_PARAMS
        | INVALID_REQUEST
        | PARSE_ERROR
        | HEADER_MISMATCH
        | MISSING_REQUIRED_CLIENT_CAPABILITY
        | UNSUPPORTED_PROTOCOL_VERSION => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    }
}

/// The HTTP status of a stateless answer the engine encoded: an error carries its own.
fn status_of(answer: &[u8], id: &RequestId) -> StatusCode {
    let head = br#"{"jsonrpc":"2.0","id":"#;
    let Some(rest) = answer.strip_prefix(head.as_slice()).and_then(|r| r.strip_prefix(id.json().as_bytes())) else {
        return StatusCode::OK;
    };
    let Some(code) = rest.strip_prefix(br#","error":{"code":"#.as_slice()) else { return StatusCode::OK };
    let digits = code.iter().take_while(|b| b.is_ascii_digit() || **b == b'-').count();
    std::str::from_utf8(&code[..digits]).ok().and_then(|c| c.parse::<i32>().ok()).map_or(StatusCode::OK, status_for)
}

impl Service {
    /// A stateless POST whose headers passed the common rules.
    pub(super) async fn post_stateless(
        &self,
        headers: &HeaderMap,
        body: Bytes,
        peer: Option<&PeerAddr>,
        principal: Option<Arc<crate::context::Principal>>,
    ) -> Resp {
        let frame = jsonrpc::split(&body);
        let (id, method, params) = match &frame {
            Err(rejection) => return json_response(rejection.encode(), StatusCode::BAD_REQUEST),
            Ok(Frame::Batch(_)) => {
                let msg = "Invalid Request: a 2026-07-28 request is one JSON-RPC message, never a batch";
                return rpc_error_for(None, StatusCode::BAD_REQUEST, INVALID_REQUEST, msg);
            }
            Ok(Frame::Single(raw)) => match jsonrpc::classify(raw) {
                Ok(Message::Request { id, method, params }) => (id, method, params),
                // No client notification is defined in this era; nothing to do, nothing to answer.
                Ok(Message::Notification { .. }) => return accepted(),
                Ok(Message::Response { .. }) => {
                    let msg = "Invalid Request: a 2026-07-28 server sends no requests, so it takes no responses";
                    return rpc_error_for(None, StatusCode::BAD_REQUEST, INVALID_REQUEST, msg);
                }
                Err(rejection) => return json_response(rejection.encode(), StatusCode::BAD_REQUEST),
            },
        };
        let parsed = StatelessParams::of(params);
        let ctx = match self.check_routing(headers, &method, &parsed).and_then(|()| parsed.context(Transport::Http)) {
            Ok(ctx) => crate::context::RequestCtx { principal, ..ctx },
            Err(refusal) => return json_response(refusal.encode(Some(&id)), status_for(refusal.code)),
        };
        // A session of one request: the engine tracks the call in it, and nothing outlives the answer. It has
        // no outbound of its own (everything of a stateless request goes to its response).
        let session = Session::new(nowhere(), self.dispatcher.clone(), Transport::Http);
        session.set_client(client_key(peer));
        let guard = CancelOnDrop(session.clone());
        let owner = Owner::Stateless { replay_capacity: self.config.replay_buffer_events };
        // A listen stream is a stream even on a server that answers everything else as plain JSON.
        let json_only = self.config.json_response && method != "subscriptions/listen";
        let (sink, answer) = RequestSink::owned_by(owner, json_only, None);
        let reply: Arc<dyn Outbound> = sink;
        let call = if method == "tools/call" { parsed.into_call() } else { None };
        // A listen stream lives as long as its client wants: it does not hold a place among running requests.
        let permit = if method == "subscriptions/listen" { None } else { self.process_permit().await };
        self.engine.handle_stateless(&session, &id, &method, params, ctx, &reply, call);
        drop(reply);
        match answer.await {
            Ok(Answer::Json(bytes)) => {
                let status = status_of(&bytes, &id);
                json_answer(bytes, status)
            }
            Ok(Answer::Sse(stream)) => {
                let rx = stream.attach(None, false, self.config.replay_buffer_events + 16);
                sse_response(SseBody::new(rx, self.config.keepalive, vec![Box::new(guard), Box::new(permit)]))
            }
            Err(_) => accepted(),
        }
    }

    /// A POST refused for naming no known `MCP-Protocol-Version` (`requested`), from a client speaking the
    /// stateless era (its body names a `_meta` version): -32022 with the versions this server speaks, so the
    /// client can retry with one of them. None for legacy traffic, which gets the legacy refusal.
    pub(super) fn unknown_stateless_version(requested: &str, body: &[u8]) -> Option<Resp> {
        let Ok(Frame::Single(raw)) = jsonrpc::split(body) else { return None };
        let Ok(Message::Request { id, params, .. }) = jsonrpc::classify(raw) else { return None };
        StatelessParams::of(params).meta.and_then(|m| m.protocol_version)?;
        let error = crate::error::McpError::unsupported_version(&Value::String(requested.to_owned()));
        Some(json_response(error.encode(Some(&id)), StatusCode::BAD_REQUEST))
    }

    /// The routing headers against the body; a missing `_meta` version is the engine's -32602 to give, so it
    /// is checked first here.
    fn check_routing(&self, headers: &HeaderMap, method: &str, parsed: &StatelessParams<'_>) -> Result<(), McpError> {
        let Some(version) = parsed.version() else {
            return Err(McpError::invalid_params(format!(
                "Invalid params: _meta[\"{}\"] is required",
                meta::PROTOCOL_VERSION
            )));
        };
        routing::check_protocol_version(headers, &version)?;
        routing::check_method(headers, method)?;
        // The body field `Mcp-Name` mirrors, as text (the tool or prompt name is read once, in `parsed`).
        let field = routing::name_field(method);
        let text = match field {
            Some("uri") => parsed.uri.and_then(jsonrpc::json_str),
            Some("taskId") => parsed.task_id.and_then(jsonrpc::json_str),
            _ => None,
        };
        let name = if field == Some("name") { parsed.name_text.as_deref() } else { text.as_deref() };
        routing::check_name_value(headers, method, name)?;
        if method == "tools/call" {
            let registry = self.engine.registry();
            let tool = parsed.name_text.as_deref().and_then(|name| registry.tool(name));
            // Arguments are parsed for this only when the tool mirrors some of them in headers.
            if let Some(tool) = tool.filter(|t| !t.param_headers.is_empty()) {
                let arguments = parsed.arguments.and_then(|a| serde_json::from_str::<Value>(a.get()).ok());
                tool.param_headers.check(headers, arguments.as_ref())?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_carry_their_status() {
        let id = RequestId::from_number(7);
        let err = |code: i32| jsonrpc::error_response(Some(&id), code, "m", None);
        assert_eq!(status_of(&err(-32601), &id), StatusCode::NOT_FOUND);
        for code in [-32602, -32600, -32020, -32021, -32022] {
            assert_eq!(status_of(&err(code), &id), StatusCode::BAD_REQUEST, "{code}");
        }
        assert_eq!(status_of(&err(-32603), &id), StatusCode::OK);
        let result = jsonrpc::result_response(&id, br#"{"text":",\"error\":{\"code\":-32601"}"#);
        assert_eq!(status_of(&result, &id), StatusCode::OK);
    }
}
