"""Records a delivery in the queue before Slack is acknowledged; refuses it (so Slack retries) if it cannot.

Slack retries a delivery it did not get a 2xx for about 1 s, 1 min and 5 min later (`X-Slack-Retry-Num` 1 to 3).
A short Redis outage is covered by those retries. On the last one the question is answered by this process
from its memory all the same, so that a long outage still answers rather than drops.

The process also keeps what it queued until it is answered here or its claim would have expired (a ledger
in memory): if the queue comes back empty (Redis restarted without its data), it queues it again, marked to
be looked for in the thread first, so nothing is lost and nothing answered twice.
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


class Intake:
    def __init__(self, queue: Queue, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.queue = queue
        self.clock = clock
        self._ledger: OrderedDict[str, tuple[Job, float]] = OrderedDict()

    @property
    def ledger(self) -> int:
        return len(self._ledger)

    async def accept(self, question: Question, identity: BotIdentity, retry_num: int) -> QuestionLife:
        """The question's life after this delivery: QUEUED, DUPLICATE, REFUSED or IN_MEMORY (bot/work/lifecycle.py)."""
        life = QuestionLife()
        job = Job(question, identity, recheck=retry_num > 0)
        try:
            if await self.queue.put(job.key, job.payload(), CLAIM_TTL_SECONDS):
                life.apply(Event.PUT)
                self._remember(job)
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
        self._ledger.pop(key, None)

    async def queue_again(self, in_flight: Collection[str]) -> int:
        """After the queue was found emptied: queues again every question this process acknowledged and has
        not seen answered, except those it is answering now. Returns how many."""
        self._expire()
        again = 0
        for key, (job, _) in list(self._ledger.items()):
            if key in in_flight:
                continue
            try:
                await self.queue.put_again(job.again().payload())
            except StoreUnavailable as error:
                logger.warning("could not queue a question again", extra={"key": key, "error": str(error)})
                continue
            again += 1
        if again:
            logger.warning("questions queued again after the queue was emptied", extra={"questions": again})
        return again

    def _remember(self, job: Job) -> None:
        self._expire()
        self._ledger[job.key] = (job, self.clock() + CLAIM_TTL_SECONDS)
        while len(self._ledger) > MAX_LEDGER:
            self._ledger.popitem(last=False)

    def _expire(self) -> None:
        now = self.clock()
        while self._ledger and next(iter(self._ledger.values()))[1] <= now:
            self._ledger.popitem(last=False)
