//! Rate limits and load over HTTP: who the client is (its address, for stateless requests), the 429 answer
//! of a call refused by a rate limit, and the process-wide cap on requests being handled at once.

use super::service::{json_response, Resp};
use crate::rate_limit::RATE_LIMITED;
use hyper::header::{HeaderValue, RETRY_AFTER};
use hyper::StatusCode;
use serde::Deserialize;
use std::net::SocketAddr;

/// The peer address of the connection a request came on (a request extension set by the accept loop).
#[derive(Clone, Copy, Debug)]
pub struct PeerAddr(pub SocketAddr);

/// The key stateless requests from `peer` are rate limited under: the client's IP (not its port, which
/// changes with every connection).
pub fn client_key(peer: Option<&PeerAddr>) -> String {
    match peer {
        Some(PeerAddr(addr)) => format!("address:{}", addr.ip()),
        None => "address:unknown".to_owned(),
    }
}

#[derive(Deserialize)]
struct Refused {
    error: RefusedError,
}

#[derive(Deserialize)]
struct RefusedError {
    code: i32,
    #[serde(default)]
    data: Option<RefusedData>,
}

#[derive(Deserialize)]
struct RefusedData {
    #[serde(rename = "retryAfterMs")]
    retry_after_ms: u64,
}

/// For a JSON answer that is a rate-limit refusal: the seconds to put in `Retry-After` (at least 1).
fn retry_after(answer: &[u8]) -> Option<u64> {
    // Cheap test first: most answers are not errors at all.
    memchr::memmem::find(answer, b"-32029")?;
    let refused: Refused = serde_json::from_slice(answer).ok()?;
    if refused.error.code != RATE_LIMITED {
        return None;
    }
    let ms = refused.error.data.map_or(1000, |d| d.retry_after_ms);
    Some(ms.div_ceil(1000).max(1))
}

/// A JSON answer: 429 with `Retry-After` when it is a rate-limit refusal, otherwise `status`.
pub fn json_answer(bytes: Vec<u8>, status: StatusCode) -> Resp {
    match retry_after(&bytes) {
        Some(seconds) => {
            let mut resp = json_response(bytes, StatusCode::TOO_MANY_REQUESTS);
            resp.headers_mut().insert(RETRY_AFTER, HeaderValue::from(seconds));
            resp
        }
        None => json_response(bytes, status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_429_with_retry_after_in_whole_seconds() {
        let refused = br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32029,"message":"Rate limit exceeded","data":{"retryAfterMs":1200,"limit":"client"}}}"#;
        let resp = json_answer(refused.to_vec(), StatusCode::OK);
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(resp.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()), Some("2"));
        let soon = br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32029,"message":"x","data":{"retryAfterMs":3}}}"#;
        assert_eq!(retry_after(soon), Some(1));
    }

    #[test]
    fn other_answers_keep_their_status() {
        for answer in [
            br#"{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"-32029"}]}}"#.as_slice(),
            br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"-32029"}}"#.as_slice(),
        ] {
            let resp = json_answer(answer.to_vec(), StatusCode::OK);
            assert_eq!(resp.status(), StatusCode::OK);
            assert!(resp.headers().get(RETRY_AFTER).is_none());
        }
    }

    #[test]
    fn the_client_is_its_ip() {
        let a = PeerAddr(([127, 0, 0, 1], 5000).into());
        let b = PeerAddr(([127, 0, 0, 1], 6000).into());
        assert_eq!(client_key(Some(&a)), client_key(Some(&b)));
        assert_eq!(client_key(Some(&a)), "address:127.0.0.1");
    }
}
