"""Asking the model about a conversation, the same way from Slack and from the terminal chat."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from functools import lru_cache

from bot.conversation import alternate
from bot.errors import ContextTooLong
from bot.model_client import Answer, ChatMessage, ModelClient, ModelRequest
from bot.redaction import Redactor
from bot.settings import Settings
from bot.trimming import fit_to_budget
from bot.usage import estimate_usage

logger = logging.getLogger(__name__)

Consumer = Callable[[AsyncIterator[str]], Awaitable[None]]


def model_request(
    messages: Sequence[ChatMessage], settings: Settings, budget_tokens: int, private_names: Collection[str] = ()
) -> ModelRequest:
    """What the model is sent: the conversation within the budget, in alternating turns, sensitive values
    masked. Every model request is built here, so every text (messages, files, links) is redacted here."""
    fitted = alternate(fit_to_budget(messages, budget_tokens))
    redacted = redactor(settings.redact, settings.redact_patterns).redact_messages(fitted, private_names)
    return ModelRequest(redacted, settings.temperature, settings.max_tokens)


@lru_cache(maxsize=8)
def redactor(mode: str, patterns: tuple[str, ...]) -> Redactor:
    return Redactor(mode, patterns)


async def ask(
    model: ModelClient,
    messages: Sequence[ChatMessage],
    settings: Settings,
    consume: Consumer,
    answer: Answer,
    *,
    private_names: Collection[str] = (),
) -> None:
    """Streams the answer into `consume`, within the input budget; if the model still finds the input
    too long, asks once more with half the budget (nothing has been shown at that point)."""
    budget = settings.input_budget_tokens
    # Redaction reads every character of a long thread: off the event loop.
    request = await asyncio.to_thread(model_request, messages, settings, budget, private_names)
    try:
        await consume(model.stream(request, answer))
    except ContextTooLong as error:
        logger.warning("context too long, retrying with a smaller budget", extra={"error": str(error)})
        request = await asyncio.to_thread(model_request, messages, settings, budget // 2, private_names)
        await consume(model.stream(request, answer))
    finally:
        estimate_usage(answer, request)
