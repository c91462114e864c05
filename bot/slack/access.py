"""Who may read a conversation, and the one rule for carrying content from one conversation into another.

The rule (`ConversationAccess.may_carry`): content from conversation X goes into conversation Y only if
everyone who can read Y may read X. Links use it now; search results and tool results are to use it too.

Who can read what, as Slack has it:
- A public channel is open to every full member of the workspaces it belongs to (`context_team_id`,
  `shared_team_ids`), joined or not. Guests (`is_restricted`, `is_ultra_restricted`) and people of other
  organisations read only the conversations they are members of (`bot.slack.people`).
- A private channel, a DM or a group DM is read by its members (`conversations.members`).
- A channel shared with another organisation (`is_ext_shared`, or an invitation pending:
  `is_pending_ext_shared`, `pending_shared`) may be public on their side, open to people the bot cannot
  list: it needs membership to be read, and takes nothing from any other conversation.

So, into Y:
- Y is the asker's DM with the bot: X must be readable by the asker.
- X public: every reader of Y is a full member of one of X's workspaces or a member of X; a public Y's
  whole workspace must be one of X's.
- X anything else: Y is not public, and every member of Y is a member of X.
In every case the asker may read X. Where Slack does not say (an error, a missing scope, too many people
to check), the answer is no, and the log says why.

Memberships are asked afresh for every check (someone who left a channel a minute ago is not in it now);
who is a guest is cached for a few minutes (`bot.slack.people`).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.errors import AccessUndecided
from bot.slack.errors import SLACK_FAILURES, error_name
from bot.slack.messages import is_direct_message
from bot.slack.people import People

logger = logging.getLogger(__name__)

MEMBERS_PAGE_SIZE = 1000
# A channel with more members than this is checked no further (and the answer is no).
MAX_MEMBER_PAGES = 50
EXTERNAL_FLAGS = ("is_ext_shared", "is_pending_ext_shared")


class Verdict(enum.Enum):
    """Whether content may be carried, and if not, whose reading stands in the way."""

    ALLOWED = "allowed"
    # The asker (or the bot) cannot read the source.
    UNREADABLE = "unreadable"
    # The asker may, but someone who reads the destination may not.
    NOT_FOR_EVERYONE = "not_for_everyone"
    # Slack could not tell (an error, a missing scope, too many people to check).
    UNDECIDED = "undecided"


@dataclass(frozen=True, eq=False)
class Audience:
    """Who reads a conversation the bot writes into, as it stood when asked."""

    conversation: str
    asker: str
    # The asker's own DM with the bot: the asker is the only reader.
    asker_alone: bool = False
    # Shared with another organisation: readers the bot cannot list.
    external: bool = False
    # The workspaces whose full members all read it (a public channel's), none otherwise.
    public_in: frozenset[str] = frozenset()
    # Each member, with the workspaces they are a full member of (none for guests and outsiders).
    readers: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # Why it could not be told who reads it; every check against it is then UNDECIDED.
    undecided: str | None = None

    @classmethod
    def alone(cls, asker: str, conversation: str = "") -> Audience:
        """The asker's DM with the bot (its id may not be known yet, as before a catch-up opens it)."""
        return cls(conversation, asker, asker_alone=True)


