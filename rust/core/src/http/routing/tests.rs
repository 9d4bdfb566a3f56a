use super::*;
use hyper::header::{HeaderName, HeaderValue};

type TestResult = Result<(), Box<dyn std::error::Error>>;
/// Header lines: (name, value bytes).
type Lines<'a> = &'a [(&'a str, &'a [u8])];

/// Header lines in order (repeated names give repeated lines), names in whatever case they are written.
pub(super) fn headers(lines: &[(&str, &[u8])]) -> Result<HeaderMap, Box<dyn std::error::Error>> {
    let mut map = HeaderMap::new();
    for (name, value) in lines {
        map.append(HeaderName::from_bytes(name.as_bytes())?, HeaderValue::from_bytes(value)?);
    }
    Ok(map)
}

fn raw(json: &str) -> Result<Box<RawValue>, serde_json::Error> {
    RawValue::from_string(json.to_owned())
}

fn problem<T>(r: Result<T, HeaderMismatch>) -> Option<Problem> {
    r.err().map(|e| e.problem)
}

#[test]
fn method_header_must_equal_the_body_method() -> TestResult {
    for name in ["Mcp-Method", "mcp-method", "MCP-METHOD"] {
        assert_eq!(check_method(&headers(&[(name, b"tools/list")])?, "tools/list"), Ok(()));
    }
    for value in [&b"  tools/list  "[..], b"\ttools/list", b"tools/list \t"] {
        assert_eq!(check_method(&headers(&[("Mcp-Method", value)])?, "tools/list"), Ok(()));
    }
    let cases: [(Lines<'_>, Problem); 7] = [
        (&[("Mcp-Method", b"prompts/list")], Problem::Mismatch),
        (&[("Mcp-Method", b"TOOLS/LIST")], Problem::Mismatch),
        (&[("Mcp-Method", b"")], Problem::Mismatch),
        (&[("Mcp-Method", b"tools/ list")], Problem::Mismatch),
        (&[], Problem::Missing),
        (&[("Mcp-Method", b"tools/list"), ("mcp-method", b"tools/list")], Problem::Duplicated),
        (&[("Mcp-Method", b"tools/list\xe9")], Problem::InvalidCharacters),
    ];
    for (lines, expected) in cases {
        assert_eq!(problem(check_method(&headers(lines)?, "tools/list")), Some(expected), "{lines:?}");
    }
    // Never decoded: a method name is plain ASCII.
    let encoded = headers(&[("Mcp-Method", b"=?base64?dG9vbHMvbGlzdA==?=")])?;
    assert_eq!(problem(check_method(&encoded, "tools/list")), Some(Problem::Mismatch));
    Ok(())
}

#[test]
fn name_header_must_equal_params_name_or_uri() -> TestResult {
    let call = raw(r#"{"name":"get_weather","arguments":{}}"#)?;
    let ok = |lines: &[(&str, &[u8])], method: &str, params: &RawValue| -> TestResult {
        assert_eq!(check_name(&headers(lines)?, method, Some(params)), Ok(()), "{lines:?}");
        Ok(())
    };
    ok(&[("Mcp-Name", b"get_weather")], "tools/call", &call)?;
    ok(&[("MCP-NAME", b"  get_weather  ")], "tools/call", &call)?;
    ok(&[("mcp-name", b"get_weather")], "prompts/get", &call)?;
    let read = raw(r#"{"uri":"file:///projects/myapp/config.json","name":"ignored"}"#)?;
    ok(&[("Mcp-Name", b"file:///projects/myapp/config.json")], "resources/read", &read)?;
    // Escapes in the body are compared decoded; a name outside the safe set arrives base64-encoded.
    ok(&[("Mcp-Name", b"ab")], "tools/call", &raw(r#"{"name":"a\u0062"}"#)?)?;
    ok(&[("Mcp-Name", b"=?base64?5aSp5rCX?=")], "tools/call", &raw(r#"{"name":"天気"}"#)?)?;
    ok(&[("Mcp-Name", b"=?base64?IHBhZGRlZCA=?=")], "tools/call", &raw(r#"{"name":" padded "}"#)?)?;
    // Methods without a name field ignore the header; a body without the field and no header is left to params.
    ok(&[("Mcp-Name", b"anything")], "tools/list", &call)?;
    ok(&[], "tools/call", &raw(r#"{"arguments":{}}"#)?)?;
    assert_eq!(check_name(&HeaderMap::new(), "tools/call", None), Ok(()));

    let cases: [(Lines<'_>, &str, Problem); 9] = [
        (&[("Mcp-Name", b"wrong_tool_name")], "tools/call", Problem::Mismatch),
        (&[("Mcp-Name", b"Get_Weather")], "tools/call", Problem::Mismatch),
        (&[("Mcp-Name", b"get_weather")], "resources/read", Problem::NotInBody),
        (&[], "tools/call", Problem::Missing),
        (&[], "prompts/get", Problem::Missing),
        (&[("Mcp-Name", b"get_weather"), ("Mcp-Name", b"get_weather")], "tools/call", Problem::Duplicated),
        (&[("Mcp-Name", b"get\xe9weather")], "tools/call", Problem::InvalidCharacters),
        (&[("Mcp-Name", b"=?base64?Z2V0X3dlYXRoZXI?=")], "tools/call", Problem::MalformedBase64),
        (&[("Mcp-Name", b"=?base64?Z2V0X3dlYXRoZXJ=?=")], "tools/call", Problem::MalformedBase64),
    ];
    for (lines, method, expected) in cases {
        assert_eq!(problem(check_name(&headers(lines)?, method, Some(&call))), Some(expected), "{lines:?} {method}");
    }
    // A non-string or absent body field with a header: the header names something the body lacks.
    let numeric = raw(r#"{"name":7}"#)?;
    assert_eq!(
        problem(check_name(&headers(&[("Mcp-Name", b"7")])?, "tools/call", Some(&numeric))),
        Some(Problem::NotInBody)
    );
    assert_eq!(problem(check_name(&headers(&[("Mcp-Name", b"x")])?, "tools/call", None)), Some(Problem::NotInBody));
    Ok(())
}

#[test]
fn check_request_checks_method_then_name() -> TestResult {
    let call = raw(r#"{"name":"echo","arguments":{"text":"hi"}}"#)?;
    let good = headers(&[("Mcp-Method", b"tools/call"), ("Mcp-Name", b"echo")])?;
    assert_eq!(check_request(&good, "tools/call", Some(&call)), Ok(()));
    let no_name = headers(&[("Mcp-Method", b"tools/call")])?;
    let e = check_request(&no_name, "tools/call", Some(&call)).err();
    assert_eq!(e.as_ref().map(|e| (e.header.as_ref(), e.problem)), Some(("Mcp-Name", Problem::Missing)));
    let both_wrong = headers(&[("Mcp-Method", b"tools/list"), ("Mcp-Name", b"other")])?;
    let e = check_request(&both_wrong, "tools/call", Some(&call)).err();
    assert_eq!(e.as_ref().map(|e| (e.header.as_ref(), e.problem)), Some(("Mcp-Method", Problem::Mismatch)));
    Ok(())
}

#[test]
fn base64_sentinel_decoding() {
    let decoded = [
        ("us-west1", "us-west1"),
        ("=?base64?SGVsbG8sIOS4lueVjA==?=", "Hello, 世界"),
        ("=?base64?IHBhZGRlZCA=?=", " padded "),
        ("=?base64?bGluZTEKbGluZTI=?=", "line1\nline2"),
        ("=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?=", "=?base64?literal?="),
        ("=?base64?SGVsbG8=?=", "Hello"),
        ("=?base64??=", ""),
        // Missing prefix or suffix, the wrong case, or prefix and suffix overlapping: literal.
        ("SGVsbG8=", "SGVsbG8="),
        ("=?base64?SGVsbG8=", "=?base64?SGVsbG8="),
        ("SGVsbG8=?=", "SGVsbG8=?="),
        ("=?BASE64?SGVsbG8=?=", "=?BASE64?SGVsbG8=?="),
        ("=?base64?=", "=?base64?="),
    ];
    for (value, expected) in decoded {
        assert_eq!(decode_value(value).as_deref(), Ok(expected), "{value}");
    }
    let malformed = [
        "=?base64?SGVsbG8?=",     // missing padding
        "=?base64?SGVsbG8==?=",   // too much padding
        "=?base64?SGVs!!!bG8=?=", // outside the alphabet
        "=?base64?SGVsbG9=?=",    // non-zero trailing bits
        "=?base64?SGVs bG8=?=",   // whitespace inside
        "=?base64?SGVsbG8_?=",    // URL-safe alphabet
        "=?base64?/w==?=",        // not UTF-8
        "=?base64?=?=",
    ];
    for value in malformed {
        assert_eq!(decode_value(value), Err(Problem::MalformedBase64), "{value}");
    }
}

#[test]
fn protocol_version_header_must_equal_the_meta_version() -> TestResult {
    let h = headers(&[("MCP-Protocol-Version", b" 2026-07-28 ")])?;
    assert_eq!(protocol_version(&h), Ok(Some("2026-07-28")));
    assert_eq!(check_protocol_version(&h, "2026-07-28"), Ok(()));
    assert_eq!(protocol_version(&HeaderMap::new()), Ok(None));
    assert_eq!(problem(check_protocol_version(&HeaderMap::new(), "2026-07-28")), Some(Problem::Missing));
    assert_eq!(problem(check_protocol_version(&h, "2025-11-25")), Some(Problem::Mismatch));
    let twice = headers(&[("mcp-protocol-version", b"2026-07-28"), ("MCP-PROTOCOL-VERSION", b"2026-07-28")])?;
    assert_eq!(problem(check_protocol_version(&twice, "2026-07-28")), Some(Problem::Duplicated));
    let bad = headers(&[("MCP-Protocol-Version", b"2026-07-28\xff")])?;
    assert_eq!(problem(protocol_version(&bad)), Some(Problem::InvalidCharacters));
    Ok(())
}

#[test]
fn mismatch_is_400_and_minus_32020_naming_header_and_field() {
    let e = HeaderMismatch::new("Mcp-Name", "params.name", Problem::Mismatch);
    assert_eq!((e.code(), e.status()), (-32020, StatusCode::BAD_REQUEST));
    assert_eq!(
        e.to_string(),
        "Header mismatch: the Mcp-Name header value does not match the request body's params.name"
    );
    let mcp = McpError::from(e);
    assert_eq!(mcp.code, HEADER_MISMATCH);
    assert!(mcp.message.starts_with("Header mismatch: "));
    for p in [
        Problem::Missing,
        Problem::Duplicated,
        Problem::InvalidCharacters,
        Problem::MalformedBase64,
        Problem::NotInBody,
        Problem::Mismatch,
    ] {
        let text = HeaderMismatch::new("Mcp-Param-Region", "arguments.region", p).to_string();
        assert!(text.starts_with("Header mismatch: the Mcp-Param-Region header"), "{text}");
    }
}
