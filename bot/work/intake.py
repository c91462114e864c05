"""Records a delivery in the queue before Slack is acknowledged; refuses it (so Slack retries) if it cannot.

Slack retries a delivery it did not get a 2xx for about 1 s, 1 min and 5 min later (`X-Slack-Retry-Num` 1 to 3).
A short Redis outage is covered by those retries. On the last one the question is answered by this process
from its memory all the same, so that a long outage still answers rather than drops.

The process also keeps what it queued until it is answered here or its claim would have expired (a ledger
in memory, as JSON, bounded in count and size): if the queue comes back empty (Redis restarted without its
data), it queues it again, marked to be looked for in the thread first, so nothing is lost and nothing
answered twice.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Collection

from bot.answer.answerer import CLAIM_TTL_SECONDS, Question
from bot.errors import StoreUnavailable
from bot.slack.messages import BotIdentity
from bot.store.queue import Queue
from bot.work.job import Job
from bot.work.lifecycle import Event, QuestionLife

logger = logging.getLogger(__name__)

LAST_RETRY = 3
# Bounds the ledger whatever the traffic: Slack delivers at most 30,000 events an hour to an app.
MAX_LEDGER = 10_000
# And whatever the questions' size: a message may hold 40,000 characters (twice, with its blocks), so 10,000
# long ones would take 800 MB. Past this, the oldest are forgotten (only a Redis emptied would have needed them).
MAX_LEDGER_CHARS = 32_000_000


class Intake:
    def __init__(self, queue: Queue, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.queue = queue
        self.clock = clock
        # Key → (the job's payload, when its claim would expire, the queue's epoch it was put under). The payload
        # as JSON, not the Job: the event's parsed dicts cost four to five times its text (10,000 short
        # questions: 46 MB as Jobs, 13 MB as JSON).
        self._ledger: OrderedDict[str, tuple[str, float, str | None]] = OrderedDict()
        self._chars = 0

    @property
    def ledger(self) -> int:
        return len(self._ledger)

    @property
    def ledger_chars(self) -> int:
        return self._chars

    async def accept(self, question: Question, identity: BotIdentity, retry_num: int) -> QuestionLife:
        """The question's life after this delivery: QUEUED, DUPLICATE, REFUSED or IN_MEMORY (bot/work/lifecycle.py)."""
        life = QuestionLife()
        job = Job(question, identity, recheck=retry_num > 0)
        payload = job.payload()
        try:
            if await self.queue.put(job.key, payload, CLAIM_TTL_SECONDS):
                life.apply(Event.PUT)
                self._remember(job.key, payload)
            else:
                life.apply(Event.ALREADY_QUEUED)
        except StoreUnavailable as error:
            last = retry_num >= LAST_RETRY
            life.apply(Event.LAST_RETRY if last else Event.UNAVAILABLE)
            logger.warning(
                "question not queued: answered here from memory (Slack's last retry)"
                if last
                else "question not queued: Slack is not acknowledged and will retry",
                extra={"event_id": question.event_id, "retry_num": retry_num, "error": str(error)},
            )
        return life

    def settled(self, key: str) -> None:
        """The question is answered (or found answered): nothing to queue again."""
        self._forget(key)

    async def queue_again(self, in_flight: Collection[str]) -> int:
        """After the queue was found emptied: queues again every question this process acknowledged and has
        not seen answered, except those it is answering now and those put since the emptying (they are still
        queued, and a copy would be a second attempt beside the first). Returns how many."""
        self._expire()
        now = self.queue.epoch
        again = 0
        for key, (payload, _, epoch) in list(self._ledger.items()):
            if key in in_flight or (epoch is not None and epoch == now):
                continue
            try:
                await self.queue.put_again(Job.from_payload(payload).again().payload())
            except StoreUnavailable as error:
                logger.warning("could not queue a question again", extra={"key": key, "error": str(error)})
                continue
            again += 1
        if again:
            logger.warning("questions queued again after the queue was emptied", extra={"questions": again})
        return again

    def _remember(self, key: str, payload: str) -> None:
        self._expire()
        self._forget(key)
        # Read as `put` returns: the epoch that put saw.
        self._ledger[key] = (payload, self.clock() + CLAIM_TTL_SECONDS, self.queue.epoch)
        self._chars += len(payload)
        while len(self._ledger) > MAX_LEDGER or self._chars > MAX_LEDGER_CHARS:
            self._forget(next(iter(self._ledger)))

    def _expire(self) -> None:
        now = self.clock()
        while self._ledger and next(iter(self._ledger.values()))[1] <= now:
            self._forget(next(iter(self._ledger)))

    def _forget(self, key: str) -> None:
        held = self._ledger.pop(key, None)
        if held is not None:
            self._chars -= len(held[0])
