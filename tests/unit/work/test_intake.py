"""Recording a delivery before Slack is acknowledged: queued once, refused while the queue is down, answered
from memory on Slack's last retry, and queued again when the queue comes back empty."""

from __future__ import annotations

import dataclasses
import json
import tracemalloc
from collections.abc import Iterable

from bot.answer.answerer import Question
from bot.errors import StoreUnavailable
from bot.slack.messages import BotIdentity
from bot.store.queue import MemoryQueue
from bot.work.intake import Intake
from bot.work.job import Job
from bot.work.lifecycle import State

IDENTITY = BotIdentity("UBOT", "BBOT")


def question(ts: str = "1700000000.000001", event_id: str = "Ev1") -> Question:
    message = {"type": "app_mention", "user": "UALICE", "text": "<@UBOT> hi", "ts": ts, "channel": "C1"}
    return Question(event_id, "app_mention", "C1", "channel", "T1", message)


class DownQueue(MemoryQueue):
    async def put(self, key: str, payload: str, ttl_seconds: float) -> bool:
        raise StoreUnavailable("ConnectionError")


async def test_a_message_delivered_twice_is_queued_once() -> None:
    queue = MemoryQueue()
    intake = Intake(queue)
    first = await intake.accept(question(event_id="Ev1"), IDENTITY, 0)
    second = await intake.accept(question(event_id="Ev2"), IDENTITY, 0)
    assert (first.state, second.state) == (State.QUEUED, State.DUPLICATE)
    assert first.acknowledged
    assert second.acknowledged
    assert queue.waiting == 1


async def test_with_the_queue_down_slack_is_refused_until_its_last_retry() -> None:
    intake = Intake(DownQueue())
    lives = [await intake.accept(question(), IDENTITY, retry) for retry in (0, 1, 2, 3)]
    assert [life.state for life in lives] == [State.REFUSED] * 3 + [State.IN_MEMORY]
    assert [life.acknowledged for life in lives] == [False, False, False, True]


async def test_a_job_keeps_everything_the_answer_needs() -> None:
    job = Job(question(), IDENTITY).again(["1700000000.000009"])
    assert Job.from_payload(job.payload()) == job
    assert job.recheck
    assert job.adopt == ("1700000000.000009",)


async def test_after_the_queue_was_emptied_what_was_not_answered_is_queued_again_marked_to_check() -> None:
    queue = MemoryQueue()
    intake = Intake(queue)
    for ts in ("1700000000.000001", "1700000000.000002", "1700000000.000003"):
        await intake.accept(question(ts), IDENTITY, 0)
    await queue.take("gone", 10, 0)
    intake.settled("C1:1700000000.000001")
    assert await intake.queue_again(in_flight={"C1:1700000000.000002"}) == 1
    [entry] = await queue.take("c", 10, 0)
    job = Job.from_payload(entry.payload)
    assert job.question.ts == "1700000000.000003"
    assert job.recheck


class Taking(MemoryQueue):
    """Takes every question and keeps none: only what the intake holds is measured."""

    async def put(self, key: str, payload: str, ttl_seconds: float) -> bool:
        return True


def long_question(index: int, text: str) -> Question:
    """A mention as Slack delivers it: its text twice, once in its rich-text blocks."""
    ts = f"1700000000.{index:06d}"
    section = {
        "type": "rich_text_section",
        "elements": [{"type": "user", "user_id": "UBOT"}, {"type": "text", "text": text}],
    }
    message = {
        "type": "app_mention",
        "user": "UALICE",
        "text": f"<@UBOT> {text}",
        "ts": ts,
        "event_ts": ts,
        "channel": "C1",
        "team": "T1",
        "client_msg_id": f"5b7d9f3c-0000-4000-8000-{index:012d}",
        "blocks": [{"type": "rich_text", "block_id": "b1", "elements": [section]}],
    }
    return Question(f"Ev{index}", "app_mention", "C1", "channel", "T1", message)


async def held_while_accepting(intake: Intake, questions: Iterable[Question]) -> float:
    """MB the intake holds after accepting `questions` (each parsed afresh, as Bolt hands them over)."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for asked in questions:
            message = json.loads(json.dumps(asked.message))
            await intake.accept(dataclasses.replace(asked, message=message), IDENTITY, 0)
        return (tracemalloc.get_traced_memory()[0] - before) / 1e6
    finally:
        tracemalloc.stop()


async def test_a_burst_of_ten_thousand_short_questions_holds_little_memory() -> None:
    """Held for 15 minutes each in case Redis is emptied: as their JSON (measured: 13 MB; 46 MB as parsed
    dicts), with a generous bound."""
    intake = Intake(Taking())
    held = await held_while_accepting(intake, (long_question(index, "how do I " * 22) for index in range(10_000)))
    assert intake.ledger == 10_000
    assert held < 25


async def test_long_questions_are_held_within_a_bound_the_newest_kept() -> None:
    """1,000 questions of 40,000 characters would take 80 MB; the oldest are forgotten past the bound."""
    queue = Taking()
    intake = Intake(queue)
    held = await held_while_accepting(intake, (long_question(index, "x" * 40_000) for index in range(1_000)))
    assert held < 40
    assert 0 < intake.ledger < 1_000
    assert await intake.queue_again(in_flight=set()) == intake.ledger
    entries = await queue.take("c", 1_000, 0)
    assert Job.from_payload(entries[-1].payload).question.ts == "1700000000.000999"
