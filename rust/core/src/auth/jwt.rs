//! JWT access tokens verified against a JSON Web Key Set.
//!
//! A token is accepted only when: its header names an asymmetric algorithm (`none` and the HMAC family are
//! refused: a resource server holds no shared secret), the key its `kid` names exists and allows that algorithm
//! (a key's own `alg`, or what its type and curve imply), the signature verifies, `iss` is the configured
//! issuer, `aud` contains this server's resource URL (RFC 8707), `exp` is present and not past and `nbf` (if
//! present) not in the future (both with a small leeway), and it grants the required scopes.
//!
//! The key set is handed in as JSON (read from a file, or fetched by the embedder: the core has no HTTP
//! client). A token naming an unknown `kid` asks the embedder for a fresh set (at most once per
//! [`JwtSettings::refresh_min_interval`]) and waits briefly for it: keys rotate.

use super::{missing_scopes, scopes_of, AuthError, TokenVerifier, Verification};
use crate::context::Principal;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, Validation};
use serde_json::{Map, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// At most this many keys of a set are kept (the rest are ignored).
pub const MAX_KEYS: usize = 64;
/// A key set document larger than this is refused.
pub const MAX_JWKS_BYTES: usize = 1024 * 1024;
/// A token longer than this is refused before it is parsed.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// What a JWT must say to be accepted here.
#[derive(Clone, Debug)]
pub struct JwtSettings {
    /// The `iss` every token must carry; None accepts any issuer (the signature still binds the token to the
    /// keys).
    pub issuer: Option<String>,
    /// Accepted `aud` values: this server's resource URL (and any aliases). Never empty.
    pub audience: Vec<String>,
    /// Scopes every token must grant.
    pub required_scopes: Vec<String>,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway: Duration,
    /// Algorithms accepted at all (a key still allows only its own).
    pub algorithms: Vec<Algorithm>,
    /// A refresh of the key set is asked for at most this often.
    pub refresh_min_interval: Duration,
    /// How long a token naming an unknown key waits for a refresh.
    pub refresh_wait: Duration,
}

impl JwtSettings {
    /// Settings for tokens meant for `audience`, with the defaults: any asymmetric algorithm, 30 s leeway,
    /// refreshes at most every 30 s, waited for up to 5 s.
    pub fn new(audience: Vec<String>) -> JwtSettings {
        JwtSettings {
            issuer: None,
            audience,
            required_scopes: Vec::new(),
            leeway: Duration::from_secs(30),
            algorithms: ASYMMETRIC.to_vec(),
            refresh_min_interval: Duration::from_secs(30),
            refresh_wait: Duration::from_secs(5),
        }
    }
}

/// Every algorithm a resource server can verify with a public key.
pub const ASYMMETRIC: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// An algorithm by its JOSE name, if it is one this verifier can accept (never `none` or HMAC).
pub fn parse_algorithm(name: &str) -> Option<Algorithm> {
    ASYMMETRIC.iter().copied().find(|a| format!("{a:?}") == name)
}

/// One usable key: its id, the algorithms it allows, and the key itself.
struct Key {
    kid: Option<String>,
    algorithms: Vec<Algorithm>,
    key: DecodingKey,
}

/// The usable keys of a set.
#[derive(Default)]
struct KeySet {
    keys: Vec<Key>,
}

impl KeySet {
    /// The usable keys of a JWKS document; keys that cannot be used for signatures here are skipped (with a
    /// log line). A document that is not a JWKS is an error.
    fn parse(json: &str) -> Result<KeySet, String> {
        if json.len() > MAX_JWKS_BYTES {
            return Err(format!("the key set is larger than {MAX_JWKS_BYTES} bytes"));
        }
        let doc: Value = serde_json::from_str(json).map_err(|e| format!("the key set is not JSON: {e}"))?;
        let Some(entries) = doc.get("keys").and_then(Value::as_array) else {
            return Err("the key set has no \"keys\" array".into());
        };
        let mut keys = Vec::new();
        for entry in entries {
            if keys.len() == MAX_KEYS {
                tracing::warn!(max = MAX_KEYS, "the key set has more keys than are kept; the rest are ignored");
                break;
            }
            match Key::from_json(entry) {
                Ok(key) => keys.push(key),
                Err(why) => tracing::info!(kid = ?entry.get("kid"), %why, "a key of the key set is skipped"),
            }
        }
        Ok(KeySet { keys })
    }

    /// The keys a token with `kid` and `alg` may be checked with.
    fn candidates<'a>(&'a self, kid: Option<&'a str>, alg: Algorithm) -> impl Iterator<Item = &'a Key> + 'a {
        self.keys.iter().filter(move |k| match kid {
            Some(kid) => k.kid.as_deref() == Some(kid),
            // No kid: any key that allows the algorithm (the set is small and bounded).
            None => k.algorithms.contains(&alg),
        })
    }
}

