"""With REDIS_URL, an attempt that ends without an answer in the thread is tried again, a few times at most,
and then the thread says so: a question is never acknowledged to the queue unanswered, nor retried forever."""

from __future__ import annotations

import aiohttp
import redis.asyncio as redis

from bot import notices
from bot.answer.answerer import Attempt, Question
from bot.app.runtime import EVENTS_PATH
from bot.slack.messages import BotIdentity
from bot.work.consumer import MAX_ATTEMPTS, Answers
from tests.conftest import BotFactory, RunningBot
from tests.fakes.events import EventSender
from tests.fakes.faults import Fault
from tests.fakes.model_api import FakeModel, Reply, text_of
from tests.fakes.slack_api import BOT_USER_ID, FakeSlack
from tests.redis_server import controlled_redis_server, watching

MENTION = f"<@{BOT_USER_ID}>"
STREAM = "slackbot:questions"


class Exploding:
    """An answerer with a bug: every answer raises; the final notice is the real answerer's."""

    def __init__(self, real: Answers) -> None:
        self.real = real
        self.attempts = 0

    async def answer(self, question: Question, identity: BotIdentity, attempt: Attempt | None = None) -> None:
        self.attempts += 1
        raise RuntimeError("a bug in this answer")

    async def give_up(self, question: Question, identity: BotIdentity, attempt: Attempt, tries: int) -> None:
        await self.real.give_up(question, identity, attempt, tries)


def quick_reclaim(bot: RunningBot) -> None:
    consumer = bot.runtime.consumer
    assert consumer is not None
    consumer.reclaim_idle_seconds = 0.3
    consumer.upkeep_seconds = 0.1


def fail_an_answer_half_way(fake_slack: FakeSlack) -> list[str]:
    """An append fails, and so does the update that would repair it: the answer stops half shown. Returns the
    pieces of an answer to stream (slowly, for the first attempt), so that the failure comes within it."""
    fake_slack.faults["chat.appendStream"] = [Fault(error="internal_error")]
    fake_slack.faults["chat.update"] = [Fault(error="message_not_found")]
    return [f"part {index} " for index in range(6)]


async def emptied(client: redis.Redis) -> bool:
    return int(await client.xlen(STREAM)) == 0


async def test_an_answer_that_raises_every_time_is_tried_a_few_times_then_the_thread_says_it_could_not(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    """An unexpected error in the answer: the entry is reclaimed and tried MAX_ATTEMPTS times in all, then the
    thread gets the final notice and the entry is acknowledged (not reclaimed for ever)."""
    async with controlled_redis_server() as server:
        bot = await bot_factory(REDIS_URL=server.url)
        quick_reclaim(bot)
        consumer = bot.runtime.consumer
        assert consumer is not None
        exploding = consumer.answerer = Exploding(consumer.answerer)
        question = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} hi there")
        async with watching(server.url) as watch:
            assert (await EventSender(bot.url + EVENTS_PATH, http).mention(question)).status == 200
            await fake_slack.wait_for(lambda: bool(fake_slack.bot_replies("C1", question["ts"])))
            await watch.wait_for(emptied)
        await bot.runtime.tasks.wait()
        assert fake_slack.bot_replies("C1", question["ts"]) == [notices.could_not_answer(MAX_ATTEMPTS)]
        [notice] = fake_slack.bot_messages("C1", question["ts"])
        assert notice["metadata"]["event_payload"] == {"question_ts": question["ts"]}
        assert exploding.attempts == MAX_ATTEMPTS


