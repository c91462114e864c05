"""Live answers: streamed into Slack as the model writes, paced, split, and ended honestly."""

from __future__ import annotations

import json
import re

import aiohttp
import pytest

from bot.app.runtime import EVENTS_PATH
from bot.safe_text import WORD_JOINER
from tests.conftest import BotFactory, RunningBot
from tests.fakes.events import EventSender
from tests.fakes.faults import Fault
from tests.fakes.model_api import FakeModel, Flood, RawStream, Reply, WholeReply, error_event
from tests.fakes.slack_api import BOT_USER_ID, FakeSlack

MENTION = f"<@{BOT_USER_ID}>"


async def ask(fake_slack: FakeSlack, events: EventSender, text: str = "tell me", channel: str = "C1") -> str:
    message = fake_slack.post_as_person(channel, "UALICE", f"{MENTION} {text}")
    await events.mention(message)
    return str(message["ts"])


async def test_partial_text_is_visible_before_the_model_finishes(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    """People read the answer while it is being written."""
    fake_model.script.append(Reply(["The first part. ", "The second part. ", "The end."], delay=0.5))
    thread = await ask(fake_slack, events)
    await fake_slack.wait_for(lambda: any(m.get("visible") for m in fake_slack.bot_messages("C1", thread)))
    assert fake_model.in_flight == 1, "text showed while the model was still writing"
    assert fake_slack.bot_replies("C1", thread) == ["The first part. "]
    assert await fake_slack.wait_for_replies("C1", thread) == ["The first part. The second part. The end."]


async def test_the_thread_shows_the_bot_is_working_at_once(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    """The "is thinking…" status is set before the thread is read or the model is even asked."""
    parent = fake_slack.post_as_person("C1", "UBOB", "some context")
    follow_up = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} tell me", thread_ts=parent["ts"])
    fake_model.script.append(Reply(["ok"], delay=0.2))
    await events.mention(follow_up)
    thread = str(parent["ts"])
    await fake_slack.wait_for_replies("C1", thread)
    assert fake_slack.statuses == [("C1", thread, "is thinking…")]
    status_call = next(i for i, call in enumerate(fake_slack.calls) if call.method == "assistant.threads.setStatus")
    read_call = next(i for i, call in enumerate(fake_slack.calls) if call.method == "conversations.replies")
    assert status_call < read_call


async def test_a_reaction_shows_progress_where_thread_status_is_refused(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, bot: RunningBot
) -> None:
    fake_slack.refused_methods.add("assistant.threads.setStatus")
    fake_model.script.append(Reply(["ok"], delay=0.3))
    thread = await ask(fake_slack, events)
    question = fake_slack.thread("C1", thread)[0]
    await fake_slack.wait_for(lambda: "eyes" in question.get("reactions", []))
    await fake_slack.wait_for_replies("C1", thread)
    await bot.runtime.tasks.wait()
    assert question["reactions"] == []


async def test_a_long_stream_is_paced_to_about_one_update_a_second(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    """Two seconds of token-by-token streaming cost a handful of Slack calls, not one per token."""
    tokens = [f"word{index} " for index in range(200)]
    fake_model.script.append(Reply(tokens, delay=0.01))
    thread = await ask(fake_slack, events)
    [reply] = await fake_slack.wait_for_replies("C1", thread, within_seconds=15)
    assert reply == "".join(tokens)
    writes = [c for c in fake_slack.calls if c.method in ("chat.startStream", "chat.appendStream", "chat.stopStream")]
    assert 3 <= len(writes) <= 6


async def test_markdown_reaches_slack_as_markdown(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    """Slack renders standard Markdown in streamed messages, so the model's Markdown is sent as is."""
    markdown = "# Plan\n\n1. **Bold** step\n2. `code` & <tags>\n\n```python\nprint('hi')\n```"
    fake_model.script.append(Reply([markdown[:20], markdown[20:]]))
    thread = await ask(fake_slack, events)
    assert await fake_slack.wait_for_replies("C1", thread) == [markdown]


async def test_a_16000_character_answer_arrives_whole_and_in_order(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    paragraphs = [f"Paragraph {index}: " + "lorem ipsum " * 30 for index in range(45)]
    text = "\n\n".join(paragraph.strip() for paragraph in paragraphs)
    assert len(text) > 16_000
    fake_model.script.append(Reply([text[i : i + 500] for i in range(0, len(text), 500)], delay=0.01))
    thread = await ask(fake_slack, events)
    replies = await fake_slack.wait_for_replies("C1", thread, count=2)
    assert len(replies) == 2
    assert all(len(reply) <= 12_000 for reply in replies)
    assert "\n\n".join(reply.strip() for reply in replies) == text
    assert replies[1].startswith("Paragraph")


async def test_length_limit_is_said(fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender) -> None:
    fake_model.script.append(Reply(["A long story that"], finish_reason="length"))
    thread = await ask(fake_slack, events)
    [reply] = await fake_slack.wait_for_replies("C1", thread)
    assert reply.startswith("A long story that\n\n")
    assert "reached the length limit" in reply


async def test_a_stream_cut_short_after_text_is_marked_interrupted(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    """An answer that breaks off is never shown as complete."""
    fake_model.script.append(RawStream(['data: {"choices":[{"delta":{"content":"Half an ans"}}]}\n\n']))
    thread = await ask(fake_slack, events)
    [reply] = await fake_slack.wait_for_replies("C1", thread)
    assert reply.startswith("Half an ans\n\n:warning: _The answer was interrupted")
    assert "Please ask again" in reply


async def test_a_dropped_connection_mid_stream_is_marked_interrupted(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    fake_model.script.append(
        RawStream(['data: {"choices":[{"delta":{"content":"Some text"}}]}\n\n'], drop_connection=True)
    )
    thread = await ask(fake_slack, events)
    [reply] = await fake_slack.wait_for_replies("C1", thread)
    assert reply.startswith("Some text\n\n:warning: _The answer was interrupted")


async def test_a_stream_that_never_sends_a_line_break_is_broken_off_and_marked_interrupted(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    """Megabytes without a line break grew the bot's memory without limit: past 1 MB the stream is broken
    off, what was shown stays, and the answer says it was interrupted."""
    fake_model.script.append(Flood(b'data: {"choices":[{"delta":{"content":"Some text"}}]}\n\ndata: '))
    thread = await ask(fake_slack, events)
    [reply] = await fake_slack.wait_for_replies("C1", thread)
    assert reply == (
        "Some text\n\n:warning: _The answer was interrupted (the answer stream broke off (a line of over 1 MB)). "
        "Please ask again._"
    )
    await fake_model.wait_for_flood()
    assert fake_model.flooded_bytes[0] < 64 * 1024 * 1024, "the rest of the stream was read"
    assert len(fake_model.requests) == 1


async def test_an_error_event_mid_answer_says_what_happened_not_an_http_status(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    """The stream came with HTTP 200: its error event is named as what it is."""
    text = 'data: {"choices":[{"delta":{"content":"Some text"}}]}\n\n'
    fake_model.script.append(RawStream([text, error_event("Upstream model crashed.", type="server_error")]))
    thread = await ask(fake_slack, events)
    [reply] = await fake_slack.wait_for_replies("C1", thread)
    assert reply == (
        "Some text\n\n:warning: _The answer was interrupted (the model service reported an error mid-answer: "
        "Upstream model crashed.). Please ask again._"
    )


async def test_an_error_event_before_any_text_says_what_happened_not_an_http_status(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    fake_model.script += [RawStream([error_event("Upstream model crashed.", type="server_error")])] * 3
    thread = await ask(fake_slack, events)
    [reply] = await fake_slack.wait_for_replies("C1", thread)
    assert reply == (
        ":warning: Sorry, the model service reported an error mid-answer: Upstream model crashed. "
        "Please try again in a moment."
    )


async def test_a_stream_broken_before_any_text_is_retried(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    fake_model.script += [RawStream([": nothing yet\n\n"], drop_connection=True), Reply(["Complete answer."])]
    thread = await ask(fake_slack, events)
    assert await fake_slack.wait_for_replies("C1", thread) == ["Complete answer."]
    assert len(fake_model.requests) == 2


async def test_refused_streaming_falls_back_to_one_updated_message(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, bot: RunningBot
) -> None:
    """Where Slack refuses chat.startStream, the answer is posted and then updated, rendered from Markdown."""
    fake_slack.refused_methods.add("chat.startStream")
    fake_model.script.append(Reply(["**Bold** start, ", "then [a link](https://x.io) ", "& the end."], delay=0.4))
    thread = await ask(fake_slack, events)
    await fake_slack.wait_for_replies("C1", thread)
    await bot.runtime.tasks.wait()
    [message] = fake_slack.bot_messages("C1", thread)
    assert message["visible"] == "**Bold** start, then [a link](https://x.io) & the end."
    assert message["text"] == "*Bold* start, then <https://x.io|a link> &amp; the end."
    assert len(message["revisions"]) >= 2, "the message grew while the model wrote"
    assert len(fake_slack.calls_to("chat.startStream")) == 1

    second = await ask(fake_slack, events, "again")
    await fake_slack.wait_for_replies("C1", second)
    await bot.runtime.tasks.wait()
    assert len(fake_slack.calls_to("chat.startStream")) == 1, "a refusal is remembered"


async def test_an_append_refused_midway_continues_by_updating_and_stops_the_stream(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, bot: RunningBot
) -> None:
    """The message ends complete and no longer streaming: the stream is stopped, the rest set by chat.update."""
    fake_slack.faults["chat.appendStream"] = [Fault(error="not_authed")]
    words = ["one ", "two ", "three ", "four ", "five ", "six"]
    fake_model.script.append(Reply(words, delay=0.3))
    thread = await ask(fake_slack, events)
    await fake_slack.wait_for(lambda: len(fake_slack.calls_to("chat.update")) >= 1)
    await bot.runtime.tasks.wait()
    [message] = fake_slack.bot_messages("C1", thread)
    assert message["streaming"] is False
    assert message["visible"] == "".join(words)
    assert fake_slack.streaming_messages() == []


async def test_dm_answers_stream_too(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    bot = await bot_factory(SLACK_UPDATE_INTERVAL_SECONDS="0.1")
    fake_model.script.append(Reply(["Hi ", "there"], delay=0.2))
    message = fake_slack.post_as_person("D1", "UALICE", "hello")
    await EventSender(bot.url + EVENTS_PATH, http).message(message, channel_type="im")
    assert await fake_slack.wait_for_replies("D1", message["ts"]) == ["Hi there"]
    assert fake_slack.calls_to("chat.startStream")[0].params["channel"] == "D1"


async def test_text_arriving_while_slack_is_slow_is_not_lost(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    """The model keeps writing while a Slack call is in flight; every piece still reaches the thread once."""
    fake_slack.latency = {"chat.startStream": 0.3, "chat.appendStream": 0.3}
    pieces = [f"piece{index} " for index in range(60)]
    fake_model.script.append(Reply(pieces, delay=0.02))
    thread = await ask(fake_slack, events)
    assert await fake_slack.wait_for_replies("C1", thread) == ["".join(pieces)]


async def test_the_updating_fallback_loses_nothing_when_slack_is_slow(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    bot = await bot_factory(SLACK_STREAMING="false")
    events = EventSender(bot.url + EVENTS_PATH, http)
    fake_slack.latency = {"chat.postMessage": 0.3, "chat.update": 0.3}
    pieces = [f"piece{index} " for index in range(60)]
    fake_model.script.append(Reply(pieces, delay=0.02))
    thread = await ask(fake_slack, events)
    await fake_slack.wait_for(lambda: fake_slack.bot_replies("C1", thread) == ["".join(pieces)])
    await bot.runtime.tasks.wait()
    assert fake_slack.bot_replies("C1", thread) == ["".join(pieces)]
    assert fake_slack.calls_to("chat.startStream") == []


SENTENCES = "".join(f"This is sentence number {index} of a long answer without breaks. " for index in range(300))
WORDS = "".join(f"word{index} " for index in range(2_500))


@pytest.mark.parametrize("streaming", ["true", "false"], ids=["streamed", "updated"])
@pytest.mark.parametrize(("text", "ending"), [(SENTENCES, ". "), (WORDS, " ")], ids=["sentences", "words"])
async def test_a_long_answer_without_paragraphs_is_cut_between_sentences_or_words(
    fake_slack: FakeSlack,
    fake_model: FakeModel,
    bot_factory: BotFactory,
    http: aiohttp.ClientSession,
    streaming: str,
    text: str,
    ending: str,
) -> None:
    """Past Slack's 12,000 characters, the next message starts at a sentence (else a word), never mid-word."""
    bot = await bot_factory(SLACK_STREAMING=streaming, SLACK_UPDATE_INTERVAL_SECONDS="0.1")
    events = EventSender(bot.url + EVENTS_PATH, http)
    fake_model.script.append(Reply([text[i : i + 1000] for i in range(0, len(text), 1000)], delay=0.01))
    thread = await ask(fake_slack, events)
    await fake_slack.wait_for_replies("C1", thread, count=2)
    await bot.runtime.tasks.wait()
    replies = fake_slack.bot_replies("C1", thread)
    assert "".join(replies) == text
    assert all(len(reply) <= 12_000 for reply in replies)
    assert all(reply.endswith(ending) for reply in replies)


async def test_a_whole_answer_in_one_piece_is_shown_as_it_is(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    """A server that ignores `stream` sends 11,000 characters at once, with no paragraph break: no note is
    glued to it, and it is not called empty."""
    text = ("All of it in one piece, " * 460).strip()
    body = {"choices": [{"message": {"content": text}, "finish_reason": "stop"}], "usage": {}}
    fake_model.script.append(WholeReply(200, json.dumps(body)))
    thread = await ask(fake_slack, events)
    assert await fake_slack.wait_for_replies("C1", thread) == [text]


async def test_a_channel_that_refuses_streaming_does_not_turn_it_off_elsewhere(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, bot: RunningBot
) -> None:
    fake_slack.faults["chat.startStream"] = [Fault(error="not_allowed")]
    first = await ask(fake_slack, events, channel="C1")
    await fake_slack.wait_for_replies("C1", first)
    elsewhere = await ask(fake_slack, events, channel="C2")
    await fake_slack.wait_for_replies("C2", elsewhere)
    again = await ask(fake_slack, events, "again", channel="C1")
    await fake_slack.wait_for_replies("C1", again)
    await bot.runtime.tasks.wait()
    assert [call.params["channel"] for call in fake_slack.calls_to("chat.startStream")] == ["C1", "C2"]
    assert fake_slack.bot_messages("C2", elsewhere)[0].get("streaming") is False, "C2 still streams"


BROADCASTS = re.compile(r"<!|(?<![\w@])@(?:here|channel|everyone)\b", re.IGNORECASE)


@pytest.mark.parametrize("streaming", [True, False], ids=["markdown_text", "fallback"])
async def test_broadcasts_in_the_models_words_ping_no_one(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, bot: RunningBot, streaming: bool
) -> None:
    """`<!channel>`, `<!here>`, `<!subteam^…>` and a bare @here are shown as written but inert, streamed or
    not, even when the model's pieces cut them in two; a mention of one person keeps working."""
    if not streaming:
        fake_slack.refused_methods.add("chat.startStream")
    pieces = ["Heads up <!chan", "nel> and @he", "re, @channel: ping <!subteam^S1|@devs> or <!here>. Ask <@UBOB>."]
    fake_model.script.append(Reply(pieces, delay=0.2))
    thread = await ask(fake_slack, events)
    await fake_slack.wait_for_replies("C1", thread)
    await bot.runtime.tasks.wait()
    [reply] = fake_slack.bot_replies("C1", thread)
    [posted] = fake_slack.bot_messages("C1", thread)
    assert reply.replace(WORD_JOINER, "") == "".join(pieces)
    sent = [
        str(call.params.get(field) or "")
        for call in fake_slack.calls
        if call.method.startswith("chat.")
        for field in ("markdown_text", "text", "blocks")
    ]
    for shown in (reply, posted["text"], *posted["revisions"], *sent):
        assert not BROADCASTS.search(shown), shown
    assert "<@UBOB>" in reply
    if not streaming:
        assert "<@UBOB>" in posted["text"]  # the fallback's mrkdwn (streamed text's is Slack's own)
