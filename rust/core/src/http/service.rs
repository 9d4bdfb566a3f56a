//! The MCP endpoint: every HTTP-level rule of Streamable HTTP (2025-03-26 … 2025-11-25) is enforced here,
//! before the engine sees a message.

use super::body::{HttpBody, SseBody};
use super::host_check::{AllowList, LOOPBACK_HOSTS};
use super::mirror::{self, RemoteStream};
use super::sessions::{ActivityGuard, CreateError, HttpSession, SessionRegistry, SharedStreams};
use super::sink::{Answer, RequestSink};
use super::sse::parse_event_id;
use super::throttle::{json_answer, PeerAddr};
use super::HttpConfig;
use crate::bus::Notice;
use crate::context::Principal;
use crate::engine::Engine;
use crate::jsonrpc::{self, Frame, Message, Rejection, RequestId, INVALID_REQUEST, PARSE_ERROR};
use crate::protocol::{Feature, ProtocolVersion};
use crate::session::{outbound_address, Dispatcher, Outbound};
use crate::store::{SessionRecord, StoreError};
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Body;
use hyper::header::{
    HeaderMap, HeaderName, HeaderValue, ALLOW, CACHE_CONTROL, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, HOST, ORIGIN,
};
use hyper::{Method, Request, Response, StatusCode};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

// Header names as constants: a lookup by `HeaderName` skips parsing the name on every request.
pub const SESSION_HEADER: HeaderName = HeaderName::from_static("mcp-session-id");
const LAST_EVENT_ID: HeaderName = HeaderName::from_static("last-event-id");
pub const VERSION_HEADER: HeaderName = HeaderName::from_static("mcp-protocol-version");

pub struct Service {
    pub(super) engine: Arc<Engine>,
    pub(super) dispatcher: Arc<dyn Dispatcher>,
    pub(super) config: HttpConfig,
    pub(super) registry: Arc<SessionRegistry>,
    allowed_hosts: Option<AllowList>,
    allowed_origins: Option<AllowList>,
    /// Set on shutdown: new requests get 503 while running calls finish.
    pub draining: AtomicBool,
    /// The `Ferromcp-Worker` header every response carries, when this process is one of several workers.
    pub(super) worker: Option<HeaderValue>,
    /// Requests being handled at once, all clients together (`max_in_flight`).
    pub(super) in_flight: Arc<Semaphore>,
}

pub(super) type Resp = Response<HttpBody>;

/// A JSON-RPC error as an HTTP response with `status`, answering the request `id` where there is one to
/// answer (clients match errors to requests by it); without one (nothing readable was sent, or it was not a
/// request) `id` is left out, as 2025-11-25 and later allow.
pub(super) fn rpc_error_for(id: Option<&RequestId>, status: StatusCode, code: i32, message: &str) -> Resp {
    let body = jsonrpc::error_response(id, code, message, None);
    let mut resp = Response::new(HttpBody::bytes(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// A JSON-RPC error that answers no particular request (GET, DELETE, an unreadable body).
fn rpc_error(status: StatusCode, code: i32, message: &str) -> Resp {
    rpc_error_for(None, status, code, message)
}

/// The id of the request a POST body carries, if it is a single readable request. Only worked out when a POST
/// is refused, so the accepted path parses its body once.
fn request_id_of(body: &[u8]) -> Option<RequestId> {
    match jsonrpc::split(body) {
        Ok(Frame::Single(raw)) => match jsonrpc::classify(raw) {
            Ok(Message::Request { id, .. }) => Some(id),
            _ => None,
        },
        _ => None,
    }
}

/// Why a request is refused before its method is looked at.
struct Refusal<'h> {
    status: StatusCode,
    message: String,
    /// The `MCP-Protocol-Version` named no known version (this one): a stateless client gets -32022 instead.
    unknown_version: Option<&'h str>,
}

impl Refusal<'_> {
    fn new(status: StatusCode, message: String) -> Self {
        Refusal { status, message, unknown_version: None }
    }
}

/// Why a POST body could not be read.
enum BodyError {
    TooLarge,
    Unreadable,
    /// Not complete within `body_read_timeout`.
    TimedOut,
}

/// Whether the request speaks the stateless era (its `MCP-Protocol-Version` is a stateless version).
fn stateless(headers: &HeaderMap) -> bool {
    header(headers, VERSION_HEADER).and_then(ProtocolVersion::parse).is_some_and(|v| !v.is_legacy())
}

fn header(headers: &HeaderMap, name: HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Whether an Accept header admits `mime` (exactly, by `type/*`, or by `*/*`).
fn accepts(headers: &HeaderMap, mime: &str) -> bool {
    let major = mime.split('/').next().unwrap_or(mime);
    let ranges = headers.get_all(hyper::header::ACCEPT).into_iter().filter_map(|v| v.to_str().ok());
    ranges.flat_map(|v| v.split(',')).any(|item| {
        let mut parts = item.split(';');
        let range = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        // `q=0` means "not acceptable" (RFC 9110 §12.4.2).
        let refused =
            parts.any(|p| p.trim().strip_prefix("q=").is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q <= 0.0)));
        !refused && (range == mime || range == "*/*" || range == format!("{major}/*"))
    })
}

