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

from ._content import Annotations, Audio, ContentBlock, EmbeddedResource, Image, ResourceLink, TextContent
from ._context import Context, ElicitResult, LogLevel, McpError, SamplingResult
from ._core import __version__
from ._server import HttpOptions, Server
from ._tools import ToolError

__all__ = [
    "Annotations",
    "Audio",
    "ContentBlock",
    "Context",
    "ElicitResult",
    "EmbeddedResource",
    "HttpOptions",
    "Image",
    "LogLevel",
    "McpError",
    "ResourceLink",
    "SamplingResult",
    "Server",
    "TextContent",
    "ToolError",
    "__version__",
]
