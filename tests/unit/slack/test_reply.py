"""The reply's state machine, driven through every failure each Slack call can have, and through shutdown.

Its rules (bot/slack/reply.py): every started stream is stopped; text accepted from the model is shown
exactly once; a note is never glued to text. Checked against what the fake Slack holds at the end.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import notices
from bot.slack.errors import SLACK_FAILURES
from bot.slack.rendering import CardText, MessageSplitter, TaskCard
from bot.slack.reply import (
    CARD_REFUSALS,
    TRANSITIONS,
    Event,
    IllegalTransition,
    ReplyTarget,
    SlackCapabilities,
    SlackReply,
    State,
)
from tests.fakes.faults import Fault
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack

PIECES = ["First part of the answer. ", "Second part, ", "and the third. ", "Fourth and last piece."]
NOTE = "_(a note about this answer)_"
RESTART = ":arrows_counterclockwise: restarting"
BUTTONS = [{"type": "context_actions", "elements": [{"type": "feedback_buttons", "action_id": "feedback"}]}]
METHODS = ["chat.startStream", "chat.appendStream", "chat.stopStream", "chat.postMessage", "chat.update"]
FAILURES = {
    "refused": Fault(error="not_allowed"),
    "not_streaming": Fault(error="message_not_in_streaming_state"),
    "server_error": Fault(status=500),
    "dropped": Fault(drop_connection=True),
    "hung": Fault(hang=True),
}


@pytest.fixture
async def client(fake_slack: FakeSlack) -> AsyncWebClient:
    """No SDK retries: a fault is a failure the reply must get around (or report) itself."""
    # The SDK types `timeout` as int seconds; aiohttp takes a fraction.
    return AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.url, timeout=0.3, retry_handlers=[])  # type: ignore[arg-type]


def new_reply(client: AsyncWebClient, *, streaming: bool = True, limit: int = 12_000) -> SlackReply:
    target = ReplyTarget("C1", "1700000000.000001", "UALICE", "T0001")
    splitter = MessageSplitter(limit=limit, margin=limit // 5)
    return SlackReply(client, target, SlackCapabilities(streaming=streaming), splitter)


async def write_answer(reply: SlackReply, *, note: str | None = NOTE, blocks: list[dict[str, Any]] = BUTTONS) -> None:
    for piece in PIECES:
        reply.add(piece)
        await reply.flush()
    reply.add(" ")
    await reply.finish(note, blocks=blocks)


def squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def check_rules(
    fake_slack: FakeSlack, reply: SlackReply, expected: str, *, complete: bool, stoppable: bool = True
) -> None:
    """The three rules, on what Slack holds; `complete` when the reply claims to have shown everything.

    Where Slack refuses every stop (`stoppable` false) no stream can be stopped: each was still asked to."""
    messages = fake_slack.bot_messages("C1", "1700000000.000001")
    assert not stoppable or fake_slack.streaming_messages() == [], "every started stream is stopped"
    stopped = {str(call.params.get("ts")) for call in fake_slack.calls_to("chat.stopStream")}
    assert {m["ts"] for m in messages if "streaming" in m} <= stopped
    shown = "".join(message["visible"] for message in messages)
    if complete:
        assert squeezed(shown) == squeezed(expected), "everything accepted is shown, exactly once"
    else:
        assert squeezed(expected).startswith(squeezed(shown)), "nothing is shown twice or out of order"
    for message in messages:
        text = message["visible"]
        for note in (NOTE, RESTART):
            if note in text and not text.startswith(note):
                assert text[: text.index(note)].endswith("\n\n"), "a note starts its own paragraph"
    assert reply.state is State.CLOSED


PATHS = [(True, method) for method in METHODS[:3]] + [(False, method) for method in METHODS[3:]]


@pytest.mark.parametrize("limit", [12_000, 40], ids=["one_message", "many_messages"])
@pytest.mark.parametrize(("streaming", "method"), PATHS)
@pytest.mark.parametrize("failure", list(FAILURES))
@pytest.mark.parametrize("times", [1, 50], ids=["once", "always"])
async def test_every_failure_of_every_call_keeps_the_rules(
    fake_slack: FakeSlack, client: AsyncWebClient, streaming: bool, limit: int, method: str, failure: str, times: int
) -> None:
    fake_slack.faults[method] = [FAILURES[failure]] * times
    reply = new_reply(client, streaming=streaming, limit=limit)
    try:
        await write_answer(reply)
    except SLACK_FAILURES:
        complete = False
    else:
        complete = True
    stoppable = not (method == "chat.stopStream" and times > 1)
    check_rules(fake_slack, reply, "".join(PIECES) + "\n\n" + NOTE, complete=complete, stoppable=stoppable)


@pytest.mark.parametrize("method", ["chat.startStream", "chat.appendStream", "chat.stopStream"])
@pytest.mark.parametrize("failure", ["refused", "not_streaming", "server_error", "dropped", "hung"])
async def test_a_failed_stream_call_is_got_around(
    fake_slack: FakeSlack, client: AsyncWebClient, method: str, failure: str
) -> None:
    """A refused or lost start posts instead; a failed append or stop is repaired with chat.update: all shown."""
    fake_slack.faults[method] = [FAILURES[failure]]
    reply = new_reply(client)
    await write_answer(reply)
    check_rules(fake_slack, reply, "".join(PIECES) + "\n\n" + NOTE, complete=True)


async def test_a_refused_append_stops_the_stream_and_updates(fake_slack: FakeSlack, client: AsyncWebClient) -> None:
    fake_slack.faults["chat.appendStream"] = [Fault(error="message_not_in_streaming_state")]
    reply = new_reply(client)
    await write_answer(reply)
    [message] = fake_slack.bot_messages("C1", "1700000000.000001")
    assert message["streaming"] is False
    assert message["visible"] == "".join(PIECES) + " \n\n" + NOTE
    assert [c.method for c in fake_slack.calls if c.method.startswith("chat.")][:4] == [
        "chat.startStream",
        "chat.appendStream",
        "chat.stopStream",
        "chat.update",
    ]


@pytest.mark.parametrize("streaming", [True, False], ids=["streamed", "updated"])
@pytest.mark.parametrize("limit", [12_000, 40], ids=["one_message", "many_messages"])
async def test_blocks_go_under_the_last_message_only(
    fake_slack: FakeSlack, client: AsyncWebClient, streaming: bool, limit: int
) -> None:
    """Feedback buttons (or any blocks) show under the final message of a complete answer, on both paths."""
    reply = new_reply(client, streaming=streaming, limit=limit)
    await write_answer(reply, note=None)
    messages = fake_slack.bot_messages("C1", "1700000000.000001")
    assert [m.get("blocks", [])[1:] for m in messages] == [[]] * (len(messages) - 1) + [BUTTONS]
    assert squeezed("".join(m["visible"] for m in messages)) == squeezed("".join(PIECES))


async def test_blocks_go_under_an_answer_shown_only_at_the_end(fake_slack: FakeSlack, client: AsyncWebClient) -> None:
    """A whole answer that arrives at once is posted with its blocks in one call."""
    reply = new_reply(client)
    reply.add("The whole answer.")
    await reply.finish(blocks=BUTTONS)
    [message] = fake_slack.bot_messages("C1", "1700000000.000001")
    assert message["blocks"] == [{"type": "markdown", "text": "The whole answer."}, *BUTTONS]


async def test_a_stop_refused_keeps_the_blocks(fake_slack: FakeSlack, client: AsyncWebClient) -> None:
    fake_slack.faults["chat.stopStream"] = [Fault(error="message_not_in_streaming_state")]
    reply = new_reply(client)
    await write_answer(reply, note=None)
    [message] = fake_slack.bot_messages("C1", "1700000000.000001")
    assert message["blocks"][1:] == BUTTONS


@pytest.mark.parametrize(
    ("streaming", "faults"),
    [
        (True, {"chat.stopStream": [Fault(error="invalid_blocks")], "chat.update": [Fault(error="invalid_blocks")]}),
        (False, {"chat.update": [Fault(error="invalid_blocks")]}),
    ],
    ids=["streamed", "updated"],
)
async def test_refused_blocks_never_cost_the_answer(
    fake_slack: FakeSlack, client: AsyncWebClient, streaming: bool, faults: dict[str, list[Fault]]
) -> None:
    """Slack refuses the blocks on the closing call: the answer still ends whole, stream stopped."""
    reply = new_reply(client, streaming=streaming)
    for piece in PIECES:
        reply.add(piece)
        await reply.flush()
    fake_slack.faults.update(faults)
    await reply.finish(NOTE, blocks=BUTTONS)
    check_rules(fake_slack, reply, "".join(PIECES) + "\n\n" + NOTE, complete=True)


async def test_a_whole_answer_with_refused_blocks_is_posted_without_them(
    fake_slack: FakeSlack, client: AsyncWebClient
) -> None:
    fake_slack.faults["chat.postMessage"] = [Fault(error="invalid_blocks")]
    reply = new_reply(client)
    reply.add("The whole answer.")
    await reply.finish(blocks=BUTTONS)
    assert fake_slack.bot_replies("C1", "1700000000.000001") == ["The whole answer."]


@pytest.mark.parametrize("text", ["", "Some text", "```python\nprint(1)", "Ends with a line\n", "Ends\n\n"])
async def test_a_note_is_never_glued_to_text(fake_slack: FakeSlack, client: AsyncWebClient, text: str) -> None:
    """Whatever the text before it ends with (nothing, a word, an open code block), a note is its own paragraph."""
    reply = new_reply(client)
    reply.add(text)
    await reply.finish(NOTE)
    [message] = fake_slack.bot_messages("C1", "1700000000.000001")
    visible = message["visible"]
    assert visible == NOTE if not text else visible.endswith("\n\n" + NOTE)
    if text.startswith("```"):
        assert visible == text + "\n```\n\n" + NOTE


async def test_has_text_means_text_was_accepted(fake_slack: FakeSlack, client: AsyncWebClient) -> None:
    """Text held back (waiting for a good place to cut) counts: the answer is not "empty"."""
    reply = new_reply(client)
    reply.add("x " * 5_500)
    await reply.flush()
    assert fake_slack.bot_messages("C1", "1700000000.000001") == []
    assert reply.has_text


CANCEL_POINTS = [
    (True, "chat.startStream"),
    (True, "chat.appendStream"),
    (True, "chat.stopStream"),
    (True, "between calls"),
    (False, "chat.postMessage"),
    (False, "chat.update"),
    (False, "between calls"),
]


@pytest.mark.parametrize(("streaming", "method"), CANCEL_POINTS)
async def test_shutdown_at_any_call_leaves_no_stream_and_no_repeat(
    fake_slack: FakeSlack, client: AsyncWebClient, streaming: bool, method: str
) -> None:
    """Cancelled with a call in flight (or between calls), then told to say "restarting", as the answerer
    does: the stream is stopped, nothing shows twice, and a complete answer is not marked restarting."""
    reply = new_reply(client, streaming=streaming)
    accepted: list[str] = []
    between = asyncio.Event()

    async def answer() -> None:
        for piece in PIECES[:2]:
            accepted.append(piece)
            reply.add(piece)
            await reply.flush()
        between.set()
        await asyncio.sleep(60 if method == "between calls" else 0)
        accepted.append(PIECES[2])
        reply.add(PIECES[2])
        await reply.finish(NOTE)

    if method != "between calls":
        fake_slack.latency[method] = 0.1
    task = asyncio.create_task(answer())
    if method == "between calls":
        await between.wait()
    else:
        await fake_slack.wait_for(lambda: bool(fake_slack.calls_to(method)))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    fake_slack.latency.clear()
    completed = reply.state is State.CLOSED
    async with asyncio.timeout(3):
        await reply.finish(RESTART)
    if completed:
        check_rules(fake_slack, reply, "".join(PIECES[:3]) + "\n\n" + NOTE, complete=True)
    else:
        check_rules(fake_slack, reply, "".join(accepted) + "\n\n" + RESTART, complete=True)


def test_every_state_but_closed_can_be_closed_and_streaming_only_by_a_stop() -> None:
    """The table: a stream is left only through chat.stopStream, and CLOSED is final."""
    leaving_streaming = {event for (state, event), target in TRANSITIONS.items() if state is State.STREAMING}
    assert {event for event in leaving_streaming if TRANSITIONS[(State.STREAMING, event)] is not State.STREAMING} == {
        Event.STREAM_STOPPED,
        Event.STOP_FAILED,
    }
    assert not any(state is State.CLOSED for state, _ in TRANSITIONS)


async def test_an_illegal_move_names_state_and_event(client: AsyncWebClient) -> None:
    reply = new_reply(client)
    with pytest.raises(IllegalTransition, match=r"'chat\.appendStream' is not allowed in state 'nothing posted'"):
        reply._apply(Event.APPENDED)


def _refusal(code: str) -> SlackApiError:
    return SlackApiError(code, {"ok": False, "error": code})  # type: ignore[no-untyped-call]


def test_a_channel_refusal_is_remembered_for_that_channel_only() -> None:
    capabilities = SlackCapabilities()
    capabilities.learn("chat.startStream", "C1", _refusal("not_allowed"))
    assert not capabilities.allows("chat.startStream", "C1")
    assert capabilities.allows("chat.startStream", "C2")
    capabilities.learn("chat.startStream", "C2", _refusal("ratelimited"))
    assert capabilities.allows("chat.startStream", "C2"), "a passing refusal is not remembered"


def test_a_workspace_refusal_is_remembered_everywhere() -> None:
    capabilities = SlackCapabilities()
    capabilities.learn("chat.startStream", "C1", _refusal("missing_scope"))
    assert not capabilities.allows("chat.startStream", "C2")
    assert capabilities.allows("assistant.threads.setStatus", "C2")


# --- taking over an earlier attempt's message, and marking the answer ---------------------------------------


def reply_for_question(client: AsyncWebClient, adopt: list[str], taken: list[str]) -> SlackReply:
    target = ReplyTarget("C1", "1700000000.000001", "UALICE", "T0001", question_ts="1700000000.000001")
    return SlackReply(client, target, SlackCapabilities(), adopt=adopt, on_message=taken.append)


async def test_an_earlier_attempts_open_stream_is_stopped_and_its_text_replaced_by_the_whole_answer(
    fake_slack: FakeSlack, client: AsyncWebClient
) -> None:
    earlier = SlackReply(client, ReplyTarget("C1", "1700000000.000001", "UALICE", "T0001"), SlackCapabilities())
    earlier.add("Half an answ")
    await earlier.flush()
    [orphan] = earlier.message_ts
    taken: list[str] = []
    reply = reply_for_question(client, [orphan], taken)
    await write_answer(reply)
    assert taken == [orphan]
    [message] = fake_slack.bot_messages("C1", "1700000000.000001")
    assert not message["streaming"]
    assert message["visible"] == "".join(PIECES) + " \n\n" + NOTE
    assert message["metadata"] == {"event_type": "thread_answer", "event_payload": {"question_ts": "1700000000.000001"}}


async def test_an_earlier_attempts_message_that_is_gone_is_replaced_by_a_new_one(
    fake_slack: FakeSlack, client: AsyncWebClient
) -> None:
    taken: list[str] = []
    reply = reply_for_question(client, ["1700000000.999999"], taken)
    await write_answer(reply)
    assert len(taken) == 1
    assert taken != ["1700000000.999999"]
    assert fake_slack.bot_replies("C1", "1700000000.000001") == ["".join(PIECES) + " \n\n" + NOTE]


async def test_only_the_call_that_completes_an_answer_marks_it_and_a_handed_on_reply_is_not_marked(
    fake_slack: FakeSlack, client: AsyncWebClient
) -> None:
    reply = reply_for_question(client, [], [])
    reply.add("Half an answ")
    await reply.flush()
    await reply.finish("_Continuing…_", complete=False)
    marked = [call.method for call in fake_slack.calls if call.params.get("metadata")]
    assert marked == []
    assert "metadata" not in fake_slack.bot_messages("C1", "1700000000.000001")[0]
    again = reply_for_question(client, [], [])
    await write_answer(again)
    assert [call.method for call in fake_slack.calls if call.params.get("metadata")] == ["chat.stopStream"]


# --- task cards -----------------------------------------------------------------------------------------

LINE = "\n\n_:white_check_mark: Used order_status (orders)_\n\n"
RUNNING = CardText("", TaskCard("tool-1", "order_status (orders)", "in_progress"))
DONE = CardText(LINE, TaskCard("tool-1", "order_status (orders)", "complete", "Shipped.", (("https://x/1", "#a"),)))


async def write_answer_with_card(reply: SlackReply, *, text_first: bool) -> None:
    """A tool call's card in progress, then complete, among the pieces (or before any: it starts the stream)."""
    pieces = list(PIECES)
    if text_first:
        reply.add(pieces.pop(0))
        await reply.flush()
    reply.add_task(RUNNING)
    await reply.flush()
    reply.add_task(DONE)
    for piece in pieces:
        reply.add(piece)
        await reply.flush()
    await reply.finish(NOTE, blocks=BUTTONS)


