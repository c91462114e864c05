"""Which workspaces each person is a full member of, cached, so an access check costs no Slack call per message.

A full member of a workspace may read all its public channels. Guests (`is_restricted`: multi-channel,
`is_ultra_restricted`: single-channel), people of other organisations (`is_stranger`, or another
`team_id`) and deactivated accounts are full members of nothing here: they read only what they are in.

Whether someone is a guest changes rarely, and Slack's `users.info` allows about 100 calls a minute, so
the answer is kept for `PEOPLE_TTL_SECONDS`. Many unknown people at once (a large channel) are read in
one `users.list` sweep instead of one call each; more than that cannot be checked (`AccessUndecided`).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import AccessUndecided
from bot.single_flight import SingleFlight

# A person demoted to guest may still be taken for a full member this long.
PEOPLE_TTL_SECONDS = 300.0
# More unknown people than this in one check: one users.list sweep rather than a users.info call each.
LOOKUP_BURST = 50
USERS_PAGE_SIZE = 1000
# users.list is Tier 2 (about 20 calls a minute): a sweep reads at most this many pages.
MAX_USER_PAGES = 20
MAX_ENTRIES = 50_000

NO_TEAMS: frozenset[str] = frozenset()
NOT_A_FULL_MEMBER = ("deleted", "is_restricted", "is_ultra_restricted", "is_stranger")


def full_member_of(user: Mapping[str, Any]) -> frozenset[str]:
    """The workspaces `user` (Slack's user object) is a full member of; none for guests and outsiders."""
    if any(user.get(flag) for flag in NOT_A_FULL_MEMBER):
        return NO_TEAMS
    enterprise_teams = (user.get("enterprise_user") or {}).get("teams") or []
    return frozenset({str(user.get("team_id") or ""), *map(str, enterprise_teams)} - {""})


class People:
    """Slack failures propagate (`bot.slack.errors.SLACK_FAILURES`); the caller decides what they mean."""

    def __init__(
        self,
        slack: AsyncWebClient,
        *,
        ttl_seconds: float = PEOPLE_TTL_SECONDS,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.slack = slack
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self.clock = clock
        self._known: OrderedDict[str, tuple[float, frozenset[str]]] = OrderedDict()
        # Most people share a few sets of workspaces: one frozenset each.
        self._interned: dict[frozenset[str], frozenset[str]] = {}
        self._lookups: SingleFlight[frozenset[str]] = SingleFlight()
        self._sweeps: SingleFlight[None] = SingleFlight()
        self._swept_at: float | None = None

    async def teams(self, user_ids: Iterable[str]) -> dict[str, frozenset[str]]:
        """Each person's workspaces as a full member (`AccessUndecided` when too many are unknown)."""
        wanted = set(user_ids)
        found = {user_id: teams for user_id in wanted if (teams := self._fresh(user_id)) is not None}
        missing = sorted(wanted - found.keys())
        if len(missing) > LOOKUP_BURST and not self._swept_recently():
            await self._sweeps.run("sweep", self._sweep)
            found.update((user_id, teams) for user_id in missing if (teams := self._fresh(user_id)) is not None)
            missing = sorted(wanted - found.keys())
        if len(missing) > LOOKUP_BURST:
            raise AccessUndecided(f"{len(missing)} people whose status is unknown")
        looked_up = await asyncio.gather(
            *(self._lookups.run(user_id, partial(self._look_up, user_id)) for user_id in missing)
        )
        found.update(zip(missing, looked_up, strict=True))
        return found

    def _fresh(self, user_id: str) -> frozenset[str] | None:
        entry = self._known.get(user_id)
        if entry is None or entry[0] <= self.clock():
            return None
        return entry[1]

    def _swept_recently(self) -> bool:
        return self._swept_at is not None and self.clock() - self._swept_at < self.ttl_seconds

    async def _look_up(self, user_id: str) -> frozenset[str]:
        user = (await self.slack.users_info(user=user_id)).get("user") or {}
        return self._remember(user_id, full_member_of(user))

    async def _sweep(self) -> None:
        cursor: str | None = None
        for _ in range(MAX_USER_PAGES):
            response = await self.slack.users_list(limit=USERS_PAGE_SIZE, cursor=cursor)
            for user in response.get("members") or []:
                if user.get("id"):
                    self._remember(str(user["id"]), full_member_of(user))
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                break
        self._swept_at = self.clock()

    def _remember(self, user_id: str, teams: frozenset[str]) -> frozenset[str]:
        teams = self._interned.setdefault(teams, teams)
        self._known[user_id] = (self.clock() + self.ttl_seconds, teams)
        self._known.move_to_end(user_id)
        while len(self._known) > self.max_entries:
            self._known.popitem(last=False)
        return teams
