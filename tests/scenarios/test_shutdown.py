"""Shutdown: everything fits in Heroku's 30 s, and an answer cut off by a restart ends cleanly."""

from __future__ import annotations

import aiohttp
import pytest

from bot import notices, shutdown
from bot.app.runtime import EVENTS_PATH
from bot.errors import ConfigurationError
from bot.settings import Settings
from bot.slack.reply import LANDING_SECONDS
from bot.slack.status import DECORATION_SECONDS
from tests.conftest import BotFactory, RunningBot
from tests.fakes.events import EventSender
from tests.fakes.faults import Fault
from tests.fakes.model_api import FakeModel, Hang, Reply
from tests.fakes.slack_api import BOT_USER_ID, FakeSlack
from tests.settings_env import REQUIRED

MENTION = f"<@{BOT_USER_ID}>"


def test_the_longest_grace_still_fits_in_herokus_30_seconds() -> None:
    """Stop listening, the longest allowed grace, notices and closing add up to Heroku's kill at most."""
    longest = Settings.from_env({**REQUIRED, "SHUTDOWN_GRACE_SECONDS": str(shutdown.MAX_GRACE_SECONDS)})
    steps = [shutdown.LISTENER_CLOSE_SECONDS, shutdown.NOTICE_SECONDS, shutdown.CLOSE_SECONDS]
    assert longest.shutdown_grace_seconds + sum(steps) <= shutdown.HEROKU_KILL_SECONDS
    # After cancelling: a call in flight lands, the progress reaction is taken back, the notice goes out.
    assert LANDING_SECONDS + DECORATION_SECONDS + shutdown.RESTART_NOTICE_SECONDS <= shutdown.NOTICE_SECONDS


def test_a_grace_period_that_would_not_fit_is_refused_with_the_limit() -> None:
    with pytest.raises(ConfigurationError, match="SHUTDOWN_GRACE_SECONDS must be between 0 and 21"):
        Settings.from_env({**REQUIRED, "SHUTDOWN_GRACE_SECONDS": "28"})


async def test_a_restart_while_a_stream_is_starting_stops_it_with_the_notice(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, bot: RunningBot
) -> None:
    """Cancelled with chat.startStream in flight: no crash, the stream is stopped, and it says "restarting"."""
    fake_slack.latency["chat.startStream"] = 0.5
    fake_model.script.append(Reply(["Start of the answer. ", "never sent"], delay=30))
    message = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} hi")
    await events.mention(message)
    await fake_slack.wait_for(lambda: bool(fake_slack.calls_to("chat.startStream")))
    await bot.close(grace_seconds=0)
    assert fake_slack.bot_replies("C1", message["ts"]) == ["Start of the answer. \n\n" + notices.RESTARTING]
    assert fake_slack.streaming_messages() == []


async def test_a_restart_before_the_first_word_leaves_the_status_to_the_notice(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, bot: RunningBot
) -> None:
    """The restart notice clears the thinking status; no call to clear it spends the seconds the notice has."""
    fake_model.script.append(Hang())
    message = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} hi")
    await events.mention(message)
    await fake_model.wait_for_requests(1)
    await bot.close(grace_seconds=0)
    assert fake_slack.bot_replies("C1", message["ts"]) == [notices.RESTARTING]
    assert [call.params["status"] for call in fake_slack.calls_to("assistant.threads.setStatus")] == [
        notices.THINKING_STATUS
    ]


async def test_a_restart_during_the_last_stop_leaves_a_complete_answer_as_it_is(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, bot: RunningBot
) -> None:
    fake_slack.latency["chat.stopStream"] = 0.5
    fake_model.script.append(Reply(["The whole ", "answer."], delay=0.1))
    message = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} hi")
    await events.mention(message)
    await fake_slack.wait_for(lambda: bool(fake_slack.calls_to("chat.stopStream")))
    await bot.close(grace_seconds=0)
    assert fake_slack.bot_replies("C1", message["ts"]) == ["The whole answer."]
    assert fake_slack.calls_to("chat.update") == []


async def test_no_public_restart_notice_in_a_channel_the_bot_does_not_answer_in(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    """Questions from outside ALLOWED_CHANNELS, cut off by a restart (one at work, one queued): silence there."""
    bot = await bot_factory(ALLOWED_CHANNELS="CALLOWED1")
    events = EventSender(bot.url + EVENTS_PATH, http)
    fake_slack.latency["chat.postEphemeral"] = 1.0
    first = fake_slack.post_as_person("COTHER1", "UALICE", f"{MENTION} hi")
    queued = fake_slack.post_as_person("COTHER1", "UBOB", f"{MENTION} me too", thread_ts=first["ts"])
    await events.mention(first)
    await fake_slack.wait_for(lambda: bool(fake_slack.calls_to("chat.postEphemeral")))
    await events.mention(queued)
    await bot.close(grace_seconds=0)
    public = ("chat.startStream", "chat.postMessage", "chat.update")
    assert [call for call in fake_slack.calls if call.method in public] == []
    assert fake_slack.bot_messages("COTHER1", first["ts"]) == []


@pytest.mark.parametrize(
    "slow", ["conversations.replies", "users.info", "conversations.info", "assistant.threads.setStatus"]
)
async def test_a_restart_during_any_read_before_the_answer_ends_with_the_notice(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, bot: RunningBot, slow: str
) -> None:
    """Cut off while the thread, a name, the channel or the status is still on its way: the notice, once."""
    first = fake_slack.post_as_person("C1", "UBOB", "an earlier message")
    fake_slack.faults[slow] = [Fault(hang=True)]
    message = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} hi", thread_ts=first["ts"])
    await events.mention(message)
    await fake_slack.wait_for(lambda: bool(fake_slack.calls_to(slow)))
    await bot.close(grace_seconds=0)
    assert fake_slack.bot_replies("C1", first["ts"]) == [notices.RESTARTING]
    assert fake_slack.streaming_messages() == []


async def test_a_restart_while_waiting_for_a_model_slot_tells_both_questions(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    bot = await bot_factory(MAX_CONCURRENT_MODEL_CALLS="1")
    events = EventSender(bot.url + EVENTS_PATH, http)
    fake_model.script.append(Reply(["Start of the answer. ", "never sent"], delay=30))
    first = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} first")
    second = fake_slack.post_as_person("C2", "UBOB", f"{MENTION} second")
    await events.mention(first)
    await fake_slack.wait_for(lambda: bool(fake_slack.calls_to("chat.startStream")))
    await events.mention(second)
    await fake_slack.wait_for(lambda: len(fake_slack.calls_to("assistant.threads.setStatus")) >= 3)
    await bot.close(grace_seconds=0)
    assert fake_slack.bot_replies("C1", first["ts"]) == ["Start of the answer. \n\n" + notices.RESTARTING]
    assert fake_slack.bot_replies("C2", second["ts"]) == [notices.RESTARTING]
    assert fake_slack.streaming_messages() == []
