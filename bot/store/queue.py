"""The Queue: questions acknowledged to Slack and not yet answered, as one protocol with two implementations.

`MemoryQueue` (bot.store.memory_queue) serves one process and the tests; `RedisQueue` (bot.store.redis_queue)
keeps the entries in a Redis Stream with a consumer group, so that they outlive the process that took them.

An entry is put once per key (`put` de-duplicates and records in one step), taken by one consumer, renewed
while that consumer works on it, and then either `done` (gone for good), `handed_back` (a new entry for any
live consumer) or, when its consumer stops renewing it, `reclaimed` by another consumer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.errors import StoreUnavailable


@dataclass(frozen=True)
class Entry:
    """One queued question: `payload` as it was put; `redelivered` once another consumer had it before."""

    id: str
    payload: str
    redelivered: bool = False


class QueueReset(StoreUnavailable):
    """The queue came back empty (Redis restarted without its data): what was queued before is gone."""


class Queue(Protocol):
    async def put(self, key: str, payload: str, ttl_seconds: float) -> bool:
        """Queues `payload` unless `key` was put within `ttl_seconds` (then False), in one atomic step.
        Raises StoreUnavailable when the entry could not be recorded."""
        ...

    async def put_again(self, payload: str) -> None:
        """Queues `payload` without a key check (a hand-back, or a question the queue lost)."""
        ...

    async def take(self, consumer: str, count: int, block_seconds: float) -> list[Entry]:
        """New entries for `consumer`, waiting up to `block_seconds` for one. Raises QueueReset when the queue
        was found emptied (and is then ready again), StoreUnavailable when it cannot be read."""
        ...

    async def reclaim(self, consumer: str, min_idle_seconds: float, count: int) -> list[Entry]:
        """Entries whose consumer has not renewed them for `min_idle_seconds` (it died), now `consumer`'s."""
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
