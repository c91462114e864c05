"""Builds the running bot from its settings: clients, store, answerer, Slack app and web routes."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import __version__
from bot.answer.answerer import Answerer
from bot.answer.channel_prompts import ChannelPrompts
from bot.app.interactivity import register_catch_up, register_feedback, register_tool_approval
from bot.app.listeners import build_slack_app
from bot.app.signature import SignatureWarnings
from bot.app.thread_buttons import register_thread_buttons
from bot.app.welcome import request_url, welcome_page
from bot.features.agent_tab import SuggestedPrompts
from bot.features.catch_up import CatchUp, CatchUpFollowUps, SourceReader
from bot.features.feedback_view import feedback_part
from bot.features.usage_view import usage_part
from bot.files.context import FileContext, file_context
from bot.model.client import ModelClient
from bot.model.opening import open_model_client
from bot.settings import Settings
from bot.shutdown import NOTICE_SECONDS
from bot.slack.access import ConversationAccess
from bot.slack.client import close_slack_client, open_slack_client
from bot.slack.reply import SlackCapabilities
from bot.slack.thread import NameDirectory, ThreadReader
from bot.store.base import Store
from bot.store.memory import MemoryStore
from bot.store.redis_queue import RedisQueue
from bot.store.redis_store import RedisStore
from bot.tasks import TaskTracker
from bot.tools.approval import ApprovalDesk
from bot.tools.kit import ToolKit
from bot.tools.mcp import McpTools
from bot.work.consumer import Consumer
from bot.work.intake import Intake

logger = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"


@dataclass
class Runtime:
    settings: Settings
    slack: AsyncWebClient
    model: ModelClient
    store: Store
    tasks: TaskTracker
    answerer: Answerer
    slack_app: AsyncApp
    files: FileContext
    mcp: McpTools
    signatures: SignatureWarnings = field(default_factory=SignatureWarnings)
    # The durable queue's reader, with REDIS_URL (bot/work/).
    consumer: Consumer | None = None

    @classmethod
    async def start(cls, settings: Settings, *, worker: bool = False) -> Runtime:
        """Opens the shared connections; call from inside the running event loop. A `worker` answers queued
        questions only; a web process answers them too unless WEB_ANSWERS is false."""
        slack = open_slack_client(settings)
        model = open_model_client(settings)
        store: Store
        if settings.redis_url:
            store = RedisStore.from_settings(settings)
        else:
            store = MemoryStore(settings.thread_cache_max_entries, settings.thread_cache_max_bytes)
        tasks = TaskTracker()
        threads = ThreadReader(slack, store)
        channel_prompts = ChannelPrompts(slack)
        names = NameDirectory(slack)
        sources = SourceReader(slack, threads, names)
        # One rule for what may go where, with one cache of who is a guest.
        access = ConversationAccess(slack)
        capabilities = SlackCapabilities(streaming=settings.slack_streaming)
        files = file_context(settings, slack, store, names, access)
        # Each server's tools listed now (a server down only loses its own, and is tried again later).
        mcp = McpTools(settings.mcp_servers, settings.secrets)
        await mcp.start()
        desk = ApprovalDesk(slack, store)
        answerer = Answerer(
            slack=slack,
            model=model,
            store=store,
            threads=threads,
            names=names,
            channel_prompts=channel_prompts,
            capabilities=capabilities,
            settings=settings,
            context=CatchUpFollowUps(store, sources, settings, access),
            files=files,
            tools=ToolKit(settings, slack, access, desk, mcp),
        )
        durable = _durable_work(store, answerer, tasks, answering=worker or settings.web_answers)
        slack_app = build_slack_app(
            settings,
            slack,
            answerer,
            channel_prompts,
            tasks,
            admin_parts=[usage_part(answerer.usage), feedback_part(answerer.feedback, slack)],
            suggested_prompts=SuggestedPrompts(slack, settings.suggested_prompts, capabilities),
            intake=durable.intake if durable else None,
        )
        catch_up = CatchUp(
            slack=slack, answerer=answerer, store=store, reader=sources, settings=settings, access=access
        )
        register_catch_up(slack_app, catch_up, tasks)
        register_feedback(slack_app, answerer.feedback, slack, tasks)
        register_thread_buttons(slack_app, answerer.following, answerer.feedback, slack, settings, tasks)
        register_tool_approval(slack_app, desk, slack, tasks)
        if durable:
            durable.start()
        return cls(settings, slack, model, store, tasks, answerer, slack_app, files, mcp, consumer=durable)

    def web_app(self) -> web.Application:
        app = web.Application()
        app.add_routes(
            [
                web.post(EVENTS_PATH, self._slack_events),
                web.get("/health", self._health),
                web.get("/", self._welcome),
            ]
        )
        return app

    async def close(self, grace_seconds: float = 0.0) -> None:
        """Lets answers in flight finish for up to `grace_seconds`, gives the rest `NOTICE_SECONDS` to say
        they were cut off, then closes every connection (see bot.shutdown for the budget). A cancelled
        answer kills the worker parsing its file; whatever is left is killed here, never waited on. Queued
        answers are handed back at once instead: a live process answers them in full."""
        if self.consumer is not None:
            started = time.monotonic()
            await self.consumer.stop(within_seconds=NOTICE_SECONDS)
            # Within the same budget: the time handing back took comes off the grace of the rest.
            grace_seconds = max(0.0, grace_seconds - (time.monotonic() - started))
        for task in await self.tasks.wait(within_seconds=grace_seconds):
            task.cancel()
        left = await self.tasks.wait(within_seconds=NOTICE_SECONDS)
        if left:
            logger.warning("answers still busy after their restart notices; closing anyway", extra={"tasks": len(left)})
        await self.files.close()
        await self.store.close()
        await self.mcp.close()
        await self.model.http.aclose()
        await close_slack_client(self.slack)

    async def _slack_events(self, request: web.Request) -> web.Response:
        try:
            bolt_request = await to_bolt_request(request)
        except ValueError:
            # Bolt parses the body before checking the signature; a body it cannot parse is refused as such.
            return web.Response(status=400, text="malformed request body")
        bolt_response = await self.slack_app.async_dispatch(bolt_request)
        if bolt_response.status == 401:  # in HTTP mode only Bolt's signature check answers 401
            self.signatures.refused(request.headers)
        return await to_aiohttp_response(bolt_response)

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "version": __version__})

    async def _welcome(self, request: web.Request) -> web.Response:
        """The page app.json's success_url opens after a deploy (bot.app.welcome)."""
        url = request_url(request.host, request.headers.get("X-Forwarded-Proto"), request.scheme, EVENTS_PATH)
        page = welcome_page(self.settings, url, __version__)
        return web.Response(text=page, content_type="text/html", headers={"Cache-Control": "no-store"})


def _durable_work(store: Store, answerer: Answerer, tasks: TaskTracker, *, answering: bool) -> Consumer | None:
    """The question queue in Redis and this process's reader of it; none without REDIS_URL."""
    if not isinstance(store, RedisStore):
        return None
    queue = RedisQueue(store.client, store.guard)
    return Consumer(queue, answerer, Intake(queue), store, tasks, answering=answering)
