"""The guard around Redis calls: a short wait each, one deadline per answer, a pause after a failure."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.store.deadline import shared_deadline
from bot.store.redis_guard import RedisGuard
from bot.store.redis_turns import RedisTurns
from bot.store.thread_locks import ThreadLocks


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_a_call_that_hangs_fails_after_the_call_timeout_and_pauses_redis() -> None:
    clock = Clock()
    guard = RedisGuard(call_timeout_seconds=0.05, pause_seconds=5, clock=clock)
    calls = 0

    async def hangs() -> None:
        nonlocal calls
        calls += 1
        await asyncio.Event().wait()

    with pytest.raises(RedisTimeoutError):
        await guard.run(hangs)
    with pytest.raises(RedisConnectionError):
        await guard.run(hangs)
    assert calls == 1, "while paused, Redis is not tried"
    clock.now += 5

    async def answers() -> str:
        return "ok"

    assert await guard.run(answers) == "ok"


async def test_calls_inside_one_answer_share_its_deadline() -> None:
    guard = RedisGuard(call_timeout_seconds=10, pause_seconds=0)
    seen: list[float] = []

    async def slow() -> None:
        await asyncio.sleep(0.05)

    with shared_deadline(0.12):
        for _ in range(5):
            try:
                await guard.run(slow)
                seen.append(1)
            except RedisTimeoutError:
                seen.append(0)
    assert seen[:2] == [1, 1]
    assert seen[-1] == 0, "once the answer's time is spent, calls fail at once"


async def test_a_reply_error_is_not_an_outage() -> None:
    guard = RedisGuard(pause_seconds=5)

    async def wrong_type() -> None:
        raise redis.ResponseError("WRONGTYPE")

    with pytest.raises(redis.ResponseError):
        await guard.run(wrong_type)
    assert not guard.paused


async def test_with_redis_failing_a_threads_turns_keep_their_order_in_the_process() -> None:
    client = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.1)
    guard = RedisGuard(pause_seconds=60)
    turns = RedisTurns(client, "test:", guard=guard, local=ThreadLocks())
    order: list[str] = []
    first_holds = asyncio.Event()
    release = asyncio.Event()

    async def turn(ts: str) -> None:
        async with turns.hold("T1", ts):
            order.append(ts)
            if ts == "1.0":
                first_holds.set()
                await release.wait()

    first = asyncio.create_task(turn("1.0"))
    await first_holds.wait()
    second = asyncio.create_task(turn("2.0"))
    await asyncio.sleep(0.05)
    assert order == ["1.0"], "the second turn waits for the first, Redis or not"
    release.set()
    await asyncio.gather(first, second)
    assert order == ["1.0", "2.0"]
    await turns.close()
    await client.aclose()


async def test_an_answer_whose_own_time_runs_out_does_not_pause_redis_for_every_other_answer() -> None:
    """A call cut short by its answer's deadline (not by the call timeout) says nothing about Redis: the
    process goes on using it (a pause would make every claim local-only, and two processes could each
    answer the same mention, for the pause's 5 s)."""
    guard = RedisGuard(call_timeout_seconds=1, pause_seconds=5)

    async def slow() -> str:
        await asyncio.sleep(0.05)
        return "ok"

    with shared_deadline(0.08):
        assert await guard.run(slow) == "ok"
        with pytest.raises(RedisTimeoutError):
            await guard.run(slow)
    assert not guard.paused
    assert await guard.run(slow) == "ok"


async def test_redis_failing_mid_answer_does_not_let_the_threads_next_turn_run_alongside() -> None:
    """A turn holds its thread through Redis; Redis goes away; the next question of the same thread in this
    process falls back to in-process order, and must still wait for the turn that holds the thread."""
    from tests.redis_server import controlled_redis_server

    async with controlled_redis_server() as server:
        client = redis.from_url(server.url, decode_responses=True, socket_connect_timeout=0.2)
        turns = RedisTurns(client, "test:", guard=RedisGuard(pause_seconds=60), local=ThreadLocks())
        order: list[str] = []
        first_holds = asyncio.Event()
        release = asyncio.Event()

        async def turn(ts: str) -> None:
            async with turns.hold("T1", ts):
                order.append(f"start {ts}")
                if ts == "1.0":
                    first_holds.set()
                    await release.wait()
                order.append(f"end {ts}")

        first = asyncio.create_task(turn("1.0"))
        await first_holds.wait()
        await server.stop()
        second = asyncio.create_task(turn("2.0"))
        for _ in range(20):
            await asyncio.sleep(0.01)
        release.set()
        await asyncio.gather(first, second)
        assert order == ["start 1.0", "end 1.0", "start 2.0", "end 2.0"]
        await turns.close()
        await client.aclose()


async def test_a_call_that_finds_every_connection_busy_fails_alone_and_does_not_pause_redis() -> None:
    """The process's own load (its pool all in use) is not Redis failing: the next call, once a connection is
    free, goes to Redis rather than falling back for the next few seconds."""
    from bot.store.redis_store import RedisStore
    from tests.redis_server import redis_server

    async with redis_server() as url:
        store = RedisStore.from_url(url, max_connections=4)
        try:
            # Four calls hold the four connections for a second (a blocking pop on an empty list).
            holding = [asyncio.create_task(store.client.blpop([f"empty:{n}"], timeout=1)) for n in range(4)]
            await asyncio.sleep(0.1)
            assert await store.claim("event:1", 60), "claimed in this process, with a warning"
            await asyncio.gather(*holding)
            assert not store.guard.paused
            other = RedisStore.from_url(url)
            try:
                assert await store.claim("event:2", 60)
                assert not await other.claim("event:2", 60), "this one reached Redis"
            finally:
                await other.close()
        finally:
            await store.close()


async def test_connections_redis_dropped_are_made_again_within_the_call_without_pausing_redis() -> None:
    """A Redis restart or failover drops every open connection. The next call on each reconnects at once;
    failing instead, each would pause Redis for every answer for 5 s, one stale connection after another."""
    from bot.store.redis_store import RedisStore
    from tests.redis_server import redis_server

    async with redis_server() as url:
        store, admin = RedisStore.from_url(url, max_connections=4), redis.from_url(url)
        try:
            # Four connections open and idle in the pool, then Redis drops them all.
            await asyncio.gather(*(store.client.blpop([f"empty:{n}"], timeout=0.1) for n in range(4)))
            await admin.client_kill_filter(_type="normal", skipme=True)
            assert all(await asyncio.gather(*(store.claim(f"event:{n}", 60) for n in range(4))))
            assert not store.guard.paused
            assert await admin.exists(*(f"slackbot:event:{n}" for n in range(4))) == 4, "claimed in Redis"
        finally:
            await store.close()
            await admin.aclose()