fn is_loopback(host: &str) -> bool {
    matches!(host, "127.0.0.1" | "localhost" | "::1" | "[::1]") || host.starts_with("127.")
}

impl Service {
    pub fn new(
        engine: Arc<Engine>,
        dispatcher: Arc<dyn Dispatcher>,
        config: HttpConfig,
        registry: Arc<SessionRegistry>,
    ) -> Service {
        let allowed_hosts = config
            .allowed_hosts
            .clone()
            .or_else(|| is_loopback(&config.host).then(|| LOOPBACK_HOSTS.iter().map(|h| h.to_string()).collect()));
        let allowed_origins =
            config.allowed_origins.clone().or_else(|| allowed_hosts.as_deref().map(AllowList::origins_of));
        let worker = config.worker_id.as_deref().and_then(|id| HeaderValue::from_str(id).ok());
        Service {
            in_flight: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
            worker,
            engine,
            dispatcher,
            config,
            registry,
            allowed_hosts: allowed_hosts.map(AllowList::new),
            allowed_origins: allowed_origins.map(AllowList::new),
            draining: AtomicBool::new(false),
        }
    }

    pub fn sessions(&self) -> &SessionRegistry {
        &self.registry
    }

    /// Answers one HTTP request. Generic over the body so the service runs on hyper's connections and on
    /// synthetic requests alike (tests, embedding).
    pub async fn handle<B>(&self, req: Request<B>) -> Resp
    where
        B: Body<Data = Bytes>,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        if req.uri().path() != self.config.path {
            if let Some(resp) = self.resource_metadata(req.method(), req.uri().path()) {
                return resp;
            }
            if let Some(resp) = self.health(req.method(), req.uri().path()).await {
                return resp;
            }
            return rpc_error(StatusCode::NOT_FOUND, INVALID_REQUEST, "Not Found");
        }
        // With authorization, nothing about a request is looked at before its token is verified.
        let principal = match self.authenticate(req.headers()).await {
            Ok(principal) => principal,
            Err(challenge) => return challenge,
        };
        if *req.method() == Method::POST {
            // Read first, so that every refusal of a request can name the request it refuses.
            let (parts, body) = req.into_parts();
            return match self.read_body(&parts.headers, body).await {
                Ok(body) => match self.refuse(&parts.headers, true) {
                    Some(Refusal { status, message, unknown_version }) => draining_closes(
                        unknown_version
                            .and_then(|requested| Service::unknown_stateless_version(requested, &body))
                            .unwrap_or_else(|| {
                                rpc_error_for(request_id_of(&body).as_ref(), status, INVALID_REQUEST, &message)
                            }),
                    ),
                    None => {
                        if let Some(forbidden) = principal.as_ref().and_then(|p| self.authorize(p, &body)) {
                            return forbidden;
                        }
                        if stateless(&parts.headers) {
                            let peer = parts.extensions.get::<PeerAddr>();
                            self.post_stateless(&parts.headers, body, peer, principal).await
                        } else {
                            self.post(&parts.headers, body, principal).await
                        }
                    }
                },
                Err(BodyError::TooLarge) => {
                    let limit = self.config.max_body_bytes;
                    rpc_error(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        INVALID_REQUEST,
                        &format!("Payload Too Large: the body exceeds {limit} bytes"),
                    )
                }
                Err(BodyError::Unreadable) => {
                    rpc_error(StatusCode::BAD_REQUEST, INVALID_REQUEST, "Bad Request: could not read the body")
                }
                Err(BodyError::TimedOut) => {
                    let secs = self.config.body_read_timeout.map_or(0.0, |t| t.as_secs_f64());
                    let message = format!("Request Timeout: the body did not arrive within {secs} s");
                    // The rest of the body may still come: the connection cannot carry another request.
                    closing(rpc_error(StatusCode::REQUEST_TIMEOUT, INVALID_REQUEST, &message))
                }
            };
        }
        if let Some(refusal) = self.refuse(req.headers(), false) {
            return draining_closes(rpc_error(refusal.status, INVALID_REQUEST, &refusal.message));
        }
        if stateless(req.headers()) {
            // The stateless era has no GET stream and no session to delete.
            return method_not_allowed("Method Not Allowed: 2026-07-28 requests are POSTs", "POST");
        }
        match *req.method() {
            Method::GET => self.get(req.headers(), principal.as_deref()).await,
            Method::DELETE => self.delete(req.headers(), principal.as_deref()).await,
            _ => {
                let allow = if self.config.allow_delete { "GET, POST, DELETE" } else { "GET, POST" };
                method_not_allowed("Method Not Allowed", allow)
            }
        }
    }

    /// The rules every request must pass before its method is looked at, and for a POST (`post`) the rules on
    /// its headers: why the request is refused, or None.
    fn refuse<'h>(&self, headers: &'h HeaderMap, post: bool) -> Option<Refusal<'h>> {
        if let Some((status, message)) = self.check_host_and_origin(headers) {
            return Some(Refusal::new(status, message));
        }
        if self.draining.load(Ordering::Acquire) {
            return Some(Refusal::new(StatusCode::SERVICE_UNAVAILABLE, "Server is shutting down".into()));
        }
        if let Some(version) = header(headers, VERSION_HEADER) {
            if ProtocolVersion::parse(version).is_none() {
                let message = format!("Bad Request: unsupported MCP-Protocol-Version {version:?}");
                return Some(Refusal {
                    unknown_version: Some(version),
                    ..Refusal::new(StatusCode::BAD_REQUEST, message)
                });
            }
        }
        if !post {
            return None;
        }
        if !(accepts(headers, "application/json") && accepts(headers, "text/event-stream")) {
            let msg = "Not Acceptable: the client must accept both application/json and text/event-stream";
            return Some(Refusal::new(StatusCode::NOT_ACCEPTABLE, msg.into()));
        }
        let json_type = header(headers, CONTENT_TYPE)
            .is_some_and(|ct| ct.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/json"));
        if !json_type {
            let msg = "Unsupported Media Type: Content-Type must be application/json";
            return Some(Refusal::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, msg.into()));
        }
        // The session named, if any, is looked up once, by `post`.
        None
    }

    /// DNS-rebinding protection: a browser page on another site must not reach a local server.
    fn check_host_and_origin(&self, headers: &HeaderMap) -> Option<(StatusCode, String)> {
        let host = header(headers, HOST).map(str::to_ascii_lowercase);
        if let Some(allowed) = &self.allowed_hosts {
            if !host.as_ref().is_some_and(|h| allowed.allows(h)) {
                let msg = format!("Forbidden: invalid Host header {:?}", host.unwrap_or_default());
                return Some((StatusCode::FORBIDDEN, msg));
            }
        }
        let origin = header(headers, ORIGIN)?.to_ascii_lowercase();
        let ok = match &self.allowed_origins {
            Some(allowed) => allowed.allows(&origin),
            // Unrestricted host: only same-origin browser requests.
            None => host.is_some_and(|h| origin == format!("http://{h}") || origin == format!("https://{h}")),
        };
        (!ok).then(|| (StatusCode::FORBIDDEN, format!("Forbidden: invalid Origin {origin:?}")))
    }

    /// A place among the requests this process handles at once, waited for when all are taken (back-pressure);
    /// None only if the semaphore was closed.
    pub(super) async fn process_permit(&self) -> Option<OwnedSemaphorePermit> {
        match self.in_flight.clone().try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) => self.in_flight.clone().acquire_owned().await.ok(),
        }
    }

    /// A POST body, at most `max_body_bytes` (refused by its Content-Length before reading where it says so).
    async fn read_body<B>(&self, headers: &HeaderMap, body: B) -> Result<Bytes, BodyError>
    where
        B: Body<Data = Bytes>,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let limit = self.config.max_body_bytes;
        if header(headers, CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok()).is_some_and(|n| n > limit as u64) {
            return Err(BodyError::TooLarge);
        }
        let collect = Limited::new(body, limit).collect();
        let collected = match self.config.body_read_timeout {
            // A deadline for the whole body, not per chunk: trickling bytes does not extend it.
            Some(limit) => tokio::time::timeout(limit, collect).await.map_err(|_| BodyError::TimedOut)?,
            None => collect.await,
        };
        match collected {
            Ok(collected) => Ok(collected.to_bytes()),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(BodyError::TooLarge),
            Err(_) => Err(BodyError::Unreadable),
        }
    }

    /// The session named by the request's header: 400 when absent, 404 when unknown or terminated, or when
    /// it belongs to another principal than the caller's (with authorization). A session this process does not
    /// hold is adopted from the session store, when one is configured and has it.
    async fn session_of(
        &self,
        headers: &HeaderMap,
        principal: Option<&Principal>,
    ) -> Result<Arc<HttpSession>, SessionMissing> {
        let id = header(headers, SESSION_HEADER).ok_or(SessionMissing::NoHeader)?;
        let caller = principal.map(|p| p.subject.as_str());
        let session = match self.registry.get(id) {
            Some(s) if s.core.ended_elsewhere() => {
                // Ended by a DELETE another process served: gone here too.
                if let Some(ended) = self.registry.remove(id) {
                    ended.terminate();
                }
                return Err(SessionMissing::Unknown);
            }
            Some(s) if !s.terminated.load(Ordering::Acquire) => {
                if s.owner.get().map(String::as_str) != caller {
                    tracing::info!(session = %id, "a session was presented by another principal than its owner");
                    return Err(SessionMissing::Unknown);
                }
                s.touch();
                self.keep_stored(&s);
                s
            }
            Some(_) => return Err(SessionMissing::Unknown),
            None => self.adopt(id, caller).await?,
        };
        // A client names the version it negotiated on every request after initialize (2025-06-18 and later);
        // another version is refused. Without the header the server assumes 2025-03-26, the version whose
        // clients send none, and that assumption gives way to the version the session negotiated; a header
        // naming 2025-03-26 says no more than its absence (conformance 0.1.16 sends it on 2025-11-25 sessions).
        if let (Some(sent), Some(negotiated)) = (header(headers, VERSION_HEADER), session.core.version()) {
            let named = ProtocolVersion::parse(sent);
            if named != Some(negotiated) && named != Some(ProtocolVersion::V2025_03_26) {
                return Err(SessionMissing::VersionMismatch { sent: sent.to_owned(), negotiated });
            }
        }
        Ok(session)
    }

    /// A session of this process; shared with the others (see [`crate::relay`]) when sessions are stored.
    fn new_session(&self, id: String, owner: Option<&str>) -> Arc<HttpSession> {
        let shared = self.config.session_store.as_ref().and(self.config.events.as_ref()).map(|events| SharedStreams {
            tag: u32::from_str_radix(self.engine.relay_tag(), 16).unwrap_or_default(),
            journal: events.0.clone(),
        });
        let session =
            HttpSession::new(id, self.dispatcher.clone(), self.config.limits(), self.registry.clock(), shared);
        if let Some(owner) = owner {
            let _ = session.owner.set(owner.to_owned());
        }
        if self.config.session_store.is_some() {
            let (bus, tag) = (self.engine.bus().clone(), self.engine.relay_tag().clone());
            session.core.share(&session.id, bus, tag, self.engine.task_journal());
        }
        session
    }

    /// A session another process created, rebuilt here from its stored record.
    async fn adopt(&self, id: &str, caller: Option<&str>) -> Result<Arc<HttpSession>, SessionMissing> {
        let Some(store) = &self.config.session_store else { return Err(SessionMissing::Unknown) };
        let record = match store.0.get(id).await {
            Ok(Some(record)) => record,
            Ok(None) => return Err(SessionMissing::Unknown),
            Err(e) => {
                tracing::warn!(error = %e, "cannot look a session up in the session store");
                return Err(SessionMissing::StoreDown);
            }
        };
        if record.principal.as_deref() != caller {
            tracing::info!(session = %id, "a stored session was presented by another principal than its owner");
            return Err(SessionMissing::Unknown);
        }
        let session = self.new_session(id.to_owned(), caller);
        if let Err(e) = session.core.restore(&record) {
            tracing::warn!(error = %e, "a stored session record cannot be used");
            return Err(SessionMissing::Unknown);
        }
        let registered = self.registry.insert_or_existing(session.clone()).map_err(|_| SessionMissing::Full)?;
        if registered.owner.get().map(String::as_str) != caller {
            return Err(SessionMissing::Unknown);
        }
        if Arc::ptr_eq(&registered, &session) {
            self.engine.register_session(&session.core);
            tracing::info!(session = %id, "adopted a session from the session store");
        }
        Ok(registered)
    }

    /// Writes the session's record to the store (after `initialize`, and after a request that changed it).
    async fn store_session(&self, session: &HttpSession) -> Result<Option<SessionRecord>, StoreError> {
        let (Some(store), Some(mut record)) = (&self.config.session_store, session.core.record(&session.id)) else {
            return Ok(None);
        };
        record.principal = session.owner.get().cloned();
        store.0.put(record.clone(), self.config.session_idle_timeout).await.map(|()| Some(record))
    }

    /// Keeps the stored record alive while the session is used here: at most once per quarter of the idle
    /// timeout, in the background (a failure only shortens the record's life).
    fn keep_stored(&self, session: &HttpSession) {
        let Some(store) = &self.config.session_store else { return };
        let ttl = self.config.session_idle_timeout;
        if session.due_for_store_touch(ttl / 4) {
            let (store, id, registry) = (store.0.clone(), session.id.clone(), self.registry.clone());
            tokio::spawn(async move {
                match store.touch(&id, ttl).await {
                    Ok(true) => {}
                    // Ended elsewhere (DELETE on another process, or expired there): end it here too.
                    Ok(false) => {
                        registry.remove(&id);
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot keep a session's stored record alive"),
                }
            });
        }
    }

    /// A POST whose headers passed `refuse`.
    async fn post(&self, headers: &HeaderMap, body: Bytes, principal: Option<Arc<Principal>>) -> Resp {
        // Parsed once, here; the engine takes the parsed frame.
        let frame = jsonrpc::split(&body);
        if header(headers, SESSION_HEADER).is_none() {
            return self.post_new_session(&body, frame, principal).await;
        }
        match self.session_of(headers, principal.as_deref()).await {
            Ok(session) => self.post_to_session(session, &body, frame, false, principal).await,
            Err(missing) => missing.response_to(&body),
        }
    }

    /// A POST without a session must be an `initialize`; the session exists only once it succeeded.
    async fn post_new_session(
        &self,
        body: &[u8],
        frame: Result<Frame<'_>, Rejection>,
        principal: Option<Arc<Principal>>,
    ) -> Resp {
        let is_initialize = match &frame {
            Err(rejection) => return rpc_error(StatusCode::BAD_REQUEST, PARSE_ERROR, &rejection.message),
            Ok(Frame::Single(raw)) => match jsonrpc::classify(raw) {
                Ok(Message::Request { ref method, .. }) => method == "initialize",
                Ok(_) => false,
                // Malformed: say what is wrong (with the request id when there is one) rather than ask for a session.
                Err(rejection) => return json_response(rejection.encode(), StatusCode::BAD_REQUEST),
            },
            Ok(Frame::Batch(_)) => false,
        };
        if !is_initialize {
            return SessionMissing::NoHeader.response_to(body);
        }
        if !self.registry.has_room() {
            let id = request_id_of(body);
            return rpc_error_for(id.as_ref(), StatusCode::SERVICE_UNAVAILABLE, INVALID_REQUEST, TOO_MANY_SESSIONS);
        }
        let Ok(mut id) = SessionRegistry::new_id() else {
            return rpc_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                jsonrpc::INTERNAL_ERROR,
                "no randomness for a session id",
            );
        };
        if let Some(prefix) = &self.config.session_id_prefix {
            id.insert_str(0, prefix);
        }
        let session = self.new_session(id, principal.as_ref().map(|p| p.subject.as_str()));
        self.post_to_session(session, body, frame, true, principal).await
    }

    async fn post_to_session(
        &self,
        session: Arc<HttpSession>,
        body: &[u8],
        frame: Result<Frame<'_>, Rejection>,
        new: bool,
        principal: Option<Arc<Principal>>,
    ) -> Resp {
        // Back-pressure: a session with too many calls running waits here, holding only this connection. Only
        // requests wait: a notification (e.g. a cancellation) or the answer to a server request must get through,
        // or calls waiting on that answer would hold the very slots it waits for.
        let permit = match session.in_flight.clone().try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(TryAcquireError::Closed) => return SessionMissing::Unknown.response_to(body),
            Err(TryAcquireError::NoPermits) if !carries_request(&frame) => None,
            Err(TryAcquireError::NoPermits) => match session.in_flight.clone().acquire_owned().await {
                Ok(permit) => Some(permit),
                Err(_) => return SessionMissing::Unknown.response_to(body),
            },
        };
        let global = if permit.is_some() { self.process_permit().await } else { None };
        // The slots are the sink's from here: held until the POST is answered or abandoned, whatever happens to
        // the connection.
        let slots = permit.into_iter().chain(global).collect();
        let (sink, answer) = RequestSink::new(session.clone(), self.config.json_response, self.config.retry_ms, slots);
        let reply: Arc<dyn Outbound> = sink;
        // Only looked at with a session store: whether this request changes what the stored record says.
        let changes_record = self.config.session_store.is_some() && !new && changes_session(&frame);
        if !self.engine.handle_frame_as(&session.core, frame, &reply, principal.as_ref()) {
            return accepted();
        }
        // Until the answer is chosen, the client waits on this connection alone: if it goes away (hyper drops
        // this future), nobody can receive a JSON answer, so the calls are cancelled. Once the answer is an SSE
        // stream, the client can resume it (GET + Last-Event-ID), so its calls go on.
        let mut unanswered = CancelIfGone { session: session.clone(), sink: outbound_address(&reply), armed: true };
        drop(reply);
        if new {
            if session.core.version().is_none() {
                // initialize failed: answer it, but there is no session to keep.
                return match answer.await {
                    Ok(Answer::Json(bytes)) => json_response(bytes, StatusCode::OK),
                    _ => rpc_error_for(
                        request_id_of(body).as_ref(),
                        StatusCode::BAD_REQUEST,
                        INVALID_REQUEST,
                        "Bad Request: initialize failed",
                    ),
                };
            }
            if let Err(CreateError::Full | CreateError::Random) = self.registry.insert(session.clone()) {
                let id = request_id_of(body);
                return rpc_error_for(id.as_ref(), StatusCode::SERVICE_UNAVAILABLE, INVALID_REQUEST, TOO_MANY_SESSIONS);
            }
            if let Err(e) = self.store_session(&session).await {
                // Other processes could not serve it: no session rather than half of one.
                tracing::warn!(error = %e, "cannot store a new session");
                self.registry.remove(&session.id);
                return SessionMissing::StoreDown.response_to(body);
            }
            self.engine.register_session(&session.core);
        }
        let mut resp = match answer.await {
            Ok(Answer::Json(bytes)) => {
                // An error the engine could not tie to a request id (malformed JSON, invalid envelope) is a bad
                // request at the HTTP level too.
                let status = if bytes.starts_with(br#"{"jsonrpc":"2.0","error""#) {
                    StatusCode::BAD_REQUEST
                } else {
                    StatusCode::OK
                };
                json_answer(bytes, status)
            }
            Ok(Answer::Sse(stream)) => {
                let rx = stream.attach(None, false, self.config.replay_buffer_events + 16);
                let guards: Vec<Box<dyn std::any::Any + Send + Sync>> = vec![Box::new(ActivityGuard(session.clone()))];
                sse_response(SseBody::new(rx, self.config.keepalive, guards))
            }
            // Cancelled before any answer: by the client (nothing to send), or by the session's end (DELETE,
            // expiry elsewhere), which the client hears as for any request to an ended session.
            Err(_) if session.terminated.load(Ordering::Acquire) => SessionMissing::Unknown.response_to(body),
            Err(_) => accepted(),
        };
        unanswered.armed = false;
        session.touch();
        if changes_record {
            match self.store_session(&session).await {
                // The processes holding a copy take the change on at once (the store has it for the others).
                Ok(Some(record)) => drop(self.engine.bus().publish(Notice::SessionChanged(record))),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "cannot store a session's new state; other processes keep the old one")
                }
            }
        }
        if new {
            if let Ok(v) = HeaderValue::from_str(&session.id) {
                resp.headers_mut().insert(SESSION_HEADER, v);
            }
        }
        resp
    }

    async fn get(&self, headers: &HeaderMap, principal: Option<&Principal>) -> Resp {
        if !accepts(headers, "text/event-stream") {
            return rpc_error(
                StatusCode::NOT_ACCEPTABLE,
                INVALID_REQUEST,
                "Not Acceptable: GET needs Accept: text/event-stream",
            );
        }
        let session = match self.session_of(headers, principal).await {
            Ok(s) => s,
            Err(missing) => return missing.response(),
        };
        let capacity = self.config.replay_buffer_events + 16;
        if let Some(last) = header(headers, LAST_EVENT_ID) {
            let Some((stream_id, seq)) = parse_event_id(last) else {
                return rpc_error(StatusCode::BAD_REQUEST, INVALID_REQUEST, "Bad Request: unknown Last-Event-ID");
            };
            let local = session.stream(stream_id);
            if local.is_none() {
                if let Some(shared) = session.shared().filter(|s| mirror::owner_of(stream_id) != s.tag) {
                    // Another process's stream: replayed from the event store, then relayed from it.
                    return match RemoteStream::open(&shared.journal, &session.id, stream_id, last, capacity).await {
                        Some((rx, remote)) => {
                            sse_response(SseBody::new(rx, self.config.keepalive, vec![Box::new(remote)]))
                        }
                        None => rpc_error(
                            StatusCode::NOT_FOUND,
                            INVALID_REQUEST,
                            "Not Found: that stream can no longer be resumed",
                        ),
                    };
                }
            }
            let Some(stream) = local.filter(|s| s.can_resume_after(seq)) else {
                return rpc_error(
                    StatusCode::NOT_FOUND,
                    INVALID_REQUEST,
                    "Not Found: that stream can no longer be resumed",
                );
            };
            if stream_id == session.standalone.id {
                let Some(guard) = GetGuard::claim(&session) else { return conflict() };
                let rx = stream.attach(Some(seq), true, capacity);
                return sse_response(SseBody::new(rx, self.config.keepalive, vec![Box::new(guard)]));
            }
            let rx = stream.attach(Some(seq), true, capacity);
            return sse_response(SseBody::new(rx, self.config.keepalive, Vec::new()));
        }
        let Some(guard) = GetGuard::claim(&session) else { return conflict() };
        if session.core.version().is_some_and(|v| v.supports(Feature::StreamPolling)) {
            session.standalone.prime(self.config.retry_ms);
        }
        let rx = session.standalone.attach(None, true, capacity);
        sse_response(SseBody::new(rx, self.config.keepalive, vec![Box::new(guard)]))
    }

    async fn delete(&self, headers: &HeaderMap, principal: Option<&Principal>) -> Resp {
        if !self.config.allow_delete {
            return method_not_allowed("Method Not Allowed: sessions end by expiry", "GET, POST");
        }
        match self.session_of(headers, principal).await {
            Ok(session) => {
                if let Some(store) = &self.config.session_store {
                    // Removed from the store first: a record left behind would bring the session back elsewhere.
                    if let Err(e) = store.0.remove(&session.id).await {
                        tracing::warn!(error = %e, "cannot remove an ended session from the session store");
                        return SessionMissing::StoreDown.response();
                    }
                }
                self.registry.remove(&session.id);
                if self.config.session_store.is_some() {
                    // The other processes holding a copy drop it (the store no longer has the record).
                    self.engine.bus().publish(Notice::SessionEnded(session.id.clone()));
                }
                Response::new(HttpBody::empty())
            }
            Err(missing) => missing.response(),
        }
    }
}

