"""Slack message links in a question, followed only where the person asking could read them too.

A link is opened when the bot can read the conversation and the asker can too (`bot.slack.access`).
Otherwise nothing from it is read into the answer, and the answer only says the link could not be
opened, so the bot never becomes a way into a conversation someone is not in.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import parse_qs, urlsplit

from slack_sdk.web.async_client import AsyncWebClient

from bot import linear_regex
from bot.slack.access import ConversationAccess, is_public
from bot.slack.errors import SLACK_FAILURES
from bot.slack.messages import BotIdentity, ThreadMessage, is_direct_message, user_ids_in
from bot.slack.thread import NameDirectory, compact

logger = logging.getLogger(__name__)

SLACK_LINK = linear_regex.compile(
    r"https://[a-z0-9.-]*slack(?:-gov)?\.com/archives/([CGD][A-Z0-9]+)/p(\d{10})(\d{6})(?:\?[^\s|>]*)?"
)
MAX_LINKS = 3
MAX_LINKED_MESSAGES = 200


@dataclass(frozen=True)
class SlackLink:
    url: str
    channel: str
    ts: str
    thread_ts: str | None = None


@dataclass(frozen=True)
class LinkedThread:
    """A followed link: `text` is the linked thread as the model reads it, or None if it was not opened."""

    link: SlackLink
    text: str | None
    # The asker may read it, but it is private and the answer goes where others read it.
    private_elsewhere: bool = False


def links_in(text: str) -> list[SlackLink]:
    """The Slack message links in a message's raw text, first ones first, each once (callers follow at most
    `MAX_LINKS`)."""
    links: dict[str, SlackLink] = {}
    for match in SLACK_LINK.finditer(html.unescape(text)):
        query = parse_qs(urlsplit(match.group(0)).query)
        thread_ts = next(iter(query.get("thread_ts") or []), None)
        link = SlackLink(match.group(0), match.group(1), f"{match.group(2)}.{match.group(3)}", thread_ts)
        links.setdefault(f"{link.channel}:{link.ts}", link)
    return list(links.values())


class LinkFollower:
    def __init__(self, slack: AsyncWebClient, names: NameDirectory) -> None:
        self.slack = slack
        self.names = names
        self.access = ConversationAccess(slack)

    async def follow(self, link: SlackLink, asker: str, identity: BotIdentity, answered_in: str) -> LinkedThread:
        """`answered_in` is the conversation the answer goes to: a private conversation's words are carried
        only into itself or into the asker's DM with the bot, never to an audience that may not read it."""
        try:
            channel = await self.access.conversation(link.channel)
            if not await self.access.can_read(asker, link.channel, channel):
                logger.info("link not followed: the asker is not in that conversation", extra={"user": asker})
                return LinkedThread(link, None)
            if not is_public(channel) and answered_in != link.channel and not is_direct_message(answered_in):
                logger.info("link not followed: private, and the answer goes elsewhere", extra={"user": asker})
                return LinkedThread(link, None, private_elsewhere=True)
            response = await self.slack.conversations_replies(
                channel=link.channel, ts=link.thread_ts or link.ts, limit=MAX_LINKED_MESSAGES
            )
        except SLACK_FAILURES as error:
            logger.info("link not followed", extra={"error": repr(error)})
            return LinkedThread(link, None)
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
