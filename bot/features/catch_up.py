"""Catch-up: a private summary of a thread or of a channel's recent messages, streamed into the asker's DM.

The summary starts a new DM thread whose first message links back to what it summarizes. The store
keeps which thread or channel that DM thread is about, so follow-up questions there are answered with
it, read again from Slack (the source of truth, so it stays current). The original conversation sees
nothing; where the bot cannot read, the asker gets a private note saying how to let it in.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from slack_sdk.web.async_client import AsyncWebClient

from bot import notices
from bot.answer.answerer import CLAIM_TTL_SECONDS, Answerer, Question
from bot.answer.redaction import private_names
from bot.answer.trimming import estimate_tokens
from bot.features.transcript import (
    CHANNEL_REQUEST,
    EARLIER_LEFT_OUT,
    FOLLOW_UP_CONTEXT,
    SUMMARY_ASKED,
    THREAD_REQUEST,
    Line,
    Transcript,
    fit_newest,
    line_for,
)
from bot.logs import Outcome, log_event_handled
from bot.model.messages import ChatMessage
from bot.settings import Settings
from bot.shutdown import RESTART_NOTICE_SECONDS
from bot.slack.access import Audience, ConversationAccess, Verdict
from bot.slack.errors import SLACK_FAILURES, error_name
from bot.slack.messages import BotIdentity, ThreadMessage, is_direct_message, user_ids_in
from bot.slack.thread import NameDirectory, ThreadReader, compact
from bot.store.base import Store

logger = logging.getLogger(__name__)

# Follow-ups can come days later; after this the DM thread goes on as a plain DM conversation.
SOURCE_TTL_SECONDS = 7 * 24 * 3600.0
# Slack's errors for a conversation the bot is not in (private ones are "not found" to non-members).
CANT_READ = frozenset({"not_in_channel", "channel_not_found"})
HISTORY_PAGE_SIZE = 200
# conversations.history is Tier 3 (about 50 calls a minute per workspace): one catch-up stays well below.
MAX_HISTORY_PAGES = 20
# In a follow-up, the summarized conversation takes at most this share of the input budget.
FOLLOW_UP_SHARE = 0.5

PrivateNote = Callable[[str], Awaitable[None]]
"""Sends text that only the asker sees, where they asked (the shortcut's or command's response URL)."""


@dataclass(frozen=True)
class Source:
    """What a catch-up is about: a thread, or a channel since `oldest`."""

    kind: Literal["thread", "channel"]
    channel: str
    channel_name: str
    thread_ts: str | None = None
    oldest: str | None = None

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Source:
        return cls(**json.loads(text))

    @property
    def where(self) -> str:
        return f"#{self.channel_name}" if self.channel_name else "a conversation"


@dataclass(frozen=True)
class CatchUpRequest:
    """One press of the shortcut or one `/catchup`, as the edge parsed it."""

    key: str
    """Unique per interaction and the same in a retried delivery (the trigger id)."""
    event_type: str
    user_id: str
    team_id: str | None
    identity: BotIdentity
    source: Source
    window: timedelta | None = None


def source_key(dm_channel: str, thread_ts: str) -> str:
    return f"catch-up:{dm_channel}:{thread_ts}"


class SourceReader:
    """Reads a thread, or a channel's messages since a time, as a transcript that fits a token budget."""

    def __init__(self, slack: AsyncWebClient, threads: ThreadReader, names: NameDirectory) -> None:
        self.slack = slack
        self.threads = threads
        self.names = names

    async def transcript(self, source: Source, identity: BotIdentity, budget_tokens: int) -> Transcript:
        if source.kind == "thread" and source.thread_ts:
            raw = await self.threads.peek(source.channel, source.thread_ts)
            more_before = False
        else:
            raw, more_before = await self._history(source.channel, source.oldest, budget_tokens)
        spoken = [(message, item) for item in raw if (message := ThreadMessage.from_slack(item, identity))]
        names = await self.names.names(user_ids_in(message for message, _ in spoken))
        lines = _lines(spoken, names, identity, dated=source.kind == "channel")
        if source.kind == "thread":
            transcript = fit_newest(lines, budget_tokens, keep_first=True)
        else:
            transcript = fit_newest(lines, budget_tokens, more_before=more_before)
        speakers = {message.author_id for message, _ in spoken if message.by_a_person}
        return dataclasses.replace(
            transcript,
            speakers=frozenset(names.get(speaker, speaker) for speaker in speakers),
            private_names=private_names(names, speakers),
        )

    async def _history(self, channel: str, oldest: str | None, budget_tokens: int) -> tuple[list[dict[str, Any]], bool]:
        """The channel's top-level messages since `oldest`, oldest first, read newest first only until
        they would fill the budget; and whether older ones were left unread."""
        messages: list[dict[str, Any]] = []
        characters = 0
        cursor: str | None = None
        for _ in range(MAX_HISTORY_PAGES):
            response = await self.slack.conversations_history(
                channel=channel, oldest=oldest, limit=HISTORY_PAGE_SIZE, cursor=cursor
            )
            for raw in response.get("messages") or []:
                message = compact(raw)
                if raw.get("reply_count"):
                    message["reply_count"] = raw["reply_count"]
                messages.append(message)
                characters += len(str(raw.get("text") or ""))
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not response.get("has_more") or not cursor:
                return messages[::-1], False
            if characters > budget_tokens * 4:
                break
        return messages[::-1], True