impl Key {
    fn from_json(entry: &Value) -> Result<Key, String> {
        let jwk: Jwk = serde_json::from_value(entry.clone()).map_err(|e| e.to_string())?;
        if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
            return Err("an encryption key".into());
        }
        let implied: Vec<Algorithm> = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => AlgorithmFamily::Rsa.algorithms().to_vec(),
            AlgorithmParameters::EllipticCurve(p) => match p.curve {
                EllipticCurve::P256 => vec![Algorithm::ES256],
                EllipticCurve::P384 => vec![Algorithm::ES384],
                _ => return Err("an unsupported curve".into()),
            },
            AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => vec![Algorithm::EdDSA],
            AlgorithmParameters::OctetKeyPair(_) => return Err("an unsupported curve".into()),
            AlgorithmParameters::OctetKey(_) => return Err("a symmetric key (HMAC is not accepted)".into()),
            _ => return Err("an unsupported key type".into()),
        };
        let algorithms = match jwk.common.key_algorithm {
            None => implied,
            Some(KeyAlgorithm::UNKNOWN_ALGORITHM) => return Err("an unknown \"alg\"".into()),
            Some(declared) => {
                let name = format!("{declared:?}");
                let declared = parse_algorithm(&name).ok_or_else(|| format!("\"alg\" {name} is not accepted"))?;
                if !implied.contains(&declared) {
                    return Err(format!("\"alg\" {declared:?} does not fit the key type"));
                }
                vec![declared]
            }
        };
        let key = DecodingKey::from_jwk(&jwk).map_err(|e| e.to_string())?;
        Ok(Key { kid: jwk.common.key_id.clone(), algorithms, key })
    }
}

/// Asks the embedder for a fresh key set (it answers later with [`JwtVerifier::set_jwks`]).
pub type RefreshHook = Arc<dyn Fn() + Send + Sync>;

/// Verifies JWT bearer tokens against a key set that can be replaced while serving.
pub struct JwtVerifier {
    settings: JwtSettings,
    keys: RwLock<Arc<KeySet>>,
    /// Bumped on every new key set, so a token waiting for a refresh wakes up.
    generation: watch::Sender<u64>,
    refresh: Mutex<Option<RefreshHook>>,
    /// When a refresh was last asked for.
    last_request: Mutex<Option<Instant>>,
    /// A refresh was asked for and no key set has arrived since.
    pending: AtomicBool,
}

impl JwtVerifier {
    /// A verifier with no keys yet (every token is refused until [`set_jwks`](Self::set_jwks)).
    pub fn new(settings: JwtSettings) -> Result<JwtVerifier, String> {
        if settings.audience.is_empty() {
            return Err("a JWT verifier needs the audience (this server's resource URL)".into());
        }
        if settings.algorithms.is_empty() {
            return Err("a JWT verifier needs at least one algorithm".into());
        }
        Ok(JwtVerifier {
            settings,
            keys: RwLock::new(Arc::new(KeySet::default())),
            generation: watch::Sender::new(0),
            refresh: Mutex::new(None),
            last_request: Mutex::new(None),
            pending: AtomicBool::new(false),
        })
    }

    /// Replaces the key set with the JWKS document `json`; returns how many keys are usable. On error the old
    /// set stays.
    pub fn set_jwks(&self, json: &str) -> Result<usize, String> {
        let set = KeySet::parse(json)?;
        let count = set.keys.len();
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(set);
        self.pending.store(false, Ordering::Release);
        self.generation.send_modify(|g| *g += 1);
        tracing::info!(keys = count, "JWT key set loaded");
        Ok(count)
    }

    /// A refresh that could not be made (the fetch failed): tokens waiting for it stop waiting.
    pub fn refresh_failed(&self) {
        self.pending.store(false, Ordering::Release);
        self.generation.send_modify(|g| *g += 1);
    }

    /// Where unknown keys ask for a fresh key set; without one the set only changes by `set_jwks`.
    pub fn set_refresh_hook(&self, hook: Option<RefreshHook>) {
        *self.refresh.lock().unwrap_or_else(|p| p.into_inner()) = hook;
    }

