"""The channel threads the bot follows: what it knows of each (bot/answer/addressing.py's ThreadState), kept in
the store so that every process decides alike, and read from the event alone, never from Slack."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot import notices
from bot.answer.addressing import (
    ReplyMode,
    ThreadState,
    follow_up_is_for_bot,
    new_message_is_a_question,
)
from bot.safe_text import inert_in_slack
from bot.settings import Settings
from bot.slack.messages import is_direct_message
from bot.store.base import Store

logger = logging.getLogger(__name__)

# A thread is followed for a week after the bot's last word in it.
KEEP_SECONDS = 7 * 24 * 3600


def _key(channel: str, thread_ts: str) -> str:
    return f"following:{channel}:{thread_ts}"


class Following:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    def mode(self, channel: str) -> ReplyMode:
        return ReplyMode(self.settings.channel_modes.get(channel, self.settings.default_reply_mode))

    async def state(self, channel: str, thread_ts: str) -> ThreadState:
        return ThreadState.from_json(await self.store.recall(_key(channel, thread_ts)))

    async def meant_for_bot(self, event: Mapping[str, Any], bot_user_id: str) -> bool:
        """For a person's channel message without a mention: whether to answer it (and what the thread
        now knows). Costs one store read for a thread message, nothing for a channel's other messages."""
        channel, ts, sender = str(event["channel"]), str(event["ts"]), str(event.get("user") or "")
        if is_direct_message(channel) or not self.settings.answers_in(channel, direct=False):
            return False
        mode = self.mode(channel)
        text = str(event.get("text") or "")
        thread_ts = str(event.get("thread_ts") or ts)
        if thread_ts == ts:
            return mode is ReplyMode.HELP and new_message_is_a_question(text, bot_user_id)
        if mode is ReplyMode.MENTION:
            return False
        state = await self.state(channel, thread_ts)
        if not state.answered:
            return False
        for_bot = follow_up_is_for_bot(text, sender, bot_user_id, state)
        await self._keep(channel, thread_ts, ThreadState(True, state.muted, sender, for_bot, state.askers))
        return for_bot

    async def asked(self, channel: str, thread_ts: str, asker: str) -> None:
        """A question the bot is answering: the thread is followed, and unmuted (a mention unmutes it)."""
        if not is_direct_message(channel):
            state = await self.state(channel, thread_ts)
            await self._keep(channel, thread_ts, ThreadState(True, False, asker, True, state.with_asker(asker)))

    async def answered(self, channel: str, thread_ts: str, bot_user_id: str) -> None:
        """The bot has had the last word in the thread."""
        if not is_direct_message(channel):
            state = await self.state(channel, thread_ts)
            await self._keep(channel, thread_ts, ThreadState(True, state.muted, bot_user_id, True, state.askers))

    async def mute(self, channel: str, thread_ts: str) -> None:
        """Quiet until the next mention."""
        state = await self.state(channel, thread_ts)
        await self._keep(channel, thread_ts, ThreadState(True, True, state.last_author, False, state.askers))
        logger.info("thread muted", extra={"channel": channel, "thread_ts": thread_ts})

    async def escalate_once(self, channel: str, thread_ts: str) -> bool:
        """True the first time a thread calls for a human, in any process."""
        return await self.store.claim(f"escalated:{channel}:{thread_ts}", KEEP_SECONDS)

    async def _keep(self, channel: str, thread_ts: str, state: ThreadState) -> None:
        await self.store.remember(_key(channel, thread_ts), state.to_json(), KEEP_SECONDS)


STOP_FOLLOWING_ACTION = "stop_following"
GET_A_HUMAN_ACTION = "get_a_human"
# The asker's question as the escalation quotes it, cut at a word.
SUMMARY_CHARS = 150


def answer_actions(channel: str, asker: str, question: str, *, following: bool, escalate: bool) -> list[dict[str, Any]]:
    """The buttons under an answer in a channel: *Stop following* where the bot follows the thread, and
    *Get a human* where ESCALATE_TO names someone for the channel (its value carries who asked, and what)."""
    elements: list[dict[str, Any]] = []
    if following:
        elements.append(_button(STOP_FOLLOWING_ACTION, notices.STOP_FOLLOWING, {}))
    if escalate:
        elements.append(_button(GET_A_HUMAN_ACTION, notices.GET_A_HUMAN, {"asker": asker, "q": summary_of(question)}))
    if is_direct_message(channel) or not elements:
        return []
    return [{"type": "actions", "elements": elements}]


def _button(action_id: str, text: str, value: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": text},
        "value": json.dumps(value),
    }


def summary_of(question: str) -> str:
    """One line of the question, cut at a word boundary."""
    line = " ".join(question.split())
    if len(line) > SUMMARY_CHARS:
        line = line[:SUMMARY_CHARS].rsplit(" ", 1)[0] + "…"
    return line


def quoted(text: str) -> str:
    """Outside text placed in the bot's own message: Slack's escapes, and nothing in it pings anyone."""
    return inert_in_slack(text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


def escalation_target(who: str) -> str:
    """Slack's mention of a user group (S…) or a person (U…, W…)."""
    return f"<!subteam^{who}>" if who.startswith("S") else f"<@{who}>"


@dataclass(frozen=True)
class EscalationClick:
    """A click on *Get a human*: who clicked, in which thread, for whose question."""

    user: str
    channel: str
    thread_ts: str
    asker: str
    summary: str

    @classmethod
    def from_action(cls, body: Mapping[str, Any], action: Mapping[str, Any]) -> EscalationClick | None:
        try:
            value = json.loads(str(action.get("value") or ""))
        except json.JSONDecodeError:
            return None
        container = body.get("container") or {}
        message = body.get("message") or {}
        channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
        thread_ts = container.get("thread_ts") or message.get("thread_ts") or container.get("message_ts")
        user = (body.get("user") or {}).get("id")
        if not (isinstance(value, dict) and value.get("asker") and channel and thread_ts and user):
            return None
        return cls(str(user), str(channel), str(thread_ts), str(value["asker"]), summary_of(str(value.get("q") or "")))
