"""Slack messages as a transcript to summarize: one named line each, the newest kept when the budget runs out.

Pure functions over plain data; `bot.features.catch_up` reads Slack and hands the messages in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.answer.trimming import CHARACTERS_PER_TOKEN, MESSAGE_OVERHEAD_TOKENS
from bot.slack.messages import ThreadMessage

DEFAULT_WINDOW = timedelta(hours=24)
MAX_WINDOW = timedelta(days=30)
# One pasted log file should not crowd out the rest of the conversation.
MAX_LINE_CHARACTERS = 4_000
LINE_CUT = " […]"
WINDOW = re.compile(r"(\d{1,6})\s*([a-z]+)")
UNITS = {
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), timedelta(minutes=1)),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), timedelta(hours=1)),
    **dict.fromkeys(("d", "day", "days"), timedelta(days=1)),
    **dict.fromkeys(("w", "wk", "week", "weeks"), timedelta(weeks=1)),
}

# What the model is asked; the summary prompt (a setting) says how to summarize.
THREAD_REQUEST = "Summarize this Slack thread from {where}. Its messages, oldest first, each starting with its author:"
CHANNEL_REQUEST = (
    "Catch me up on {where}: what was said there in {window}. Its messages, oldest first, each with its time "
    "(UTC) and author; a thread shows as its first message with its number of replies:"
)
EARLIER_LEFT_OUT = "(Earlier messages did not fit and are left out: say the summary starts at the first one shown.)"
FOLLOW_UP_CONTEXT = (
    "\n\nThis conversation is about a Slack {kind} from {where} that the person asked you to summarize. "
    "Here it is as it reads now (it may have grown since), oldest first, each message starting with its author:"
)
SUMMARY_ASKED = "Summarize it for me."


def parse_window(text: str) -> timedelta | None:
    """`/catchup`'s argument: empty for the default, `8h`, `3d`, `90m`, `2 weeks`; None if not understood."""
    words = text.strip().lower()
    if not words:
        return DEFAULT_WINDOW
    match = WINDOW.fullmatch(words)
    unit = UNITS.get(match.group(2)) if match else None
    if match is None or unit is None:
        return None
    window = int(match.group(1)) * unit
    return window if timedelta(0) < window <= MAX_WINDOW else None


@dataclass(frozen=True)
class Line:
    ts: str
    text: str

    @property
    def tokens(self) -> int:
        return len(self.text) // CHARACTERS_PER_TOKEN + MESSAGE_OVERHEAD_TOKENS


def line_for(
    message: ThreadMessage,
    *,
    names: Mapping[str, str],
    bot_user_id: str,
    replies: int = 0,
    dated: bool = False,
) -> Line | None:
    """`[time] Name: text (N replies)`; None for a message with nothing to say."""
    content = message.readable(bot_user_id, names)
    if message.file_names:
        content = f"{content} [attached: {', '.join(message.file_names)}]".strip()
    if not content.strip():
        return None
    if len(content) > MAX_LINE_CHARACTERS:
        content = content[:MAX_LINE_CHARACTERS] + LINE_CUT
    speaker = names.get(message.author_id, message.author_id) + ("" if message.by_a_person else " (bot)")
    if replies:
        content += f" ({replies} {'reply' if replies == 1 else 'replies'} in its thread)"
    when = f"[{utc_time(message.ts)}] " if dated else ""
    return Line(message.ts, f"{when}{speaker}: {content}")


def utc_time(ts: str) -> str:
    return datetime.fromtimestamp(float(ts), UTC).strftime("%a %d %b %H:%M")


@dataclass(frozen=True)
class Transcript:
    lines: tuple[Line, ...]
    """Oldest first."""
    partial: bool
    """Whether earlier messages were left out to fit the budget."""
    kept_first: bool = False
    """Whether the first line is a thread's parent, kept whatever its age."""
    speakers: frozenset[str] = frozenset()
    """The names of the people who speak in it."""
    private_names: frozenset[str] = frozenset()
    """The names of people it only mentions (masked before the model with `REDACT=strict`)."""

    @property
    def text(self) -> str:
        lines = [line.text for line in self.lines]
        if self.partial:
            lines.insert(1 if self.kept_first else 0, EARLIER_LEFT_OUT)
        return "\n".join(lines)

    @property
    def reaches_back_to(self) -> str | None:
        """The oldest message's ts that the transcript shows in full (after the parent, for a thread)."""
        if not self.lines:
            return None
        return self.lines[min(len(self.lines) - 1, 1 if self.kept_first else 0)].ts


def fit_newest(
    lines: Sequence[Line], budget_tokens: int, *, keep_first: bool = False, more_before: bool = False
) -> Transcript:
    """As many of the newest lines as fit in `budget_tokens`; with `keep_first`, the first line (a thread's
    parent, the question it is about) is kept as well. `more_before`: older lines were not even read."""
    if not lines:
        return Transcript((), partial=more_before)
    first = lines[0] if keep_first else None
    room = budget_tokens - (first.tokens if first else 0)
    kept: list[Line] = []
    for line in reversed(lines[1:] if first else lines):
        if line.tokens > room:
            break
        kept.append(line)
        room -= line.tokens
    newest = lines[-1]
    if not kept and newest is not first:
        # Even the newest line alone is too long: its start, cut to the room left, rather than nothing.
        characters = max(0, room - MESSAGE_OVERHEAD_TOKENS) * CHARACTERS_PER_TOKEN
        kept.append(Line(newest.ts, newest.text[: max(characters - len(LINE_CUT), 80)] + LINE_CUT))
    kept.reverse()
    dropped = len(lines) - len(kept) - (1 if first else 0)
    partial = more_before or dropped > 0
    return Transcript((first, *kept) if first else tuple(kept), partial=partial, kept_first=first is not None)
