"""Model Markdown → what Slack shows: cut into messages within Slack's limits, and mrkdwn where needed.

Slack renders standard Markdown itself in `markdown_text` and `markdown` blocks, so answers are sent as
Markdown. Only the plain `text` of a message (notifications, and clients that cannot show blocks) needs
Slack's own mrkdwn, which `to_mrkdwn` produces.

Task cards (`TaskCard`, at the end) are how a streamed answer shows each tool call, as Slack shows an
agent's work: a `task_update` chunk on `chat.startStream` / `chat.appendStream`, with an `id` that stays
the same for one call (the same `id` sent again updates the card in place), a `title`, a status
(`in_progress`, then `complete` or `error`), a short `output`, and the `sources` (URLs) the call used.
Where a card cannot be shown (Slack refuses chunks, or the answer is posted rather than streamed), its
text line stands in: a `CardText` is that line, carrying its card for a reply that can show it, so any
other reader of the answer's text (the terminal chat) simply shows the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot import linear_regex
from bot.linear_regex import SPACE, Match
from bot.safe_text import WORD_JOINER

# Slack's limit for `markdown_text` and, roughly, for a `markdown` block.
MESSAGE_LIMIT = 12_000
# Near the limit, only whole paragraphs are sent, so that a message can end at a paragraph boundary.
PARAGRAPH_MARGIN = 2_000
FENCE = re.compile(r"^\s*(`{3,}|~{3,})")

# Broadcasts in the model's words: `<!here>`, `<!channel>`, `<!everyone>`, `<!subteam^…>` (any `<!…>`), and a
# bare @here, @channel or @everyone. Whether Slack expands them in `markdown_text` is not documented, so
# they are defused before the text goes anywhere, streamed or as the fallback: a word joiner after the `<`
# or the `@` keeps them as written and pings no one. Mentions of one person or channel keep working.
BROADCAST = re.compile(r"<(?=!)|(?<![\w@])@(?=(?:here|channel|everyone)\b)", re.IGNORECASE)
BROADCAST_WORDS = ("here", "channel", "everyone")
# The end of a text that the next piece may still turn into a broadcast: held back until it comes.
UNFINISHED_BROADCAST = re.compile(
    r"<\Z|(?<![\w@])@(?:"
    + "|".join(word[:end] for word in BROADCAST_WORDS for end in range(len(word) - 1, 0, -1))
    + r")?\Z",
    re.IGNORECASE,
)


def defuse_broadcasts(text: str) -> str:
    return BROADCAST.sub(lambda match: match.group(0) + WORD_JOINER, text)


@dataclass(frozen=True)
class Segment:
    text: str
    starts_message: bool


class MessageSplitter:
    """Turns a growing answer into append-only pieces of Slack messages of at most `limit` characters.

    What has been sent is never taken back, so a cut is chosen in the text not yet sent: at a paragraph
    break, else a line break, else a sentence end, else between words; a hard cut only inside a single
    unbroken run (a long URL). A code block cut in two is closed at the end of one message and reopened at
    the start of the next, so both render as code.
    """

    def __init__(self, limit: int = MESSAGE_LIMIT, margin: int = PARAGRAPH_MARGIN) -> None:
        self.limit = limit
        self.margin = min(margin, limit // 2)
        # What the current message holds, and the text accepted but not yet placed in a message.
        self.current = ""
        self.pending = ""
        self.messages = 0
        # The first message was begun by something other than text (a task card): text continues it.
        self._opened = False

    def add(self, text: str) -> None:
        self.pending += text

    def open_first_message(self) -> None:
        """Something other than text (a task card) begins the answer: the text after it is in its message."""
        if self.messages == 0:
            self.messages = 1
            self._opened = True

    def add_paragraph(self, text: str) -> None:
        """Adds `text` as a paragraph of its own, after closing a code block left open: never glued on."""
        before = self.current + self.pending
        fence = open_fence(before)
        if fence:
            self.pending += ("" if before.endswith("\n") else "\n") + _fence_marker(fence)
            before = self.current + self.pending
        if before.strip():
            self.pending += "\n" * max(0, 2 - (len(before) - len(before.rstrip("\n"))))
        self.pending += text

    def feed(self, text: str, *, final: bool = False) -> list[Segment]:
        self.add(text)
        return self.take(final=final)

    def take(self, *, final: bool = False) -> list[Segment]:
        """The pieces that can be sent now, broadcasts defused; with `final`, all of them."""
        self.pending = defuse_broadcasts(self.pending)
        unfinished = None if final else UNFINISHED_BROADCAST.search(self.pending)
        held = unfinished.group(0) if unfinished else ""
        self.pending = self.pending[: len(self.pending) - len(held)]
        segments = self._take(final=final)
        self.pending += held
        return segments

    def _take(self, *, final: bool) -> list[Segment]:
        segments: list[Segment] = []
        while self.pending:
            room = self.limit - len(self.current)
            if len(self.pending) <= room - (0 if final else self.margin):
                segments.append(self._emit(self.pending))
                self.pending = ""
            elif len(self.pending) <= room and not final:
                cut = self.pending.rfind("\n\n")
                if cut > 0:
                    segments.append(self._emit(self.pending[:cut]))
                    self.pending = self.pending[cut:]
                break
            else:
                segments.extend(self._cut(room))
        return segments

    def _cut(self, room: int) -> list[Segment]:
        reserve = 8
        window = self.pending[: max(0, room - reserve)]
        cut = best_cut(window, half_full=self.limit // 2 - len(self.current))
        head, rest = self.pending[:cut], self.pending[cut:]
        fence = open_fence(self.current + head)
        closing = "\n" + _fence_marker(fence) if fence else ""
        segments = [self._emit(head + closing)] if head or closing else []
        self.current = ""
        self.pending = (fence + "\n" if fence else "") + rest.lstrip("\n")
        return segments

    def _emit(self, text: str) -> Segment:
        starts = not self.current and not self._opened
        self._opened = False
        if starts:
            self.messages += 1
        self.current += text
        return Segment(text, starts)


# Where a message may end, best first, and whether the break itself goes with the message that ends.
CUTS = (
    (re.compile(r"\n\n"), False),
    (re.compile(r"\n"), False),
    (re.compile(r"(?<=[.!?…])[\"')\]*_]*\s+"), True),
    (re.compile(r"\s+"), True),
)


def best_cut(window: str, half_full: int) -> int:
    """Where to end a message that can take `window`: the best kind of break that leaves it at least half
    full (from `half_full` on), else the best anywhere, else (one unbroken run) the window's end."""
    for start in (max(1, half_full), 1):
        for pattern, keep_break in CUTS:
            matches = list(pattern.finditer(window, start))
            if matches:
                return matches[-1].end() if keep_break else matches[-1].start()
    return len(window)


