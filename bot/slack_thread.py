"""Reads a thread from Slack, the source of truth, and the names of the people in it."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

logger = logging.getLogger(__name__)

REPLIES_PAGE_SIZE = 200


async def fetch_thread(client: AsyncWebClient, channel: str, thread_ts: str, up_to_ts: str) -> list[dict[str, Any]]:
    """Every message of the thread up to and including `up_to_ts`, oldest first (all pages)."""
    messages: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        response = await client.conversations_replies(
            channel=channel,
            ts=thread_ts,
            latest=up_to_ts,
            inclusive=True,
            limit=REPLIES_PAGE_SIZE,
            cursor=cursor,
        )
        messages.extend(response.get("messages") or [])
        cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
        if not response.get("has_more") or not cursor:
            break
    unique = {str(message.get("ts")): message for message in messages if float(message.get("ts", 0)) <= float(up_to_ts)}
    return sorted(unique.values(), key=lambda message: float(message["ts"]))


class NameDirectory:
    """Display names by user id, each looked up once (`users.info`) and kept in a bounded cache."""

    def __init__(self, client: AsyncWebClient, max_entries: int = 10_000) -> None:
        self.client = client
        self.max_entries = max_entries
        self._names: OrderedDict[str, str] = OrderedDict()

    async def names(self, user_ids: Iterable[str]) -> dict[str, str]:
        wanted = set(user_ids)
        missing = [user_id for user_id in wanted if user_id not in self._names]
        if missing:
            looked_up = await asyncio.gather(*(self._look_up(user_id) for user_id in missing))
            for user_id, name in zip(missing, looked_up, strict=True):
                if name is not None:
                    self._remember(user_id, name)
        found: dict[str, str] = {}
        for user_id in wanted:
            if user_id in self._names:
                self._names.move_to_end(user_id)
                found[user_id] = self._names[user_id]
        return found

    async def _look_up(self, user_id: str) -> str | None:
        try:
            response = await self.client.users_info(user=user_id)
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as error:
            logger.warning("could not look up a name", extra={"user": user_id, "error": repr(error)})
            return None
        user = response.get("user") or {}
        profile = user.get("profile") or {}
        name = profile.get("display_name") or profile.get("real_name") or user.get("real_name") or user.get("name")
        return str(name) if name else None

    def _remember(self, user_id: str, name: str) -> None:
        self._names[user_id] = name
        while len(self._names) > self.max_entries:
            self._names.popitem(last=False)
