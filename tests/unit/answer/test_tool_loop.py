"""The tool loop against the fake model: calls run, results go back redacted, rounds bounded, actions approved."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import pytest

from bot.answer.asking import ask
from bot.answer.tool_loop import ToolRun
from bot.errors import ModelHTTPError, ToolError
from bot.model.client import Answer, ModelClient
from bot.model.messages import ChatMessage, ToolCall
from bot.settings import Settings
from bot.slack.rendering import CardText
from bot.tools.base import Decision, Source, Toolbox, ToolResult, ToolSpec
from tests.fakes.model_api import MODEL_KEY, FakeModel, Reply, ToolCalls, text_of, tool_messages
from tests.settings_env import REQUIRED

MESSAGES = [ChatMessage("system", "s"), ChatMessage("user", "Ana: what is the status of order 7731?")]


class FakeTool:
    def __init__(self, name: str, result: str = "ok", *, read_only: bool = True, delay: float = 0.0) -> None:
        self.spec = ToolSpec(f"orders__{name}", name, "orders", f"{name} tool", {"type": "object"}, not read_only)
        self.result = result
        self.delay = delay
        self.calls: list[dict[str, Any]] = []

    async def call(self, arguments: dict[str, Any]) -> ToolResult:
        self.calls.append(arguments)
        await asyncio.sleep(self.delay)
        if self.result == "fail":
            raise ToolError("the server said: internal error")
        return ToolResult(self.result, sources=(Source("https://example.slack.com/archives/C1/p1", "a message"),))


class Approving:
    def __init__(self, decision: Decision) -> None:
        self.decision = decision
        self.asked: list[tuple[str, Mapping[str, Any]]] = []

    async def decide(self, spec: ToolSpec, arguments: Mapping[str, Any]) -> Decision:
        self.asked.append((spec.name, arguments))
        return self.decision


@pytest.fixture
async def model(fake_model: FakeModel) -> AsyncIterator[ModelClient]:
    async with httpx.AsyncClient() as http:
        yield ModelClient(http, base_url=fake_model.url, api_key=MODEL_KEY, model_id="m", timeout_seconds=10)


def settings(**environ: str) -> Settings:
    return Settings.from_env({**REQUIRED, **environ})


async def run_ask(
    model: ModelClient, toolbox: Toolbox, approver: Approving | None = None, **environ: str
) -> tuple[str, Answer, ToolRun]:
    shown: list[str] = []

    async def consume(stream: AsyncIterator[str]) -> None:
        async for text in stream:
            shown.append(text)

    answer, run = Answer(), ToolRun()
    await ask(model, MESSAGES, settings(**environ), consume, answer, toolbox=toolbox, approver=approver, run=run)
    return "".join(shown), answer, run


async def test_calls_run_and_their_results_go_back_as_tool_messages(model: ModelClient, fake_model: FakeModel) -> None:
    """Two calls in one turn both run; the next request answers each by its id; the answer names them."""
    status, history = FakeTool("status", "order 7731 shipped"), FakeTool("history", "packed on Monday")
    fake_model.script += [
        ToolCalls([("orders__status", {"order": 7731}), ("orders__history", {"order": 7731})], text="Looking…"),
        Reply(["It shipped."]),
    ]
    shown, answer, run = await run_ask(model, Toolbox([status, history]))
    assert status.calls == [{"order": 7731}]
    assert history.calls == [{"order": 7731}]
    second = fake_model.requests[1]
    assert [(m["tool_call_id"], m["content"]) for m in tool_messages(second)] == [
        ("call_0_orders__status", "order 7731 shipped"),
        ("call_1_orders__history", "packed on Monday"),
    ]
    assert second["messages"][-3]["tool_calls"][0]["function"]["name"] == "orders__status"
    assert "Used status (orders)" in shown
    assert shown.index("Looking…") < shown.index("It shipped.")
    assert "**Sources**" in shown
    assert "https://example.slack.com/archives/C1/p1" in shown
    assert answer.usage["prompt_tokens"] == 30
    assert run.steps == 1


async def test_a_secret_in_a_tool_result_is_redacted_before_the_model_sees_it(
    model: ModelClient, fake_model: FakeModel
) -> None:
    tool = FakeTool("status", "contact: ana@example.com, card 4111 1111 1111 1111")
    fake_model.script += [ToolCalls([("orders__status", {})]), Reply(["done"])]
    await run_ask(model, Toolbox([tool]))
    sent = tool_messages(fake_model.requests[1])[0]["content"]
    assert "ana@example.com" not in sent
    assert "4111" not in sent


async def test_a_huge_result_is_capped(model: ModelClient, fake_model: FakeModel) -> None:
    tool = FakeTool("status", "x" * 100_000)
    fake_model.script += [ToolCalls([("orders__status", {})]), Reply(["done"])]
    await run_ask(model, Toolbox([tool], result_chars=8000))
    sent = tool_messages(fake_model.requests[1])[0]["content"]
    assert len(sent) < 8100
    assert "92000 more characters left out" in sent


async def test_a_model_that_never_stops_calling_ends_with_an_honest_note(
    model: ModelClient, fake_model: FakeModel
) -> None:
    fake_model.default = lambda request: ToolCalls([("orders__status", {"n": len(request["messages"])})])
    tool = FakeTool("status")
    shown, answer, _run = await run_ask(model, Toolbox([tool]), MAX_TOOL_STEPS="3")
    assert len(tool.calls) == 3
    assert len(fake_model.requests) == 4
    assert "kept calling tools past the limit of 3 rounds" in shown
    assert answer.finish_reason == "tool_steps"


async def test_a_failing_or_slow_tool_is_told_to_the_model(model: ModelClient, fake_model: FakeModel) -> None:
    failing, slow = FakeTool("status", "fail"), FakeTool("history", delay=5)
    fake_model.script += [ToolCalls([("orders__status", {}), ("orders__history", {})]), Reply(["sorry"])]
    shown, _, _ = await run_ask(model, Toolbox([failing, slow], timeout_seconds=0.2))
    results = [m["content"] for m in tool_messages(fake_model.requests[1])]
    assert results == ["The tool failed: the server said: internal error", "The tool did not answer within 0.2 s."]
    assert shown.count("Could not use") == 2


async def test_malformed_arguments_and_unknown_tools_are_answered(model: ModelClient, fake_model: FakeModel) -> None:
    fake_model.script += [ToolCalls([("orders__nope", {})]), Reply(["ok"])]
    await run_ask(model, Toolbox([FakeTool("status")]))
    assert tool_messages(fake_model.requests[1])[0]["content"] == "There is no tool named 'orders__nope'."


@pytest.mark.parametrize(
    ("decision", "ran", "said"),
    [
        (Decision.APPROVED, True, "ok"),
        (Decision.DENIED, False, "refused this action"),
        (Decision.EXPIRED, False, "Nobody approved this action in time"),
    ],
)
async def test_an_action_runs_only_once_approved(
    model: ModelClient, fake_model: FakeModel, decision: Decision, ran: bool, said: str
) -> None:
    restart = FakeTool("restart", read_only=False)
    approver = Approving(decision)
    fake_model.script += [ToolCalls([("orders__restart", {"worker": "staging"})]), Reply(["done"])]
    await run_ask(model, Toolbox([restart]), approver)
    assert approver.asked == [("orders__restart", {"worker": "staging"})]
    assert bool(restart.calls) is ran
    assert said in tool_messages(fake_model.requests[1])[0]["content"]


async def test_without_an_approver_an_action_does_not_run(model: ModelClient, fake_model: FakeModel) -> None:
    restart = FakeTool("restart", read_only=False)
    fake_model.script += [ToolCalls([("orders__restart", {})]), Reply(["done"])]
    await run_ask(model, Toolbox([restart]))
    assert restart.calls == []


async def test_without_tools_nothing_changes(model: ModelClient, fake_model: FakeModel) -> None:
    shown, _, _ = await run_ask(model, Toolbox([]))
    assert "tools" not in fake_model.requests[0]
    assert shown.startswith("You said:")


async def test_a_model_that_refuses_tools_still_answers_and_says_so(model: ModelClient, fake_model: FakeModel) -> None:
    from tests.fakes.model_api import WholeReply

    refusal = json.dumps({"error": {"message": "Extra inputs are not permitted: tools", "type": "invalid"}})
    fake_model.script += [WholeReply(400, refusal), Reply(["from memory"])]
    shown, _answer, _ = await run_ask(model, Toolbox([FakeTool("status")]))
    assert "from memory" in shown
    assert "would not take tools" in shown
    assert text_of(fake_model.requests[1]["messages"][-1]).endswith("order 7731?")


class SlowApproving(Approving):
    async def decide(self, spec: ToolSpec, arguments: Mapping[str, Any]) -> Decision:
        await asyncio.sleep(1.2)
        return await super().decide(spec, arguments)


async def test_the_time_an_asker_takes_to_approve_does_not_count_against_the_answer(
    model: ModelClient, fake_model: FakeModel
) -> None:
    restart = FakeTool("restart", read_only=False)
    fake_model.script += [ToolCalls([("orders__restart", {})]), Reply(["Restarted."])]
    shown, _, _ = await run_ask(model, Toolbox([restart]), SlowApproving(Decision.APPROVED), MODEL_TIMEOUT_SECONDS="1")
    assert restart.calls == [{}]
    assert "Restarted." in shown
    assert "ran out of time" not in shown


async def test_a_context_too_long_after_a_tool_ran_does_not_run_it_again(
    model: ModelClient, fake_model: FakeModel
) -> None:
    from bot.errors import ContextTooLong
    from tests.fakes.model_api import WholeReply

    restart = FakeTool("restart", read_only=False)
    too_long = WholeReply(400, '{"error": {"message": "prompt is too long: 250000 tokens"}}')
    fake_model.script += [ToolCalls([("orders__restart", {})]), too_long, ToolCalls([("orders__restart", {})])]
    with pytest.raises(ContextTooLong):
        await run_ask(model, Toolbox([restart]), Approving(Decision.APPROVED))
    assert restart.calls == [{}]


async def test_thousands_of_calls_in_one_turn_run_only_a_few_and_show_few_lines(
    model: ModelClient, fake_model: FakeModel
) -> None:
    """A model asking for 2,000 calls at once gets the first few run and answered; the thread is not flooded."""
    tool = FakeTool("status")
    fake_model.script += [ToolCalls([("orders__status", {"n": n}) for n in range(2000)]), Reply(["done"])]
    shown, _, _ = await run_ask(model, Toolbox([tool]))
    assert 1 <= len(tool.calls) <= 16
    assert shown.count("Used") == len(tool.calls)
    assert "asked for 2000 tool calls at once" in shown
    second = fake_model.requests[1]["messages"]
    asked = [message for message in second if message["role"] == "assistant" and message.get("tool_calls")]
    assert len(asked[0]["tool_calls"]) == len(tool.calls) == len(tool_messages(fake_model.requests[1]))
    assert "Only the first" in tool_messages(fake_model.requests[1])[-1]["content"]


async def test_a_flood_of_credential_shaped_text_is_cut_before_it_is_redacted() -> None:
    """A server answering with 10 MB of token-shaped text must not hold the event loop (every answer of
    the process) while the whole of it is redacted, only to keep 8,000 characters."""
    flood = FakeTool("status", "Authorization: Bearer abc sk-" + "x" * 20 + " xoxb-123456 " * 250_000)
    started = time.process_time()
    outcome = await Toolbox([flood]).run(ToolCall("c1", "orders__status", "{}"), Approving(Decision.APPROVED))
    assert time.process_time() - started < 1.0  # generous: redacting it all took about 5 s
    assert "more characters left out" in outcome.text
    assert "xoxb-123456" not in outcome.text
    assert "abc" not in outcome.text


async def test_a_huge_unknown_tool_name_is_shown_short(model: ModelClient, fake_model: FakeModel) -> None:
    """The model names the tools it calls: a name of 50,000 characters does not become the answer's line."""
    fake_model.script += [ToolCalls([("x" * 50_000, {})]), Reply(["ok"])]
    shown, _, _ = await run_ask(model, Toolbox([FakeTool("status")]))
    assert len(shown) < 400
    assert len(tool_messages(fake_model.requests[1])[0]["content"]) < 400


