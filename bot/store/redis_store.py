"""The store of several processes (Heroku dynos), in Redis through `REDIS_URL`."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import redis.asyncio as redis
from redis.exceptions import RedisError

from bot.errors import StoreUnavailable
from bot.store.base import KEY_PREFIX, Budget, Reservation
from bot.store.redis_budgets import RedisBudgets
from bot.store.redis_cache import RedisThreadCache
from bot.store.redis_turns import DEFAULT_LEASE_SECONDS, RedisTurns

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RedisHealth:
    """What `check` reports of Redis: how fast it answers and what it does when full."""

    latency_ms: float
    maxmemory_policy: str
    maxmemory: int
    thread_cache_bytes: int


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
        self.budgets = RedisBudgets(client, KEY_PREFIX)

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

    async def spent_budget(self, budgets: Sequence[Budget]) -> int | None:
        return await self.budgets.spent(budgets)

    async def reserve(self, reservation: Reservation, lease_seconds: float) -> int | None:
        return await self.budgets.reserve(reservation, lease_seconds)

    async def renew_reservation(self, reservation: Reservation, lease_seconds: float) -> None:
        await self.budgets.renew(reservation, lease_seconds)

    async def release_reservation(self, reservation: Reservation) -> None:
        await self.budgets.release(reservation)

    async def health(self) -> RedisHealth:
        """PING's time, the eviction policy and memory limit, and the thread cache's budget; StoreUnavailable
        (naming the failure's type) when Redis cannot be reached."""
        started = time.monotonic()
        try:
            await self.client.ping()
            latency_ms = (time.monotonic() - started) * 1000
            memory = await self.client.info("memory")
            budget = await self.threads.budget()
        except (RedisError, OSError) as error:
            raise StoreUnavailable(type(error).__name__) from error
        return RedisHealth(
            latency_ms=latency_ms,
            maxmemory_policy=str(memory.get("maxmemory_policy", "unknown")),
            maxmemory=int(memory.get("maxmemory", 0)),
            thread_cache_bytes=budget,
        )

    async def close(self) -> None:
        await self.turns.close()
        await self.client.aclose()