def cards_shown(fake_slack: FakeSlack) -> list[dict[str, Any]]:
    return fake_slack.task_cards("C1", "1700000000.000001")


@pytest.mark.parametrize("text_first", [True, False], ids=["card_after_text", "card_first"])
@pytest.mark.parametrize("method", ["chat.startStream", "chat.appendStream", "chat.stopStream", "chat.update"])
@pytest.mark.parametrize("failure", list(FAILURES))
@pytest.mark.parametrize("times", [1, 50], ids=["once", "always"])
async def test_a_card_through_every_failure_keeps_the_rules_and_is_shown_as_a_card_or_its_line(
    fake_slack: FakeSlack, client: AsyncWebClient, method: str, failure: str, times: int, text_first: bool
) -> None:
    """Every stream stopped; the model's text shown exactly once; the call's outcome shown, as a card or as its
    line (a lost card may have landed, so both may show), its line at most once."""
    fake_slack.faults[method] = [FAILURES[failure]] * times
    reply = new_reply(client)
    try:
        await write_answer_with_card(reply, text_first=text_first)
    except SLACK_FAILURES:
        complete = False
    else:
        complete = True
    messages = fake_slack.bot_messages("C1", "1700000000.000001")
    shown = "".join(message["visible"] for message in messages)
    assert shown.count(LINE.strip()) <= 1
    without_line = shown.replace(LINE.strip(), "")
    stoppable = not (method == "chat.stopStream" and times > 1)
    assert not stoppable or fake_slack.streaming_messages() == []
    expected = "".join(PIECES) + NOTE
    if complete:
        assert squeezed(without_line) == squeezed(expected)
        done = [card for card in cards_shown(fake_slack) if card["status"] == "complete"]
        assert done or LINE.strip() in shown, "the call's outcome is shown"
    else:
        assert squeezed(expected).startswith(squeezed(without_line))
    assert reply.state is State.CLOSED


