"""Slack calls whose answer is lost (a dropped connection, a timeout, a proxy's page): the call may or may
not have landed. Whatever happened, the thread ends with the answer or an honest notice, shown once, and
no stream is left open. Run against the real bot, with the SDK's retries as in production."""

from __future__ import annotations

import aiohttp
import pytest

from bot.app.runtime import EVENTS_PATH
from tests.conftest import BotFactory, RunningBot
from tests.fakes.events import EventSender
from tests.fakes.faults import Fault
from tests.fakes.model_api import FakeModel, Reply
from tests.fakes.slack_api import BOT_USER_ID, FakeSlack

MENTION = f"<@{BOT_USER_ID}>"
PIECES = ["First part of the answer. ", "Second part, ", "and the third. ", "Fourth and last."]
ANSWER = "".join(PIECES)

LOST = {
    "landed_then_dropped": [Fault(drop_connection=True, lands=True)],
    "dropped": [Fault(drop_connection=True)],
    "landed_then_html": [Fault(status=502, html=True, lands=True)],
    "html": [Fault(status=502, html=True)],
    "landed_then_500": [Fault(status=500, lands=True)],
}


@pytest.mark.parametrize(
    ("method", "streaming"),
    [
        ("chat.startStream", True),
        ("chat.appendStream", True),
        ("chat.stopStream", True),
        ("chat.postMessage", False),
        ("chat.update", False),
    ],
)
@pytest.mark.parametrize("lost", list(LOST))
async def test_a_lost_call_ends_with_the_answer_shown_once(
    fake_slack: FakeSlack,
    fake_model: FakeModel,
    bot_factory: BotFactory,
    http: aiohttp.ClientSession,
    method: str,
    streaming: bool,
    lost: str,
) -> None:
    """A call that landed and lost its answer is not repeated (no second stream, no text twice); one that
    did not land is made good (a start or post is looked for in the thread first)."""
    bot = await bot_factory(SLACK_UPDATE_INTERVAL_SECONDS="0.05")
    events = EventSender(bot.url + EVENTS_PATH, http)
    if not streaming:
        fake_slack.refused_methods.add("chat.startStream")
    fake_slack.faults[method] = list(LOST[lost])
    fake_model.script.append(Reply(PIECES, delay=0.15))
    message = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} hi")
    await events.mention(message)
    await bot.runtime.tasks.wait()
    replies = fake_slack.bot_replies("C1", message["ts"])
    assert fake_slack.streaming_messages() == [], "every started stream is stopped"
    assert "".join(replies).count("First part") == 1, f"shown once: {replies}"
    assert ANSWER in "".join(replies), f"the whole answer: {replies}"


async def test_a_start_lost_past_the_sdks_retries_is_posted_instead(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, bot: RunningBot
) -> None:
    """Three dropped connections on chat.startStream (what the SDK would have retried): posted instead."""
    fake_slack.faults["chat.startStream"] = [Fault(drop_connection=True)] * 3
    fake_model.script.append(Reply(PIECES, delay=0.05))
    message = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} hi")
    await events.mention(message)
    await bot.runtime.tasks.wait()
    assert fake_slack.bot_replies("C1", message["ts"]) == [ANSWER]


READ_FAULTS = {
    "html": Fault(html=True),
    "html_502": Fault(status=502, html=True),
    "dropped": Fault(drop_connection=True),
    "server_error": Fault(status=500),
    "rate_limited": Fault(status=429, error="ratelimited", headers={"Retry-After": "1"}),
}


@pytest.mark.parametrize(
    "method",
    ["conversations.replies", "users.info", "conversations.info", "assistant.threads.setStatus", "reactions.add"],
)
@pytest.mark.parametrize("fault", list(READ_FAULTS))
async def test_a_failing_read_or_decoration_still_ends_in_one_answer(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, bot: RunningBot, method: str, fault: str
) -> None:
    """Reading the thread, a name or the channel, or showing progress, failing three times in any way."""
    first = fake_slack.post_as_person("C1", "UBOB", "an earlier message")
    fake_slack.faults[method] = [READ_FAULTS[fault]] * 3
    if method == "reactions.add":
        fake_slack.refused_methods.add("assistant.threads.setStatus")
    message = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} hi", thread_ts=first["ts"])
    await events.mention(message)
    await bot.runtime.tasks.wait()
    [answer] = fake_slack.bot_replies("C1", first["ts"])
    assert answer.startswith("You said")
