"""The Store: state shared between deliveries (which events are taken, whose turn it is in a thread, cached
threads), as one protocol with two implementations.

`MemoryStore` (bot.store.memory) serves one process. `RedisStore` (bot.store.redis_store) serves several
(Heroku dynos) through `REDIS_URL`. Both only make things faster or exactly-once; Slack stays the source of truth
for what a thread says, so a store that loses everything (a restart, an eviction) costs time, never correctness.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

KEY_PREFIX = "slackbot:"


@dataclass(frozen=True)
class Budget:
    """A limit on the counter at (`key`, `field`); what is reserved against it counts as spent."""

    key: str
    field: str
    limit: int


@dataclass(frozen=True)
class Reservation:
    """An answer's estimated tokens, counted against its budgets while it runs: until it is released, or
    until its lease lapses unrenewed (its process died), so that it never outlives its answer for long."""

    budgets: tuple[Budget, ...]
    tokens: int
    id: str = field(default_factory=lambda: uuid.uuid4().hex)


class Store(Protocol):
    async def claim(self, key: str, ttl_seconds: float) -> bool:
        """True for the first caller of `key` within `ttl_seconds`, False for every later one."""
        ...

    def thread_lock(self, key: str, ts: str) -> contextlib.AbstractAsyncContextManager[None]:
        """Held while one turn of a thread is answered: turns go one at a time, in the order of their
        messages' `ts` (the order they were posted), whichever process and whenever they arrive."""
        ...

    async def get_thread(self, key: str) -> str | None: ...

    async def put_thread(self, key: str, thread: str) -> None: ...

    async def forget_thread(self, key: str) -> None: ...

    async def remember(self, key: str, value: str, ttl_seconds: float) -> None:
        """Keeps a small note (such as which thread a DM catch-up is about) for `ttl_seconds`."""
        ...

    async def recall(self, key: str) -> str | None: ...

    async def exchange(self, key: str, value: str, ttl_seconds: float) -> str | None:
        """Keeps `value` as the note at `key` and returns the note it replaced, in one step: of two
        callers at once, each sees the other's value or none, never the same old one."""
        ...

    async def add_counts(self, changes: Mapping[str, Mapping[str, int]], ttl_seconds: int) -> None:
        """Adds to counters (key → field → amount), each addition atomic, so processes can share them;
        a key expires `ttl_seconds` after its last change."""
        ...

    async def read_counts(self, keys: Sequence[str]) -> list[dict[str, int]] | None:
        """Every counter of each key; None when the store cannot be read."""
        ...

    async def spent_budget(self, budgets: Sequence[Budget]) -> int | None:
        """The index of the first budget that is spent (its counter and its live reservations together at or
        past its limit); None when none is, or when the store cannot be read (a budget is a cost control, not
        a safety gate)."""
        ...

    async def reserve(self, reservation: Reservation, lease_seconds: float) -> int | None:
        """As `spent_budget` for the reservation's budgets; when none is spent, the reservation is held against
        each for `lease_seconds`. One atomic step, so that of a burst of questions at once only as many pass
        as the budget has room for."""
        ...

    async def renew_reservation(self, reservation: Reservation, lease_seconds: float) -> None:
        """Holds the reservation for `lease_seconds` from now (again, if its lease had lapsed)."""
        ...

    async def release_reservation(self, reservation: Reservation) -> None: ...

    async def close(self) -> None: ...