async def test_a_card_is_sent_in_its_place_among_the_text_and_updated_in_place(
    fake_slack: FakeSlack, client: AsyncWebClient
) -> None:
    reply = new_reply(client)
    await write_answer_with_card(reply, text_first=True)
    calls = [(call.method, call.params.get("markdown_text"), call.params.get("chunks")) for call in fake_slack.calls]
    assert calls[0] == ("chat.startStream", PIECES[0], None)
    assert calls[1] == ("chat.appendStream", None, [RUNNING.card.chunk()])
    assert calls[2] == ("chat.appendStream", None, [DONE.card.chunk()])
    [message] = fake_slack.bot_messages("C1", "1700000000.000001")
    assert message["visible"].startswith(PIECES[0] + "\n\n" + PIECES[1])  # the text after a card: a new paragraph
    assert cards_shown(fake_slack) == [DONE.card.chunk()]
    assert DONE.card.chunk()["sources"] == [{"type": "url", "url": "https://x/1", "text": "#a"}]


async def test_a_card_first_starts_the_stream_and_the_text_continues_its_message(
    fake_slack: FakeSlack, client: AsyncWebClient
) -> None:
    reply = new_reply(client)
    await write_answer_with_card(reply, text_first=False)
    [message] = fake_slack.bot_messages("C1", "1700000000.000001")
    first = fake_slack.calls[0]
    assert (first.method, first.params["chunks"]) == ("chat.startStream", [RUNNING.card.chunk()])
    assert message["visible"] == "".join(PIECES) + "\n\n" + NOTE
    assert cards_shown(fake_slack) == [DONE.card.chunk()]


