"""With REDIS_URL every acknowledged question is queued first and answered once: Slack is not acknowledged
while Redis cannot take a question, and Slack message metadata shows which questions were answered."""

from __future__ import annotations

import aiohttp
import redis.asyncio as redis

from bot.app.runtime import EVENTS_PATH
from bot.errors import StoreUnavailable
from tests.conftest import BotFactory
from tests.fakes.events import EventSender
from tests.fakes.model_api import FakeModel, Reply
from tests.fakes.slack_api import BOT_USER_ID, FakeSlack
from tests.redis_server import controlled_redis_server, watching

MENTION = f"<@{BOT_USER_ID}>"


async def test_a_question_is_queued_then_answered_once_and_marked_with_its_question(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    """Both deliveries of a mention are acknowledged; one answer, whose metadata names the question."""
    async with controlled_redis_server() as server:
        bot = await bot_factory(REDIS_URL=server.url)
        events = EventSender(bot.url + EVENTS_PATH, http)
        fake_model.script.append(Reply(["Hello!"]))
        question = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} hi there")
        assert (await events.mention(question)).status == 200
        assert (await events.message(question)).status == 200
        assert await fake_slack.wait_for_replies("C1", question["ts"]) == ["Hello!"]
        await bot.runtime.tasks.wait()
        [answer] = fake_slack.bot_messages("C1", question["ts"])
        assert answer["metadata"] == {"event_type": "thread_answer", "event_payload": {"question_ts": question["ts"]}}
        assert len(fake_model.requests) == 1
        client = redis.from_url(server.url, decode_responses=True)
        try:
            assert await client.xlen("slackbot:questions") == 0, "acknowledged and deleted once answered"
        finally:
            await client.aclose()


async def test_with_redis_down_slack_is_not_acknowledged_until_its_last_retry_which_is_answered(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    """Redis cannot take the question: Slack gets a non-2xx (and retries); its third retry is answered from
    the process's memory, once."""
    async with controlled_redis_server() as server:
        bot = await bot_factory(REDIS_URL=server.url)
        events = EventSender(bot.url + EVENTS_PATH, http)
        await server.stop()
        fake_model.script.append(Reply(["Hello!"]))
        question = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} hi there")
        event = {**question, "type": "app_mention"}
        refused = [await events.deliver(event, "EvR1", retry_num=retry) for retry in (None, 1, 2)]
        assert [response.status for response in refused] == [503, 503, 503]
        assert fake_slack.posts() == []
        assert (await events.deliver(event, "EvR1", retry_num=3)).status == 200
        assert await fake_slack.wait_for_replies("C1", question["ts"]) == ["Hello!"]
        await bot.runtime.tasks.wait()
        assert len(fake_model.requests) == 1


async def test_after_redis_restarted_empty_a_retried_question_already_answered_is_not_answered_again(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    """Redis forgets every claim; the thread's metadata still shows the answer, so a retry is skipped."""
    async with controlled_redis_server() as server:
        bot = await bot_factory(REDIS_URL=server.url)
        events = EventSender(bot.url + EVENTS_PATH, http)
        fake_model.script += [Reply(["Hello!"]), Reply(["Twice!"])]
        question = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} hi there")
        event = {**question, "type": "app_mention"}
        await events.deliver(event, "EvE1")
        await fake_slack.wait_for_replies("C1", question["ts"])
        await bot.runtime.tasks.wait()
        client = redis.from_url(server.url, decode_responses=True)
        try:
            await client.flushall()
        finally:
            await client.aclose()
        assert (await events.deliver(event, "EvE1", retry_num=1)).status == 200
        await fake_slack.wait_for(
            lambda: any(
                call.params.get("include_all_metadata") for call in fake_slack.calls_to("conversations.replies")
            )
        )
        await bot.runtime.tasks.wait()
        assert fake_slack.bot_replies("C1", question["ts"]) == ["Hello!"]
        assert len(fake_model.requests) == 1


