"""The skills extension (io.modelcontextprotocol/skills, SEP-2640) through the official client over stdio and HTTP
(its generic request API: the SDK has no skills calls), every message schema-checked: the declaration in
`server/discover`, `skills/list` entries whose digests and sizes match the bytes `resources/read` returns, the
frontmatter as the file has it, `skills/get`, `resources/directory/read`, digests refreshed when a file changes;
and skills that cannot be served refused at registration, never a file outside the skill's folder."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from ferromcp import Server, errors
from mcp import types
from mcp.client.client import Client
from mcp.shared.exceptions import MCPError
from pydantic import TypeAdapter

from tests.support.clients import Wire, http_client, stdio_client
from tests.support.paths import ROOT, TESTS
from tests.support.procs import HttpServerProcess

SCRIPT = TESTS / "servers" / "skills.py"
EXAMPLES = ROOT / "examples" / "skills"
Connect = Callable[..., contextlib.AbstractAsyncContextManager[tuple[Client, Wire]]]


@pytest.fixture
def skills_dir(tmp_path: Path) -> Path:
    copy = tmp_path / "skills"
    shutil.copytree(EXAMPLES, copy)
    return copy


@pytest.fixture(params=["stdio", "http"])
def connect(request: pytest.FixtureRequest, tmp_path: Path, skills_dir: Path) -> AsyncIterator[Connect]:
    env = {"FERROMCP_TEST_SKILLS": str(skills_dir)}
    if request.param == "stdio":
        yield lambda **options: stdio_client(tmp_path, script=SCRIPT, env=env, **options)
        return
    server = HttpServerProcess(SCRIPT, env=env)
    try:
        yield lambda **options: http_client(server.url, **options)
    finally:
        server.stop()


async def ask(client: Client, method: str, params: dict[str, Any]) -> dict[str, Any]:
    request = types.Request[dict[str, Any], str](method=method, params=params)
    return await client.session.send_request(request, TypeAdapter(dict[str, Any]))


async def read_bytes(client: Client, uri: str) -> tuple[bytes, str | None]:
    content = (await client.read_resource(uri)).contents[0]
    if isinstance(content, types.TextResourceContents):
        return content.text.encode(), content.mime_type
    assert isinstance(content, types.BlobResourceContents)
    return base64.b64decode(content.blob), content.mime_type


async def test_skills_are_listed_with_true_digests(connect: Connect) -> None:
    async with connect() as (client, wire):
        discovered = await ask(client, "server/discover", {})
        assert discovered["capabilities"]["extensions"] == {"io.modelcontextprotocol/skills": {"directoryRead": True}}
        assert "resources" in discovered["capabilities"]
        listed = await ask(client, "skills/list", {})
        assert (listed["ttlMs"], listed["cacheScope"]) == (0, "private")
        entries = {e["frontmatter"]["name"]: e for e in listed["skills"]}
        assert sorted(entries) == ["code-review", "haiku", "release-notes"]
        for name, entry in entries.items():
            assert entry["uri"] == f"skill://{name}/SKILL.md"
            assert entry["uri"] in [r["uri"] for r in entry["resources"]]
            for resource in entry["resources"]:
                data, mime = await read_bytes(client, resource["uri"])
                assert resource["digest"] == "sha256:" + hashlib.sha256(data).hexdigest(), resource["uri"]
                assert resource["size"] == len(data)
                if resource["uri"].endswith("SKILL.md"):
                    assert mime == "text/markdown"
                    frontmatter = yaml.safe_load(data.decode().split("---")[1])
                    assert entry["frontmatter"] == frontmatter
        assert entries["release-notes"]["frontmatter"]["metadata"] == {"author": "ferromcp", "version": "1.0"}

        got = await ask(client, "skills/get", {"uri": "skill://haiku/SKILL.md"})
        assert got["skill"] == entries["haiku"] and "nextCursor" not in got
        with pytest.raises(MCPError) as unknown:
            await ask(client, "skills/get", {"uri": "skill://nope/SKILL.md"})
        assert unknown.value.error.code == -32602

        children = await ask(client, "resources/directory/read", {"uri": "skill://code-review"})
        assert {(c["name"], c["mimeType"]) for c in children["resources"]} == {
            ("SKILL.md", "text/markdown"),
            ("references", "inode/directory"),
        }
        inner = await ask(client, "resources/directory/read", {"uri": "skill://code-review/references"})
        assert [c["uri"] for c in inner["resources"]] == ["skill://code-review/references/checklist.txt"]
        with pytest.raises(MCPError) as not_a_dir:
            await ask(client, "resources/directory/read", {"uri": "skill://code-review/SKILL.md"})
        assert not_a_dir.value.error.code == -32602
    assert "skills/list" in wire.methods()


async def test_a_changed_file_gets_a_new_digest(tmp_path: Path, skills_dir: Path) -> None:
    env = {"FERROMCP_TEST_SKILLS": str(skills_dir)}
    async with stdio_client(tmp_path, script=SCRIPT, env=env) as (client, _):

        async def digest_of(uri: str) -> str:
            listed = await ask(client, "skills/list", {})
            return next(r["digest"] for e in listed["skills"] for r in e["resources"] if r["uri"] == uri)

        uri = "skill://release-notes/templates/notes.md"
        before = await digest_of(uri)
        (skills_dir / "release-notes" / "templates" / "notes.md").write_text("# {version}\n\nNothing yet.\n")
        after = await digest_of(uri)
        assert after != before
        data, _ = await read_bytes(client, uri)
        assert after == "sha256:" + hashlib.sha256(data).hexdigest()


def write_skill(root: Path, name: str, text: str) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "SKILL.md").write_text(text)
    return folder


GOOD = "---\nname: {name}\ndescription: Does things.\n---\nBody.\n"


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("plain", "# No frontmatter\n", "must begin with YAML frontmatter"),
        ("nameless", "---\ndescription: x\n---\n", "non-empty name"),
        ("Bad_Name", GOOD.format(name="Bad_Name"), "not a skill name"),
        ("other", GOOD.format(name="elsewhere"), "named after the skill"),
        ("broken", "---\nname: [unclosed\n---\n", "not valid YAML"),
        ("reserved", GOOD.format(name="reserved") + "", None),
    ],
)
def test_skills_that_cannot_be_served_are_refused(tmp_path: Path, name: str, text: str, problem: str | None) -> None:
    if problem is None:
        text = "---\nname: reserved\ndescription: x\nmetadata:\n  io.modelcontextprotocol/x: 1\n---\n"
        problem = "reserved"
    write_skill(tmp_path, name, text)
    with pytest.raises(errors.DefinitionError, match=problem):
        Server("s").add_skills(tmp_path)


def test_links_out_of_a_skill_are_refused_at_registration_and_at_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("not yours")
    root = tmp_path / "skills"
    folder = write_skill(root, "leaky", GOOD.format(name="leaky"))
    (folder / "data.txt").symlink_to(secret)
    with pytest.raises(errors.DefinitionError, match="outside the skill"):
        Server("s").add_skills(root)

    # A file that becomes a link out after registration is not found, and its bytes are never read.
    (folder / "data.txt").unlink()
    (folder / "data.txt").write_text("fine")
    server = Server("s")
    assert server.add_skills(root) == ["leaky"]
    (folder / "data.txt").unlink()
    (folder / "data.txt").symlink_to(secret)
    reader = next(s for s in server._handlers.values() if getattr(s, "uri", "") == "skill://leaky/data.txt")  # pyright: ignore[reportPrivateUsage]
    with pytest.raises(Exception, match=r"leaky/data\.txt") as refused:
        reader.fn(uri="skill://leaky/data.txt")
    assert "not yours" not in str(refused.value)


@pytest.mark.parametrize("path", ["../escape.txt", "/etc/passwd", "a/../../b", "", "SKILL.md"])
def test_code_defined_skills_take_only_paths_inside_them(path: str) -> None:
    with pytest.raises(errors.DefinitionError):
        Server("s").add_skill(GOOD.format(name="inline"), {path: "x"})


def test_an_extension_method_cannot_replace_a_protocol_method() -> None:
    server = Server("s")
    with pytest.raises(errors.DefinitionError, match="protocol method"):
        server.add_method("tools/list", lambda params: {})
    with pytest.raises(errors.DefinitionError, match="namespace"):
        server.add_method("list", lambda params: {})


def test_serving_a_skill_again_drops_the_files_it_no_longer_has(skills_dir: Path) -> None:
    server = Server("s")
    server.add_skills(skills_dir)
    uri = "skill://release-notes/templates/notes.md"
    assert uri in [r["uri"] for r in server.list_resources()]
    (skills_dir / "release-notes" / "templates" / "notes.md").unlink()
    server.add_skills(skills_dir)
    assert uri not in [r["uri"] for r in server.list_resources()]
