"""Authorization end to end: a server with `auth=JWTVerifier(jwks_file=...)` (and one with a Python
`TokenVerifier`) against the official SDK client sending bearer tokens minted here with throwaway keys, and raw
requests for what a client library hides (statuses, `WWW-Authenticate`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from ferromcp import Context, Server
from ferromcp.auth import AccessToken, JWTVerifier
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from mcp.client.auth.utils import (
    build_protected_resource_metadata_discovery_urls,
    extract_resource_metadata_from_www_auth,
    extract_scope_from_www_auth,
    handle_protected_resource_response,
)

from tests.support.clients import http_client
from tests.support.procs import free_port

ISSUER = "https://issuer.example.com"
BOTH = "application/json, text/event-stream"


class Keys:
    """A throwaway key set: RS256, ES256 and EdDSA keys in the JWKS, and one key that is not."""

    def __init__(self) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.ed = ed25519.Ed25519PrivateKey.generate()
        self.stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwks(self) -> dict[str, Any]:
        keys = [
            {**json.loads(RSAAlgorithm.to_jwk(self.rsa.public_key())), "kid": "rsa", "alg": "RS256", "use": "sig"},
            {**json.loads(ECAlgorithm.to_jwk(self.ec.public_key())), "kid": "ec", "alg": "ES256"},
            {**json.loads(OKPAlgorithm.to_jwk(self.ed.public_key())), "kid": "ed"},
        ]
        return {"keys": keys}


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


def mint(keys: Keys, audience: str, *, kid: str = "rsa", key: Any = None, **claims: Any) -> str:
    now = int(time.time())
    body: dict[str, Any] = {"sub": "alice", "iss": ISSUER, "aud": audience, "iat": now, "exp": now + 300}
    body["scope"] = "mcp files:read"
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    alg, default = {"rsa": ("RS256", keys.rsa), "ec": ("ES256", keys.ec), "ed": ("EdDSA", keys.ed)}[kid]
    return jwt.encode(body, key or default, algorithm=alg, headers={"kid": kid})


def build(auth: Any) -> Server:
    server = Server("auth-test", auth=auth)

    @server.tool
    def whoami(ctx: Context) -> dict[str, Any]:
        """Who the token says is calling."""
        assert ctx.auth is not None
        return {"subject": ctx.auth.subject, "scopes": ctx.auth.scopes, "iss": ctx.auth.claims.get("iss")}

    @server.tool(scopes=["files:read"])
    def read_file(path: str) -> str:
        """Reads a file (needs files:read)."""
        return f"contents of {path}"

    @server.resource("secret://plans", scopes=["files:read"])
    def plans() -> str:
        return "the plans"

    @server.prompt(scopes=["admin"])
    def admin_prompt() -> str:
        return "be an admin"

    return server


@contextlib.asynccontextmanager
async def jwt_server(keys: Keys, tmp_path: Path) -> AsyncIterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(keys.jwks()))
    verifier = JWTVerifier(jwks_file=jwks, issuer=ISSUER, audience=url, required_scopes=["mcp"])
    async with build(verifier).http_server("127.0.0.1", port, "/mcp", shutdown_timeout=2.0) as served:
        assert served == url
        yield url


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def initialize(request_id: int = 1) -> dict[str, Any]:
    params = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}
    return {"jsonrpc": "2.0", "id": request_id, "method": "initialize", "params": params}


async def open_session(http: httpx2.AsyncClient, url: str, token: str) -> str:
    headers = {**bearer(token), "Accept": BOTH}
    resp = await http.post(url, json=initialize(), headers=headers)
    assert resp.status_code == 200, resp.text
    session = resp.headers["mcp-session-id"]
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    legacy = {"Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-11-25"}
    assert (await http.post(url, json=note, headers={**headers, **legacy})).status_code == 202
    return session


async def call(
    http: httpx2.AsyncClient, url: str, token: str, session: str, method: str, params: Any
) -> httpx2.Response:
    headers = {**bearer(token), "Accept": BOTH, "Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-11-25"}
    return await http.post(url, json={"jsonrpc": "2.0", "id": 7, "method": method, "params": params}, headers=headers)


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_the_sdk_client_calls_with_a_bearer_token(keys: Keys, tmp_path: Path, mode: str) -> None:
    async with jwt_server(keys, tmp_path) as url:
        for kid in ("rsa", "ec", "ed"):
            token = mint(keys, url, kid=kid)
            async with http_client(url, mode=mode, headers=bearer(token)) as (client, _):
                who = await client.call_tool("whoami", {})
                assert who.structured_content == {"subject": "alice", "scopes": ["mcp", "files:read"], "iss": ISSUER}
                assert {t.name for t in (await client.list_tools()).tools} == {"whoami", "read_file"}
                read = await client.call_tool("read_file", {"path": "a"})
                assert read.content[0].text == "contents of a"  # type: ignore[union-attr]
        # Bob's token lacks files:read: the tool, the resource and the admin prompt are not listed for him.
        token = mint(keys, url, sub="bob", scope="mcp")
        async with http_client(url, mode=mode, headers=bearer(token)) as (client, _):
            assert {t.name for t in (await client.list_tools()).tools} == {"whoami"}
            assert (await client.list_resources()).resources == []
            assert (await client.list_prompts()).prompts == []
            assert (await client.call_tool("whoami", {})).structured_content["subject"] == "bob"


async def test_bad_tokens_are_401_while_other_clients_go_on(keys: Keys, tmp_path: Path) -> None:
    async with jwt_server(keys, tmp_path) as url, httpx2.AsyncClient(timeout=10) as http:
        good = mint(keys, url)
        async with http_client(url, mode="legacy", headers=bearer(good)) as (client, _):
            header = jwt.utils.base64url_encode(b'{"alg":"none","typ":"JWT","kid":"rsa"}').decode()
            payload = jwt.utils.base64url_encode(json.dumps({"sub": "alice", "aud": url, "iss": ISSUER}).encode())
            bad = {
                "wrong audience": mint(keys, url, aud="https://other.example.com/mcp"),
                "expired": mint(keys, url, exp=int(time.time()) - 600),
                "not yet valid": mint(keys, url, nbf=int(time.time()) + 600),
                "unsigned": f"{header}.{payload.decode()}.",
                "wrong key": mint(keys, url, key=keys.stranger),
                "wrong issuer": mint(keys, url, iss="https://evil.example.com"),
                "no expiry": mint(keys, url, exp=None),
                "hmac": jwt.encode({"sub": "x", "aud": url, "iss": ISSUER}, "s" * 32, "HS256", {"kid": "rsa"}),
                "malformed": "not.a.jwt",
            }
            for why, token in bad.items():
                resp = await http.post(url, json=initialize(), headers={**bearer(token), "Accept": BOTH})
                assert resp.status_code == 401, why
                challenge = resp.headers["www-authenticate"]
                assert challenge.startswith('Bearer error="invalid_token"'), (why, challenge)
                assert (
                    f'resource_metadata="http://{url[7:].split("/")[0]}/.well-known/oauth-protected-resource/mcp"'
                    in challenge
                )
                assert resp.json()["error"] == "invalid_token"
                # The good client's calls keep succeeding in between.
                assert (await client.call_tool("whoami", {})).structured_content["subject"] == "alice", why
            # No token at all: 401 without an error code, with the scope to ask for.
            resp = await http.post(url, json=initialize(), headers={"Accept": BOTH})
            assert resp.status_code == 401
            assert resp.headers["www-authenticate"].startswith('Bearer scope="mcp", resource_metadata="')
            # Health stays open.
            assert (await http.get(url.removesuffix("/mcp") + "/healthz")).status_code == 200


async def test_missing_scopes_are_403_with_a_step_up_challenge(keys: Keys, tmp_path: Path) -> None:
    async with jwt_server(keys, tmp_path) as url, httpx2.AsyncClient(timeout=10) as http:
        bob = mint(keys, url, sub="bob", scope="mcp")
        session = await open_session(http, url, bob)
        for method, params, needed in (
            ("tools/call", {"name": "read_file", "arguments": {"path": "a"}}, "mcp files:read"),
            ("resources/read", {"uri": "secret://plans"}, "mcp files:read"),
            ("prompts/get", {"name": "admin_prompt"}, "mcp admin"),
        ):
            resp = await call(http, url, bob, session, method, params)
            assert resp.status_code == 403, method
            challenge = resp.headers["www-authenticate"]
            assert challenge.startswith('Bearer error="insufficient_scope"'), challenge
            assert extract_scope_from_www_auth(resp) == needed  # type: ignore[arg-type]
        # A token without the server's own scope is 403 for everything.
        weak = mint(keys, url, scope="files:read")
        resp = await http.post(url, json=initialize(), headers={**bearer(weak), "Accept": BOTH})
        assert resp.status_code == 403
        assert extract_scope_from_www_auth(resp) == "mcp"  # type: ignore[arg-type]
        # Stepping up (a new token with the scope) works in the same session.
        stepped = mint(keys, url, sub="bob", scope="mcp files:read")
        resp = await call(http, url, stepped, session, "tools/call", {"name": "read_file", "arguments": {"path": "a"}})
        assert resp.status_code == 200 and "contents of a" in resp.text


async def test_another_principals_session_is_not_found(keys: Keys, tmp_path: Path) -> None:
    async with jwt_server(keys, tmp_path) as url, httpx2.AsyncClient(timeout=10) as http:
        alice, mallory = mint(keys, url), mint(keys, url, sub="mallory")
        session = await open_session(http, url, alice)
        resp = await call(http, url, mallory, session, "tools/call", {"name": "whoami", "arguments": {}})
        assert resp.status_code == 404
        headers = {**bearer(mallory), "Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-11-25"}
        assert (await http.delete(url, headers=headers)).status_code == 404
        resp = await call(http, url, alice, session, "tools/call", {"name": "whoami", "arguments": {}})
        assert resp.status_code == 200 and '"subject":"alice"' in resp.text.replace(" ", "")


async def test_the_sdk_discovers_the_protected_resource_metadata(keys: Keys, tmp_path: Path) -> None:
    async with jwt_server(keys, tmp_path) as url, httpx2.AsyncClient(timeout=10) as http:
        resp = await http.post(url, json=initialize(), headers={"Accept": BOTH})
        assert resp.status_code == 401
        advertised = extract_resource_metadata_from_www_auth(resp)  # type: ignore[arg-type]
        origin = url.removesuffix("/mcp")
        assert advertised == f"{origin}/.well-known/oauth-protected-resource/mcp"
        # The header's URL first, then the path form, then the root form: all three answer the same document.
        urls = build_protected_resource_metadata_discovery_urls(advertised, url)
        assert urls[-1] == f"{origin}/.well-known/oauth-protected-resource"
        for candidate in urls:
            metadata = await handle_protected_resource_response(await http.get(candidate))  # type: ignore[arg-type]
            assert metadata is not None, candidate
            assert str(metadata.resource) == url
            assert [str(s).rstrip("/") for s in metadata.authorization_servers] == [ISSUER]
            assert metadata.scopes_supported == ["mcp"]
            assert metadata.bearer_methods_supported == ["header"]


class Opaque:
    """A Python verifier of opaque tokens (as an introspection call would be: it awaits)."""

    def __init__(self, url: str) -> None:
        self.resource_url = url
        self.authorization_servers = [ISSUER]
        self.required_scopes = ["mcp"]
        self.seen: list[str] = []

    async def verify_token(self, token: str) -> AccessToken | None:
        self.seen.append(token)
        await asyncio.sleep(0.01)
        if token == "broken":
            raise RuntimeError("introspection endpoint down")
        if token.startswith("opaque-"):
            return AccessToken(token=token, client_id="app", subject=token[7:], scopes=["mcp"], claims={"k": 1})
        return None


async def test_a_python_token_verifier_is_awaited(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    verifier = Opaque(url)
    async with (
        build(verifier).http_server("127.0.0.1", port, "/mcp", shutdown_timeout=2.0),
        httpx2.AsyncClient(timeout=10) as http,
    ):
        async with http_client(url, mode="legacy", headers=bearer("opaque-carol")) as (client, _):
            who = await client.call_tool("whoami", {})
            assert who.structured_content == {"subject": "carol", "scopes": ["mcp"], "iss": None}
            assert {t.name for t in (await client.list_tools()).tools} == {"whoami"}
        resp = await http.post(url, json=initialize(), headers={**bearer("unknown"), "Accept": BOTH})
        assert resp.status_code == 401 and 'error="invalid_token"' in resp.headers["www-authenticate"]
        resp = await http.post(url, json=initialize(), headers={**bearer("broken"), "Accept": BOTH})
        assert resp.status_code == 503 and resp.headers["retry-after"] == "5"
        assert {"opaque-carol", "unknown", "broken"} <= set(verifier.seen)