async def test_a_closing_process_hands_its_answer_to_a_live_one_which_answers_in_full_in_the_same_message(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    """SIGTERM's path in one process: the answer in progress is stopped and handed back at once; the other
    process answers again in full in the message the first one started; no "please ask again"."""
    async with controlled_redis_server() as server:
        leaving = await bot_factory(REDIS_URL=server.url)
        events = EventSender(leaving.url + EVENTS_PATH, http)
        fake_model.script += [Reply([f"part {index} " for index in range(100)], delay=0.2), Reply(["Whole answer."])]
        question = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} long one")
        await events.mention(question)
        await fake_slack.wait_for(lambda: len(fake_slack.calls_to("chat.startStream")) == 1)
        staying = await bot_factory(REDIS_URL=server.url)
        await leaving.close()
        await fake_slack.wait_for(lambda: fake_slack.bot_replies("C1", question["ts"]) == ["Whole answer."])
        await staying.runtime.tasks.wait()
        [answer] = fake_slack.bot_messages("C1", question["ts"])
        assert not answer.get("streaming")
        assert answer["metadata"]["event_payload"] == {"question_ts": question["ts"]}
        assert all("ask again" not in text for text in answer["revisions"])


async def test_an_answer_whose_entry_could_not_be_acknowledged_is_reclaimed_and_not_answered_again(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    """The answer is posted but XACK fails: the entry stays pending, is reclaimed, and the thread's metadata
    shows the answer, so the model is not asked again and the thread keeps one answer."""
    async with controlled_redis_server() as server:
        bot = await bot_factory(REDIS_URL=server.url)
        consumer = bot.runtime.consumer
        assert consumer is not None
        consumer.reclaim_idle_seconds = 0.3
        consumer.upkeep_seconds = 0.1
        real_done = consumer.queue.done
        failed: list[str] = []

        async def done_failing_once(entry_id: str) -> None:
            if not failed:
                failed.append(entry_id)
                raise StoreUnavailable("XACK refused")
            await real_done(entry_id)

        consumer.queue.done = done_failing_once  # type: ignore[method-assign]
        events = EventSender(bot.url + EVENTS_PATH, http)
        fake_model.script += [Reply(["Hello!"]), Reply(["Twice!"])]
        question = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} hi there")
        async with watching(server.url) as watch:
            assert (await events.mention(question)).status == 200
            assert await fake_slack.wait_for_replies("C1", question["ts"]) == ["Hello!"]

            async def emptied(client: redis.Redis) -> bool:
                return bool(failed) and await client.xlen("slackbot:questions") == 0

            await watch.wait_for(emptied)
        await bot.runtime.tasks.wait()
        assert any(call.params.get("include_all_metadata") for call in fake_slack.calls_to("conversations.replies"))
        assert fake_slack.bot_replies("C1", question["ts"]) == ["Hello!"]
        assert len(fake_model.requests) == 1


async def test_a_handed_back_answer_that_needs_fewer_messages_leaves_none_of_the_earlier_ones(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    """The first attempt's answer ran over two messages when it was handed back; the full answer fits in one:
    the second message of the first attempt is removed, so the thread shows one answer."""
    async with controlled_redis_server() as server:
        leaving = await bot_factory(REDIS_URL=server.url)
        events = EventSender(leaving.url + EVENTS_PATH, http)
        paragraph = "word " * 40 + "\n\n"
        fake_model.script += [Reply([paragraph] * 400, delay=0.02), Reply(["Whole answer."])]
        question = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} long one")
        await events.mention(question)
        await fake_slack.wait_for(lambda: len(fake_slack.calls_to("chat.startStream")) == 2, within_seconds=20)
        staying = await bot_factory(REDIS_URL=server.url)
        await leaving.close()
        await fake_slack.wait_for(lambda: "Whole answer." in fake_slack.bot_replies("C1", question["ts"]))
        await staying.runtime.tasks.wait()
        assert fake_slack.bot_replies("C1", question["ts"]) == ["Whole answer."]
        [answer] = fake_slack.bot_messages("C1", question["ts"])
        assert answer["metadata"]["event_payload"] == {"question_ts": question["ts"]}
