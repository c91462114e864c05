"""Slack's per-method rate limits: calls that can be saved are not made, and a limit hit is waited out."""

from __future__ import annotations

from tests.fakes.events import EventSender
from tests.fakes.model_api import FakeModel, Reply
from tests.fakes.slack_api import BOT_USER_ID, FakeSlack

MENTION = f"<@{BOT_USER_ID}>"


def conversation(request: dict[str, object]) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in request["messages"]][1:]  # type: ignore[attr-defined,index]


async def test_a_new_thread_is_answered_without_reading_it(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    """The question that opens a thread is the whole thread: no `conversations.replies` (Tier 3). A follow-up
    then asks Slack only for what came after the opening question."""
    parent = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} my name is Alice")
    fake_model.script.append(Reply(["Nice to meet you."]))
    await events.mention(parent)
    assert await fake_slack.wait_for_replies("C1", parent["ts"]) == ["Nice to meet you."]
    assert fake_slack.calls_to("conversations.replies") == []
    assert conversation(fake_model.requests[0]) == [("user", "Alice: my name is Alice")]

    follow_up = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} what is my name?", thread_ts=parent["ts"])
    await events.mention(follow_up)
    await fake_slack.wait_for_replies("C1", parent["ts"], count=2)
    (read,) = fake_slack.calls_to("conversations.replies")
    assert read.params["oldest"] == parent["ts"]
    assert conversation(fake_model.requests[1]) == [
        ("user", "Alice: my name is Alice"),
        ("assistant", "Nice to meet you."),
        ("user", "Alice: what is my name?"),
    ]


async def test_a_direct_message_is_answered_without_reading_its_thread(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    message = fake_slack.post_as_person("D1", "UALICE", "hello there")
    await events.message(message, channel_type="im")
    assert await fake_slack.wait_for_replies("D1", message["ts"]) == ["You said: Alice: hello there"]
    assert fake_slack.calls_to("conversations.replies") == []
