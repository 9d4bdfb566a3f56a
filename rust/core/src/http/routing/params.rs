//! `Mcp-Param-{Name}` headers: tool arguments whose input-schema property carries `"x-mcp-header": "{Name}"`.
//!
//! [`ParamHeaders::from_schema`] reads a tool's annotations once, at registration; [`ParamHeaders::check`]
//! compares a `tools/call`'s headers with its arguments.
//!
//! Annotations (spec "Schema Extension"): the value must be a non-empty RFC 9110 token, unique among the tool's
//! annotations ignoring case, on a property typed `string`, `integer` or `boolean` (the `type` keyword a single
//! string: `number`, type lists and untyped properties are refused), reachable from the root through
//! `properties` alone. Nested properties (`properties.a.properties.b`) are supported, as the spec allows. An
//! annotation anywhere else (under `items`, `allOf`/`anyOf`/`oneOf`/`not`, `if`/`then`/`else`, `$defs`,
//! `additionalProperties`, …) or on the root makes the tool definition invalid; `$ref` is never followed.
//! Conforming clients drop such a tool, so registration should refuse it (or warn).
//!
//! Checks, per annotated property, with the argument at its property path (`null` counts as absent):
//! - argument present (a string, integer or boolean) and header absent: refused ([`Problem::Missing`]);
//! - header present and argument absent: refused ([`Problem::NotInBody`]). The spec only says the server must
//!   not *expect* the header; accepting it would let an intermediary route on a value the body never carried;
//! - both present: the decoded header must equal the argument. Strings compare exactly; booleans as `true` /
//!   `false`; integers numerically (spec: SHOULD), so `42`, `042`, `42.0` and `-0`/`0` match their value, while
//!   `+42`, `4.2e1`, `0x2a` or surrounding spaces inside base64 do not;
//! - an argument that is an object or array has no header form: no header is expected, and one sent is a
//!   mismatch (schema validation reports the argument itself);
//! - `Mcp-Param-*` headers no annotation declares are ignored (the spec has intermediaries forward them).

use super::{decode_value, single_value, HeaderMismatch, Problem};
use hyper::header::{HeaderMap, HeaderName};
use serde_json::{Map, Number, Value};
use std::fmt;

/// Prefix of the header an `x-mcp-header` token names, as the spec spells it.
pub const PARAM_HEADER_PREFIX: &str = "Mcp-Param-";
/// The schema keyword that designates a header.
pub const X_MCP_HEADER: &str = "x-mcp-header";

/// The JSON type an annotated property declares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamType {
    String,
    Integer,
    Boolean,
}

/// One annotated property: its header, where its value sits in the arguments, and its declared type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamHeader {
    name: HeaderName,
    display: String,
    path: Vec<String>,
    kind: ParamType,
}

impl ParamHeader {
    /// The header name, lowercase (for lookups).
    pub fn header_name(&self) -> &HeaderName {
        &self.name
    }
    /// The header as declared (`Mcp-Param-Region`).
    pub fn display_name(&self) -> &str {
        &self.display
    }
    /// The chain of `properties` keys from the arguments object to the value.
    pub fn path(&self) -> &[String] {
        &self.path
    }
    pub fn kind(&self) -> ParamType {
        self.kind
    }
}

/// Why a tool's `x-mcp-header` annotations are invalid: where (a JSON pointer into the input schema) and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidAnnotation {
    pub pointer: String,
    pub reason: String,
}

impl fmt::Display for InvalidAnnotation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {X_MCP_HEADER} at {:?} of the input schema: {}", self.pointer, self.reason)
    }
}

impl std::error::Error for InvalidAnnotation {}

/// A tool's annotated properties, sorted by header name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParamHeaders(Vec<ParamHeader>);

/// Keywords whose value is one subschema / a list of them / a map of them. An annotation under any of them is
/// off the `properties` chain. Instance data (`default`, `const`, `enum`, `examples`) is never entered.
const SINGLE: [&str; 12] = [
    "items",
    "additionalItems",
    "contains",
    "unevaluatedItems",
    "additionalProperties",
    "unevaluatedProperties",
    "propertyNames",
    "not",
    "if",
    "then",
    "else",
    "contentSchema",
];
const LIST: [&str; 5] = ["allOf", "anyOf", "oneOf", "prefixItems", "items"];
const MAP: [&str; 5] = ["patternProperties", "dependentSchemas", "$defs", "definitions", "dependencies"];