def open_fence(text: str) -> str | None:
    """The opening line of a code block left open at the end of `text`, if any."""
    opening: str | None = None
    for line in text.split("\n"):
        match = FENCE.match(line)
        if not match:
            continue
        if opening is None:
            opening = line.strip()
        elif match.group(1).startswith(opening[:3]) and line.strip() == match.group(1):
            opening = None
    return opening


def _fence_marker(opening: str) -> str:
    match = FENCE.match(opening)
    return match.group(1) if match else "```"


# --- Markdown → mrkdwn -------------------------------------------------------------------------------

# Mentions of a person or a channel keep working; broadcasts (`<!here>`, `<!channel>`, `<!everyone>`, a user
# group) are escaped and shown as text: words the model wrote never ping a whole channel or team.
# The inline patterns run on RE2 (bot/linear_regex.py), in time linear in the line: with Python's `re`, one
# line of 40 KB of `**a ` took 3.5 s. An emphasis is its marks around the shortest span that neither starts
# nor ends with a space (`NOT_SPACE … NOT_SPACE`); `**` closes `**` and `__` closes `__` (two alternatives,
# where `re` had a backreference).
NOT_SPACE = f"[^{SPACE}]"
SPAN = f"({NOT_SPACE}(?:.*?{NOT_SPACE})??)"
SLACK_TOKEN = linear_regex.compile(r"<(?:@[UW][A-Z0-9]+|#[CG][A-Z0-9]+(?:\|[^>]*)?)>")
CODE_SPAN = re.compile(r"`[^`\n]+`")
# The URL may hold balanced parentheses, as Wikipedia's do; an image's "!" is dropped with it.
LINK = linear_regex.compile(rf"!?\[([^\]\n]+)\]\(((?:[^(){SPACE}]|\([^(){SPACE}]*\))+)\)")
AUTOLINK = linear_regex.compile(rf"<(https?://[^>{SPACE}]+)>")
BOLD_ITALIC = linear_regex.compile(rf"\*\*\*{SPAN}\*\*\*|___{SPAN}___")
BOLD = linear_regex.compile(rf"\*\*{SPAN}\*\*|__{SPAN}__")
ITALIC_STAR = re.compile(r"(?<![\*\w])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\*\w])")
STRIKE = linear_regex.compile(rf"~~{SPAN}~~")
HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
BULLET = re.compile(r"^(\s*)[-*+]\s+(.*)$")
QUOTE = re.compile(r"^\s*>\s?(.*)$")
RULE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")


