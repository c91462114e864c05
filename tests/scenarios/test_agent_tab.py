"""The agent tab: suggested prompts when a person opens it, the thinking status with loading messages,
and what the manifest asks Slack for."""

from __future__ import annotations

import logging

import pytest

from bot.app.check import REQUIRED_SCOPES
from bot.notices import LOADING_MESSAGES, THINKING_STATUS
from bot.suggested_prompts import DEFAULT_SUGGESTED_PROMPTS
from tests.conftest import BotFactory
from tests.fakes.events import EventSender, tab_opened
from tests.fakes.faults import Fault
from tests.fakes.slack_api import BOT_USER_ID, FakeSlack
from tests.manifest import manifest

SET_PROMPTS = "assistant.threads.setSuggestedPrompts"


async def test_opening_the_agent_tab_sets_the_suggested_prompts(fake_slack: FakeSlack, events: EventSender) -> None:
    """The person sees the default prompts in their tab; no thread_ts (Slack ignores such a call under agent_view)."""
    response = await events.deliver(tab_opened("UALICE", "messages", "DALICE"))
    assert response.status == 200
    await fake_slack.wait_for(lambda: "DALICE" in fake_slack.suggested_prompts)
    assert fake_slack.suggested_prompts["DALICE"]["prompts"] == [
        prompt.as_json() for prompt in DEFAULT_SUGGESTED_PROMPTS
    ]
    [call] = fake_slack.calls_to(SET_PROMPTS)
    assert "thread_ts" not in call.params
    assert fake_slack.home_views == {}


async def test_the_prompts_come_from_the_setting(fake_slack: FakeSlack, bot_factory: BotFactory, http: object) -> None:
    bot = await bot_factory(SUGGESTED_PROMPTS="Explain=What does this error mean?;Draft=Help me write a reply")
    events = EventSender(bot.url + "/slack/events", http)  # type: ignore[arg-type]
    await events.deliver(tab_opened("UALICE", "messages", "DALICE"))
    await fake_slack.wait_for(lambda: "DALICE" in fake_slack.suggested_prompts)
    assert fake_slack.suggested_prompts["DALICE"]["prompts"] == [
        {"title": "Explain", "message": "What does this error mean?"},
        {"title": "Draft", "message": "Help me write a reply"},
    ]


async def test_no_prompts_when_turned_off(fake_slack: FakeSlack, bot_factory: BotFactory, http: object) -> None:
    bot = await bot_factory(SUGGESTED_PROMPTS="none")
    events = EventSender(bot.url + "/slack/events", http)  # type: ignore[arg-type]
    await events.deliver(tab_opened("UALICE", "messages", "DALICE"))
    await events.deliver(tab_opened("UALICE", "home", "DALICE"))
    await fake_slack.wait_for(lambda: "UALICE" in fake_slack.home_views)
    assert fake_slack.calls_to(SET_PROMPTS) == []


@pytest.mark.parametrize(("error", "calls"), [("missing_scope", 1), ("not_allowed", 2)])
async def test_a_refused_call_breaks_nothing_and_is_logged_once(
    fake_slack: FakeSlack, events: EventSender, caplog: pytest.LogCaptureFixture, error: str, calls: int
) -> None:
    """Refused for the app (a missing scope), the call is not made again; refused for one tab, it is tried
    in the next. Either way the log says it once, and the tab still answers."""
    fake_slack.faults[SET_PROMPTS] = [Fault(error=error), Fault(error=error)]
    with caplog.at_level(logging.INFO, logger="bot.features.agent_tab"):
        await events.deliver(tab_opened("UALICE", "messages", "DALICE"))
        await fake_slack.wait_for(lambda: len(fake_slack.calls_to(SET_PROMPTS)) == 1)
        await events.deliver(tab_opened("UBOB", "messages", "DBOB"))
        message = fake_slack.post_as_person("DBOB", "UBOB", "hello")
        await events.message(message, channel_type="im")
        assert await fake_slack.wait_for_replies("DBOB", message["ts"]) == ["You said: Bob: hello"]
    assert len(fake_slack.calls_to(SET_PROMPTS)) == calls
    refusals = [record for record in caplog.records if "suggested prompts refused" in record.getMessage()]
    assert len(refusals) == 1
    assert refusals[0].error == error  # type: ignore[attr-defined]


async def test_a_dropped_connection_on_the_prompts_breaks_nothing(fake_slack: FakeSlack, events: EventSender) -> None:
    fake_slack.faults[SET_PROMPTS] = [Fault(drop_connection=True)] * 3
    await events.deliver(tab_opened("UALICE", "messages", "DALICE"))
    message = fake_slack.post_as_person("DALICE", "UALICE", "hi")
    await events.message(message, channel_type="im")
    assert await fake_slack.wait_for_replies("DALICE", message["ts"]) == ["You said: Alice: hi"]


@pytest.mark.parametrize("where", ["DALICE", "C1"])
async def test_the_thinking_status_rotates_loading_messages(
    fake_slack: FakeSlack, events: EventSender, where: str
) -> None:
    """In the agent tab and in channels alike."""
    message = fake_slack.post_as_person(where, "UALICE", f"<@{BOT_USER_ID}> hi")
    if where.startswith("D"):
        await events.message(message, channel_type="im")
    else:
        await events.mention(message)
    await fake_slack.wait_for_replies(where, message["ts"])
    [status] = fake_slack.calls_to("assistant.threads.setStatus")
    assert status.params["status"] == THINKING_STATUS
    assert status.params["loading_messages"] == list(LOADING_MESSAGES)
    assert (status.params["channel_id"], status.params["thread_ts"]) == (where, message["ts"])


async def test_the_status_is_cleared_when_no_answer_could_be_posted(fake_slack: FakeSlack, events: EventSender) -> None:
    """Slack clears the status when the bot replies; if nothing could be posted, the bot clears it itself."""
    fake_slack.refused_methods |= {"chat.startStream", "chat.postMessage"}
    message = fake_slack.post_as_person("C1", "UALICE", f"<@{BOT_USER_ID}> hi")
    await events.mention(message)
    await fake_slack.wait_for(lambda: len(fake_slack.calls_to("assistant.threads.setStatus")) == 2)
    assert [call.params["status"] for call in fake_slack.calls_to("assistant.threads.setStatus")] == [
        THINKING_STATUS,
        "",
    ]


def test_the_manifest_enables_the_agent_tab_and_interactivity() -> None:
    """agent_view with the code's default prompts, the scope its prompts need, and buttons sent to /slack/events."""
    data = manifest()
    agent = data["features"]["agent_view"]  # type: ignore[index]
    assert agent["agent_description"]
    assert agent["suggested_prompts"] == [prompt.as_json() for prompt in DEFAULT_SUGGESTED_PROMPTS]
    assert "assistant_view" not in data["features"]  # type: ignore[operator]
    scopes = set(data["oauth_config"]["scopes"]["bot"])  # type: ignore[index]
    assert "assistant:write" in scopes
    assert set(REQUIRED_SCOPES) <= scopes
    interactivity = data["settings"]["interactivity"]  # type: ignore[index]
    assert interactivity["is_enabled"] is True
    assert interactivity["request_url"].endswith("/slack/events")
    assert "app_home_opened" in data["settings"]["event_subscriptions"]["bot_events"]  # type: ignore[index]
