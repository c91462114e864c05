"""The in-process store: claims once, and a thread cache bounded in entries and bytes."""

from __future__ import annotations

import asyncio

import redis.asyncio as redis

from bot.answer.answerer import CLAIM_TTL_SECONDS
from bot.store.memory import MemoryStore
from bot.store.redis_store import RedisStore
from tests.redis_server import controlled_redis_server, redis_server


async def test_a_key_is_claimed_once() -> None:
    store = MemoryStore()
    assert await store.claim("event:1", 60)
    assert not await store.claim("event:1", 60)
    assert await store.claim("event:2", 60)


async def test_claims_expire() -> None:
    store = MemoryStore()
    assert await store.claim("event:1", 0)
    assert await store.claim("event:1", 60)


async def test_a_released_claim_can_be_taken_again() -> None:
    store = MemoryStore()
    assert await store.claim("escalated:1", 60)
    await store.release("escalated:1")
    assert await store.claim("escalated:1", 60)
    assert not await store.claim("escalated:1", 60)


async def test_a_claim_released_in_one_redis_process_is_free_in_another() -> None:
    async with redis_server() as url:
        one, two = (RedisStore(redis.from_url(url, decode_responses=True)) for _ in range(2))
        try:
            assert await one.claim("escalated:1", 60)
            assert not await two.claim("escalated:1", 60)
            await one.release("escalated:1")
            assert await two.claim("escalated:1", 60)
            assert not await one.claim("escalated:1", 60)
        finally:
            await one.close()
            await two.close()


async def test_calls_beyond_the_connection_limit_wait_for_a_connection_instead_of_failing() -> None:
    """A busy process has more calls in flight than connections: each waits its turn and reaches Redis (a
    failing call would fall back to claims in this process only, which another process does not see)."""
    async with redis_server() as url:
        busy, other = RedisStore.from_url(url, max_connections=4), RedisStore.from_url(url)
        try:
            keys = [f"event:{n}" for n in range(60)]
            assert all(await asyncio.gather(*(busy.claim(key, 60) for key in keys)))
            assert int((await busy.client.info("clients"))["connected_clients"]) <= 4
            assert not any(await asyncio.gather(*(other.claim(key, 60) for key in keys))), "all were in Redis"
        finally:
            await busy.close()
            await other.close()


async def test_a_claim_another_redis_process_holds_stays_refused_when_redis_fails() -> None:
    async with controlled_redis_server() as server:
        one, two = (RedisStore(redis.from_url(server.url, decode_responses=True)) for _ in range(2))
        try:
            assert await one.claim("event:1", 60)
            assert not await two.claim("event:1", 60)
            await server.stop()
            assert not await two.claim("event:1", 60)
            assert not await one.claim("event:1", 60)
            assert await two.claim("event:2", 60), "a new key is claimed in the process alone"
        finally:
            await one.close()
            await two.close()


async def test_thread_cache_is_bounded_in_entries() -> None:
    store = MemoryStore(max_threads=2)
    for key in ("a", "b", "c"):
        await store.put_thread(key, "x")
    assert [await store.get_thread(key) for key in ("a", "b", "c")] == [None, "x", "x"]


async def test_thread_cache_is_bounded_in_bytes_least_recently_used_first() -> None:
    store = MemoryStore(max_thread_bytes=250)
    await store.put_thread("a", "a" * 100)
    await store.put_thread("b", "b" * 100)
    await store.get_thread("a")
    await store.put_thread("c", "c" * 100)
    assert await store.get_thread("b") is None
    assert await store.get_thread("a") is not None
    assert store.thread_bytes == 200


async def test_a_thread_bigger_than_the_whole_cache_is_not_kept() -> None:
    store = MemoryStore(max_thread_bytes=10)
    await store.put_thread("a", "é" * 6)
    assert await store.get_thread("a") is None
    assert store.thread_bytes == 0


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_a_claim_outlives_slacks_last_retry_however_many_claims_come_between() -> None:
    """Slack's last retry comes about 6 minutes after the first delivery; a busy minute must not forget it."""
    clock = Clock()
    store = MemoryStore(clock=clock)
    assert await store.claim("event:first", CLAIM_TTL_SECONDS)
    for index in range(150_000):
        await store.claim(f"event:{index}", CLAIM_TTL_SECONDS)
    clock.now = 7 * 60
    assert not await store.claim("event:first", CLAIM_TTL_SECONDS), "the retry is refused"


async def test_claims_are_bounded_by_time() -> None:
    """Memory holds at most the claims of one claim lifetime: older ones are gone."""
    clock = Clock()
    store = MemoryStore(clock=clock)
    for index in range(1000):
        await store.claim(f"event:old{index}", CLAIM_TTL_SECONDS)
    clock.now = CLAIM_TTL_SECONDS
    assert await store.claim("event:new", CLAIM_TTL_SECONDS)
    assert store.claims == 1


async def test_notes_are_recalled_until_they_expire() -> None:
    store = MemoryStore()
    await store.remember("catch-up:D1:1.0", "thread C1", 60)
    await store.remember("gone", "x", 0)
    assert await store.recall("catch-up:D1:1.0") == "thread C1"
    assert await store.recall("gone") is None
    assert await store.recall("never") is None


async def test_notes_are_bounded() -> None:
    store = MemoryStore(max_notes=2)
    for key in ("a", "b", "c"):
        await store.remember(key, key, 60)
    assert [await store.recall(key) for key in ("a", "b", "c")] == [None, "b", "c"]


async def test_the_redis_cache_keeps_its_own_budget_least_recently_written_first() -> None:
    async with redis_server() as url:
        store = RedisStore(redis.from_url(url, decode_responses=True), max_threads=3, max_thread_bytes=250)
        try:
            for key in ("a", "b"):
                await store.put_thread(key, key * 100)
            await store.put_thread("a", "a" * 100)
            await store.put_thread("c", "é" * 50)
            assert [await store.get_thread(key) for key in "abc"] == ["a" * 100, None, "é" * 50]
            assert await store.threads.used_bytes() == 200
            await store.put_thread("big", "x" * 251)
            assert await store.get_thread("big") is None, "a thread bigger than the whole budget is not kept"
            for key in "defg":
                await store.put_thread(key, key)
            assert [await store.get_thread(key) for key in "acdefg"] == [None, None, None, "e", "f", "g"]
            await store.forget_thread("e")
            assert await store.threads.used_bytes() == 2
        finally:
            await store.close()


async def test_cache_pressure_never_evicts_a_claim() -> None:
    """Under `allkeys-lru`, threads filling Redis would evict the claim that refuses Slack's retry."""
    async with redis_server("--maxmemory-policy", "allkeys-lru") as url:
        client = redis.from_url(url, decode_responses=True)
        used = int((await client.info("memory"))["used_memory"])
        await client.config_set("maxmemory", used + 4 * 1024 * 1024)
        store = RedisStore(client)
        try:
            assert await store.claim("event:first", CLAIM_TTL_SECONDS)
            for index in range(200):
                await store.put_thread(f"C1:{index}", "x" * 50_000)
            assert not await store.claim("event:first", CLAIM_TTL_SECONDS), "the retry is refused"
            assert int((await client.info("stats"))["evicted_keys"]) == 0
            assert await store.threads.used_bytes() <= (used + 4 * 1024 * 1024) // 4
        finally:
            await store.close()
