"""The store of one process: claims, turns, a bounded thread cache, counters and budgets, in memory."""

from __future__ import annotations

import contextlib
import heapq
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence

from bot.store.base import Budget, Reservation
from bot.store.thread_locks import ThreadLocks

logger = logging.getLogger(__name__)


class MemoryStore:
    """In-process store. Claims expire by time only; the thread cache is bounded in entries and bytes (LRU).

    Claims are never dropped early to save memory: a claim must outlive Slack's last retry. Their number is
    bounded by time instead: deliveries per second times a claim's lifetime (see docs/memory.md).
    """

    def __init__(
        self,
        max_threads: int = 1000,
        max_thread_bytes: int = 32 * 1024 * 1024,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_notes: int = 20_000,
    ) -> None:
        self.max_threads = max_threads
        self.max_thread_bytes = max_thread_bytes
        self.clock = clock
        self.max_notes = max_notes
        self._notes: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._claims: dict[str, float] = {}
        self._claim_expiries: list[tuple[float, str]] = []
        self._threads: OrderedDict[str, tuple[str, int]] = OrderedDict()
        self._thread_bytes = 0
        self._counters = MemoryCounters(clock=clock)
        self._reservations = MemoryReservations(clock=clock)
        self.turns = ThreadLocks()

    @property
    def thread_bytes(self) -> int:
        return self._thread_bytes

    @property
    def claims(self) -> int:
        return len(self._claims)

    async def claim(self, key: str, ttl_seconds: float) -> bool:
        now = self.clock()
        while self._claim_expiries and self._claim_expiries[0][0] <= now:
            expiry, expired = heapq.heappop(self._claim_expiries)
            if self._claims.get(expired) == expiry:
                del self._claims[expired]
        if key in self._claims:
            return False
        self._claims[key] = now + ttl_seconds
        heapq.heappush(self._claim_expiries, (now + ttl_seconds, key))
        return True

    def thread_lock(self, key: str, ts: str) -> contextlib.AbstractAsyncContextManager[None]:
        return self.turns.hold(key, ts)

    async def get_thread(self, key: str) -> str | None:
        entry = self._threads.get(key)
        if entry is None:
            return None
        self._threads.move_to_end(key)
        return entry[0]

    async def put_thread(self, key: str, thread: str) -> None:
        await self.forget_thread(key)
        size = len(thread.encode())
        if size > self.max_thread_bytes:
            return
        self._threads[key] = (thread, size)
        self._thread_bytes += size
        while len(self._threads) > self.max_threads or self._thread_bytes > self.max_thread_bytes:
            _, (_, evicted_size) = self._threads.popitem(last=False)
            self._thread_bytes -= evicted_size

    async def forget_thread(self, key: str) -> None:
        entry = self._threads.pop(key, None)
        if entry is not None:
            self._thread_bytes -= entry[1]

    async def remember(self, key: str, value: str, ttl_seconds: float) -> None:
        self._notes.pop(key, None)
        self._notes[key] = (value, self.clock() + ttl_seconds)
        while len(self._notes) > self.max_notes:
            self._notes.popitem(last=False)

    async def recall(self, key: str) -> str | None:
        entry = self._notes.get(key)
        if entry is None:
            return None
        value, expires_at = entry
        if expires_at <= self.clock():
            del self._notes[key]
            return None
        return value

    async def exchange(self, key: str, value: str, ttl_seconds: float) -> str | None:
        previous = await self.recall(key)
        await self.remember(key, value, ttl_seconds)
        return previous

    async def add_counts(self, changes: Mapping[str, Mapping[str, int]], ttl_seconds: int) -> None:
        self._counters.add(changes, ttl_seconds)

    async def read_counts(self, keys: Sequence[str]) -> list[dict[str, int]] | None:
        return [self._counters.read(key) for key in keys]

    async def spent_budget(self, budgets: Sequence[Budget]) -> int | None:
        return self._spent(budgets)

    async def reserve(self, reservation: Reservation, lease_seconds: float) -> int | None:
        # Nothing is awaited between the check and the hold: within one process, that is the critical section.
        spent = self._spent(reservation.budgets)
        if spent is None:
            self._reservations.hold(reservation, lease_seconds)
        return spent

    async def renew_reservation(self, reservation: Reservation, lease_seconds: float) -> None:
        self._reservations.hold(reservation, lease_seconds)

    async def release_reservation(self, reservation: Reservation) -> None:
        self._reservations.release(reservation)

    def _spent(self, budgets: Sequence[Budget]) -> int | None:
        for index, budget in enumerate(budgets):
            used = self._counters.get(budget.key, budget.field) + self._reservations.reserved(budget)
            if used >= budget.limit:
                return index
        return None

    async def close(self) -> None:
        self._counters.clear()
        self._reservations.clear()
        self._notes.clear()
        self._claims.clear()
        self._claim_expiries.clear()
        self._threads.clear()
        self._thread_bytes = 0


