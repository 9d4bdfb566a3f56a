"""Validation of server messages against the official MCP JSON Schema of a protocol version.

The schemas are part of the repository's test data (`tests/spec/schema/<version>/schema.json`, copied from the
official specification; see `tests/spec/README.md`). `$FERROMCP_SPEC_DIR` may point at another directory of the
same layout to test against it instead.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

import jsonschema

# Result type of each request method's response.
RESULT_TYPES = {
    "initialize": "InitializeResult",
    "ping": "EmptyResult",
    "logging/setLevel": "EmptyResult",
    "tools/list": "ListToolsResult",
    "tools/call": "CallToolResult",
    "resources/list": "ListResourcesResult",
    "resources/templates/list": "ListResourceTemplatesResult",
    "resources/read": "ReadResourceResult",
    "resources/subscribe": "EmptyResult",
    "resources/unsubscribe": "EmptyResult",
    "prompts/list": "ListPromptsResult",
    "prompts/get": "GetPromptResult",
    "completion/complete": "CompleteResult",
    "tasks/get": "GetTaskResult",
    "tasks/list": "ListTasksResult",
    "tasks/cancel": "CancelTaskResult",
    "tasks/result": "GetTaskPayloadResult",
    "server/discover": "DiscoverResult",
    "subscriptions/listen": "SubscriptionsListenResult",
}
# Methods of extensions, which the official schema does not define: their results are checked for the envelope
# and, in the stateless era, for `resultType`.
EXTENSION_METHODS = frozenset({"skills/list", "skills/get", "resources/directory/read"})
# Requests the server sends to the client.
REQUEST_TYPES = {
    "sampling/createMessage": "CreateMessageRequest",
    "elicitation/create": "ElicitRequest",
    "roots/list": "ListRootsRequest",
    "ping": "PingRequest",
}
NOTIFICATION_TYPES = {
    "notifications/progress": "ProgressNotification",
    "notifications/message": "LoggingMessageNotification",
    "notifications/tools/list_changed": "ToolListChangedNotification",
    "notifications/resources/list_changed": "ResourceListChangedNotification",
    "notifications/prompts/list_changed": "PromptListChangedNotification",
    "notifications/resources/updated": "ResourceUpdatedNotification",
    "notifications/tasks/status": "TaskStatusNotification",
    "notifications/elicitation/complete": "ElicitationCompleteNotification",
    "notifications/cancelled": "CancelledNotification",
    "notifications/subscriptions/acknowledged": "SubscriptionsAcknowledgedNotification",
}


# Every released protocol version; tests/test_spec_data.py checks that each schema is here.
VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28")
VENDORED = Path(__file__).resolve().parent.parent / "spec"


def spec_dir() -> Path:
    env = os.environ.get("FERROMCP_SPEC_DIR")
    return Path(env) if env else VENDORED


def schema_path(version: str) -> Path:
    return spec_dir() / "schema" / version / "schema.json"


@functools.cache
def _root(version: str) -> dict[str, Any]:
    return json.loads(schema_path(version).read_text())


@functools.cache
def _validator(version: str, definition: str) -> Any:
    root = _root(version)
    defs_key = "$defs" if "$defs" in root else "definitions"
    if definition not in root[defs_key]:
        raise KeyError(f"{definition} is not defined in the {version} schema")
    schema = {**root, "$ref": f"#/{defs_key}/{definition}"}
    cls = jsonschema.validators.validator_for(root)
    return cls(schema)


def has_definition(version: str, definition: str) -> bool:
    root = _root(version)
    return definition in root.get("$defs", root.get("definitions", {}))


def validate(version: str, definition: str, instance: Any) -> None:
    errors = sorted(_validator(version, definition).iter_errors(instance), key=lambda e: list(e.path))
    if errors:
        details = "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:5])
        raise AssertionError(f"not a valid {version} {definition}: {details}\n{json.dumps(instance)[:2000]}")


def check_server_message(version: str, msg: Any, methods: dict[Any, str]) -> None:
    """Checks one message the server wrote. `methods` maps the client's request ids to their methods."""
    if isinstance(msg, list):
        assert msg, "empty batch response"
        for item in msg:
            check_server_message(version, item, methods)
        return
    assert isinstance(msg, dict), msg
    if "error" in msg:
        if "id" not in msg:
            # Only 2025-11-25 and later can express an error whose request id could not be read.
            validate("2025-11-25", "JSONRPCErrorResponse", msg)
        else:
            validate(
                version,
                "JSONRPCErrorResponse" if has_definition(version, "JSONRPCErrorResponse") else "JSONRPCError",
                msg,
            )
        return
    if "result" in msg:
        envelope = "JSONRPCResultResponse" if has_definition(version, "JSONRPCResultResponse") else "JSONRPCResponse"
        validate(version, envelope, msg)
        method = methods.get(msg["id"])
        assert method is not None, f"response to an id the client never sent: {msg}"
        if method in EXTENSION_METHODS:
            assert isinstance(msg["result"], dict), msg
            if version >= "2026-07-28":
                assert msg["result"].get("resultType") == "complete", msg
            return
        result_type = RESULT_TYPES[method]
        if method == "tools/call" and isinstance(msg["result"], dict) and "task" in msg["result"]:
            result_type = "CreateTaskResult"  # a task-augmented call
        if isinstance(msg["result"], dict) and msg["result"].get("resultType") == "input_required":
            assert method in ("tools/call", "prompts/get", "resources/read"), f"input_required on {method}"
            result_type = "InputRequiredResult"
        validate(version, result_type, msg["result"])
        if RESULT_TYPES[method] == "EmptyResult":
            assert msg["result"] == {}, msg
        return
    if "id" in msg:
        validate(version, "JSONRPCRequest", msg)
        validate(version, REQUEST_TYPES[msg["method"]], msg)
        return
    validate(version, "JSONRPCNotification", msg)
    validate(version, NOTIFICATION_TYPES[msg["method"]], msg)


def check_transcript(lines: list[tuple[str, str]], version: str | None = None) -> list[Any]:
    """Validates every server line of a transcript [(direction, line)]; returns the server messages."""
    methods: dict[Any, str] = {}
    out: list[Any] = []
    for direction, line in lines:
        if direction == "in":
            try:
                sent = json.loads(line)
            except ValueError:
                continue
            for item in sent if isinstance(sent, list) else [sent]:
                if isinstance(item, dict) and "id" in item and "method" in item:
                    methods[item["id"]] = item["method"]
            continue
        assert line.endswith("\n") and "\n" not in line[:-1], f"not one line: {line!r}"
        msg = json.loads(line)
        if version is None and isinstance(msg, dict) and methods.get(msg.get("id")) == "initialize":
            version = msg["result"]["protocolVersion"]
        check_server_message(version or "2025-11-25", msg, methods)
        out.append(msg)
    return out
