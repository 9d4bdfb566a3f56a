//! The routing headers of the 2026-07-28 Streamable HTTP transport (`basic/transports/streamable-http.mdx`,
//! "Request Metadata"): clients mirror the body's method, name and annotated tool arguments into `Mcp-Method`,
//! `Mcp-Name` and `Mcp-Param-{Name}` so intermediaries can route without reading the body, and a server that
//! reads the body must reject a request whose headers disagree with it: HTTP 400 with JSON-RPC -32020
//! ([`HeaderMismatch`]).
//!
//! Pure functions over a [`HeaderMap`] and the parsed request. The transport decides when they apply: modern
//! requests only (the spec defines no header rules for notification POSTs), after `_meta` has been found.
//!
//! Rules, for every routing header:
//! - names are case-insensitive ([`HeaderMap`] already is); values are case-sensitive;
//! - optional whitespace (space, tab) around a value is not part of it (RFC 9110 §5.5);
//! - a header line given twice is refused (first-copy and last-copy readers would disagree);
//! - a value with a character outside visible ASCII, space and tab is refused;
//! - `Mcp-Name` and `Mcp-Param-*` values of the form `=?base64?{standard base64, padded}?=` are decoded
//!   (strictly: wrong padding, a character outside the alphabet, non-zero trailing bits or invalid UTF-8 are
//!   refused); a value lacking the prefix or the suffix is taken literally. `Mcp-Method` and
//!   `MCP-Protocol-Version` are always literal.
//!
//! The `Mcp-Param-{Name}` rules and the `x-mcp-header` schema annotations they come from are in [`params`].

pub mod params;

use crate::error::McpError;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hyper::header::{AsHeaderName, HeaderMap, HeaderName};
use hyper::StatusCode;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

pub use params::{InvalidAnnotation, ParamHeader, ParamHeaders, ParamType};

/// JSON-RPC code of a header that is missing, malformed or disagrees with the body.
pub const HEADER_MISMATCH: i32 = -32020;
pub const PROTOCOL_VERSION_HEADER: HeaderName = HeaderName::from_static("mcp-protocol-version");
pub const METHOD_HEADER: HeaderName = HeaderName::from_static("mcp-method");
pub const NAME_HEADER: HeaderName = HeaderName::from_static("mcp-name");

const SENTINEL_PREFIX: &str = "=?base64?";
const SENTINEL_SUFFIX: &str = "?=";

/// What is wrong with a routing header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    /// Absent, while the body carries the value it mirrors (or, for `MCP-Protocol-Version`, always required).
    Missing,
    /// More than one header line.
    Duplicated,
    /// A character outside visible ASCII, space and tab.
    InvalidCharacters,
    /// A `=?base64?…?=` value that does not decode.
    MalformedBase64,
    /// Present, but the body has no value for it.
    NotInBody,
    /// Its value differs from the body's.
    Mismatch,
}

/// A routing header refused: which header, which body field it mirrors, and what is wrong. Answered with HTTP
/// 400 and JSON-RPC -32020. The message names both but never echoes values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderMismatch {
    /// The header as the spec spells it (`Mcp-Name`, `Mcp-Param-Region`).
    pub header: Cow<'static, str>,
    /// The body field it mirrors (`method`, `params.name`, `arguments.region`).
    pub field: Cow<'static, str>,
    pub problem: Problem,
}

impl HeaderMismatch {
    pub fn new(header: impl Into<Cow<'static, str>>, field: impl Into<Cow<'static, str>>, problem: Problem) -> Self {
        HeaderMismatch { header: header.into(), field: field.into(), problem }
    }

    pub const fn code(&self) -> i32 {
        HEADER_MISMATCH
    }

    pub const fn status(&self) -> StatusCode {
        StatusCode::BAD_REQUEST
    }

    pub fn to_mcp_error(&self) -> McpError {
        McpError::new(HEADER_MISMATCH, self.to_string())
    }
}

impl fmt::Display for HeaderMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (header, field) = (&self.header, &self.field);
        match self.problem {
            Problem::Missing => write!(f, "Header mismatch: the {header} header is required (it mirrors {field})"),
            Problem::Duplicated => write!(f, "Header mismatch: the {header} header appears more than once"),
            Problem::InvalidCharacters => {
                write!(f, "Header mismatch: the {header} header value contains characters not allowed in a header")
            }
            Problem::MalformedBase64 => {
                write!(f, "Header mismatch: the {header} header carries a malformed =?base64?...?= value")
            }
            Problem::NotInBody => {
                write!(f, "Header mismatch: the {header} header is present but the request body has no {field}")
            }
            Problem::Mismatch => {
                write!(f, "Header mismatch: the {header} header value does not match the request body's {field}")
            }
        }
    }
}

impl std::error::Error for HeaderMismatch {}

impl From<HeaderMismatch> for McpError {
    fn from(e: HeaderMismatch) -> McpError {
        e.to_mcp_error()
    }
}

/// The one value of header `name`, without surrounding whitespace; `None` when absent. Refuses a
/// repeated header and characters outside visible ASCII, space and tab.
pub fn single_value<K: AsHeaderName>(headers: &HeaderMap, name: K) -> Result<Option<&str>, Problem> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else { return Ok(None) };
    if values.next().is_some() {
        return Err(Problem::Duplicated);
    }
    let text = value.to_str().map_err(|_| Problem::InvalidCharacters)?;
    Ok(Some(text.trim_matches([' ', '\t'])))
}