    pub fn settings(&self) -> &JwtSettings {
        &self.settings
    }

    fn key_set(&self) -> Arc<KeySet> {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Asks for a refresh unless one was asked for within the minimum interval; true when one is (now or
    /// still) awaited.
    fn ask_for_refresh(&self) -> bool {
        let Some(hook) = self.refresh.lock().unwrap_or_else(|p| p.into_inner()).clone() else { return false };
        {
            let mut last = self.last_request.lock().unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|t| t.elapsed() < self.settings.refresh_min_interval) {
                return self.pending.load(Ordering::Acquire);
            }
            *last = Some(Instant::now());
        }
        self.pending.store(true, Ordering::Release);
        tracing::info!("a token names an unknown key: asking for a fresh key set");
        hook();
        true
    }

    /// Verifies `token` (see the module docs).
    pub async fn verify_token(&self, token: &str) -> Result<Principal, AuthError> {
        let invalid = |why: &str| AuthError::InvalidToken(why.to_owned());
        if token.len() > MAX_TOKEN_BYTES {
            return Err(invalid("the token is too long"));
        }
        // `alg: none` or an unknown algorithm fails to parse here.
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid("the token is not a signed JWT"))?;
        if !self.settings.algorithms.contains(&header.alg) {
            return Err(invalid("the token's algorithm is not accepted"));
        }
        let kid = header.kid.as_deref();
        let mut receiver = self.generation.subscribe();
        let mut keys = self.key_set();
        if keys.candidates(kid, header.alg).next().is_none() && self.ask_for_refresh() {
            let _ = tokio::time::timeout(self.settings.refresh_wait, receiver.changed()).await;
            keys = self.key_set();
        }
        let mut outcome = Err(invalid("no key of the key set matches the token"));
        for key in keys.candidates(kid, header.alg) {
            if !key.algorithms.contains(&header.alg) {
                outcome = Err(invalid("the token's algorithm does not match its key"));
                continue;
            }
            outcome = self.check(token, header.alg, &key.key);
            if outcome.is_ok() {
                break;
            }
        }
        outcome
    }

    /// The signature and claims of `token` against one key.
    fn check(&self, token: &str, alg: Algorithm, key: &DecodingKey) -> Result<Principal, AuthError> {
        use jsonwebtoken::errors::ErrorKind;
        let mut validation = Validation::new(alg);
        validation.leeway = self.settings.leeway.as_secs();
        validation.validate_nbf = true;
        validation.set_audience(&self.settings.audience);
        let mut required = vec!["exp", "aud"];
        if let Some(issuer) = &self.settings.issuer {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        validation.set_required_spec_claims(&required);
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation).map_err(|e| {
            AuthError::InvalidToken(
                match e.kind() {
                    ErrorKind::ExpiredSignature => "the token has expired",
                    ErrorKind::ImmatureSignature => "the token is not valid yet",
                    ErrorKind::InvalidAudience => "the token is not meant for this server (audience)",
                    ErrorKind::InvalidIssuer => "the token is from another issuer",
                    ErrorKind::InvalidSignature => "the token's signature does not verify",
                    ErrorKind::MissingRequiredClaim(_) => "the token lacks a required claim (exp, aud, iss)",
                    ErrorKind::InvalidAlgorithm => "the token's algorithm does not match its key",
                    _ => "the token is malformed",
                }
                .to_owned(),
            )
        })?;
        principal_of(data.claims, &self.settings.required_scopes)
    }
}

/// The principal a verified token's claims describe; the required scopes must be among its scopes.
pub fn principal_of(claims: Map<String, Value>, required: &[String]) -> Result<Principal, AuthError> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
    let client_id = text("client_id").or_else(|| text("azp"));
    let Some(subject) = text("sub").or_else(|| client_id.clone()) else {
        return Err(AuthError::InvalidToken("the token names no subject (sub or client_id)".into()));
    };
    let scopes = scopes_of(&claims);
    let missing = missing_scopes(required, &scopes);
    if !missing.is_empty() {
        return Err(AuthError::InsufficientScope(required.to_vec()));
    }
    let expires_at = claims.get("exp").and_then(Value::as_u64);
    Ok(Principal { subject, scopes, claims, client_id, expires_at })
}

impl TokenVerifier for JwtVerifier {
    fn verify<'a>(&'a self, token: &'a str) -> Verification<'a> {
        Box::pin(self.verify_token(token))
    }
}

#[cfg(test)]
mod tests;