/// Cancels the calls of a POST whose future was dropped before its answer was chosen (the connection closed).
struct CancelIfGone {
    session: Arc<HttpSession>,
    /// The address of the POST's sink (see `Outbound::delivers_to`).
    sink: usize,
    armed: bool,
}

impl Drop for CancelIfGone {
    fn drop(&mut self) {
        if self.armed {
            let cancelled = self.session.core.cancel_delivering_to(self.sink);
            if cancelled > 0 {
                tracing::debug!(session = %self.session.id, cancelled, "client went away before its answer");
            }
        }
    }
}

/// A response after which the connection closes (`Connection: close`).
fn closing(mut resp: Resp) -> Resp {
    resp.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// A 503 while draining closes its connection: the client's next request goes to a fresh connection, and so to
/// another server once this one has stopped.
fn draining_closes(resp: Resp) -> Resp {
    if resp.status() == StatusCode::SERVICE_UNAVAILABLE {
        closing(resp)
    } else {
        resp
    }
}

enum SessionMissing {
    NoHeader,
    Unknown,
    /// The request's `MCP-Protocol-Version` is not the version the session negotiated.
    VersionMismatch {
        sent: String,
        negotiated: ProtocolVersion,
    },
    /// The session store could not be asked (or written): 503, the client may retry.
    StoreDown,
    /// No room to adopt a stored session.
    Full,
}

const TOO_MANY_SESSIONS: &str = "Too many sessions; try again later";

impl SessionMissing {
    fn refusal(self) -> (StatusCode, String) {
        match self {
            SessionMissing::NoHeader => {
                (StatusCode::BAD_REQUEST, "Bad Request: Mcp-Session-Id header is required".into())
            }
            SessionMissing::Unknown => (StatusCode::NOT_FOUND, "Session not found".into()),
            SessionMissing::StoreDown => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Service Unavailable: the session store cannot be reached; try again later".into(),
            ),
            SessionMissing::Full => (StatusCode::SERVICE_UNAVAILABLE, TOO_MANY_SESSIONS.into()),
            SessionMissing::VersionMismatch { sent, negotiated } => (
                StatusCode::BAD_REQUEST,
                format!(
                    "Bad Request: MCP-Protocol-Version {sent:?} does not match the version this session negotiated \
                     ({:?})",
                    negotiated.as_str()
                ),
            ),
        }
    }

    fn response(self) -> Resp {
        let (status, message) = self.refusal();
        rpc_error(status, INVALID_REQUEST, &message)
    }

    /// The refusal of the request in a POST `body`, naming it.
    fn response_to(self, body: &[u8]) -> Resp {
        let (status, message) = self.refusal();
        rpc_error_for(request_id_of(body).as_ref(), status, INVALID_REQUEST, &message)
    }
}

