//! The verifier against tokens minted here with throwaway keys (generated for these tests only).

use super::*;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::json;
use std::sync::atomic::AtomicUsize;

const ED_DER: &str = "MC4CAQAwBQYDK2VwBCIEIBOlxv6eoNQMzK6gQbFF/GYJHbZl9b1bEpG+kb/nLFNN";
const ED_X: &str = "J2EkrlSZAMD-JoybDOm2V1_wG_fQfoVdryOZ5OupqyI";
/// Another Ed25519 key, not in the set.
const ED2_DER: &str = "MC4CAQAwBQYDK2VwBCIEIO5HT26xCoYX3yzcYpzr6zfyUGREFcydgZPlQ4D8+WYv";
const EC_DER: &str = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg0pQRaW7+AkP8Uo/lkXANm2ffyrtJrvIbU+NduLhZowWhRANCAASEOmLByfCSoav3y2cnJQRV6Csn2mSn90oD7AwAafBCp2yL6wqnhlZ/l83A4HJQxlqL6FZYnrr7icLqEBBiVmOK";
const EC_X: &str = "hDpiwcnwkqGr98tnJyUEVegrJ9pkp_dKA-wMAGnwQqc";
const EC_Y: &str = "bIvrCqeGVn-XzcDgclDGWovoVlieuvuJwuoQEGJWY4o";
const RSA_DER: &str = "MIIEowIBAAKCAQEAl5HS5mLsWJyP9NFoQJny6Kp1Xs2nAOA43/pKySeKDoFjWLb1B/fUGSHiZp8Z85C6ea7fyd089yuiDAnmpGbwtv9r3qqmAZI0EWbdC+B90E1BoikCvDG+1p4EDgdiKPjzO+HN05IktIjwk+ImFxJ4anrN6hTy+IIVPqr41Q0O2ZO48V4MB9XkPhT+iwWNGkQya2fXel6JaVjZ7zbMKNvGwKkrtddOUFQkhuVuXRFBv2CGUR8f1yiUwF6glEroe0ZtZTycMgw9UHG8P6/gYlkXRDQ/31a+0TeGH+HJSCVKUyqhPZzxnydQ/G1ONHyb62WYE8RaRTYUDYIpC5Xkx7ZJEQIDAQABAoIBAAMigRIJpYJnN+GnlG2gul/1TMqV8Sv1WsmPG8ZqY7YGM7bPAQGyZ3te63tAF13eksIXhJfSG3V3A3Kk9cc455gNxP5ehA2MfONrP8Suj5nOvXbhdZeT889CFLjxjl8sHvH0AGPmXuLcjGqSlSbfAiVyhW6foPZil7MA4ujUPmuaqkUIKb8z5UW6xRhEYMCOc/6lPCjKDQbP57D6LAfF85Ete2JUddkCVUMQ+KQApYjkB5DlI0ckBZ2socBYKDyu3z2NjwiZ6myeWQOMmP6ehE1MW/BDkQFnOyH3jJZ0MEb9fm9/BO7P1Y2N/THsNvnR73Dwu8P6R+sStoIb50KjL40CgYEA0LV1bzgWAbOeLV0J9ZtM55cWo1sDFwhO4XUrCucUb8+KlJFqpIrGtkvB6n45e0DNd/cJSLeMllmBqevtBJ4zdMYt3qMorB7GClu6WRvqDDuHU9KGiPb8I26/5fI06FC7bCb0Hdf1ybiSROeXXLux23A1XWSeATTokPwQuhOrCRMCgYEAuenmc2wdpD5Hh0Mm0WLJMDjrYLDUa4WQ+qO05SxVyWR3cOvrXCnJRYHLU8GOWeYX6W6UuhcTHEeBmNDX/7MFF+SkEPHSxio+My32ug+GBBSovkSvkbthf6Kg7vCkonaxwWCWvaZE/y+LXEBE1UmtfzJEi6HRcjhyWLf0YdsDbcsCgYBXafkSqSIGem2gwFwgg3g1c4Gmz8K+jdtD8OgjO9/CaOG5EiLhYcKSra49gbqflee4/D3mOAJpInn9anQuP/h7S1oA6sNpO8ZkpkCpe9iOYQxwHjf8+71lNcioDcb9Gns1dCdArKgkYerZc0phK7f1mcywHilThg52UyzKUtyLAwKBgAdANBi0UsOhGjEQUWdBLw+OaL+wpdg7sVfVIqz9easNHAtvaBKEHrFzSnbNybt/2dbk1TAczkYAE/Hd007JsJ0p8awngkzwQNTGKiU/jb6C/8HL8/z/DeJoeVZYVFNxxaUBG1/yKCa7t/e1GfonkXiwgTPg78ZApVUId6OJYyzZAoGBAIdjFqNTes5/7fKbVR7ZWsQ8qic0N8i0Me+MEYeBGgcAeH960eqU05m4EvGxMi4icx/S8JjPOHsQ+PyGdFVqXlWENROEtIptUlmc0/tEOed5CLbQWirDgAtK4GzxC2yA2wtdcxfLfkoZS+eelpqV24AtVjK5/VpWaTeqOd5UvWy3";
const RSA_N: &str = "l5HS5mLsWJyP9NFoQJny6Kp1Xs2nAOA43_pKySeKDoFjWLb1B_fUGSHiZp8Z85C6ea7fyd089yuiDAnmpGbwtv9r3qqmAZI0EWbdC-B90E1BoikCvDG-1p4EDgdiKPjzO-HN05IktIjwk-ImFxJ4anrN6hTy-IIVPqr41Q0O2ZO48V4MB9XkPhT-iwWNGkQya2fXel6JaVjZ7zbMKNvGwKkrtddOUFQkhuVuXRFBv2CGUR8f1yiUwF6glEroe0ZtZTycMgw9UHG8P6_gYlkXRDQ_31a-0TeGH-HJSCVKUyqhPZzxnydQ_G1ONHyb62WYE8RaRTYUDYIpC5Xkx7ZJEQ";

