"""Redis restarted empty under a running process: what it acknowledged and no one answered is queued again
(nothing lost), marked so that its answerer looks in the thread first (nothing answered twice)."""

from __future__ import annotations

import asyncio

import redis.asyncio as redis

from bot.store.memory import MemoryStore
from bot.store.redis_queue import RedisQueue
from bot.tasks import TaskTracker
from bot.work.consumer import Consumer
from bot.work.intake import Intake
from tests.redis_server import controlled_redis_server
from tests.unit.work.test_consumer import Answers
from tests.unit.work.test_intake import IDENTITY, question


async def test_a_question_lost_with_redis_is_queued_again_by_the_process_that_acknowledged_it() -> None:
    async with controlled_redis_server() as server:
        client = redis.from_url(server.url, decode_responses=True)
        try:
            queue = RedisQueue(client)
            intake = Intake(queue)
            answers = Answers()
            answers.release.set()
            options = {"block_seconds": 0.05, "queue_again_seconds": 0.05}
            warm_up = Consumer(queue, answers, intake, MemoryStore(), TaskTracker(), name="c", **options)  # type: ignore[arg-type]
            warm_up.start()
            await intake.accept(question("1700000000.000001"), IDENTITY, 0)
            await answers.started.wait()
            await warm_up.stop(within_seconds=1)

            # Acknowledged while no one reads; then Redis loses everything.
            await intake.accept(question("1700000000.000002"), IDENTITY, 0)
            await client.flushall()
            answers.started.clear()
            tasks = TaskTracker()
            reader = Consumer(queue, answers, intake, MemoryStore(), tasks, name="c", **options)  # type: ignore[arg-type]
            reader.start()
            async with asyncio.timeout(10):
                await answers.started.wait()
            await tasks.wait()
            await reader.stop(within_seconds=1)
        finally:
            await client.aclose()
    assert answers.attempts == [("1700000000.000001", False, ()), ("1700000000.000002", True, ())]
