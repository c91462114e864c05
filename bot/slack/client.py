"""The Slack Web API client, built one way for the server and `check`: one session, the SDK's retries made safe."""

from __future__ import annotations

from urllib.parse import urlparse

import aiohttp
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import Settings

# Calls that show something new each time they land: after a lost answer (a dropped connection, a 5xx)
# they may have landed, so repeating them could show it twice. The SDK repeats them only when the
# request never left (no connection); their caller (bot.slack.reply) finds out what happened instead.
NOT_REPEATABLE = frozenset({"chat.postMessage", "chat.startStream", "chat.appendStream"})


def _method_of(request: HttpRequest) -> str:
    """The Web API method a request calls (`chat.postMessage`), the last part of its URL's path."""
    return urlparse(request.url).path.rsplit("/", 1)[-1]


def _repeatable(request: HttpRequest, error: Exception | None) -> bool:
    method = _method_of(request)
    return method not in NOT_REPEATABLE or isinstance(error, aiohttp.ClientConnectorError)


class _OnlyWhenRepeatable(AsyncRetryHandler):
    """Retries as the handler it is mixed into does, except a call that may have landed and would show twice."""

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return _repeatable(request, error) and await super()._can_retry_async(
            state=state, request=request, response=response, error=error
        )


class _ConnectionErrorRetry(_OnlyWhenRepeatable, AsyncConnectionErrorRetryHandler):
    pass


class _ServerErrorRetry(_OnlyWhenRepeatable, AsyncServerErrorRetryHandler):
    pass


# Calls that close something in Slack: given up on, they leave an answer "streaming" there for good.
CLOSING_METHODS = frozenset({"chat.stopStream"})


class RateLimitRetry(AsyncRateLimitErrorRetryHandler):
    """Waits out Slack's `Retry-After` on HTTP 429 `ratelimited`, `max_retry_count` times, and up to
    `closing_retry_count` times for a closing call: `chat.stopStream` shares a Tier 2 budget (about 20
    calls a minute per workspace) with no other way to close the stream, so it waits for its turn."""

    def __init__(self, max_retry_count: int, closing_retry_count: int) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.closing_retry_count = closing_retry_count

    async def can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        retries = self.closing_retry_count if _method_of(request) in CLOSING_METHODS else self.max_retry_count
        if state.current_attempt >= retries:
            return False
        return await self._can_retry_async(state=state, request=request, response=response, error=error)


def open_slack_client(settings: Settings) -> AsyncWebClient:
    """One shared session (the SDK would open one per call otherwise); rate limits, dropped connections
    and server errors are waited out and retried by the SDK's retry handlers (calls that could show
    something twice only when it is safe: `NOT_REPEATABLE`). Call inside the event loop."""
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1000))
    return AsyncWebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        session=session,
        retry_handlers=[
            _ConnectionErrorRetry(max_retry_count=2),
            RateLimitRetry(max_retry_count=3, closing_retry_count=10),
            _ServerErrorRetry(max_retry_count=2),
        ],
    )


async def close_slack_client(slack: AsyncWebClient) -> None:
    """Closes the session `open_slack_client` opened."""
    if slack.session is not None:
        await slack.session.close()
