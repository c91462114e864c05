"""Asking the model about a conversation, the same way from Slack and from the terminal chat."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from functools import lru_cache
from typing import Any

from bot.answer.conversation import alternate
from bot.answer.redaction import Redactor
from bot.answer.tool_loop import ToolRun, tool_rounds
from bot.answer.trimming import fit_to_budget
from bot.answer.usage import estimate_usage
from bot.errors import ContextTooLong, ModelHTTPError
from bot.model.client import Answer, ModelClient, ModelRequest
from bot.model.messages import ChatMessage
from bot.settings import Settings
from bot.tools.base import Approver, NoApprover, Toolbox

logger = logging.getLogger(__name__)

Consumer = Callable[[AsyncIterator[str]], Awaitable[None]]
# How services word a refusal of image input ("does not support image input", "image_url is not supported").
IMAGES_NOT_SENT = "[The images attached here could not be sent: the model did not accept them.]"
IMAGES_REFUSED = re.compile(r"image|vision|multimodal|content part|content type", re.IGNORECASE)


def model_request(
    messages: Sequence[ChatMessage],
    settings: Settings,
    budget_tokens: int,
    private_names: Collection[str] = (),
    model_id: str | None = None,
) -> ModelRequest:
    """What the model is sent: the conversation within the budget, in alternating turns, sensitive values
    masked. Every model request is built here, so every text (messages, files, links) is redacted here."""
    fitted = alternate(fit_to_budget(messages, budget_tokens))
    redacted = redactor(settings.redact, settings.redact_patterns).redact_messages(fitted, private_names)
    return ModelRequest(redacted, settings.temperature, settings.max_tokens, model_id)


def _without_images(message: ChatMessage) -> ChatMessage:
    if not message.images:
        return message
    return dataclasses.replace(message, content=f"{message.content}\n{IMAGES_NOT_SENT}", images=())


def _refused_images(error: ModelHTTPError, request: ModelRequest, answer: Answer) -> bool:
    has_images = any(message.images for message in request.messages)
    refused = 400 <= error.status < 500 and IMAGES_REFUSED.search(error.message) is not None
    return has_images and refused and not answer.text


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
    log_fields: Mapping[str, Any] | None = None,
    model_id: str | None = None,
    toolbox: Toolbox | None = None,
    approver: Approver | None = None,
    run: ToolRun | None = None,
) -> None:
    """Streams the answer into `consume`, within the input budget; if the model still finds the input
    too long, asks once more with half the budget (nothing has been shown at that point).

    With a `toolbox`, the model may call its tools (bot/answer/tool_loop.py) within MAX_TOOL_STEPS rounds
    and the answer's deadline; their results are redacted as the conversation is."""
    budget = settings.input_budget_tokens
    deadline = time.monotonic() + settings.model_timeout_seconds
    masking = redactor(settings.redact, settings.redact_patterns)
    run = run if run is not None else ToolRun()

    def answering(request: ModelRequest) -> AsyncIterator[str]:
        if not toolbox:
            return model.stream(request, answer)
        return tool_rounds(
            model,
            request,
            answer,
            toolbox=toolbox,
            approver=approver or NoApprover(),
            redact=lambda text: masking.redact(text, private_names),
            max_steps=settings.max_tool_steps,
            deadline=deadline,
            run=run,
        )

    # Redaction reads every character of a long thread: off the event loop.
    request = await asyncio.to_thread(model_request, messages, settings, budget, private_names, model_id)
    if settings.log_message_content:
        # What the model is sent, redacted; images are counted, not logged (megabytes of base64).
        content = [{"role": m.role, "content": m.content, "images": len(m.images)} for m in request.messages]
        logger.info("model request", extra={**(log_fields or {}), "messages": content})
    try:
        await consume(answering(request))
    except ContextTooLong as error:
        if run.outcomes:
            raise  # asking again would run its tools again, an approved action among them
        logger.warning("context too long, retrying with a smaller budget", extra={"error": str(error)})
        request = await asyncio.to_thread(model_request, messages, settings, budget // 2, private_names, model_id)
        await consume(answering(request))
    except ModelHTTPError as error:
        if run.outcomes or not _refused_images(error, request, answer):
            raise
        # MODEL_ACCEPTS_IMAGES (or its `auto` table) was wrong for this model: answer from the text.
        logger.warning("the model refused images, asking again without them", extra={"error": str(error)})
        answer.images_refused = True
        text_only = [_without_images(message) for message in messages]
        request = await asyncio.to_thread(model_request, text_only, settings, budget, private_names, model_id)
        await consume(answering(request))
    finally:
        estimate_usage(answer, request)
