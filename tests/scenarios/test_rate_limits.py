"""Slack's per-method rate limits: calls that can be saved are not made, and a limit hit is waited out."""

from __future__ import annotations

from tests.fakes.events import EventSender
from tests.fakes.faults import Fault
from tests.fakes.model_api import FakeModel, Reply
from tests.fakes.rate_limits import RateLimit, RateLimiter
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


async def test_a_rate_limited_stop_is_waited_out_until_the_stream_is_closed(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    """`chat.stopStream` shares a small budget (Tier 2); refused more often than other calls are retried, it
    still waits its turn: the answer does not stay "streaming" in Slack."""
    refused = Fault(status=429, error="ratelimited", headers={"Retry-After": "1"})
    fake_slack.faults["chat.stopStream"] = [refused] * 8
    fake_model.script.append(Reply(["Hello ", "world."]))
    message = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} hi")
    await events.mention(message)
    assert await fake_slack.wait_for_replies("C1", message["ts"], within_seconds=30) == ["Hello world."]
    assert len(fake_slack.calls_to("chat.stopStream")) == 9


async def test_a_rate_limited_thread_read_waits_its_turn_and_loses_nothing(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    """Under Slack's limit (here one `conversations.replies` per 2 s), follow-ups in two threads are both answered
    with their whole thread; the second waits for `Retry-After` once instead of hammering Slack."""
    fake_slack.rate_limiter = RateLimiter({"conversations.replies": (RateLimit(1, 2.0),)})
    questions = []
    for index in range(2):
        opening = fake_slack.post_as_person("C1", "UBOB", f"context {index}")
        questions.append(fake_slack.post_as_person("C1", "UALICE", f"{MENTION} q{index}", thread_ts=opening["ts"]))
    for question in questions:
        await events.mention(question)
    for index, question in enumerate(questions):
        assert await fake_slack.wait_for_replies("C1", question["thread_ts"], within_seconds=15) == [
            f"You said: Bob: context {index}\n\nAlice: q{index}"
        ]
    assert len(fake_slack.calls_to("conversations.replies")) == 3
    assert fake_slack.rate_limited == {"conversations.replies": 1}
