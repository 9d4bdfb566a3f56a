//! JSON Schema: compiled once at registration, used for every call.
//!
//! Remote `$ref` resolution is compiled out (the crate's `resolve-http`/`resolve-file` features are off): a tool
//! schema can never make the server reach the network or the file system.

use serde_json::Value;

/// A compiled validator for one schema (JSON Schema 2020-12 unless the schema's `$schema` says otherwise).
pub struct CompiledSchema {
    validator: jsonschema::Validator,
}

/// At most this many problems are listed in one error message.
const MAX_REPORTED: usize = 5;

impl CompiledSchema {
    pub fn compile(schema: &Value) -> Result<Self, String> {
        let validator = jsonschema::options()
            .with_draft(draft_of(schema))
            .build(schema)
            .map_err(|e| format!("invalid JSON Schema: {e}"))?;
        Ok(CompiledSchema { validator })
    }

    pub fn is_valid(&self, instance: &Value) -> bool {
        self.validator.is_valid(instance)
    }

    /// `None` when valid; otherwise a message naming each failing location, e.g.
    /// `/b: "x" is not of type "integer"`. The root is named `(root)`.
    pub fn check(&self, instance: &Value) -> Option<String> {
        if self.validator.is_valid(instance) {
            return None;
        }
        let mut parts = Vec::new();
        let mut total = 0usize;
        for err in self.validator.iter_errors(instance) {
            total += 1;
            if parts.len() < MAX_REPORTED {
                let path = err.instance_path().as_str();
                let path = if path.is_empty() { "(root)" } else { path };
                parts.push(format!("{path}: {err}"));
            }
        }
        if total > parts.len() {
            parts.push(format!("and {} more", total - parts.len()));
        }
        Some(parts.join("; "))
    }
}

fn draft_of(schema: &Value) -> jsonschema::Draft {
    use jsonschema::Draft;
    match schema.get("$schema").and_then(Value::as_str) {
        Some(s) if s.contains("draft-07") => Draft::Draft7,
        Some(s) if s.contains("draft-06") => Draft::Draft6,
        Some(s) if s.contains("draft-04") => Draft::Draft4,
        Some(s) if s.contains("2019-09") => Draft::Draft201909,
        _ => Draft::Draft202012,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn add_schema() -> CompiledSchema {
        let schema = json!({
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer", "minimum": 0}},
            "required": ["a", "b"]
        });
        CompiledSchema::compile(&schema).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn valid_instance_has_no_message() {
        assert!(add_schema().check(&json!({"a": 1, "b": 2})).is_none());
    }

    #[test]
    fn message_names_the_failing_path() {
        let msg = add_schema().check(&json!({"a": "x", "b": -1})).unwrap_or_default();
        assert!(msg.contains("/a: \"x\" is not of type \"integer\""), "{msg}");
        assert!(msg.contains("/b: -1 is less than the minimum of 0"), "{msg}");
    }

    #[test]
    fn missing_property_is_reported_at_root() {
        let msg = add_schema().check(&json!({"a": 1})).unwrap_or_default();
        assert!(msg.starts_with("(root): \"b\" is a required property"), "{msg}");
    }

    #[test]
    fn nested_defs_and_refs() {
        let schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "$defs": {"address": {"type": "object", "properties": {"zip": {"type": "string"}}, "required": ["zip"]}},
            "properties": {"address": {"$ref": "#/$defs/address"}},
            "additionalProperties": false
        });
        let s = CompiledSchema::compile(&schema).unwrap_or_else(|e| panic!("{e}"));
        assert!(s.is_valid(&json!({"address": {"zip": "1"}})));
        let msg = s.check(&json!({"address": {"zip": 1}, "extra": true})).unwrap_or_default();
        assert!(msg.contains("/address/zip"), "{msg}");
        assert!(msg.contains("extra"), "{msg}");
    }

    #[test]
    fn invalid_schema_is_rejected() {
        assert!(CompiledSchema::compile(&json!({"type": 12})).is_err());
    }

    #[test]
    fn remote_refs_are_not_fetched() {
        let schema = json!({"$ref": "https://example.com/schema.json"});
        assert!(CompiledSchema::compile(&schema).is_err());
    }
}
