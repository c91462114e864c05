"""Per-channel instructions, set by anyone who can edit a channel's description in Slack.

A line of the channel description (its "purpose") that starts with `Assistant:` is added to the system
prompt for that channel, e.g. `Assistant: answer in French, and keep it short.` No redeploy, no settings:
whoever manages the channel manages the bot's manner there.
"""

from __future__ import annotations

import logging
import re
import time
from functools import partial

from slack_sdk.web.async_client import AsyncWebClient

from bot.single_flight import SingleFlight
from bot.slack.errors import SLACK_FAILURES
from bot.slack.messages import is_direct_message

logger = logging.getLogger(__name__)

INSTRUCTION_LINE = re.compile(r"^\s*assistant\s*:\s*(.+)$", re.IGNORECASE | re.MULTILINE)
CACHE_SECONDS = 600.0
# After a failed read (say, a missing channels:read scope), wait this long before trying again.
RETRY_SECONDS = 60.0


def instructions_in(description: str) -> str | None:
    found = [match.strip() for match in INSTRUCTION_LINE.findall(description) if match.strip()]
    return " ".join(found) or None


class ChannelPrompts:
    """Reads each channel's description at most every ten minutes, or again as soon as it changes."""

    def __init__(self, client: AsyncWebClient, max_channels: int = 10_000) -> None:
        self.client = client
        self.max_channels = max_channels
        self._cache: dict[str, tuple[float, str | None]] = {}
        self._reads: SingleFlight[str | None] = SingleFlight()
        # Bumped on every change: a read that started before a change must not be cached after it.
        self._changes: dict[str, int] = {}

    async def instructions(self, channel: str) -> str | None:
        if is_direct_message(channel):
            return None
        cached = self._cache.get(channel)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        return await self._reads.run(channel, partial(self._read, channel, cached))

    async def _read(self, channel: str, cached: tuple[float, str | None] | None) -> str | None:
        changes = self._changes.get(channel, 0)
        try:
            response = await self.client.conversations_info(channel=channel)
        except SLACK_FAILURES as error:
            logger.warning("could not read the channel description", extra={"channel": channel, "error": repr(error)})
            found = cached[1] if cached else None
            self._remember(channel, found, RETRY_SECONDS, changes)
            return found
        purpose = ((response.get("channel") or {}).get("purpose") or {}).get("value") or ""
        found = instructions_in(str(purpose))
        self._remember(channel, found, CACHE_SECONDS, changes)
        return found

    def _remember(self, channel: str, instructions: str | None, seconds: float, changes: int) -> None:
        if self._changes.get(channel, 0) != changes:
            return
        if len(self._cache) >= self.max_channels:
            self._cache.clear()
        self._cache[channel] = (time.monotonic() + seconds, instructions)

    def forget(self, channel: str) -> None:
        self._cache.pop(channel, None)
        self._changes[channel] = self._changes.get(channel, 0) + 1
        if len(self._changes) >= self.max_channels:
            self._changes.clear()


def system_prompt_for(base: str, instructions: str | None) -> str:
    if not instructions:
        return base
    return f"{base}\n\nInstructions for this channel, from its description: {instructions}"
