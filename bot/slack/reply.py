"""One answer's messages in a Slack thread, as one explicit state machine.

An answer is streamed with Slack's streaming API (`chat.startStream` / `appendStream` / `stopStream`),
or, where Slack refuses that, posted once and grown with `chat.update` (Markdown in a `markdown` block).
An answer longer than one message continues in the next; each message goes through the same states:

    NOTHING_POSTED ──STREAM_STARTED──▶ STREAMING ──APPENDED──▶ STREAMING
        │    │                            │
        │    └──POSTED / ADOPTED──▶ UPDATING ◀──┘ STREAM_STOPPED / STOP_FAILED (chat.stopStream was called)
        │                 │  ▲  │
        │                 │  └──┘ UPDATED
        │                 ├──NEXT_MESSAGE──▶ NOTHING_POSTED
        └──CLOSE──────────┴──CLOSE──▶ CLOSED

ADOPTED takes over a message an earlier attempt at the same answer left (a process that stopped mid-answer):
its stream is stopped if it still runs, and chat.update sets its whole text, so the thread shows one answer.
The closing call carries the answer's metadata (bot/slack/answered.py): only a complete answer is marked.

Every event but NEXT_MESSAGE and CLOSE is a Slack call, and its transition is taken only after the call
returned. Only `_apply` changes the state, and it refuses a move that is not in `TRANSITIONS`.

A tool call shows as a task card (bot/slack/rendering.py): a `task_update` chunk, placed among the text in the
order it came, that starts the stream or is appended to it (APPENDED, the text unchanged). Where a card cannot
be shown (Slack refuses chunks, which is then remembered for the process; a posted or adopted message), its
text line is shown in its place; a card in progress has none, and is simply not shown. A stream never stops
with a card in progress: its end (whose append failed) or an error (a tool cut short) is appended first.

Rules this module keeps (asserted in tests/unit/slack/test_reply.py, through every failure of every call):
1. Every started stream is stopped: STREAMING is left only through a `chat.stopStream` call, whatever
   happened before it (a refused or lost append, a failed call, a shutdown).
2. Text accepted from the model is shown exactly once: appends are confirmed before they count, a lost
   append is repaired by `chat.update` with the message's whole text, a lost start or post (it may have
   landed) is looked for in the thread before another is posted, and a call interrupted by shutdown is
   let land first (briefly), so the machine always knows what Slack shows.
3. A note is never glued to text: it starts its own paragraph.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot import notices
from bot.slack.answered import answer_metadata
from bot.slack.errors import SLACK_FAILURES, error_name, slack_error_code
from bot.slack.rendering import ERROR, CardText, MessageSplitter, Segment, TaskCard, to_mrkdwn

logger = logging.getLogger(__name__)

Blocks = Sequence[dict[str, Any]]

# Plain `text` beside the blocks is for notifications and old clients; Slack advises under 4,000 characters.
FALLBACK_TEXT_LIMIT = 3_900
# A call in flight when the turn is cancelled (shutdown) gets this long to land, so its outcome is known.
LANDING_SECONDS = 1.0
# Refusals that hold for the whole workspace (the app's token, scopes or plan) ...
WORKSPACE_REFUSALS = frozenset({"unknown_method", "not_allowed_token_type", "missing_scope", "feature_not_enabled"})
# ... and those that hold for one channel (its settings, or the bot's membership).
CHANNEL_REFUSALS = frozenset({"not_allowed", "no_permission"})
EVERYWHERE = "*"
# A post whose answer is lost is looked for in the thread and made again, up to this many times in all.
POST_ATTEMPTS = 3
# A refusal of a card that says nothing about chunks: the same card's line is tried, cards stay on.
NOT_ABOUT_CHUNKS = frozenset({"ratelimited", "message_not_in_streaming_state", "message_not_found"})
# Task cards refused in a row (none taken between) before they are taken for refused by this Slack.
CARD_REFUSALS = 3


class State(enum.Enum):
    NOTHING_POSTED = "nothing posted"
    STREAMING = "streaming"
    UPDATING = "updating"
    CLOSED = "closed"


class Event(enum.Enum):
    STREAM_STARTED = "chat.startStream"
    POSTED = "chat.postMessage"
    ADOPTED = "chat.update of an earlier attempt's message"
    APPENDED = "chat.appendStream"
    STREAM_STOPPED = "chat.stopStream"
    STOP_FAILED = "chat.stopStream failed"
    UPDATED = "chat.update"
    NEXT_MESSAGE = "next message"
    CLOSE = "close"


TRANSITIONS: dict[tuple[State, Event], State] = {
    (State.NOTHING_POSTED, Event.STREAM_STARTED): State.STREAMING,
    (State.NOTHING_POSTED, Event.POSTED): State.UPDATING,
    (State.NOTHING_POSTED, Event.ADOPTED): State.UPDATING,
    (State.NOTHING_POSTED, Event.CLOSE): State.CLOSED,
    (State.STREAMING, Event.APPENDED): State.STREAMING,
    (State.STREAMING, Event.STREAM_STOPPED): State.UPDATING,
    (State.STREAMING, Event.STOP_FAILED): State.UPDATING,
    (State.UPDATING, Event.UPDATED): State.UPDATING,
    (State.UPDATING, Event.NEXT_MESSAGE): State.NOTHING_POSTED,
    (State.UPDATING, Event.CLOSE): State.CLOSED,
}


class IllegalTransition(RuntimeError):
    """A bug: the reply was asked to make a move its state does not allow."""

    def __init__(self, state: State, event: Event) -> None:
        super().__init__(f"{event.value!r} is not allowed in state {state.value!r}")
        self.state = state
        self.event = event


@dataclass
class SlackCapabilities:
    """What Slack turned out to refuse, learnt while the process runs to save failing calls.

    A refusal is remembered for its channel, or for every channel when it comes from the workspace or
    the app itself (a missing scope, an unknown method): one channel's settings never turn a feature off
    everywhere.
    """

    streaming: bool = True
    refused: dict[str, set[str]] = field(default_factory=dict)
    # False once Slack refused CARD_REFUSALS task cards in a row, each in a stream that took text: cards are then
    # text lines. One refused card (what it holds) while others are taken leaves them on.
    task_cards: bool = True
    cards_refused_in_a_row: int = 0

    def allows(self, method: str, channel: str) -> bool:
        if method == "chat.startStream" and not self.streaming:
            return False
        refused = self.refused.get(method, set())
        return EVERYWHERE not in refused and channel not in refused

    def learn(self, method: str, channel: str, error: SlackApiError) -> None:
        code = slack_error_code(error)
        if code in WORKSPACE_REFUSALS:
            self.refused.setdefault(method, set()).add(EVERYWHERE)
        elif code in CHANNEL_REFUSALS:
            self.refused.setdefault(method, set()).add(channel)


@dataclass(frozen=True)
class CardSegment:
    """A task card's place among the text, with the line that stands in for it where it cannot be shown."""

    card: TaskCard
    line: str
    text = ""
    starts_message = False


