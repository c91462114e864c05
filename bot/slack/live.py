"""Copies a model's growing answer into Slack as it is written, paced to about one Slack call a second."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from bot.slack.errors import SLACK_FAILURES
from bot.slack.rendering import CardText
from bot.slack.reply import SlackReply

logger = logging.getLogger(__name__)


class LiveAnswer:
    """Shows what the model wrote at most once per `interval_seconds`, so a long answer costs a few calls.

    The first text goes out as soon as it arrives; after that, text gathers for `interval_seconds`
    (Slack advises about one update per second per message) and goes out as one larger append. Text is
    handed to the reply the moment it arrives, so none is held here: what arrives after the last paced
    send goes out with the reply's closing call. A tool call's card (a `CardText`) is paced with the text,
    in its place among it.
    """

    def __init__(self, reply: SlackReply, interval_seconds: float) -> None:
        self.reply = reply
        self.interval_seconds = interval_seconds

    async def relay(self, deltas: AsyncIterator[str]) -> None:
        """Returns when the stream ends; re-raises the stream's error after showing what came before it."""
        arrived = asyncio.Event()

        async def read() -> None:
            async for text in deltas:
                if isinstance(text, CardText):
                    self.reply.add_task(text)
                else:
                    self.reply.add(text)
                arrived.set()

        reader = asyncio.create_task(read())
        try:
            while not reader.done():
                waiting = asyncio.ensure_future(arrived.wait())
                await asyncio.wait({reader, waiting}, return_when=asyncio.FIRST_COMPLETED)
                waiting.cancel()
                arrived.clear()
                await self._flush_or_finish_reading(reader)
                if not reader.done():
                    await asyncio.wait({reader}, timeout=self.interval_seconds)
            reader.result()
        finally:
            if not reader.done():
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader

    async def _flush_or_finish_reading(self, reader: asyncio.Task[None]) -> None:
        """If Slack fails for good, the model is still heard out, so the whole answer reaches the log."""
        try:
            await self.reply.flush()
        except SLACK_FAILURES:
            await asyncio.wait({reader})
            if not reader.cancelled() and reader.exception() is not None:
                logger.warning("the model failed too", extra={"error": str(reader.exception())})
            raise
