//! ferromcp-core: the wire work of an MCP server, with no Python in it.
//!
//! - [`framing`]: newline-delimited framing with a size limit.
//! - [`jsonrpc`]: envelope parsing (params kept raw), classification, reply encoding.
//! - [`protocol`]: protocol versions as a type (era, feature predicates), negotiation, logging levels.
//! - [`auth`]: bearer-token verification (JWT against a JWKS, or the embedder's verifier) and its settings.
//! - [`bus`]: the notification bus (list changes, resource updates) and its in-memory implementation.
//! - [`content`]: content blocks shaped for the protocol version in use.
//! - [`context`]: `RequestCtx`, what a request is handled under (version, client capabilities, log threshold,
//!   principal, transport).
//! - [`schema`]: JSON Schema compiled once, validated many times.
//! - [`registry`]: tools, their validators and pre-serialized list pages.
//! - [`session`]: sessions, in-flight calls, the `Outbound` and `Dispatcher` seams.
//! - [`engine`]: the protocol engine (the method table, one module per method family, dispatch).
//! - [`error`]: protocol errors as values (`McpError`).
//! - [`request_state`]: sealed MRTR `requestState` (XChaCha20-Poly1305 under a key ring, bound to the request).
//! - [`store`]: storage seams (session records, SSE events, task records) as async traits, with in-memory
//!   implementations and Redis ones (with the bus across processes, `store::redis`); what several processes
//!   serving the same clients share.
//! - [`stdio`]: the stdio transport.
//! - [`http`]: the Streamable HTTP transport.

pub mod audit;
pub mod auth;
pub mod bus;
pub mod content;
pub mod context;
pub mod engine;
pub mod error;
pub mod framing;
pub mod http;
pub mod jsonrpc;
pub mod protocol;
pub mod rate_limit;
pub mod registry;
pub mod relay;
pub mod request_state;
pub mod schema;
pub mod session;
pub mod stdio;
pub mod store;
pub mod tasks;
#[cfg(test)]
pub(crate) mod testing;
pub mod uri_template;

pub use engine::{Engine, ServerConfig};
pub use registry::Tool;
pub use session::{Call, Dispatcher, OutKind, Outbound, ReplyOutcome, Session};
pub use stdio::StdioTransport;
