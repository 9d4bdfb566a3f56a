"""ferromcp: a Rust-accelerated runtime for Model Context Protocol servers.

from ferromcp import Server

server = Server("demo")

@server.tool
def add(a: int, b: int) -> int:
    "Add two integers."
    return a + b

if __name__ == "__main__":
    server.run()
"""

from ._caching import CacheHint
from ._content import Annotations, Audio, ContentBlock, EmbeddedResource, Image, ResourceLink, TextContent
from ._context import (
    Context,
    ElicitResult,
    InputRequired,
    LogLevel,
    McpError,
    MissingClientCapability,
    ProtocolError,
    SamplingResult,
)
from ._core import DefinitionError, ResultError, __version__
from ._header import Header
from ._rate_limit import RATE_LIMITED, RateLimit
from ._server import HttpOptions, Server
from ._surface import (
    Completion,
    CompletionArgument,
    CompletionContext,
    Message,
    PromptRef,
    ResourceContents,
    ResourceNotFound,
    ResourceRef,
)
from ._tools import ToolError, UrlElicitation, UrlElicitationRequired

__all__ = [
    "RATE_LIMITED",
    "Annotations",
    "Audio",
    "CacheHint",
    "Completion",
    "CompletionArgument",
    "CompletionContext",
    "ContentBlock",
    "Context",
    "DefinitionError",
    "ElicitResult",
    "EmbeddedResource",
    "Header",
    "HttpOptions",
    "Image",
    "InputRequired",
    "LogLevel",
    "McpError",
    "Message",
    "MissingClientCapability",
    "PromptRef",
    "ProtocolError",
    "RateLimit",
    "ResourceContents",
    "ResourceLink",
    "ResourceNotFound",
    "ResourceRef",
    "ResultError",
    "SamplingResult",
    "Server",
    "TextContent",
    "ToolError",
    "UrlElicitation",
    "UrlElicitationRequired",
    "__version__",
]
