"""Usage counting: per UTC day, bounded in memory, expiring, summed for the usage view."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as redis

from bot.answer.usage import BudgetSpent, Usage, estimate_usage
from bot.errors import ConfigurationError
from bot.model.client import Answer, ModelRequest
from bot.model.messages import ChatMessage
from bot.settings import Settings
from bot.store.base import Reservation, Store
from bot.store.memory import MemoryCounters, MemoryStore
from bot.store.redis_store import RedisStore
from tests.bot_process import free_port
from tests.redis_server import redis_server, watching
from tests.settings_env import REQUIRED

# 400 characters: an estimate of 100 tokens.
QUESTION = [ChatMessage("user", "x" * 400)]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def answer(tokens_in: int, tokens_out: int) -> Answer:
    return Answer(text="ok", finish_reason="stop", usage={"prompt_tokens": tokens_in, "completion_tokens": tokens_out})


async def test_budgets_are_per_utc_day_and_say_when_they_reset() -> None:
    clock = Clock(datetime(2026, 11, 25, 21, 30, tzinfo=UTC))
    settings = Settings.from_env({**REQUIRED, "DAILY_TOKENS_PER_PERSON": "100"})
    usage = Usage(MemoryStore(), settings, clock)
    assert await usage.budget_spent("UALICE", "C1", direct=False) is None
    await usage.record("UALICE", "C1", direct=False, answer=answer(90, 10), failed=False)
    spent = await usage.budget_spent("UALICE", "C1", direct=False)
    assert spent is not None
    assert (spent.budget, spent.limit, spent.resets_in) == ("person", 100, timedelta(hours=2, minutes=30))
    clock.now += timedelta(hours=3)
    assert await usage.budget_spent("UALICE", "C1", direct=False) is None


async def test_the_report_sums_today_and_the_last_seven_days() -> None:
    clock = Clock(datetime(2026, 11, 25, 12, tzinfo=UTC))
    usage = Usage(MemoryStore(), Settings.from_env(REQUIRED), clock)
    clock.now -= timedelta(days=7)
    await usage.record("UOLD", "COLD", direct=False, answer=answer(1000, 1000), failed=False)
    clock.now += timedelta(days=6)
    await usage.record("UBOB", "C1", direct=False, answer=answer(50, 50), failed=True)
    clock.now += timedelta(days=1)
    await usage.record("UALICE", "C1", direct=False, answer=answer(10, 5), failed=False)
    await usage.record("UALICE", "D1", direct=True, answer=answer(20, 5), failed=False)
    await usage.record_refused()
    report = await usage.report()
    assert report is not None
    assert (report.today.totals.questions, report.today.totals.tokens_in, report.today.totals.tokens_out) == (2, 30, 10)
    assert (report.today.totals.errors, report.today.totals.refused) == (0, 1)
    assert report.today.top_people == [("UALICE", 40)]
    assert report.today.top_channels == [("dm", 25), ("C1", 15)]
    assert (report.week.totals.questions, report.week.totals.errors) == (3, 1)
    assert report.week.top_people == [("UBOB", 100), ("UALICE", 40)]
    assert report.week.top_channels == [("C1", 115), ("dm", 25)]


def test_the_estimate_fills_in_only_what_the_service_did_not_report() -> None:
    request = ModelRequest([ChatMessage("user", "x" * 400)], temperature=0, max_tokens=10)
    reported = Answer(text="y" * 80, finish_reason="stop", usage={"prompt_tokens": 7})
    estimate_usage(reported, request)
    assert reported.usage == {"prompt_tokens": 7, "completion_tokens": 20}
    nothing_came_back = Answer()
    estimate_usage(nothing_came_back, request)
    assert nothing_came_back.usage == {}


def test_memory_counters_expire_and_stay_bounded() -> None:
    now = [0.0]
    counters = MemoryCounters(max_keys=3, max_fields=2, clock=lambda: now[0])
    counters.add({"a": {"x": 1, "y": 2, "z": 3}}, ttl_seconds=10)
    assert counters.read("a") == {"x": 1, "y": 2}
    for key in "bcd":
        now[0] += 1
        counters.add({key: {"x": 1}}, ttl_seconds=10)
    assert counters.read("a") == {}
    assert counters.read("d") == {"x": 1}
    now[0] += 10
    assert counters.read("d") == {}


def test_budget_and_admin_settings_are_checked() -> None:
    settings = Settings.from_env(
        {**REQUIRED, "DAILY_TOKENS_PER_PERSON": "200_000", "ADMIN_USER_IDS": "U0123ABCD, W0456EFGH"}
    )
    assert settings.daily_tokens_per_person == 200_000
    assert settings.daily_tokens_per_channel is None
    assert settings.admin_user_ids == {"U0123ABCD", "W0456EFGH"}
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env({**REQUIRED, "DAILY_TOKENS_PER_CHANNEL": "-5", "ADMIN_USER_IDS": "alice"})
    problems = "\n".join(caught.value.problems)
    assert "DAILY_TOKENS_PER_CHANNEL must be a whole number of tokens above 0" in problems
    assert "ADMIN_USER_IDS must list Slack user ids such as U0123ABCD" in problems


@contextlib.asynccontextmanager
async def a_store(kind: str) -> AsyncIterator[Store]:
    if kind == "memory":
        yield MemoryStore()
        return
    async with redis_server() as url:
        store = RedisStore(redis.from_url(url, decode_responses=True))
        try:
            yield store
        finally:
            await store.close()


@pytest.mark.parametrize("kind", ["memory", "redis"])
async def test_of_a_burst_at_a_nearly_spent_budget_only_what_fits_is_reserved(kind: str) -> None:
    """286 of 300 spent and ten questions at once: the check and the reservation are one step, so the first
    reservation (100 tokens) fills the budget and the other nine are refused; released, it charges nothing."""
    settings = Settings.from_env({**REQUIRED, "DAILY_TOKENS_PER_PERSON": "300"})
    async with a_store(kind) as store:
        usage = Usage(store, settings)
        await usage.record("UALICE", "C1", direct=False, answer=answer(276, 10), failed=False)
        burst = await asyncio.gather(
            *(usage.reserve("UALICE", f"C{n}", direct=False, messages=QUESTION) for n in range(10))
        )
        [reserved] = [outcome for outcome in burst if isinstance(outcome, Reservation)]
        refused = [outcome for outcome in burst if isinstance(outcome, BudgetSpent)]
        assert [(spent.budget, spent.limit) for spent in refused] == [("person", 300)] * 9
        await usage.release(reserved)
        assert await usage.budget_spent("UALICE", "C1", direct=False) is None


async def test_a_reservation_never_released_stops_counting_when_its_lease_ends() -> None:
    """The memory store's phantom charge: a reservation whose answer never ended (renewed once, then no
    more) refuses the person until its lease is over, and nobody after; a person's reservation is theirs."""
    now = [0.0]
    settings = Settings.from_env({**REQUIRED, "DAILY_TOKENS_PER_PERSON": "100"})
    usage = Usage(MemoryStore(clock=lambda: now[0]), settings, lease_seconds=60)
    reserved = await usage.reserve("UALICE", "C1", direct=False, messages=QUESTION)
    assert isinstance(reserved, Reservation)
    assert await usage.budget_spent("UALICE", "C1", direct=False) is not None
    assert await usage.budget_spent("UBOB", "C1", direct=False) is None
    now[0] += 50
    await usage.renew(reserved)
    now[0] += 59
    assert await usage.budget_spent("UALICE", "C1", direct=False) is not None
    now[0] += 1
    assert await usage.budget_spent("UALICE", "C1", direct=False) is None


