"""Fits a conversation into the model's input budget: newest messages kept, oldest dropped first.

Tokens are estimated as characters / 4, which needs no tokenizer or model table and errs on the
generous side for English text; the default budget leaves wide room below every Heroku chat model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from bot.model_client import ChatMessage

CHARACTERS_PER_TOKEN = 4
MESSAGE_OVERHEAD_TOKENS = 4
# What an image downscaled to a long edge of 1,568 px costs a Claude model at most (width * height / 750).
IMAGE_TOKENS = 1600
SHORTENED_MARKER = "\n\n[… {count} characters left out here to fit the model's input limit …]\n\n"
EARLIER_LEFT_OUT = "\n\n(The earliest messages of this thread were left out to fit the model's input limit.)"


def estimate_tokens(message: ChatMessage) -> int:
    text_tokens = len(message.content) // CHARACTERS_PER_TOKEN
    return text_tokens + IMAGE_TOKENS * len(message.images) + MESSAGE_OVERHEAD_TOKENS


def fit_to_budget(messages: Sequence[ChatMessage], budget_tokens: int) -> list[ChatMessage]:
    """The system prompt and as many of the newest messages as fit; the newest is shortened if it alone is too big.

    When messages are dropped, the system prompt says so.
    """
    system, turns = messages[0], list(messages[1:])
    if sum(estimate_tokens(message) for message in messages) <= budget_tokens:
        return list(messages)
    note = ChatMessage("system", system.content + EARLIER_LEFT_OUT)
    room = budget_tokens - estimate_tokens(note)
    kept: list[ChatMessage] = []
    for message in reversed(turns):
        cost = estimate_tokens(message)
        if cost > room:
            if not kept:
                kept.append(shorten(message, room))
            break
        kept.append(message)
        room -= cost
    kept.reverse()
    return [note, *kept]


def shorten(message: ChatMessage, budget_tokens: int) -> ChatMessage:
    """Keeps the start and the end (where the question usually is), with a visible marker between."""
    limit = max(0, budget_tokens - MESSAGE_OVERHEAD_TOKENS - IMAGE_TOKENS * len(message.images)) * CHARACTERS_PER_TOKEN
    text = message.content
    if len(text) <= limit:
        return message
    room = max(0, limit - len(SHORTENED_MARKER) - 12)
    head, tail = room * 2 // 3, room // 3
    removed = len(text) - head - tail
    shortened = text[:head] + SHORTENED_MARKER.format(count=removed) + (text[-tail:] if tail else "")
    return dataclasses.replace(message, content=shortened)
