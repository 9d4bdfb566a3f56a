//! Sealed MRTR `requestState` (2026-07-28, `basic/patterns/mrtr.mdx`).
//!
//! A handler that answers with an `InputRequiredResult` may hand back state the client must echo on its retry.
//! The spec makes that echo attacker-controlled input: when it matters it must be integrity protected, and
//! should be bound to the principal, a short expiry and the originating request. Here it is sealed with
//! XChaCha20-Poly1305 (a random 192-bit nonce per token) under a [`KeyRing`], so a client can neither read nor
//! alter it, and the [`Binding`] it was issued for is authenticated as associated data, so a state presented
//! for another method, tool, prompt or resource, other arguments or another principal fails to open.
//!
//! - Token: base64url without padding of `version (1) ‖ key id (4) ‖ nonce (24) ‖ ciphertext ‖ tag (16)`.
//! - Plaintext: `issued-at ms (u64 BE) ‖ expires-at ms (u64 BE) ‖ payload`; expiry is checked at open.
//! - Associated data (never sent): a label, the version and key id, then the binding's fields, each
//!   length-prefixed, so no two bindings share an encoding. The principal is authenticated, never transmitted.
//!
//! Not enforced here: single use (the spec leaves that to servers that need it, server-side).

use crate::error::McpError;
use crate::jsonrpc::{push_json_string, INVALID_PARAMS};
use base64::engine::general_purpose::{STANDARD_PAD_INDIFFERENT, URL_SAFE_NO_PAD, URL_SAFE_PAD_INDIFFERENT};
use base64::Engine as _;
use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{Key, Tag, XChaCha20Poly1305, XNonce};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Longest token [`KeyRing::open`] decodes; anything longer is [`StateError::Malformed`] before decoding.
pub const MAX_TOKEN_LEN: usize = 64 * 1024;
/// A state issued more than this far in the future (clocks of processes sharing keys disagree) is refused.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(60);

const VERSION: u8 = 1;
const KEY_ID_LEN: usize = 4;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 1 + KEY_ID_LEN + NONCE_LEN;
const TIMES_LEN: usize = 16;
const MIN_RAW_LEN: usize = HEADER_LEN + TIMES_LEN + TAG_LEN;
/// Largest payload whose token still fits in [`MAX_TOKEN_LEN`].
pub const MAX_PAYLOAD_LEN: usize = MAX_TOKEN_LEN / 4 * 3 - MIN_RAW_LEN;
const AD_LABEL: &[u8] = b"ferromcp/request-state/v1";
const KEY_ID_LABEL: &[u8] = b"ferromcp/request-state/key-id/v1";

/// Why a `requestState` was refused. Every variant is a JSON-RPC -32602 (Invalid params) for the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateError {
    /// Not base64url, too short or too long, or an unknown format version.
    Malformed,
    /// Sealed under a key this ring does not hold (another deployment, or a key since retired).
    UnknownKey,
    /// Authentication failed: the token was altered, or presented with a request or principal other than the
    /// one it was issued for.
    Tampered,
    /// Past its expiry (or issued further in the future than [`MAX_CLOCK_SKEW`] allows).
    Expired,
}

impl StateError {
    /// The JSON-RPC error code the spec wants for state that fails verification.
    pub const fn code(self) -> i32 {
        INVALID_PARAMS
    }

    pub fn to_mcp_error(self) -> McpError {
        McpError::new(self.code(), self.to_string())
    }
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StateError::Malformed => "Invalid requestState: not a well-formed state token",
            StateError::UnknownKey => "Invalid requestState: not issued under a key this server accepts",
            StateError::Tampered => {
                "Invalid requestState: verification failed (altered, or sent with a different request)"
            }
            StateError::Expired => "Invalid requestState: expired; retry the original request without it",
        })
    }
}

impl std::error::Error for StateError {}

impl From<StateError> for McpError {
    fn from(e: StateError) -> McpError {
        e.to_mcp_error()
    }
}