class ConversationAccess:
    def __init__(self, slack: AsyncWebClient, people: People | None = None) -> None:
        self.slack = slack
        self.people = people or People(slack)

    async def conversation(self, channel_id: str) -> Mapping[str, Any]:
        """What Slack tells the bot about a conversation (`conversations.info`)."""
        return (await self.slack.conversations_info(channel=channel_id)).get("channel") or {}

    async def audience(self, conversation: str, asker: str) -> Audience:
        """Who reads `conversation`, where the bot answers `asker`; never raises (see `Audience.undecided`)."""
        if is_direct_message(conversation):
            return Audience.alone(asker, conversation)
        try:
            info = await self.conversation(conversation)
            if any(info.get(flag) for flag in EXTERNAL_FLAGS) or info.get("pending_shared"):
                return Audience(conversation, asker, external=True)
            public_in = _teams_of(info) if is_public(info) else frozenset()
            if is_public(info) and not public_in:
                raise AccessUndecided("a public channel of no known workspace")
            readers = await self.people.teams(await self.members(conversation))
        except (*SLACK_FAILURES, AccessUndecided) as error:
            reason = str(error) if isinstance(error, AccessUndecided) else error_name(error)
            logger.warning(
                "access denied: Slack could not tell who reads the conversation",
                extra={"channel": conversation, "error": reason},
            )
            return Audience(conversation, asker, undecided=reason)
        return Audience(conversation, asker, public_in=public_in, readers=readers)

    async def may_carry(self, source: str, into: Audience, source_info: Mapping[str, Any] | None = None) -> Verdict:
        """Whether content from conversation `source` may go where `into` reads it: only if everyone who
        can read the destination may read the source, the asker included. Never raises: where Slack
        does not say, the answer is UNDECIDED, which is no."""
        if into.undecided is not None:
            return Verdict.UNDECIDED
        try:
            info = source_info if source_info is not None else await self.conversation(source)
            if not await self.can_read(into.asker, source, info):
                return Verdict.UNREADABLE
            return await self._everyone_may_read(source, info, into)
        except (*SLACK_FAILURES, AccessUndecided) as error:
            reason = str(error) if isinstance(error, AccessUndecided) else error_name(error)
            logger.warning(
                "access denied: Slack could not tell who may read the source",
                extra={"channel": source, "destination": into.conversation, "error": reason},
            )
            return Verdict.UNDECIDED

    async def _everyone_may_read(self, source: str, info: Mapping[str, Any], into: Audience) -> Verdict:
        if into.asker_alone or source == into.conversation:
            return Verdict.ALLOWED
        if into.external:
            return Verdict.NOT_FOR_EVERYONE
        if is_public(info):
            teams = _teams_of(info)
            if not into.public_in <= teams:
                return Verdict.NOT_FOR_EVERYONE
            outsiders = {reader for reader, theirs in into.readers.items() if not theirs & teams}
        else:
            if into.public_in:
                return Verdict.NOT_FOR_EVERYONE
            outsiders = set(into.readers)
        if outsiders and not outsiders <= await self.members(source):
            return Verdict.NOT_FOR_EVERYONE
        return Verdict.ALLOWED

    async def can_read(self, person: str, channel_id: str, channel: Mapping[str, Any] | None = None) -> bool:
        """Slack failures (`bot.slack.errors.SLACK_FAILURES`) propagate: the caller decides what they mean."""
        if not person:
            return False
        channel = channel if channel is not None else await self.conversation(channel_id)
        if channel.get("is_im") and channel.get("user") == person:
            return True
        if is_public(channel):
            teams = (await self.people.teams([person]))[person]
            if teams & _teams_of(channel):
                return True
        return await self._is_member(person, channel_id)

    async def members(self, channel_id: str) -> frozenset[str]:
        """Everyone in a conversation (`AccessUndecided` past `MAX_MEMBER_PAGES`)."""
        members: set[str] = set()
        cursor: str | None = None
        for _ in range(MAX_MEMBER_PAGES):
            response = await self._members_page(channel_id, cursor)
            members.update(response.get("members") or [])
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return frozenset(members)
        raise AccessUndecided("too many members to page through")

    async def _is_member(self, person: str, channel_id: str) -> bool:
        cursor: str | None = None
        for _ in range(MAX_MEMBER_PAGES):
            response = await self._members_page(channel_id, cursor)
            if person in (response.get("members") or []):
                return True
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return False
        logger.warning("membership not confirmed: too many members to page through", extra={"channel": channel_id})
        return False

    async def _members_page(self, channel_id: str, cursor: str | None) -> AsyncSlackResponse:
        return await self.slack.conversations_members(channel=channel_id, limit=MEMBERS_PAGE_SIZE, cursor=cursor)


def is_public(channel: Mapping[str, Any]) -> bool:
    """Open to every full member of its workspaces (not private, not a DM, not shared with another organisation)."""
    return bool(channel.get("is_channel")) and not any(
        channel.get(flag) for flag in ("is_private", "is_im", "is_mpim", "is_group", *EXTERNAL_FLAGS)
    )


def _teams_of(channel: Mapping[str, Any]) -> frozenset[str]:
    """The workspaces a channel belongs to; none known means no workspace's members may read it unasked."""
    teams = {str(channel.get("context_team_id") or "")} | {str(team) for team in channel.get("shared_team_ids") or []}
    return frozenset(teams - {""})
