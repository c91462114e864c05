"""Reads a thread from Slack, the source of truth, through a cache that only ever saves work.

A cached thread records how far it is complete (`covered_until`). A later turn asks Slack only for
what came after that, so restarts, evictions and turns answered by another process cost a longer read,
never a wrong history. Edits and deletions in a thread drop its cached copy.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from functools import partial
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.single_flight import SingleFlight
from bot.slack.errors import SLACK_FAILURES
from bot.slack.messages import SlackFile
from bot.store.base import Store

logger = logging.getLogger(__name__)

REPLIES_PAGE_SIZE = 200
# Bumped whenever what `compact` keeps changes meaning, so a cached copy in the old shape is read afresh.
CACHE_FORMAT = 2
# The fields the conversation is built from; everything else Slack sends is left out of the cache.
KEPT_FIELDS = ("ts", "user", "bot_id", "text", "subtype", "hidden", "username")


def thread_key(channel: str, thread_ts: str) -> str:
    return f"{channel}:{thread_ts}"


def files_key(thread_key: str) -> str:
    """The cache entry of a thread's files, next to the thread's own."""
    return f"{thread_key}:files"


def compact(raw: Mapping[str, Any]) -> dict[str, Any]:
    message = {field: raw[field] for field in KEPT_FIELDS if raw.get(field) is not None}
    # A Markdown answer's source is in its `markdown` blocks, as written (Slack escapes nothing there);
    # `text` holds only a fallback in Slack's escaped markup. Where Slack returns no `markdown` block,
    # the fallback is all there is.
    markdown = [block.get("text") for block in raw.get("blocks") or [] if block.get("type") == "markdown"]
    if any(markdown):
        message["markdown"] = "\n\n".join(str(text) for text in markdown if text)
    if raw.get("files"):
        message["files"] = [SlackFile.from_slack(item).as_json() for item in raw["files"] if isinstance(item, dict)]
    if (raw.get("bot_profile") or {}).get("name"):
        message["bot_profile"] = {"name": raw["bot_profile"]["name"]}
    return message


class ThreadReader:
    def __init__(self, client: AsyncWebClient, store: Store) -> None:
        self.client = client
        self.store = store

    async def read(
        self, channel: str, thread_ts: str, question: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Every message of the thread so far, oldest first.

        A `question` that starts its own thread is all of the thread that matters to its answer, so
        Slack is not asked (`conversations.replies` allows about 50 calls a minute per workspace); the
        thread is cached as complete up to it, so a follow-up asks only for what came after.
        Call it while holding the thread's lock, so that cache updates of one thread do not race.
        """
        key = thread_key(channel, thread_ts)
        cached = await self.store.get_thread(key)
        if cached is None and question is not None and str(question.get("ts")) == thread_ts:
            opening = [compact(question)]
            await self.store.put_thread(key, _encode(thread_ts, opening))
            return opening
        merged = await self._merge_newer(channel, thread_ts, cached)
        if merged:
            await self.store.put_thread(key, _encode(merged[-1]["ts"], merged))
        return merged

    async def peek(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """The whole thread as `read` returns it, leaving the cache as it was: safe without the thread's lock."""
        return await self._merge_newer(channel, thread_ts, await self.store.get_thread(thread_key(channel, thread_ts)))

    async def _merge_newer(self, channel: str, thread_ts: str, cached: str | None) -> list[dict[str, Any]]:
        """The cached copy with what Slack has after it, oldest first."""
        covered_until, messages = _decode(cached)
        newer = await self._fetch(channel, thread_ts, oldest=covered_until)
        by_ts = {message["ts"]: message for message in messages}
        by_ts.update((message["ts"], message) for message in newer)
        return sorted(by_ts.values(), key=lambda message: float(message["ts"]))

    async def forget(self, channel: str, thread_ts: str) -> None:
        """Drops the cached thread and what was read from its files."""
        key = thread_key(channel, thread_ts)
        await self.store.forget_thread(key)
        await self.store.forget_thread(files_key(key))

    async def _fetch(self, channel: str, thread_ts: str, *, oldest: str | None) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            response = await self.client.conversations_replies(
                channel=channel,
                ts=thread_ts,
                oldest=oldest,
                inclusive=True,
                limit=REPLIES_PAGE_SIZE,
                cursor=cursor,
            )
            messages.extend(compact(message) for message in response.get("messages") or [])
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not response.get("has_more") or not cursor:
                return messages


def _encode(covered_until: str, messages: list[dict[str, Any]]) -> str:
    return json.dumps({"format": CACHE_FORMAT, "covered_until": covered_until, "messages": messages})


def _decode(cached: str | None) -> tuple[str | None, list[dict[str, Any]]]:
    data = json.loads(cached) if cached else {}
    if data.get("format") != CACHE_FORMAT:
        return None, []
    return str(data["covered_until"]), list(data["messages"])


class NameDirectory:
    """Display names by user id, each looked up once (`users.info`) and kept in a bounded cache."""

    def __init__(self, client: AsyncWebClient, max_entries: int = 10_000) -> None:
        self.client = client
        self.max_entries = max_entries
        self._names: OrderedDict[str, str] = OrderedDict()
        self._lookups: SingleFlight[str | None] = SingleFlight()

    async def names(self, user_ids: Iterable[str]) -> dict[str, str]:
        wanted = set(user_ids)
        missing = [user_id for user_id in wanted if user_id not in self._names]
        if missing:
            looked_up = await asyncio.gather(
                *(self._lookups.run(user_id, partial(self._look_up, user_id)) for user_id in missing)
            )
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
        except SLACK_FAILURES as error:
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
