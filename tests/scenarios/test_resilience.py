"""Faults, load and bad input: every one ends in a correct answer or a clear notice, never silence."""

from __future__ import annotations

import json
import logging
import re

import aiohttp
import pytest

from bot.app.runtime import EVENTS_PATH
from bot.logs import LogfmtFormatter
from tests.conftest import BotFactory, RunningBot
from tests.fakes.events import EventSender
from tests.fakes.faults import Fault
from tests.fakes.model_api import MODEL_KEY, FakeModel, RawStream, Reply, WholeReply, gateway_page
from tests.fakes.slack_api import BOT_TOKEN, BOT_USER_ID, FakeSlack

MENTION = f"<@{BOT_USER_ID}>"


async def test_slack_rate_limit_on_posting_is_waited_out(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    """Slack's `ratelimited` answer is retried after its Retry-After, and the answer arrives."""
    fake_slack.faults["chat.startStream"] = [Fault(status=429, error="ratelimited", headers={"Retry-After": "1"})]
    message = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} hi")
    await events.mention(message)
    assert await fake_slack.wait_for_replies("C1", message["ts"]) == ["You said: Alice: hi"]
    assert len(fake_slack.calls_to("chat.startStream")) == 2, "a retry before Retry-After would be refused again"


async def test_an_answer_that_cannot_be_posted_is_kept_in_the_log(
    fake_slack: FakeSlack,
    fake_model: FakeModel,
    events: EventSender,
    bot: RunningBot,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake_slack.faults["chat.startStream"] = [Fault(error="channel_not_found")]
    fake_slack.faults["chat.postMessage"] = [Fault(error="channel_not_found")]
    fake_model.script.append(Reply(["The whole ", "answer."], delay=0.1))
    message = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} hi")
    with caplog.at_level(logging.INFO, logger="bot.answer.answerer"):
        await events.mention(message)
        await fake_slack.wait_for(lambda: bool(fake_slack.calls_to("chat.postMessage")))
        await bot.runtime.tasks.wait()
    [record] = [r for r in caplog.records if r.getMessage() == "event handled"]
    assert record.outcome == "slack_error"  # type: ignore[attr-defined]
    assert record.undelivered_answer == "The whole answer."  # type: ignore[attr-defined]
    assert record.thread_ts == message["ts"]  # type: ignore[attr-defined]


async def test_model_rate_limit_then_success_is_answered(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    fake_model.script += [WholeReply(429, '{"error": {"message": "slow down"}}', {"Retry-After": "1"}), Reply(["Ok."])]
    message = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} hi")
    await events.mention(message)
    assert await fake_slack.wait_for_replies("C1", message["ts"]) == ["Ok."]


async def test_a_malformed_chunk_mid_stream_is_marked_interrupted(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    fake_model.script.append(RawStream(['data: {"choices":[{"delta":{"content":"Partial"}}]}\n\n', "data: {oops\n\n"]))
    message = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} hi")
    await events.mention(message)
    [reply] = await fake_slack.wait_for_replies("C1", message["ts"])
    assert reply.startswith("Partial\n\n:warning: _The answer was interrupted (the answer stream broke off")


async def test_model_calls_above_the_cap_wait_their_turn_visibly(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    """Past MAX_CONCURRENT_MODEL_CALLS, a question waits with a status instead of failing."""
    bot = await bot_factory(MAX_CONCURRENT_MODEL_CALLS="1")
    events = EventSender(bot.url + EVENTS_PATH, http)
    fake_model.script += [Reply(["First."], delay=0.1), Reply(["Second."])]
    fake_model.script[0].chunks = ["Fir", "st."]
    first = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} one")
    second = fake_slack.post_as_person("C2", "UBOB", f"{MENTION} two")
    await events.mention(first)
    await fake_model.wait_for_requests(1)
    await events.mention(second)
    assert await fake_slack.wait_for_replies("C2", second["ts"]) == ["Second."]
    assert await fake_slack.wait_for_replies("C1", first["ts"]) == ["First."]
    assert ("C2", second["ts"], "is waiting for its turn…") in fake_slack.statuses
    assert fake_model.requests[1]["messages"][-1]["content"] == "Bob: two"


async def test_malformed_requests_get_4xx_and_change_nothing(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, bot: RunningBot
) -> None:
    for body in ["{not json", "payload=%7Bbad", ""]:
        response = await events.post(body)
        assert 400 <= response.status < 500, body
    body = json.dumps(events.envelope({"type": "app_mention"}))
    async with events.session.post(events.url, data=body, headers={"Content-Type": "application/json"}) as unsigned:
        assert unsigned.status == 401
    incomplete = await events.post(json.dumps(events.envelope({"type": "app_mention", "user": "UALICE"})))
    assert incomplete.status == 200
    await bot.runtime.tasks.wait()
    assert fake_slack.posts() == []
    assert fake_model.requests == []


