"""With REDIS_URL, a thread's questions are answered one at a time in every process, also when an earlier
question arrives late at another process, and when the process holding a turn dies."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
import redis.asyncio as redis

from bot.app.runtime import EVENTS_PATH
from tests.conftest import BotFactory
from tests.fakes.events import EventSender
from tests.fakes.faults import Fault
from tests.fakes.model_api import FakeModel, Reply, text_of
from tests.fakes.slack_api import BOT_USER_ID, FakeSlack
from tests.redis_server import controlled_redis_server, watching

MENTION = f"<@{BOT_USER_ID}>"


async def test_an_earlier_question_arriving_late_at_another_process_waits_for_the_answer_in_progress(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    """The second question of a thread reaches process A first and is being answered; the first one reaches
    process B late (a Slack retry): B's answer starts only once A's has ended, and sees it."""
    async with controlled_redis_server() as server:
        first_bot = await bot_factory(REDIS_URL=server.url)
        second_bot = await bot_factory(REDIS_URL=server.url)
        to_first = EventSender(first_bot.url + EVENTS_PATH, http)
        to_second = EventSender(second_bot.url + EVENTS_PATH, http)
        release = asyncio.Event()
        fake_model.script += [Reply(["Second answer."], starts=release), Reply(["First answer."])]
        opening = fake_slack.post_as_person("C1", "UALICE", "context for the bot")
        earlier = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} earlier one", thread_ts=opening["ts"])
        later = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} later one", thread_ts=opening["ts"])
        assert (await to_first.mention(later)).status == 200
        await fake_model.wait_for_requests(1)
        turns = f"slackbot:turns:C1:{opening['ts']}"
        async with watching(server.url) as watch:
            assert (await to_second.mention(earlier)).status == 200

            async def both_in_line(client: redis.Redis) -> bool:
                return int(await client.zcard(turns)) == 2

            await watch.wait_for(both_in_line)
        # Running beside the answer in progress, the second process would ask the model within milliseconds.
        with pytest.raises(TimeoutError):
            await fake_model.wait_for_requests(2, within_seconds=2)
        release.set()
        await fake_slack.wait_for(lambda: len(fake_slack.bot_replies("C1", opening["ts"])) == 2)
        await first_bot.runtime.tasks.wait()
        await second_bot.runtime.tasks.wait()
        assert "Second answer." in "\n".join(text_of(message) for message in fake_model.requests[1]["messages"])


async def test_a_follow_up_after_a_handed_back_answer_sees_the_whole_answer_not_the_cut_one(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    """The answer taken over rewrites a message older than the thread's next question; that question is then
    answered with the message's final text, not the first attempt's "Continuing in a moment…"."""
    async with controlled_redis_server() as server:
        leaving = await bot_factory(REDIS_URL=server.url)
        fake_model.script += [
            Reply([f"part {index} " for index in range(100)], delay=0.2),
            Reply(["Whole answer."]),
            Reply(["Follow-up answer."]),
        ]
        opening = fake_slack.post_as_person("C1", "UBOB", "the thread's topic")
        question = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} long one", thread_ts=opening["ts"])
        await EventSender(leaving.url + EVENTS_PATH, http).mention(question)
        await fake_slack.wait_for(lambda: len(fake_slack.calls_to("chat.appendStream")) >= 1)
        follow_up = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} and then?", thread_ts=opening["ts"])
        await EventSender(leaving.url + EVENTS_PATH, http).mention(follow_up)
        staying = await bot_factory(REDIS_URL=server.url)
        await leaving.close()
        await fake_slack.wait_for(lambda: len(fake_slack.bot_replies("C1", opening["ts"])) == 2)
        await staying.runtime.tasks.wait()
        seen = "\n".join(text_of(message) for message in fake_model.requests[-1]["messages"])
        assert "Whole answer." in seen
        assert "Continuing" not in seen


async def test_a_question_handed_back_at_shutdown_keeps_its_place_before_the_threads_next_question(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    """The process answering a thread's first question stops (SIGTERM's path) while the second waits for its
    turn in the other process: the first, handed back, is answered again before the second, which sees it."""
    async with controlled_redis_server() as server:
        leaving = await bot_factory(REDIS_URL=server.url)
        staying = await bot_factory(REDIS_URL=server.url)
        fake_model.script.append(Reply([f"part {index} " for index in range(100)], delay=0.2))
        first = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} first one")
        second = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} second one", thread_ts=first["ts"])
        await EventSender(leaving.url + EVENTS_PATH, http).mention(first)
        await fake_slack.wait_for(lambda: len(fake_slack.calls_to("chat.appendStream")) >= 1)
        turns = f"slackbot:turns:C1:{first['ts']}"
        async with watching(server.url) as watch:
            await EventSender(staying.url + EVENTS_PATH, http).mention(second)

            async def both_in_line(client: redis.Redis) -> bool:
                return int(await client.zcard(turns)) == 2

            await watch.wait_for(both_in_line)
        await leaving.close()
        await fake_slack.wait_for(
            lambda: (
                len(fake_slack.bot_replies("C1", first["ts"])) == 2
                and all(reply.startswith("You said") for reply in fake_slack.bot_replies("C1", first["ts"]))
            ),
            within_seconds=15,
        )
        await staying.runtime.tasks.wait()
    earlier, later = fake_slack.bot_replies("C1", first["ts"])
    assert "first one" in earlier
    assert "second one" in later
    assert "second one" in text_of(fake_model.requests[-1]["messages"][-1])
    assert earlier in "\n".join(text_of(message) for message in fake_model.requests[-1]["messages"])


async def test_an_answer_complete_when_its_process_stops_leaves_its_threads_turn_at_once(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    """SIGTERM comes once the answer is in the thread, while the process still takes its 👀 back: the answer is
    not attempted again, so its turn leaves the thread's queue rather than keeping the thread's place (the
    thread's next question, at a live process, would wait about 18 s for an attempt that never comes)."""
    async with controlled_redis_server() as server:
        bot = await bot_factory(REDIS_URL=server.url)
        fake_slack.refused_methods.add("assistant.threads.setStatus")
        fake_slack.faults["reactions.remove"] = [Fault(hang=True)]
        fake_model.script += [Reply(["Whole answer."])]
        question = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} one question")
        assert (await EventSender(bot.url + EVENTS_PATH, http).mention(question)).status == 200
        await fake_slack.wait_for(lambda: bool(fake_slack.calls_to("reactions.remove")))
        await bot.close()
        assert fake_slack.bot_replies("C1", question["ts"]) == ["Whole answer."]
        client = redis.from_url(server.url, decode_responses=True)
        try:
            assert await client.zrange(f"slackbot:turns:C1:{question['ts']}", 0, -1) == []
        finally:
            await client.aclose()
