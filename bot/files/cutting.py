"""Cutting a text to a length by its middle: the start and the end (where the point usually is) stay."""

from __future__ import annotations

# A text cut below this many characters says too little to be worth sending.
MIN_USEFUL_CHARACTERS = 400
CUT_MARKER = "\n\n[… {count} characters of {name} left out here to fit the model's input limit …]\n\n"


def cut_middle(text: str, name: str, limit: int) -> str:
    """`text` if it fits in `limit` characters; else its start and end around a visible marker, or ""
    when so little would be left that it is not worth sending."""
    if len(text) <= limit:
        return text
    keep = limit - len(CUT_MARKER.format(count=len(text), name=name))
    if keep < MIN_USEFUL_CHARACTERS:
        return ""
    head, tail = keep * 2 // 3, keep // 3
    return text[:head] + CUT_MARKER.format(count=len(text) - head - tail, name=name) + text[len(text) - tail :]
