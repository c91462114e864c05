"""Model Markdown → what Slack shows: split into messages at natural boundaries, within Slack's limits."""

from __future__ import annotations

import re

MARKDOWN_TEXT_LIMIT = 12_000
FENCE = re.compile(r"^\s*(```|~~~)")


def split_markdown(text: str, limit: int = MARKDOWN_TEXT_LIMIT) -> list[str]:
    """Pieces of at most `limit` characters, cut between paragraphs, never inside a code block.

    A code block longer than `limit` is cut between lines, each piece closed and reopened as a block,
    so every piece renders on its own. Joined with blank lines, the pieces give back the text.
    """
    pieces: list[str] = []
    current = ""
    for block in _blocks(text.strip()):
        for part in _fit(block, limit):
            if current and len(current) + 2 + len(part) <= limit:
                current = f"{current}\n\n{part}"
            else:
                if current:
                    pieces.append(current)
                current = part
    if current:
        pieces.append(current)
    return pieces


def _blocks(text: str) -> list[str]:
    """Paragraphs and whole code blocks, in order."""
    blocks: list[str] = []
    lines: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        match = FENCE.match(line)
        if fence is None and match:
            fence = match.group(1)
        elif fence is not None and match and match.group(1) == fence:
            fence = None
        if fence is None and not line.strip():
            if lines:
                blocks.append("\n".join(lines))
                lines = []
            continue
        lines.append(line)
    if lines:
        blocks.append("\n".join(lines))
    return blocks


def _fit(block: str, limit: int) -> list[str]:
    if len(block) <= limit:
        return [block]
    lines = block.split("\n")
    fenced = bool(FENCE.match(lines[0])) and len(lines) > 1
    if fenced:
        opening, closing = lines[0], lines[0].strip()[:3]
        body = lines[1:-1] if FENCE.match(lines[-1]) else lines[1:]
        room = limit - len(opening) - len(closing) - 2
        return [f"{opening}\n{chunk}\n{closing}" for chunk in _pack_lines(body, room)]
    return _pack_lines(lines, limit)


def _pack_lines(lines: list[str], limit: int) -> list[str]:
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        for segment in [line[start : start + limit] for start in range(0, len(line), limit)] or [""]:
            if current and size + 1 + len(segment) > limit:
                chunks.append("\n".join(current))
                current, size = [], 0
            size += len(segment) + (1 if current else 0)
            current.append(segment)
    if current:
        chunks.append("\n".join(current))
    return chunks
