"""Approval requests against the fake Slack: decided once, by the asker only, expiring, in any process."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.store.base import Store
from bot.store.memory import MemoryStore
from bot.store.redis_store import RedisStore
from bot.tools.approval import ApprovalDesk, Click
from bot.tools.base import Decision, ToolSpec
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack
from tests.redis_server import redis_server

SPEC = ToolSpec("orders__restart_worker", "restart_worker", "orders", "d", {}, needs_approval=True)


@pytest.fixture
def slack(fake_slack: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.url)


async def request_posted(fake_slack: FakeSlack) -> tuple[str, str]:
    """(the request's id, its message ts), once it is in the thread."""
    await fake_slack.wait_for(lambda: bool(fake_slack.calls_to("chat.postMessage")))
    blocks = fake_slack.calls_to("chat.postMessage")[0].params["blocks"]
    value = (blocks if isinstance(blocks, str) else json.dumps(blocks)).split('"value": "approved:')[1].split('"')[0]
    return value, fake_slack.bot_messages("C1", "1.0")[0]["ts"]


def click(request_id: str, ts: str, user: str, verdict: str = "approved") -> Click:
    return Click(request_id, verdict, user, "C1", ts)


async def decide_with(desk: ApprovalDesk, taker: ApprovalDesk, fake_slack: FakeSlack) -> tuple[Decision, list[Any]]:
    deciding = asyncio.create_task(desk.approver("C1", "1.0", "UALICE").decide(SPEC, {"worker": "staging"}))
    request_id, ts = await request_posted(fake_slack)
    said = [await taker.click(click(request_id, ts, "UBOB"))]
    said.append(await taker.click(click(request_id, ts, "UALICE")))
    said.append(await taker.click(click(request_id, ts, "UALICE", "denied")))
    return await deciding, said


async def test_only_the_askers_click_decides_and_only_once(fake_slack: FakeSlack, slack: AsyncWebClient) -> None:
    fake_slack.post_as_person("C1", "UALICE", "restart it")  # the thread, ts 1.0
    desk = ApprovalDesk(slack, MemoryStore(10, 1 << 20))
    decision, said = await decide_with(desk, desk, fake_slack)
    assert decision is Decision.APPROVED
    assert said == [
        "Only the person who asked can approve or deny this action.",
        None,
        "This action was already decided.",
    ]
    closed = fake_slack.bot_messages("C1", "1.0")[-1]
    assert "Approved" in closed["visible"]
    assert "actions" not in json.dumps(closed.get("blocks"))


async def test_an_unanswered_request_expires_and_a_late_click_is_refused(
    fake_slack: FakeSlack, slack: AsyncWebClient
) -> None:
    fake_slack.post_as_person("C1", "UALICE", "restart it")
    desk = ApprovalDesk(slack, MemoryStore(10, 1 << 20), approval_seconds=0.3, poll_seconds=0.05)
    decision = await desk.approver("C1", "1.0", "UALICE").decide(SPEC, {"worker": "staging"})
    request_id, ts = await request_posted(fake_slack)
    assert decision is Decision.EXPIRED
    assert "Expired" in fake_slack.bot_messages("C1", "1.0")[-1]["visible"]
    assert await desk.click(click(request_id, ts, "UALICE")) == "This action was already decided."


async def test_with_redis_another_process_takes_the_click(fake_slack: FakeSlack, slack: AsyncWebClient) -> None:
    fake_slack.post_as_person("C1", "UALICE", "restart it")
    async with redis_server() as url:
        stores: list[Store] = [RedisStore.from_url(url), RedisStore.from_url(url)]
        try:
            waiting = ApprovalDesk(slack, stores[0], poll_seconds=0.05)
            clicked = ApprovalDesk(slack, stores[1])
            decision, said = await decide_with(waiting, clicked, fake_slack)
        finally:
            for store in stores:
                await store.close()
    assert decision is Decision.APPROVED
    assert said[1] is None


async def test_arguments_too_long_to_show_whole_are_never_put_to_the_asker(
    fake_slack: FakeSlack, slack: AsyncWebClient
) -> None:
    """Approve must mean approve what was shown: arguments that would be cut short (the part past the cut
    hiding, say, the target) are not asked about, and the action does not run."""
    fake_slack.post_as_person("C1", "UALICE", "restart it")
    desk = ApprovalDesk(slack, MemoryStore(10, 1 << 20), approval_seconds=0.3, poll_seconds=0.05)
    arguments = {"note": "x" * 2000, "worker": "production"}
    decision = await desk.approver("C1", "1.0", "UALICE").decide(SPEC, arguments)
    assert decision is Decision.UNSHOWABLE
    assert fake_slack.calls_to("chat.postMessage") == []


async def test_a_request_cut_off_by_shutdown_loses_its_buttons_and_a_later_click_decides_nothing(
    fake_slack: FakeSlack, slack: AsyncWebClient
) -> None:
    """SIGTERM cancels the waiting answer: the request must not stay approvable (with Redis a later click
    would say "Approved" in the thread although nothing will ever run it)."""
    fake_slack.post_as_person("C1", "UALICE", "restart it")
    waiting = asyncio.Event()

    class Watched(MemoryStore):
        async def recall(self, key: str) -> str | None:
            if key.startswith("approval-decision:"):
                waiting.set()  # the request is posted; the answer waits for the click
            return await super().recall(key)

    desk = ApprovalDesk(slack, Watched(10, 1 << 20))
    deciding = asyncio.create_task(desk.approver("C1", "1.0", "UALICE").decide(SPEC, {"worker": "staging"}))
    request_id, ts = await request_posted(fake_slack)
    await waiting.wait()
    deciding.cancel()
    with pytest.raises(asyncio.CancelledError):
        await deciding
    closed = fake_slack.bot_messages("C1", "1.0")[-1]
    assert "Expired" in closed["visible"]
    assert "actions" not in json.dumps(closed.get("blocks"))
    assert await desk.click(click(request_id, ts, "UALICE")) == "This action was already decided."


async def test_arguments_are_shown_without_invisible_or_reordering_characters(
    fake_slack: FakeSlack, slack: AsyncWebClient
) -> None:
    """A right-to-left override or a zero-width space in an argument could make it read as another value in
    the request: each is shown as its escape, so the asker approves what runs."""
    fake_slack.post_as_person("C1", "UALICE", "restart it")
    desk = ApprovalDesk(slack, MemoryStore(10, 1 << 20), approval_seconds=0.3, poll_seconds=0.05)
    arguments = {"worker": "\u202egnigats", "note": "a\u200bb", "name": "Zoë"}
    await desk.approver("C1", "1.0", "UALICE").decide(SPEC, arguments)
    posted = fake_slack.calls_to("chat.postMessage")[0].params
    for shown in (str(posted["text"]), json.dumps(posted["blocks"], ensure_ascii=False)):
        assert "\u202e" not in shown
        assert "\u200b" not in shown
        assert "\\u202egnigats" in shown.replace("\\\\", "\\")
        assert "Zoë" in shown
