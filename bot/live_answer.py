"""Copies a model's growing answer into Slack as it is written: paced, split to Slack's limits, ended honestly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from bot.clients import SLACK_FAILURES
from bot.rendering import MessageSplitter
from bot.slack_reply import SlackReply

logger = logging.getLogger(__name__)


class LiveAnswer:
    """Sends what the model wrote at most once per `interval_seconds`, so a long answer costs a few calls.

    The first text goes out as soon as it arrives; after that, text gathers for `interval_seconds`
    (Slack advises about one update per second per message) and goes out as one larger append.
    """

    def __init__(self, reply: SlackReply, interval_seconds: float, splitter: MessageSplitter | None = None) -> None:
        self.reply = reply
        self.interval_seconds = interval_seconds
        self.splitter = splitter or MessageSplitter()
        self.shown = False
        # Text that arrived after the last paced send; it goes out with the closing call.
        self.pending = ""

    async def relay(self, deltas: AsyncIterator[str]) -> None:
        """Returns when the stream ends; re-raises the stream's error after sending what came before it."""
        buffer: list[str] = []
        arrived = asyncio.Event()

        async def read() -> None:
            async for text in deltas:
                buffer.append(text)
                arrived.set()

        reader = asyncio.create_task(read())
        try:
            while not reader.done():
                waiting = asyncio.ensure_future(arrived.wait())
                await asyncio.wait({reader, waiting}, return_when=asyncio.FIRST_COMPLETED)
                waiting.cancel()
                arrived.clear()
                # Take the text before sending: more arrives while Slack answers, for the next send.
                text = "".join(buffer)
                buffer.clear()
                await self._send_or_finish_reading(text, reader)
                if not reader.done():
                    await asyncio.wait({reader}, timeout=self.interval_seconds)
            self.pending += "".join(buffer)
            self.shown = self.shown or bool(self.pending)
            reader.result()
        finally:
            if not reader.done():
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader

    async def _send_or_finish_reading(self, text: str, reader: asyncio.Task[None]) -> None:
        """If Slack fails for good, the model is still heard out, so the whole answer reaches the log."""
        try:
            await self._send(text)
        except SLACK_FAILURES:
            await asyncio.wait({reader})
            if not reader.cancelled() and reader.exception() is not None:
                logger.warning("the model failed too", extra={"error": str(reader.exception())})
            raise

    async def finish(self, note: str | None = None) -> None:
        """Sends the rest, then `note` (why the answer ends where it does), and closes the last message."""
        tail = f"\n\n{note}" if note and self.shown else (note or "")
        text, self.pending = self.pending + tail, ""
        await self.reply.finish(self.splitter.feed(text, final=True))

    async def _send(self, text: str) -> None:
        for segment in self.splitter.feed(text):
            if segment.text:
                self.shown = True
            await self.reply.write(segment)