const AUD: &str = "https://mcp.example.com/mcp";
const ISS: &str = "https://issuer.example.com";

fn der(b64: &str) -> Vec<u8> {
    STANDARD.decode(b64).unwrap_or_else(|e| panic!("{e}"))
}

fn jwks() -> String {
    json!({"keys": [
        {"kty": "OKP", "crv": "Ed25519", "x": ED_X, "kid": "ed", "use": "sig"},
        {"kty": "EC", "crv": "P-256", "x": EC_X, "y": EC_Y, "kid": "ec", "alg": "ES256"},
        {"kty": "RSA", "n": RSA_N, "e": "AQAB", "kid": "rsa", "alg": "RS256"},
        // Skipped: a symmetric key, an encryption key, an unknown type.
        {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
        {"kty": "RSA", "n": RSA_N, "e": "AQAB", "kid": "enc", "use": "enc"},
        {"kty": "XYZ", "kid": "odd"},
    ]})
    .to_string()
}

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

fn claims() -> Value {
    json!({"sub": "alice", "iss": ISS, "aud": AUD, "exp": now() + 300, "scope": "mcp files:read", "client_id": "app"})
}

fn sign(alg: Algorithm, kid: Option<&str>, key: &EncodingKey, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).unwrap_or_else(|e| panic!("{e}"))
}

fn ed(claims: &Value) -> String {
    sign(Algorithm::EdDSA, Some("ed"), &EncodingKey::from_ed_der(&der(ED_DER)), claims)
}

fn settings() -> JwtSettings {
    let mut s = JwtSettings::new(vec![AUD.to_owned()]);
    s.issuer = Some(ISS.to_owned());
    s.required_scopes = vec!["mcp".to_owned()];
    s.refresh_wait = Duration::from_millis(300);
    s
}

fn verifier() -> JwtVerifier {
    let v = JwtVerifier::new(settings()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v.set_jwks(&jwks()), Ok(3), "three usable keys");
    v
}