impl ParamHeaders {
    /// Reads the annotations of a tool's `inputSchema` (see the module documentation for what is valid).
    pub fn from_schema(schema: &Value) -> Result<ParamHeaders, InvalidAnnotation> {
        let mut found = Vec::new();
        // (position, its properties path or None once off the chain, its JSON pointer)
        let mut stack: Vec<(&Value, Option<Vec<String>>, String)> = vec![(schema, Some(Vec::new()), String::new())];
        while let Some((node, path, pointer)) = stack.pop() {
            let Value::Object(map) = node else { continue };
            if let Some(token) = map.get(X_MCP_HEADER) {
                let invalid = |reason: &str| InvalidAnnotation { pointer: pointer.clone(), reason: reason.into() };
                match &path {
                    Some(p) if !p.is_empty() => {
                        found.push((annotation(token, map, p).map_err(|r| invalid(&r))?, pointer.clone()));
                    }
                    _ => {
                        return Err(invalid(
                            "allowed only on properties reachable from the root through `properties` alone",
                        ))
                    }
                }
            }
            for (keyword, value) in map {
                let here = format!("{pointer}/{}", escape(keyword));
                match (keyword.as_str(), value) {
                    ("properties", Value::Object(props)) => {
                        for (name, sub) in props {
                            let sub_path = path.as_ref().map(|p| [p.as_slice(), std::slice::from_ref(name)].concat());
                            stack.push((sub, sub_path, format!("{here}/{}", escape(name))));
                        }
                    }
                    (k, Value::Array(items)) if LIST.contains(&k) => {
                        stack.extend(items.iter().enumerate().map(|(i, v)| (v, None, format!("{here}/{i}"))));
                    }
                    (k, Value::Object(m)) if MAP.contains(&k) => {
                        stack.extend(m.iter().map(|(n, v)| (v, None, format!("{here}/{}", escape(n)))));
                    }
                    (k, v) if SINGLE.contains(&k) => stack.push((v, None, here)),
                    _ => {}
                }
            }
        }
        found.sort_by(|a: &(ParamHeader, String), b| (a.0.name.as_str(), &a.1).cmp(&(b.0.name.as_str(), &b.1)));
        if let Some(pair) = found.windows(2).find(|w| w[0].0.name == w[1].0.name) {
            let reason = format!("{} is declared twice (names are compared ignoring case)", pair[1].0.display);
            return Err(InvalidAnnotation { pointer: pair[1].1.clone(), reason });
        }
        Ok(ParamHeaders(found.into_iter().map(|(header, _)| header).collect()))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &ParamHeader> {
        self.0.iter()
    }

    /// Compares the request's `Mcp-Param-*` headers with the call's `arguments` (absent or not an object: no
    /// values), refusing at the first disagreement.
    pub fn check(&self, headers: &HeaderMap, arguments: Option<&Value>) -> Result<(), HeaderMismatch> {
        for param in &self.0 {
            let err = |p| HeaderMismatch::new(param.display.clone(), format!("arguments.{}", param.path.join(".")), p);
            let header = single_value(headers, &param.name).map_err(err)?;
            let value = arguments.and_then(|a| value_at(a, &param.path)).filter(|v| !v.is_null());
            match (header, value) {
                (None, None) => {}
                (None, Some(v)) if v.is_object() || v.is_array() => {}
                (None, Some(_)) => return Err(err(Problem::Missing)),
                (Some(_), None) => return Err(err(Problem::NotInBody)),
                (Some(h), Some(v)) => {
                    if !matches(param.kind, &decode_value(h).map_err(err)?, v) {
                        return Err(err(Problem::Mismatch));
                    }
                }
            }
        }
        Ok(())
    }
}

fn annotation(token: &Value, property: &Map<String, Value>, path: &[String]) -> Result<ParamHeader, String> {
    let Value::String(token) = token else { return Err("the value must be a string".into()) };
    if token.is_empty() || !token.bytes().all(is_tchar) {
        return Err(format!("{token:?} is not an HTTP header field-name token"));
    }
    let kind = match property.get("type") {
        Some(Value::String(t)) if t == "string" => ParamType::String,
        Some(Value::String(t)) if t == "integer" => ParamType::Integer,
        Some(Value::String(t)) if t == "boolean" => ParamType::Boolean,
        _ => return Err("allowed only on properties whose type is \"string\", \"integer\" or \"boolean\"".into()),
    };
    let display = format!("{PARAM_HEADER_PREFIX}{token}");
    let name = HeaderName::from_bytes(display.to_ascii_lowercase().as_bytes())
        .map_err(|_| format!("{display:?} is not a valid header name"))?;
    Ok(ParamHeader { name, display, path: path.to_vec(), kind })
}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// JSON Pointer escaping of one reference token.
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

fn value_at<'v>(arguments: &'v Value, path: &[String]) -> Option<&'v Value> {
    path.iter().try_fold(arguments, |node, key| node.as_object()?.get(key))
}

/// Whether a decoded header value stands for the argument `value`.
fn matches(kind: ParamType, header: &str, value: &Value) -> bool {
    match value {
        Value::String(s) => header == s,
        Value::Bool(b) => header == if *b { "true" } else { "false" },
        Value::Number(n) => match (kind, integral(n)) {
            (ParamType::Integer, Some(n)) => decimal_integer(header) == Some(n),
            _ => header == n.to_string(),
        },
        _ => false,
    }
}

/// A JSON number's value when it is a whole number (`7`, `7.0`) that fits an `i128`.
fn integral(n: &Number) -> Option<i128> {
    if let Some(i) = n.as_i64() {
        return Some(i.into());
    }
    if let Some(u) = n.as_u64() {
        return Some(u.into());
    }
    let f = n.as_f64()?;
    // Every whole f64 below 2^100 converts exactly; larger ones are far outside the spec's safe-integer range.
    (f.fract() == 0.0 && f.abs() < 1e30).then_some(f as i128)
}

/// `-?digits(.0+)?` as an integer (leading zeros allowed); anything else, or too long, is `None`.
fn decimal_integer(text: &str) -> Option<i128> {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (unsigned, None),
    };
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if fraction.is_some_and(|f| f.is_empty() || f.bytes().any(|b| b != b'0')) {
        return None;
    }
    let digits = whole.trim_start_matches('0');
    let magnitude: i128 = if digits.is_empty() { 0 } else { digits.parse().ok()? };
    Some(if negative { -magnitude } else { magnitude })
}

#[cfg(test)]
mod tests;