async def test_any_unicode_is_fine(fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender) -> None:
    text = "¿Qué tal? 你好 🧪👩🏽‍🔬 مرحبا e\u0301 zero\u200bwidth \U0001f600 <b>&"
    message = fake_slack.post_as_person(
        "C1", "UALICE", f"{MENTION} {text.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')}"
    )
    fake_model.script.append(Reply(["Réponse 🎉 — ", "完了"]))
    await events.mention(message)
    assert await fake_slack.wait_for_replies("C1", message["ts"]) == ["Réponse 🎉 — 完了"]
    assert fake_model.requests[0]["messages"][-1]["content"] == f"Alice: {text}"


async def test_a_file_slack_holds_no_copy_of_is_named_and_the_text_answered(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    """A file object without a download link (deleted, or stored elsewhere): the text is answered, the file named."""
    message = fake_slack.post_as_person(
        "C1", "UALICE", f"{MENTION} what do you think?", subtype="file_share", files=[{"name": "plan.pdf"}]
    )
    fake_model.script.append(Reply(["Looks good."]))
    await events.mention(message)
    [reply] = await fake_slack.wait_for_replies("C1", message["ts"])
    assert reply.startswith("Looks good.\n\n")
    assert "I did not read `plan.pdf`: it is not stored in Slack" in reply
    assert fake_model.requests[0]["messages"][-1]["content"].endswith("[file plan.pdf: not read (not in slack)]")


async def test_a_huge_message_is_cut_to_fit_and_answered(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    """A 150 kB paste fits the default budget with a marker, and is answered."""
    message = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} " + "lorem ipsum " * 25_000 + "question?")
    await events.mention(message)
    [reply] = await fake_slack.wait_for_replies("C1", message["ts"])
    content = fake_model.requests[0]["messages"][-1]["content"]
    assert content.endswith("question?")
    assert len(content) <= 50_000 * 4
    assert reply.startswith("You said:")


def _error_event(message: str) -> str:
    return f"data: {json.dumps({'error': {'message': message, 'type': 'server_error'}})}\n\n"


PARTIAL = 'data: {"choices":[{"delta":{"content":"Partial"}}]}\n\n'


@pytest.mark.parametrize(
    "fault",
    [
        WholeReply(401, json.dumps({"error": {"message": f"invalid key {MODEL_KEY}", "code": "invalid_api_key"}})),
        WholeReply(403, f"<html><title>Denied: {MODEL_KEY}</title></html>", content_type="text/html"),
        WholeReply(400, json.dumps({"error": {"message": "x" * 185 + " " + MODEL_KEY + " " + "y" * 100}})),
        WholeReply(400, json.dumps({"error": f"forwarded with Authorization: Bearer {BOT_TOKEN}"})),
        RawStream([PARTIAL, _error_event(f"upstream refused {MODEL_KEY} " + "z" * 3000)]),
        RawStream([PARTIAL, _error_event("z" * 190 + " " + MODEL_KEY)]),
    ],
    ids=["json-body", "html-body", "past-the-cut", "slack-token", "sse-error-event", "sse-past-the-cut"],
)
async def test_a_model_error_echoing_a_secret_reaches_neither_slack_nor_the_log(
    fake_slack: FakeSlack,
    fake_model: FakeModel,
    events: EventSender,
    bot: RunningBot,
    caplog: pytest.LogCaptureFixture,
    fault: WholeReply | RawStream,
) -> None:
    """The service's words are shown (they help), with every secret masked before the cut."""
    caplog.handler.setFormatter(LogfmtFormatter(bot.runtime.settings.secrets))
    fake_model.script.append(fault)
    message = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} hi")
    with caplog.at_level(logging.INFO):
        await events.mention(message)
        [notice] = await fake_slack.wait_for_replies("C1", message["ts"])
        await bot.runtime.tasks.wait()
    for text in (notice, caplog.text):
        assert [piece for piece in _pieces(MODEL_KEY) + _pieces(BOT_TOKEN) if piece in text] == []
    assert len(notice) < 600
    assert "model call failed" in caplog.text


@pytest.mark.parametrize(
    "fault",
    [
        WholeReply(400, json.dumps({"error": {"message": "Blocked <!channel> <@UBOB> @here, see <#C9|ops>"}})),
        RawStream([PARTIAL, _error_event("Blocked <!channel> <@UBOB> @here, see <#C9|ops>")]),
    ],
    ids=["http-body", "sse-error-event"],
)
async def test_a_model_error_with_slack_mentions_pings_no_one(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, fault: WholeReply | RawStream
) -> None:
    """The service's words are shown, but neither the message nor its notification text mentions anyone."""
    fake_model.script.append(fault)
    message = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} hi")
    await events.mention(message)
    [notice] = await fake_slack.wait_for_replies("C1", message["ts"])
    [posted] = fake_slack.bot_messages("C1", message["ts"])
    assert "Blocked" in notice
    for shown in (notice, posted["text"]):
        assert not re.search(r"<[!@#]|(?<![\w@])@(here|channel)", shown), shown


