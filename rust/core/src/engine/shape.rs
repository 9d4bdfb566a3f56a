//! What every stateless (2026-07-28) result carries besides its own fields, worked out once per engine:
//! `resultType`, the server naming itself in `_meta`, and for results a client may cache (discovery, the lists,
//! reads) the caching hints `ttlMs` and `cacheScope`, configurable per method.

use crate::jsonrpc::RequestId;
use crate::protocol::meta;
use memchr::memmem;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// The methods whose results carry caching hints (SEP-2549).
pub const CACHEABLE: [&str; 6] =
    ["server/discover", "tools/list", "prompts/list", "resources/list", "resources/templates/list", "resources/read"];

/// A caching hint: how long a result stays fresh, and whether a cached copy may be shared across authorization
/// contexts (`public`) or only reused within the one that produced it (`private`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct CacheHint {
    #[serde(rename = "ttlMs", default)]
    pub ttl_ms: u64,
    #[serde(rename = "cacheScope", default = "private")]
    pub scope: String,
}

fn private() -> String {
    "private".into()
}

impl Default for CacheHint {
    fn default() -> Self {
        CacheHint { ttl_ms: 0, scope: private() }
    }
}

/// The fields spliced into a result, with and without the server's `_meta` (left out when the result has a
/// `_meta` of its own, so no key appears twice).
#[derive(Debug)]
pub struct ResultFields {
    with_meta: Vec<u8>,
    without_meta: Vec<u8>,
}

impl ResultFields {
    fn new(server_info: &Value, hint: Option<&CacheHint>) -> ResultFields {
        let mut fields = String::from(r#""resultType":"complete""#);
        if let Some(hint) = hint {
            fields.push_str(&format!(r#","ttlMs":{},"cacheScope":{}"#, hint.ttl_ms, json!(hint.scope)));
        }
        let server = json!({ meta::SERVER_INFO: server_info });
        let with_meta = format!(r#"{fields},"_meta":{server}"#).into_bytes();
        ResultFields { with_meta, without_meta: fields.into_bytes() }
    }

    /// `result` (a JSON object) with these fields spliced after its opening brace.
    pub fn shape(&self, result: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(result.len() + self.with_meta.len() + 2);
        self.push_shaped(&mut out, result);
        out
    }

    /// The response to `id` whose result is `result` shaped, built in one buffer.
    pub fn response(&self, id: &RequestId, result: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(48 + id.json().len() + result.len() + self.with_meta.len());
        out.extend_from_slice(br#"{"jsonrpc":"2.0","id":"#);
        out.extend_from_slice(id.json().as_bytes());
        out.extend_from_slice(br#","result":"#);
        self.push_shaped(&mut out, result);
        out.push(b'}');
        out
    }

    fn push_shaped(&self, out: &mut Vec<u8>, result: &[u8]) {
        let extra = if memmem::find(result, br#""_meta""#).is_some() { &self.without_meta } else { &self.with_meta };
        let body = result.strip_prefix(b"{").unwrap_or(result);
        out.push(b'{');
        out.extend_from_slice(extra);
        if !body.starts_with(b"}") {
            out.push(b',');
        }
        out.extend_from_slice(body);
    }
}

/// The fields of every method, per engine.
#[derive(Debug)]
pub struct Shapes {
    server_info: Value,
    plain: Arc<ResultFields>,
    cacheable: HashMap<&'static str, Arc<ResultFields>>,
}

impl Shapes {
    /// `hints` by method; a method without one gets the default (0 ms, private). An unknown method or scope is
    /// an error (a configuration mistake, reported at start-up).
    pub fn new(server_info: &Value, hints: &HashMap<String, CacheHint>) -> Result<Shapes, String> {
        for (method, hint) in hints {
            if !CACHEABLE.contains(&method.as_str()) {
                return Err(format!("cache hint for {method:?}: only {CACHEABLE:?} results are cacheable"));
            }
            if hint.scope != "public" && hint.scope != "private" {
                return Err(format!("cache hint for {method:?}: scope must be \"public\" or \"private\""));
            }
        }
        let default = CacheHint::default();
        let cacheable = CACHEABLE
            .iter()
            .map(|m| (*m, Arc::new(ResultFields::new(server_info, Some(hints.get(*m).unwrap_or(&default))))))
            .collect();
        let plain = Arc::new(ResultFields::new(server_info, None));
        Ok(Shapes { server_info: server_info.clone(), plain, cacheable })
    }

    /// The fields of a cacheable result with its own hint (a resource's reads).
    pub fn with_hint(&self, hint: &CacheHint) -> Result<Arc<ResultFields>, String> {
        if hint.scope != "public" && hint.scope != "private" {
            return Err("cache hint: scope must be \"public\" or \"private\"".into());
        }
        Ok(Arc::new(ResultFields::new(&self.server_info, Some(hint))))
    }

    /// The fields for `method`'s results.
    pub fn for_method(&self, method: &str) -> &Arc<ResultFields> {
        self.cacheable.get(method).unwrap_or(&self.plain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shapes() -> Shapes {
        let hints = HashMap::from([("tools/list".to_owned(), CacheHint { ttl_ms: 60_000, scope: "public".into() })]);
        Shapes::new(&json!({"name": "t", "version": "1"}), &hints).unwrap_or_else(|e| panic!("{e}"))
    }

    fn parsed(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn every_result_gets_its_type_and_the_server() {
        let v = parsed(&shapes().for_method("tools/call").shape(br#"{"content":[]}"#));
        assert_eq!(v["resultType"], "complete");
        assert_eq!(v["_meta"]["io.modelcontextprotocol/serverInfo"]["name"], "t");
        assert!(v.get("ttlMs").is_none());
        assert_eq!(parsed(&shapes().for_method("ping").shape(b"{}"))["resultType"], "complete");
    }

    #[test]
    fn cacheable_results_get_their_hints() {
        let s = shapes();
        let listed = parsed(&s.for_method("tools/list").shape(br#"{"tools":[]}"#));
        assert_eq!((listed["ttlMs"].clone(), listed["cacheScope"].clone()), (json!(60_000), json!("public")));
        let read = parsed(&s.for_method("resources/read").shape(br#"{"contents":[]}"#));
        assert_eq!((read["ttlMs"].clone(), read["cacheScope"].clone()), (json!(0), json!("private")));
    }

    #[test]
    fn a_result_with_its_own_meta_keeps_it() {
        let v = parsed(&shapes().for_method("tools/call").shape(br#"{"_meta":{"mine":1},"content":[]}"#));
        assert_eq!(v["_meta"], json!({"mine": 1}));
        assert_eq!(v["resultType"], "complete");
    }

    #[test]
    fn configuration_mistakes_are_refused() {
        let bad_method = HashMap::from([("tools/call".to_owned(), CacheHint::default())]);
        assert!(Shapes::new(&json!({}), &bad_method).is_err());
        let bad_scope = HashMap::from([("tools/list".to_owned(), CacheHint { ttl_ms: 1, scope: "shared".into() })]);
        assert!(Shapes::new(&json!({}), &bad_scope).is_err());
    }
}
