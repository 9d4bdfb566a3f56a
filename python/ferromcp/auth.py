"""Authorization for Streamable HTTP: the server as an OAuth 2.1 resource server.

`Server(auth=JWTVerifier(...))` verifies JWT bearer tokens in Rust before any handler runs; a verifier
written in Python (anything with `async def verify_token(token) -> AccessToken | None`, as in the official
SDK) is awaited on the event loop instead. Handlers see the caller as `ctx.auth`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
import urllib.request
from collections.abc import AsyncGenerator, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import orjson

from ._core import DefinitionError, JwtVerifier, TokenCheck

__all__ = ["AccessToken", "JWTVerifier", "TokenVerifier"]

_logger = logging.getLogger("ferromcp.auth")

MAX_JWKS_BYTES = 1024 * 1024
"""A key set document larger than this is refused."""


@dataclasses.dataclass(frozen=True)
class AccessToken:
    """A verified token: who it speaks for and what it grants.

    A Python `TokenVerifier` returns one (`subject` defaults to `client_id`); handlers get one as `ctx.auth`.
    There, `token` is None: the raw token is never handed to handlers (no token passthrough).
    """

    token: str | None = None
    client_id: str | None = None
    scopes: list[str] = dataclasses.field(default_factory=lambda: [])
    expires_at: int | None = None
    """Seconds since the epoch."""
    resource: str | None = None
    """The resource (RFC 8707) the token was issued for, when the verifier knows it."""
    subject: str | None = None
    claims: dict[str, Any] = dataclasses.field(default_factory=lambda: {})
    """The token's claims (JWT), or what the verifier put there."""


@runtime_checkable
class TokenVerifier(Protocol):
    """Verifies a bearer token (an opaque one, by introspection for instance): an `AccessToken`, or None to
    refuse it (401). Raising answers 503 (the client may retry). A verifier used as `Server(auth=...)` also
    needs `resource_url` (this server's URL) and `authorization_servers` attributes, and may have
    `required_scopes` and `scopes_supported`."""

    async def verify_token(self, token: str) -> AccessToken | None: ...


def _principal_json(token: AccessToken) -> str:
    return orjson.dumps(
        {
            "subject": token.subject or token.client_id,
            "scopes": list(token.scopes),
            "claims": token.claims,
            "client_id": token.client_id,
            "expires_at": token.expires_at,
        }
    ).decode()


def access_token_from_json(data: str) -> AccessToken:
    """`ctx.auth` from the principal the core hands over."""
    p = orjson.loads(data)
    return AccessToken(
        client_id=p.get("client_id"),
        scopes=list(p.get("scopes") or ()),
        expires_at=p.get("expires_at"),
        subject=p.get("subject"),
        claims=dict(p.get("claims") or {}),
    )


