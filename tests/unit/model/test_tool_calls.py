"""Streamed tool calls: assembled from fragments by index, several per turn; `tools` refused once, remembered."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from bot.model.client import ModelClient, ModelRequest
from bot.model.messages import ChatMessage, ToolCall
from bot.model.tool_calls import ToolCallAssembler
from tests.conftest import ModelHTTP
from tests.fakes.model_api import MODEL_KEY, FakeModel, Reply, ToolCalls, WholeReply

TOOL = {"type": "function", "function": {"name": "orders__status", "description": "d", "parameters": {}}}
REQUEST = ModelRequest([ChatMessage("system", "s"), ChatMessage("user", "hi")], 0.5, 100, tools=[TOOL])


@pytest.fixture
async def client(fake_model: FakeModel, model_http: ModelHTTP) -> AsyncIterator[ModelClient]:
    async with model_http() as http:
        yield ModelClient(http, base_url=fake_model.url, api_key=MODEL_KEY, model_id="m", timeout_seconds=3)


async def test_calls_streamed_in_fragments_are_assembled_by_index(client: ModelClient, fake_model: FakeModel) -> None:
    """Two calls in one turn, their arguments interleaved in fragments, come out whole and in order."""
    fake_model.script.append(
        ToolCalls([("orders__status", {"order": 7731}), ("slack__search", {"query": "deploy freeze"})], pieces=4)
    )
    answer = await client.complete(REQUEST)
    assert answer.finish_reason == "tool_calls"
    assert [(call.name, json.loads(call.arguments)) for call in answer.tool_calls] == [
        ("orders__status", {"order": 7731}),
        ("slack__search", {"query": "deploy freeze"}),
    ]
    sent = fake_model.requests[0]
    assert sent["tools"] == [TOOL]
    assert sent["tool_choice"] == "auto"


def test_a_name_repeated_in_every_piece_is_kept_once() -> None:
    calls = ToolCallAssembler()
    calls.feed([{"index": 0, "id": "a", "function": {"name": "t", "arguments": '{"x"'}}])
    calls.feed([{"index": 0, "function": {"name": "t", "arguments": ": 1}"}}])
    assert calls.calls() == [ToolCall("a", "t", '{"x": 1}')]


def test_a_non_streamed_answer_with_calls_is_read() -> None:
    calls = ToolCallAssembler()
    calls.feed([{"id": "a", "type": "function", "function": {"name": "t", "arguments": {"x": 1}}}])
    assert calls.calls() == [ToolCall("a", "t", '{"x": 1}')]


async def test_tool_messages_are_sent_in_openai_shape(client: ModelClient, fake_model: FakeModel) -> None:
    call = ToolCall("call_1", "orders__status", '{"order": 1}')
    messages = [
        ChatMessage("user", "hi"),
        ChatMessage("assistant", "", tool_calls=(call,)),
        ChatMessage("tool", "shipped", tool_call_id="call_1"),
    ]
    await client.complete(ModelRequest(messages, 0.5, 100, tools=[TOOL]))
    assert fake_model.requests[0]["messages"][1:] == [
        {"role": "assistant", "content": None, "tool_calls": [call.as_json()]},
        {"role": "tool", "tool_call_id": "call_1", "content": "shipped"},
    ]


async def test_a_model_that_refuses_tools_is_asked_without_them_and_that_is_remembered(
    client: ModelClient, fake_model: FakeModel
) -> None:
    refusal = json.dumps({"error": {"message": "tools is not supported for this model", "type": "invalid"}})
    fake_model.script += [WholeReply(400, refusal), Reply(["plain"]), Reply(["again"])]
    answer = await client.complete(REQUEST)
    assert (answer.text, answer.tools_refused) == ("plain", True)
    await client.complete(REQUEST)
    assert ["tools" in request for request in fake_model.requests] == [True, False, False]


def test_endless_arguments_or_indexes_are_not_gathered_without_bound() -> None:
    """A gateway streaming tool-call fragments without end (arguments of gigabytes, a million indexes) is
    cut off once past any real call, instead of growing the process until the deadline."""
    calls = ToolCallAssembler()
    piece = {"index": 0, "id": "c1", "function": {"name": "orders__status", "arguments": "x" * 65536}}
    for _ in range(64):  # 4 MB of one call's arguments
        calls.feed([piece])
    assert calls.overflowed
    assert sum(len(call.arguments) for call in calls.calls()) <= 2 * 1024 * 1024
    many = ToolCallAssembler()
    many.feed([{"index": n, "function": {"name": "orders__status", "arguments": "{}"}} for n in range(100_000)])
    assert many.overflowed
    assert len(many.calls()) <= 4096


async def test_endless_tool_call_fragments_are_broken_off(client: ModelClient, fake_model: FakeModel) -> None:
    from bot.errors import ModelAnswerTooLarge

    fake_model.script.append(ToolCalls([("orders__status", {"note": "y" * 2_000_000})], pieces=100))
    with pytest.raises(ModelAnswerTooLarge):
        await client.complete(REQUEST)
