"""Input-required round trips (MRTR, 2026-07-28) through the official client, over stdio and HTTP, in its
stateless mode and in its default mode (which discovers the server first): `ctx.elicit()`, `ctx.sample()` and
`ctx.list_roots()` work unchanged in handlers of tools, prompts and resources; the client sees
`resultType: "input_required"` with `inputRequests` and a sealed `requestState`, answers through its callbacks,
and retries. Every message is validated against the 2026-07-28 schema. Legacy clients are still asked directly
(`tests/test_http_interop.py`)."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import types
from mcp.shared.exceptions import MCPError

from tests.conftest import Connect
from tests.support.clients import Wire


class User:
    """The client side's answers, and what it was asked."""

    def __init__(self, *answers: dict[str, Any]) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []

    async def elicit(self, context: Any, params: Any) -> types.ElicitResult:
        self.asked.append(params.message)
        return types.ElicitResult(action="accept", content=self.answers.pop(0))

    async def sample(self, context: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        self.asked.append("sampling")
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text="7"), model="m", stop_reason="endTurn"
        )

    async def roots(self, context: Any) -> types.ListRootsResult:
        self.asked.append("roots")
        return types.ListRootsResult(roots=[types.Root(uri="file:///work", name="work")])

    def callbacks(self) -> dict[str, Any]:
        return {
            "elicitation_callback": self.elicit,
            "sampling_callback": self.sample,
            "list_roots_callback": self.roots,
        }


def text(result: Any) -> str:
    return result.content[0].text


def input_rounds(wire: Wire) -> list[dict[str, Any]]:
    return [r for r in wire.results() if r.get("resultType") == "input_required"]


@pytest.mark.parametrize("mode", ["2026-07-28", "auto"])
async def test_sampling_elicitation_and_roots_round_trips(connect: Connect, mode: str) -> None:
    user = User({"name": "Ada", "email": "ada@example.com", "age": 36})
    async with connect(mode=mode, **user.callbacks()) as (client, wire):
        assert text(await client.call_tool("ask_model", {"prompt": "a number?"})) == "model m said: 7"
        contact = await client.call_tool("ask_user", {"question": "Who are you?"})
        assert contact.structured_content == {"action": "accept", "name": "Ada", "email": "ada@example.com", "age": 36}
        assert (await client.call_tool("roots", {})).structured_content == {"result": ["file:///work"]}
    assert user.asked == ["sampling", "Who are you?", "roots"]
    rounds = input_rounds(wire)
    assert [list(r["inputRequests"]) for r in rounds] == [["sampling-1"], ["elicitation-1"], ["roots-1"]]
    assert all(isinstance(r["requestState"], str) and r["requestState"] for r in rounds)
    if mode == "auto":
        assert wire.methods()[0] == "server/discover", "the default mode should discover the stateless era"


async def test_sequential_questions_replay_the_handler_with_earlier_answers(connect: Connect) -> None:
    user = User({"name": "Ada"}, {"colour": "green"})
    async with connect(**user.callbacks()) as (client, wire):
        result = await client.call_tool("interview", {})
    assert text(result).startswith("Ada likes green (run ")
    assert user.asked == ["Your name?", "Favourite colour?"]
    rounds = input_rounds(wire)
    assert [list(r["inputRequests"]) for r in rounds] == [["elicitation-1"], ["elicitation-2"]]
    assert rounds[0]["requestState"] != rounds[1]["requestState"]
    # The third attempt carried only the second answer: the first came back in the sealed state.
    retries = [m for m in wire.sent if m.get("params", {}).get("name") == "interview"]
    assert [sorted(m["params"].get("inputResponses", {})) for m in retries] == [
        [],
        ["elicitation-1"],
        ["elicitation-2"],
    ]


async def test_questions_asked_together_come_in_one_round(connect: Connect) -> None:
    user = User({"name": "Grace"})
    async with connect(**user.callbacks()) as (client, wire):
        assert text(await client.call_tool("survey", {})) == "Grace picked 7 with 1 roots"
    rounds = input_rounds(wire)
    assert len(rounds) == 1
    assert {k: v["method"] for k, v in rounds[0]["inputRequests"].items()} == {
        "name": "elicitation/create",
        "number": "sampling/createMessage",
        "roots": "roots/list",
    }


async def test_prompts_and_resources_can_ask_too(connect: Connect) -> None:
    user = User({"name": "the board"}, {})
    async with connect(**user.callbacks()) as (client, wire):
        prompt = await client.get_prompt("briefing", {"topic": "rust"})
        assert prompt.messages[0].content.text == "Brief the board on rust."  # type: ignore[union-attr]
        read = await client.read_resource("test://vault/42")
        assert read.contents[0].text == "secret 42"  # type: ignore[union-attr]
    assert [list(r["inputRequests"]) for r in input_rounds(wire)] == [["audience"], ["approve"]]


async def test_an_undeclared_capability_is_refused(connect: Connect) -> None:
    # No sampling callback: the client does not declare sampling, so the tool may not ask for it.
    async with connect() as (client, _):
        with pytest.raises(MCPError) as refused:
            await client.call_tool("ask_model", {"prompt": "hi"})
    assert refused.value.error.code == -32021
    assert refused.value.error.data == {"requiredCapabilities": {"sampling": {}}}