async def test_a_gateway_page_is_summed_up_for_the_channel_and_kept_whole_in_the_log(
    fake_slack: FakeSlack,
    fake_model: FakeModel,
    events: EventSender,
    bot: RunningBot,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Channel members read a short summary in whole words, not the gateway's internals cut mid-word; the log
    line keeps all of it, with the key masked."""
    caplog.handler.setFormatter(LogfmtFormatter(bot.runtime.settings.secrets))
    fake_model.script.append(WholeReply(400, gateway_page(MODEL_KEY), content_type="text/plain"))
    message = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} hi")
    with caplog.at_level(logging.INFO):
        await events.mention(message)
        [notice] = await fake_slack.wait_for_replies("C1", message["ts"])
        await bot.runtime.tasks.wait()
    assert notice.startswith(":warning: Sorry, the model service answered HTTP 400: No connected db. If that is")
    for internal in ("inference_api_keys", "fallback", "routing", MODEL_KEY):
        assert internal not in notice
    [line] = [line for line in caplog.text.splitlines() if "event handled" in line]
    assert "No fallback was attempted because the routing pool us-east-1/primary was empty." in line
    assert "table inference_api_keys" in line
    assert MODEL_KEY not in caplog.text


def _pieces(secret: str) -> list[str]:
    return [secret[start : start + 8] for start in range(len(secret) - 7)]


async def test_shutdown_tells_every_waiting_question_once(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, bot: RunningBot
) -> None:
    """An answer cut off by a restart says so, and so does a question still queued behind it, only once."""
    fake_model.script.append(Reply([f"part {index} " for index in range(50)], delay=0.2))
    first = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} long one")
    queued = fake_slack.post_as_person("C1", "UBOB", f"{MENTION} and me?", thread_ts=first["ts"])
    await events.mention(first)
    await fake_model.wait_for_requests(1)
    await events.mention(queued)
    await events.message(queued)
    await fake_slack.wait_for(lambda: bool(fake_slack.calls_to("chat.startStream")))
    await bot.close(grace_seconds=0.2)
    replies = fake_slack.bot_replies("C1", first["ts"])
    assert len(replies) == 2
    assert replies[0].startswith("part 0 ")
    assert replies[0].endswith("Please ask again in a minute.")
    assert replies[1].startswith(":arrows_counterclockwise: I'm restarting")
    assert len(fake_model.requests) == 1


async def test_a_burst_costs_one_lookup_of_each_kind(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, bot: RunningBot
) -> None:
    """Thirty simultaneous mentions in one channel: one auth.test, one users.info, one conversations.info."""
    import asyncio

    messages = [fake_slack.post_as_person("C1", "UALICE", f"{MENTION} question {index}") for index in range(30)]
    await asyncio.gather(*(events.mention(message) for message in messages))
    for message in messages:
        await fake_slack.wait_for_replies("C1", message["ts"])
    await bot.runtime.tasks.wait()
    assert [len(fake_slack.calls_to(method)) for method in ("auth.test", "users.info", "conversations.info")] == [
        1,
        1,
        1,
    ]


async def test_an_unreadable_thread_still_gets_an_answer(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    """If Slack will not return the thread, the question is answered on its own rather than not at all."""
    fake_slack.faults["conversations.replies"] = [Fault(error="thread_not_found")]
    parent = fake_slack.post_as_person("C1", "UBOB", "earlier")
    message = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} still there?", thread_ts=parent["ts"])
    await events.mention(message)
    assert await fake_slack.wait_for_replies("C1", parent["ts"]) == ["You said: Alice: still there?"]
    assert fake_slack.faults["conversations.replies"] == [], "the thread read was refused"


async def test_a_dropped_slack_connection_is_retried(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    fake_slack.faults["chat.startStream"] = [Fault(drop_connection=True)]
    message = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} hi")
    await events.mention(message)
    assert await fake_slack.wait_for_replies("C1", message["ts"]) == ["You said: Alice: hi"]
    # The start may have landed: it is looked for in the thread, not repeated blindly.
    assert len(fake_slack.calls_to("chat.startStream")) == 1
    assert len(fake_slack.calls_to("conversations.replies")) == 1


@pytest.mark.parametrize(
    "faults",
    [
        {"assistant.threads.setStatus": [Fault(drop_connection=True)] * 3},
        {"assistant.threads.setStatus": [Fault(hang=True)]},
        {"assistant.threads.setStatus": [Fault(error="not_allowed")], "reactions.add": [Fault(hang=True)]},
        {"assistant.threads.setStatus": [Fault(error="not_allowed")], "reactions.add": [Fault(status=500)] * 3},
    ],
    ids=["status_dropped", "status_hung", "reaction_hung", "reaction_failing"],
)
async def test_a_failing_progress_status_never_costs_the_answer(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, faults: dict[str, list[Fault]]
) -> None:
    """Status and reactions are decoration: dropped, hung or failing, the question is still answered."""
    fake_slack.faults.update(faults)
    message = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} hi")
    await events.mention(message)
    assert await fake_slack.wait_for_replies("C1", message["ts"]) == ["You said: Alice: hi"]
