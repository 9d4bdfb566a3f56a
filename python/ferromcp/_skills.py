"""The skills extension (`io.modelcontextprotocol/skills`, SEP-2640): Agent Skills served over MCP.

A skill is a folder with a `SKILL.md` whose YAML frontmatter names and describes it, and any other files it
needs. Each file is a resource `skill://<name>/<path>` (`SKILL.md` as `text/markdown`); `skills/list` and
`skills/get` describe skills as entries `{uri, frontmatter, resources: [{uri, digest, size}]}`, where the digest
is the SHA-256 of the file's bytes. Skills come from a directory tree (`server.add_skills(path)`, one folder per
skill; files that change are picked up and re-digested) or from code (`server.add_skill(...)`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import mimetypes
import os
import re
import stat
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

import yaml

from ._context import McpError

__all__ = ["EXTENSION", "Skill", "SkillError", "SkillFile", "Skills", "load_skill_dir", "skill_from_text"]

EXTENSION = "io.modelcontextprotocol/skills"
SKILL_MD = "SKILL.md"
INVALID_PARAMS = -32602
# The Agent Skills naming rules: 1-64 lowercase letters, digits and hyphens; no leading, trailing or double hyphen.
_NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_FRONTMATTER = re.compile(r"^---\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)")
_RESERVED_METADATA = "io.modelcontextprotocol/"
MAX_FILES = 512
MAX_BYTES = 16 * 1024 * 1024
_T = TypeVar("_T")


class SkillError(ValueError):
    """A skill that cannot be served as it is: the message names the file and what is wrong."""


@dataclasses.dataclass
class SkillFile:
    """One file of a skill: its bytes (from code), or its path on disk with the bytes last digested."""

    rel: str
    path: Path | None = None
    data: bytes | None = None
    digest: str = ""
    size: int = 0
    stamp: tuple[int, int] = (0, 0)  # (mtime_ns, size) when last digested, for files on disk

    @property
    def mime_type(self) -> str:
        if self.rel == SKILL_MD or self.rel.endswith(".md"):
            return "text/markdown"
        return mimetypes.guess_type(self.rel)[0] or "application/octet-stream"

    def read(self, root: Path | None) -> bytes:
        """The file's bytes now; a file on disk is re-checked against the skill's folder first."""
        if self.data is not None:
            return self.data
        assert self.path is not None and root is not None
        _inside(root, self.path, self.rel)
        return self.path.read_bytes()

    def refresh(self, root: Path | None) -> bool:
        """Re-digests a file on disk whose modification time or size changed; returns whether it did."""
        if self.data is not None:
            if not self.digest:
                self.digest, self.size = _digest(self.data), len(self.data)
                return True
            return False
        assert self.path is not None
        st = self.path.stat()
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self.stamp and self.digest:
            return False
        data = self.read(root)
        self.digest, self.size, self.stamp = _digest(data), len(data), stamp
        return True


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _inside(root: Path, path: Path, rel: str) -> None:
    resolved = path.resolve()
    if resolved != root and root not in resolved.parents:
        raise SkillError(f"{rel}: resolves outside the skill's folder ({resolved})")


@dataclasses.dataclass
class Skill:
    """A skill: its name, its SKILL.md frontmatter, and its files by path relative to the skill's folder."""

    name: str
    frontmatter: dict[str, Any]
    files: dict[str, SkillFile]
    root: Path | None = None

    @property
    def uri(self) -> str:
        return f"skill://{self.name}/{SKILL_MD}"

    def file_uri(self, rel: str) -> str:
        return f"skill://{self.name}/{rel}"

    @property
    def description(self) -> str:
        return str(self.frontmatter.get("description", ""))

    def entry(self) -> dict[str, Any]:
        """The skill as `skills/list` and `skills/get` describe it."""
        resources = [
            {"uri": self.file_uri(rel), "digest": f.digest, "size": f.size} for rel, f in sorted(self.files.items())
        ]
        return {"uri": self.uri, "frontmatter": self.frontmatter, "resources": resources}


