"""Slack message links in a question, followed only where everyone who reads the answer could read them too.

A link is opened when the bot can read the conversation, and everyone who reads the conversation the
answer goes to (the asker first) may read it too (`bot.slack.access`). Otherwise nothing from it is read
into the answer, and the answer only says why the link was not opened, so the bot never becomes a way
into a conversation someone is not in.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import parse_qs

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.access import Audience, ConversationAccess, Verdict
from bot.slack.errors import SLACK_FAILURES
from bot.slack.messages import BotIdentity, ThreadMessage, user_ids_in
from bot.slack.thread import NameDirectory, compact

logger = logging.getLogger(__name__)

# Only Slack's own message links: https://<workspace>.slack.com/archives/<conversation>/p<ts>, optionally
# `?thread_ts=…&cid=…`, standing on their own (at the start, after a space, `<` or `(`). Nothing else of
# the text around them is kept: a link is rebuilt from its parts (`SlackLink.url`), so no outside text
# reaches a notice or the model through it.
SLACK_LINK = re.compile(
    r"(?<![^\s<(])https://((?:[a-z0-9-]+\.)*slack(?:-gov)?\.com)/archives/([CGD][A-Z0-9]+)/p(\d{10})(\d{6})"
    r"(?:\?([A-Za-z0-9_.=&%-]*))?(?![\w/])",
    re.IGNORECASE,
)
THREAD_TS = re.compile(r"\d{10}\.\d{6}")
MAX_LINKS = 3
MAX_LINKED_MESSAGES = 200


@dataclass(frozen=True)
class SlackLink:
    host: str
    channel: str
    ts: str
    thread_ts: str | None = None

    @property
    def url(self) -> str:
        """The link as Slack would write it, from its checked parts only."""
        query = f"?thread_ts={self.thread_ts}&cid={self.channel}" if self.thread_ts else ""
        return f"https://{self.host}/archives/{self.channel}/p{self.ts.replace('.', '')}{query}"


@dataclass(frozen=True)
class LinkedThread:
    """A followed link: `text` is the linked thread as the model reads it, or None if it was not opened."""

    link: SlackLink
    text: str | None
    # Why it was not opened, when it was not: the rule of `bot.slack.access`, or UNREADABLE.
    verdict: Verdict = Verdict.ALLOWED


def links_in(text: str) -> list[SlackLink]:
    """The Slack message links in a message's raw text, first ones first, each once (callers follow at most
    `MAX_LINKS`)."""
    links: dict[str, SlackLink] = {}
    for match in SLACK_LINK.finditer(html.unescape(text)):
        host, channel, seconds, micros, query = match.groups()
        thread_ts = next(iter(parse_qs((query or "").rstrip(".")).get("thread_ts") or []), None)
        if thread_ts is not None and not THREAD_TS.fullmatch(thread_ts):
            thread_ts = None
        link = SlackLink(host.lower(), channel.upper(), f"{seconds}.{micros}", thread_ts)
        links.setdefault(f"{link.channel}:{link.ts}", link)
    return list(links.values())


class LinkFollower:
    def __init__(self, slack: AsyncWebClient, names: NameDirectory, access: ConversationAccess | None = None) -> None:
        self.slack = slack
        self.names = names
        self.access = access or ConversationAccess(slack)

    async def follow_all(
        self, links: Sequence[SlackLink], asker: str, identity: BotIdentity, answered_in: str
    ) -> list[LinkedThread]:
        """`answered_in` is the conversation the answer goes to: a link's words are carried there only if
        everyone who reads it may read the linked conversation (`ConversationAccess.may_carry`)."""
        if not links:
            return []
        audience = await self.access.audience(answered_in, asker)
        return list(await asyncio.gather(*(self.follow(link, audience, identity) for link in links)))

    async def follow(self, link: SlackLink, audience: Audience, identity: BotIdentity) -> LinkedThread:
        try:
            channel = await self.access.conversation(link.channel)
        except SLACK_FAILURES as error:
            logger.info("link not followed", extra={"error": repr(error)})
            return LinkedThread(link, None, Verdict.UNREADABLE)
        verdict = await self.access.may_carry(link.channel, audience, channel)
        if verdict is not Verdict.ALLOWED:
            logger.info(
                "link not followed", extra={"user": audience.asker, "channel": link.channel, "reason": verdict.value}
            )
            return LinkedThread(link, None, verdict)
        try:
            response = await self.slack.conversations_replies(
                channel=link.channel, ts=link.thread_ts or link.ts, limit=MAX_LINKED_MESSAGES
            )
        except SLACK_FAILURES as error:
            logger.info("link not followed", extra={"error": repr(error)})
            return LinkedThread(link, None, Verdict.UNREADABLE)
        raw = [compact(message) for message in response.get("messages") or []]
        messages = [message for message in map(partial(ThreadMessage.from_slack, identity=identity), raw) if message]
        names = await self.names.names(user_ids_in(messages) - {identity.user_id})
        lines = []
        for message in messages:
            speaker = "you (the assistant)" if message.by_this_bot else names.get(message.author_id, message.author_id)
            marker = " (the linked message)" if message.ts == link.ts and len(messages) > 1 else ""
            lines.append(f"{speaker}{marker}: {message.readable(identity.user_id, names)}")
        where = _where(channel)
        text = f'<slack_thread link="{link.url}" where="{where}">\n' + "\n\n".join(lines) + "\n</slack_thread>"
        return LinkedThread(link, text)


def _where(channel: Mapping[str, Any]) -> str:
    if channel.get("is_im"):
        return "a direct message"
    if channel.get("is_mpim"):
        return "a group direct message"
    name = str(channel.get("name") or channel.get("id") or "a channel").replace('"', "'")
    return f"#{name}"