async def test_a_400_about_one_answers_tool_history_does_not_turn_tools_off_for_everyone(
    model: ModelClient, fake_model: FakeModel
) -> None:
    """A model accepted `tools` and called one; the next round is refused for something in that call (a
    name the gateway finds invalid). That is this answer's trouble, not a model that refuses tools: the
    next question is still offered them."""
    from tests.fakes.model_api import WholeReply

    invalid = json.dumps(
        {"error": {"message": "Invalid 'messages[2].tool_calls[0].function.name': does not match", "type": "x"}}
    )
    fake_model.script += [ToolCalls([("orders__status", {})]), WholeReply(400, invalid), Reply(["next answer"])]
    with pytest.raises(ModelHTTPError):  # this answer fails, and says so
        await run_ask(model, Toolbox([FakeTool("status")]))
    await run_ask(model, Toolbox([FakeTool("status")]))
    assert len(fake_model.requests) == 3
    assert fake_model.requests[-1].get("tools"), "tools were turned off for the model by one answer's 400"


async def run_ask_items(model: ModelClient, toolbox: Toolbox, approver: Approving | None = None) -> list[str]:
    """What the loop yields, each item as it came (task cards among the text)."""
    items: list[str] = []

    async def consume(stream: AsyncIterator[str]) -> None:
        async for text in stream:
            items.append(text)

    await ask(model, MESSAGES, settings(), consume, Answer(), toolbox=toolbox, approver=approver, run=ToolRun())
    return items