def parse_frontmatter(text: str, where: str) -> dict[str, Any]:
    """The YAML frontmatter of a SKILL.md as a JSON-compatible object, with a non-empty name and description."""
    match = _FRONTMATTER.match(text.removeprefix("\ufeff"))
    if match is None:
        raise SkillError(f"{where}: SKILL.md must begin with YAML frontmatter between --- lines")
    try:
        loaded = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        raise SkillError(f"{where}: the frontmatter is not valid YAML: {exc}") from None
    if not isinstance(loaded, dict):
        raise SkillError(f"{where}: the frontmatter must be a mapping")
    # Rendered as JSON: dates and the like become strings, as a JSON client reading the YAML would see them.
    fields: dict[str, Any] = json.loads(json.dumps(loaded, default=str))
    for key in ("name", "description"):
        value = fields.get(key)
        if not isinstance(value, str) or not value.strip():
            raise SkillError(f"{where}: the frontmatter needs a non-empty {key}")
    metadata = fields.get("metadata")
    if isinstance(metadata, dict):
        reserved = [k for k in metadata if str(k).startswith(_RESERVED_METADATA)]  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
        if reserved:
            raise SkillError(f"{where}: metadata keys under {_RESERVED_METADATA} are reserved: {reserved}")
    return fields


def _check_name(name: str, where: str) -> None:
    if not (1 <= len(name) <= 64 and _NAME.match(name)):
        raise SkillError(
            f"{where}: {name!r} is not a skill name (1-64 lowercase letters, digits and single hyphens, "
            "not at either end)"
        )


def _check_limits(skill: Skill, where: str) -> None:
    if len(skill.files) > MAX_FILES:
        raise SkillError(f"{where}: {len(skill.files)} files; a skill has at most {MAX_FILES}")
    total = sum(f.size for f in skill.files.values())
    if total > MAX_BYTES:
        raise SkillError(f"{where}: {total} bytes; a skill has at most {MAX_BYTES}")


def load_skill_dir(folder: Path) -> Skill:
    """A skill from its folder: SKILL.md's frontmatter names it (the folder's name), every regular file under
    it is part of it. Symbolic links are followed only within the folder."""
    root = folder.resolve()
    where = str(folder)
    md = folder / SKILL_MD
    if not md.is_file():
        raise SkillError(f"{where}: a skill folder needs a {SKILL_MD}")
    files: dict[str, SkillFile] = {}
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        base = Path(dirpath)
        for sub in list(dirnames):
            if (base / sub).is_symlink():
                _inside(root, base / sub, str((base / sub).relative_to(folder)))
                dirnames.remove(sub)  # a linked folder inside the skill is served through its real path
        for filename in filenames:
            path = base / filename
            rel = PurePosixPath(path.relative_to(folder).as_posix())
            if any(part.startswith(".") for part in rel.parts):
                continue  # hidden files (.git, editor droppings) are not part of a skill
            _inside(root, path, f"{where}/{rel}")
            if not stat.S_ISREG(path.stat().st_mode):
                continue
            files[str(rel)] = SkillFile(str(rel), path=path)
    frontmatter = parse_frontmatter(md.read_text(encoding="utf-8"), f"{where}/{SKILL_MD}")
    name = str(frontmatter["name"])
    _check_name(name, f"{where}/{SKILL_MD}")
    if name != folder.name:
        raise SkillError(f"{where}: the folder must be named after the skill ({name!r})")
    skill = Skill(name, frontmatter, files, root)
    for f in files.values():
        f.refresh(root)
    _check_limits(skill, where)
    return skill


