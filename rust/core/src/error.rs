//! Protocol errors as values: a JSON-RPC code, a message and optional data, built in one place and encoded
//! once, so every method family reports failures the same way.

use crate::jsonrpc::{self, RequestId, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND};
use std::fmt;

/// Legacy-era "resource not found" (2026-07-28 uses -32602 instead).
pub const RESOURCE_NOT_FOUND: i32 = -32002;

/// An error code as the stateless era spells it: an unknown resource is -32602 there (-32002 is legacy).
pub fn modern_code(code: i32) -> i32 {
    if code == RESOURCE_NOT_FOUND {
        INVALID_PARAMS
    } else {
        code
    }
}

/// A JSON-RPC error the server answers a request with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct McpError {
    pub code: i32,
    pub message: String,
    /// `error.data` as JSON text.
    pub data: Option<String>,
}

impl McpError {
    pub fn new(code: i32, message: impl Into<String>) -> McpError {
        McpError { code, message: message.into(), data: None }
    }

    /// Adds `error.data` (JSON text).
    pub fn with_data(mut self, data: String) -> McpError {
        self.data = Some(data);
        self
    }

    pub fn invalid_request(message: impl Into<String>) -> McpError {
        McpError::new(INVALID_REQUEST, message)
    }

    pub fn invalid_params(message: impl Into<String>) -> McpError {
        McpError::new(INVALID_PARAMS, message)
    }

    pub fn method_not_found(message: impl Into<String>) -> McpError {
        McpError::new(METHOD_NOT_FOUND, message)
    }

    /// An unknown resource URI, with `data.uri`.
    pub fn resource_not_found(uri: &str) -> McpError {
        let data = serde_json::json!({ "uri": uri }).to_string();
        McpError::new(RESOURCE_NOT_FOUND, format!("Resource not found: {uri}")).with_data(data)
    }

    /// A stateless request asked for a version this server does not speak: -32022, naming the ones it does.
    pub fn unsupported_version(requested: &serde_json::Value) -> McpError {
        let supported: Vec<&str> = crate::protocol::ProtocolVersion::MODERN.iter().map(|v| v.as_str()).collect();
        let data = serde_json::json!({"supported": supported, "requested": requested}).to_string();
        McpError::new(
            crate::protocol::UNSUPPORTED_PROTOCOL_VERSION,
            format!("Unsupported protocol version: {requested}"),
        )
        .with_data(data)
    }

    /// The same error as the stateless era spells it: an unknown resource is -32602 there (-32002 is legacy).
    pub fn for_modern(mut self) -> McpError {
        self.code = modern_code(self.code);
        self
    }

    /// The error response to request `id` (or without id when there is none to answer).
    pub fn encode(&self, id: Option<&RequestId>) -> Vec<u8> {
        jsonrpc::error_response(id, self.code, &self.message, self.data.as_deref())
    }
}

impl fmt::Display for McpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl std::error::Error for McpError {}

/// What the core refuses when its embedder (the Python layer) asks for something: mapped once, at the
/// bindings' boundary, to the matching exception class.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CoreError {
    /// A registration's definition is invalid (a tool, resource, template or prompt, or its schema).
    Definition(String),
    /// A handler's result does not conform to what was declared (the tool's `outputSchema`), or is not JSON.
    Result(String),
    /// The call has already been answered or cancelled.
    Finished,
    /// A bound was reached (e.g. requests to the client waiting for an answer).
    Limit(String),
    /// An argument is not one the protocol knows (e.g. a log level).
    Argument(String),
    /// Not available for this request (e.g. a request to the client from a stateless request).
    Unsupported(String),
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CoreError::Definition(m)
            | CoreError::Result(m)
            | CoreError::Limit(m)
            | CoreError::Argument(m)
            | CoreError::Unsupported(m) => f.write_str(m),
            CoreError::Finished => f.write_str("the call has already finished"),
        }
    }
}

impl std::error::Error for CoreError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_code_message_and_data() {
        let e = McpError::resource_not_found("file:///x");
        let v: serde_json::Value = serde_json::from_slice(&e.encode(None)).unwrap_or_default();
        assert_eq!(v["error"]["code"], RESOURCE_NOT_FOUND);
        assert_eq!(v["error"]["message"], "Resource not found: file:///x");
        assert_eq!(v["error"]["data"]["uri"], "file:///x");
        assert!(v.get("id").is_none());
        assert_eq!(e.to_string(), "Resource not found: file:///x (-32002)");
    }
}
