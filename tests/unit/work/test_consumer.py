"""The queue's reader: answers and then acknowledges, hands unfinished answers back on stop naming their
messages, reclaims a dead consumer's entries, and keeps a live long answer's entry by renewing it."""

from __future__ import annotations

import asyncio

from bot.answer.answerer import Attempt, Question
from bot.slack.messages import BotIdentity
from bot.store.memory import MemoryStore
from bot.store.queue import MemoryQueue
from bot.tasks import TaskTracker
from bot.work.consumer import Consumer
from bot.work.intake import Intake
from bot.work.job import Job
from tests.unit.work.test_intake import IDENTITY, question

POSTED_TS = "1700000000.000100"


class Answers:
    """Posts one message, then answers when released (or is cancelled)."""

    def __init__(self) -> None:
        self.attempts: list[tuple[str, bool, tuple[str, ...]]] = []
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def answer(self, question: Question, identity: BotIdentity, attempt: Attempt | None = None) -> None:
        assert attempt is not None
        self.attempts.append((question.ts, attempt.check_thread, tuple(attempt.adopt)))
        assert attempt.on_message is not None
        attempt.on_message(POSTED_TS)
        self.started.set()
        await self.release.wait()
        attempt.finished = True


def consumer(queue: MemoryQueue, answers: Answers, name: str, **options: float) -> tuple[Consumer, TaskTracker]:
    tasks = TaskTracker()
    return Consumer(queue, answers, Intake(queue), MemoryStore(), tasks, name=name, **options), tasks  # type: ignore[arg-type]


async def test_an_answered_entry_is_acknowledged_only_after_the_answer() -> None:
    queue = MemoryQueue()
    answers = Answers()
    reader, tasks = consumer(queue, answers, "a", block_seconds=0.05)
    await Intake(queue).accept(question(), IDENTITY, 0)
    reader.start()
    await answers.started.wait()
    assert list(queue.pending.values()) == ["a"], "held while answering"
    answers.release.set()
    await tasks.wait()
    assert queue.pending == {}
    assert queue.waiting == 0
    await reader.stop(within_seconds=1)
    assert answers.attempts == [("1700000000.000001", False, ())]


async def test_on_stop_an_unfinished_answer_is_handed_back_at_once_naming_its_messages() -> None:
    queue = MemoryQueue()
    answers = Answers()
    reader, _ = consumer(queue, answers, "a", block_seconds=0.05)
    await Intake(queue).accept(question(), IDENTITY, 0)
    reader.start()
    await answers.started.wait()
    await reader.stop(within_seconds=1)
    assert queue.pending == {}
    [entry] = await queue.take("b", 10, 0)
    job = Job.from_payload(entry.payload)
    assert job.recheck
    assert job.adopt == (POSTED_TS,)


async def test_a_dead_consumers_entry_is_reclaimed_and_answered_taking_over_its_messages() -> None:
    queue = MemoryQueue()
    notes = MemoryStore()
    await Intake(queue).accept(question(), IDENTITY, 0)
    [entry] = await queue.take("dead", 10, 0)
    await notes.remember("reply:C1:1700000000.000001", f'["{POSTED_TS}"]', 60)
    answers = Answers()
    answers.release.set()
    tasks = TaskTracker()
    reader = Consumer(
        queue,
        answers,  # type: ignore[arg-type]
        Intake(queue),
        notes,
        tasks,
        name="live",
        reclaim_idle_seconds=0.05,
        upkeep_seconds=0.02,
        block_seconds=0.05,
    )
    reader.start()
    await answers.started.wait()
    await tasks.wait()
    await reader.stop(within_seconds=1)
    assert answers.attempts == [("1700000000.000001", True, (POSTED_TS,))]
    assert queue.pending == {}
    assert entry.id not in queue.pending


async def test_a_live_long_answer_keeps_its_entry_while_another_consumer_reclaims() -> None:
    queue = MemoryQueue()
    slow = Answers()
    other = Answers()
    options = {"reclaim_idle_seconds": 0.1, "upkeep_seconds": 0.02, "block_seconds": 0.05}
    first, _ = consumer(queue, slow, "first", **options)
    second, _ = consumer(queue, other, "second", **options)
    await Intake(queue).accept(question(), IDENTITY, 0)
    first.start()
    await slow.started.wait()
    second.start()
    # Ten times the idle limit: the entry would have been reclaimed without its renewals.
    await asyncio.sleep(1.0)
    assert list(queue.pending.values()) == ["first"]
    assert other.attempts == []
    slow.release.set()
    await first.stop(within_seconds=1)
    await second.stop(within_seconds=1)
