"""The buttons under an answer in a channel: *Stop following* mutes the thread, *Get a human* calls in whom
ESCALATE_TO names for the channel, once per thread and only for the person who asked."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import notices
from bot.answer.feedback import Feedback
from bot.answer.following import (
    GET_A_HUMAN_ACTION,
    STOP_FOLLOWING_ACTION,
    EscalationClick,
    Following,
    escalation_target,
    quoted,
)
from bot.settings import Settings
from bot.slack.errors import SLACK_FAILURES
from bot.tasks import TaskTracker

logger = logging.getLogger(__name__)

Ack = Callable[..., Awaitable[None]]


def register_thread_buttons(
    app: AsyncApp,
    following: Following,
    feedback: Feedback,
    client: AsyncWebClient,
    settings: Settings,
    tasks: TaskTracker,
) -> None:
    async def on_stop_following(ack: Ack, body: dict[str, Any]) -> None:
        await ack()
        where = _thread_of(body)
        if where is None:
            logger.warning("stop-following payload without a thread ignored")
            return
        tasks.start(_stop_following(following, client, *where), name=f"stop following {where[0]}/{where[1]}")

    async def on_get_a_human(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        click = EscalationClick.from_action(body, action)
        if click is None or click.channel not in settings.escalate_to:
            logger.warning("escalation payload without an asker or a target ignored")
            return
        target = settings.escalate_to[click.channel]
        tasks.start(_escalate(following, feedback, client, click, target), name=f"escalate {click.channel}")

    app.action(STOP_FOLLOWING_ACTION)(on_stop_following)
    app.action(GET_A_HUMAN_ACTION)(on_get_a_human)


def _thread_of(body: dict[str, Any]) -> tuple[str, str] | None:
    container = body.get("container") or {}
    message = body.get("message") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    thread_ts = container.get("thread_ts") or message.get("thread_ts") or container.get("message_ts")
    return (str(channel), str(thread_ts)) if channel and thread_ts else None


async def _stop_following(following: Following, client: AsyncWebClient, channel: str, thread_ts: str) -> None:
    if (await following.state(channel, thread_ts)).muted:
        return
    await following.mute(channel, thread_ts)
    try:
        await client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=notices.MUTED)
    except SLACK_FAILURES as error:
        logger.warning("could not say the thread is muted", extra={"channel": channel, "error": repr(error)})


async def _escalate(
    following: Following, feedback: Feedback, client: AsyncWebClient, click: EscalationClick, target: str
) -> None:
    private = None
    try:
        if click.user != click.asker:
            private = notices.ESCALATION_ONLY_ASKER
        elif not await following.escalate_once(click.channel, click.thread_ts):
            private = notices.ALREADY_ESCALATED
        else:
            text = notices.escalation(escalation_target(target), click.asker, quoted(click.summary))
            await client.chat_postMessage(channel=click.channel, thread_ts=click.thread_ts, text=text)
            await feedback.escalated()
            logger.info("escalated", extra={"channel": click.channel, "thread_ts": click.thread_ts, "to": target})
            return
        await client.chat_postEphemeral(channel=click.channel, user=click.user, thread_ts=click.thread_ts, text=private)
    except SLACK_FAILURES as error:
        logger.warning("escalation not delivered", extra={"channel": click.channel, "error": repr(error)})
