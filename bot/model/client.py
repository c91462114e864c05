"""The chat-completions client: streams an answer, retries what is worth retrying, names every failure.

Speaks the OpenAI-compatible API that Heroku Managed Inference serves:
`POST {base}/v1/chat/completions` with `stream: true`, answered with server-sent events.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from bot.errors import (
    ModelAnswerTooLarge,
    ModelError,
    ModelHTTPError,
    ModelSetupError,
    ModelStreamBroken,
    ModelTimeout,
    ModelUnreachable,
)
from bot.model.errors import http_error, redirect_error, stream_error
from bot.model.messages import ChatMessage, ToolCall
from bot.model.sse import LINE_LIMIT_BYTES, EventStreamDecoder
from bot.model.tool_calls import ToolCallAssembler

logger = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
# An error response is read this far: what it says is cut to 200 characters anyway, and all of a broken
# gateway's page of megabytes, searched for secrets, held the event loop for seconds.
ERROR_BODY_BYTES = 64 * 1024
# A non-streamed answer is read this far: 200,000 tokens of text, escaped as JSON, stay well under it.
WHOLE_ANSWER_BYTES = 8 * 1024 * 1024
# A streamed answer is broken off past this many characters for each token asked for (a token is about 4):
# a service that ignores max_tokens would otherwise stream small events until the timeout, every 12,000
# characters of them another Slack message. Never less than STREAM_FLOOR_CHARS, never more than 8 MB.
CHARS_PER_TOKEN_LIMIT = 64
STREAM_FLOOR_CHARS = 64 * 1024


@dataclass(frozen=True)
class ModelRequest:
    """What one answer asks of the model; the client adds streaming, and its model id unless `model` names
    another (a channel's own model, CHANNEL_MODELS)."""

    messages: Sequence[ChatMessage]
    temperature: float
    max_tokens: int
    model: str | None = None
    # Functions offered to the model (OpenAI's `{"type": "function", "function": {...}}`), with `tool_choice: auto`.
    tools: Sequence[dict[str, Any]] = ()


@dataclass
class Answer:
    """An answer as it grows; `finish_reason` is set once the model says it is done."""

    text: str = ""
    finish_reason: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    # The model refused the conversation's images, and was asked again without them.
    images_refused: bool = False
    # The model (or its gateway) refused `tools`, and was asked again without them.
    tools_refused: bool = False
    calls: ToolCallAssembler = field(default_factory=ToolCallAssembler, repr=False)

    @property
    def tool_calls(self) -> list[ToolCall]:
        """The tools the model asked to call in its last turn."""
        return self.calls.calls()


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 3
    backoff_seconds: float = 0.5
    max_backoff_seconds: float = 20.0


class ModelClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        api_key: str,
        model_id: str,
        timeout_seconds: float,
        retry: RetryPolicy | None = None,
        secrets: Sequence[str] = (),
    ) -> None:
        """`timeout_seconds` bounds a whole answer, retries included; `http`'s own timeouts bound each
        connection attempt and each wait between two chunks of the stream. `secrets` (with `api_key`)
        are masked in every error message, since a service may echo what it was sent."""
        self.http = http
        base = base_url.rstrip("/")
        self.url = f"{base}/chat/completions" if base.endswith("/v1") else f"{base}/v1/chat/completions"
        self.api_key = api_key
        self.model_id = model_id
        self.timeout_seconds = timeout_seconds
        self.retry = retry or RetryPolicy()
        self.secrets = (api_key, *secrets)
        self.ask_for_usage = True
        # Models whose service refused `tools`: asked without them from then on.
        self.refuse_tools: set[str] = set()

    async def stream(self, request: ModelRequest, answer: Answer) -> AsyncIterator[str]:
        """Yields text as it arrives and fills `answer`; raises a ModelError on any failure.

        Attempts are retried only while nothing has been yielded, so no text is ever shown twice.
        """
        deadline = time.monotonic() + self.timeout_seconds
        while True:
            answer.attempts += 1
            yielded = False
            try:
                async with asyncio.timeout_at(_loop_time_at(deadline)):
                    async for text in self._attempt(request, answer):
                        yielded = True
                        yield text
                return
            except TimeoutError as exc:
                raise ModelTimeout(self.timeout_seconds) from exc
            except ModelError as error:
                if self._drop_usage_option(error) or self._drop_tools(error, request, answer):
                    continue
                delay = self._retry_delay(error, answer.attempts, yielded, deadline)
                if delay is None:
                    raise
                logger.warning(
                    "model call failed, retrying",
                    extra={"error": str(error), "attempt": answer.attempts, "retry_in_s": round(delay, 2)},
                )
                await asyncio.sleep(delay)

    async def complete(self, request: ModelRequest) -> Answer:
        answer = Answer()
        async for _ in self.stream(request, answer):
            pass
        return answer

    async def _attempt(self, request: ModelRequest, answer: Answer) -> AsyncIterator[str]:
        body = {
            "model": request.model or self.model_id,
            "messages": [message.as_json() for message in request.messages],
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
            "stream": True,
        }
        if request.tools and (request.model or self.model_id) not in self.refuse_tools:
            body["tools"] = list(request.tools)
            body["tool_choice"] = "auto"
        if self.ask_for_usage:
            # The token count the daily budgets use (bot/answer/usage.py), in a last chunk before [DONE].
            body["stream_options"] = {"include_usage": True}
        headers = {"Authorization": f"Bearer {self.api_key}", "Accept": "text/event-stream"}
        try:
            async with self.http.stream("POST", self.url, json=body, headers=headers) as response:
                if response.status_code >= 400:
                    raise http_error(response, await _start_of_body(response), self.secrets)
                if response.is_redirect:
                    raise redirect_error(response, self.secrets)
                answer.finish_reason = None
                answer.calls.clear()
                if response.headers.get("content-type", "").startswith("application/json"):
                    # Some OpenAI-compatible servers ignore `stream` and answer in one piece.
                    text = _whole_answer(await _whole_body(response), answer)
                    if text:
                        answer.text += text
                        yield text
                    return
                limit = min(WHOLE_ANSWER_BYTES, max(STREAM_FLOOR_CHARS, CHARS_PER_TOKEN_LIMIT * request.max_tokens))
                async for text in self._events(response, answer):
                    yield text
                    if len(answer.text) > limit:
                        raise ModelAnswerTooLarge(f"an answer far past its {request.max_tokens:,} tokens")
        except httpx.ConnectTimeout as exc:
            raise ModelUnreachable("the connection timed out") from exc
        except httpx.TimeoutException as exc:
            raise ModelTimeout(self.http.timeout.read or self.timeout_seconds) from exc
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.DecodingError) as exc:
            # DecodingError: a body whose Content-Encoding lies (a proxy's doing) cannot be read.
            raise ModelStreamBroken(type(exc).__name__) from exc
        except httpx.TransportError as exc:
            raise ModelUnreachable(type(exc).__name__) from exc

    def _drop_usage_option(self, error: ModelError) -> bool:
        """A service that rejects `stream_options` (some older OpenAI-compatible servers) is asked without
        it from then on; its usage is then estimated from the text (bot/answer/usage.py)."""
        if not (self.ask_for_usage and isinstance(error, ModelHTTPError) and error.status in (400, 422)):
            return False
        if "stream_options" not in error.detail:
            return False
        self.ask_for_usage = False
        logger.warning("the model service refused stream_options; asking without it", extra={"error": str(error)})
        return True

    def _drop_tools(self, error: ModelError, request: ModelRequest, answer: Answer) -> bool:
        """A model or gateway that refuses `tools` (a 400 naming them) is asked again without them, and that
        is remembered for this model: its answers then come from the conversation alone."""
        model_id = request.model or self.model_id  # a channel's own model (CHANNEL_MODELS) is remembered apart
        if not request.tools or model_id in self.refuse_tools:
            return False
        if any(message.role == "tool" or message.tool_calls for message in request.messages):
            # It took tools a round ago: a 400 now is about this answer's calls (a name or an id the
            # gateway finds invalid), not a model without tools, and turns them off for no one.
            return False
        if not (isinstance(error, ModelHTTPError) and error.status in (400, 422)):
            return False
        if "tool" not in f"{error.detail} {error.message}".lower():
            return False
        self.refuse_tools.add(model_id)
        answer.tools_refused = True
        logger.warning("the model refused tools; asking without them", extra={"error": str(error)})
        return True

    async def _events(self, response: httpx.Response, answer: Answer) -> AsyncIterator[str]:
        """The text of an event stream, a block at a time as the transport hands it over (the bot's reads
        several pieces at once: bot/model/transport.py)."""
        decoder = EventStreamDecoder()
        async for block in response.aiter_bytes():
            text, done, failure = self._parse(decoder.feed(block), answer)
            if text:
                yield text
            if failure is not None:
                raise failure
            if done:
                return
            if decoder.overflowed:
                # Leaving the response unread closes its connection: the rest is never received.
                raise ModelAnswerTooLarge(f"a line of over {_megabytes(LINE_LIMIT_BYTES)}")
        text, done, failure = self._parse(decoder.end(), answer)
        if text:
            yield text
        if failure is not None:
            raise failure
        if not done and answer.finish_reason is None:
            raise ModelStreamBroken("the stream ended without a finish reason")

    def _parse(self, events: list[str], answer: Answer) -> tuple[str, bool, ModelError | None]:
        """(the text of `events`, whether the stream is done, the error an event carried): the text before
        a failing event is shown before the failure is raised."""
        pieces: list[str] = []
        done = False
        failure = None
        for data in events:
            try:
                text, done = _parse_event(data, answer, self.secrets)
            except ModelError as error:
                failure = error
                break
            if text:
                pieces.append(text)
            if done:
                break
        text = "".join(pieces)
        answer.text += text
        return text, done, failure

    def _retry_delay(self, error: ModelError, attempts: int, yielded: bool, deadline: float) -> float | None:
        if yielded or attempts >= self.retry.max_attempts:
            return None
        if isinstance(error, ModelHTTPError):
            if error.status not in RETRYABLE_STATUSES or isinstance(error, ModelSetupError):
                return None
            delay = error.retry_after
        elif isinstance(error, (ModelUnreachable, ModelStreamBroken)) and not isinstance(error, ModelAnswerTooLarge):
            delay = None
        else:
            return None
        if delay is None:
            backoff = min(self.retry.max_backoff_seconds, self.retry.backoff_seconds * 2 ** (attempts - 1))
            delay = backoff * (0.5 + random.random() / 2)
        if time.monotonic() + delay >= deadline:
            return None
        return delay


