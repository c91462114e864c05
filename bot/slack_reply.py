"""One answer's messages in a Slack thread: streamed with Slack's streaming API, or posted and updated.

Streaming (`chat.startStream` / `appendStream` / `stopStream`) shows text as it is written. When Slack
refuses it (older workspaces, missing recipient, an expired stream), the reply falls back to one message
per piece, posted once and then updated with `chat.update`, carrying the Markdown in a `markdown` block.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.notices import THINKING_STATUS
from bot.rendering import Segment, to_mrkdwn

logger = logging.getLogger(__name__)

# Plain `text` beside the blocks is for notifications and old clients; Slack advises under 4,000 characters.
FALLBACK_TEXT_LIMIT = 3_900
PERMANENT_REFUSALS = frozenset(
    {"unknown_method", "not_allowed_token_type", "missing_scope", "not_allowed", "feature_not_enabled", "no_permission"}
)


@dataclass
class SlackCapabilities:
    """What this workspace turned out to refuse, learnt once per process to save failing calls."""

    streaming: bool = True
    thread_status: bool = True


@dataclass(frozen=True)
class ReplyTarget:
    channel: str
    thread_ts: str
    recipient_user_id: str
    recipient_team_id: str | None


class SlackReply:
    def __init__(self, client: AsyncWebClient, target: ReplyTarget, capabilities: SlackCapabilities) -> None:
        self.client = client
        self.target = target
        self.capabilities = capabilities
        self.message_ts: list[str] = []
        self.slack_calls = 0
        self._text = ""
        self._streaming = False

    async def write(self, segment: Segment) -> None:
        if segment.starts_message:
            await self.end_message()
            await self._start(segment.text)
        elif segment.text:
            await self._append(segment.text)

    async def finish(self, segments: list[Segment]) -> None:
        """Writes the last segments and closes the message; a stream takes its last text with its stop."""
        last = segments.pop() if segments and not segments[-1].starts_message else None
        for segment in segments:
            await self.write(segment)
        if last is not None and not self._streaming:
            await self.write(last)
        await self.end_message(last.text if last is not None and self._streaming else "")

    async def end_message(self, last_text: str = "") -> None:
        if self._streaming:
            self._streaming = False
            self._text += last_text
            try:
                self.slack_calls += 1
                await self.client.chat_stopStream(
                    channel=self.target.channel, ts=self.message_ts[-1], markdown_text=last_text or None
                )
            except SlackApiError as error:
                logger.warning("could not stop a stream; setting the text instead", extra=_error(error))
                await self._update()

    async def _start(self, text: str) -> None:
        self._text = text
        if self.capabilities.streaming:
            try:
                self.slack_calls += 1
                response = await self.client.chat_startStream(
                    channel=self.target.channel,
                    thread_ts=self.target.thread_ts,
                    markdown_text=text,
                    recipient_user_id=self.target.recipient_user_id,
                    recipient_team_id=self.target.recipient_team_id,
                )
                self.message_ts.append(str(response["ts"]))
                self._streaming = True
                return
            except SlackApiError as error:
                logger.warning("streaming refused; posting and updating instead", extra=_error(error))
                if _is_permanent(error):
                    self.capabilities.streaming = False
        self.slack_calls += 1
        fallback, blocks = _markdown_message(text)
        response = await self.client.chat_postMessage(
            channel=self.target.channel, thread_ts=self.target.thread_ts, text=fallback, blocks=blocks
        )
        self.message_ts.append(str(response["ts"]))

    async def _append(self, text: str) -> None:
        self._text += text
        if self._streaming:
            try:
                self.slack_calls += 1
                await self.client.chat_appendStream(
                    channel=self.target.channel, ts=self.message_ts[-1], markdown_text=text
                )
                return
            except SlackApiError as error:
                logger.warning("stream append refused; updating the message instead", extra=_error(error))
                self._streaming = False
        await self._update()

    async def _update(self) -> None:
        self.slack_calls += 1
        fallback, blocks = _markdown_message(self._text)
        await self.client.chat_update(channel=self.target.channel, ts=self.message_ts[-1], text=fallback, blocks=blocks)


def _markdown_message(markdown: str) -> tuple[str, list[dict[str, Any]]]:
    """Markdown rendered by Slack in a `markdown` block, with mrkdwn text for notifications."""
    fallback = to_mrkdwn(markdown)
    if len(fallback) > FALLBACK_TEXT_LIMIT:
        fallback = fallback[: FALLBACK_TEXT_LIMIT - 1] + "…"
    return fallback, [{"type": "markdown", "text": markdown}]


def _is_permanent(error: SlackApiError) -> bool:
    """Refusals that will not change for this workspace while the process runs."""
    return error.response.get("error") in PERMANENT_REFUSALS


def _error(error: SlackApiError) -> dict[str, object]:
    return {"error": error.response.get("error")}


class ThreadStatus:
    """Shows at once that the bot is working: the thread's "is thinking…" status, else an :eyes: reaction."""

    def __init__(
        self, client: AsyncWebClient, capabilities: SlackCapabilities, channel: str, thread_ts: str, message_ts: str
    ) -> None:
        self.client = client
        self.capabilities = capabilities
        self.channel = channel
        self.thread_ts = thread_ts
        self.message_ts = message_ts
        self.reacted = False

    async def show(self, status: str = THINKING_STATUS) -> None:
        if self.reacted:
            return
        if self.capabilities.thread_status:
            try:
                await self.client.assistant_threads_setStatus(
                    channel_id=self.channel, thread_ts=self.thread_ts, status=status
                )
                return
            except SlackApiError as error:
                logger.info("thread status refused; reacting instead", extra=_error(error))
                if _is_permanent(error):
                    self.capabilities.thread_status = False
        try:
            await self.client.reactions_add(channel=self.channel, timestamp=self.message_ts, name="eyes")
            self.reacted = True
        except SlackApiError as error:
            logger.info("could not react to show progress", extra=_error(error))

    async def clear(self) -> None:
        """The status clears itself when the bot replies; only a reaction needs taking back."""
        if self.reacted:
            try:
                await self.client.reactions_remove(channel=self.channel, timestamp=self.message_ts, name="eyes")
            except SlackApiError as error:
                logger.info("could not remove the progress reaction", extra=_error(error))