class JWTVerifier:
    """Verifies JWT access tokens in Rust against a JSON Web Key Set.

    Checked: the signature, with the key the token's `kid` names and that key's algorithm only (RS256/384/512,
    PS256/384/512, ES256/384, EdDSA; `none` and HMAC refused); `iss` (when `issuer` is given); `aud` contains
    `audience`, this server's resource URL (RFC 8707); `exp` present and not past, `nbf` not in the future (both
    with `leeway` seconds of skew); the token grants `required_scopes` (`scope` or `scp` claim).

    Keys come from `jwks_file` (read at start, and again when a token names an unknown key) or `jwks_uri`
    (fetched at start, every `jwks_refresh_interval` seconds, and when a token names an unknown key, at most
    once per 30 s; the token waits up to 5 s for it). `resource_url` (default: `audience`) and
    `authorization_servers` (default: `[issuer]`) are what the Protected Resource Metadata says.
    """

    def __init__(
        self,
        *,
        audience: str | Sequence[str],
        jwks_file: str | Path | None = None,
        jwks_uri: str | None = None,
        issuer: str | None = None,
        required_scopes: Sequence[str] | None = None,
        algorithms: Sequence[str] | None = None,
        leeway: float = 30.0,
        resource_url: str | None = None,
        authorization_servers: Sequence[str] | None = None,
        scopes_supported: Sequence[str] | None = None,
        jwks_refresh_interval: float = 3600.0,
        jwks_timeout: float = 10.0,
    ) -> None:
        if (jwks_file is None) == (jwks_uri is None):
            raise DefinitionError("JWTVerifier needs exactly one of jwks_file and jwks_uri")
        if jwks_uri is not None and not jwks_uri.lower().startswith(("https://", "http://")):
            raise DefinitionError(f"jwks_uri {jwks_uri!r} must be an http(s) URL")
        audiences = [audience] if isinstance(audience, str) else list(audience)
        if not audiences:
            raise DefinitionError("JWTVerifier needs the audience (this server's resource URL)")
        self.issuer = issuer
        self.audience = audiences
        self.required_scopes = list(required_scopes or ())
        self.resource_url = resource_url or audiences[0]
        servers = list(authorization_servers) if authorization_servers is not None else ([issuer] if issuer else [])
        if not servers:
            raise DefinitionError("JWTVerifier needs authorization_servers (or issuer) for the resource metadata")
        self.authorization_servers = servers
        self.scopes_supported = list(scopes_supported) if scopes_supported is not None else None
        self.jwks_file = Path(jwks_file) if jwks_file is not None else None
        self.jwks_uri = jwks_uri
        self.jwks_refresh_interval = jwks_refresh_interval
        self.jwks_timeout = jwks_timeout
        try:
            self._core = JwtVerifier(
                audiences,
                issuer=issuer,
                required_scopes=self.required_scopes,
                leeway=leeway,
                algorithms=list(algorithms) if algorithms is not None else None,
            )
        except ValueError as exc:
            raise DefinitionError(str(exc)) from None
        self._loaded = False
        self._refreshing: asyncio.Task[bool] | None = None
        if self.jwks_file is not None:
            try:
                self._set(self.jwks_file.read_bytes())
            except (OSError, ValueError) as exc:
                raise DefinitionError(f"jwks_file {self.jwks_file}: {exc}") from None

    def _set(self, data: bytes) -> int:
        if len(data) > MAX_JWKS_BYTES:
            raise ValueError(f"the key set is larger than {MAX_JWKS_BYTES} bytes")
        count = self._core.set_jwks(data.decode("utf-8"))
        self._loaded = True
        if count == 0:
            _logger.warning("the JWT key set has no usable signing key: every token will be refused")
        return count

    def _fetch(self) -> bytes:
        """The key set's bytes (blocking: run on a thread)."""
        if self.jwks_file is not None:
            return self.jwks_file.read_bytes()
        assert self.jwks_uri is not None
        request = urllib.request.Request(self.jwks_uri, headers={"Accept": "application/json"})
        with urllib.request.urlopen(request, timeout=self.jwks_timeout) as resp:
            data: bytes = resp.read(MAX_JWKS_BYTES + 1)
        return data

    async def refresh(self) -> bool:
        """Loads the key set again now; False (logged) when it cannot be loaded (the old keys stay)."""
        try:
            data = await asyncio.to_thread(self._fetch)
            self._set(data)
        except Exception as exc:
            _logger.warning("cannot load the JWT key set from %s: %s", self.jwks_uri or self.jwks_file, exc)
            self._core.refresh_failed()
            return False
        return True

    def refresh_soon(self) -> None:
        """Starts a refresh unless one is running (a token named an unknown key)."""
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.get_running_loop().create_task(self.refresh())

    @contextlib.asynccontextmanager
    async def _serving(self) -> AsyncGenerator[None, None]:
        """While serving: the key set loaded, and refreshed periodically when it comes from a URL."""
        if not self._loaded:
            await self.refresh()
        periodic = None
        if self.jwks_uri is not None and self.jwks_refresh_interval > 0:
            periodic = asyncio.get_running_loop().create_task(self._refresh_every(self.jwks_refresh_interval))
        try:
            yield
        finally:
            for task in (periodic, self._refreshing):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    async def _refresh_every(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await self.refresh()


def http_auth_options(auth: Any) -> dict[str, Any]:
    """The transport's authorization options for `Server(auth=...)`."""
    if isinstance(auth, JWTVerifier):
        options: dict[str, Any] = {"jwt_verifier": auth._core}  # pyright: ignore[reportPrivateUsage]
    elif isinstance(auth, TokenVerifier):
        options = {"python_verifier": True}
    else:
        raise DefinitionError(f"auth must be a JWTVerifier or a TokenVerifier, not {type(auth).__name__}")
    resource_url = getattr(auth, "resource_url", None)
    servers = getattr(auth, "authorization_servers", None)
    if not isinstance(resource_url, str) or not servers:
        raise DefinitionError("auth needs resource_url (this server's URL) and authorization_servers")
    options.update(
        resource_url=resource_url,
        authorization_servers=list(servers),
        required_scopes=list(getattr(auth, "required_scopes", None) or ()),
        scopes_supported=list(getattr(auth, "scopes_supported", None) or ()) or None,
    )
    return options


async def judge(verifier: TokenVerifier, check: TokenCheck) -> None:
    """Runs a Python verifier on one token and hands the verdict back to the core."""
    try:
        token = await verifier.verify_token(check.token)
    except Exception as exc:
        _logger.exception("the token verifier raised")
        check.fail(f"{type(exc).__name__}: {exc}")
        return
    if token is not None and token.expires_at is not None and token.expires_at < time.time():
        token = None
    resource = getattr(verifier, "resource_url", None)
    if token is not None and token.resource is not None and token.resource != resource:
        token = None
    if token is None:
        check.resolve(None)
        return
    try:
        check.resolve(_principal_json(token))
    except ValueError as exc:
        _logger.error("the token verifier returned an unusable AccessToken: %s", exc)
        check.fail(str(exc))
