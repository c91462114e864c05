"""The bound on downloaded bytes held in memory across all questions (ByteBudget)."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import pytest

from bot.files.download import BudgetFull, ByteBudget

MB = 1024 * 1024


async def test_a_reservation_waits_for_room_and_gets_it_when_a_file_is_read() -> None:
    budget = ByteBudget(64 * MB)
    order: list[str] = []
    async with AsyncExitStack() as held:
        for _ in range(3):
            await held.enter_async_context(budget.room(19 * MB, within_seconds=60))
        assert budget.held == 57 * MB

        async def fourth() -> None:
            async with budget.room(19 * MB, within_seconds=60):
                order.append("fourth")

        waiting = asyncio.create_task(fourth())
        await asyncio.sleep(0)
        assert order == []
        assert budget.held == 57 * MB
    await waiting
    assert order == ["fourth"]
    assert (budget.held, budget.peak) == (0, 57 * MB)


async def test_reservations_are_granted_in_turn_so_a_big_file_is_not_overtaken() -> None:
    budget = ByteBudget(10 * MB)
    order: list[str] = []

    async def read(name: str, size: int, release: asyncio.Event) -> None:
        async with budget.room(size, within_seconds=60):
            order.append(name)
            await release.wait()

    first, big, small = asyncio.Event(), asyncio.Event(), asyncio.Event()
    tasks = [asyncio.create_task(read("first", 6 * MB, first))]
    await asyncio.sleep(0)
    tasks.append(asyncio.create_task(read("big", 8 * MB, big)))
    await asyncio.sleep(0)
    tasks.append(asyncio.create_task(read("small", 1 * MB, small)))
    await asyncio.sleep(0)
    # The small one would fit next to the first, but the big one asked before it.
    assert order == ["first"]
    first.set()
    big.set()
    small.set()
    await asyncio.gather(*tasks)
    assert order == ["first", "big", "small"]
    assert budget.peak <= budget.capacity


async def test_a_file_larger_than_the_whole_bound_goes_alone() -> None:
    budget = ByteBudget(10 * MB)
    async with budget.room(30 * MB, within_seconds=1) as room:
        assert room.size == 30 * MB
    assert budget.held == 0


async def test_no_room_within_the_wait_is_given_up_and_leaves_nothing_held() -> None:
    budget = ByteBudget(10 * MB)
    async with budget.room(8 * MB, within_seconds=1):
        with pytest.raises(BudgetFull):
            async with budget.room(8 * MB, within_seconds=0.01):
                pass
        assert budget.held == 8 * MB
    assert budget.held == 0


async def test_a_cancelled_wait_leaves_nothing_held_and_lets_the_next_in() -> None:
    budget = ByteBudget(10 * MB)
    async with budget.room(8 * MB, within_seconds=1):
        cancelled = asyncio.create_task(budget.room(8 * MB, within_seconds=60).__aenter__())
        await asyncio.sleep(0)
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
    async with budget.room(10 * MB, within_seconds=1):
        assert budget.held == 10 * MB
    assert budget.held == 0


async def test_the_real_size_replaces_what_slack_said() -> None:
    budget = ByteBudget(10 * MB)
    async with budget.room(4 * MB, within_seconds=1) as room:
        room.resize(1 * MB)
        assert budget.held == 1 * MB
        async with budget.room(9 * MB, within_seconds=1):
            assert budget.held == 10 * MB
    assert budget.held == 0