@dataclass(frozen=True)
class ReplyTarget:
    channel: str
    thread_ts: str
    recipient_user_id: str
    recipient_team_id: str | None
    # The question's message: the reply's messages are the bot's messages after it.
    question_ts: str = ""


def is_refusal(error: BaseException) -> TypeGuard[SlackApiError]:
    """Slack answered no, so the call did not land; any other failure (a dropped connection, a timeout,
    a server error, a page that is not Slack's JSON) leaves it unknown whether it did."""
    if not isinstance(error, SlackApiError) or error.response.status_code >= 500:
        return False
    data = error.response.data
    return isinstance(data, dict) and bool(data.get("error"))


class SlackReply:
    """The answer's messages: take text with `add`, show it with `flush`, end with `finish`.

    Text moves one way: accepted (`add`, into the splitter), placed in a message (`queue`, pieces cut to
    Slack's limits), shown (`shown`, what the current message shows, once Slack confirmed it).
    """

    def __init__(
        self,
        client: AsyncWebClient,
        target: ReplyTarget,
        capabilities: SlackCapabilities,
        splitter: MessageSplitter | None = None,
        *,
        adopt: Sequence[str] = (),
        on_message: Callable[[str], None] | None = None,
    ) -> None:
        """`adopt`: messages an earlier attempt at this answer left, taken over in order before any new one
        is posted; `on_message` hears of each message the reply takes (so a successor can adopt them)."""
        self.client = client
        self.target = target
        self.capabilities = capabilities
        self.splitter = splitter or MessageSplitter()
        self.queue: list[Segment | CardSegment] = []
        self.shown = ""
        self.state = State.NOTHING_POSTED
        self.message_ts: list[str] = []
        self.slack_calls = 0
        self.has_text = False
        # Closed by `finish` as the question's answer (or final notice): CLOSED after a failure is not complete.
        self.complete = False
        self._last_call_landed = False
        self.adopt = list(adopt)
        self.on_message = on_message
        self._marking = False
        # The text after a card starts a paragraph of its own.
        self._after_card = False
        # Where in what the current message shows each finished card stands, with its line.
        self._card_lines: list[tuple[int, str]] = []
        # The cards the current stream shows in progress, each with the state it is to end in: its end, once
        # known (an append of it failed), else an error. The stream's stop ends them: none spins on for ever.
        self._open_cards: dict[str, TaskCard] = {}

    def add(self, text: str) -> None:
        """Accepts text from the model; the next `flush` or `finish` shows it."""
        self.has_text = self.has_text or bool(text.strip())
        if self._after_card and text.strip():
            self._after_card = False
            self.splitter.add_paragraph(text)
        else:
            self.splitter.add(text)

    def add_task(self, line: CardText) -> None:
        """Accepts a tool call's card, after the text accepted so far: shown as a card where it can be,
        else as its line (the line alone, as text, where this message cannot take cards at all)."""
        if not self._takes_cards():
            if line:
                self.add(line)
            return
        self.queue += self.splitter.take(final=True)
        self.queue.append(CardSegment(line.card, str(line)))
        self.splitter.open_first_message()
        self._after_card = True

    def _takes_cards(self) -> bool:
        if not self.capabilities.task_cards:
            return False
        if self.state is State.STREAMING:
            return True
        starting = self.state is State.NOTHING_POSTED and not self.adopt
        return starting and self.capabilities.allows("chat.startStream", self.target.channel)

    async def flush(self) -> None:
        """Shows what can be shown now (near Slack's limit, text waits for a good place to cut)."""
        if self.state is State.CLOSED:
            return
        self.queue += self.splitter.take()
        try:
            await self._write_queue(keep=0)
        except SLACK_FAILURES:
            await self._give_up()
            raise

    async def finish(self, note: str | None = None, *, blocks: Blocks = (), complete: bool = True) -> None:
        """Shows the rest, then `note` as its own paragraph, and closes the reply; a `complete` reply is
        marked as the question's answer (a reply handed on to another process is not).

        `blocks` (Block Kit) go under the last message; pass them only for a complete answer. The last
        piece of text travels with the closing call (a stream's stop, or the message's last update).
        """
        if self.state is State.CLOSED:
            return
        if note:
            self.splitter.add_paragraph(note)
        self.queue += self.splitter.take(final=True)
        # The last piece of text goes with the closing call; a card last in line is shown before it.
        keep = 1 if self.queue and not isinstance(self.queue[-1], CardSegment) else 0
        try:
            await self._write_queue(keep=keep)
            if self.queue and self.queue[0].starts_message:
                await self._end_message()
            self._marking = complete
            try:
                await self._once(self._close(self.queue[0].text if self.queue else "", blocks))
            except asyncio.CancelledError:
                if self._last_call_landed:
                    self._closed(complete)
                raise
            self._closed(complete)
        except SLACK_FAILURES:
            await self._give_up()
            raise
        if complete:
            await self._remove_unused_adopted()

    def _closed(self, complete: bool) -> None:
        self._apply(Event.CLOSE)
        self.complete = complete

    async def _remove_unused_adopted(self) -> None:
        """An earlier attempt's messages this answer did not need (it ran over more messages than this one):
        removed, so that the thread shows one answer, not this one and the tail of the earlier."""
        channel = self.target.channel
        while self.adopt:
            ts = self.adopt.pop(0)
            self.slack_calls += 2
            with contextlib.suppress(*SLACK_FAILURES):
                await self.client.chat_stopStream(channel=channel, ts=ts)
            try:
                await self.client.chat_delete(channel=channel, ts=ts)
            except SLACK_FAILURES as error:
                logger.warning("could not remove an earlier attempt's message", extra=_error(error))

    # --- the transitions --------------------------------------------------------------------------

    def _apply(self, event: Event) -> None:
        """The one place the state changes."""
        next_state = TRANSITIONS.get((self.state, event))
        if next_state is None:
            raise IllegalTransition(self.state, event)
        self.state = next_state

    async def _call(
        self, event: Event, call: Callable[[], Awaitable[AsyncSlackResponse]], shows: str
    ) -> AsyncSlackResponse:
        """Makes one Slack call and, once it returned, takes its transition: the message `shows` this text.

        When the turn is cancelled (shutdown) mid-call, the call still gets `LANDING_SECONDS` to land:
        its transition is then taken before the cancellation goes on, so the restart notice knows what
        Slack shows (a stream just started is stopped; a complete answer is not marked "restarting").
        """
        self.slack_calls += 1
        self._last_call_landed = False
        flight = asyncio.ensure_future(call())
        try:
            response = await asyncio.shield(flight)
        except asyncio.CancelledError:
            try:
                await asyncio.wait({flight}, timeout=LANDING_SECONDS)
            finally:
                landed = flight.done() and not flight.cancelled() and flight.exception() is None
                flight.cancel()
            if landed:
                self._landed(event, flight.result(), shows)
            raise
        self._landed(event, response, shows)
        return response

    def _landed(self, event: Event, response: AsyncSlackResponse | str, shows: str) -> None:
        """The call took effect; a new message's `response` is Slack's answer, or its ts found in the thread."""
        if event in (Event.STREAM_STARTED, Event.POSTED, Event.ADOPTED):
            self.message_ts.append(response if isinstance(response, str) else str(response["ts"]))
            if self.on_message is not None:
                self.on_message(self.message_ts[-1])
        self._apply(event)
        self.shown = shows
        if event is Event.UPDATED:
            # The update replaced the cards, with their lines in `shows`: none is left in progress.
            self._card_lines, self._open_cards = [], {}
        self._last_call_landed = True

    # --- writing ----------------------------------------------------------------------------------

    async def _write_queue(self, keep: int) -> None:
        while len(self.queue) > keep:
            await self._once(self._write(self.queue[0]))

    async def _once(self, showing: Awaitable[None]) -> None:
        """Awaits the showing of the queue's first piece and then drops it, also when a shutdown
        interrupted the showing but its last call landed; otherwise it stays for the next try."""
        try:
            await showing
        except asyncio.CancelledError:
            if self._last_call_landed and self.queue:
                self.queue.pop(0)
            raise
        if self.queue:
            self.queue.pop(0)

    async def _write(self, segment: Segment | CardSegment) -> None:
        if isinstance(segment, CardSegment):
            await self._show_card(segment)
            return
        if segment.starts_message:
            await self._end_message()
        if self.state is State.NOTHING_POSTED:
            await self._start(segment.text)
        elif segment.text:
            await self._append(segment.text)

    def _metadata(self) -> dict[str, Any] | None:
        """The answer's metadata, on the call that completes it only."""
        return answer_metadata(self.target.question_ts) if self._marking and self.target.question_ts else None

    async def _start(self, text: str) -> None:
        channel = self.target.channel
        if self.adopt and await self._adopt(self.adopt.pop(0), text):
            return
        if self.capabilities.allows("chat.startStream", channel):
            try:
                await self._start_stream(text, markdown_text=text)
                return
            except SLACK_FAILURES as error:
                if not is_refusal(error):
                    logger.warning("a stream's start was lost; looking for it in the thread", extra=_error(error))
                    if await self._found_in_thread(Event.STREAM_STARTED, text):
                        return
                else:
                    logger.warning("streaming refused; posting and updating instead", extra=_error(error))
                    self.capabilities.learn("chat.startStream", channel, error)
        await self._post(text)

    async def _start_stream(self, shows: str, **content: Any) -> None:
        """chat.startStream in the thread, for its recipient, with `content` (its text or chunks) that shows as
        `shows` in the message."""
        await self._call(
            Event.STREAM_STARTED,
            lambda: self.client.chat_startStream(
                channel=self.target.channel,
                thread_ts=self.target.thread_ts,
                recipient_user_id=self.target.recipient_user_id,
                recipient_team_id=self.target.recipient_team_id,
                **content,
            ),
            shows=shows,
        )

    async def _show_card(self, segment: CardSegment) -> None:
        cards = self.capabilities.task_cards
        if cards and self.state is State.NOTHING_POSTED and not self.adopt:
            await self._start_with_card(segment)
        elif cards and self.state is State.STREAMING:
            await self._append_card(segment)
        elif segment.line:
            await self._show_line(segment.line)

    async def _start_with_card(self, segment: CardSegment) -> None:
        """Starts the stream with the card. Refused, the stream is started with the card's line instead: if
        that works, it was the card Slack refused (remembered); if not, streaming itself (posted instead)."""
        channel = self.target.channel
        refusal: SlackApiError | None = None
        if self.capabilities.allows("chat.startStream", channel):
            try:
                await self._start_stream("", chunks=[segment.card.chunk()])
                self._card_shown(segment)
                return
            except SLACK_FAILURES as error:
                if is_refusal(error):
                    logger.warning("a stream's start with a task card was refused", extra=_error(error))
                    self.capabilities.learn("chat.startStream", channel, error)
                    refusal = error
                else:
                    logger.warning("a stream's start was lost; looking for it in the thread", extra=_error(error))
                    if await self._found_in_thread(Event.STREAM_STARTED, ""):
                        return
        if segment.line:
            await self._show_line(segment.line)
            self._learn_cards_refused(refusal)

    async def _append_card(self, segment: CardSegment) -> None:
        """Appends the card; where that fails, its line is appended instead (a lost card may have landed:
        then both show, which is better than neither)."""
        try:
            await self._call(
                Event.APPENDED,
                lambda: self.client.chat_appendStream(
                    channel=self.target.channel, ts=self.message_ts[-1], chunks=[segment.card.chunk()]
                ),
                shows=self.shown,
            )
            self._card_shown(segment)
            return
        except SLACK_FAILURES as error:
            logger.warning("a task card was not shown; showing its line instead", extra=_error(error))
            refusal = error if is_refusal(error) else None
            if segment.card.id in self._open_cards:
                self._open_cards[segment.card.id] = segment.card  # tried again when the stream stops
        if segment.line:
            await self._show_line(segment.line)
            self._learn_cards_refused(refusal)

    def _card_shown(self, segment: CardSegment) -> None:
        self.capabilities.cards_refused_in_a_row = 0
        card = segment.card
        if card.final:
            self._open_cards.pop(card.id, None)
        else:
            self._open_cards[card.id] = TaskCard(card.id, card.title, ERROR, notices.TOOL_CARD_UNFINISHED)
        if card.final and segment.line:
            self._card_lines.append((len(self.shown), segment.line))

    async def _end_open_cards(self) -> None:
        """Before the stream stops: each card it shows in progress gets its end, or is marked as not finished
        (a tool cut short by a failure or a restart). Best effort: the stop comes next whatever happens."""
        cards, self._open_cards = list(self._open_cards.values()), {}
        if not cards or self.state is not State.STREAMING:
            return
        try:
            await self._call(
                Event.APPENDED,
                lambda: self.client.chat_appendStream(
                    channel=self.target.channel, ts=self.message_ts[-1], chunks=[card.chunk() for card in cards]
                ),
                shows=self.shown,
            )
        except SLACK_FAILURES as error:
            logger.warning("a task card's end was not shown", extra=_error(error))

    async def _show_line(self, line: str) -> None:
        """A card's line as text, in the card's place: it is its own paragraph, and the text after it starts
        another (Markdown shows the blank lines between them as one break)."""
        if self.state is State.NOTHING_POSTED:
            await self._start(line)
        else:
            await self._append(line)

    def _learn_cards_refused(self, refusal: SlackApiError | None) -> None:
        """A card refused by a stream that then took its line as text: Slack refuses the chunks themselves."""
        if refusal is None or self.state is not State.STREAMING or slack_error_code(refusal) in NOT_ABOUT_CHUNKS:
            return
        self.capabilities.cards_refused_in_a_row += 1
        if self.capabilities.cards_refused_in_a_row < CARD_REFUSALS:
            return
        if self.capabilities.task_cards:
            logger.warning("Slack refuses task cards; tool calls are shown as text lines", extra=_error(refusal))
        self.capabilities.task_cards = False

    async def _adopt(self, ts: str, text: str) -> bool:
        """Takes over an earlier attempt's message: its stream stopped (it may be stopped already), its text
        set. False when Slack refuses (the message was deleted, say): a new message is started instead."""
        channel = self.target.channel
        self.slack_calls += 1
        try:
            await self.client.chat_stopStream(channel=channel, ts=ts)
        except SLACK_FAILURES as error:
            logger.debug("an earlier attempt's stream was not stopped here", extra=_error(error))
        fallback, message_blocks = _markdown_message(text)
        try:
            await self._call(
                Event.ADOPTED,
                lambda: self.client.chat_update(channel=channel, ts=ts, text=fallback, blocks=message_blocks),
                shows=text,
            )
        except SLACK_FAILURES as error:
            logger.warning("could not take over an earlier attempt's message; posting anew", extra=_error(error))
            return False
        return True

    async def _post(self, text: str, blocks: Blocks = ()) -> None:
        fallback, message_blocks = _markdown_message(text, blocks)
        metadata = self._metadata()

        def post() -> Awaitable[AsyncSlackResponse]:
            return self.client.chat_postMessage(
                channel=self.target.channel,
                thread_ts=self.target.thread_ts,
                text=fallback,
                blocks=message_blocks,
                metadata=metadata,
            )

        for attempt in range(1, POST_ATTEMPTS + 1):
            try:
                await self._call(Event.POSTED, post, shows=text)
                return
            except SLACK_FAILURES as error:
                if is_refusal(error) or attempt == POST_ATTEMPTS:
                    raise
                logger.warning("a post was lost; looking for it in the thread", extra=_error(error))
                if await self._found_in_thread(Event.POSTED, text):
                    return

    async def _found_in_thread(self, event: Event, text: str) -> bool:
        """After a lost start or post: if the thread holds a message of the bot's that this reply does not
        know, the call landed and that message is the reply's. If the thread cannot be read, it is taken
        as not there: better an answer shown twice than none."""
        thread_ts = self.target.thread_ts
        after = float(self.target.question_ts or thread_ts)
        try:
            bot_user_id = (await self.client.auth_test())["user_id"]
            read = await self.client.conversations_replies(
                channel=self.target.channel, ts=thread_ts, oldest=self.target.question_ts or thread_ts, limit=200
            )
        except SLACK_FAILURES as error:
            logger.warning("could not look in the thread; posting again", extra=_error(error))
            return False
        messages: list[dict[str, Any]] = read.get("messages", [])
        for message in messages:
            ts = str(message.get("ts"))
            if message.get("user") == bot_user_id and float(ts) > after and ts not in self.message_ts:
                self._landed(event, ts, text)
                return True
        return False

    async def _append(self, text: str) -> None:
        if self.state is State.STREAMING:
            try:
                await self._call(
                    Event.APPENDED,
                    lambda: self.client.chat_appendStream(
                        channel=self.target.channel, ts=self.message_ts[-1], markdown_text=text
                    ),
                    shows=self.shown + text,
                )
                return
            except SLACK_FAILURES as error:
                # Whether or not a lost append landed, setting the whole text shows it exactly once.
                logger.warning("stream append failed; stopping the stream and updating instead", extra=_error(error))
                await self._stop()
        await self._update(text)

    async def _update(self, added: str, blocks: Blocks = ()) -> None:
        """Sets the message's whole text, what it shows and `added`: repeating it is harmless, so a lost update
        is tried once more. A streamed message's task cards are replaced with it: their lines take their place."""
        text = self._with_card_lines(self.shown + added)
        fallback, message_blocks = _markdown_message(text, blocks)
        metadata = self._metadata()

        def update() -> Awaitable[AsyncSlackResponse]:
            return self.client.chat_update(
                channel=self.target.channel,
                ts=self.message_ts[-1],
                text=fallback,
                blocks=message_blocks,
                metadata=metadata,
            )

        try:
            await self._call(Event.UPDATED, update, shows=text)
        except SLACK_FAILURES as error:
            if is_refusal(error):
                raise
            logger.warning("an update was lost; setting the text again", extra=_error(error))
            await self._call(Event.UPDATED, update, shows=text)

    async def _stop(self, text: str = "", blocks: Blocks = ()) -> None:
        """Stops the stream with its last `text` and `blocks`. If Slack fails that, the stream is stopped
        bare (once more: the failure may have been the text's or the blocks') and they are set with
        chat.update instead."""
        try:
            await self._call(
                Event.STREAM_STOPPED,
                lambda: self.client.chat_stopStream(
                    channel=self.target.channel,
                    ts=self.message_ts[-1],
                    markdown_text=text or None,
                    blocks=list(blocks) or None,
                    metadata=self._metadata(),
                ),
                shows=self.shown + text,
            )
            return
        except SLACK_FAILURES as error:
            logger.warning("could not stop a stream; stopping it bare and setting the text", extra=_error(error))
            await self._stop_bare()
        if self.state is State.STREAMING:
            self._apply(Event.STOP_FAILED)
        if text or blocks or self._metadata():
            await self._update(text, blocks)

    def _with_card_lines(self, text: str) -> str:
        """`text` (the message's) with the lines of the cards it showed in their places (until an update
        that replaced them landed)."""
        for at, line in reversed(self._card_lines):
            # The text after a card starts its own paragraph already, where any came before it.
            text = text[:at] + (line.rstrip("\n") if text[at:].startswith("\n") else line) + text[at:]
        return text

    async def _stop_bare(self) -> None:
        try:
            await self._call(
                Event.STREAM_STOPPED,
                lambda: self.client.chat_stopStream(channel=self.target.channel, ts=self.message_ts[-1]),
                shows=self.shown,
            )
        except SLACK_FAILURES as error:
            logger.warning("could not stop a stream", extra=_error(error))

    async def _end_message(self) -> None:
        """Completes the current message, so that the next text starts a new one."""
        if self.state is State.STREAMING:
            await self._end_open_cards()
            await self._stop()
        if self.state is State.UPDATING:
            self._apply(Event.NEXT_MESSAGE)
            self.shown, self._card_lines = "", []

    async def _close(self, text: str, blocks: Blocks) -> None:
        """The closing call: the last text and the blocks, with the stream's stop or the last update.
        Blocks that Slack refuses never cost the text: it is then shown without them."""
        try:
            await self._close_with(text, blocks)
        except SlackApiError as error:
            if not blocks:
                raise
            logger.warning("blocks refused; showing the answer without them", extra=_error(error))
            await self._close_with(text, ())

    async def _close_with(self, text: str, blocks: Blocks) -> None:
        if self.state is State.STREAMING:
            await self._end_open_cards()
            await self._stop(text, blocks)
        elif self.state is State.NOTHING_POSTED and (text or blocks):
            await self._post(text, blocks)
        elif self.state is State.UPDATING and (text or blocks or self._metadata()):
            await self._update(text, blocks)

    async def _give_up(self) -> None:
        """After a failure nothing got around: stop an open stream all the same, and close."""
        if self.state is State.STREAMING:
            await self._stop_bare()
        if self.state is State.STREAMING:
            self._apply(Event.STOP_FAILED)
        self._apply(Event.CLOSE)


def _markdown_message(markdown: str, blocks: Blocks = ()) -> tuple[str, list[dict[str, Any]]]:
    """Markdown rendered by Slack in a `markdown` block, with mrkdwn text for notifications."""
    fallback = to_mrkdwn(markdown)
    if len(fallback) > FALLBACK_TEXT_LIMIT:
        fallback = fallback[: FALLBACK_TEXT_LIMIT - 1] + "…"
    markdown_blocks = [{"type": "markdown", "text": markdown}] if markdown else []
    return fallback, [*markdown_blocks, *blocks]


def _error(error: BaseException) -> dict[str, object]:
    return {"error": error_name(error)}
