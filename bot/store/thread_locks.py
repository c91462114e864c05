"""In-process turn order: questions of one thread are answered one at a time, in the order they were posted.

Order is the message's Slack timestamp, not the order events arrive in: Slack may deliver a later message
first (a retry, a slow delivery), and the answers must still follow the thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field


def turn_order(ts: str) -> int:
    """A Slack timestamp ("1700000000.000100") as whole microseconds: exact, where a float drops digits."""
    seconds, _, fraction = ts.partition(".")
    return int(seconds) * 1_000_000 + int((fraction + "000000")[:6])


@dataclass
class _Thread:
    """States: free (no entry at all), held with nobody waiting, held with waiters (a heap by turn order).

    Invariant: a waiter's future is resolved only when the turn passes to it, so exactly one turn runs.
    """

    waiting: list[tuple[int, int, asyncio.Future[None]]] = field(default_factory=list)


class ThreadLocks:
    """One turn at a time per thread, waiters in message order; dropped when nobody holds or waits."""

    def __init__(self) -> None:
        self._threads: dict[str, _Thread] = {}
        self._arrivals = itertools.count()

    def __len__(self) -> int:
        return len(self._threads)

    def waiting(self, key: str) -> int:
        thread = self._threads.get(key)
        return len(thread.waiting) if thread else 0

    @contextlib.asynccontextmanager
    async def hold(self, key: str, ts: str) -> AsyncIterator[None]:
        """Waits for the turns of earlier messages (and the one running now), then holds the thread's turn."""
        thread = self._threads.get(key)
        if thread is None:
            self._threads[key] = thread = _Thread()
        else:
            waiter = asyncio.get_running_loop().create_future()
            entry = (turn_order(ts), next(self._arrivals), waiter)
            heapq.heappush(thread.waiting, entry)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.cancelled():
                    if entry in thread.waiting:
                        thread.waiting.remove(entry)
                        heapq.heapify(thread.waiting)
                else:
                    self._pass_on(key, thread)  # the turn came just as this task was cancelled
                raise
        try:
            yield
        finally:
            self._pass_on(key, thread)

    def _pass_on(self, key: str, thread: _Thread) -> None:
        while thread.waiting:
            _, _, waiter = heapq.heappop(thread.waiting)
            if not waiter.cancelled():  # a waiter cancelled before it could leave the queue is skipped
                waiter.set_result(None)
                return
        del self._threads[key]
