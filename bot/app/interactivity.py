"""The Slack edge for shortcuts, slash commands and buttons: parse, check, acknowledge at once, work in a task.

Interactivity payloads and commands carry no event id; a retried delivery carries the same trigger id,
so that is what a request is claimed by. Register further shortcuts, commands and actions here.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot import notices
from bot.answer.feedback import ACTION_ID, Ballot, Feedback
from bot.app.listeners import identity_of
from bot.features.catch_up import CatchUp, CatchUpRequest, PrivateNote, Source
from bot.features.transcript import parse_window
from bot.slack.errors import SLACK_FAILURES
from bot.tasks import TaskTracker
from bot.tools.approval import ACTION_ID as APPROVAL_ACTION
from bot.tools.approval import ApprovalDesk, Click

logger = logging.getLogger(__name__)

SUMMARIZE_THREAD = "summarize_thread"
CATCHUP_COMMAND = "/catchup"
# A note is a courtesy: a slow response URL must not hold up the summary behind it.
NOTE_TIMEOUT_SECONDS = 5.0

Ack = Callable[..., Awaitable[None]]


def private_note(respond: AsyncRespond | None) -> PrivateNote:
    """Ephemeral text through the request's response URL: it works where the bot is not a member."""

    async def send(text: str) -> None:
        if respond is None:
            logger.warning("no response URL for a private note")
            return
        try:
            async with asyncio.timeout(NOTE_TIMEOUT_SECONDS):
                response = await respond(text=text, response_type="ephemeral", replace_original=False)
        except (aiohttp.ClientError, TimeoutError) as error:
            logger.warning("could not send a private note", extra={"error": repr(error)})
            return
        if response.status_code != 200:
            logger.warning("private note refused", extra={"status": response.status_code, "body": response.body})

    return send


def request_key(body: dict[str, Any]) -> str:
    """The trigger id, unique per interaction and the same in a retried delivery; where a payload lacks one,
    a digest of the whole payload, which a retry repeats too."""
    if body.get("trigger_id"):
        return str(body["trigger_id"])
    return "payload-" + hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def register_catch_up(app: AsyncApp, catch_up: CatchUp, tasks: TaskTracker) -> None:
    """The "Summarize thread" message shortcut and the `/catchup` command."""

    async def on_summarize_thread(
        ack: Ack, body: dict[str, Any], respond: AsyncRespond | None, context: AsyncBoltContext
    ) -> None:
        await ack()
        message = body.get("message") or {}
        channel = body.get("channel") or {}
        source = Source(
            kind="thread",
            channel=str(channel.get("id") or ""),
            channel_name=str(channel.get("name") or ""),
            thread_ts=str(message.get("thread_ts") or message.get("ts") or body.get("message_ts") or ""),
        )
        request = CatchUpRequest(
            key=request_key(body),
            event_type="message_action",
            user_id=str((body.get("user") or {}).get("id") or ""),
            team_id=(body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id"),
            identity=identity_of(context),
            source=source,
        )
        tasks.start(catch_up.summarize(request, private_note(respond)), name=f"summarize {source.channel}")

    async def on_catchup(
        ack: Ack, body: dict[str, Any], respond: AsyncRespond | None, context: AsyncBoltContext
    ) -> None:
        text = str(body.get("text") or "")
        window = parse_window(text)
        if window is None:
            await ack(text=notices.catch_up_usage(text))
            return
        await ack()
        source = Source(
            kind="channel",
            channel=str(body.get("channel_id") or ""),
            channel_name=str(body.get("channel_name") or ""),
            oldest=f"{time.time() - window.total_seconds():.6f}",
        )
        request = CatchUpRequest(
            key=request_key(body),
            event_type="slash_command",
            user_id=str(body.get("user_id") or ""),
            team_id=body.get("team_id"),
            identity=identity_of(context),
            source=source,
            window=window,
        )
        tasks.start(catch_up.summarize(request, private_note(respond)), name=f"catch up {source.channel}")

    app.shortcut(SUMMARIZE_THREAD)(on_summarize_thread)
    app.command(CATCHUP_COMMAND)(on_catchup)


def register_feedback(app: AsyncApp, feedback: Feedback, client: AsyncWebClient, tasks: TaskTracker) -> None:
    """The 👍/👎 buttons under answers: each click is recorded (once per person per answer) and thanked
    privately in the answer's thread."""

    async def on_feedback(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        ballot = Ballot.from_action(body, action)
        if ballot is None:
            logger.warning("feedback payload without a vote ignored", extra={"action_id": action.get("action_id")})
            return
        tasks.start(_take_vote(feedback, client, ballot), name=f"feedback {ballot.channel}/{ballot.message_ts}")

    app.action(ACTION_ID)(on_feedback)


async def _take_vote(feedback: Feedback, client: AsyncWebClient, ballot: Ballot) -> None:
    await feedback.vote(ballot)
    thanks = notices.FEEDBACK_THANKS_UP if ballot.vote == "up" else notices.FEEDBACK_THANKS_DOWN
    try:
        await client.chat_postEphemeral(
            channel=ballot.channel, user=ballot.user, thread_ts=ballot.thread_ts, text=thanks
        )
    except SLACK_FAILURES as error:
        logger.warning("could not thank for feedback", extra={"channel": ballot.channel, "error": repr(error)})


def register_tool_approval(app: AsyncApp, desk: ApprovalDesk, client: AsyncWebClient, tasks: TaskTracker) -> None:
    """Approve / Deny under a request to run an action: only the asker's click decides; anyone else's is
    refused privately, as is a click on a request already decided or expired."""

    async def on_click(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        click = Click.from_action(body, action)
        if click is None:
            logger.warning("approval payload without a verdict ignored", extra={"action_id": action.get("action_id")})
            return
        thread_ts = str((body.get("message") or {}).get("thread_ts") or "") or None
        tasks.start(_take_click(desk, client, click, thread_ts), name=f"approval {click.request_id}")

    for verdict in ("approved", "denied"):
        app.action(f"{APPROVAL_ACTION}_{verdict}")(on_click)


async def _take_click(desk: ApprovalDesk, client: AsyncWebClient, click: Click, thread_ts: str | None) -> None:
    refusal = await desk.click(click)
    if refusal is None:
        return
    try:
        await client.chat_postEphemeral(channel=click.channel, user=click.user, thread_ts=thread_ts, text=refusal)
    except SLACK_FAILURES as error:
        logger.warning("could not refuse an approval click privately", extra={"error": repr(error)})