def skill_from_text(skill_md: str, files: Mapping[str, str | bytes] | None = None) -> Skill:
    """A skill defined in code: its SKILL.md text and other files by relative path."""
    frontmatter = parse_frontmatter(skill_md, "add_skill")
    name = str(frontmatter["name"])
    _check_name(name, "add_skill")
    contents: dict[str, SkillFile] = {SKILL_MD: SkillFile(SKILL_MD, data=skill_md.encode())}
    for rel, data in (files or {}).items():
        path = PurePosixPath(rel)
        if path.is_absolute() or not path.parts or any(p in ("", ".", "..") for p in path.parts) or "\\" in rel:
            raise SkillError(f"add_skill {name}: {rel!r} is not a relative path inside the skill")
        if str(path) == SKILL_MD:
            raise SkillError(f"add_skill {name}: SKILL.md is the skill_md argument")
        contents[str(path)] = SkillFile(str(path), data=data.encode() if isinstance(data, str) else bytes(data))
    skill = Skill(name, frontmatter, contents)
    for f in contents.values():
        f.refresh(None)
    _check_limits(skill, f"add_skill {name}")
    return skill


class Skills:
    """The skills a server serves, and the `skills/list` / `skills/get` answers."""

    def __init__(self, page_size: int) -> None:
        self.page_size = max(1, page_size)
        self._skills: dict[str, Skill] = {}
        self._lock = threading.Lock()

    def add(self, skill: Skill) -> None:
        with self._lock:
            self._skills[skill.name] = skill

    def get(self, name: str) -> Skill | None:
        return self._skills.get(name)

    def __len__(self) -> int:
        return len(self._skills)

    def _current(self) -> list[Skill]:
        """Every skill, in name order, with digests brought up to date with their files."""
        with self._lock:
            skills = sorted(self._skills.values(), key=lambda s: s.name)
        for skill in skills:
            for f in skill.files.values():
                try:
                    f.refresh(skill.root)
                except (OSError, SkillError):
                    continue  # a file that vanished or escaped keeps its last digest; reading it fails clearly
        return skills

    def list(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._page("skills", self._current(), params, Skill.entry)

    def _page(
        self, field: str, items: Sequence[_T], params: dict[str, Any], render: Callable[[_T], dict[str, Any]]
    ) -> dict[str, Any]:
        """The page of `items` the request's `cursor` (an offset) names, rendered under `field`, with the next
        cursor."""
        cursor = params.get("cursor")
        if cursor is not None and not (isinstance(cursor, str) and cursor.isascii() and cursor.isdigit()):
            raise McpError(INVALID_PARAMS, "Invalid params: unknown cursor")
        start = int(cursor) if isinstance(cursor, str) else 0
        result: dict[str, Any] = {field: [render(item) for item in items[start : start + self.page_size]]}
        if start + self.page_size < len(items):
            result["nextCursor"] = str(start + self.page_size)
        return result

    def directory_read(self, params: dict[str, Any]) -> dict[str, Any]:
        """`resources/directory/read`: the direct children of a skill directory (`skill://<name>[/<path>]`),
        subdirectories as `inode/directory`; -32602 for anything that is not a served directory."""
        uri = params.get("uri")
        if not isinstance(uri, str) or not uri.startswith("skill://"):
            raise McpError(INVALID_PARAMS, "Invalid params: resources/directory/read needs a skill:// directory uri")
        name, _, rest = uri.removeprefix("skill://").rstrip("/").partition("/")
        skill = self._skills.get(name)
        prefix = f"{rest}/" if rest else ""
        if skill is None or not any(rel.startswith(prefix) for rel in skill.files):
            raise McpError(INVALID_PARAMS, f"Not a directory: {uri}", {"uri": uri})
        children: dict[str, dict[str, Any]] = {}
        for rel, file in sorted(skill.files.items()):
            if not rel.startswith(prefix):
                continue
            head, sep, _ = rel.removeprefix(prefix).partition("/")
            child = skill.file_uri(prefix + head)
            kind = "inode/directory" if sep else file.mime_type
            children.setdefault(child, {"uri": child, "name": head, "mimeType": kind})
        return self._page("resources", list(children.values()), params, dict)

    def get_entry(self, params: dict[str, Any]) -> dict[str, Any]:
        uri = params.get("uri")
        if not isinstance(uri, str):
            raise McpError(INVALID_PARAMS, "Invalid params: skills/get needs a uri")
        for skill in self._current():
            if skill.uri == uri:
                return {"skill": skill.entry()}
        raise McpError(INVALID_PARAMS, f"Unknown skill: {uri}", {"uri": uri})
