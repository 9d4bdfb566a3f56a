use super::super::tests::headers;
use super::*;
use serde_json::json;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The spec's example tool, plus optional annotated properties of each type and a nested one.
fn schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "region": {"type": "string", "x-mcp-header": "Region"},
            "query": {"type": "string"},
            "count": {"type": "integer", "x-mcp-header": "Count"},
            "dry_run": {"type": "boolean", "x-mcp-header": "Dry-Run"},
            "target": {"type": "object", "properties": {"tenant": {"type": "string", "x-mcp-header": "Tenant"}}}
        },
        "required": ["region", "query"]
    })
}

fn params() -> Result<ParamHeaders, InvalidAnnotation> {
    ParamHeaders::from_schema(&schema())
}

fn check(lines: &[(&str, &[u8])], arguments: Value) -> Result<Result<(), HeaderMismatch>, Box<dyn std::error::Error>> {
    Ok(params()?.check(&headers(lines)?, Some(&arguments)))
}

fn problem(lines: &[(&str, &[u8])], arguments: Value) -> Result<Option<Problem>, Box<dyn std::error::Error>> {
    Ok(check(lines, arguments)?.err().map(|e| e.problem))
}

#[test]
fn annotations_are_read_with_their_path_and_type() -> TestResult {
    let found: Vec<_> = params()?.iter().map(|p| (p.display_name().to_owned(), p.path().join("."), p.kind())).collect();
    let expected = [
        ("Mcp-Param-Count", "count", ParamType::Integer),
        ("Mcp-Param-Dry-Run", "dry_run", ParamType::Boolean),
        ("Mcp-Param-Region", "region", ParamType::String),
        ("Mcp-Param-Tenant", "target.tenant", ParamType::String),
    ];
    assert_eq!(found, expected.map(|(h, p, k)| (h.to_owned(), p.to_owned(), k)));
    assert_eq!(params()?.iter().next().map(|p| p.header_name().as_str()), Some("mcp-param-count"));
    // No annotations (or no schema to speak of): nothing to check.
    for plain in [json!({"type": "object"}), json!({}), json!(true), json!({"properties": {"a": {"type": "string"}}})] {
        assert!(ParamHeaders::from_schema(&plain)?.is_empty());
    }
    // Instance data is never mistaken for an annotation.
    let data = json!({"properties": {"a": {"type": "object", "default": {"x-mcp-header": "A"},
        "examples": [{"x-mcp-header": "B"}], "const": {"x-mcp-header": "C"}}}});
    assert!(ParamHeaders::from_schema(&data)?.is_empty());
    Ok(())
}

#[test]
fn invalid_annotations_make_the_tool_invalid() {
    let string = |extra: Value| {
        let mut p = json!({"type": "string", "x-mcp-header": "H"});
        if let (Some(p), Value::Object(extra)) = (p.as_object_mut(), extra) {
            p.extend(extra);
        }
        p
    };
    let cases = [
        (json!({"type": "object", "x-mcp-header": "Root"}), ""),
        (json!({"properties": {"a": {"type": "array", "items": string(json!({}))}}}), "/properties/a/items"),
        (json!({"properties": {"a": {"type": "array", "items": [string(json!({}))]}}}), "/properties/a/items/0"),
        (json!({"properties": {"a": {"anyOf": [string(json!({}))]}}}), "/properties/a/anyOf/0"),
        (json!({"allOf": [{"properties": {"a": string(json!({}))}}]}), "/allOf/0/properties/a"),
        (json!({"if": {"properties": {"a": string(json!({}))}}}), "/if/properties/a"),
        (json!({"$defs": {"a": string(json!({}))}, "properties": {"a": {"$ref": "#/$defs/a"}}}), "/$defs/a"),
        (json!({"additionalProperties": string(json!({}))}), "/additionalProperties"),
        (json!({"patternProperties": {"^a/b~": string(json!({}))}}), "/patternProperties/^a~1b~0"),
        (json!({"properties": {"n": {"type": "number", "x-mcp-header": "N"}}}), "/properties/n"),
        (json!({"properties": {"n": {"x-mcp-header": "N"}}}), "/properties/n"),
        (json!({"properties": {"n": {"type": ["string", "null"], "x-mcp-header": "N"}}}), "/properties/n"),
        (json!({"properties": {"n": string(json!({"x-mcp-header": ""}))}}), "/properties/n"),
        (json!({"properties": {"n": string(json!({"x-mcp-header": "Two Words"}))}}), "/properties/n"),
        (json!({"properties": {"n": string(json!({"x-mcp-header": "Line\r\nX: y"}))}}), "/properties/n"),
        (json!({"properties": {"n": string(json!({"x-mcp-header": "Région"}))}}), "/properties/n"),
        (json!({"properties": {"n": string(json!({"x-mcp-header": 7}))}}), "/properties/n"),
        (
            json!({"properties": {
                "a": string(json!({"x-mcp-header": "Dup"})),
                "b": string(json!({"x-mcp-header": "dUP"}))
            }}),
            "/properties/b",
        ),
    ];
    for (schema, pointer) in cases {
        let err = ParamHeaders::from_schema(&schema).err();
        assert_eq!(err.as_ref().map(|e| e.pointer.as_str()), Some(pointer), "{schema}");
        assert!(err.is_some_and(|e| e.to_string().starts_with("invalid x-mcp-header at")));
    }
    // Every RFC 9110 tchar is allowed.
    let odd = json!({"properties": {"a": string(json!({"x-mcp-header": "!#$%&'*+-.^_`|~09Az"}))}});
    assert!(ParamHeaders::from_schema(&odd).is_ok_and(|p| !p.is_empty()));
}