/// Why a state could not be sealed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SealError {
    /// The payload is over [`MAX_PAYLOAD_LEN`]: its token would be refused at open.
    TooLarge,
    /// The operating system's random source failed.
    Random,
}

impl fmt::Display for SealError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SealError::TooLarge => write!(f, "requestState payload is over {MAX_PAYLOAD_LEN} bytes"),
            SealError::Random => f.write_str("the system random source failed"),
        }
    }
}

impl std::error::Error for SealError {}

/// Bad key material or ring. Messages never include key material.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyError {
    /// Neither 64 hex digits nor base64 (standard or URL-safe alphabet, padded or not).
    Encoding,
    /// Decodes to this many bytes; a key is 32.
    Length(usize),
    /// All 32 bytes are zero: a placeholder, not a secret.
    AllZero,
    /// A ring needs at least one key.
    NoKeys,
    /// The key at this position repeats an earlier one.
    Duplicate { index: usize },
    /// The operating system's random source failed.
    Random,
    /// The key at this position of a list of configuration strings is bad.
    Entry { index: usize, error: Box<KeyError> },
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Encoding => f.write_str("request-state key is neither 64 hex digits nor base64 of 32 bytes"),
            KeyError::Length(n) => write!(f, "request-state key decodes to {n} bytes; it must be 32"),
            KeyError::AllZero => f.write_str("request-state key is all zero bytes"),
            KeyError::NoKeys => f.write_str("a request-state key ring needs at least one key"),
            KeyError::Duplicate { index } => write!(f, "request-state key {index} repeats an earlier key"),
            KeyError::Random => f.write_str("the system random source failed"),
            KeyError::Entry { index, error } => write!(f, "request-state key {index}: {error}"),
        }
    }
}

impl std::error::Error for KeyError {}

/// A key's public identifier: the first 4 bytes of a labelled SHA-256 of the key, so every process given the
/// same key derives the same id, and a token names the key that opens it without revealing it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId(pub [u8; KEY_ID_LEN]);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// One 256-bit sealing key.
#[derive(Clone)]
pub struct StateKey {
    id: KeyId,
    cipher: XChaCha20Poly1305,
}

impl StateKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Result<StateKey, KeyError> {
        if bytes.iter().all(|&b| b == 0) {
            return Err(KeyError::AllZero);
        }
        let digest = Sha256::new().chain_update(KEY_ID_LABEL).chain_update(bytes).finalize();
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        Ok(StateKey { id: KeyId(id), cipher: XChaCha20Poly1305::new(&Key::from(bytes)) })
    }

    /// A key from configuration: 64 hex digits, or base64 of 32 bytes (standard or URL-safe alphabet, with or
    /// without padding). Surrounding whitespace is ignored.
    pub fn parse(text: &str) -> Result<StateKey, KeyError> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex_decode(text).ok_or(KeyError::Encoding)?
        } else {
            STANDARD_PAD_INDIFFERENT
                .decode(text)
                .or_else(|_| URL_SAFE_PAD_INDIFFERENT.decode(text))
                .map_err(|_| KeyError::Encoding)?
        };
        let bytes: [u8; 32] = bytes.as_slice().try_into().map_err(|_| KeyError::Length(bytes.len()))?;
        StateKey::from_bytes(bytes)
    }

    /// A fresh key from the operating system's random source.
    pub fn generate() -> Result<StateKey, KeyError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|_| KeyError::Random)?;
        StateKey::from_bytes(bytes)
    }

    pub fn id(&self) -> KeyId {
        self.id
    }
}

impl fmt::Debug for StateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateKey").field("id", &self.id).finish_non_exhaustive()
    }
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    let digit = |b: u8| (b as char).to_digit(16);
    text.as_bytes().chunks(2).map(|p| Some((digit(*p.first()?)? * 16 + digit(*p.get(1)?)?) as u8)).collect()
}

/// The SHA-256 of a request's salient arguments in canonical form (see [`canonical_json`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ArgsDigest(pub [u8; 32]);

