"""Fits a conversation into the model's input budget: the question always, then the newest messages.

Tokens are estimated as characters / 4, which needs no tokenizer or model table and errs on the
generous side for English text; the default budget leaves wide room below every Heroku chat model.

What is kept, in order of need: the question (the last message), the system prompt, then the thread's
messages from the newest back. Whatever is cut carries a visible marker, and a note says that earlier
messages were left out only when some were.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from bot.model.messages import ChatMessage

CHARACTERS_PER_TOKEN = 4
MESSAGE_OVERHEAD_TOKENS = 4
# What an image downscaled to a long edge of 1,568 px costs a Claude model at most (width * height / 750).
IMAGE_TOKENS = 1600
SHORTENED_MARKER = "\n\n[… {count} characters left out here to fit the model's input limit …]\n\n"
# Room the formatted marker may need beyond its template (the count's digits).
MARKER_SLACK = 12
EARLIER_LEFT_OUT = "\n\n({count} earlier messages of this thread were left out to fit the model's input limit.)"
# A message is worth shortening into the room left only if that keeps a useful part of it.
USEFUL_TOKENS = 64


def estimate_tokens(message: ChatMessage) -> int:
    text_tokens = len(message.content) // CHARACTERS_PER_TOKEN
    return text_tokens + IMAGE_TOKENS * len(message.images) + MESSAGE_OVERHEAD_TOKENS


def fit_to_budget(messages: Sequence[ChatMessage], budget_tokens: int) -> list[ChatMessage]:
    """`messages` is the system prompt, the thread, then the question; returns them within the budget.

    The question is always sent: whole if it fits beside the system prompt (which yields down to half
    the budget), else shortened itself. The thread's newest messages fill what is left; the newest one
    that does not fit whole is shortened into the room left if that keeps a useful part of it.
    """
    if len(messages) < 2 or sum(estimate_tokens(message) for message in messages) <= budget_tokens:
        return list(messages)
    system, *thread, question = messages
    note_tokens = len(EARLIER_LEFT_OUT.format(count=len(thread))) // CHARACTERS_PER_TOKEN + 1 if thread else 0
    question = shorten(question, budget_tokens - min(estimate_tokens(system) + note_tokens, budget_tokens // 2))
    room = budget_tokens - estimate_tokens(question) - estimate_tokens(system)
    if sum(estimate_tokens(message) for message in thread) <= room:
        return [system, *thread, question]
    system = shorten(system, budget_tokens - estimate_tokens(question) - note_tokens)
    kept = _newest_that_fit(thread, budget_tokens - estimate_tokens(question) - estimate_tokens(system) - note_tokens)
    if len(kept) < len(thread):
        note = EARLIER_LEFT_OUT.format(count=len(thread) - len(kept))
        system = dataclasses.replace(system, content=system.content + note)
    return [system, *kept, question]


def _newest_that_fit(thread: Sequence[ChatMessage], room: int) -> list[ChatMessage]:
    kept: list[ChatMessage] = []
    for message in reversed(thread):
        cost = estimate_tokens(message)
        if cost > room:
            if room >= USEFUL_TOKENS:
                kept.append(shorten(message, room))
            break
        kept.append(message)
        room -= cost
    kept.reverse()
    return kept


def shorten(message: ChatMessage, budget_tokens: int) -> ChatMessage:
    """Keeps the start and the end (where the question usually is), with a visible marker between."""
    limit = max(0, budget_tokens - MESSAGE_OVERHEAD_TOKENS - IMAGE_TOKENS * len(message.images)) * CHARACTERS_PER_TOKEN
    text = message.content
    if len(text) <= limit:
        return message
    room = max(0, limit - len(SHORTENED_MARKER) - MARKER_SLACK)
    head, tail = room * 2 // 3, room // 3
    removed = len(text) - head - tail
    shortened = text[:head] + SHORTENED_MARKER.format(count=removed) + (text[-tail:] if tail else "")
    return dataclasses.replace(message, content=shortened)