/// The cases of the conformance scenario `http-custom-header-server-validation`.
#[test]
fn conformance_base64_and_presence_cases() -> TestResult {
    let with = |v: &str| json!({"region": v, "query": "q"});
    assert_eq!(check(&[("Mcp-Param-Region", b"=?base64?SGVsbG8=?=")], with("Hello"))?, Ok(()));
    assert_eq!(problem(&[("Mcp-Param-Region", b"=?base64?SGVsbG8?=")], with("Hello"))?, Some(Problem::MalformedBase64));
    assert_eq!(
        problem(&[("Mcp-Param-Region", b"=?base64?SGVs!!!bG8=?=")], with("Hello"))?,
        Some(Problem::MalformedBase64)
    );
    assert_eq!(check(&[("Mcp-Param-Region", b"SGVsbG8=")], with("SGVsbG8="))?, Ok(()));
    assert_eq!(check(&[("Mcp-Param-Region", b"=?base64?SGVsbG8=")], with("=?base64?SGVsbG8="))?, Ok(()));
    assert_eq!(problem(&[], with("test-value"))?, Some(Problem::Missing));
    // Optional annotated properties absent from the body: their headers are not expected.
    assert_eq!(check(&[("Mcp-Param-Region", b"test-default")], with("test-default"))?, Ok(()));
    // A required property omitted from both is schema validation's business, not the headers'.
    assert_eq!(check(&[], json!({"query": "q"}))?, Ok(()));
    Ok(())
}

#[test]
fn strings_compare_exactly_after_decoding() -> TestResult {
    let with = |v: &str| json!({"region": v});
    assert_eq!(check(&[("mcp-param-region", b"us-west1")], with("us-west1"))?, Ok(()));
    assert_eq!(check(&[("MCP-PARAM-REGION", b"  us-west1\t")], with("us-west1"))?, Ok(()));
    assert_eq!(check(&[("Mcp-Param-Region", b"=?base64?SGVsbG8sIOS4lueVjA==?=")], with("Hello, 世界"))?, Ok(()));
    assert_eq!(check(&[("Mcp-Param-Region", b"=?base64?IHBhZGRlZCA=?=")], with(" padded "))?, Ok(()));
    let literal_sentinel = with("=?base64?literal?=");
    assert_eq!(check(&[("Mcp-Param-Region", b"=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?=")], literal_sentinel)?, Ok(()));
    for (header, body) in [(&b"US-WEST1"[..], "us-west1"), (b"us-west2", "us-west1"), (b"padded", " padded ")] {
        assert_eq!(problem(&[("Mcp-Param-Region", header)], with(body))?, Some(Problem::Mismatch));
    }
    Ok(())
}