async def test_slack_failing_mid_answer_leaves_the_question_to_be_answered_again_in_the_same_message(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    """An append fails, and so does the update that would repair it: the answer stops half shown. The entry is
    not acknowledged: it is reclaimed and answered again in full, in the message the first attempt left."""
    async with controlled_redis_server() as server:
        bot = await bot_factory(REDIS_URL=server.url)
        quick_reclaim(bot)
        pieces = fail_an_answer_half_way(fake_slack)
        fake_model.script += [Reply(pieces, delay=0.3), Reply(pieces)]
        question = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} hi there")
        async with watching(server.url) as watch:
            assert (await EventSender(bot.url + EVENTS_PATH, http).mention(question)).status == 200
            await fake_slack.wait_for(
                lambda: fake_slack.bot_replies("C1", question["ts"]) == ["".join(pieces)], within_seconds=15
            )
            await watch.wait_for(emptied)
        await bot.runtime.tasks.wait()
        [answer] = fake_slack.bot_messages("C1", question["ts"])
        assert not answer.get("streaming")
        assert answer["metadata"]["event_payload"] == {"question_ts": question["ts"]}
        assert len(fake_model.requests) == 2


async def test_a_question_whose_attempt_failed_keeps_its_place_before_the_threads_next_question(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    """Slack fails the first answer half-way; the thread's next question, asked meanwhile, waits for the first
    one's second attempt rather than going ahead: its model request sees the whole first answer."""
    async with controlled_redis_server() as server:
        bot = await bot_factory(REDIS_URL=server.url)
        quick_reclaim(bot)
        pieces = fail_an_answer_half_way(fake_slack)
        fake_model.script += [Reply(pieces, delay=0.3)]
        fake_model.default = lambda request: (
            Reply(["Second."]) if "second one" in text_of(request["messages"][-1]) else Reply(pieces)
        )
        events = EventSender(bot.url + EVENTS_PATH, http)
        first = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} first one")
        assert (await events.mention(first)).status == 200
        await fake_slack.wait_for(lambda: bool(fake_slack.calls_to("chat.startStream")))
        second = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} second one", thread_ts=first["ts"])
        assert (await events.mention(second)).status == 200
        async with watching(server.url) as watch:
            await fake_slack.wait_for(lambda: "Second." in fake_slack.bot_replies("C1", first["ts"]), within_seconds=30)
            await watch.wait_for(emptied)
        await bot.runtime.tasks.wait()
        assert fake_slack.bot_replies("C1", first["ts"]) == ["".join(pieces), "Second."]
        [asked_second] = [r for r in fake_model.requests if "second one" in text_of(r["messages"][-1])]
        seen_by_second = "\n".join(text_of(message) for message in asked_second["messages"])
        assert "".join(pieces).strip() in seen_by_second, "the second answer was written after the first"


async def test_a_shutdown_just_after_slack_failed_an_answer_hands_the_question_on_rather_than_leave_it_cut(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    """Slack fails the answer half-way (its message closed, cut), and SIGTERM comes while the process still takes
    its 👀 back: the question is handed on, not marked answered, and a live process answers it in full in the
    message the first attempt left."""
    async with controlled_redis_server() as server:
        leaving = await bot_factory(REDIS_URL=server.url)
        fake_slack.refused_methods.add("assistant.threads.setStatus")
        fake_slack.faults["chat.appendStream"] = [Fault(error="internal_error")]
        fake_slack.faults["chat.update"] = [Fault(error="message_not_found")]
        fake_slack.faults["reactions.remove"] = [Fault(hang=True)]
        pieces = [f"part {index} " for index in range(6)]
        fake_model.script += [Reply(pieces, delay=0.3), Reply(pieces)]
        question = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} hi there")
        assert (await EventSender(leaving.url + EVENTS_PATH, http).mention(question)).status == 200
        await fake_slack.wait_for(lambda: bool(fake_slack.calls_to("reactions.remove")))
        staying = await bot_factory(REDIS_URL=server.url)
        await leaving.close()
        await fake_slack.wait_for(
            lambda: fake_slack.bot_replies("C1", question["ts"]) == ["".join(pieces)], within_seconds=15
        )
        await staying.runtime.tasks.wait()
        [answer] = fake_slack.bot_messages("C1", question["ts"])
        assert answer["metadata"]["event_payload"] == {"question_ts": question["ts"]}
