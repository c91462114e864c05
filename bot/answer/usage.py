"""Who used how many tokens, per UTC day: daily budgets for people and channels, and the usage view.

Counted in the store (`bot/store/`), so several processes sharing Redis share the budgets. A day's
counters expire once the usage view no longer shows that day. A question is checked against the
budgets before the model is asked; an answer in progress is never cut, so a budget can be overrun by
one answer, and the next question is refused. While a question is in flight, its input (estimated) is
counted already (`reserve`), so a burst of questions at once cannot all pass a budget that has room for one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from bot import notices
from bot.logs import Outcome
from bot.model.client import Answer, ModelRequest
from bot.model.messages import ChatMessage
from bot.settings import Settings
from bot.store.base import Store

logger = logging.getLogger(__name__)

CHARS_PER_TOKEN = 4
VIEW_DAYS = 7
# Today and the days the view shows before it; then the counters expire.
KEEP_SECONDS = (VIEW_DAYS + 1) * 24 * 3600
# Direct messages are counted together under this name (a DM is not a channel a budget applies to).
DIRECT_MESSAGES = "dm"
TOTAL_FIELDS = ("questions", "tokens_in", "tokens_out", "errors", "refused")
TOP = 5

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
class Reservation:
    """Tokens counted against a question's budgets while it is in flight, on the day it was asked."""

    day: datetime
    user: str
    channel: str
    tokens: int


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
    def __init__(self, store: Store, settings: Settings, clock: Clock = utc_now) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock

    async def refusal(self, user: str, channel: str, *, direct: bool, log: MutableMapping[str, Any]) -> str | None:
        """The notice that refuses this question when a daily budget is spent (the refusal counted, and
        logged in `log`); None when the question may be answered."""
        spent = await self.budget_spent(user, channel, direct=direct)
        if spent is None:
            return None
        await self.record_refused()
        log.update(outcome=Outcome.OVER_BUDGET, budget=spent.budget)
        return notices.budget_spent(spent.budget, spent.limit, spent.resets_in)

    async def budget_spent(self, user: str, channel: str, *, direct: bool) -> BudgetSpent | None:
        """The budget that refuses this question, if any. Admins have none; if the counters cannot be
        read, the question is answered (a budget is a cost control, not a safety gate)."""
        if user in self.settings.admin_user_ids:
            return None
        day = self._today()
        limits: list[tuple[Literal["person", "channel"], int, str, str]] = []
        if self.settings.daily_tokens_per_person is not None:
            limits.append(("person", self.settings.daily_tokens_per_person, _key(day, "people"), user))
        if self.settings.daily_tokens_per_channel is not None and not direct:
            limits.append(("channel", self.settings.daily_tokens_per_channel, _key(day, "channels"), channel))
        if not limits:
            return None
        used = await self.store.read_fields([(key, field) for _, _, key, field in limits])
        if used is None:
            return None
        for (budget, limit, _, _), tokens in zip(limits, used, strict=True):
            if tokens >= limit:
                return BudgetSpent(budget, limit, self._until_midnight())
        return None

    async def reserve(
        self, user: str, channel: str, *, direct: bool, messages: Sequence[ChatMessage]
    ) -> Reservation | None:
        """Counts a question's estimated input against its budgets until `release`; None where no budget
        applies (none set, or an admin)."""
        budgets = self.settings.daily_tokens_per_person, self.settings.daily_tokens_per_channel
        if user in self.settings.admin_user_ids or budgets == (None, None):
            return None
        tokens = sum(len(message.content) for message in messages) // CHARS_PER_TOKEN
        reservation = Reservation(self._today(), user, DIRECT_MESSAGES if direct else channel, tokens)
        await self._spend(reservation, tokens)
        return reservation

    async def release(self, reservation: Reservation | None) -> None:
        """Takes a reservation back (what was really spent is counted by `record`)."""
        if reservation is not None:
            await self._spend(reservation, -reservation.tokens)

    async def _spend(self, reservation: Reservation, tokens: int) -> None:
        day = reservation.day
        changes = {
            _key(day, "people"): {reservation.user: tokens},
            _key(day, "channels"): {reservation.channel: tokens},
        }
        await self.store.add_counts(changes, KEEP_SECONDS)

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
