"""In the conversation like a colleague: follow-ups without a mention, a quiet bot when people talk to each
other, "stop", help channels, a human when needed, a model per channel; as people see it in the thread."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from bot.app.runtime import EVENTS_PATH
from tests.conftest import BotFactory, RunningBot
from tests.fakes.events import EventSender, block_action
from tests.fakes.faults import Fault
from tests.fakes.model_api import FakeModel, Reply
from tests.fakes.slack_api import BOT_USER_ID, FakeSlack

MENTION = f"<@{BOT_USER_ID}>"


async def started(
    bot_factory: BotFactory, http: aiohttp.ClientSession, **settings: str
) -> tuple[RunningBot, EventSender]:
    """A bot with these settings, and deliveries signed for it."""
    bot = await bot_factory(**settings)
    return bot, EventSender(bot.url + EVENTS_PATH, http)


def button(message: dict[str, Any], action_id: str) -> dict[str, Any]:
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("action_id") == action_id:
                return {"action_id": action_id, "value": element.get("value", ""), "type": "button"}
    raise AssertionError(f"no {action_id} button under {message.get('visible')!r}")


async def asked_and_answered(
    fake_slack: FakeSlack, events: EventSender, text: str = "which region?", channel: str = "C1"
) -> str:
    parent = fake_slack.post_as_person(channel, "UALICE", f"{MENTION} {text}")
    await events.mention(parent)
    await fake_slack.wait_for_replies(channel, parent["ts"])
    return str(parent["ts"])


async def test_a_follow_up_without_a_mention_is_answered(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, bot: RunningBot
) -> None:
    fake_model.script += [Reply(["Deploy to EU."]), Reply(["Staging is us-east."])]
    thread = await asked_and_answered(fake_slack, events, "where do we deploy?")
    follow_up = fake_slack.post_as_person("C1", "UALICE", "and for staging?", thread_ts=thread)
    await events.message(follow_up)
    assert await fake_slack.wait_for_replies("C1", thread, count=2) == ["Deploy to EU.", "Staging is us-east."]
    assert fake_model.requests[1]["messages"][-1]["content"].endswith("Alice: and for staging?")


async def test_thanks_another_person_and_people_talking_to_each_other_are_not_answered(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, bot: RunningBot
) -> None:
    fake_model.script += [Reply(["Deploy to EU."]), Reply(["Noted both."])]
    thread = await asked_and_answered(fake_slack, events)
    for user, text in [
        ("UALICE", "thanks! :tada:"),
        ("UALICE", "<@UBOB> can you double-check the EU quota?"),
        ("UBOB", "quota is fine"),
        ("UALICE", "great, then we go Friday"),
    ]:
        await events.message(fake_slack.post_as_person("C1", user, text, thread_ts=thread))
    await bot.runtime.tasks.wait()
    assert len(fake_model.requests) == 1
    assert fake_slack.bot_replies("C1", thread) == ["Deploy to EU."]

    # A mention brings it back, with all that was said as context.
    await events.mention(fake_slack.post_as_person("C1", "UALICE", f"{MENTION} summary?", thread_ts=thread))
    await fake_slack.wait_for_replies("C1", thread, count=2)
    assert "Bob: quota is fine" in fake_model.requests[1]["messages"][-1]["content"]


async def test_stop_mutes_the_thread_until_the_next_mention(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, bot: RunningBot
) -> None:
    fake_model.script += [Reply(["Deploy to EU."]), Reply(["Back again."]), Reply(["And on."])]
    thread = await asked_and_answered(fake_slack, events)
    stop = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} stop", thread_ts=thread)
    await events.mention(stop)
    await events.message(stop)
    replies = await fake_slack.wait_for_replies("C1", thread, count=2)
    assert replies[1] == "Okay, I'll stay out of this thread until someone mentions me again."

    await events.message(fake_slack.post_as_person("C1", "UALICE", "and for staging?", thread_ts=thread))
    await bot.runtime.tasks.wait()
    assert len(fake_model.requests) == 1

    await events.mention(fake_slack.post_as_person("C1", "UALICE", f"{MENTION} and now?", thread_ts=thread))
    await fake_slack.wait_for_replies("C1", thread, count=3)
    await events.message(fake_slack.post_as_person("C1", "UALICE", "one more thing", thread_ts=thread))
    assert (await fake_slack.wait_for_replies("C1", thread, count=4))[-1] == "And on."


async def test_the_stop_following_button_mutes_the_thread(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, bot: RunningBot
) -> None:
    fake_model.script += [Reply(["Deploy to EU."])]
    thread = await asked_and_answered(fake_slack, events)
    answer = fake_slack.bot_messages("C1", thread)[0]
    click = block_action({**answer, "channel": "C1"}, "UBOB", button(answer, "stop_following"), "http://x")
    assert (await events.interact(click)).status == 200
    replies = await fake_slack.wait_for_replies("C1", thread, count=2)
    assert replies[1] == "Okay, I'll stay out of this thread until someone mentions me again."
    await events.message(fake_slack.post_as_person("C1", "UALICE", "and for staging?", thread_ts=thread))
    await bot.runtime.tasks.wait()
    assert len(fake_model.requests) == 1


async def test_in_mention_mode_follow_ups_need_a_mention(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:

    bot, events = await started(bot_factory, http, CHANNEL_MODES="C0TEAM001=mention")
    fake_model.script += [Reply(["Deploy to EU."])]
    thread = await asked_and_answered(fake_slack, events, channel="C0TEAM001")
    await events.message(fake_slack.post_as_person("C0TEAM001", "UALICE", "and for staging?", thread_ts=thread))
    await bot.runtime.tasks.wait()
    assert len(fake_model.requests) == 1
    assert "stop_following" not in str(fake_slack.bot_messages("C0TEAM001", thread)[0].get("blocks"))


async def test_a_help_channel_answers_new_questions_but_not_joins_or_other_bots(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:

    bot, events = await started(bot_factory, http, CHANNEL_MODES="C0TEAM001=help")
    fake_model.script += [Reply(["Use the VPN profile."])]
    join = fake_slack.post_as_person("C0TEAM001", "UBOB", "<@UBOB> has joined the channel", subtype="channel_join")
    other_bot = fake_slack.post_as_person("C0TEAM001", "UOTHER", "Build #42 failed", bot_id="BOTHER")
    greeting = fake_slack.post_as_person("C0TEAM001", "UBOB", "hi all!")
    question = fake_slack.post_as_person("C0TEAM001", "UALICE", "How do I reach the staging database from home?")
    for message in (join, other_bot, greeting, question):
        await events.message(message)
    assert await fake_slack.wait_for_replies("C0TEAM001", question["ts"]) == ["Use the VPN profile."]
    await bot.runtime.tasks.wait()
    assert len(fake_model.requests) == 1
    for quiet in (join, other_bot, greeting):
        assert fake_slack.bot_replies("C0TEAM001", quiet["ts"]) == []


async def test_get_a_human_pings_the_channels_group_once_and_only_for_the_asker(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:

    bot, events = await started(bot_factory, http, ESCALATE_TO="C0TEAM001=S0ABC123")
    fake_model.script += [Reply(["Try restarting it."])]
    thread = await asked_and_answered(fake_slack, events, "why is the <!here> staging worker stuck?", "C0TEAM001")
    answer = fake_slack.bot_messages("C0TEAM001", thread)[0]
    human = button(answer, "get_a_human")

    await events.interact(block_action({**answer, "channel": "C0TEAM001"}, "UBOB", human, "http://x"))
    await fake_slack.wait_for(lambda: bool(fake_slack.ephemerals))
    assert fake_slack.ephemerals[-1]["user"] == "UBOB"
    assert "Only the person who asked" in fake_slack.ephemerals[-1]["text"]

    for _ in range(2):
        await events.interact(block_action({**answer, "channel": "C0TEAM001"}, "UALICE", human, "http://x"))
    await bot.runtime.tasks.wait()
    replies = fake_slack.bot_replies("C0TEAM001", thread)
    assert len(replies) == 2
    assert replies[1].startswith("<!subteam^S0ABC123>, <@UALICE> could use a hand here")
    assert "why is the" in replies[1]
    assert "<!here>" not in replies[1], "the asker's own words cannot ping anyone"
    assert "already been called" in fake_slack.ephemerals[-1]["text"]

    report = await bot.runtime.answerer.feedback.report()
    assert report is not None
    assert report.escalations == 1


async def test_a_channels_model_reaches_the_model_request(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:

    bot, events = await started(bot_factory, http, CHANNEL_MODELS="C0TEAM002=claude-4-5-sonnet")
    for channel in ("C0TEAM001", "C0TEAM002"):
        message = fake_slack.post_as_person(channel, "UALICE", f"{MENTION} hello")
        await events.mention(message)
        await fake_slack.wait_for_replies(channel, message["ts"])
    await bot.runtime.tasks.wait()
    assert [request["model"] for request in fake_model.requests] == [
        fake_model.requests[0]["model"],
        "claude-4-5-sonnet",
    ]
    assert fake_model.requests[0]["model"] != "claude-4-5-sonnet"


async def test_get_a_human_that_slack_fails_to_post_can_be_clicked_again(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    """Slack fails the escalation's post: the asker is told, and a second click calls the group in (the
    once-per-thread claim is not spent on a ping nobody saw)."""

    bot, events = await started(bot_factory, http, ESCALATE_TO="C0TEAM001=S0ABC123")
    fake_model.script += [Reply(["Try restarting it."])]
    thread = await asked_and_answered(fake_slack, events, "why is the staging worker stuck?", "C0TEAM001")
    answer = fake_slack.bot_messages("C0TEAM001", thread)[0]
    click = block_action({**answer, "channel": "C0TEAM001"}, "UALICE", button(answer, "get_a_human"), "http://x")

    fake_slack.faults["chat.postMessage"] = [Fault(error="fatal_error")]
    await events.interact(click)
    await bot.runtime.tasks.wait()
    assert fake_slack.bot_replies("C0TEAM001", thread) == ["Try restarting it."]
    assert "couldn't call anyone in" in fake_slack.ephemerals[-1]["text"]

    await events.interact(click)
    await bot.runtime.tasks.wait()
    replies = fake_slack.bot_replies("C0TEAM001", thread)
    assert replies[-1].startswith("<!subteam^S0ABC123>, <@UALICE> could use a hand here")
    report = await bot.runtime.answerer.feedback.report()
    assert report is not None
    assert report.escalations == 1


async def test_get_a_human_cut_short_by_shutdown_can_be_clicked_again(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    """The escalation's post is in flight when its task is cancelled (SIGTERM): the claim is given back."""

    bot, events = await started(bot_factory, http, ESCALATE_TO="C0TEAM001=S0ABC123")
    fake_model.script += [Reply(["Try restarting it."])]
    thread = await asked_and_answered(fake_slack, events, "why is the staging worker stuck?", "C0TEAM001")
    answer = fake_slack.bot_messages("C0TEAM001", thread)[0]
    click = block_action({**answer, "channel": "C0TEAM001"}, "UALICE", button(answer, "get_a_human"), "http://x")
    posts = len(fake_slack.calls_to("chat.postMessage"))

    fake_slack.faults["chat.postMessage"] = [Fault(hang=True)]
    await events.interact(click)
    await fake_slack.wait_for(lambda: len(fake_slack.calls_to("chat.postMessage")) > posts)
    (escalating,) = [task for task in asyncio.all_tasks() if task.get_name() == "escalate C0TEAM001"]
    escalating.cancel()
    await bot.runtime.tasks.wait()
    fake_slack.release_hangs()

    await events.interact(click)
    await bot.runtime.tasks.wait()
    assert fake_slack.bot_replies("C0TEAM001", thread)[-1].startswith("<!subteam^S0ABC123>, <@UALICE> could use")


