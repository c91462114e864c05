"""Asking the model about a conversation, the same way from Slack and from the terminal chat."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from bot.conversation import alternate
from bot.errors import ContextTooLong
from bot.model_client import Answer, ChatMessage, ModelClient, ModelRequest
from bot.settings import Settings
from bot.trimming import fit_to_budget

logger = logging.getLogger(__name__)

Consumer = Callable[[AsyncIterator[str]], Awaitable[None]]


def model_request(messages: Sequence[ChatMessage], settings: Settings, budget_tokens: int) -> ModelRequest:
    fitted = alternate(fit_to_budget(messages, budget_tokens))
    return ModelRequest(fitted, settings.temperature, settings.max_tokens)


async def ask(
    model: ModelClient, messages: Sequence[ChatMessage], settings: Settings, consume: Consumer, answer: Answer
) -> None:
    """Streams the answer into `consume`, within the input budget; if the model still finds the input
    too long, asks once more with half the budget (nothing has been shown at that point)."""
    budget = settings.input_budget_tokens
    try:
        await consume(model.stream(model_request(messages, settings, budget), answer))
    except ContextTooLong as error:
        logger.warning("context too long, retrying with a smaller budget", extra={"error": str(error)})
        await consume(model.stream(model_request(messages, settings, budget // 2), answer))
