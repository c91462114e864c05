"""Answers one question: read the thread, ask the model, post the answer (or a notice) in the thread."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

from slack_sdk.web.async_client import AsyncWebClient

from bot import notices
from bot.answer.addressing import ReplyMode, says_stop
from bot.answer.asking import ask
from bot.answer.channel_prompts import ChannelPrompts, system_prompt_for
from bot.answer.conversation import build_conversation, history_for
from bot.answer.feedback import Feedback, feedback_blocks
from bot.answer.following import Following, answer_actions
from bot.answer.redaction import private_names
from bot.answer.tool_loop import ToolRun
from bot.answer.usage import Usage
from bot.errors import ModelError
from bot.files.context import FileContext
from bot.logs import Outcome, log_event_handled
from bot.model.client import Answer, ModelClient
from bot.model.messages import ChatMessage
from bot.settings import Settings
from bot.shutdown import RESTART_NOTICE_SECONDS
from bot.slack.answered import answered_in_thread
from bot.slack.errors import SLACK_FAILURES, error_name
from bot.slack.live import LiveAnswer
from bot.slack.messages import BotIdentity, ThreadMessage, is_direct_message, user_ids_in
from bot.slack.reply import ReplyTarget, SlackCapabilities, SlackReply, State
from bot.slack.status import ThreadStatus
from bot.slack.thread import NameDirectory, ThreadReader, compact, thread_key
from bot.store.base import Store
from bot.store.deadline import shared_deadline
from bot.store.redis_turns import hand_on_when
from bot.tools.kit import ToolKit
from bot.tools.search import action_token_of

logger = logging.getLogger(__name__)

# Slack's last retry comes about 6 minutes after the first delivery; a claim outlives that comfortably.
# Claims held in memory are bounded by time: at most Slack's 30,000 deliveries an hour, for 15 minutes.
CLAIM_TTL_SECONDS = 15 * 60.0


@dataclass(frozen=True)
class Question:
    """A person's message that the bot should answer, as the event delivered it."""

    event_id: str
    event_type: str
    channel: str
    channel_type: str
    team_id: str | None
    message: dict[str, Any]

    @property
    def ts(self) -> str:
        return str(self.message["ts"])

    @property
    def thread_ts(self) -> str:
        return str(self.message.get("thread_ts") or self.message["ts"])

    @property
    def user_id(self) -> str:
        return str(self.message.get("user") or "")

    @property
    def direct(self) -> bool:
        """Asked in a DM with the bot."""
        return is_direct_message(self.channel)


@dataclass
class Attempt:
    """One attempt at a question the durable queue holds (bot/work); a question answered as it arrives
    has none."""

    # The queue's entry is the claim, so the answerer takes none of its own; False for Slack's last retry
    # answered from memory while Redis is down (claimed in the process, as without an attempt).
    queued: bool = True
    # A redelivery (reclaimed, handed back, retried, queued again): the thread may hold its answer already.
    check_thread: bool = False
    # Messages an earlier attempt left in the thread, taken over by this answer.
    adopt: Sequence[str] = ()
    # Hears of each message the answer takes, so that a successor can take them over.
    on_message: Callable[[str], None] | None = None
    # Set before the attempt is cancelled: another process answers it, so no "please ask again".
    handing_back: bool = False
    # Set by the answerer: the thread shows a complete answer or a final notice.
    finished: bool = False


@dataclass
class Turn:
    """One question being answered: what the log line will say, and its reply in Slack once it has one."""

    question: Question
    log: dict[str, Any]
    answer: Answer = field(default_factory=Answer)
    reply: SlackReply | None = None
    claimed: bool = False
    attempt: Attempt | None = None
    # People named in the thread who are not speaking in it (masked in REDACT=strict mode).
    private_names: frozenset[str] = frozenset()
    # The question as the model reads it (for the escalation's summary); empty for a catch-up.
    asked: str = ""


class ContextSource(Protocol):
    """Adds what a thread is about to its conversation (a catch-up DM thread: the summarized thread)."""

    async def extend(
        self, question: Question, identity: BotIdentity, messages: list[ChatMessage], private: frozenset[str]
    ) -> tuple[list[ChatMessage], frozenset[str]]:
        """The extended conversation, and the names to mask in it (`private`, adjusted)."""
        ...