fn refused(outcome: Result<Principal, AuthError>) -> String {
    match outcome {
        Err(AuthError::InvalidToken(why)) => why,
        other => panic!("expected an invalid token, got {other:?}"),
    }
}

#[tokio::test]
async fn eddsa_es256_and_rs256_tokens_are_accepted() {
    let v = verifier();
    let p = v.verify_token(&ed(&claims())).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((p.subject.as_str(), p.client_id.as_deref()), ("alice", Some("app")));
    assert_eq!(p.scopes, ["mcp", "files:read"]);
    assert_eq!(p.claims.get("iss"), Some(&json!(ISS)));
    let es = sign(Algorithm::ES256, Some("ec"), &EncodingKey::from_ec_der(&der(EC_DER)), &claims());
    assert!(v.verify_token(&es).await.is_ok());
    let rs = sign(Algorithm::RS256, Some("rsa"), &EncodingKey::from_rsa_der(&der(RSA_DER)), &claims());
    assert!(v.verify_token(&rs).await.is_ok());
    // An audience list containing this server is fine too; `scp` arrays count as scopes.
    let mut c = claims();
    c["aud"] = json!(["https://other.example.com", AUD]);
    c.as_object_mut().map(|m| m.remove("scope"));
    c["scp"] = json!(["mcp"]);
    assert!(v.verify_token(&ed(&c)).await.is_ok());
}