#[test]
fn integers_compare_numerically() -> TestResult {
    let count = |header: &[u8], body: Value| problem(&[("Mcp-Param-Count", header)], json!({"count": body}));
    let equal: [(&[u8], Value); 9] = [
        (b"42", json!(42)),
        (b"042", json!(42)),
        (b"42.0", json!(42)),
        (b"42", json!(42.0)),
        (b"-7", json!(-7)),
        (b"-0", json!(0)),
        (b"=?base64?NDI=?=", json!(42)),
        (b"9007199254740993", json!(9_007_199_254_740_993_u64)),
        (b"-9007199254740991", json!(-9_007_199_254_740_991_i64)),
    ];
    for (header, body) in equal {
        assert_eq!(count(header, body.clone())?, None, "{header:?} {body}");
    }
    let different: [(&[u8], Value); 10] = [
        (b"43", json!(42)),
        (b"+42", json!(42)),
        (b"4.2e1", json!(42)),
        (b"0x2a", json!(42)),
        (b"42.5", json!(42)),
        (b"42.", json!(42)),
        (b"-", json!(0)),
        (b"=?base64?IDQy?=", json!(42)),
        (b"9007199254740992", json!(9_007_199_254_740_993_u64)),
        (b"1000000000000000000000000000000000000000000", json!(1)),
    ];
    for (header, body) in different {
        assert_eq!(count(header, body.clone())?, Some(Problem::Mismatch), "{header:?} {body}");
    }
    // A fraction in the body is not an integer: compared as written.
    assert_eq!(count(b"7.5", json!(7.5))?, None);
    Ok(())
}

#[test]
fn booleans_compare_as_lowercase_words() -> TestResult {
    let dry = |header: &[u8], body: bool| problem(&[("Mcp-Param-Dry-Run", header)], json!({"dry_run": body}));
    assert_eq!(dry(b"true", true)?, None);
    assert_eq!(dry(b"false", false)?, None);
    for (header, body) in [(&b"True"[..], true), (b"1", true), (b"false", true), (b"true", false), (b"", false)] {
        assert_eq!(dry(header, body)?, Some(Problem::Mismatch), "{header:?}");
    }
    assert_eq!(problem(&[], json!({"dry_run": false}))?, Some(Problem::Missing));
    Ok(())
}

#[test]
fn presence_rules() -> TestResult {
    // Header without a value in the body (absent, null, or no arguments at all).
    assert_eq!(problem(&[("Mcp-Param-Region", b"x")], json!({}))?, Some(Problem::NotInBody));
    assert_eq!(problem(&[("Mcp-Param-Region", b"x")], json!({"region": null}))?, Some(Problem::NotInBody));
    let p = params()?;
    let e = p.check(&headers(&[("Mcp-Param-Region", b"x")])?, None).err();
    assert_eq!(e.map(|e| e.problem), Some(Problem::NotInBody));
    assert_eq!(p.check(&HeaderMap::new(), None), Ok(()));
    assert_eq!(check(&[], json!({"region": null}))?, Ok(()));
    // Nested values: present, absent, or under a non-object.
    assert_eq!(check(&[("Mcp-Param-Tenant", b"acme")], json!({"target": {"tenant": "acme"}}))?, Ok(()));
    assert_eq!(problem(&[], json!({"target": {"tenant": "acme"}}))?, Some(Problem::Missing));
    assert_eq!(check(&[], json!({"target": "acme"}))?, Ok(()));
    assert_eq!(problem(&[("Mcp-Param-Tenant", b"acme")], json!({"target": "acme"}))?, Some(Problem::NotInBody));
    // Objects and arrays have no header form.
    assert_eq!(check(&[], json!({"region": {"a": 1}}))?, Ok(()));
    assert_eq!(problem(&[("Mcp-Param-Region", b"[1]")], json!({"region": [1]}))?, Some(Problem::Mismatch));
    // Headers no annotation declares are ignored.
    assert_eq!(check(&[("Mcp-Param-Other", b"\xff"), ("Mcp-Param-Other", b"y")], json!({}))?, Ok(()));
    Ok(())
}

#[test]
fn repeated_or_unsafe_headers_are_refused() -> TestResult {
    let both = [("Mcp-Param-Region", &b"a"[..]), ("mcp-param-region", b"a")];
    assert_eq!(problem(&both, json!({"region": "a"}))?, Some(Problem::Duplicated));
    assert_eq!(
        problem(&[("Mcp-Param-Region", b"caf\xc3\xa9")], json!({"region": "café"}))?,
        Some(Problem::InvalidCharacters)
    );
    let e = check(&[("Mcp-Param-Region", b"b")], json!({"region": "a"}))?.err();
    assert_eq!(
        e.map(|e| e.to_string()).as_deref(),
        Some("Header mismatch: the Mcp-Param-Region header value does not match the request body's arguments.region")
    );
    let e = check(&[], json!({"target": {"tenant": "t"}}))?.err();
    assert_eq!(
        e.map(|e| (e.header.into_owned(), e.field.into_owned())),
        Some(("Mcp-Param-Tenant".into(), "arguments.target.tenant".into()))
    );
    Ok(())
}
