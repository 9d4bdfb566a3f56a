//! Authorization objects: the JWT verifier (its key set handed in from Python, which fetches it), the
//! verifier written in Python (each token goes to the loop and its verdict comes back through a `TokenCheck`),
//! and the principal as Python sees it.

use crate::queue::Queue;
use ferromcp_core::auth::jwt::{parse_algorithm, JwtSettings, JwtVerifier as CoreJwt};
use ferromcp_core::auth::{AuthError, TokenVerifier, Verification};
use ferromcp_core::context::Principal;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use serde_json::{json, Map, Value};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::oneshot;

/// How long a token waits for the Python verifier's verdict.
const PYTHON_VERDICT_TIMEOUT: Duration = Duration::from_secs(30);

#[pyclass(frozen, module = "ferromcp._core")]
pub struct JwtVerifier {
    pub inner: Arc<CoreJwt>,
}

#[pymethods]
impl JwtVerifier {
    #[new]
    #[pyo3(signature = (audience, *, issuer=None, required_scopes=None, leeway=30.0, algorithms=None))]
    fn new(
        audience: Vec<String>,
        issuer: Option<String>,
        required_scopes: Option<Vec<String>>,
        leeway: f64,
        algorithms: Option<Vec<String>>,
    ) -> PyResult<Self> {
        let mut settings = JwtSettings::new(audience);
        settings.issuer = issuer;
        settings.required_scopes = required_scopes.unwrap_or_default();
        if !(leeway.is_finite() && (0.0..=3600.0).contains(&leeway)) {
            return Err(PyValueError::new_err(format!("leeway: {leeway} is not in [0, 3600] seconds")));
        }
        settings.leeway = Duration::from_secs_f64(leeway);
        if let Some(names) = algorithms {
            settings.algorithms = names
                .iter()
                .map(|n| {
                    parse_algorithm(n).ok_or_else(|| {
                        PyValueError::new_err(format!(
                            "algorithm {n:?} is not accepted (RS256/384/512, PS256/384/512, ES256/384, EdDSA)"
                        ))
                    })
                })
                .collect::<PyResult<_>>()?;
        }
        Ok(JwtVerifier { inner: Arc::new(CoreJwt::new(settings).map_err(PyValueError::new_err)?) })
    }

    /// Replaces the key set with a JWKS document; returns how many keys are usable. ValueError for a document
    /// that is not a key set (the old keys stay).
    fn set_jwks(&self, jwks: &str) -> PyResult<usize> {
        self.inner.set_jwks(jwks).map_err(PyValueError::new_err)
    }

    /// A requested refresh failed: tokens waiting for it stop waiting.
    fn refresh_failed(&self) {
        self.inner.refresh_failed();
    }
}

/// Makes the JWT verifier ask this server's Python side for fresh keys (a `"jwks"` event on its queue).
pub fn hook_refresh(verifier: &CoreJwt, queue: &Arc<Queue>) {
    let queue: Weak<Queue> = Arc::downgrade(queue);
    verifier.set_refresh_hook(Some(Arc::new(move || {
        if let Some(queue) = queue.upgrade() {
            queue.push_jwks_wanted();
        }
    })));
}

/// A token for the Python verifier, with where its verdict goes.
#[pyclass(frozen, module = "ferromcp._core")]
pub struct TokenCheck {
    token: String,
    answer: Mutex<Option<oneshot::Sender<Result<Principal, AuthError>>>>,
}

impl TokenCheck {
    pub fn new(token: String, answer: oneshot::Sender<Result<Principal, AuthError>>) -> TokenCheck {
        TokenCheck { token, answer: Mutex::new(Some(answer)) }
    }

    fn send(&self, verdict: Result<Principal, AuthError>) {
        if let Some(answer) = self.answer.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = answer.send(verdict);
        }
    }
}

#[pymethods]
impl TokenCheck {
    #[getter]
    fn token(&self) -> &str {
        &self.token
    }

    /// The verdict: the principal as JSON (`{"subject", "scopes", "claims", "client_id", "expires_at"}`), or
    /// None for a token the verifier refused. Only the first verdict counts.
    #[pyo3(signature = (principal=None))]
    fn resolve(&self, principal: Option<&str>) -> PyResult<()> {
        let verdict = match principal {
            None => Err(AuthError::InvalidToken("the token was not accepted".into())),
            Some(json) => Ok(principal_from_json(json).map_err(PyValueError::new_err)?),
        };
        self.send(verdict);
        Ok(())
    }

    /// The verifier could not decide (it raised): the request gets 503.
    fn fail(&self, reason: &str) {
        self.send(Err(AuthError::Unavailable(reason.to_owned())));
    }
}

fn principal_from_json(json: &str) -> Result<Principal, String> {
    let value: Value = serde_json::from_str(json).map_err(|e| format!("principal: {e}"))?;
    let text = |name: &str| value.get(name).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
    let client_id = text("client_id");
    let subject = text("subject").or_else(|| client_id.clone()).ok_or("an AccessToken needs a subject or client_id")?;
    let scopes = match value.get("scopes") {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    let claims = value.get("claims").and_then(Value::as_object).cloned().unwrap_or_default();
    let expires_at = value.get("expires_at").and_then(Value::as_u64);
    Ok(Principal { subject, scopes, claims, client_id, expires_at })
}

/// The principal as JSON for Python.
pub fn principal_json(p: &Principal) -> Option<String> {
    let claims: &Map<String, Value> = &p.claims;
    let value = json!({
        "subject": p.subject,
        "scopes": p.scopes,
        "claims": claims,
        "client_id": p.client_id,
        "expires_at": p.expires_at,
    });
    Some(value.to_string())
}

/// A verifier written in Python: each token is handed to the loop (a `TokenCheck` event) and the request waits,
/// without holding an I/O thread, for its verdict.
pub struct PythonVerifier {
    pub queue: Weak<Queue>,
}

impl TokenVerifier for PythonVerifier {
    fn verify<'a>(&'a self, token: &'a str) -> Verification<'a> {
        Box::pin(async move {
            let Some(queue) = self.queue.upgrade() else {
                return Err(AuthError::Unavailable("the server is stopping".into()));
            };
            let (tx, rx) = oneshot::channel();
            queue.push_token_check(token.to_owned(), tx);
            drop(queue);
            match tokio::time::timeout(PYTHON_VERDICT_TIMEOUT, rx).await {
                Ok(Ok(verdict)) => verdict,
                Ok(Err(_)) => Err(AuthError::Unavailable("the token verifier gave no verdict".into())),
                Err(_) => Err(AuthError::Unavailable("the token verifier took too long".into())),
            }
        })
    }
}