impl ArgsDigest {
    /// The digest of bytes the caller has already put in canonical form.
    pub fn of(canonical: &[u8]) -> ArgsDigest {
        ArgsDigest(Sha256::digest(canonical).into())
    }

    /// The digest of `arguments` (`tools/call`, `prompts/get`) in [`canonical_json`] form; absent and `null`
    /// count as `{}`. Pass only the arguments, never `inputResponses` or `requestState`, which change on retry.
    pub fn of_arguments(arguments: Option<&Value>) -> ArgsDigest {
        match arguments {
            None | Some(Value::Null) => ArgsDigest::of(b"{}"),
            Some(v) => ArgsDigest::of(&canonical_json(v)),
        }
    }
}

/// Compact JSON with object keys sorted (by code point) at every level; scalars as serde_json writes them. Two
/// serializations of the same arguments with keys in another order give the same bytes; `1` and `1.0` do not.
pub fn canonical_json(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                push_json_string(out, key);
                out.push(b':');
                write_canonical(item, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        scalar => out.extend_from_slice(scalar.to_string().as_bytes()),
    }
}

/// What a state is issued for; authenticated as associated data, so it must be the same at open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Binding<'a> {
    /// `tools/call`, `prompts/get` or `resources/read`.
    pub method: &'a str,
    /// The tool or prompt name, or the resource URI.
    pub name: &'a str,
    pub arguments: ArgsDigest,
    /// The authenticated subject, when there is one. `None` and `Some("")` are different bindings.
    pub principal: Option<&'a str>,
}

impl<'a> Binding<'a> {
    pub fn new(method: &'a str, name: &'a str, arguments: ArgsDigest) -> Binding<'a> {
        Binding { method, name, arguments, principal: None }
    }

    pub fn with_principal(self, principal: Option<&'a str>) -> Binding<'a> {
        Binding { principal, ..self }
    }

    fn associated_data(&self, id: KeyId) -> Vec<u8> {
        let principal_len = self.principal.map_or(0, str::len);
        let mut ad = Vec::with_capacity(96 + self.method.len() + self.name.len() + principal_len);
        ad.extend_from_slice(AD_LABEL);
        ad.push(VERSION);
        ad.extend_from_slice(&id.0);
        for field in [self.method, self.name] {
            ad.extend_from_slice(&(field.len() as u64).to_be_bytes());
            ad.extend_from_slice(field.as_bytes());
        }
        ad.extend_from_slice(&self.arguments.0);
        if let Some(principal) = self.principal {
            ad.push(1);
            ad.extend_from_slice(&(principal.len() as u64).to_be_bytes());
            ad.extend_from_slice(principal.as_bytes());
        } else {
            ad.push(0);
        }
        ad
    }
}

/// Sealing keys: the first seals, every key opens. To rotate, put the new key first everywhere and keep the
/// old ones until the states they sealed have expired (one TTL), then drop them.
#[derive(Clone, Debug)]
pub struct KeyRing {
    sealer: StateKey,
    openers: Vec<StateKey>,
}

impl KeyRing {
    /// A ring from explicit keys (shared by every process that must open each other's states).
    pub fn new(keys: Vec<StateKey>) -> Result<KeyRing, KeyError> {
        if let Some(index) = (1..keys.len()).find(|&i| keys[..i].iter().any(|k| k.id == keys[i].id)) {
            return Err(KeyError::Duplicate { index });
        }
        let mut keys = keys.into_iter();
        let sealer = keys.next().ok_or(KeyError::NoKeys)?;
        Ok(KeyRing { sealer, openers: keys.collect() })
    }