/// Whether a request changes what a session's stored record says (its log level or subscriptions).
fn changes_session(frame: &Result<Frame<'_>, Rejection>) -> bool {
    const CHANGING: [&str; 3] = ["logging/setLevel", "resources/subscribe", "resources/unsubscribe"];
    let changes = |raw: &serde_json::value::RawValue| matches!(jsonrpc::classify(raw), Ok(Message::Request { method, .. }) if CHANGING.contains(&method.as_ref()));
    match frame {
        Ok(Frame::Single(raw)) => changes(raw),
        Ok(Frame::Batch(items)) => items.iter().any(|raw| changes(raw)),
        Err(_) => false,
    }
}

/// 405 with the methods that are allowed.
fn method_not_allowed(message: &str, allow: &'static str) -> Resp {
    let mut resp = rpc_error(StatusCode::METHOD_NOT_ALLOWED, INVALID_REQUEST, message);
    resp.headers_mut().insert(ALLOW, HeaderValue::from_static(allow));
    resp
}

pub(super) fn accepted() -> Resp {
    let mut resp = Response::new(HttpBody::empty());
    *resp.status_mut() = StatusCode::ACCEPTED;
    resp
}

fn conflict() -> Resp {
    rpc_error(StatusCode::CONFLICT, INVALID_REQUEST, "Conflict: this session already has a GET stream open")
}