async def test_each_call_is_a_task_card_in_progress_then_done_with_its_output_and_sources(
    model: ModelClient, fake_model: FakeModel
) -> None:
    """A card per call, its id the same from start to end and new for every call, also when a model repeats
    call ids across rounds; its output is the result's first line, redacted as the model's copy is."""
    status = FakeTool("status", "Shipped to ana@example.com on Monday.\nMore lines.")
    fake_model.script += [
        ToolCalls([("orders__status", {"order": 1})]),
        ToolCalls([("orders__status", {"order": 2})]),  # the fake model names this call as the one before
        Reply(["Both shipped."]),
    ]
    items = await run_ask_items(model, Toolbox([status]))
    cards = [item.card for item in items if isinstance(item, CardText)]
    assert [(card.id, card.status) for card in cards] == [
        ("tool-1", "in_progress"),
        ("tool-1", "complete"),
        ("tool-2", "in_progress"),
        ("tool-2", "complete"),
    ]
    done = cards[1]
    assert done.title == "status (orders)"
    assert done.output.startswith("Shipped to ")
    assert "ana@example.com" not in done.output
    assert done.sources == (("https://example.slack.com/archives/C1/p1", "a message"),)
    lines = [str(item) for item in items if isinstance(item, CardText)]
    assert lines[0] == ""  # a card in progress has no line
    assert "Used status (orders)" in lines[1]  # the line that stands in for the card


