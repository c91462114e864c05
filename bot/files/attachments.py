"""Hangs what was read on the messages it came with, within the input budget, newest first.

File text (and linked Slack threads) share at most `FILES_SHARE` of the model's input budget; the
newest come first, a text too big for what is left keeps its start and end with a visible marker, and
what no longer fits is left out and named. Images go with their message as image parts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bot.files.cutting import cut_middle
from bot.files.kinds import Kind
from bot.files.reading import NO_ROOM, FileContent, not_read
from bot.slack.messages import SlackFile

FILES_SHARE = 0.75
CHARACTERS_PER_TOKEN = 4


def files_room(budget_tokens: int) -> int:
    """Characters of file text and linked threads one answer may carry."""
    return int(budget_tokens * FILES_SHARE) * CHARACTERS_PER_TOKEN


@dataclass(frozen=True)
class Attachment:
    """What one message carries beyond its own text."""

    text: str = ""
    images: tuple[str, ...] = ()


@dataclass
class Attached:
    by_ts: dict[str, Attachment] = field(default_factory=dict)
    # Files whose message is newer than `fresh_after`, in thread order, that were not read: for the answer's note.
    unread: list[FileContent] = field(default_factory=list)


@dataclass(frozen=True)
class Extra:
    """Text that is not a file but counts like one (a linked Slack thread), attached to a message."""

    ts: str
    label: str
    text: str


def attach(
    files: Sequence[tuple[str, SlackFile]],
    contents: Mapping[str, FileContent],
    *,
    budget_tokens: int,
    fresh_after: float,
    extras: Sequence[Extra] = (),
) -> Attached:
    """`files`: (message ts, file) in thread order; `extras` count against the same room, before files."""
    room = files_room(budget_tokens)
    # Per message ts: (order, block); extras first (negative order), then files in thread order.
    blocks: dict[str, list[tuple[int, str]]] = {}
    images: dict[str, list[str]] = {}
    final: dict[str, FileContent] = {}
    for index, extra in enumerate(extras):
        text, room = _fit(extra.text, extra.label, room)
        block = text or f"[{extra.label}: left out to fit the model's input limit]"
        blocks.setdefault(extra.ts, []).append((index - len(extras), block))
    for index in reversed(range(len(files))):
        ts, file = files[index]
        content = contents.get(file.id) or not_read(file, NO_ROOM)
        if content.read and content.kind != Kind.IMAGE.value:
            text, room = _fit(content.text, file.name, room)
            content = dataclasses.replace(content, text=text) if text else not_read(file, NO_ROOM)
        final[file.id] = content
        blocks.setdefault(ts, []).append((index, _block(content)))
        if content.image:
            images.setdefault(ts, []).insert(0, content.image)
    attached = Attached()
    for ts in sorted(blocks, key=float):
        text = "\n\n".join(block for _, block in sorted(blocks[ts]))
        attached.by_ts[ts] = Attachment(text, tuple(images.get(ts, ())))
    unread = {file.id: final[file.id] for ts, file in files if float(ts) > fresh_after and not final[file.id].read}
    attached.unread = list(unread.values())
    return attached


def _fit(text: str, name: str, room: int) -> tuple[str, int]:
    """The text, cut to `room` characters keeping its start and end; and the room left after it."""
    cut = cut_middle(text, name, room)
    return cut, (room - len(cut) if cut else room)


def _block(content: FileContent) -> str:
    name = content.name.replace('"', "'")
    if not content.read:
        return f"[file {name}: not read ({content.not_read.replace('_', ' ')})]"
    if content.image:
        return f"[image {name}: attached]"
    return f'<file name="{name}">\n{content.text}\n</file>'