/// Room for this many headers in a response's header map. hyper parses the connection's next request into the
/// (emptied) map of the response before it, so sizing it for a whole request's headers saves a reallocation per
/// request once clients send more than a handful (a 2026-07-28 request carries three routing headers).
const RECYCLED_HEADER_ROOM: usize = 12;

pub(super) fn json_response(bytes: Vec<u8>, status: StatusCode) -> Resp {
    let mut resp = Response::new(HttpBody::bytes(bytes));
    *resp.status_mut() = status;
    let mut headers = HeaderMap::with_capacity(RECYCLED_HEADER_ROOM);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    *resp.headers_mut() = headers;
    resp
}

pub(super) fn sse_response(body: SseBody) -> Resp {
    let mut resp = Response::new(HttpBody::Sse(body));
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}

/// The one-GET-stream-per-session flag, released when the stream's body is dropped.
struct GetGuard(Arc<HttpSession>);

impl GetGuard {
    fn claim(session: &Arc<HttpSession>) -> Option<GetGuard> {
        (!session.get_open.swap(true, Ordering::AcqRel)).then(|| GetGuard(session.clone()))
    }
}

impl Drop for GetGuard {
    fn drop(&mut self) {
        self.0.get_open.store(false, Ordering::Release);
        self.0.touch();
    }
}

/// Whether a body holds at least one request (as opposed to only notifications or responses).
fn carries_request(frame: &Result<Frame<'_>, Rejection>) -> bool {
    let is_request = |raw: &serde_json::value::RawValue| matches!(jsonrpc::classify(raw), Ok(Message::Request { .. }));
    match frame {
        Ok(Frame::Single(raw)) => is_request(raw),
        Ok(Frame::Batch(items)) => items.iter().copied().any(is_request),
        Err(_) => true,
    }
}
