"""`search_slack`: Slack's Real-time Search API (`assistant.search.context`), through the access rule.

Called with the bot token and the `action_token` of the message being answered, so Slack searches only
what the asker may see; offered only when the event brought one. With a bot token Slack searches public
channels alone (`channel_types=public_channel`; private, IM and MPIM search take user-token scopes),
and every hit still passes `ConversationAccess.may_carry` into the thread being answered: a hit from a
conversation that someone reading the thread may not read never reaches the model or Slack. Slack
limits the method to about 10 calls a minute for most teams.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import notices
from bot.errors import ToolError
from bot.slack.access import Audience, ConversationAccess, Verdict
from bot.slack.errors import SLACK_FAILURES, error_name
from bot.tools.base import Source, ToolResult, ToolSpec

logger = logging.getLogger(__name__)

METHOD = "assistant.search.context"
MAX_HITS = 20
# What Slack answers where the workspace, the app or its token lacks the API: search is not offered again.
UNAVAILABLE = frozenset(
    {"unknown_method", "missing_scope", "not_allowed_token_type", "feature_not_enabled", "not_allowed"}
)
SPEC = ToolSpec(
    name="search_slack",
    remote_name="search_slack",
    server="Slack",
    description=(
        "Search this Slack workspace's public channels for messages: decisions, announcements, earlier "
        "answers. Returns each hit's author, channel, date, text and permalink. Use short keyword queries."
    ),
    parameters={
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "What to search for, e.g. 'deploy freeze decision'."},
            "limit": {"type": "integer", "description": "How many hits, 1 to 20 (default 10)."},
        },
        "required": ["query"],
    },
    needs_approval=False,
)


class SlackSearch:
    spec = SPEC

    def __init__(
        self,
        slack: AsyncWebClient,
        access: ConversationAccess,
        audience: Audience,
        action_token: str,
        unavailable: Callable[[], None] = lambda: None,
    ) -> None:
        self.slack = slack
        self.access = access
        self.audience = audience
        self.action_token = action_token
        self.unavailable = unavailable

    async def call(self, arguments: dict[str, Any]) -> ToolResult:
        query = str(arguments.get("query") or "").strip()
        if not query:
            raise ToolError("a query is needed")
        limit = arguments.get("limit")
        limit = max(1, min(MAX_HITS, limit)) if isinstance(limit, int) else 10
        body = {
            "query": query,
            "action_token": self.action_token,
            "channel_types": "public_channel",
            "content_types": "messages",
            "limit": limit,
        }
        try:
            response = await self.slack.api_call(METHOD, json=body)
        except SLACK_FAILURES as error:
            if isinstance(error, SlackApiError) and error_name(error) in UNAVAILABLE:
                self.unavailable()
            raise ToolError(f"Slack search failed ({error_name(error)})") from error
        hits = [hit for hit in ((response.get("results") or {}).get("messages") or []) if isinstance(hit, dict)]
        verdicts = await asyncio.gather(
            *(self.access.may_carry(str(hit.get("channel_id")), self.audience) for hit in hits)
        )
        allowed = [hit for hit, verdict in zip(hits, verdicts, strict=True) if verdict is Verdict.ALLOWED]
        if len(allowed) < len(hits):
            logger.info("search hits withheld by the access rule", extra={"withheld": len(hits) - len(allowed)})
        if not allowed:
            return ToolResult("No messages found that everyone in this conversation may see.")
        lines, sources = [], []
        for hit in allowed:
            author = hit.get("author_name") or hit.get("author_user_id") or "someone"
            channel = hit.get("channel_name") or hit.get("channel_id") or "?"
            date = _date(hit.get("message_ts"))
            permalink = str(hit.get("permalink") or "")
            lines.append(f"- {author} in #{channel} on {date}: {hit.get('content') or ''} ({permalink})")
            if permalink:
                sources.append(Source(permalink, f"#{channel}, {author}, {date}"))
        return ToolResult("\n".join(lines), sources=tuple(sources), summary=notices.search_found(len(allowed)))


def _date(ts: object) -> str:
    try:
        return datetime.fromtimestamp(float(str(ts)), UTC).strftime("%Y-%m-%d")
    except (TypeError, ValueError, OverflowError):
        return "an unknown date"


def action_token_of(message: dict[str, Any]) -> str | None:
    """Where a message event carries it: `assistant_thread.action_token` in an AI app's threads; at the
    top of the event otherwise."""
    token = (message.get("assistant_thread") or {}).get("action_token") or message.get("action_token")
    return str(token) if token else None