@pytest.mark.parametrize("text_first", [True, False], ids=["card_after_text", "card_first"])
async def test_cards_refused_by_a_stream_that_takes_text_become_lines_for_the_process(
    fake_slack: FakeSlack, client: AsyncWebClient, text_first: bool
) -> None:
    """Refused in CARD_REFUSALS answers in a row: Slack refuses cards as such, not one card."""
    fake_slack.refuses_chunks = "invalid_arguments"
    capabilities = SlackCapabilities()
    for answer in range(1, CARD_REFUSALS + 1):
        assert capabilities.task_cards is True
        target = ReplyTarget("C1", f"1700000000.00000{answer}", "UALICE", "T0001")
        await write_answer_with_card(SlackReply(client, target, capabilities), text_first=text_first)
    [message] = fake_slack.bot_messages("C1", "1700000000.000001")
    assert LINE.strip() in message["visible"]
    assert squeezed(message["visible"].replace(LINE.strip(), "")) == squeezed("".join(PIECES) + NOTE)
    assert capabilities.task_cards is False
    tried = len([call for call in fake_slack.calls if call.params.get("chunks")])
    later = SlackReply(client, ReplyTarget("C1", "1700000000.000009", "UALICE", "T0001"), capabilities)
    await write_answer_with_card(later, text_first=text_first)
    assert len([call for call in fake_slack.calls if call.params.get("chunks")]) == tried
    assert LINE.strip() in fake_slack.bot_replies("C1", "1700000000.000009")[0]


