"""Decoration: the thread's "is thinking…" status, else an :eyes: reaction, to show the bot is working.

Decoration never costs an answer: any failure of these calls (a Slack error, a dropped connection, a
timeout) is logged and the answer goes on, and each call gets `DECORATION_SECONDS` at most, so a hung
call cannot hold the answer up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Literal

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.notices import LOADING_MESSAGES, THINKING_STATUS
from bot.slack.errors import SLACK_FAILURES, slack_error_code
from bot.slack.reply import SlackCapabilities

logger = logging.getLogger(__name__)

DECORATION_SECONDS = 2.0
Outcome = Literal["done", "refused", "failed"]


class ThreadStatus:
    def __init__(
        self, client: AsyncWebClient, capabilities: SlackCapabilities, channel: str, thread_ts: str, message_ts: str
    ) -> None:
        self.client = client
        self.capabilities = capabilities
        self.channel = channel
        self.thread_ts = thread_ts
        self.message_ts = message_ts
        self.reacted = False
        self.status_shown = False

    async def show(self, status: str = THINKING_STATUS) -> None:
        if self.reacted:
            return
        method = "assistant.threads.setStatus"
        if self.capabilities.allows(method, self.channel):
            # Slack rotates the loading messages in place of the status while the model thinks.
            loading = list(LOADING_MESSAGES) if status == THINKING_STATUS else None
            outcome = await self._try(
                method,
                lambda: self.client.assistant_threads_setStatus(
                    channel_id=self.channel, thread_ts=self.thread_ts, status=status, loading_messages=loading
                ),
            )
            if outcome != "refused":
                self.status_shown = True
                return
        outcome = await self._try(
            "reactions.add",
            lambda: self.client.reactions_add(channel=self.channel, timestamp=self.message_ts, name="eyes"),
        )
        # A reaction whose answer was lost may still have landed: it is taken back all the same.
        self.reacted = outcome != "refused"

    async def clear(self, replied: bool = True) -> None:
        """The status clears itself when the bot replies; without a reply it is cleared here (else it
        would show for two minutes). A reaction is always taken back."""
        if self.status_shown and not replied:
            await self._try(
                "assistant.threads.setStatus",
                lambda: self.client.assistant_threads_setStatus(
                    channel_id=self.channel, thread_ts=self.thread_ts, status=""
                ),
            )
        if self.reacted:
            await self._try(
                "reactions.remove",
                lambda: self.client.reactions_remove(channel=self.channel, timestamp=self.message_ts, name="eyes"),
            )

    async def _try(self, method: str, call: Callable[[], Awaitable[AsyncSlackResponse]]) -> Outcome:
        """Makes the call within `DECORATION_SECONDS`; "refused" means Slack said no (another way may work)."""
        try:
            async with asyncio.timeout(DECORATION_SECONDS):
                await call()
        except SlackApiError as error:
            logger.info("decoration refused", extra={"method": method, "error": slack_error_code(error)})
            self.capabilities.learn(method, self.channel, error)
            return "refused"
        except SLACK_FAILURES as error:
            logger.warning("decoration failed; answering without it", extra={"method": method, "error": repr(error)})
            return "failed"
        return "done"
