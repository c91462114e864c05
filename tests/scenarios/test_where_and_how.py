"""Where and how the bot answers: channel allowlist, per-channel instructions, the App Home tab."""

from __future__ import annotations

import aiohttp

from bot.app.runtime import EVENTS_PATH
from tests.conftest import BotFactory, RunningBot
from tests.fakes.events import EventSender
from tests.fakes.model_api import FakeModel
from tests.fakes.slack_api import BOT_USER_ID, FakeSlack

MENTION = f"<@{BOT_USER_ID}>"


async def test_outside_the_allowlist_a_mention_gets_an_ephemeral_note(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    bot = await bot_factory(ALLOWED_CHANNELS="CALLOWED1, CALLOWED2")
    events = EventSender(bot.url + EVENTS_PATH, http)
    elsewhere = fake_slack.post_as_person("COTHER01", "UALICE", f"{MENTION} hi")
    allowed = fake_slack.post_as_person("CALLOWED1", "UALICE", f"{MENTION} hi")
    dm = fake_slack.post_as_person("D1", "UALICE", "hi")
    await events.mention(elsewhere)
    await events.mention(allowed)
    await events.message(dm, channel_type="im")
    await fake_slack.wait_for_replies("CALLOWED1", allowed["ts"])
    await fake_slack.wait_for_replies("D1", dm["ts"])
    await bot.runtime.tasks.wait()
    assert [call.method for call in fake_slack.posts() if call.params["channel"] == "COTHER01"] == [
        "chat.postEphemeral"
    ]
    [note] = fake_slack.ephemerals
    assert (note["channel"], note["user"]) == ("COTHER01", "UALICE")
    assert note["text"] == "I only answer in <#CALLOWED1>, <#CALLOWED2> and in DMs here. Ask me there, or in a DM!"
    assert len(fake_model.requests) == 2


async def test_channel_description_instructions_reach_the_model(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, bot: RunningBot
) -> None:
    """A line `Assistant: ...` in the channel's description joins the system prompt, and follows its edits."""
    fake_slack.purposes["C1"] = "Team chat.\nAssistant: answer in French."
    first = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} hello")
    await events.mention(first)
    await fake_slack.wait_for_replies("C1", first["ts"])
    system = fake_model.requests[0]["messages"][0]["content"]
    assert system.endswith("Instructions for this channel, from its description: answer in French.")

    fake_slack.purposes["C1"] = "Assistant: answer in German."
    purpose_event = {"type": "message", "subtype": "channel_purpose", "channel": "C1", "ts": fake_slack.next_ts()}
    await events.message(purpose_event)
    await bot.runtime.tasks.wait()
    second = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} again")
    await events.mention(second)
    await fake_slack.wait_for_replies("C1", second["ts"])
    assert fake_model.requests[1]["messages"][0]["content"].endswith("answer in German.")

    other = fake_slack.post_as_person("C2", "UALICE", f"{MENTION} hi")
    await events.mention(other)
    await fake_slack.wait_for_replies("C2", other["ts"])
    assert "Instructions for this channel" not in fake_model.requests[2]["messages"][0]["content"]


async def test_home_tab_is_published_when_opened(
    fake_slack: FakeSlack, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    bot = await bot_factory(ALLOWED_CHANNELS="CALLOWED1")
    events = EventSender(bot.url + EVENTS_PATH, http)
    response = await events.deliver({"type": "app_home_opened", "user": "UALICE", "channel": "D1", "tab": "home"})
    assert response.status == 200
    await fake_slack.wait_for(lambda: "UALICE" in fake_slack.home_views)
    view = fake_slack.home_views["UALICE"]
    text = str(view)
    assert view["type"] == "home"
    assert "mention me" in text
    assert "DM" in text
    assert "Model: `claude-4-5-haiku`" in text
    assert "<#CALLOWED1>" in text


async def test_the_messages_tab_opening_publishes_nothing(
    fake_slack: FakeSlack, events: EventSender, bot: RunningBot
) -> None:
    response = await events.deliver({"type": "app_home_opened", "user": "UALICE", "channel": "D1", "tab": "messages"})
    assert response.status == 200
    await bot.runtime.tasks.wait()
    assert fake_slack.calls_to("views.publish") == []


async def test_a_description_change_during_a_read_is_not_missed(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, bot: RunningBot
) -> None:
    fake_slack.purposes["C1"] = "Assistant: answer in French."
    fake_slack.latency = {"conversations.info": 0.5}
    first = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} hello")
    await events.mention(first)
    await fake_slack.wait_for(lambda: bool(fake_slack.calls_to("conversations.info")))
    fake_slack.purposes["C1"] = "Assistant: answer in German."
    await events.message({"type": "message", "subtype": "channel_purpose", "channel": "C1", "ts": fake_slack.next_ts()})
    await fake_slack.wait_for_replies("C1", first["ts"])
    await bot.runtime.tasks.wait()
    fake_slack.latency = {}
    second = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} again")
    await events.mention(second)
    await fake_slack.wait_for_replies("C1", second["ts"])
    assert fake_model.requests[1]["messages"][0]["content"].endswith("answer in German.")