class CatchUp:
    """Runs one catch-up request, from its claim to the summary streaming in the asker's DM."""

    def __init__(
        self,
        *,
        slack: AsyncWebClient,
        answerer: Answerer,
        store: Store,
        reader: SourceReader,
        settings: Settings,
        access: ConversationAccess | None = None,
    ) -> None:
        self.slack = slack
        self.answerer = answerer
        self.store = store
        self.reader = reader
        self.settings = settings
        self.access = access or ConversationAccess(slack)

    async def summarize(self, request: CatchUpRequest, note: PrivateNote) -> None:
        """Handles a request once, however often it is delivered; one log line, here or by the answerer."""
        started = time.monotonic()
        log: dict[str, Any] = {
            "event_id": request.key,
            "event_type": request.event_type,
            "user": request.user_id,
            "source_channel": request.source.channel,
            "source_thread_ts": request.source.thread_ts,
        }
        prepared: tuple[Question, list[ChatMessage], frozenset[str]] | None = None
        try:
            prepared = await self._prepare(request, note, log)
        except asyncio.CancelledError:
            log["outcome"] = Outcome.STOPPED_BY_SHUTDOWN
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(RESTART_NOTICE_SECONDS):
                    await note(notices.RESTARTING)
            raise
        finally:
            if prepared is None:
                log_event_handled(logger, log, started)
        if prepared is not None:
            question, messages, mentioned_only = prepared
            await self.answerer.answer_with(question, messages, log, private_names=mentioned_only)

    async def _prepare(
        self, request: CatchUpRequest, note: PrivateNote, log: dict[str, Any]
    ) -> tuple[Question, list[ChatMessage], frozenset[str]] | None:
        """Everything before the model is asked: the claim, the checks, the read, the DM thread's start."""
        source = request.source
        if not await self.store.claim(f"catch-up:{request.key}", CLAIM_TTL_SECONDS):
            log["outcome"] = Outcome.DUPLICATE
            return None
        if not self.settings.answers_in(source.channel, direct=is_direct_message(source.channel)):
            await note(notices.channel_not_allowed(sorted(self.settings.allowed_channels)))
            log["outcome"] = Outcome.CHANNEL_NOT_ALLOWED
            return None
        # Before anything is read or the DM thread started: none of that is needed to say no.
        if await self._refused_by_budget(request, note, log):
            return None
        try:
            transcript = await self.reader.transcript(source, request.identity, self._budget())
        except SLACK_FAILURES as error:
            log.update(outcome=Outcome.CANNOT_READ, error=error_name(error))
            await note(await self._cannot_read(source, request.identity, error))
            return None
        if not transcript.lines:
            log["outcome"] = Outcome.NOTHING_TO_SUMMARIZE
            await note(notices.nothing_to_catch_up_on(source.channel, request.window))
            return None
        # The summary goes to the asker's DM: only what the asker may read goes there.
        verdict = await self.access.may_carry(source.channel, Audience.alone(request.user_id))
        if verdict is not Verdict.ALLOWED:
            log.update(outcome=Outcome.CANNOT_READ, error=verdict.value)
            undecided = verdict is Verdict.UNDECIDED
            await note(notices.catch_up_failed(source.channel) if undecided else notices.CATCH_UP_NOT_YOURS)
            return None
        try:
            dm_channel, root_ts = await self._start_dm_thread(request, transcript)
        except SLACK_FAILURES as error:
            log.update(outcome=Outcome.SLACK_ERROR, error=error_name(error))
            await note(notices.CATCH_UP_UNDELIVERED)
            return None
        await self.store.remember(source_key(dm_channel, root_ts), source.to_json(), SOURCE_TTL_SECONDS)
        await note(notices.summary_on_its_way(source.kind))
        log.update(channel=dm_channel, thread_ts=root_ts, source_messages=len(transcript.lines))
        question = Question(
            event_id=request.key,
            event_type=request.event_type,
            channel=dm_channel,
            channel_type="im",
            team_id=request.team_id,
            message={"ts": root_ts, "user": request.user_id},
        )
        return question, self._summary_request(request, transcript), transcript.private_names

    async def _refused_by_budget(self, request: CatchUpRequest, note: PrivateNote, log: dict[str, Any]) -> bool:
        """Whether a daily budget refuses the summary; if so, the asker has been told where they asked.

        The summary is answered in the asker's DM, so the same budgets apply as to a DM: theirs, not the
        channel's (the answerer checks again just before the model is asked, with the same result)."""
        refusal = await self.answerer.usage.refusal(request.user_id, request.source.channel, direct=True, log=log)
        if refusal is None:
            return False
        await note(refusal)
        return True

    def _budget(self) -> int:
        """The transcript's share of the input budget: what the summary prompt and the request leave."""
        prompt = ChatMessage("system", self.settings.summary_prompt)
        request = ChatMessage("user", CHANNEL_REQUEST + EARLIER_LEFT_OUT)
        left = self.settings.input_budget_tokens - estimate_tokens(prompt) - estimate_tokens(request) - 32
        # A summary prompt near the whole budget must not leave the conversation out altogether.
        return max(left, self.settings.input_budget_tokens // 4)

    def _summary_request(self, request: CatchUpRequest, transcript: Transcript) -> list[ChatMessage]:
        source = request.source
        if source.kind == "thread":
            ask = THREAD_REQUEST.format(where=source.where)
        else:
            ask = CHANNEL_REQUEST.format(
                where=source.where, window=notices.window_phrase(request.window or timedelta(0))
            )
        return [
            ChatMessage("system", self.settings.summary_prompt),
            ChatMessage("user", f"{ask}\n\n{transcript.text}"),
        ]

    async def _start_dm_thread(self, request: CatchUpRequest, transcript: Transcript) -> tuple[str, str]:
        """Opens the asker's DM with the bot and posts the message that links back; the summary replies to it."""
        source = request.source
        reaches_back_to = transcript.reaches_back_to if transcript.partial else None
        if source.kind == "thread" and source.thread_ts:
            permalink = await self._permalink(source.channel, source.thread_ts)
            header = notices.thread_summary_header(source.channel, permalink, reaches_back_to)
        else:
            header = notices.channel_summary_header(source.channel, request.window or timedelta(0), reaches_back_to)
        opened = await self.slack.conversations_open(users=request.user_id)
        dm_channel = str(opened["channel"]["id"])
        posted = await self.slack.chat_postMessage(channel=dm_channel, text=header, unfurl_links=False)
        return dm_channel, str(posted["ts"])

    async def _permalink(self, channel: str, thread_ts: str) -> str | None:
        """A link back to the thread; without one, the header names the channel only."""
        try:
            response = await self.slack.chat_getPermalink(channel=channel, message_ts=thread_ts)
        except SLACK_FAILURES as error:
            logger.warning("no permalink for the summarized thread", extra={"error": error_name(error)})
            return None
        return str(response.get("permalink") or "") or None

    async def _cannot_read(self, source: Source, identity: BotIdentity, error: BaseException) -> str:
        if error_name(error) not in CANT_READ:
            return notices.catch_up_failed(source.channel)
        names = await self.reader.names.names([identity.user_id])
        return notices.cant_read(source.channel, names.get(identity.user_id, "me"))


class CatchUpFollowUps:
    """Gives a follow-up in a catch-up DM thread the summarized conversation, read again from Slack, as long
    as the asker may still read it (they may have left a private channel since)."""

    def __init__(
        self, store: Store, reader: SourceReader, settings: Settings, access: ConversationAccess | None = None
    ) -> None:
        self.store = store
        self.reader = reader
        self.settings = settings
        self.access = access or ConversationAccess(reader.slack)

    async def extend(
        self, question: Question, identity: BotIdentity, messages: list[ChatMessage], private: frozenset[str]
    ) -> tuple[list[ChatMessage], frozenset[str]]:
        """The conversation with the summarized one added, and the names to mask (`REDACT=strict`): its
        speakers are part of the conversation now, the people it only mentions are not."""
        if not question.direct:
            return messages, private
        stored = await self.store.recall(source_key(question.channel, question.thread_ts))
        if stored is None:
            return messages, private
        source = Source.from_json(stored)
        budget = int(self.settings.input_budget_tokens * FOLLOW_UP_SHARE)
        verdict = await self.access.may_carry(source.channel, Audience.alone(question.user_id, question.channel))
        if verdict is not Verdict.ALLOWED:
            logger.info("summarized conversation not read again", extra={"reason": verdict.value})
            return messages, private
        try:
            transcript = await self.reader.transcript(source, identity, budget)
        except SLACK_FAILURES as error:
            # The DM thread still holds the summary; better that than no answer.
            logger.warning("could not read the summarized conversation again", extra={"error": error_name(error)})
            return messages, private
        system, *rest = messages
        context = FOLLOW_UP_CONTEXT.format(kind=source.kind, where=source.where) + "\n\n" + transcript.text
        # The DM thread starts with the bot's messages (the link, the summary): the request came first.
        asked = [ChatMessage("user", SUMMARY_ASKED)] if rest and rest[0].role == "assistant" else []
        extended = [dataclasses.replace(system, content=system.content + context), *asked, *rest]
        return extended, (private - transcript.speakers) | transcript.private_names


def _lines(
    spoken: list[tuple[ThreadMessage, dict[str, Any]]],
    names: Mapping[str, str],
    identity: BotIdentity,
    *,
    dated: bool,
) -> list[Line]:
    lines = [
        line_for(
            message,
            names=names,
            bot_user_id=identity.user_id,
            replies=int(item.get("reply_count") or 0),
            dated=dated,
        )
        for message, item in spoken
    ]
    return [line for line in lines if line is not None]