def to_mrkdwn(markdown: str) -> str:
    """Standard Markdown → Slack mrkdwn, with `&`, `<`, `>` escaped and Slack mentions kept working."""
    lines: list[str] = []
    fence: str | None = None
    for line in markdown.split("\n"):
        if FENCE.match(line):
            fence = None if fence else line.strip()
            lines.append("```")
            continue
        if fence:
            lines.append(escape(line))
            continue
        lines.append(_block_line(line))
    return "\n".join(lines)


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _block_line(line: str) -> str:
    if RULE.match(line):
        return "───"
    heading = HEADING.match(line)
    if heading:
        return f"*{_inline(heading.group(1))}*"
    quote = QUOTE.match(line)
    if quote:
        return "> " + _inline(quote.group(1))
    bullet = BULLET.match(line)
    if bullet:
        return f"{bullet.group(1)}• {_inline(bullet.group(2))}"
    return _inline(line)


def _inline(text: str) -> str:
    kept: list[str] = []

    def keep(rendered: str) -> str:
        kept.append(rendered)
        return f"\x00{len(kept) - 1}\x00"

    # NUL and \x01 mark kept pieces and bold below: the model's own are dropped (Slack shows neither).
    text = linear_regex.encodable(text).replace("\x00", "").replace("\x01", "")
    text = CODE_SPAN.sub(lambda match: keep(escape(match.group(0))), text)
    # (Each RE2 pattern only where its marks are: most lines have none, and a call costs microseconds.)
    if "<" in text:
        text = SLACK_TOKEN.sub(lambda match: keep(match.group(0)), text)
    if "](" in text:
        text = LINK.sub(lambda match: keep(f"<{match.group(2)}|{_label(match.group(1))}>"), text)
    if "<" in text:
        text = AUTOLINK.sub(lambda match: keep(f"<{match.group(1)}>"), text)
    text = escape(text)
    if "***" in text or "___" in text:
        text = BOLD_ITALIC.sub(lambda match: "\x01_" + _span(match) + "_\x01", text)
    if "**" in text or "__" in text:
        text = BOLD.sub(lambda match: "\x01" + _span(match) + "\x01", text)
    text = ITALIC_STAR.sub(lambda match: "_" + match.group(1) + "_", text)
    if "~~" in text:
        text = STRIKE.sub(lambda match: "~" + match.group(1) + "~", text)
    text = text.replace("\x01", "*")
    return re.sub("\x00(\\d+)\x00", lambda match: kept[int(match.group(1))], text)


def _span(match: Match) -> str:
    """The emphasised text, whichever of the pattern's alternatives matched."""
    return next(group for group in match.groups() if group is not None)


def _label(text: str) -> str:
    plain = (BOLD.sub(_span, text) if "**" in text or "__" in text else text).replace("|", "¦")
    return escape(plain)


# --- task cards ---------------------------------------------------------------------------------------
IN_PROGRESS = "in_progress"
COMPLETE = "complete"
ERROR = "error"
STATUSES = frozenset({"pending", IN_PROGRESS, COMPLETE, ERROR})
# Slack's task card shows a title and up to 256 characters of output; a search may use 20 messages.
TITLE_CHARS = 150
OUTPUT_CHARS = 256
SOURCES_PER_CARD = 10
SOURCE_TEXT_CHARS = 80


@dataclass(frozen=True)
class TaskCard:
    id: str
    title: str
    status: str
    output: str = ""
    # (url, text) of each source, in order.
    sources: tuple[tuple[str, str], ...] = ()

    @property
    def final(self) -> bool:
        return self.status in (COMPLETE, ERROR)

    def chunk(self) -> dict[str, Any]:
        """The `task_update` chunk, cut to what Slack shows."""
        chunk: dict[str, Any] = {
            "type": "task_update",
            "id": self.id,
            "title": _shortened(self.title, TITLE_CHARS),
            "status": self.status if self.status in STATUSES else ERROR,
        }
        if self.output:
            chunk["output"] = _shortened(self.output, OUTPUT_CHARS)
        if self.sources:
            chunk["sources"] = [
                {"type": "url", "url": url, "text": _shortened(text, SOURCE_TEXT_CHARS) or url}
                for url, text in self.sources[:SOURCES_PER_CARD]
            ]
        return chunk


class CardText(str):
    """The text line that stands in for `card` where it cannot be shown ("" for a card in progress)."""

    card: TaskCard

    def __new__(cls, line: str, card: TaskCard) -> CardText:
        text = super().__new__(cls, line)
        text.card = card
        return text


def _shortened(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