async def test_a_redis_reservation_whose_process_died_lapses_and_a_live_one_is_renewed() -> None:
    """Over Redis: a reservation never released stops refusing the person once its lease is over; one whose
    answer is still running is renewed past its first lease, and released when the answer ends (also after
    Redis has forgotten the scripts)."""
    settings = Settings.from_env({**REQUIRED, "DAILY_TOKENS_PER_PERSON": "100"})
    async with redis_server() as url, watching(url) as watch:
        store = RedisStore(redis.from_url(url, decode_responses=True))
        usage = Usage(store, settings, lease_seconds=0.6)
        assert isinstance(await usage.reserve("UALICE", "C1", direct=False, messages=QUESTION), Reservation)
        assert await usage.budget_spent("UALICE", "C1", direct=False) is not None
        await watch.wait_for(no_reservations)
        assert await usage.budget_spent("UALICE", "C1", direct=False) is None

        await watch.client.script_flush()  # as a restarted Redis: redis-py loads the scripts again (NOSCRIPT)
        async with usage.held("UALICE", "C1", direct=False, messages=QUESTION, log={}) as refusal:
            assert refusal is None
            [(key, (_, first))] = await reservations(watch.client)

            async def renewed_past_its_first_lease(client: redis.Redis) -> bool:
                [(_, (_, until))] = await reservations(client)
                return until > first + 700

            await watch.wait_for(renewed_past_its_first_lease)
            assert await usage.budget_spent("UALICE", "C1", direct=False) is not None
        assert await watch.client.exists(key) == 0
        assert await usage.budget_spent("UALICE", "C1", direct=False) is None
        await store.close()


async def reservations(client: redis.Redis) -> list[tuple[str, tuple[str, float]]]:
    """Each reservation's key, with its member and the end of its lease (ms)."""
    keys = await client.keys("slackbot:usage:*:reserved:*")
    return [(key, entry) for key in keys for entry in await client.zrange(key, 0, -1, withscores=True)]


async def no_reservations(client: redis.Redis) -> bool:
    return not await client.keys("slackbot:usage:*:reserved:*")


async def test_with_redis_unreachable_a_budget_lets_the_question_through(caplog: pytest.LogCaptureFixture) -> None:
    """A budget is a cost control, not a safety gate: Redis down, the question is answered, and that is logged."""
    settings = Settings.from_env({**REQUIRED, "DAILY_TOKENS_PER_PERSON": "1"})
    store = RedisStore(redis.from_url(f"redis://127.0.0.1:{free_port()}/0", decode_responses=True))
    usage = Usage(store, settings)
    async with usage.held("UALICE", "C1", direct=False, messages=QUESTION, log={}) as refusal:
        assert refusal is None
    assert await usage.refusal("UALICE", "C1", direct=False, log={}) is None
    assert "redis unavailable: answering without the budget" in caplog.text
    await store.close()