async def _start_of_body(response: httpx.Response) -> str:
    """The first `ERROR_BODY_BYTES` of a body, as text; the rest is left unread (closing the response
    closes its connection with it)."""
    start = bytearray()
    async for block in response.aiter_bytes():
        start += block
        if len(start) >= ERROR_BODY_BYTES:
            break
    return start[:ERROR_BODY_BYTES].decode(response.encoding or "utf-8", errors="replace")


async def _whole_body(response: httpx.Response) -> str:
    """A non-streamed answer, as text; one past `WHOLE_ANSWER_BYTES` is broken off there (all of it was
    read into memory, however large)."""
    body = bytearray()
    async for block in response.aiter_bytes():
        body += block
        if len(body) > WHOLE_ANSWER_BYTES:
            raise ModelAnswerTooLarge(f"an answer of over {_megabytes(WHOLE_ANSWER_BYTES)}")
    return body.decode(response.encoding or "utf-8", errors="replace")


def _megabytes(size: int) -> str:
    return f"{size // (1024 * 1024)} MB"


def _loop_time_at(monotonic_deadline: float) -> float:
    loop = asyncio.get_running_loop()
    return loop.time() + (monotonic_deadline - time.monotonic())


def _parse_event(data: str, answer: Answer, secrets: Sequence[str]) -> tuple[str, bool]:
    """One server-sent event's data → (text to show, whether the stream is done)."""
    if data.strip() == "[DONE]":
        return "", True
    try:
        chunk = json.loads(data)
    except json.JSONDecodeError as exc:
        raise ModelStreamBroken("a malformed chunk") from exc
    if not isinstance(chunk, dict):
        raise ModelStreamBroken("a malformed chunk")
    if chunk.get("error"):
        raise stream_error(chunk, secrets)
    if isinstance(chunk.get("usage"), dict):
        answer.usage = chunk["usage"]
    choices = chunk.get("choices") or []
    if not choices or not isinstance(choices[0], dict):
        return "", False
    choice = choices[0]
    if choice.get("finish_reason"):
        answer.finish_reason = str(choice["finish_reason"])
    delta = choice.get("delta") or choice.get("message") or {}
    if isinstance(delta, dict) and delta.get("tool_calls"):
        answer.calls.feed(delta["tool_calls"])
        if answer.calls.overflowed:
            raise ModelAnswerTooLarge("tool calls past any real turn's")
    content = delta.get("content") if isinstance(delta, dict) else None
    return (content if isinstance(content, str) else ""), False


def _whole_answer(body: str, answer: Answer) -> str:
    try:
        data = json.loads(body)
        choice = data["choices"][0]
        content = choice["message"].get("content") or ""
    except (json.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise ModelStreamBroken("a malformed answer") from exc
    answer.finish_reason = str(choice.get("finish_reason") or "stop")
    answer.calls.feed(choice["message"].get("tool_calls"))
    if isinstance(data.get("usage"), dict):
        answer.usage = data["usage"]
    return str(content)