async def test_one_card_slack_refuses_does_not_turn_cards_off_for_everyone(
    fake_slack: FakeSlack, client: AsyncWebClient
) -> None:
    """A card Slack refuses for what it holds (a tool's odd source URL, say) while the next card is taken: the
    card is a line this once, and cards stay on for the next answers."""
    refused: list[dict[str, Any]] = []

    def refuse_the_first_end(chunk: dict[str, Any]) -> bool:
        if chunk.get("status") == "complete" and not refused:
            refused.append(chunk)
            return True
        return False

    fake_slack.refuses_chunk = refuse_the_first_end
    capabilities = SlackCapabilities()
    reply = SlackReply(client, ReplyTarget("C1", "1700000000.000001", "UALICE", "T0001"), capabilities)
    await write_answer_with_card(reply, text_first=True)
    assert refused
    assert LINE.strip() in fake_slack.bot_replies("C1", "1700000000.000001")[0], "the refused card's line"
    assert capabilities.task_cards is True
    later = SlackReply(client, ReplyTarget("C1", "1700000000.000009", "UALICE", "T0001"), capabilities)
    await write_answer_with_card(later, text_first=True)
    assert fake_slack.task_cards("C1", "1700000000.000009") == [DONE.card.chunk()]


async def test_a_card_refused_for_another_reason_leaves_cards_on(fake_slack: FakeSlack, client: AsyncWebClient) -> None:
    """A stream that refuses the card's line too (the stream itself is refused): cards are not blamed."""
    fake_slack.faults["chat.appendStream"] = [Fault(error="not_allowed")] * 50
    capabilities = SlackCapabilities()
    reply = SlackReply(client, ReplyTarget("C1", "1700000000.000001", "UALICE", "T0001"), capabilities)
    await write_answer_with_card(reply, text_first=True)
    assert capabilities.task_cards is True
    assert LINE.strip() in fake_slack.bot_replies("C1", "1700000000.000001")[0]


