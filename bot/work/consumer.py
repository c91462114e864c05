"""Every process's reader of the question queue: takes entries, keeps them while answering, gives them back.

    take      new entries (XREADGROUP), each answered in a task of its own, in its thread's turn
    upkeep    every UPKEEP_SECONDS: renews the entries being answered (so a live long answer is never
              taken from it), reclaims those idle for RECLAIM_IDLE_SECONDS (their process died), and asks
              whether the queue was emptied (Redis restarted without its data): then what this process
              acknowledged and no one answered is queued again (bot/work/intake.py)
    done      after the answer or a final notice is posted (or the thread showed one): XACK
    retry     an attempt that ends without either (an unexpected error, Slack failing for good) leaves its entry
              pending: reclaimed once idle, by any process, and answered again in the same message; the
              delivery after MAX_ATTEMPTS posts the final "could not answer" notice instead
    stop      on SIGTERM: stops taking, stops each answer in progress with a short note and hands its entry
              back at once, naming its messages, so that a live process answers it in full in the same message

A web process that only records questions (WEB_ANSWERS=false; worker processes answer them) runs the upkeep's
last part alone: it still queues again what it acknowledged if the queue is emptied.

Each entry's life follows bot/work/lifecycle.py. The messages an answer has posted are also kept in the store
as they appear, so that a process that dies without handing back leaves them for the one that reclaims it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import uuid
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.answer.answerer import Attempt, Question
from bot.errors import StoreUnavailable
from bot.slack.messages import BotIdentity
from bot.store.base import Store
from bot.store.deadline import outside_deadline
from bot.store.queue import Entry, Queue
from bot.store.redis_guard import PAUSE_SECONDS
from bot.store.redis_turns import DEFAULT_LEASE_SECONDS, RENEWALS
from bot.store.thread_locks import turn_order
from bot.tasks import TaskTracker
from bot.work.intake import Intake
from bot.work.job import Job
from bot.work.lifecycle import Event, QuestionLife, State

logger = logging.getLogger(__name__)

RECLAIM_IDLE_SECONDS = 10.0
UPKEEP_SECONDS = 2.0
TAKE_BLOCK_SECONDS = 2.0
BATCH = 10
# After a failed read, the next one waits this long (the store's guard pauses Redis meanwhile anyway).
RETRY_SECONDS = 1.0
# After the queue was found emptied, answers in progress first hold their threads again (a turn's lease is
# renewed every RENEWALS-th of its length, once the store's pause after Redis failed is over), so that a
# question queued again waits for its own answer in progress.
QUEUE_AGAIN_SECONDS = PAUSE_SECONDS + DEFAULT_LEASE_SECONDS / RENEWALS + 1.0
REPLY_NOTE_SECONDS = 3600.0
# Attempts at one question (the stream's delivery count, crashes of the process answering it included); the
# delivery after the last one posts the final notice instead.
MAX_ATTEMPTS = 3


def consumer_name() -> str:
    """Unique per process, readable in XINFO: Heroku's dyno name where there is one."""
    return f"{os.environ.get('DYNO') or socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def reply_note(key: str) -> str:
    return f"reply:{key}"


class Answers(Protocol):
    """What the consumer needs of bot.answer.answerer.Answerer."""

    async def answer(self, question: Question, identity: BotIdentity, attempt: Attempt | None = None) -> None: ...

    async def give_up(self, question: Question, identity: BotIdentity, attempt: Attempt, tries: int) -> None: ...


@dataclass
class _Work:
    entry: Entry
    job: Job
    life: QuestionLife
    attempt: Attempt
    messages: list[str] = field(default_factory=list)


