use super::*;
use serde_json::json;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const HEX_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const TTL: Duration = Duration::from_secs(300);

fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

fn digest(args: Value) -> ArgsDigest {
    ArgsDigest::of_arguments(Some(&args))
}

fn binding() -> Binding<'static> {
    Binding::new("tools/call", "deploy", digest(json!({"env": "prod", "count": 2}))).with_principal(Some("alice"))
}

fn ring() -> Result<KeyRing, KeyError> {
    KeyRing::parse([HEX_KEY])
}

fn raw_of(token: &str) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD.decode(token).map_err(|e| e.to_string())
}

#[test]
fn round_trip_gives_the_payload_back_in_a_url_safe_token() -> TestResult {
    let ring = ring()?;
    let token = ring.seal(&binding(), b"step=2;name=octocat", TTL, t0())?;
    assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{token}");
    assert_eq!(ring.open(&token, &binding(), t0())?, b"step=2;name=octocat");
    assert_eq!(ring.open(&token, &binding(), t0() + TTL - Duration::from_millis(1))?, b"step=2;name=octocat");
    // A fresh nonce each time: the same state never gives the same token twice.
    assert_ne!(token, ring.seal(&binding(), b"step=2;name=octocat", TTL, t0())?);
    // The payload is encrypted, not merely signed.
    assert!(!raw_of(&token)?.windows(7).any(|w| w == b"octocat"));
    // Empty and maximal payloads.
    assert_eq!(ring.open(&ring.seal(&binding(), b"", TTL, t0())?, &binding(), t0())?, b"");
    let big = vec![7u8; MAX_PAYLOAD_LEN];
    let token = ring.seal(&binding(), &big, TTL, t0())?;
    assert!(token.len() <= MAX_TOKEN_LEN);
    assert_eq!(ring.open(&token, &binding(), t0())?, big);
    Ok(())
}

#[test]
fn payload_over_the_limit_is_refused_at_seal() -> TestResult {
    let too_big = vec![0u8; MAX_PAYLOAD_LEN + 1];
    assert_eq!(ring()?.seal(&binding(), &too_big, TTL, t0()), Err(SealError::TooLarge));
    Ok(())
}

#[test]
fn another_key_does_not_open() -> TestResult {
    let token = ring()?.seal(&binding(), b"x", TTL, t0())?;
    assert_eq!(KeyRing::random()?.open(&token, &binding(), t0()), Err(StateError::UnknownKey));
    Ok(())
}

#[test]
fn rotation_new_key_first_still_opens_old_states() -> TestResult {
    let old = StateKey::parse(HEX_KEY)?;
    let new = StateKey::generate()?;
    let before = KeyRing::new(vec![old.clone()])?;
    let during = KeyRing::new(vec![new.clone(), old.clone()])?;
    let after = KeyRing::new(vec![new.clone()])?;
    assert_eq!(during.sealing_key(), new.id());
    assert_eq!(during.key_ids().collect::<Vec<_>>(), vec![new.id(), old.id()]);

    let old_token = before.seal(&binding(), b"old", TTL, t0())?;
    assert_eq!(during.open(&old_token, &binding(), t0())?, b"old");
    let new_token = during.seal(&binding(), b"new", TTL, t0())?;
    assert_eq!(raw_of(&new_token)?[1..5], new.id().0);
    assert_eq!(after.open(&new_token, &binding(), t0())?, b"new");
    // Processes not yet rotated cannot open the new key's states; retired keys' states stop opening.
    assert_eq!(before.open(&new_token, &binding(), t0()), Err(StateError::UnknownKey));
    assert_eq!(after.open(&old_token, &binding(), t0()), Err(StateError::UnknownKey));
    Ok(())
}

#[test]
fn every_altered_byte_is_refused() -> TestResult {
    let ring = ring()?;
    let raw = raw_of(&ring.seal(&binding(), b"payload", TTL, t0())?)?;
    for i in 0..raw.len() {
        for flip in [0x01u8, 0x80] {
            let mut bad = raw.clone();
            bad[i] ^= flip;
            let expected = match i {
                0 => StateError::Malformed,
                1..=4 => StateError::UnknownKey,
                _ => StateError::Tampered,
            };
            assert_eq!(ring.open(&URL_SAFE_NO_PAD.encode(&bad), &binding(), t0()), Err(expected), "byte {i}");
        }
    }
    Ok(())
}