async def test_a_posted_answer_takes_the_line_and_never_a_card(fake_slack: FakeSlack, client: AsyncWebClient) -> None:
    reply = new_reply(client, streaming=False)
    await write_answer_with_card(reply, text_first=True)
    assert [call for call in fake_slack.calls if call.params.get("chunks")] == []
    [text] = fake_slack.bot_replies("C1", "1700000000.000001")
    assert text == PIECES[0] + LINE + "".join(PIECES[1:]) + "\n\n" + NOTE


async def test_a_repaired_stream_keeps_its_cards_as_lines(fake_slack: FakeSlack, client: AsyncWebClient) -> None:
    """A stream whose later append is lost is set whole with chat.update, which replaces its cards: the
    finished card's line takes its place."""
    reply = new_reply(client)
    reply.add(PIECES[0])
    await reply.flush()
    reply.add_task(DONE)
    await reply.flush()
    fake_slack.faults["chat.appendStream"] = [Fault(status=500)]
    reply.add(PIECES[1])
    await reply.flush()
    await reply.finish(NOTE)
    [text] = fake_slack.bot_replies("C1", "1700000000.000001")
    assert text == PIECES[0] + LINE + PIECES[1] + "\n\n" + NOTE


@pytest.mark.parametrize("failure", ["ratelimited", "server_error"])
async def test_a_card_whose_end_was_not_shown_is_not_left_in_progress(
    fake_slack: FakeSlack, client: AsyncWebClient, failure: str
) -> None:
    """The card in progress was shown; the append of its end failed, and its line stands in. The card must not
    spin on for ever in the finished answer: the stream's stop ends it."""
    reply = new_reply(client)
    reply.add(PIECES[0])
    await reply.flush()
    reply.add_task(RUNNING)
    await reply.flush()
    fake_slack.faults["chat.appendStream"] = [
        Fault(error="ratelimited") if failure == "ratelimited" else Fault(status=500)
    ]
    reply.add_task(DONE)
    for piece in PIECES[1:]:
        reply.add(piece)
        await reply.flush()
    await reply.finish(NOTE)
    assert [card["status"] for card in cards_shown(fake_slack)] == ["complete"]
    [message] = fake_slack.bot_messages("C1", "1700000000.000001")
    assert message["visible"].count(LINE.strip()) == 1


async def test_a_card_still_in_progress_when_the_answer_stops_is_marked_as_not_finished(
    fake_slack: FakeSlack, client: AsyncWebClient
) -> None:
    """A restart (or the model failing) ends the answer while its tool runs: the card says so as it stops."""
    reply = new_reply(client)
    reply.add(PIECES[0])
    await reply.flush()
    reply.add_task(RUNNING)
    await reply.flush()
    await reply.finish(notices.RESTARTING)
    [card] = cards_shown(fake_slack)
    assert (card["status"], card["output"]) == ("error", notices.TOOL_CARD_UNFINISHED)
    assert fake_slack.streaming_messages() == []
