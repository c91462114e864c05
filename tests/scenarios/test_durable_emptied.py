"""Redis restarted empty while a web process (WEB_ANSWERS=false) has questions in flight at a worker: the
questions it queues again must not be answered a second time, whatever order their turns come in."""

from __future__ import annotations

import asyncio

import aiohttp
import redis.asyncio as redis

from bot.app.runtime import EVENTS_PATH
from tests.conftest import BotFactory
from tests.fakes.events import EventSender
from tests.fakes.model_api import FakeModel, Reply
from tests.fakes.slack_api import BOT_USER_ID, FakeSlack
from tests.redis_server import controlled_redis_server, watching

MENTION = f"<@{BOT_USER_ID}>"
THREADS = 4


async def test_a_question_waiting_for_its_turn_when_redis_is_emptied_is_answered_once(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    """In each thread the first answer is in progress and the second question waits for its turn at the worker
    when Redis loses everything. The web process queues both again (it answers nothing itself); the copy of the
    second question waits beside its original. Each question is answered once: two answers per thread."""
    async with controlled_redis_server() as server:
        web = await bot_factory(REDIS_URL=server.url, WEB_ANSWERS="false", MODEL_TIMEOUT_SECONDS="60")
        worker = await bot_factory(REDIS_URL=server.url, MODEL_TIMEOUT_SECONDS="60")
        events = EventSender(web.url + EVENTS_PATH, http)
        release = asyncio.Event()
        fake_model.script += [Reply(["First answer."], starts=release) for _ in range(THREADS)]
        fake_model.script += [Reply(["Second answer."]) for _ in range(2 * THREADS)]
        openings = [fake_slack.post_as_person("C1", "UALICE", f"topic {n}") for n in range(THREADS)]
        for opening in openings:
            first = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} first", thread_ts=opening["ts"])
            assert (await events.mention(first)).status == 200
        await fake_model.wait_for_requests(THREADS)
        async with watching(server.url) as watch:
            for opening in openings:
                second = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} second", thread_ts=opening["ts"])
                assert (await events.mention(second)).status == 200

            async def all_waiting(client: redis.Redis) -> bool:
                sizes = [int(await client.zcard(f"slackbot:turns:C1:{o['ts']}")) for o in openings]
                return sizes == [2] * THREADS

            await watch.wait_for(all_waiting)
            await watch.client.flushall()

            async def copies_in_line(client: redis.Redis) -> bool:
                # Per thread: the answer in progress, the second question, and the copies of both.
                sizes = [int(await client.zcard(f"slackbot:turns:C1:{o['ts']}")) for o in openings]
                return sizes == [4] * THREADS

            await watch.wait_for(copies_in_line, within_seconds=30)
        release.set()
        for opening in openings:
            await fake_slack.wait_for(lambda o=opening: len(fake_slack.bot_replies("C1", o["ts"])) >= 2)
        await worker.runtime.tasks.wait()
        await web.runtime.tasks.wait()
        for opening in openings:
            assert fake_slack.bot_replies("C1", opening["ts"]) == ["First answer.", "Second answer."]
        assert len(fake_model.requests) == 2 * THREADS