/// A header value with the `=?base64?…?=` sentinel decoded (standard alphabet, canonical padding, UTF-8); any
/// other value, including one with only the prefix or only the suffix, as it is.
pub fn decode_value(value: &str) -> Result<Cow<'_, str>, Problem> {
    let encoded = match value.strip_prefix(SENTINEL_PREFIX).and_then(|rest| rest.strip_suffix(SENTINEL_SUFFIX)) {
        Some(encoded) => encoded,
        None => return Ok(Cow::Borrowed(value)),
    };
    let bytes = STANDARD.decode(encoded).map_err(|_| Problem::MalformedBase64)?;
    String::from_utf8(bytes).map(Cow::Owned).map_err(|_| Problem::MalformedBase64)
}

/// The `MCP-Protocol-Version` header, if sent.
pub fn protocol_version(headers: &HeaderMap) -> Result<Option<&str>, HeaderMismatch> {
    single_value(headers, PROTOCOL_VERSION_HEADER).map_err(version_error)
}

/// `MCP-Protocol-Version` must be present and equal (exactly) to the `io.modelcontextprotocol/protocolVersion`
/// the body's `_meta` carries. Check `_meta` first: a request without it is -32602, not a header error.
pub fn check_protocol_version(headers: &HeaderMap, meta_version: &str) -> Result<(), HeaderMismatch> {
    match protocol_version(headers)? {
        None => Err(version_error(Problem::Missing)),
        Some(v) if v == meta_version => Ok(()),
        Some(_) => Err(version_error(Problem::Mismatch)),
    }
}

fn version_error(problem: Problem) -> HeaderMismatch {
    HeaderMismatch::new("MCP-Protocol-Version", "_meta[\"io.modelcontextprotocol/protocolVersion\"]", problem)
}

/// The params member `Mcp-Name` mirrors for `method`: `name` for `tools/call` and `prompts/get`, `uri` for
/// `resources/read`; other methods carry no `Mcp-Name` (one sent anyway is ignored).
pub fn name_field(method: &str) -> Option<&'static str> {
    match method {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" => Some("uri"),
        // The tasks extension (SEP-2663) routes its methods by task.
        "tasks/get" | "tasks/update" | "tasks/cancel" => Some("taskId"),
        _ => None,
    }
}

/// `Mcp-Method` must be present and equal the body's `method`.
pub fn check_method(headers: &HeaderMap, method: &str) -> Result<(), HeaderMismatch> {
    let err = |p| HeaderMismatch::new("Mcp-Method", "method", p);
    match single_value(headers, METHOD_HEADER).map_err(err)? {
        None => Err(err(Problem::Missing)),
        Some(v) if v == method => Ok(()),
        Some(_) => Err(err(Problem::Mismatch)),
    }
}

#[derive(Deserialize)]
struct NamedParams<'a> {
    #[serde(borrow, default)]
    name: Option<&'a RawValue>,
    #[serde(borrow, default)]
    uri: Option<&'a RawValue>,
    #[serde(rename = "taskId", borrow, default)]
    task_id: Option<&'a RawValue>,
}

/// For the methods [`name_field`] names, `Mcp-Name` must be present when the body has the field, and equal it
/// once decoded. A body without the field (or with a non-string one) leaves the request to fail on its params,
/// unless the header is sent anyway, which is refused as naming something the body lacks.
pub fn check_name(headers: &HeaderMap, method: &str, params: Option<&RawValue>) -> Result<(), HeaderMismatch> {
    let Some(field) = name_field(method) else { return Ok(()) };
    let named = params.and_then(|p| serde_json::from_str::<NamedParams<'_>>(p.get()).ok());
    let raw = named.and_then(|n| match field {
        "uri" => n.uri,
        "taskId" => n.task_id,
        _ => n.name,
    });
    check_name_value(headers, method, raw.and_then(crate::jsonrpc::json_str).as_deref())
}

/// [`check_name`] for a caller that has already read the body's `name` (or `uri`, for `resources/read`) as a
/// string (None when absent or not a string).
pub fn check_name_value(headers: &HeaderMap, method: &str, body: Option<&str>) -> Result<(), HeaderMismatch> {
    let Some(field) = name_field(method) else { return Ok(()) };
    let label = match field {
        "uri" => "params.uri",
        "taskId" => "params.taskId",
        _ => "params.name",
    };
    let err = |p| HeaderMismatch::new("Mcp-Name", label, p);
    let header = single_value(headers, NAME_HEADER).map_err(err)?;
    match (header, body) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(err(Problem::Missing)),
        (Some(_), None) => Err(err(Problem::NotInBody)),
        (Some(h), Some(b)) => match decode_value(h).map_err(err)? {
            decoded if decoded == b => Ok(()),
            _ => Err(err(Problem::Mismatch)),
        },
    }
}

/// `Mcp-Method` and, where it applies, `Mcp-Name` ([`check_method`], [`check_name`]).
pub fn check_request(headers: &HeaderMap, method: &str, params: Option<&RawValue>) -> Result<(), HeaderMismatch> {
    check_method(headers, method)?;
    check_name(headers, method, params)
}

#[cfg(test)]
mod tests;