#[test]
fn malformed_tokens_are_refused_before_any_key_is_tried() -> TestResult {
    let ring = ring()?;
    let token = ring.seal(&binding(), b"payload", TTL, t0())?;
    let raw = raw_of(&token)?;
    let malformed = |t: &str| ring.open(t, &binding(), t0()) == Err(StateError::Malformed);
    for t in ["", "!", "not base64 at all", "%%%%", "AAAA", "   ", "\u{e9}t\u{e9}"] {
        assert!(malformed(t), "{t:?}");
    }
    // Padding, whitespace and the standard alphabet are not the token's encoding.
    assert!(malformed(&format!("{token}=")));
    assert!(malformed(&format!(" {token}")));
    assert!(malformed(&format!("+{}", &token[1..])) && malformed(&format!("/{}", &token[1..])));
    // Truncated anywhere short of the minimum; a shorter ciphertext fails authentication.
    for len in 0..MIN_RAW_LEN {
        assert!(malformed(&URL_SAFE_NO_PAD.encode(&raw[..len])), "{len}");
    }
    assert_eq!(ring.open(&URL_SAFE_NO_PAD.encode(&raw[..raw.len() - 1]), &binding(), t0()), Err(StateError::Tampered));
    // A future format version.
    let mut v2 = raw.clone();
    v2[0] = 2;
    assert!(malformed(&URL_SAFE_NO_PAD.encode(&v2)));
    // Over the size limit, even if it is otherwise base64.
    assert!(malformed(&"A".repeat(MAX_TOKEN_LEN + 1)));
    assert!(malformed(&"A".repeat(10 * 1024 * 1024)));
    Ok(())
}

#[test]
fn random_input_never_opens_and_never_panics() -> TestResult {
    let ring = ring()?;
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut noise = vec![0u8; 4096];
    getrandom::fill(&mut noise)?;
    for (i, chunk) in noise.chunks(97).enumerate() {
        let len = i * 7 % 200;
        let token: String = chunk.iter().cycle().take(len).map(|b| alphabet[usize::from(b % 64)] as char).collect();
        assert!(ring.open(&token, &binding(), t0()).is_err(), "{token}");
        let lossy = String::from_utf8_lossy(chunk);
        assert!(ring.open(&lossy, &binding(), t0()).is_err());
    }
    Ok(())
}

#[test]
fn a_state_only_opens_for_the_request_and_principal_it_was_issued_for() -> TestResult {
    let ring = ring()?;
    let token = ring.seal(&binding(), b"payload", TTL, t0())?;
    let other_args = digest(json!({"env": "staging", "count": 2}));
    let others = [
        Binding { method: "prompts/get", ..binding() },
        Binding { name: "destroy", ..binding() },
        Binding { arguments: other_args, ..binding() },
        Binding { arguments: digest(json!({"env": "prod", "count": 2.0})), ..binding() },
        binding().with_principal(Some("mallory")),
        binding().with_principal(Some("")),
        binding().with_principal(None),
        // Field boundaries are length-prefixed: moving bytes between method and name changes the binding.
        Binding { method: "tools/cal", name: "ldeploy", ..binding() },
    ];
    for other in others {
        assert_eq!(ring.open(&token, &other, t0()), Err(StateError::Tampered), "{other:?}");
    }
    // Key order in the arguments does not matter.
    let reordered = Binding { arguments: digest(json!({"count": 2, "env": "prod"})), ..binding() };
    assert_eq!(ring.open(&token, &reordered, t0())?, b"payload");
    // Without a principal on either side it opens too.
    let anonymous = binding().with_principal(None);
    let token = ring.seal(&anonymous, b"p", TTL, t0())?;
    assert_eq!(ring.open(&token, &anonymous, t0())?, b"p");
    Ok(())
}

#[test]
fn expiry_is_checked_at_open() -> TestResult {
    let ring = ring()?;
    let token = ring.seal(&binding(), b"p", TTL, t0())?;
    assert_eq!(ring.open(&token, &binding(), t0() + TTL), Err(StateError::Expired));
    assert_eq!(ring.open(&token, &binding(), t0() + TTL * 100), Err(StateError::Expired));
    // A zero TTL is born expired.
    let token = ring.seal(&binding(), b"p", Duration::ZERO, t0())?;
    assert_eq!(ring.open(&token, &binding(), t0()), Err(StateError::Expired));
    // An enormous TTL saturates instead of wrapping.
    let token = ring.seal(&binding(), b"p", Duration::MAX, t0())?;
    assert_eq!(ring.open(&token, &binding(), t0() + Duration::from_secs(1 << 40))?, b"p");
    // Issued by a process whose clock runs ahead: tolerated up to the skew, refused beyond it.
    let ahead = ring.seal(&binding(), b"p", TTL, t0() + MAX_CLOCK_SKEW)?;
    assert_eq!(ring.open(&ahead, &binding(), t0())?, b"p");
    let too_far = ring.seal(&binding(), b"p", TTL, t0() + MAX_CLOCK_SKEW + Duration::from_secs(1))?;
    assert_eq!(ring.open(&too_far, &binding(), t0()), Err(StateError::Expired));
    Ok(())
}

