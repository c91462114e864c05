"""Who may read a conversation (bot.slack.access), from what Slack says about the person and the conversation."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.errors import SlackApiError

from bot.slack.access import Audience, ConversationAccess, Verdict
from bot.slack.people import LOOKUP_BURST

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


# --- the rule: content from X goes into Y only if everyone who can read Y may read X -------------------

PEOPLE = {
    "UA": {"id": "UA", "team_id": "T1"},  # the asker
    "UB": {"id": "UB", "team_id": "T1"},
    "UG": {"id": "UG", "team_id": "T1", "is_restricted": True},  # a multi-channel guest
    "US": {"id": "US", "team_id": "T1", "is_restricted": True, "is_ultra_restricted": True},  # single-channel
    "UX": {"id": "UX", "team_id": "T2"},  # another organisation (Slack Connect)
    "UE": {"id": "UE", "team_id": "T9", "enterprise_user": {"teams": ["T9"]}},  # another workspace of the org
}


def public(channel_id: str, *teams: str, **flags: Any) -> dict[str, Any]:
    teams = teams or ("T1",)
    return {"id": channel_id, "is_channel": True, "context_team_id": teams[0], "shared_team_ids": list(teams), **flags}


def private(channel_id: str) -> dict[str, Any]:
    return {"id": channel_id, "is_channel": True, "is_private": True, "context_team_id": "T1"}


class Workspace:
    """Answers conversations.info / members and users.info / list from plain data, counting the calls."""

    def __init__(self, channels: dict[str, tuple[dict[str, Any], set[str]]], people: dict[str, Any] = PEOPLE) -> None:
        self.channels = channels
        self.people = people
        self.calls: list[str] = []
        self.failing: set[str] = set()

    def _call(self, method: str) -> None:
        self.calls.append(method)
        if method in self.failing:
            raise SlackApiError("refused", {"ok": False, "error": "missing_scope"})

    async def conversations_info(self, channel: str) -> dict[str, Any]:
        self._call("conversations.info")
        return {"channel": self.channels[channel][0]}

    async def conversations_members(self, channel: str, limit: int, cursor: str | None) -> dict[str, Any]:
        self._call("conversations.members")
        return {"members": sorted(self.channels[channel][1]), "response_metadata": {"next_cursor": ""}}

    async def users_info(self, user: str) -> dict[str, Any]:
        self._call("users.info")
        return {"user": self.people.get(user) or {"id": user, "team_id": "T1"}}

    async def users_list(self, limit: int, cursor: str | None) -> dict[str, Any]:
        self._call("users.list")
        return {"members": list(self.people.values()), "response_metadata": {"next_cursor": ""}}


async def verdict(source: tuple[dict[str, Any], set[str]], destination: tuple[dict[str, Any], set[str]]) -> Verdict:
    slack = Workspace({"X": source, "Y": destination})
    access = ConversationAccess(slack)  # type: ignore[arg-type]
    return await access.may_carry("X", await access.audience("Y", "UA"))


@pytest.mark.parametrize(
    ("destination", "expected"),
    [
        ((public("Y"), {"UA", "UB"}), Verdict.ALLOWED),
        ((private("Y"), {"UA", "UB"}), Verdict.ALLOWED),
        # Slack Connect, or an invitation to it pending: the other side may be public to their whole org.
        ((public("Y", "T1", "T2", is_ext_shared=True, is_shared=True), {"UA", "UB"}), Verdict.NOT_FOR_EVERYONE),
        ((public("Y", is_pending_ext_shared=True), {"UA", "UB"}), Verdict.NOT_FOR_EVERYONE),
        ((public("Y", pending_shared=["T2"]), {"UA", "UB"}), Verdict.NOT_FOR_EVERYONE),
        ((private("Y") | {"is_ext_shared": True}, {"UA"}), Verdict.NOT_FOR_EVERYONE),
        # Guests and outsiders in Y, not in X.
        ((private("Y"), {"UA", "UG"}), Verdict.NOT_FOR_EVERYONE),
        ((public("Y"), {"UA", "US"}), Verdict.NOT_FOR_EVERYONE),
        ((private("Y"), {"UA", "UX"}), Verdict.NOT_FOR_EVERYONE),
        # Shared with another workspace of the org, whose people may not read X's workspace's channels.
        ((public("Y", "T1", "T9", is_shared=True, is_org_shared=True), {"UA"}), Verdict.NOT_FOR_EVERYONE),
        ((private("Y"), {"UA", "UE"}), Verdict.NOT_FOR_EVERYONE),
    ],
)
async def test_a_public_channel_goes_only_where_everyone_may_read_it(
    destination: tuple[dict[str, Any], set[str]], expected: Verdict
) -> None:
    assert await verdict((public("X"), {"UA", "UB"}), destination) is expected


async def test_a_guest_who_is_in_the_public_channel_too_may_read_it() -> None:
    assert await verdict((public("X"), {"UA", "UG"}), (private("Y"), {"UA", "UG"})) is Verdict.ALLOWED


async def test_a_public_channel_shared_with_the_other_workspace_may_go_to_its_people() -> None:
    source = (public("X", "T1", "T9", is_shared=True, is_org_shared=True), {"UA"})
    destination = (public("Y", "T1", "T9", is_shared=True, is_org_shared=True), {"UA", "UE"})
    assert await verdict(source, destination) is Verdict.ALLOWED


@pytest.mark.parametrize(
    ("destination", "expected"),
    [
        ((private("Y"), {"UA", "UB"}), Verdict.ALLOWED),
        ((private("Y"), {"UA", "UB", "UC"}), Verdict.NOT_FOR_EVERYONE),
        ((public("Y"), {"UA"}), Verdict.NOT_FOR_EVERYONE),  # every full member reads it, joined or not
        (({"id": "Y", "is_mpim": True, "is_private": True}, {"UA", "UB"}), Verdict.ALLOWED),
    ],
)
async def test_a_private_conversation_goes_only_where_every_reader_is_its_member(
    destination: tuple[dict[str, Any], set[str]], expected: Verdict
) -> None:
    assert await verdict((private("X"), {"UA", "UB", "UBOT"}), destination) is expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ((private("X"), {"UA"}), Verdict.ALLOWED),
        ((private("X"), {"UB"}), Verdict.UNREADABLE),
        ((public("X"), set()), Verdict.ALLOWED),
        (({"id": "X", "is_im": True, "user": "UB"}, {"UB", "UBOT"}), Verdict.UNREADABLE),
        (({"id": "X", "is_im": True, "user": "UA"}, set()), Verdict.ALLOWED),  # their own DM, no members call
    ],
)
async def test_into_the_askers_dm_goes_what_the_asker_may_read(
    source: tuple[dict[str, Any], set[str]], expected: Verdict
) -> None:
    access = ConversationAccess(Workspace({"X": source}))  # type: ignore[arg-type]
    assert await access.may_carry("X", await access.audience("DUA", "UA")) is expected
    assert await access.may_carry("X", Audience.alone("UA")) is expected


async def test_the_asker_must_read_the_source_whatever_the_destination() -> None:
    assert await verdict((private("X"), {"UB"}), (private("Y"), {"UA", "UB"})) is Verdict.UNREADABLE


@pytest.mark.parametrize("method", ["conversations.info", "conversations.members", "users.info"])
async def test_when_slack_cannot_tell_the_answer_is_no_and_the_log_says_why(
    method: str, caplog: pytest.LogCaptureFixture
) -> None:
    slack = Workspace({"X": (public("X"), {"UA"}), "Y": (public("Y"), {"UA", "UB"})})
    slack.failing.add(method)
    access = ConversationAccess(slack)  # type: ignore[arg-type]
    assert await access.may_carry("X", await access.audience("Y", "UA")) is Verdict.UNDECIDED
    [record] = [record for record in caplog.records if record.getMessage().startswith("access denied")]
    assert record.levelname == "WARNING"
    assert record.error == "missing_scope"


async def test_who_is_a_guest_is_asked_once_not_for_every_message() -> None:
    slack = Workspace({"X": (public("X"), {"UA"}), "Y": (public("Y"), {"UA", "UB", "UG"})})
    access = ConversationAccess(slack)  # type: ignore[arg-type]
    for _ in range(3):
        await access.may_carry("X", await access.audience("Y", "UA"))
    assert slack.calls.count("users.info") == 3  # UA, UB, UG, each once


async def test_a_large_channel_is_read_in_one_users_list_sweep() -> None:
    crowd = {f"U{n:04d}": {"id": f"U{n:04d}", "team_id": "T1"} for n in range(LOOKUP_BURST + 10)}
    people = PEOPLE | crowd
    slack = Workspace({"X": (public("X"), {"UA"}), "Y": (public("Y"), {"UA", *crowd})}, people)
    access = ConversationAccess(slack)  # type: ignore[arg-type]
    assert await access.may_carry("X", await access.audience("Y", "UA")) is Verdict.ALLOWED
    assert slack.calls.count("users.list") == 1
    assert slack.calls.count("users.info") == 0


async def test_too_many_unknown_people_is_no() -> None:
    crowd = {f"U{n:04d}" for n in range(LOOKUP_BURST + 10)}  # not in users.list: cannot be checked
    slack = Workspace({"X": (public("X"), {"UA"}), "Y": (public("Y"), {"UA", *crowd})})
    access = ConversationAccess(slack)  # type: ignore[arg-type]
    assert await access.may_carry("X", await access.audience("Y", "UA")) is Verdict.UNDECIDED
    assert slack.calls.count("users.info") == 0