class MemoryCounters:
    """Counters for one process, bounded: expired keys go first, then the keys closest to expiry; a key
    holds at most `max_fields` counters (new fields past that are not counted, and the loss is logged)."""

    def __init__(
        self, *, max_keys: int = 100, max_fields: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_keys = max_keys
        self.max_fields = max_fields
        self.clock = clock
        self._counts: dict[str, tuple[float, dict[str, int]]] = {}

    def add(self, changes: Mapping[str, Mapping[str, int]], ttl_seconds: int) -> None:
        now = self.clock()
        for key, amounts in changes.items():
            _, counts = self._live(key, now) or (0.0, {})
            for field, amount in amounts.items():
                if field in counts or len(counts) < self.max_fields:
                    counts[field] = counts.get(field, 0) + amount
                else:
                    logger.warning("usage counter full: not counted", extra={"key": key, "field": field})
            self._counts[key] = (now + ttl_seconds, counts)
        expired = [key for key, (expiry, _) in self._counts.items() if expiry <= now]
        for key in expired:
            del self._counts[key]
        while len(self._counts) > self.max_keys:
            del self._counts[min(self._counts, key=lambda key: self._counts[key][0])]

    def read(self, key: str) -> dict[str, int]:
        entry = self._live(key, self.clock())
        return dict(entry[1]) if entry else {}

    def get(self, key: str, field: str) -> int:
        entry = self._live(key, self.clock())
        return entry[1].get(field, 0) if entry else 0

    def clear(self) -> None:
        self._counts.clear()

    def _live(self, key: str, now: float) -> tuple[float, dict[str, int]] | None:
        entry = self._counts.get(key)
        return entry if entry is not None and entry[0] > now else None


class MemoryReservations:
    """Tokens reserved against budgets, each reservation until its lease ends. A lapsed one is dropped when
    any reservation is next held, so the number kept is the number of answers in flight, not a day's."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        # (counter key, field) → reservation id → (lease's end, tokens)
        self._held: dict[tuple[str, str], dict[str, tuple[float, int]]] = {}

    def reserved(self, budget: Budget) -> int:
        now = self.clock()
        held = self._held.get((budget.key, budget.field), {})
        return sum(tokens for until, tokens in held.values() if until > now)

    def hold(self, reservation: Reservation, lease_seconds: float) -> None:
        now = self.clock()
        for place in list(self._held):
            live = {id_: entry for id_, entry in self._held[place].items() if entry[0] > now}
            if live:
                self._held[place] = live
            else:
                del self._held[place]
        for budget in reservation.budgets:
            held = self._held.setdefault((budget.key, budget.field), {})
            held[reservation.id] = (now + lease_seconds, reservation.tokens)

    def release(self, reservation: Reservation) -> None:
        for budget in reservation.budgets:
            place = (budget.key, budget.field)
            held = self._held.get(place, {})
            held.pop(reservation.id, None)
            if not held:
                self._held.pop(place, None)

    def clear(self) -> None:
        self._held.clear()
