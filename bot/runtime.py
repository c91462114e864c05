"""Builds the running bot from its settings: clients, store, answerer, Slack app and web routes."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
import httpx
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot import __version__
from bot.answerer import Answerer
from bot.model_client import ModelClient, RetryPolicy
from bot.settings import Settings
from bot.slack_app import build_slack_app
from bot.slack_reply import SlackCapabilities
from bot.slack_thread import NameDirectory, ThreadReader
from bot.store import MemoryStore, RedisStore, Store
from bot.tasks import TaskTracker

EVENTS_PATH = "/slack/events"


@dataclass
class Runtime:
    settings: Settings
    slack_session: aiohttp.ClientSession
    model_http: httpx.AsyncClient
    store: Store
    tasks: TaskTracker
    slack_app: AsyncApp

    @classmethod
    async def start(cls, settings: Settings) -> Runtime:
        """Opens the shared connections; call from inside the running event loop."""
        slack_session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200))
        slack = AsyncWebClient(
            token=settings.slack_bot_token,
            base_url=settings.slack_api_url,
            session=slack_session,
            retry_handlers=[
                AsyncConnectionErrorRetryHandler(max_retry_count=2),
                AsyncRateLimitErrorRetryHandler(max_retry_count=3),
                AsyncServerErrorRetryHandler(max_retry_count=2),
            ],
        )
        model_http = httpx.AsyncClient(
            timeout=httpx.Timeout(
                connect=settings.model_connect_timeout_seconds,
                read=settings.model_read_timeout_seconds,
                write=settings.model_read_timeout_seconds,
                pool=settings.model_timeout_seconds,
            ),
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=200),
        )
        model = ModelClient(
            model_http,
            base_url=settings.inference_url,
            api_key=settings.inference_key,
            model_id=settings.inference_model_id,
            timeout_seconds=settings.model_timeout_seconds,
            retry=RetryPolicy(max_attempts=settings.model_max_attempts),
        )
        store: Store
        if settings.redis_url:
            store = RedisStore.from_url(settings.redis_url, lock_seconds=settings.model_timeout_seconds + 60)
        else:
            store = MemoryStore(settings.thread_cache_max_entries, settings.thread_cache_max_bytes)
        tasks = TaskTracker()
        threads = ThreadReader(slack, store)
        answerer = Answerer(
            slack=slack,
            model=model,
            store=store,
            threads=threads,
            names=NameDirectory(slack),
            capabilities=SlackCapabilities(streaming=settings.slack_streaming),
            settings=settings,
        )
        slack_app = build_slack_app(settings, slack, answerer, threads, tasks)
        return cls(settings, slack_session, model_http, store, tasks, slack_app)

    def web_app(self) -> web.Application:
        app = web.Application()
        app.add_routes([web.post(EVENTS_PATH, self._slack_events), web.get("/health", self._health)])
        return app

    async def close(self, grace_seconds: float = 0.0) -> None:
        """Lets answers in flight finish for up to `grace_seconds`, then closes every connection."""
        for task in await self.tasks.wait(within_seconds=grace_seconds):
            task.cancel()
        await self.tasks.wait()
        await self.store.close()
        await self.model_http.aclose()
        await self.slack_session.close()

    async def _slack_events(self, request: web.Request) -> web.Response:
        try:
            bolt_request = await to_bolt_request(request)
        except ValueError:
            # Bolt parses the body before checking the signature; a body it cannot parse is refused as such.
            return web.Response(status=400, text="malformed request body")
        bolt_response = await self.slack_app.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "version": __version__})
