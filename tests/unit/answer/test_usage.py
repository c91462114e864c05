"""Usage counting: per UTC day, bounded in memory, expiring, summed for the usage view."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.answer.usage import Usage, estimate_usage
from bot.errors import ConfigurationError
from bot.model.client import Answer, ModelRequest
from bot.model.messages import ChatMessage
from bot.settings import Settings
from bot.store.memory import MemoryCounters, MemoryStore
from tests.unit.test_settings import REQUIRED


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
