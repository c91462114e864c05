"""Runs the bot until SIGTERM or SIGINT: HTTP on $PORT, or Socket Mode when an app token is set; or, as a
worker process, answers the questions queued in Redis."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from bot import __version__
from bot.app.runtime import EVENTS_PATH, Runtime
from bot.settings import Settings
from bot.shutdown import LISTENER_CLOSE_SECONDS

logger = logging.getLogger(__name__)


async def serve(settings: Settings) -> None:
    stop = _stop_on_signals()
    runtime = await Runtime.start(settings)
    try:
        if settings.socket_mode:
            await serve_socket_mode(runtime, stop)
        else:
            await _serve_http(runtime, stop)
    finally:
        # Heroku sends SIGKILL 30 s after SIGTERM: bot.shutdown budgets the steps to fit.
        await runtime.close(grace_seconds=settings.shutdown_grace_seconds)
        logger.info("stopped")


async def work(settings: Settings) -> None:
    """`python -m bot worker`: answers the questions web processes queue (REDIS_URL), until SIGTERM."""
    stop = _stop_on_signals()
    runtime = await Runtime.start(settings, worker=True)
    try:
        logger.info("answering queued questions", extra={"version": __version__, "mode": "worker"})
        await stop.wait()
        _log_stopping(runtime)
    finally:
        await runtime.close(grace_seconds=settings.shutdown_grace_seconds)
        logger.info("stopped")


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, stop.set)
    return stop


async def _serve_http(runtime: Runtime, stop: asyncio.Event) -> None:
    # Requests are acknowledged at once, so closing the listener needs no long wait.
    runner = web.AppRunner(runtime.web_app(), access_log=None, shutdown_timeout=LISTENER_CLOSE_SECONDS)
    await runner.setup()
    site = web.TCPSite(runner, host="0.0.0.0", port=runtime.settings.port)
    await site.start()
    logger.info(
        "listening", extra={"port": runtime.settings.port, "path": EVENTS_PATH, "version": __version__, "mode": "http"}
    )
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        _log_stopping(runtime)


async def serve_socket_mode(runtime: Runtime, stop: asyncio.Event) -> None:
    handler = AsyncSocketModeHandler(
        runtime.slack_app, app_token=runtime.settings.slack_app_token, web_client=runtime.slack_app.client
    )
    try:
        # slack_sdk retries a failed connection (a refused app token, no network) for ever: a stop must still
        # end the start, or Ctrl-C would do nothing while it retries.
        if await _connected_before_stop(handler, stop):
            logger.info("connected", extra={"mode": "socket", "version": __version__})
            await stop.wait()
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]  # untyped in slack_bolt
        _log_stopping(runtime)


async def _connected_before_stop(handler: AsyncSocketModeHandler, stop: asyncio.Event) -> bool:
    connecting = asyncio.ensure_future(handler.connect_async())  # type: ignore[no-untyped-call]  # untyped in slack_bolt
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait((connecting, stopping), return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if not connecting.done():
        connecting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await connecting
        return False
    connecting.result()
    return True


def _log_stopping(runtime: Runtime) -> None:
    logger.info(
        "stopped taking new events; finishing answers in flight",
        extra={"answers_in_flight": len(runtime.tasks), "grace_s": runtime.settings.shutdown_grace_seconds},
    )
