"""The store of several processes (Heroku dynos), in Redis through `REDIS_URL`."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError

from bot.errors import StoreUnavailable
from bot.settings import DEFAULT_REDIS_MAX_CONNECTIONS as DEFAULT_MAX_CONNECTIONS
from bot.settings import Settings
from bot.store.base import KEY_PREFIX, Budget, Reservation
from bot.store.memory import MemoryStore
from bot.store.redis_budgets import RedisBudgets
from bot.store.redis_cache import RedisThreadCache
from bot.store.redis_guard import RedisGuard, WaitingPool
from bot.store.redis_turns import DEFAULT_LEASE_SECONDS, RedisTurns

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RedisHealth:
    """What `check` reports of Redis: how fast it answers and what it does when full."""

    latency_ms: float
    maxmemory_policy: str
    maxmemory: int
    thread_cache_bytes: int
    # Clients connected now (this check among them), and how many Redis allows (0 if it does not say).
    connected_clients: int
    maxclients: int
    # Connections this process opens at most (REDIS_MAX_CONNECTIONS).
    max_connections: int


class RedisStore:
    """Redis-backed store for several processes. If Redis fails, it degrades to the process's own memory:
    claims and turns as `MemoryStore` keeps them, threads read from Slack (bot/store/redis_guard.py says how
    a failing Redis is noticed without holding answers up)."""

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
        self.guard = RedisGuard()
        # What this process has claimed, whatever Redis said: a second delivery of an event it took is known
        # here even when Redis fails in between; and with Redis down, claims are as good as one process's.
        self.local = MemoryStore()
        # What Redis said another process has claimed: still refused when Redis then fails.
        self.taken_elsewhere = MemoryStore()
        self.turns = RedisTurns(client, KEY_PREFIX, lease_seconds, self.guard, self.local.turns)
        self.threads = RedisThreadCache(
            client,
            KEY_PREFIX,
            max_entries=max_threads,
            max_bytes=max_thread_bytes,
            ttl_seconds=thread_ttl_seconds,
            guard=self.guard,
        )
        self.budgets = RedisBudgets(client, KEY_PREFIX, self.guard)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        max_threads: int = 1000,
        max_thread_bytes: int = 32 * 1024 * 1024,
    ) -> RedisStore:
        """A store on at most `max_connections` connections (bot/store/redis_guard.py's WaitingPool)."""
        # Heroku Key-Value Store serves rediss:// with a self-signed certificate; Heroku documents
        # connecting without certificate verification.
        options = {"ssl_cert_reqs": None} if urlsplit(url).scheme == "rediss" else {}
        pool = WaitingPool.from_url(
            url,
            max_connections=max_connections,
            decode_responses=True,
            health_check_interval=30,
            **options,
        )
        return cls(redis.Redis.from_pool(pool), max_threads=max_threads, max_thread_bytes=max_thread_bytes)

    @classmethod
    def from_settings(cls, settings: Settings) -> RedisStore:
        if not settings.redis_url:
            raise ValueError("REDIS_URL is not set")
        return cls.from_url(
            settings.redis_url,
            max_connections=settings.redis_max_connections,
            max_threads=settings.thread_cache_max_entries,
            max_thread_bytes=settings.thread_cache_max_bytes,
        )

    async def claim(self, key: str, ttl_seconds: float) -> bool:
        if not await self.local.claim(key, ttl_seconds):
            return False
        try:
            taken = bool(
                await self.guard.run(
                    lambda: self.client.set(KEY_PREFIX + key, "1", nx=True, ex=max(1, int(ttl_seconds)))
                )
            )
        except RedisError as error:
            if not await self.taken_elsewhere.claim(key, ttl_seconds):
                await self.local.release(key)
                return False
            await self.taken_elsewhere.release(key)
            logger.warning("redis unavailable: claimed in this process only", extra={"error": repr(error)})
            return True
        if not taken:
            # Another process holds it: refused here too while Redis is down, but not held by this process, so
            # that once that process gives it back (`release`), Redis decides again.
            await self.local.release(key)
            await self.taken_elsewhere.claim(key, ttl_seconds)
        return taken

    async def release(self, key: str) -> None:
        await self.local.release(key)
        try:
            await self.guard.run(lambda: self.client.delete(KEY_PREFIX + key))
        except RedisError as error:
            logger.warning("redis unavailable: claim kept until it expires", extra={"error": repr(error)})

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
            await self.guard.run(
                lambda: self.client.set(KEY_PREFIX + "note:" + key, value, ex=max(1, int(ttl_seconds)))
            )
        except RedisError as error:
            logger.warning("redis unavailable: note not kept", extra={"error": repr(error)})

    async def recall(self, key: str) -> str | None:
        try:
            value = await self.guard.run(lambda: self.client.get(KEY_PREFIX + "note:" + key))
        except RedisError as error:
            logger.warning("redis unavailable: note not read", extra={"error": repr(error)})
            return None
        return str(value) if value is not None else None

    async def exchange(self, key: str, value: str, ttl_seconds: float) -> str | None:
        try:
            previous = await self.guard.run(
                lambda: self.client.set(KEY_PREFIX + "note:" + key, value, ex=max(1, int(ttl_seconds)), get=True)
            )
        except RedisError as error:
            logger.warning("redis unavailable: note not kept", extra={"error": repr(error)})
            return None
        return str(previous) if previous is not None else None

    async def add_counts(self, changes: Mapping[str, Mapping[str, int]], ttl_seconds: int) -> None:
        def build(pipe: Pipeline) -> None:
            for key, amounts in changes.items():
                for field, amount in amounts.items():
                    pipe.hincrby(KEY_PREFIX + key, field, amount)
                pipe.expire(KEY_PREFIX + key, ttl_seconds)

        try:
            await self._pipelined(build, transaction=True)
        except RedisError as error:
            logger.warning("redis unavailable: usage not counted", extra={"error": repr(error)})

    async def read_counts(self, keys: Sequence[str]) -> list[dict[str, int]] | None:
        def build(pipe: Pipeline) -> None:
            for key in keys:
                pipe.hgetall(KEY_PREFIX + key)

        try:
            results = await self._pipelined(build, transaction=False)
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

    async def _pipelined(self, build: Callable[[Pipeline], None], *, transaction: bool) -> list[Any]:
        """The commands `build` queues, sent as one round trip within the guard's limits."""

        async def send() -> list[Any]:
            async with self.client.pipeline(transaction=transaction) as pipe:
                build(pipe)
                return await pipe.execute()

        return await self.guard.run(send)

    async def health(self) -> RedisHealth:
        """PING's time, the eviction policy and memory limit, the thread cache's budget, the clients connected and
        allowed; StoreUnavailable
        (naming the failure's type) when Redis cannot be reached."""
        started = time.monotonic()
        try:
            await self.client.ping()
            latency_ms = (time.monotonic() - started) * 1000
            memory = await self.client.info("memory")
            clients = await self.client.info("clients")
            budget = await self.threads.budget()
        except (RedisError, OSError) as error:
            raise StoreUnavailable(type(error).__name__) from error
        return RedisHealth(
            latency_ms=latency_ms,
            maxmemory_policy=str(memory.get("maxmemory_policy", "unknown")),
            maxmemory=int(memory.get("maxmemory", 0)),
            thread_cache_bytes=budget,
            connected_clients=int(clients.get("connected_clients", 0)),
            maxclients=int(clients.get("maxclients", 0)),
            max_connections=int(getattr(self.client.connection_pool, "max_connections", 0)),
        )

    async def close(self) -> None:
        await self.turns.close()
        await self.client.aclose()