class Consumer:
    def __init__(
        self,
        queue: Queue,
        answerer: Answers,
        intake: Intake,
        notes: Store,
        tasks: TaskTracker,
        *,
        name: str | None = None,
        reclaim_idle_seconds: float = RECLAIM_IDLE_SECONDS,
        upkeep_seconds: float = UPKEEP_SECONDS,
        block_seconds: float = TAKE_BLOCK_SECONDS,
        queue_again_seconds: float = QUEUE_AGAIN_SECONDS,
        answering: bool = True,
    ) -> None:
        self.queue = queue
        self.answerer = answerer
        self.intake = intake
        self.notes = notes
        self.tasks = tasks
        self.name = name or consumer_name()
        self.reclaim_idle_seconds = reclaim_idle_seconds
        self.upkeep_seconds = upkeep_seconds
        self.block_seconds = block_seconds
        self.queue_again_seconds = queue_again_seconds
        self.answering = answering
        self._work: dict[str, tuple[_Work, asyncio.Task[None]]] = {}
        self._loops: list[asyncio.Task[None]] = []
        self._side: set[asyncio.Task[Any]] = set()
        self._stopping = False

    @property
    def in_flight(self) -> int:
        return len(self._work)

    def start(self) -> None:
        self._loops = [asyncio.create_task(self._upkeep_loop(), name="queue: renew and reclaim")]
        if self.answering:
            self._loops.append(asyncio.create_task(self._take_loop(), name="queue: take"))

    async def stop(self, within_seconds: float) -> None:
        """Stops taking; hands every unfinished answer back (bot/work/lifecycle.py rule 3)."""
        self._stopping = True
        for loop in self._loops:
            loop.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        held = list(self._work.values())
        for work, task in held:
            work.attempt.handing_back = True
            task.cancel()
        if held:
            logger.info("handing unfinished answers back to the queue", extra={"answers": len(held)})
            await asyncio.wait([task for _, task in held], timeout=within_seconds)
        # In the order the questions were asked, so that the next process takes each thread's turns in order.
        for work, _ in sorted(held, key=lambda held: turn_order(held[0].job.question.ts)):
            if not work.attempt.finished:
                await self._hand_back(work)
        for side in list(self._side):
            side.cancel()
        await asyncio.gather(*self._side, return_exceptions=True)

    # --- the loops --------------------------------------------------------------------------------

    async def _take_loop(self) -> None:
        outside_deadline()
        failing = False
        while not self._stopping:
            try:
                entries = await self.queue.take(self.name, BATCH, self.block_seconds)
            except StoreUnavailable as error:
                if not failing:
                    logger.warning("the question queue cannot be read; trying again", extra={"error": str(error)})
                failing = True
                await asyncio.sleep(RETRY_SECONDS)
                continue
            failing = False
            if self._stopping or _cancelling():
                await self._give_back(entries)
                raise asyncio.CancelledError
            for entry in entries:
                self._begin(entry, Event.TAKEN)

    async def _upkeep_loop(self) -> None:
        outside_deadline()
        failing = False
        first = True
        while not self._stopping:
            # The first time at once: the epoch that the first entries are taken under, so that a process that
            # never puts (a worker) learns that Redis lost them even if that happens in its first seconds.
            if not first:
                await asyncio.sleep(self.upkeep_seconds)
            try:
                if self.answering and not first:
                    await self._renew_and_reclaim()
                first = False
                if await self.queue.emptied():
                    logger.warning("the question queue was emptied (Redis lost its data); queuing again what is known")
                    self._look_in_threads_first()
                    self._side_task(self._queue_again_later(), "queue: queue again")
                failing = False
            except StoreUnavailable as error:
                if _cancelling():
                    raise asyncio.CancelledError from error
                if not failing:  # once per outage
                    logger.warning("could not look after the queued questions", extra={"error": str(error)})
                failing = True

    def _look_in_threads_first(self) -> None:
        """The questions being answered here may now be queued again by the processes that acknowledged them
        (their entries were lost), and such a copy may take its thread's turn first (one still waiting for its
        turn ties with its copy) and answer: each one looks in its thread before it answers."""
        for work, _ in self._work.values():
            work.attempt.check_thread = True

    async def _renew_and_reclaim(self) -> None:
        """Keeps this process's entries, and takes those whose process stopped."""
        lost = await self.queue.renew(self.name, list(self._work))
        for entry_id in lost:
            if entry_id in self._work:
                logger.warning("an answer's entry was taken over by another process", extra={"entry": entry_id})
        reclaimed = await self.queue.reclaim(self.name, self.reclaim_idle_seconds, BATCH)
        if self._stopping or _cancelling():
            await self._give_back(reclaimed)
            raise asyncio.CancelledError
        for entry in reclaimed:
            if entry.id not in self._work:
                logger.info("answering a question whose process stopped", extra={"entry": entry.id})
                self._begin(entry, Event.RECLAIMED)

    async def _give_back(self, entries: Sequence[Entry]) -> None:
        """Entries that came with a read the stop interrupted (redis-py may swallow a cancellation that comes
        with its reply): handed back untouched, for a live process."""
        for entry in entries:
            with contextlib.suppress(StoreUnavailable):
                await self.queue.hand_back(self.name, entry.id, entry.payload)

    async def _queue_again_later(self) -> None:
        await asyncio.sleep(self.queue_again_seconds)
        await self.intake.queue_again({work.job.key for work, _ in self._work.values()})

    # --- one entry --------------------------------------------------------------------------------

    def _begin(self, entry: Entry, event: Event) -> None:
        try:
            job = Job.from_payload(entry.payload)
        except (ValueError, KeyError, TypeError) as error:
            logger.error("a queued question could not be read; dropped", extra={"entry": entry.id, "error": str(error)})
            self._side_task(self._drop(entry), "queue: drop")
            return
        life = QuestionLife(State.QUEUED)
        life.apply(event)
        work = _Work(entry, job, life, Attempt(check_thread=entry.redelivered or job.recheck, adopt=job.adopt))
        work.attempt.on_message = lambda ts: self._message_posted(work, ts)
        task = self.tasks.start(self._answer(work), name=f"answer {job.key} (queued)")
        self._work[entry.id] = (work, task)
        task.add_done_callback(lambda _: self._work.pop(entry.id, None))

    async def _answer(self, work: _Work) -> None:
        job = work.job
        if work.entry.redelivered and not job.adopt:
            note = await self.notes.recall(reply_note(job.key))
            work.attempt.adopt = tuple(json.loads(note)) if note else ()
        work.life.apply(Event.STARTED)
        try:
            if work.entry.deliveries > MAX_ATTEMPTS:
                await self.answerer.give_up(job.question, job.identity, work.attempt, work.entry.deliveries - 1)
            else:
                await self.answerer.answer(job.question, job.identity, work.attempt)
        except asyncio.CancelledError:
            if work.attempt.finished:
                await self._done(work)
            elif not work.attempt.handing_back:
                work.life.apply(Event.ABANDONED)
            raise  # `stop` hands it back, in order with the others
        except Exception:  # any bug in one answer: its question is tried again, MAX_ATTEMPTS times at most
            logger.exception("an answer failed; its question is tried again", extra=_tries(work))
        if work.attempt.finished or work.entry.deliveries > MAX_ATTEMPTS:
            await self._done(work)
        else:
            # Neither the answer nor a final notice is in the thread: left pending, reclaimed once idle.
            work.life.apply(Event.FAILED)
            logger.warning("a question was not answered; it is tried again", extra=_tries(work))

    def _message_posted(self, work: _Work, ts: str) -> None:
        work.messages.append(ts)
        note = json.dumps(_merged(work.attempt.adopt, work.messages))
        self._side_task(self.notes.remember(reply_note(work.job.key), note, REPLY_NOTE_SECONDS), "queue: note a reply")

    async def _done(self, work: _Work) -> None:
        work.life.apply(Event.POSTED)
        self.intake.settled(work.job.key)
        try:
            await self.queue.done(work.entry.id)
        except StoreUnavailable as error:
            # Left pending: reclaimed later, and then found answered in the thread.
            logger.warning("could not mark a queued question answered", extra={"error": str(error)})

    async def _hand_back(self, work: _Work) -> None:
        adopt = _merged(work.attempt.adopt, work.messages)
        handed = False
        try:
            handed = await self.queue.hand_back(self.name, work.entry.id, work.job.again(adopt).payload())
        except StoreUnavailable as error:
            logger.warning("could not hand a question back; it is reclaimed later", extra={"error": str(error)})
        if work.life.state in (State.CLAIMED, State.ANSWERING):
            work.life.apply(Event.HANDED if handed else Event.ABANDONED)

    async def _drop(self, entry: Entry) -> None:
        with contextlib.suppress(StoreUnavailable):
            await self.queue.done(entry.id)

    def _side_task(self, work: Coroutine[Any, Any, Any], name: str) -> None:
        if self._stopping and name != "queue: note a reply":
            work.close()
            return
        task = asyncio.create_task(work, name=name)
        self._side.add(task)
        task.add_done_callback(self._side_done)

    def _side_done(self, task: asyncio.Task[Any]) -> None:
        self._side.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("queue task crashed", exc_info=task.exception(), extra={"task": task.get_name()})


def _tries(work: _Work) -> dict[str, object]:
    return {"entry": work.entry.id, "key": work.job.key, "delivery": work.entry.deliveries}


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _merged(earlier: Sequence[str], posted: Sequence[str]) -> list[str]:
    """The messages of every attempt so far, each once, in order: an attempt that adopted a message reports it
    again as its own."""
    merged: list[str] = []
    for ts in [*earlier, *posted]:
        if ts not in merged:
            merged.append(ts)
    return merged
