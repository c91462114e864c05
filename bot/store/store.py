"""State shared between deliveries: which events are taken, whose turn it is in a thread, cached threads.

`MemoryStore` serves one process. `RedisStore` serves several (Heroku dynos) through `REDIS_URL`.
Both only make things faster or exactly-once; Slack stays the source of truth for what a thread says,
so a store that loses everything (a restart, an eviction) costs time, never correctness.
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol
from urllib.parse import urlsplit

import redis.asyncio as redis
from redis.exceptions import RedisError

from bot.store.redis_cache import RedisThreadCache
from bot.store.redis_turns import DEFAULT_LEASE_SECONDS, RedisTurns
from bot.store.thread_locks import ThreadLocks

logger = logging.getLogger(__name__)

KEY_PREFIX = "slackbot:"


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

    async def read_fields(self, fields: Sequence[tuple[str, str]]) -> list[int] | None:
        """The counters at (key, field), 0 where none; None when the store cannot be read."""
        ...

    async def close(self) -> None: ...


class MemoryStore:
    """In-process store. Claims expire by time only; the thread cache is bounded in entries and bytes (LRU).

    Claims are never dropped early to save memory: a claim must outlive Slack's last retry. Their number is
    bounded by time instead: deliveries per second times a claim's lifetime (see README, "Conversation memory").
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

    async def read_fields(self, fields: Sequence[tuple[str, str]]) -> list[int] | None:
        return [self._counters.read(key).get(field, 0) for key, field in fields]

    async def close(self) -> None:
        self._counters.clear()
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

    def clear(self) -> None:
        self._counts.clear()

    def _live(self, key: str, now: float) -> tuple[float, dict[str, int]] | None:
        entry = self._counts.get(key)
        return entry if entry is not None and entry[0] > now else None


class RedisStore:
    """Redis-backed store for several processes. If Redis fails, it degrades to answering without it."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        max_threads: int = 1000,
        max_thread_bytes: int = 32 * 1024 * 1024,
        thread_ttl_seconds: int = 24 * 3600,
    ) -> None:
        self.client = client
        self.turns = RedisTurns(client, KEY_PREFIX, lease_seconds)
        self.threads = RedisThreadCache(
            client, KEY_PREFIX, max_entries=max_threads, max_bytes=max_thread_bytes, ttl_seconds=thread_ttl_seconds
        )

    @classmethod
    def from_url(cls, url: str, *, max_threads: int = 1000, max_thread_bytes: int = 32 * 1024 * 1024) -> RedisStore:
        # Heroku Key-Value Store serves rediss:// with a self-signed certificate; Heroku documents
        # connecting without certificate verification.
        options = {"ssl_cert_reqs": None} if urlsplit(url).scheme == "rediss" else {}
        client = redis.from_url(url, decode_responses=True, health_check_interval=30, **options)
        return cls(client, max_threads=max_threads, max_thread_bytes=max_thread_bytes)

    async def claim(self, key: str, ttl_seconds: float) -> bool:
        try:
            return bool(await self.client.set(KEY_PREFIX + key, "1", nx=True, ex=max(1, int(ttl_seconds))))
        except RedisError as error:
            logger.warning("redis unavailable: answering without de-duplication", extra={"error": repr(error)})
            return True

    def thread_lock(self, key: str, ts: str) -> contextlib.AbstractAsyncContextManager[None]:
        return self.turns.hold(key, ts)

    async def get_thread(self, key: str) -> str | None:
        return await self.threads.get(key)

    async def put_thread(self, key: str, thread: str) -> None:
        await self.threads.put(key, thread)

    async def forget_thread(self, key: str) -> None:
        await self.threads.forget(key)

    async def remember(self, key: str, value: str, ttl_seconds: float) -> None:
        try:
            await self.client.set(KEY_PREFIX + "note:" + key, value, ex=max(1, int(ttl_seconds)))
        except RedisError as error:
            logger.warning("redis unavailable: note not kept", extra={"error": repr(error)})

    async def recall(self, key: str) -> str | None:
        try:
            value = await self.client.get(KEY_PREFIX + "note:" + key)
        except RedisError as error:
            logger.warning("redis unavailable: note not read", extra={"error": repr(error)})
            return None
        return str(value) if value is not None else None

    async def exchange(self, key: str, value: str, ttl_seconds: float) -> str | None:
        try:
            previous = await self.client.set(KEY_PREFIX + "note:" + key, value, ex=max(1, int(ttl_seconds)), get=True)
        except RedisError as error:
            logger.warning("redis unavailable: note not kept", extra={"error": repr(error)})
            return None
        return str(previous) if previous is not None else None

    async def add_counts(self, changes: Mapping[str, Mapping[str, int]], ttl_seconds: int) -> None:
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                for key, amounts in changes.items():
                    for field, amount in amounts.items():
                        pipe.hincrby(KEY_PREFIX + key, field, amount)
                    pipe.expire(KEY_PREFIX + key, ttl_seconds)
                await pipe.execute()
        except RedisError as error:
            logger.warning("redis unavailable: usage not counted", extra={"error": repr(error)})

    async def read_counts(self, keys: Sequence[str]) -> list[dict[str, int]] | None:
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.hgetall(KEY_PREFIX + key)
                results = await pipe.execute()
        except RedisError as error:
            logger.warning("redis unavailable: usage not read", extra={"error": repr(error)})
            return None
        return [{str(field): int(value) for field, value in result.items()} for result in results]

    async def read_fields(self, fields: Sequence[tuple[str, str]]) -> list[int] | None:
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for key, field in fields:
                    pipe.hget(KEY_PREFIX + key, field)
                results = await pipe.execute()
        except RedisError as error:
            logger.warning("redis unavailable: usage not read", extra={"error": repr(error)})
            return None
        return [int(value or 0) for value in results]

    async def close(self) -> None:
        await self.turns.close()
        await self.client.aclose()