    /// A ring from configuration strings (see [`StateKey::parse`]), the sealing key first.
    pub fn parse<I, S>(texts: I) -> Result<KeyRing, KeyError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let keys = texts
            .into_iter()
            .enumerate()
            .map(|(index, t)| StateKey::parse(t.as_ref()).map_err(|e| KeyError::Entry { index, error: Box::new(e) }))
            .collect::<Result<Vec<_>, _>>()?;
        KeyRing::new(keys)
    }

    /// One random key known only to this process: states do not survive a restart or cross processes.
    pub fn random() -> Result<KeyRing, KeyError> {
        KeyRing::new(vec![StateKey::generate()?])
    }

    /// The id of the key that seals.
    pub fn sealing_key(&self) -> KeyId {
        self.sealer.id
    }

    /// Every key's id, the sealing key first.
    pub fn key_ids(&self) -> impl Iterator<Item = KeyId> + '_ {
        self.keys().map(StateKey::id)
    }

    fn keys(&self) -> impl Iterator<Item = &StateKey> {
        std::iter::once(&self.sealer).chain(&self.openers)
    }

    /// Seals `payload` for `binding`, valid from `now` for `ttl`. The token is URL-safe ASCII.
    pub fn seal(
        &self,
        binding: &Binding<'_>,
        payload: &[u8],
        ttl: Duration,
        now: SystemTime,
    ) -> Result<String, SealError> {
        if payload.len() > MAX_PAYLOAD_LEN {
            return Err(SealError::TooLarge);
        }
        let key = &self.sealer;
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| SealError::Random)?;
        let issued = millis(now);
        let expires = issued.saturating_add(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX));
        let mut raw = Vec::with_capacity(MIN_RAW_LEN + payload.len());
        raw.push(VERSION);
        raw.extend_from_slice(&key.id.0);
        raw.extend_from_slice(&nonce);
        raw.extend_from_slice(&issued.to_be_bytes());
        raw.extend_from_slice(&expires.to_be_bytes());
        raw.extend_from_slice(payload);
        let ad = binding.associated_data(key.id);
        let (_, body) = raw.split_at_mut(HEADER_LEN);
        let tag = key
            .cipher
            .encrypt_inout_detached(&XNonce::from(nonce), &ad, body.into())
            .map_err(|_| SealError::TooLarge)?;
        raw.extend_from_slice(&tag);
        Ok(URL_SAFE_NO_PAD.encode(raw))
    }

    /// Opens a token sealed by this ring for the same `binding`, returning the payload if it is still valid at
    /// `now`.
    pub fn open(&self, token: &str, binding: &Binding<'_>, now: SystemTime) -> Result<Vec<u8>, StateError> {
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return Err(StateError::Malformed);
        }
        let mut raw = URL_SAFE_NO_PAD.decode(token).map_err(|_| StateError::Malformed)?;
        if raw.len() < MIN_RAW_LEN || raw[0] != VERSION {
            return Err(StateError::Malformed);
        }
        let (header, rest) = raw.split_at_mut(HEADER_LEN);
        let (body, tag) = rest.split_at_mut(rest.len() - TAG_LEN);
        let (id, nonce) = header[1..].split_at(KEY_ID_LEN);
        let id = KeyId(id.try_into().map_err(|_| StateError::Malformed)?);
        let key = self.keys().find(|k| k.id == id).ok_or(StateError::UnknownKey)?;
        let nonce = XNonce::try_from(nonce).map_err(|_| StateError::Malformed)?;
        let tag = Tag::try_from(&*tag).map_err(|_| StateError::Malformed)?;
        let ad = binding.associated_data(id);
        key.cipher.decrypt_inout_detached(&nonce, &ad, (&mut *body).into(), &tag).map_err(|_| StateError::Tampered)?;
        let (times, payload) = body.split_at(TIMES_LEN);
        let issued = u64::from_be_bytes(times[..8].try_into().map_err(|_| StateError::Malformed)?);
        let expires = u64::from_be_bytes(times[8..].try_into().map_err(|_| StateError::Malformed)?);
        let now = millis(now);
        let skew = u64::try_from(MAX_CLOCK_SKEW.as_millis()).unwrap_or(u64::MAX);
        if now >= expires || issued > now.saturating_add(skew) {
            return Err(StateError::Expired);
        }
        Ok(payload.to_vec())
    }
}

/// Milliseconds since the Unix epoch (0 before it, saturating far after it).
fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests;
