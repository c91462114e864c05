"""Approval of actions: a tool that may change something runs only after its asker clicks Approve.

The request is a message in the thread naming the tool, its server and its arguments, with Approve and
Deny. Its life cycle, kept in the store so that any process can take the click (with REDIS_URL):

    pending ──(asker clicks Approve)──▶ approved
       │     ──(asker clicks Deny)────▶ denied
       └──────(APPROVAL_SECONDS pass)─▶ expired

Exactly one move leaves `pending`: each is taken by claiming `approval-decided:<id>` first, so a click
racing the expiry, or two clicks, decide once. A click by anyone but the asker is refused privately.
The waiting answer learns the decision at once when the click lands in its own process, else by reading
the store every `POLL_SECONDS` (a short poll of one key; the store offers no subscription).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot import notices
from bot.errors import StoreUnavailable
from bot.slack.errors import SLACK_FAILURES
from bot.store.base import Store
from bot.tools.base import Decision, ToolSpec

logger = logging.getLogger(__name__)

ACTION_ID = "tool_approval"
APPROVAL_SECONDS = notices.APPROVAL_EXPIRED_MINUTES * 60.0
POLL_SECONDS = 0.5
KEEP_SECONDS = APPROVAL_SECONDS + 600
# A request shows the call whole or is not made: Approve must approve what the asker read, and a cut
# could hide the very argument that matters. (Slack shows at most 3,000 characters of a section.)
ARGUMENT_CHARS = notices.APPROVAL_ARGUMENT_CHARS
SECTION_CHARS = 3000
# On shutdown, the time a cut-off request takes to be withdrawn (within bot.shutdown's NOTICE_SECONDS,
# before the answer's own restart notice).
WITHDRAW_SECONDS = 2.0


@dataclass(frozen=True)
class Click:
    request_id: str
    verdict: str  # approved | denied
    user: str
    channel: str
    message_ts: str

    @classmethod
    def from_action(cls, body: Mapping[str, Any], action: Mapping[str, Any]) -> Click | None:
        verdict, _, request_id = str(action.get("value") or "").partition(":")
        if verdict not in ("approved", "denied") or not request_id:
            return None
        return cls(
            request_id=request_id,
            verdict=verdict,
            user=str((body.get("user") or {}).get("id") or ""),
            channel=str((body.get("channel") or {}).get("id") or ""),
            message_ts=str((body.get("message") or {}).get("ts") or (body.get("container") or {}).get("message_ts")),
        )


class ApprovalDesk:
    """Asks for approvals and takes the clicks, for every answer of this process."""

    def __init__(
        self,
        slack: AsyncWebClient,
        store: Store,
        *,
        approval_seconds: float = APPROVAL_SECONDS,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.slack = slack
        self.store = store
        self.approval_seconds = approval_seconds
        self.poll_seconds = poll_seconds
        self._decided: dict[str, asyncio.Event] = {}

    def approver(self, channel: str, thread_ts: str, asker: str) -> SlackApprover:
        return SlackApprover(self, channel, thread_ts, asker)

    async def click(self, click: Click) -> str | None:
        """Takes a click; returns what to tell the clicker privately, or None when it decided the request."""
        raw = await self.store.recall(f"approval:{click.request_id}")
        if raw is None:
            return notices.APPROVAL_ALREADY_DECIDED
        request = json.loads(raw)
        if click.user != request["asker"]:
            logger.info("approval click by someone else refused", extra={"tool": request["tool"]})
            return notices.APPROVAL_NOT_YOURS
        if not await self.store.claim(f"approval-decided:{click.request_id}", KEEP_SECONDS):
            return notices.APPROVAL_ALREADY_DECIDED
        await self.store.remember(f"approval-decision:{click.request_id}", click.verdict, KEEP_SECONDS)
        event = self._decided.get(click.request_id)
        if event is not None:
            event.set()
        await self._close(click.channel, click.message_ts, request["tool"], click.verdict, click.user)
        return None

    async def _close(self, channel: str, ts: str, tool: str, verdict: str, who: str) -> None:
        """The request's message loses its buttons and says what was decided."""
        text = notices.approval_decided(tool, verdict, who)
        try:
            # The buttons go with the blocks they were in (an empty list may be taken as "keep them").
            blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
            await self.slack.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
        except SLACK_FAILURES as error:
            logger.warning("could not update an approval request", extra={"error": repr(error)})


