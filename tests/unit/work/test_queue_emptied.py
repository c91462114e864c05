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
from bot.work.job import Job
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


async def test_every_process_queues_again_what_it_acknowledged_not_only_the_first_to_notice() -> None:
    """Two processes acknowledged a question each; Redis loses everything. The first to read the queue again
    finds its group gone and makes it anew; the other must still learn that the queue was emptied."""
    async with controlled_redis_server() as server:
        clients = [redis.from_url(server.url, decode_responses=True) for _ in range(2)]
        try:
            queues = [RedisQueue(client) for client in clients]
            intakes = [Intake(queue) for queue in queues]
            answers = Answers()
            answers.release.set()
            options = {"block_seconds": 0.05, "queue_again_seconds": 0.05, "upkeep_seconds": 0.05}
            readers = [
                Consumer(queue, answers, intake, MemoryStore(), TaskTracker(), name=name, **options)  # type: ignore[arg-type]
                for queue, intake, name in zip(queues, intakes, "ab", strict=True)
            ]
            await queues[0].take("warm-up", 1, 0.01)  # the group, as a running bot has it
            await intakes[0].accept(question("1700000000.000001"), IDENTITY, 0)
            await intakes[1].accept(question("1700000000.000002"), IDENTITY, 0)
            await clients[0].flushall()

            readers[0].start()
            async with asyncio.timeout(10):
                await answers.started.wait()
            answers.started.clear()
            readers[1].start()
            async with asyncio.timeout(10):
                await answers.started.wait()
            for reader in readers:
                await reader.stop(within_seconds=1)
        finally:
            for client in clients:
                await client.aclose()
    assert sorted(answers.attempts) == [("1700000000.000001", True, ()), ("1700000000.000002", True, ())]


async def test_only_what_redis_lost_is_queued_again_not_what_was_queued_after() -> None:
    """A question acknowledged after Redis came back empty is still queued: a copy of it would be a second
    attempt beside the first, and the first (which does not look in the thread) may then answer it again."""
    async with controlled_redis_server() as server:
        client = redis.from_url(server.url, decode_responses=True)
        try:
            queue = RedisQueue(client)
            intake = Intake(queue)
            await intake.accept(question("1700000000.000001"), IDENTITY, 0)
            await client.flushall()
            await intake.accept(question("1700000000.000002"), IDENTITY, 0)
            assert await queue.emptied()
            assert await intake.queue_again(()) == 1
            entries = await queue.take("c", 10, 0.01)
        finally:
            await client.aclose()
    assert [Job.from_payload(entry.payload).question.ts for entry in entries] == [
        "1700000000.000002",
        "1700000000.000001",
    ]
