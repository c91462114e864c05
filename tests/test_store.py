"""The in-process store: claims once, and a thread cache bounded in entries and bytes."""

from __future__ import annotations

from bot.store import MemoryStore


async def test_a_key_is_claimed_once() -> None:
    store = MemoryStore()
    assert await store.claim("event:1", 60)
    assert not await store.claim("event:1", 60)
    assert await store.claim("event:2", 60)


async def test_claims_expire() -> None:
    store = MemoryStore()
    assert await store.claim("event:1", 0)
    assert await store.claim("event:1", 60)


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