class SlackApprover:
    def __init__(self, desk: ApprovalDesk, channel: str, thread_ts: str, asker: str) -> None:
        self.desk = desk
        self.channel = channel
        self.thread_ts = thread_ts
        self.asker = asker

    async def decide(self, spec: ToolSpec, arguments: Mapping[str, Any]) -> Decision:
        desk = self.desk
        request_id = secrets.token_hex(12)
        shown = _visible(json.dumps(arguments, ensure_ascii=False))
        text = notices.approval_request(self.asker, spec.remote_name, spec.server, shown)
        if len(shown) > ARGUMENT_CHARS or len(text) > SECTION_CHARS:
            logger.info("approval not asked: the call is too long to show whole", extra={"tool": spec.remote_name})
            return Decision.UNSHOWABLE
        # Remembered before it is posted: a click can never come before the request it answers.
        request = {"asker": self.asker, "tool": spec.remote_name}
        await desk.store.remember(f"approval:{request_id}", json.dumps(request), KEEP_SECONDS)
        decided = desk._decided.setdefault(request_id, asyncio.Event())
        try:
            try:
                posted = await desk.slack.chat_postMessage(
                    channel=self.channel, thread_ts=self.thread_ts, text=text, blocks=_blocks(text, request_id)
                )
            except SLACK_FAILURES as error:
                logger.warning("could not ask for approval", extra={"error": repr(error)})
                return Decision.UNAVAILABLE
            try:
                decision = await self._wait(request_id, decided)
            except asyncio.CancelledError:
                await self._withdraw(request_id, str(posted["ts"]), spec)
                raise
            if decision is Decision.EXPIRED:
                await desk._close(self.channel, str(posted["ts"]), spec.remote_name, "expired", "")
            logger.info("approval", extra={"tool": spec.remote_name, "server": spec.server, "decision": decision.value})
            return decision
        finally:
            desk._decided.pop(request_id, None)

    async def _withdraw(self, request_id: str, ts: str, spec: ToolSpec) -> None:
        """The answer was stopped (shutdown) while waiting: the request expires now, so a later click, in
        this process or another, decides nothing and says so, and the buttons go. Best effort."""
        desk = self.desk
        try:
            async with asyncio.timeout(WITHDRAW_SECONDS):
                if await desk.store.claim(f"approval-decided:{request_id}", KEEP_SECONDS):
                    await desk.store.remember(f"approval-decision:{request_id}", "expired", KEEP_SECONDS)
                    await desk._close(self.channel, ts, spec.remote_name, "expired", "")
        except (StoreUnavailable, TimeoutError, asyncio.CancelledError) as error:
            logger.warning("could not withdraw an approval request", extra={"error": repr(error)})

    async def _wait(self, request_id: str, decided: asyncio.Event) -> Decision:
        desk = self.desk
        ends = time.monotonic() + desk.approval_seconds
        while True:
            verdict = await desk.store.recall(f"approval-decision:{request_id}")
            if verdict is not None:
                return Decision.APPROVED if verdict == "approved" else Decision.DENIED
            left = ends - time.monotonic()
            if left <= 0:
                break
            try:
                async with asyncio.timeout(min(desk.poll_seconds, left)):
                    await decided.wait()
            except TimeoutError:
                continue
        if not await desk.store.claim(f"approval-decided:{request_id}", KEEP_SECONDS):
            # A click decided it just now; until its verdict is readable, nothing runs.
            verdict = await desk.store.recall(f"approval-decision:{request_id}")
            return Decision.APPROVED if verdict == "approved" else Decision.DENIED
        await desk.store.remember(f"approval-decision:{request_id}", "expired", KEEP_SECONDS)
        return Decision.EXPIRED


# Characters that show nothing, or reorder what follows (a right-to-left override): in the request an
# argument could read as another value. Each is shown as its JSON escape instead.
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"})


def _visible(shown: str) -> str:
    return "".join(f"\\u{ord(char):04x}" if unicodedata.category(char) in HIDDEN_CATEGORIES else char for char in shown)


def _blocks(text: str, request_id: str) -> list[dict[str, Any]]:
    def button(label: str, verdict: str, style: str) -> dict[str, Any]:
        return {
            "type": "button",
            "action_id": f"{ACTION_ID}_{verdict}",
            "text": {"type": "plain_text", "text": label},
            "value": f"{verdict}:{request_id}",
            "style": style,
        }

    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {
            "type": "actions",
            "elements": [button(notices.APPROVE, "approved", "primary"), button(notices.DENY, "denied", "danger")],
        },
    ]
