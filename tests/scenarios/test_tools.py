"""Tools end to end: the real app, the fake Slack and model, and a real MCP server on loopback.

A read-only MCP tool answers a question, and shows in the streamed answer as a task card (its line of
text where Slack refuses cards or the answer is posted); an action waits for its asker's Approve (anyone
else's click is refused privately); Slack search is offered only with an action token, searches public
channels only (in the asker's DM too), and drops every hit that someone in the thread may not read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from bot.slack.reply import CARD_REFUSALS
from bot.tools.approval import ACTION_ID
from tests.conftest import BotFactory, RunningBot
from tests.fakes.events import EventSender, block_action
from tests.fakes.mcp_server import MCP_TOKEN, FakeMcp, running_mcp_server
from tests.fakes.model_api import FakeModel, Reply, ToolCalls, tool_messages
from tests.fakes.slack_api import ACTION_TOKEN, BOT_USER_ID, FakeSlack


@pytest.fixture
def mcp_server() -> Iterator[FakeMcp]:
    with running_mcp_server() as server:
        yield server


def servers(mcp: FakeMcp, **entry: object) -> str:
    return json.dumps({"orders": {"url": mcp.url, "headers": {"Authorization": f"Bearer {MCP_TOKEN}"}, **entry}})


async def ask(fake_slack: FakeSlack, events: EventSender, text: str, **extra: Any) -> dict[str, Any]:
    question = fake_slack.post_as_person("C1", "UALICE", f"<@{BOT_USER_ID}> {text}", **extra)
    await events.mention(question)
    return question


def chunk_calls(fake_slack: FakeSlack) -> list[list[dict[str, Any]]]:
    """The chunks of every Slack call that carried any, in order."""
    return [call.params["chunks"] for call in fake_slack.calls if call.params.get("chunks")]


async def test_a_read_only_tool_answers_the_question(
    mcp_server: FakeMcp, fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: Any
) -> None:
    """The call shows as one task card, in progress and then complete with what it found; the text is the answer."""
    bot = await bot_factory(MCP_SERVERS=servers(mcp_server))
    events = EventSender(bot.url + "/slack/events", http)
    fake_model.script += [
        ToolCalls([("orders__order_status", {"order": 7731})]),
        Reply(["Order 7731 shipped on Monday."]),
    ]
    question = await ask(fake_slack, events, "what is the status of order 7731?")
    [reply] = await fake_slack.wait_for_replies("C1", question["ts"])
    await bot.runtime.tasks.wait()
    assert mcp_server.calls == [("order_status", {"order": 7731})]
    offered = [tool["function"]["name"] for tool in fake_model.requests[0]["tools"]]
    assert "orders__order_status" in offered
    assert "search_slack" not in offered  # the event brought no action token
    assert tool_messages(fake_model.requests[1])[0]["content"] == "Order 7731 shipped on Monday."
    assert reply == "Order 7731 shipped on Monday."  # the card stands for the call: no line of text
    [card] = fake_slack.task_cards("C1", question["ts"])
    assert card["title"] == "order_status (orders)"
    assert card["status"] == "complete"
    assert card["output"] == "Order 7731 shipped on Monday."
    sent = [chunk for chunks in chunk_calls(fake_slack) for chunk in chunks]
    assert [(chunk["id"], chunk["status"]) for chunk in sent] == [(card["id"], "in_progress"), (card["id"], "complete")]


async def test_a_tool_that_fails_shows_an_error_card_without_the_servers_secret(
    mcp_server: FakeMcp, fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: Any
) -> None:
    bot = await bot_factory(MCP_SERVERS=servers(mcp_server))
    events = EventSender(bot.url + "/slack/events", http)
    fake_model.script += [ToolCalls([("orders__broken", {})]), Reply(["The orders database is down."])]
    question = await ask(fake_slack, events, "is the orders database up?")
    [reply] = await fake_slack.wait_for_replies("C1", question["ts"])
    await bot.runtime.tasks.wait()
    [card] = fake_slack.task_cards("C1", question["ts"])
    assert card["status"] == "error"
    assert card["title"] == "broken (orders)"
    assert "database down" in card["output"]
    assert MCP_TOKEN not in json.dumps(chunk_calls(fake_slack))
    assert reply == "The orders database is down."


async def test_where_slack_refuses_task_cards_the_line_stands_in_and_that_is_remembered(
    mcp_server: FakeMcp, fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: Any
) -> None:
    """Refused on every card, each answer shows the call's line; after a few answers in a row, later answers
    send no cards at all."""
    bot = await bot_factory(MCP_SERVERS=servers(mcp_server))
    events = EventSender(bot.url + "/slack/events", http)
    fake_slack.refuses_chunks = "invalid_arguments"
    orders = [7731 + n for n in range(CARD_REFUSALS + 1)]
    for order in orders:
        fake_model.script += [ToolCalls([("orders__order_status", {"order": order})]), Reply([f"Order {order}: sent."])]
    for order in orders[:-1]:
        first = await ask(fake_slack, events, f"status of {order}?")
        [reply] = await fake_slack.wait_for_replies("C1", first["ts"])
        assert reply.startswith("_:white_check_mark: Used order_status (orders)_\n\n")
        assert reply.endswith(f"Order {order}: sent.")
    refused = len([call for call in fake_slack.calls if call.params.get("chunks")])
    assert refused >= CARD_REFUSALS
    second = await ask(fake_slack, events, f"and {orders[-1]}?")
    [reply] = await fake_slack.wait_for_replies("C1", second["ts"])
    await bot.runtime.tasks.wait()
    assert "Used order_status (orders)" in reply
    assert reply.endswith(f"Order {orders[-1]}: sent.")
    assert len([call for call in fake_slack.calls if call.params.get("chunks")]) == refused
    assert fake_slack.task_cards("C1", first["ts"]) == fake_slack.task_cards("C1", second["ts"]) == []


async def test_a_posted_answer_shows_each_call_as_its_line(
    mcp_server: FakeMcp, fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: Any
) -> None:
    bot = await bot_factory(MCP_SERVERS=servers(mcp_server), SLACK_STREAMING="false")
    events = EventSender(bot.url + "/slack/events", http)
    fake_model.script += [
        ToolCalls([("orders__order_status", {"order": 7731}), ("orders__broken", {})], text="Let me look."),
        Reply(["It shipped."]),
    ]
    question = await ask(fake_slack, events, "status of 7731?")
    await fake_slack.wait_for_replies("C1", question["ts"])
    await bot.runtime.tasks.wait()
    [reply] = fake_slack.bot_replies("C1", question["ts"])
    assert reply == (
        "Let me look.\n\n_:white_check_mark: Used order_status (orders)_\n\n"
        "_:warning: Could not use broken (orders)_\n\nIt shipped."
    )
    assert chunk_calls(fake_slack) == []


async def approval_request(fake_slack: FakeSlack, question: dict[str, Any]) -> dict[str, Any]:
    def posted() -> bool:
        return any(
            "blocks" in m and ACTION_ID in json.dumps(m["blocks"])
            for m in fake_slack.bot_messages("C1", question["ts"])
        )

    await fake_slack.wait_for(posted)
    return next(m for m in fake_slack.bot_messages("C1", question["ts"]) if ACTION_ID in json.dumps(m.get("blocks")))


def button(message: dict[str, Any], verdict: str) -> dict[str, Any]:
    for block in message["blocks"]:
        for element in block.get("elements") or []:
            if element.get("action_id") == f"{ACTION_ID}_{verdict}":
                return {"type": "button", "action_id": element["action_id"], "value": element["value"]}
    raise AssertionError("no such button")


async def test_an_action_runs_only_after_its_asker_approves(
    mcp_server: FakeMcp, fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: Any
) -> None:
    bot = await bot_factory(MCP_SERVERS=servers(mcp_server))
    events = EventSender(bot.url + "/slack/events", http)
    fake_model.script += [ToolCalls([("orders__restart_worker", {"worker": "staging"})]), Reply(["Restarted."])]
    question = await ask(fake_slack, events, "restart the staging worker")
    request = await approval_request(fake_slack, question)
    assert "restart_worker" in request["text"]
    assert "orders" in request["text"]
    assert '"worker": "staging"' in request["text"]
    assert mcp_server.calls == []
    approve, deny = button(request, "approved"), button(request, "denied")

    url = f"{fake_slack.url}/respond/approval"
    await events.interact(block_action(request, "UBOB", approve, url, channel="C1"))
    await fake_slack.wait_for(lambda: bool(fake_slack.ephemerals))
    assert fake_slack.ephemerals[0]["user"] == "UBOB"
    assert "Only the person who asked" in fake_slack.ephemerals[0]["text"]
    assert mcp_server.calls == []

    await events.interact(block_action(request, "UALICE", approve, url, channel="C1"))
    await fake_slack.wait_for(lambda: len(fake_model.requests) >= 2)
    await bot.runtime.tasks.wait()
    assert mcp_server.calls == [("restart_worker", {"worker": "staging"})]
    replies = fake_slack.bot_replies("C1", question["ts"])
    assert any("Approved" in text and "UALICE" in text for text in replies)
    assert "Restarted." in replies[-1] or any("Restarted." in text for text in replies)

    # A second click on the decided request changes nothing and is refused privately.
    await events.interact(block_action(request, "UALICE", deny, url, channel="C1"))
    await fake_slack.wait_for(lambda: len(fake_slack.ephemerals) >= 2)
    assert "already decided" in fake_slack.ephemerals[1]["text"]
    assert len(mcp_server.calls) == 1


async def test_a_denied_action_does_not_run_and_the_model_is_told(
    mcp_server: FakeMcp, fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: Any
) -> None:
    bot = await bot_factory(MCP_SERVERS=servers(mcp_server))
    events = EventSender(bot.url + "/slack/events", http)
    fake_model.script += [ToolCalls([("orders__restart_worker", {"worker": "prod"})]), Reply(["OK, I won't."])]
    question = await ask(fake_slack, events, "restart prod")
    request = await approval_request(fake_slack, question)
    url = f"{fake_slack.url}/respond/approval"
    await events.interact(block_action(request, "UALICE", button(request, "denied"), url, channel="C1"))
    await fake_slack.wait_for(lambda: len(fake_model.requests) >= 2)
    await bot.runtime.tasks.wait()
    assert mcp_server.calls == []
    assert "refused this action" in tool_messages(fake_model.requests[1])[0]["content"]


async def test_search_is_public_only_and_drops_what_the_thread_may_not_see(
    fake_slack: FakeSlack, fake_model: FakeModel, bot: RunningBot, events: EventSender
) -> None:
    fake_slack.private_channels["GSECRET"] = {"UALICE"}
    fake_slack.search_hits = [
        {
            "author_name": "Dana",
            "author_user_id": "UDANA",
            "channel_id": "C2",
            "channel_name": "deploys",
            "message_ts": "1764000000.000100",
            "content": "We freeze deploys from Dec 20 to Jan 5.",
            "permalink": "https://test.slack.com/archives/C2/p1764000000000100",
        },
        {
            "author_name": "Alice",
            "author_user_id": "UALICE",
            "channel_id": "GSECRET",
            "channel_name": "secret",
            "message_ts": "1764000000.000200",
            "content": "The layoffs are on Friday.",
            "permalink": "https://test.slack.com/archives/GSECRET/p1764000000000200",
        },
    ]
    fake_slack.search_ignores_channel_types = True  # a hit the thread may not see comes back anyway
    fake_model.script += [ToolCalls([("search_slack", {"query": "deploy freeze"})]), Reply(["Dec 20 to Jan 5."])]
    question = await ask(
        fake_slack,
        events,
        "what did we decide about the deploy freeze?",
        assistant_thread={"action_token": ACTION_TOKEN},
    )
    [reply] = await fake_slack.wait_for_replies("C1", question["ts"])
    [search] = fake_slack.calls_to("assistant.search.context")
    assert search.params["channel_types"] == "public_channel"
    sent = tool_messages(fake_model.requests[1])[0]["content"]
    assert "Dana in #deploys on 2025-11-24: We freeze deploys" in sent
    assert "layoffs" not in sent
    assert "layoffs" not in reply
    assert "**Sources**" in reply
    assert "https://test.slack.com/archives/C2/p1764000000000100" in reply
    assert "GSECRET" not in reply
    [card] = fake_slack.task_cards("C1", question["ts"])
    assert card["title"] == "search_slack (Slack)"
    assert card["output"] == "Found 1 message everyone here may see."
    assert [source["url"] for source in card["sources"]] == ["https://test.slack.com/archives/C2/p1764000000000100"]
    assert "GSECRET" not in json.dumps(chunk_calls(fake_slack))
    assert "layoffs" not in json.dumps(chunk_calls(fake_slack))


async def test_search_in_the_askers_own_dm_stays_public(
    fake_slack: FakeSlack, fake_model: FakeModel, bot: RunningBot, events: EventSender
) -> None:
    """Private, IM and MPIM search take user-token scopes (Slack's Real-time Search API): with the bot's
    token, search is public even where only the asker reads the answer."""
    fake_slack.private_channels["GSECRET"] = {"UALICE"}
    fake_slack.search_hits = [
        {
            "author_name": "Alice",
            "author_user_id": "UALICE",
            "channel_id": "GSECRET",
            "channel_name": "secret",
            "message_ts": "1764000000.000200",
            "content": "My own private note about the freeze.",
            "permalink": "https://test.slack.com/archives/GSECRET/p1764000000000200",
        }
    ]
    fake_model.script += [ToolCalls([("search_slack", {"query": "freeze"})]), Reply(["Nothing public on that."])]
    dm = fake_slack.dm_channel("UALICE")
    token = {"assistant_thread": {"action_token": ACTION_TOKEN}}
    question = fake_slack.post_as_person(dm, "UALICE", "what about the freeze?", **token)
    await events.message(question, channel_type="im")
    [reply] = await fake_slack.wait_for_replies(dm, question["ts"])
    [search] = fake_slack.calls_to("assistant.search.context")
    assert search.params["channel_types"] == "public_channel"
    assert "private note" not in tool_messages(fake_model.requests[1])[0]["content"]
    assert reply == "Nothing public on that."


async def test_where_the_workspace_lacks_search_it_is_not_offered_again(
    fake_slack: FakeSlack, fake_model: FakeModel, bot: RunningBot, events: EventSender
) -> None:
    fake_slack.refused_methods.add("assistant.search.context")
    fake_model.script += [ToolCalls([("search_slack", {"query": "freeze"})]), Reply(["I could not search."])]
    token = {"assistant_thread": {"action_token": ACTION_TOKEN}}
    first = await ask(fake_slack, events, "what about the freeze?", **token)
    await fake_slack.wait_for_replies("C1", first["ts"])
    [card] = fake_slack.task_cards("C1", first["ts"])
    assert (card["title"], card["status"]) == ("search_slack (Slack)", "error")
    assert "not_allowed" in tool_messages(fake_model.requests[1])[0]["content"]
    second = await ask(fake_slack, events, "and the deploys?", **token)
    await fake_slack.wait_for_replies("C1", second["ts"])
    assert "tools" not in fake_model.requests[2]
