"""Content blocks a tool can return: text, images, audio, embedded resources and resource links."""

from __future__ import annotations

import base64
import mimetypes
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

__all__ = ["Annotations", "Audio", "ContentBlock", "EmbeddedResource", "Image", "ResourceLink", "TextContent"]


@dataclass(frozen=True, slots=True)
class Annotations:
    """Hints for the client about a content block (who it is for, how important it is)."""

    audience: list[Literal["user", "assistant"]] | None = None
    priority: float | None = None
    last_modified: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.audience is not None:
            out["audience"] = list(self.audience)
        if self.priority is not None:
            out["priority"] = self.priority
        if self.last_modified is not None:
            out["lastModified"] = self.last_modified
        return out


def _with_annotations(
    block: dict[str, Any], annotations: Annotations | None, meta: dict[str, Any] | None
) -> dict[str, Any]:
    if annotations is not None:
        block["annotations"] = annotations.to_json()
    if meta is not None:
        block["_meta"] = meta
    return block


@dataclass(frozen=True, slots=True)
class TextContent:
    text: str
    annotations: Annotations | None = None
    meta: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return _with_annotations({"type": "text", "text": self.text}, self.annotations, self.meta)


def _media(
    kind: str, data: bytes | str | None, path: str | Path | None, mime_type: str | None, format: str | None
) -> tuple[str, str]:
    """Returns (base64 data, MIME type) for an image or audio block."""
    if (data is None) == (path is None):
        raise ValueError(f"{kind} needs exactly one of data= or path=")
    if path is not None:
        raw = Path(path).read_bytes()
        guessed = mimetypes.guess_type(str(path))[0]
    else:
        raw = data
        guessed = None
    if mime_type is None:
        mime_type = f"{kind}/{format.lower()}" if format else guessed
    if mime_type is None:
        raise ValueError(f"{kind} needs mime_type= (or format=) when it cannot be guessed from a path")
    encoded = raw if isinstance(raw, str) else base64.b64encode(raw or b"").decode("ascii")
    return encoded, mime_type


@dataclass(frozen=True, slots=True)
class _Media:
    """Base64 media: `data` is raw bytes (or an already base64-encoded str); or give `path` to read a file."""

    data: bytes | str | None = None
    path: str | Path | None = None
    mime_type: str | None = None
    format: str | None = None
    annotations: Annotations | None = None
    meta: dict[str, Any] | None = None
    kind: ClassVar[str] = ""

    def to_json(self) -> dict[str, Any]:
        data, mime = _media(self.kind, self.data, self.path, self.mime_type, self.format)
        return _with_annotations({"type": self.kind, "data": data, "mimeType": mime}, self.annotations, self.meta)


@dataclass(frozen=True, slots=True)
class Image(_Media):
    """An image. `data` is raw bytes (or an already base64-encoded str); or give `path` to read a file."""

    kind: ClassVar[str] = "image"


@dataclass(frozen=True, slots=True)
class Audio(_Media):
    """Audio. `data` is raw bytes (or an already base64-encoded str); or give `path` to read a file."""

    kind: ClassVar[str] = "audio"


@dataclass(frozen=True, slots=True)
class EmbeddedResource:
    """A resource's contents inlined in a result: `text`, or binary `blob` (bytes are base64-encoded)."""

    uri: str
    text: str | None = None
    blob: bytes | str | None = None
    mime_type: str | None = None
    annotations: Annotations | None = None
    meta: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        if (self.text is None) == (self.blob is None):
            raise ValueError("EmbeddedResource needs exactly one of text= or blob=")
        resource: dict[str, Any] = {"uri": self.uri}
        if self.mime_type is not None:
            resource["mimeType"] = self.mime_type
        if self.text is not None:
            resource["text"] = self.text
        else:
            blob = self.blob
            resource["blob"] = blob if isinstance(blob, str) else base64.b64encode(blob or b"").decode("ascii")
        return _with_annotations({"type": "resource", "resource": resource}, self.annotations, self.meta)


@dataclass(frozen=True, slots=True)
class ResourceLink:
    """A link to a resource the client may read later."""

    uri: str
    name: str
    title: str | None = None
    description: str | None = None
    mime_type: str | None = None
    size: int | None = None
    annotations: Annotations | None = None
    meta: dict[str, Any] | None = None
    icons: list[dict[str, Any]] = field(default_factory=lambda: [])

    def to_json(self) -> dict[str, Any]:
        block: dict[str, Any] = {"type": "resource_link", "uri": self.uri, "name": self.name}
        for key, value in (
            ("title", self.title),
            ("description", self.description),
            ("mimeType", self.mime_type),
            ("size", self.size),
        ):
            if value is not None:
                block[key] = value
        if self.icons:
            block["icons"] = self.icons
        return _with_annotations(block, self.annotations, self.meta)


ContentBlock = TextContent | Image | Audio | EmbeddedResource | ResourceLink
CONTENT_TYPES = (TextContent, Image, Audio, EmbeddedResource, ResourceLink)