#[tokio::test]
async fn wrong_claims_are_refused() {
    let v = verifier();
    let with = |field: &str, value: Value| {
        let mut c = claims();
        c[field] = value;
        ed(&c)
    };
    let without = |field: &str| {
        let mut c = claims();
        c.as_object_mut().map(|m| m.remove(field));
        ed(&c)
    };
    assert!(refused(v.verify_token(&with("aud", json!("https://other.example.com/mcp"))).await).contains("audience"));
    assert!(refused(v.verify_token(&without("aud")).await).contains("claim"));
    assert!(refused(v.verify_token(&with("iss", json!("https://evil.example.com"))).await).contains("issuer"));
    assert!(refused(v.verify_token(&without("iss")).await).contains("claim"));
    assert!(refused(v.verify_token(&with("exp", json!(now() - 120))).await).contains("expired"));
    assert!(refused(v.verify_token(&without("exp")).await).contains("claim"));
    assert!(refused(v.verify_token(&with("nbf", json!(now() + 120))).await).contains("not valid yet"));
    // Within the leeway: accepted.
    assert!(v.verify_token(&with("exp", json!(now() - 5))).await.is_ok());
    assert!(v.verify_token(&with("nbf", json!(now() + 5))).await.is_ok());
    let no_subject = {
        let mut c = claims();
        c.as_object_mut().map(|m| {
            m.remove("sub");
            m.remove("client_id")
        });
        ed(&c)
    };
    assert!(refused(v.verify_token(&no_subject).await).contains("subject"));
    match v.verify_token(&with("scope", json!("files:read"))).await {
        Err(AuthError::InsufficientScope(needed)) => assert_eq!(needed, ["mcp"]),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn forged_unsigned_and_misused_tokens_are_refused() {
    let v = verifier();
    // Signed by a key not in the set, under a kid that is.
    let forged = sign(Algorithm::EdDSA, Some("ed"), &EncodingKey::from_ed_der(&der(ED2_DER)), &claims());
    assert!(refused(v.verify_token(&forged).await).contains("signature"));
    // `alg: none`, with and without a signature part.
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT","kid":"ed"}"#);
    let body = URL_SAFE_NO_PAD.encode(claims().to_string());
    for token in [format!("{header}.{body}."), format!("{header}.{body}")] {
        assert!(refused(v.verify_token(&token).await).contains("not a signed JWT"), "{token}");
    }
    // HMAC, even with a key id the set has (as a symmetric key it was skipped) or an RSA key's id (the
    // classic confusion: the public key used as an HMAC secret).
    for kid in ["hmac", "rsa"] {
        let hs = sign(
            Algorithm::HS256,
            Some(kid),
            &EncodingKey::from_secret(b"secret").unwrap_or_else(|e| panic!("{e}")),
            &claims(),
        );
        assert!(refused(v.verify_token(&hs).await).contains("algorithm"), "{kid}");
    }
    // The algorithm must be the key's: an RS256 key does not take PS256 (same family).
    let ps = sign(Algorithm::PS256, Some("rsa"), &EncodingKey::from_rsa_der(&der(RSA_DER)), &claims());
    assert!(refused(v.verify_token(&ps).await).contains("does not match"));
    // The EC key under the Ed25519 key's id.
    let es = sign(Algorithm::ES256, Some("ed"), &EncodingKey::from_ec_der(&der(EC_DER)), &claims());
    assert!(refused(v.verify_token(&es).await).contains("does not match"));
    for junk in ["", "abc", "a.b.c", "e30.e30.e30", &"x".repeat(20_000)] {
        assert!(v.verify_token(junk).await.is_err(), "{junk:.20}");
    }
    // A token for an encryption key's id finds no signing key.
    let enc = sign(Algorithm::RS256, Some("enc"), &EncodingKey::from_rsa_der(&der(RSA_DER)), &claims());
    assert!(refused(v.verify_token(&enc).await).contains("no key"));
}

#[tokio::test]
async fn an_unknown_kid_asks_for_fresh_keys_at_most_once_per_interval() {
    let v = Arc::new(JwtVerifier::new(settings()).unwrap_or_else(|e| panic!("{e}")));
    let asked = Arc::new(AtomicUsize::new(0));
    let hook = {
        let (v, asked) = (Arc::downgrade(&v), asked.clone());
        Arc::new(move || {
            asked.fetch_add(1, Ordering::SeqCst);
            let v = v.clone();
            // The embedder answers later, from another thread.
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                if let Some(v) = v.upgrade() {
                    let _ = v.set_jwks(&jwks());
                }
            });
        })
    };
    v.set_refresh_hook(Some(hook));
    // No keys yet: the token waits for the refresh, then passes.
    assert!(v.verify_token(&ed(&claims())).await.is_ok());
    assert_eq!(asked.load(Ordering::SeqCst), 1);
    // Another unknown kid right after: no second request within the interval, refused at once.
    let other = sign(Algorithm::EdDSA, Some("rotated"), &EncodingKey::from_ed_der(&der(ED2_DER)), &claims());
    let started = Instant::now();
    assert!(refused(v.verify_token(&other).await).contains("no key"));
    assert!(started.elapsed() < Duration::from_millis(200));
    assert_eq!(asked.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_refresh_that_never_comes_is_waited_for_briefly() {
    let v = JwtVerifier::new(settings()).unwrap_or_else(|e| panic!("{e}"));
    v.set_refresh_hook(Some(Arc::new(|| {})));
    let started = Instant::now();
    assert!(refused(v.verify_token(&ed(&claims())).await).contains("no key"));
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(250) && waited < Duration::from_secs(2), "{waited:?}");
}

#[test]
fn bad_key_sets_and_settings_are_refused() {
    let v = verifier();
    for bad in ["", "[]", "{}", r#"{"keys": 3}"#, "nope"] {
        assert!(v.set_jwks(bad).is_err(), "{bad}");
    }
    assert!(v.set_jwks(&format!(r#"{{"keys":[],"pad":"{}"}}"#, "x".repeat(MAX_JWKS_BYTES))).is_err());
    // A declared alg that does not fit the key type skips the key.
    let mismatched = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": ED_X, "kid": "ed", "alg": "RS256"}]});
    assert_eq!(v.set_jwks(&mismatched.to_string()), Ok(0));
    assert!(JwtVerifier::new(JwtSettings::new(Vec::new())).is_err());
    assert_eq!(parse_algorithm("ES256"), Some(Algorithm::ES256));
    assert_eq!(parse_algorithm("HS256"), None);
    assert_eq!(parse_algorithm("none"), None);
}
