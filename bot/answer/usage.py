"""Who used how many tokens, per UTC day: daily budgets for people and channels, and the usage view.

Counted in the store (`bot/store/`), so several processes sharing Redis share the budgets. A day's
counters expire once the usage view no longer shows that day. A question is checked against the
budgets before the model is asked; an answer in progress is never cut, so a budget can be overrun by
one answer, and the next question is refused.

While a question is in flight, its input (estimated) counts already: the check and this reservation are
one atomic step in the store (`held`), so of a burst of questions at once only as many pass as the budget
has room for. A reservation is a lease, renewed while its answer runs and released when it ends; one
whose process died mid-answer lapses within `LEASE_SECONDS`, and then charges nobody. A minute, not the
answer's deadline: an answer may wait for a model slot past any deadline (its lease is renewed meanwhile),
and a minute bounds a dead process's charge whatever `MODEL_TIMEOUT_SECONDS` is, for a renewal every 20 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from bot import notices
from bot.logs import Outcome
from bot.model.client import Answer, ModelRequest
from bot.model.messages import ChatMessage
from bot.settings import Settings
from bot.store.base import Budget, Reservation, Store
from bot.store.deadline import outside_deadline

logger = logging.getLogger(__name__)

CHARS_PER_TOKEN = 4
VIEW_DAYS = 7
# Today and the days the view shows before it; then the counters expire.
KEEP_SECONDS = (VIEW_DAYS + 1) * 24 * 3600
# Direct messages are counted together under this name (a DM is not a channel a budget applies to).
DIRECT_MESSAGES = "dm"
TOTAL_FIELDS = ("questions", "tokens_in", "tokens_out", "errors", "refused")
TOP = 5
LEASE_SECONDS = 60.0

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class BudgetSpent:
    """Why a question was refused: whose daily budget is spent, how big it is, and when it starts anew."""

    budget: Literal["person", "channel"]
    limit: int
    resets_in: timedelta


@dataclass(frozen=True)
class Totals:
    questions: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    errors: int = 0
    refused: int = 0

    @classmethod
    def of(cls, counts: Iterable[Mapping[str, int]]) -> Totals:
        sums = dict.fromkeys(TOTAL_FIELDS, 0)
        for day in counts:
            for field in TOTAL_FIELDS:
                sums[field] += day.get(field, 0)
        return cls(**sums)


@dataclass(frozen=True)
class Period:
    """Usage over some days: totals, and the channels and people who used the most tokens."""

    days: int
    totals: Totals
    top_channels: list[tuple[str, int]]
    top_people: list[tuple[str, int]]


@dataclass(frozen=True)
class UsageReport:
    today: Period
    week: Period


def tokens_spent(answer: Answer) -> tuple[int, int]:
    """(input, output) tokens of an answer, as the model reported them or as `estimate_usage` filled them in."""
    usage = answer.usage
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    return (prompt if isinstance(prompt, int) else 0), (completion if isinstance(completion, int) else 0)


def estimate_usage(answer: Answer, request: ModelRequest) -> None:
    """Fills in characters / 4 for what the model did not report, once it has answered anything."""
    if not answer.text and answer.finish_reason is None:
        return
    if not isinstance(answer.usage.get("prompt_tokens"), int):
        sent = sum(len(message.content) for message in request.messages)
        answer.usage["prompt_tokens"] = sent // CHARS_PER_TOKEN
    if not isinstance(answer.usage.get("completion_tokens"), int):
        answer.usage["completion_tokens"] = len(answer.text) // CHARS_PER_TOKEN


class Usage:
    def __init__(
        self, store: Store, settings: Settings, clock: Clock = utc_now, *, lease_seconds: float = LEASE_SECONDS
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.lease_seconds = lease_seconds

    async def refusal(self, user: str, channel: str, *, direct: bool, log: MutableMapping[str, Any]) -> str | None:
        """The notice that refuses this question when a daily budget is spent (the refusal counted, and
        logged in `log`); None when the question may be answered."""
        spent = await self.budget_spent(user, channel, direct=direct)
        return None if spent is None else await self._refuse(spent, log)

    @contextlib.asynccontextmanager
    async def held(
        self, user: str, channel: str, *, direct: bool, messages: Sequence[ChatMessage], log: MutableMapping[str, Any]
    ) -> AsyncIterator[str | None]:
        """As `refusal`, but with the question's estimate reserved in the same step when it may be answered:
        held for as long as the block runs, renewed meanwhile, released at its end."""
        reserved = await self.reserve(user, channel, direct=direct, messages=messages)
        if isinstance(reserved, BudgetSpent):
            yield await self._refuse(reserved, log)
            return
        if reserved is None:
            yield None
            return
        renewing = asyncio.create_task(self._keep(reserved), name="budget reservation")
        try:
            yield None
        finally:
            renewing.cancel()
            await asyncio.wait([renewing])  # no renewal may land after the release
            if not renewing.cancelled() and renewing.exception() is not None:
                logger.error("renewing a reservation failed", exc_info=renewing.exception())
            await self.release(reserved)

    async def budget_spent(self, user: str, channel: str, *, direct: bool) -> BudgetSpent | None:
        """The budget that refuses this question, if any. Admins have none; if the counters cannot be
        read, the question is answered (a budget is a cost control, not a safety gate)."""
        budgets = self._budgets(user, channel, direct=direct)
        if not budgets:
            return None
        return self._spent(budgets, await self.store.spent_budget([budget for _, budget in budgets]))

    async def reserve(
        self, user: str, channel: str, *, direct: bool, messages: Sequence[ChatMessage]
    ) -> Reservation | BudgetSpent | None:
        """In one step, the budget that refuses this question, or else its estimated input reserved against
        its budgets (for `lease_seconds`, until `renew` or `release`); None where no budget applies."""
        budgets = self._budgets(user, channel, direct=direct)
        if not budgets:
            return None
        tokens = sum(len(message.content) for message in messages) // CHARS_PER_TOKEN
        reservation = Reservation(tuple(budget for _, budget in budgets), tokens)
        try:
            spent = await self.store.reserve(reservation, self.lease_seconds)
        except asyncio.CancelledError:
            await self.store.release_reservation(reservation)  # a cancelled call may still have reserved
            raise
        return self._spent(budgets, spent) or reservation

    async def renew(self, reservation: Reservation) -> None:
        await self.store.renew_reservation(reservation, self.lease_seconds)

    async def release(self, reservation: Reservation | None) -> None:
        """Takes a reservation back (what was really spent is counted by `record`)."""
        if reservation is not None:
            await self.store.release_reservation(reservation)

    async def _keep(self, reservation: Reservation) -> None:
        outside_deadline()  # renewals are not the answer's own Redis calls
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            await self.renew(reservation)

    async def _refuse(self, spent: BudgetSpent, log: MutableMapping[str, Any]) -> str:
        await self.record_refused()
        log.update(outcome=Outcome.OVER_BUDGET, budget=spent.budget)
        return notices.budget_spent(spent.budget, spent.limit, spent.resets_in)

    def _budgets(self, user: str, channel: str, *, direct: bool) -> list[tuple[Literal["person", "channel"], Budget]]:
        """The budgets that apply to this question today (none for an admin)."""
        if user in self.settings.admin_user_ids:
            return []
        day = self._today()
        budgets: list[tuple[Literal["person", "channel"], Budget]] = []
        if self.settings.daily_tokens_per_person is not None:
            budgets.append(("person", Budget(_key(day, "people"), user, self.settings.daily_tokens_per_person)))
        if self.settings.daily_tokens_per_channel is not None and not direct:
            budgets.append(("channel", Budget(_key(day, "channels"), channel, self.settings.daily_tokens_per_channel)))
        return budgets

    def _spent(
        self, budgets: Sequence[tuple[Literal["person", "channel"], Budget]], spent: int | None
    ) -> BudgetSpent | None:
        if spent is None:
            return None
        kind, budget = budgets[spent]
        return BudgetSpent(kind, budget.limit, self._until_midnight())

    async def record_refused(self) -> None:
        await self.store.add_counts({_key(self._today(), "totals"): {"refused": 1}}, KEEP_SECONDS)

    async def record(self, user: str, channel: str, *, direct: bool, answer: Answer, failed: bool) -> None:
        """Counts one question the model was asked, with the tokens it cost."""
        tokens_in, tokens_out = tokens_spent(answer)
        day = self._today()
        spent = tokens_in + tokens_out
        totals = {"questions": 1, "tokens_in": tokens_in, "tokens_out": tokens_out, "errors": int(failed)}
        changes = {
            _key(day, "totals"): totals,
            _key(day, "people"): {user: spent},
            _key(day, "channels"): {DIRECT_MESSAGES if direct else channel: spent},
        }
        await self.store.add_counts(changes, KEEP_SECONDS)

    async def report(self) -> UsageReport | None:
        """Today and the last `VIEW_DAYS` days (today included); None when the counters cannot be read."""
        today = self._today()
        days = [today - timedelta(days=back) for back in range(VIEW_DAYS)]
        kinds = ("totals", "channels", "people")
        counts = await self.store.read_counts([_key(day, kind) for day in days for kind in kinds])
        if counts is None:
            return None
        per_day = [counts[index : index + len(kinds)] for index in range(0, len(counts), len(kinds))]
        return UsageReport(today=_period(per_day[:1]), week=_period(per_day))

    def _today(self) -> datetime:
        now = self.clock().astimezone(UTC)
        return now.replace(hour=0, minute=0, second=0, microsecond=0)

    def _until_midnight(self) -> timedelta:
        return self._today() + timedelta(days=1) - self.clock().astimezone(UTC)


def _key(day: datetime, kind: str) -> str:
    return f"usage:{day.date().isoformat()}:{kind}"


def _period(days: Sequence[Sequence[dict[str, int]]]) -> Period:
    return Period(
        days=len(days),
        totals=Totals.of(totals for totals, _, _ in days),
        top_channels=_top(channels for _, channels, _ in days),
        top_people=_top(people for _, _, people in days),
    )


def _top(days: Iterable[Mapping[str, int]]) -> list[tuple[str, int]]:
    sums: dict[str, int] = {}
    for day in days:
        for name, tokens in day.items():
            sums[name] = sums.get(name, 0) + tokens
    spent = [(name, tokens) for name, tokens in sums.items() if tokens > 0]
    return sorted(spent, key=lambda item: (-item[1], item[0]))[:TOP]
