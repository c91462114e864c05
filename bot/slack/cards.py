"""Task cards: how a streamed answer shows each tool call, as Slack shows an agent's work.

A card is a `task_update` chunk on `chat.startStream` / `chat.appendStream`: an `id` that stays the same
for one call, a `title`, a status (`in_progress`, then `complete` or `error`), a short `output`, and the
`sources` (URLs) the call used. The same `id` sent again updates the card in place, so a card sent twice
shows once. Where a card cannot be shown (Slack refuses chunks, or the answer is posted rather than
streamed), its text line stands in: a `CardText` is that line, carrying its card for a reply that can
show it, so every other reader of the answer's text (the terminal chat) simply shows the line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
            "title": _cut(self.title, TITLE_CHARS),
            "status": self.status if self.status in STATUSES else ERROR,
        }
        if self.output:
            chunk["output"] = _cut(self.output, OUTPUT_CHARS)
        if self.sources:
            chunk["sources"] = [
                {"type": "url", "url": url, "text": _cut(text, SOURCE_TEXT_CHARS) or url}
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


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