#[test]
fn keys_parse_from_configuration_strings() -> TestResult {
    let reference = StateKey::parse(HEX_KEY)?.id();
    let bytes: Vec<u8> = (0u8..32).collect();
    let forms = [
        HEX_KEY.to_uppercase(),
        format!("  {HEX_KEY}\n"),
        STANDARD_PAD_INDIFFERENT.encode(&bytes),
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(&bytes),
        URL_SAFE_NO_PAD.encode(&bytes),
        format!("{}\n", base64::engine::general_purpose::URL_SAFE.encode(&bytes)),
    ];
    for form in &forms {
        assert_eq!(StateKey::parse(form)?.id(), reference, "{form}");
    }
    assert_eq!(StateKey::from_bytes(bytes.as_slice().try_into()?)?.id(), reference);
    // Ids are stable across processes and differ between keys.
    assert_eq!(reference.to_string().len(), 8);
    assert_ne!(StateKey::generate()?.id(), reference);
    Ok(())
}

#[test]
fn bad_key_material_is_a_clear_error() -> TestResult {
    let cases: [(&str, KeyError); 6] = [
        ("", KeyError::Length(0)),
        ("not a key!", KeyError::Encoding),
        ("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g", KeyError::Length(48)),
        ("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg", KeyError::Length(31)),
        ("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g", KeyError::Length(33)),
        (&"0".repeat(64), KeyError::AllZero),
    ];
    for (text, expected) in cases {
        assert_eq!(StateKey::parse(text).map(|k| k.id()), Err(expected), "{text:?}");
    }
    // Hex one or two digits short is read as base64, and is the wrong length or not canonical base64.
    assert!(StateKey::parse(&HEX_KEY[..62]).is_err() && StateKey::parse(&HEX_KEY[..63]).is_err());
    assert_eq!(KeyRing::new(Vec::new()).map(|r| r.sealing_key()), Err(KeyError::NoKeys));
    assert_eq!(KeyRing::parse(Vec::<String>::new()).map(|r| r.sealing_key()), Err(KeyError::NoKeys));
    let dup = KeyRing::parse([HEX_KEY, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"]);
    assert_eq!(dup.map(|r| r.sealing_key()), Err(KeyError::Duplicate { index: 1 }));
    let err = KeyRing::parse([HEX_KEY, "oops!"]).map(|r| r.sealing_key());
    assert_eq!(err, Err(KeyError::Entry { index: 1, error: Box::new(KeyError::Encoding) }));
    assert_eq!(
        err.err().map(|e| e.to_string()).as_deref(),
        Some("request-state key 1: request-state key is neither 64 hex digits nor base64 of 32 bytes")
    );
    Ok(())
}

#[test]
fn key_material_never_shows_in_debug_output() -> TestResult {
    let ring = ring()?;
    let shown = format!("{ring:?}");
    assert!(shown.contains(&ring.sealing_key().to_string()));
    assert!(!shown.contains("0a0b") && !shown.contains("10, 11"), "{shown}");
    Ok(())
}

#[test]
fn every_error_is_invalid_params_with_a_clear_message() {
    for e in [StateError::Malformed, StateError::UnknownKey, StateError::Tampered, StateError::Expired] {
        assert_eq!(e.code(), -32602);
        let mcp = McpError::from(e);
        assert_eq!(mcp.code, -32602);
        assert!(mcp.message.starts_with("Invalid requestState: "), "{}", mcp.message);
        assert_eq!(mcp.message, e.to_string());
    }
    assert!(StateError::Expired.to_string().contains("expired"));
    assert!(SealError::TooLarge.to_string().contains(&MAX_PAYLOAD_LEN.to_string()));
}

#[test]
fn canonical_json_sorts_keys_at_every_level() {
    let a = json!({"b": [1, {"z": true, "a": null}], "a": "x\"y", "c": {"y": 1.5, "x": -2}});
    assert_eq!(canonical_json(&a), br#"{"a":"x\"y","b":[1,{"a":null,"z":true}],"c":{"x":-2,"y":1.5}}"#);
    assert_eq!(ArgsDigest::of_arguments(None), ArgsDigest::of_arguments(Some(&json!({}))));
    assert_eq!(ArgsDigest::of_arguments(Some(&Value::Null)), ArgsDigest::of(b"{}"));
    assert_ne!(ArgsDigest::of_arguments(Some(&json!({"a": 1}))), ArgsDigest::of_arguments(Some(&json!({"a": "1"}))));
    // SHA-256 of the empty string, to pin the hash in use.
    assert_eq!(ArgsDigest::of(b"").0[..4], [0xe3, 0xb0, 0xc4, 0x42],);
}