async def test_the_log_the_bot_asked_for_shared_without_words_is_answered(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, bot: RunningBot
) -> None:
    """The bot asks for the log; the asker uploads it with no text (a `file_share` follow-up): answered, with
    the file, not taken for a silent nod."""
    fake_model.script += [Reply(["Please share the worker's log."]), Reply(["The disk is full."])]
    thread = await asked_and_answered(fake_slack, events, "why did the worker crash?")
    log = fake_slack.add_file("worker.log", b"ENOSPC: no space left on device\n", "text/plain")
    upload = fake_slack.post_as_person("C1", "UALICE", "", thread_ts=thread, subtype="file_share", files=[log])
    await events.message(upload)
    assert (await fake_slack.wait_for_replies("C1", thread, count=2))[-1] == "The disk is full."
    assert "ENOSPC" in str(fake_model.requests[1]["messages"][-1]["content"])


async def test_two_processes_share_the_thread_its_mute_and_its_escalation(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    """With Redis, a follow-up delivered to the other process is answered once, a mute made in one keeps the
    other quiet, and the escalation happens once whichever process each click reaches."""
    from tests.redis_server import redis_server

    async with redis_server() as url:
        one, two = [await bot_factory(REDIS_URL=url, ESCALATE_TO="C0TEAM001=S0ABC123") for _ in range(2)]
        to_one, to_two = (EventSender(bot.url + EVENTS_PATH, http) for bot in (one, two))
        fake_model.script += [Reply(["Deploy to EU."]), Reply(["Staging is us-east."])]
        thread = await asked_and_answered(fake_slack, to_one, "where do we deploy?", "C0TEAM001")

        follow_up = fake_slack.post_as_person("C0TEAM001", "UALICE", "and for staging?", thread_ts=thread)
        await to_two.message(follow_up)
        await to_one.message(follow_up)  # Slack's retry, to the other process
        await fake_slack.wait_for_replies("C0TEAM001", thread, count=2)
        for bot in (one, two):
            await bot.runtime.tasks.wait()
        assert fake_slack.bot_replies("C0TEAM001", thread) == ["Deploy to EU.", "Staging is us-east."]

        answer = fake_slack.bot_messages("C0TEAM001", thread)[-1]
        human = block_action({**answer, "channel": "C0TEAM001"}, "UALICE", button(answer, "get_a_human"), "http://x")
        await to_one.interact(human)
        await to_two.interact(human)
        stop = block_action({**answer, "channel": "C0TEAM001"}, "UALICE", button(answer, "stop_following"), "http://x")
        await to_one.interact(stop)
        for bot in (one, two):
            await bot.runtime.tasks.wait()
        await to_two.message(fake_slack.post_as_person("C0TEAM001", "UALICE", "and for prod?", thread_ts=thread))
        for bot in (one, two):
            await bot.runtime.tasks.wait()
        replies = fake_slack.bot_replies("C0TEAM001", thread)
        assert len(fake_model.requests) == 2
        assert sum(reply.startswith("<!subteam^S0ABC123>") for reply in replies) == 1
        assert replies[-1] == "Okay, I'll stay out of this thread until someone mentions me again."
