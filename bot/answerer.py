"""Answers one question: read the thread, ask the model, post the answer (or a notice) in the thread."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot import notices
from bot.conversation import BotIdentity, ThreadMessage, build_conversation, plain_text, user_ids_in
from bot.errors import ModelError
from bot.model_client import Answer, ModelClient, ModelRequest
from bot.rendering import split_markdown
from bot.settings import Settings
from bot.slack_thread import NameDirectory, fetch_thread
from bot.store import Store

logger = logging.getLogger(__name__)

# Slack retries a delivery for about 5 minutes; a claim outlives that comfortably.
CLAIM_TTL_SECONDS = 3600.0
SlackFailure = (SlackClientError, aiohttp.ClientError, TimeoutError)


@dataclass(frozen=True)
class Question:
    """A person's message that the bot should answer, as the event delivered it."""

    event_id: str
    event_type: str
    channel: str
    channel_type: str
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
    def team_id(self) -> str | None:
        team = self.message.get("team") or self.message.get("user_team")
        return str(team) if team else None


class Answerer:
    def __init__(
        self,
        *,
        slack: AsyncWebClient,
        model: ModelClient,
        store: Store,
        names: NameDirectory,
        settings: Settings,
    ) -> None:
        self.slack = slack
        self.model = model
        self.store = store
        self.names = names
        self.settings = settings

    async def answer(self, question: Question, identity: BotIdentity) -> None:
        """Answers once per message, however many times and ways Slack delivers it; logs one line."""
        started = time.monotonic()
        log: dict[str, Any] = {
            "event_id": question.event_id,
            "event_type": question.event_type,
            "channel": question.channel,
            "thread_ts": question.thread_ts,
            "message_ts": question.ts,
            "user": question.user_id,
        }
        if not await self._claim(question):
            log["outcome"] = "duplicate"
        else:
            try:
                log.update(await self._answer(question, identity))
            except SlackFailure as error:
                log.update(outcome="slack_error", error=_slack_error_name(error))
        log["latency_ms"] = round((time.monotonic() - started) * 1000)
        logger.info("event handled", extra=log)

    async def _claim(self, question: Question) -> bool:
        event_is_new = await self.store.claim(f"event:{question.event_id}", CLAIM_TTL_SECONDS)
        message_is_new = await self.store.claim(f"message:{question.channel}:{question.ts}", CLAIM_TTL_SECONDS)
        return event_is_new and message_is_new

    async def _answer(self, question: Question, identity: BotIdentity) -> dict[str, Any]:
        raw_thread = await fetch_thread(self.slack, question.channel, question.thread_ts, question.ts)
        if not any(str(message.get("ts")) == question.ts for message in raw_thread):
            raw_thread.append(question.message)
        thread = [
            message
            for message in (ThreadMessage.from_slack(raw, identity) for raw in raw_thread)
            if message is not None
        ]
        if not plain_text(question.message.get("text") or "", identity.user_id, {}):
            await self._post(question, notices.EMPTY_MENTION)
            return {"outcome": "empty_question"}
        names = await self.names.names(user_ids_in(thread))
        messages = build_conversation(
            thread, bot_user_id=identity.user_id, names=names, system_prompt=self.settings.system_prompt
        )
        if self.settings.log_message_content:
            content = [message.as_json() for message in messages]
            logger.info("model request", extra={"thread_ts": question.thread_ts, "messages": content})
        request = ModelRequest(messages, self.settings.temperature, self.settings.max_tokens)
        try:
            answer = await self.model.complete(request)
        except ModelError as error:
            logger.warning("model call failed", extra={"thread_ts": question.thread_ts, "error": str(error)})
            await self._post(question, notices.model_failed(error))
            return {"outcome": "model_error", "error": str(error)}
        await self._post_answer(question, answer)
        return {
            "outcome": "answered",
            "finish_reason": answer.finish_reason,
            "attempts": answer.attempts,
            "answer_chars": len(answer.text),
            **{f"usage_{key}": value for key, value in answer.usage.items() if isinstance(value, int)},
        }

    async def _post_answer(self, question: Question, answer: Answer) -> None:
        pieces = split_markdown(answer.text) or [notices.EMPTY_ANSWER]
        for piece in pieces:
            await self._post(question, piece)

    async def _post(self, question: Question, markdown: str) -> None:
        await self.slack.chat_postMessage(
            channel=question.channel, thread_ts=question.thread_ts, markdown_text=markdown
        )


def _slack_error_name(error: BaseException) -> str:
    if isinstance(error, SlackClientError) and hasattr(error, "response"):
        return str(error.response.get("error"))
    return type(error).__name__