class Answerer:
    def __init__(
        self,
        *,
        slack: AsyncWebClient,
        model: ModelClient,
        store: Store,
        threads: ThreadReader,
        names: NameDirectory,
        channel_prompts: ChannelPrompts,
        capabilities: SlackCapabilities,
        settings: Settings,
        context: ContextSource | None = None,
        files: FileContext | None = None,
        tools: ToolKit | None = None,
    ) -> None:
        self.slack = slack
        self.model = model
        self.store = store
        self.threads = threads
        self.names = names
        self.channel_prompts = channel_prompts
        self.capabilities = capabilities
        self.settings = settings
        self.context = context
        self.usage = Usage(store, settings)
        self.files = files
        self.tools = tools
        self.feedback = Feedback(store)
        self.following = Following(store, settings)
        self.model_calls = asyncio.Semaphore(settings.max_concurrent_model_calls)
        # Per thread, the forget still waiting for its turn: later edits ride on it (see `forget_thread`).
        self._waiting_forgets: dict[str, object] = {}

    async def answer(self, question: Question, identity: BotIdentity, attempt: Attempt | None = None) -> None:
        """Answers once per message, however many times and ways Slack delivers it; logs one line.

        With an `attempt` (from the durable queue), a redelivered question is first looked for in the
        thread: one already answered is not answered again.
        """
        started = time.monotonic()
        turn = Turn(question, _turn_log(question), attempt=attempt)
        key = thread_key(question.channel, question.thread_ts)
        if attempt is not None and attempt.queued:
            # Ended unfinished (handed back at shutdown, or failed: the queue tries it again), the turn keeps its
            # thread's place for the question's next attempt. Not once the answer is in the thread: a shutdown
            # then marks the question done (see `_hand_on`, which runs after the turn has ended), and no next
            # attempt would come to take the place.
            hand_on_when(lambda: not attempt.finished and not _complete(turn))
        with shared_deadline():
            async with self._handled(turn, started), self.store.thread_lock(key, question.ts):
                if (attempt is None or not attempt.queued) and not await self._claim(question):
                    turn.log["outcome"] = Outcome.DUPLICATE
                    return
                turn.claimed = True
                if attempt is not None and attempt.check_thread:
                    turn.log["redelivered"] = True
                    if await answered_in_thread(self.slack, question.channel, question.thread_ts, question.ts):
                        turn.log["outcome"] = Outcome.ALREADY_ANSWERED
                        attempt.finished = True
                        return
                await self._answer(turn, identity)
                if attempt is not None:
                    attempt.finished = True
                    if attempt.adopt:
                        # The earlier attempt's messages now show other text, older than what the thread's
                        # cached copy is read on from: dropped within the turn, so the next one sees the rewrite.
                        await self.threads.forget(question.channel, question.thread_ts)

    async def give_up(self, question: Question, identity: BotIdentity, attempt: Attempt, tries: int) -> None:
        """After `tries` failed attempts at a queued question: in its turn, the thread gets a final notice in
        place of what the attempts left (marked as the question's reply, so nothing answers it again), unless it
        shows an answer already. Logs one line."""
        started = time.monotonic()
        turn = Turn(question, _turn_log(question), claimed=True, attempt=attempt)
        key = thread_key(question.channel, question.thread_ts)
        with shared_deadline():
            async with self._handled(turn, started), self.store.thread_lock(key, question.ts):
                turn.log.update(redelivered=True, tries=tries)
                if await answered_in_thread(self.slack, question.channel, question.thread_ts, question.ts):
                    turn.log["outcome"] = Outcome.ALREADY_ANSWERED
                else:
                    await self._reply(turn).finish(notices.could_not_answer(tries))
                    turn.log["outcome"] = Outcome.GAVE_UP
                attempt.finished = True

    async def answer_with(
        self,
        question: Question,
        messages: list[ChatMessage],
        log: dict[str, Any],
        *,
        private_names: frozenset[str] = frozenset(),
    ) -> None:
        """Streams the answer to `messages` into the question's thread, like any answer, and logs one line.

        For answers whose conversation is not the thread itself (a catch-up summary in the asker's DM);
        the caller has claimed the request.
        """
        started = time.monotonic()
        turn = Turn(question, log, claimed=True, private_names=private_names)
        key = thread_key(question.channel, question.thread_ts)
        with shared_deadline():
            async with self._handled(turn, started), self.store.thread_lock(key, question.ts):
                status = ThreadStatus(self.slack, self.capabilities, question.channel, question.thread_ts, question.ts)
                await status.show()
                try:
                    await self._respond(turn, messages, status)
                finally:
                    await status.clear(replied=_replied(turn))

    @contextlib.asynccontextmanager
    async def _handled(self, turn: Turn, started: float) -> AsyncIterator[None]:
        """Whatever happens to a turn: Slack failures logged, a shutdown noticed, one log line."""
        try:
            yield
        except SLACK_FAILURES as error:
            turn.log.update(outcome=Outcome.SLACK_ERROR, error=error_name(error))
            if turn.answer.text:
                # The answer could not be delivered; keep it where the operator can find it.
                turn.log["undelivered_answer"] = turn.answer.text
        except asyncio.CancelledError:
            if turn.attempt is not None and turn.attempt.handing_back:
                await self._hand_on(turn)
            else:
                turn.log["outcome"] = Outcome.STOPPED_BY_SHUTDOWN
                await self._say_restarting(turn)
            raise
        finally:
            log_event_handled(logger, turn.log, started)

    async def forget_thread(self, channel: str, thread_ts: str) -> None:
        """Drops a thread's cached copy after an edit or deletion in it.

        Taken in turn with the thread's answers: a turn that read the thread just before the edit would
        otherwise write its copy back after this, and the next turn would see the old text. Its place in
        the queue is now: after the turns of every message posted before the edit.

        An edit arriving while an earlier forget of the thread still waits for its turn needs none of its
        own: that one drops the copy after this edit too. (A streamed answer is edited every second.)
        """
        key = thread_key(channel, thread_ts)
        if key in self._waiting_forgets:
            return
        token = self._waiting_forgets[key] = object()
        try:
            async with self.store.thread_lock(key, f"{time.time():.6f}"):
                self._stop_waiting(key, token)
                await self.threads.forget(channel, thread_ts)
        finally:
            self._stop_waiting(key, token)

    def _stop_waiting(self, key: str, token: object) -> None:
        if self._waiting_forgets.get(key) is token:
            del self._waiting_forgets[key]

    async def _claim(self, question: Question) -> bool:
        event_is_new = await self.store.claim(f"event:{question.event_id}", CLAIM_TTL_SECONDS)
        message_is_new = await self.store.claim(f"message:{question.channel}:{question.ts}", CLAIM_TTL_SECONDS)
        return event_is_new and message_is_new

    async def _answer(self, turn: Turn, identity: BotIdentity) -> None:
        question = turn.question
        if not self.settings.answers_in(question.channel, direct=question.direct):
            await self.slack.chat_postEphemeral(
                channel=question.channel,
                user=question.user_id,
                thread_ts=question.message.get("thread_ts"),
                text=notices.channel_not_allowed(sorted(self.settings.allowed_channels)),
            )
            turn.log["outcome"] = Outcome.CHANNEL_NOT_ALLOWED
            return
        asked = ThreadMessage.from_slack(compact(question.message), identity)
        if asked is None or (not asked.readable(identity.user_id, {}).strip() and not asked.file_names):
            await self._reply(turn).finish(notices.EMPTY_MENTION)
            turn.log["outcome"] = Outcome.EMPTY_QUESTION
            return
        if not question.direct and says_stop(str(question.message.get("text") or ""), identity.user_id):
            await self.following.mute(question.channel, question.thread_ts)
            await self._reply(turn).finish(notices.MUTED)
            turn.log["outcome"] = Outcome.MUTED
            return
        # Before the thread, its files and links are read: none of that is needed to say no.
        if await self._refused_by_budget(turn):
            return
        turn.asked = asked.readable(identity.user_id, {})
        await self.following.asked(question.channel, question.thread_ts, question.user_id)
        status = ThreadStatus(self.slack, self.capabilities, question.channel, question.thread_ts, question.ts)
        await status.show()
        try:
            messages, notes = await self._conversation(turn, identity, asked)
            await self._respond(turn, messages, status, notes)
        finally:
            await status.clear(replied=_replied(turn))
        await self.following.answered(question.channel, question.thread_ts, identity.user_id)

    async def _respond(
        self, turn: Turn, messages: list[ChatMessage], status: ThreadStatus, notes: Sequence[str] = ()
    ) -> None:
        question = turn.question
        direct = question.direct
        # Again for a thread's question: answers that ended while it was read may have spent the budget. And in
        # the same step as its estimate is reserved, for a burst of questions to be held to what fits.
        async with self.usage.held(
            question.user_id, question.channel, direct=direct, messages=messages, log=turn.log
        ) as refusal:
            if refusal is not None:
                await self._reply(turn).finish(refusal)
                return
            queued = self.model_calls.locked()
            if queued:
                turn.log["queued"] = True
                await status.show(notices.WAITING_STATUS)
            async with self.model_calls:
                if queued:
                    await status.show()
                try:
                    await self._answer_live(turn, messages, notes)
                finally:
                    if turn.answer.attempts:
                        failed = turn.log.get("outcome") != Outcome.ANSWERED
                        await self.usage.record(
                            question.user_id, question.channel, direct=direct, answer=turn.answer, failed=failed
                        )

    async def _refused_by_budget(self, turn: Turn) -> bool:
        """Whether a daily budget refuses the question; if so, the asker has been told which one."""
        question = turn.question
        refusal = await self.usage.refusal(question.user_id, question.channel, direct=question.direct, log=turn.log)
        if refusal is None:
            return False
        await self._reply(turn).finish(refusal)
        return True

    async def _conversation(
        self, turn: Turn, identity: BotIdentity, asked: ThreadMessage
    ) -> tuple[list[ChatMessage], list[str]]:
        """The conversation for the model, and notes for the answer (files and links that were not read)."""
        question = turn.question
        key = thread_key(question.channel, question.thread_ts)
        if self.files is None:
            raw_thread, prefetched = await self._read_thread(question), None
        else:
            # The question's own files and links are fetched while the thread is read.
            raw_thread, prefetched = await asyncio.gather(
                self._read_thread(question),
                self.files.prefetch(key, compact(question.message), question.user_id, identity, question.channel),
            )
        thread = [
            message for message in map(partial(ThreadMessage.from_slack, identity=identity), raw_thread) if message
        ]
        thread = history_for(thread, asked)
        names = await self.names.names(user_ids_in(thread) - {identity.user_id})
        turn.private_names = private_names(names, {message.author_id for message in thread if message.by_a_person})
        instructions = await self.channel_prompts.instructions(question.channel)
        system_prompt = system_prompt_for(self.settings.system_prompt, instructions)
        notes: list[str] = []
        attachments = None
        if self.files is not None and prefetched is not None:
            attached, notes = await self.files.attach(key, raw_thread, thread, compact(question.message), prefetched)
            attachments = attached.by_ts
            stats = prefetched.stats
            if stats.downloaded or stats.from_cache or notes:
                turn.log.update(
                    files_downloaded=stats.downloaded,
                    file_bytes_downloaded=stats.downloaded_bytes,
                    files_from_cache=stats.from_cache,
                    files_or_links_not_read=len(notes),
                )
        messages = build_conversation(
            thread, bot_user_id=identity.user_id, names=names, system_prompt=system_prompt, attachments=attachments
        )
        if self.context is not None:
            messages, turn.private_names = await self.context.extend(question, identity, messages, turn.private_names)
        return messages, notes

    def _answer_blocks(self, turn: Turn) -> list[dict[str, Any]]:
        """👍/👎, and in a channel the thread's own buttons (*Stop following*, *Get a human*)."""
        question = turn.question
        model_id = self.settings.channel_models.get(question.channel, self.model.model_id)
        actions = answer_actions(
            question.channel,
            question.user_id,
            turn.asked,
            following=self.following.mode(question.channel) is not ReplyMode.MENTION,
            escalate=question.channel in self.settings.escalate_to and bool(turn.asked),
        )
        return [*feedback_blocks(model_id), *actions]

    async def _read_thread(self, question: Question) -> list[dict[str, Any]]:
        try:
            return await self.threads.read(question.channel, question.thread_ts, question.message)
        except SLACK_FAILURES as error:
            # Better an answer without the earlier messages than none at all.
            logger.warning("could not read the thread; answering the question alone", extra={"error": repr(error)})
            return []

    async def _answer_live(self, turn: Turn, messages: list[ChatMessage], file_notes: Sequence[str]) -> None:
        question = turn.question
        reply = self._reply(turn)
        live = LiveAnswer(reply, self.settings.slack_update_interval_seconds)
        toolbox = approver = None
        if self.tools is not None:
            toolbox, approver = await self.tools.for_question(
                channel=question.channel,
                thread_ts=question.thread_ts,
                asker=question.user_id,
                action_token=action_token_of(question.message),
            )
        run = ToolRun()
        try:
            await ask(
                self.model,
                messages,
                self.settings,
                live.relay,
                turn.answer,
                private_names=turn.private_names,
                log_fields={"thread_ts": question.thread_ts},
                model_id=self.settings.channel_models.get(question.channel),
                toolbox=toolbox,
                approver=approver,
                run=run,
            )
        except ModelError as error:
            logger.warning("model call failed", extra={"thread_ts": question.thread_ts, "error": str(error)})
            interrupted = reply.has_text
            await reply.finish(notices.interrupted(error) if interrupted else notices.model_failed(error))
            turn.log.update(outcome=Outcome.INTERRUPTED if interrupted else "model_error", error=str(error))
        else:
            ending = notices.ending_note(turn.answer.finish_reason) if reply.has_text else notices.EMPTY_ANSWER
            notes = [ending, notices.IMAGES_REFUSED if turn.answer.images_refused else None, *file_notes]
            # Feedback buttons go under a complete answer only, never under a notice.
            blocks = self._answer_blocks(turn) if reply.has_text else []
            await reply.finish("\n".join(filter(None, notes)) or None, blocks=blocks)
            turn.log.update(outcome=Outcome.ANSWERED, finish_reason=turn.answer.finish_reason)
            if reply.has_text:
                await self.feedback.answered()
        answer = turn.answer
        if run.outcomes:
            turn.log.update(tool_rounds=run.steps, tool_calls=len(run.outcomes))
        turn.log.update(
            attempts=answer.attempts,
            answer_chars=len(answer.text),
            messages_posted=len(reply.message_ts),
            slack_calls=reply.slack_calls,
            **{f"usage_{key}": value for key, value in answer.usage.items() if isinstance(value, int)},
        )

    async def _say_restarting(self, turn: Turn) -> None:
        """Best effort, in the seconds left before the process is killed: the question is not lost silently.

        The one shutdown path for a turn: an answer in progress ends with the notice (a stream is
        stopped); a complete one is left as it is; a question not answered yet gets the notice, unless
        it came from a channel the bot does not answer in.
        """
        if turn.reply is not None and turn.reply.state is State.CLOSED:
            turn.log["reply_complete"] = True
            return
        if not self.settings.answers_in(turn.question.channel, direct=turn.question.direct):
            return
        try:
            async with asyncio.timeout(RESTART_NOTICE_SECONDS):
                # A question still queued behind another turn has no claim yet: take it now, so that a
                # duplicate delivery waiting in the same queue does not post a second notice.
                if turn.claimed or await self._claim(turn.question):
                    await self._reply(turn).finish(notices.RESTARTING)
        except (*SLACK_FAILURES, asyncio.CancelledError) as error:
            logger.warning("could not post the restart notice", extra={"error": repr(error)})

    async def _hand_on(self, turn: Turn) -> None:
        """Shutdown with a live process to take over: an answer in progress is stopped with a short note
        (not marked as the answer, so the successor rewrites this message); a complete one is left."""
        reply = turn.reply
        attempt = turn.attempt
        assert attempt is not None
        if reply is not None and reply.complete:
            turn.log["reply_complete"] = True
            attempt.finished = True
            return
        turn.log["outcome"] = Outcome.HANDED_BACK
        if reply is None or not reply.message_ts:
            return
        try:
            async with asyncio.timeout(RESTART_NOTICE_SECONDS):
                await reply.finish(notices.CONTINUING, complete=False)
        except (*SLACK_FAILURES, asyncio.CancelledError) as error:
            logger.warning("could not stop the answer handed on", extra={"error": repr(error)})

    def _reply(self, turn: Turn) -> SlackReply:
        """The turn's reply in its thread, made on first use."""
        if turn.reply is None:
            question = turn.question
            target = ReplyTarget(question.channel, question.thread_ts, question.user_id, question.team_id, question.ts)
            attempt = turn.attempt
            turn.reply = SlackReply(
                self.slack,
                target,
                self.capabilities,
                adopt=attempt.adopt if attempt else (),
                on_message=attempt.on_message if attempt else None,
            )
        return turn.reply


def _complete(turn: Turn) -> bool:
    """Whether the thread shows the turn's answer (or final notice) for good; a reply closed because Slack
    failed it is cut, not complete."""
    return turn.reply is not None and turn.reply.complete


def _turn_log(question: Question) -> dict[str, Any]:
    """The fields of a turn's one log line that its question gives."""
    return {
        "event_id": question.event_id,
        "event_type": question.event_type,
        "channel": question.channel,
        "thread_ts": question.thread_ts,
        "message_ts": question.ts,
        "user": question.user_id,
    }


def _replied(turn: Turn) -> bool:
    """Whether the thread got (or, on shutdown, is about to get: the restart notice) a reply from the bot,
    which clears the thread status by itself."""
    task = asyncio.current_task()
    stopping = task is not None and task.cancelling() > 0
    return stopping or (turn.reply is not None and bool(turn.reply.message_ts))
