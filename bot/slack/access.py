"""Whether a person may read a conversation, so the bot never becomes a way into one they are not in.

Anyone who is a full member of a workspace can read its public channels without joining them; guests
and people of other organisations (Slack Connect) see only the conversations they are members of. So a
public channel is open to a full member of one of the workspaces it belongs to (`users.info`,
`conversations.info`); anything else, or anyone else, needs membership (`conversations.members`). A
channel shared with another organisation may be private on their side: it always needs membership.
Where Slack does not say, the answer is no.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

logger = logging.getLogger(__name__)

MEMBERS_PAGE_SIZE = 1000
# A channel with more members than this is checked no further (and the answer is no).
MAX_MEMBER_PAGES = 50


class ConversationAccess:
    """Each check asks Slack afresh: a person who left a channel a minute ago is not in it now.

    Slack failures (`bot.slack.client.SLACK_FAILURES`) propagate: the caller decides what a failed check means.
    """

    def __init__(self, slack: AsyncWebClient) -> None:
        self.slack = slack

    async def conversation(self, channel_id: str) -> Mapping[str, Any]:
        """What Slack tells the bot about a conversation (`conversations.info`)."""
        return (await self.slack.conversations_info(channel=channel_id)).get("channel") or {}

    async def can_read(self, person: str, channel_id: str, channel: Mapping[str, Any] | None = None) -> bool:
        if not person:
            return False
        channel = channel if channel is not None else await self.conversation(channel_id)
        if is_public(channel) and await self._full_member_of(person, _teams_of(channel)):
            return True
        return await self._is_member(person, channel_id)

    async def _full_member_of(self, person: str, teams: set[str]) -> bool:
        user = (await self.slack.users_info(user=person)).get("user") or {}
        if any(user.get(flag) for flag in ("deleted", "is_restricted", "is_ultra_restricted", "is_stranger")):
            return False
        enterprise_teams = (user.get("enterprise_user") or {}).get("teams") or []
        return bool(teams & {str(user.get("team_id") or ""), *map(str, enterprise_teams)} - {""})

    async def _is_member(self, person: str, channel_id: str) -> bool:
        cursor: str | None = None
        for _ in range(MAX_MEMBER_PAGES):
            response = await self.slack.conversations_members(
                channel=channel_id, limit=MEMBERS_PAGE_SIZE, cursor=cursor
            )
            if person in (response.get("members") or []):
                return True
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return False
        logger.warning("membership not confirmed: too many members to page through", extra={"channel": channel_id})
        return False


def is_public(channel: Mapping[str, Any]) -> bool:
    """Open to every full member of its workspaces (not private, not a DM, not shared with another organisation)."""
    return bool(channel.get("is_channel")) and not any(
        channel.get(flag) for flag in ("is_private", "is_im", "is_mpim", "is_group", "is_ext_shared")
    )


def _teams_of(channel: Mapping[str, Any]) -> set[str]:
    """The workspaces a channel belongs to; none known means no workspace's members may read it unasked."""
    teams = {str(channel.get("context_team_id") or "")} | {str(team) for team in channel.get("shared_team_ids") or []}
    return teams - {""}
