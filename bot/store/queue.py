"""The Queue: questions acknowledged to Slack and not yet answered, as one protocol with two implementations.

`MemoryQueue` (here) serves one process and the tests; `RedisQueue` (bot.store.redis_queue)
keeps the entries in a Redis Stream with a consumer group, so that they outlive the process that took them.

An entry is put once per key (`put` de-duplicates and records in one step), taken by one consumer, renewed
while that consumer works on it, and then either `done` (gone for good), `handed_back` (a new entry for any
live consumer) or, when its consumer stops renewing it, `reclaimed` by another consumer.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Entry:
    """One queued question: `payload` as it was put; `redelivered` once another consumer had it before;
    `deliveries`: how many times it was delivered to a consumer, this time included (the stream's count)."""

    id: str
    payload: str
    redelivered: bool = False
    deliveries: int = 1


class Queue(Protocol):
    async def put(self, key: str, payload: str, ttl_seconds: float) -> bool:
        """Queues `payload` unless `key` was put within `ttl_seconds` (then False), in one atomic step.
        Raises StoreUnavailable when the entry could not be recorded."""
        ...

    async def put_again(self, payload: str) -> None:
        """Queues `payload` without a key check (a hand-back, or a question the queue lost)."""
        ...

    async def take(self, consumer: str, count: int, block_seconds: float) -> list[Entry]:
        """New entries for `consumer`, waiting up to `block_seconds` for one. Raises StoreUnavailable when it
        cannot be read."""
        ...

    async def emptied(self) -> bool:
        """Whether the queue was emptied (Redis restarted without its data) since this process last put or
        asked: what it put before is gone. True once per emptying. Raises StoreUnavailable."""
        ...

    @property
    def epoch(self) -> str | None:
        """The queue's data as the last call found it (a new one after each emptying), None if it does not
        say: what was put under another epoch is gone, what was put under this one is not."""
        ...

    async def reclaim(self, consumer: str, min_idle_seconds: float, count: int) -> list[Entry]:
        """Entries whose consumer has not renewed them for `min_idle_seconds` (it died, or its attempt failed),
        now `consumer`'s, each with its count of deliveries."""
        ...

    async def renew(self, consumer: str, ids: Sequence[str]) -> list[str]:
        """Resets the idle time of `consumer`'s entries; returns those of `ids` it no longer holds."""
        ...

    async def done(self, entry_id: str) -> None:
        """The entry is answered: gone for good."""
        ...

    async def hand_back(self, consumer: str, entry_id: str, payload: str) -> bool:
        """Gives the entry up to any live consumer at once, as a new entry holding `payload`; False (and
        nothing changed) when `consumer` no longer holds it."""
        ...

    async def close(self) -> None: ...


@dataclass
class _Pending:
    entry: Entry
    consumer: str
    since: float


class MemoryQueue:
    """Entries wait in `_new` until taken, then sit in `_pending` under their consumer until done or given up."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._keys: dict[str, float] = {}
        self._new: list[Entry] = []
        self._pending: dict[str, _Pending] = {}
        self._ids = itertools.count(1)
        self._arrived = asyncio.Condition()

    @property
    def pending(self) -> dict[str, str]:
        """Entry id → its consumer, for tests."""
        return {entry_id: pending.consumer for entry_id, pending in self._pending.items()}

    @property
    def waiting(self) -> int:
        return len(self._new)

    async def put(self, key: str, payload: str, ttl_seconds: float) -> bool:
        now = self.clock()
        if self._keys.get(key, 0.0) > now:
            return False
        self._keys[key] = now + ttl_seconds
        await self.put_again(payload)
        return True

    async def put_again(self, payload: str) -> None:
        self._new.append(Entry(f"{next(self._ids)}-0", payload))
        async with self._arrived:
            self._arrived.notify_all()

    async def emptied(self) -> bool:
        return False  # it lives as long as the process

    @property
    def epoch(self) -> str | None:
        return None

    async def take(self, consumer: str, count: int, block_seconds: float) -> list[Entry]:
        if not self._new:
            async with self._arrived:
                try:
                    async with asyncio.timeout(block_seconds):
                        await self._arrived.wait_for(lambda: bool(self._new))
                except TimeoutError:
                    return []
        taken, self._new = self._new[:count], self._new[count:]
        for entry in taken:
            self._pending[entry.id] = _Pending(entry, consumer, self.clock())
        return taken

    async def reclaim(self, consumer: str, min_idle_seconds: float, count: int) -> list[Entry]:
        now = self.clock()
        idle = [pending for pending in self._pending.values() if now - pending.since >= min_idle_seconds]
        reclaimed = []
        for pending in idle[:count]:
            entry = Entry(
                pending.entry.id, pending.entry.payload, redelivered=True, deliveries=pending.entry.deliveries + 1
            )
            self._pending[entry.id] = _Pending(entry, consumer, now)
            reclaimed.append(entry)
        return reclaimed

    async def renew(self, consumer: str, ids: Sequence[str]) -> list[str]:
        lost = []
        for entry_id in ids:
            pending = self._pending.get(entry_id)
            if pending is None or pending.consumer != consumer:
                lost.append(entry_id)
            else:
                pending.since = self.clock()
        return lost

    async def done(self, entry_id: str) -> None:
        self._pending.pop(entry_id, None)

    async def hand_back(self, consumer: str, entry_id: str, payload: str) -> bool:
        pending = self._pending.get(entry_id)
        if pending is None or pending.consumer != consumer:
            return False
        del self._pending[entry_id]
        await self.put_again(payload)
        return True

    async def close(self) -> None:
        self._new.clear()
        self._pending.clear()
