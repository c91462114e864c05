"""Who may read a conversation (bot.slack.access), from what Slack says about the person and the conversation."""

from __future__ import annotations

from typing import Any

import pytest

from bot.slack.access import ConversationAccess

PUBLIC = {"id": "C1", "is_channel": True, "context_team_id": "T1", "shared_team_ids": ["T1"]}
FULL_MEMBER = {"id": "UA", "team_id": "T1"}


class Slack:
    """Answers `users.info` and `conversations.members` (two pages) as Slack would."""

    def __init__(self, user: dict[str, Any], members: list[str]) -> None:
        self.user = user
        self.members = members
        self.member_calls = 0

    async def users_info(self, user: str) -> dict[str, Any]:
        return {"user": self.user}

    async def conversations_members(self, channel: str, limit: int, cursor: str | None) -> dict[str, Any]:
        self.member_calls += 1
        page = self.members[:1] if cursor is None else self.members[1:]
        return {"members": page, "response_metadata": {"next_cursor": "" if cursor else "next"}}


async def can_read(user: dict[str, Any], channel: dict[str, Any], members: list[str]) -> tuple[bool, int]:
    slack = Slack(user, members)
    access = ConversationAccess(slack)  # type: ignore[arg-type]
    return await access.can_read("UA", "C1", channel), slack.member_calls


async def test_a_full_member_reads_a_public_channel_of_their_workspace_without_a_membership_check() -> None:
    assert await can_read(FULL_MEMBER, PUBLIC, []) == (True, 0)


@pytest.mark.parametrize(
    ("user", "channel"),
    [
        ({**FULL_MEMBER, "is_restricted": True}, PUBLIC),
        ({**FULL_MEMBER, "is_ultra_restricted": True}, PUBLIC),
        ({**FULL_MEMBER, "deleted": True}, PUBLIC),
        ({"id": "UA", "team_id": "T2"}, PUBLIC),  # Slack Connect: another organisation
        (FULL_MEMBER, {**PUBLIC, "is_ext_shared": True, "shared_team_ids": ["T1", "T2"]}),
        (FULL_MEMBER, {"id": "C1", "is_channel": True}),  # Slack names no workspace
        (FULL_MEMBER, {**PUBLIC, "is_private": True}),
        (FULL_MEMBER, {"id": "G1", "is_mpim": True, "is_private": True}),
        (FULL_MEMBER, {"id": "D1", "is_im": True}),
    ],
)
async def test_anyone_else_needs_to_be_a_member(user: dict[str, Any], channel: dict[str, Any]) -> None:
    assert await can_read(user, channel, ["UB", "UC"]) == (False, 2)  # both pages read
    assert (await can_read(user, channel, ["UB", "UA"]))[0]


async def test_an_enterprise_member_of_another_workspace_of_the_org_reads_its_shared_public_channel() -> None:
    user = {"id": "UA", "team_id": "T9", "enterprise_user": {"teams": ["T9", "T1"]}}
    assert await can_read(user, PUBLIC, []) == (True, 0)


async def test_nobody_is_no_one() -> None:
    access = ConversationAccess(Slack(FULL_MEMBER, ["UA"]))  # type: ignore[arg-type]
    assert not await access.can_read("", "C1", PUBLIC)