@pytest.mark.parametrize(
    ("result", "summary"),
    [
        # Past the first 512 characters as the tool wrote them, within the card's 256 once spaces are collapsed.
        ("Paid with" + " " * 500 + "card 4111 1111 1111 1111 on Monday.", ""),
        # Across the first 200 characters of a summary.
        ("Paid.", "Paid with" + " " * 190 + "card 4111 1111 1111 1111 on Monday."),
        # Split over two lines of a summary, one number on the card.
        ("Paid.", "Paid with card 4111 1111\n1111 1111 on Monday."),
    ],
)
async def test_a_card_number_in_a_cards_output_is_masked_wherever_it_falls(
    model: ModelClient, fake_model: FakeModel, result: str, summary: str
) -> None:
    class Summarized(FakeTool):
        async def call(self, arguments: dict[str, Any]) -> ToolResult:
            return ToolResult(result, summary=summary)

    fake_model.script += [ToolCalls([("orders__status", {})]), Reply(["Paid."])]
    items = await run_ask_items(model, Toolbox([Summarized("status")]))
    done = next(item.card for item in items if isinstance(item, CardText) and item.card.final)
    shown = done.chunk()["output"]
    assert shown.startswith("Paid with card ")
    assert "4111" not in shown
    assert "1111 1111" not in shown


async def test_a_failed_or_refused_call_is_an_error_card_that_says_why(
    model: ModelClient, fake_model: FakeModel
) -> None:
    broken, action = FakeTool("broken", "fail"), FakeTool("restart", read_only=False)
    fake_model.script += [ToolCalls([("orders__broken", {}), ("orders__restart", {})]), Reply(["Sorry."])]
    items = await run_ask_items(model, Toolbox([broken, action]), Approving(Decision.DENIED))
    failed, refused = [item.card for item in items if isinstance(item, CardText) and item.card.final]
    assert (failed.status, failed.output) == ("error", "The tool failed: the server said: internal error")
    assert (refused.status, refused.output) == ("error", "Not run: the person who asked refused it.")
    assert action.calls == []
