"""Feedback on answers: the 👍/👎 buttons under every complete answer, the votes, and the week's counts.

A vote is kept once per person per answer: a second click replaces it (the counts move from the old
vote to the new one), and a repeat of the same click changes nothing. Counts are kept per UTC day of
the answer, next to the number of answers that day, in the store (`bot/store/`), so several
processes sharing Redis count together; they expire once the Home tab no longer shows their day.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from bot import notices
from bot.store.base import Store

logger = logging.getLogger(__name__)

ACTION_ID = "answer_feedback"
VIEW_DAYS = 7
# The days the Home tab shows, and a day's margin; then the counts and votes expire.
KEEP_SECONDS = (VIEW_DAYS + 1) * 24 * 3600
LAST_DOWN_KEY = "feedback:last_down"
MAX_MODEL_CHARS = 100

Vote = Literal["up", "down"]
VOTES: tuple[Vote, ...] = ("up", "down")
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def feedback_blocks(model_id: str) -> list[dict[str, Any]]:
    """The `context_actions` block under an answer; each button's value names the vote and the model."""

    def button(vote: Vote, text: str, label: str) -> dict[str, Any]:
        value = json.dumps({"vote": vote, "model": model_id[:MAX_MODEL_CHARS]})
        return {"text": {"type": "plain_text", "text": text}, "value": value, "accessibility_label": label}

    return [
        {
            "type": "context_actions",
            "elements": [
                {
                    "type": "feedback_buttons",
                    "action_id": ACTION_ID,
                    "positive_button": button("up", notices.FEEDBACK_UP, notices.FEEDBACK_UP_LABEL),
                    "negative_button": button("down", notices.FEEDBACK_DOWN, notices.FEEDBACK_DOWN_LABEL),
                }
            ],
        }
    ]


@dataclass(frozen=True)
class Ballot:
    """One click on the feedback buttons: who voted what on which answer (its last message)."""

    user: str
    channel: str
    thread_ts: str
    message_ts: str
    vote: Vote
    model: str

    @classmethod
    def from_action(cls, body: Mapping[str, Any], action: Mapping[str, Any]) -> Ballot | None:
        """The ballot in a `block_actions` payload, or None when the payload does not hold one."""
        try:
            value = json.loads(str(action.get("value") or ""))
        except json.JSONDecodeError:
            return None
        if not isinstance(value, dict) or value.get("vote") not in VOTES:
            return None
        container = body.get("container") or {}
        message = body.get("message") or {}
        channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
        message_ts = container.get("message_ts") or message.get("ts")
        user = (body.get("user") or {}).get("id")
        if not (channel and message_ts and user and _is_timestamp(message_ts)):
            return None
        thread_ts = container.get("thread_ts") or message.get("thread_ts") or message_ts
        model = str(value.get("model") or "")[:MAX_MODEL_CHARS]
        return cls(str(user), str(channel), str(thread_ts), str(message_ts), value["vote"], model)

    @property
    def key(self) -> str:
        return f"vote:{self.channel}:{self.message_ts}:{self.user}"


@dataclass(frozen=True)
class Downvote:
    """The most recent 👎: where it is, so an operator can read the answer."""

    channel: str
    thread_ts: str
    message_ts: str


@dataclass(frozen=True)
class FeedbackReport:
    days: int
    answers: int
    up: int
    down: int
    last_down: Downvote | None
    escalations: int = 0

    @property
    def down_share(self) -> float | None:
        """👎 per answer: in a DM one vote per answer; in a channel each person's vote counts."""
        return self.down / self.answers if self.answers else None


class Feedback:
    def __init__(self, store: Store, clock: Clock = utc_now) -> None:
        self.store = store
        self.clock = clock

    async def answered(self) -> None:
        """Counts one complete answer, today."""
        await self.store.add_counts({_key(_day(self.clock())): {"answers": 1}}, KEEP_SECONDS)

    async def escalated(self) -> None:
        """Counts one call for a human (*Get a human*), today: shown next to 👎."""
        await self.store.add_counts({_key(_day(self.clock())): {"escalations": 1}}, KEEP_SECONDS)

    async def vote(self, ballot: Ballot) -> Vote | None:
        """Records the ballot, replacing the person's earlier vote on that answer; returns that vote.

        A vote counts on the day it is cast; a changed vote is taken off the day of the earlier one.
        """
        today = _day(self.clock())
        kept = await self.store.exchange(ballot.key, f"{ballot.vote} {today.date().isoformat()}", KEEP_SECONDS)
        earlier, earlier_day = _parse_kept(kept)
        if earlier != ballot.vote:
            changes: dict[str, dict[str, int]] = {_key(today): {ballot.vote: 1}}
            if earlier is not None and earlier_day is not None:
                changes.setdefault(earlier_day, {})[earlier] = -1
            await self.store.add_counts(changes, KEEP_SECONDS)
        if ballot.vote == "down":
            where = {"channel": ballot.channel, "thread_ts": ballot.thread_ts, "message_ts": ballot.message_ts}
            await self.store.remember(LAST_DOWN_KEY, json.dumps(where), KEEP_SECONDS)
        logger.info(
            "feedback recorded",
            extra={
                "channel": ballot.channel,
                "thread_ts": ballot.thread_ts,
                "message_ts": ballot.message_ts,
                "user": ballot.user,
                "model": ballot.model,
                "vote": ballot.vote,
                "previous_vote": earlier,
            },
        )
        return earlier

    async def report(self) -> FeedbackReport | None:
        """The last `VIEW_DAYS` days, today included; None when the store cannot be read."""
        today = _day(self.clock())
        counts = await self.store.read_counts([_key(today - timedelta(days=back)) for back in range(VIEW_DAYS)])
        if counts is None:
            return None
        last_down = await self.store.recall(LAST_DOWN_KEY)
        return FeedbackReport(
            days=VIEW_DAYS,
            answers=sum(day.get("answers", 0) for day in counts),
            up=sum(day.get("up", 0) for day in counts),
            down=sum(day.get("down", 0) for day in counts),
            last_down=_downvote(last_down),
            escalations=sum(day.get("escalations", 0) for day in counts),
        )


def _is_timestamp(value: object) -> bool:
    try:
        float(str(value))
    except ValueError:
        return False
    return True


def _day(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _key(day: datetime | str) -> str:
    """A day's counts: `day` as a date, or as its ISO form."""
    return f"feedback:{day if isinstance(day, str) else day.date().isoformat()}"


def _parse_kept(kept: str | None) -> tuple[Vote | None, str | None]:
    """The vote and the day's key in a kept vote ("down 2026-11-26")."""
    vote, _, day = (kept or "").partition(" ")
    day_key = _key(day) if day else None
    if vote == "up":
        return "up", day_key
    if vote == "down":
        return "down", day_key
    return None, None


def _downvote(raw: str | None) -> Downvote | None:
    if raw is None:
        return None
    try:
        where = json.loads(raw)
        return Downvote(str(where["channel"]), str(where["thread_ts"]), str(where["message_ts"]))
    except (json.JSONDecodeError, KeyError, TypeError):
        logger.warning("unreadable last downvote in the store; ignored")
        return None
