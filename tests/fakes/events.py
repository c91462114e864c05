"""Delivers Events API payloads, shortcuts and slash commands to the bot, signed exactly as Slack signs them."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any
from urllib.parse import urlencode

import aiohttp
from slack_sdk.signature import SignatureVerifier

from tests.fakes.slack_api import TEAM_ID

SIGNING_SECRET = "signing-secret-abcdef0123456789"
# Slack's event ids are unique across a workspace, whichever process they are delivered to.
EVENT_IDS = itertools.count(1)
TRIGGER_IDS = itertools.count(1)
FORM = "application/x-www-form-urlencoded"


def message_shortcut(
    message: dict[str, Any], user: str, response_url: str, callback_id: str = "summarize_thread"
) -> dict[str, Any]:
    """A `message_action` payload: `user` chose the shortcut on `message` (as `post_as_person` returns it)."""
    channel = message["channel"]
    return {
        "type": "message_action",
        "token": "legacy-verification-token",
        "action_ts": f"{time.time():.6f}",
        "team": {"id": TEAM_ID, "domain": "test"},
        "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID},
        "channel": {"id": channel, "name": f"name-of-{channel.lower()}"},
        "is_enterprise_install": False,
        "callback_id": callback_id,
        "trigger_id": f"{next(TRIGGER_IDS)}.1.abcdef",
        "response_url": response_url,
        "message_ts": message["ts"],
        "message": {key: value for key, value in message.items() if key != "channel"},
    }


def block_action(
    message: dict[str, Any], user: str, action: dict[str, Any], response_url: str, channel: str | None = None
) -> dict[str, Any]:
    """A `block_actions` payload: `user` clicked `action` (its `action_id`, `value`, ...) in `message`, a
    message as the fake Slack stores it (`bot_messages`), in `channel`."""
    where = channel or message["channel"]
    stored = {key: value for key, value in message.items() if key != "channel"}
    container = {"type": "message", "message_ts": message["ts"], "channel_id": where, "is_ephemeral": False}
    if message.get("thread_ts"):
        container["thread_ts"] = message["thread_ts"]
    return {
        "type": "block_actions",
        "token": "legacy-verification-token",
        "api_app_id": "A0001",
        "team": {"id": TEAM_ID, "domain": "test"},
        "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID},
        "container": container,
        "channel": {"id": where, "name": f"name-of-{where.lower()}"},
        "message": stored,
        "trigger_id": f"{next(TRIGGER_IDS)}.1.abcdef",
        "response_url": response_url,
        "is_enterprise_install": False,
        "actions": [{"block_id": "b1", "action_ts": f"{time.time():.6f}", **action}],
    }


def slash_command(command: str, text: str, channel: str, user: str, response_url: str) -> dict[str, str]:
    """A slash command's form fields, as Slack posts them."""
    return {
        "token": "legacy-verification-token",
        "team_id": TEAM_ID,
        "team_domain": "test",
        "channel_id": channel,
        "channel_name": f"name-of-{channel.lower()}",
        "user_id": user,
        "user_name": user.lower(),
        "command": command,
        "text": text,
        "api_app_id": "A0001",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": f"{next(TRIGGER_IDS)}.1.abcdef",
    }


def tab_opened(user: str, tab: str, channel: str) -> dict[str, object]:
    """`app_home_opened` as Slack sends it (under agent_view, opening the Messages tab sends it too)."""
    return {"type": "app_home_opened", "user": user, "channel": channel, "tab": tab, "event_ts": "1700000000.1"}


class EventSender:
    def __init__(self, url: str, session: aiohttp.ClientSession, secret: str = SIGNING_SECRET) -> None:
        self.url = url
        self.session = session
        self.verifier = SignatureVerifier(secret)
        self.last_body = b""

    def envelope(self, event: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
        return {
            "token": "legacy-verification-token",
            "team_id": TEAM_ID,
            "api_app_id": "A0001",
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(EVENT_IDS):08d}",
            "event_time": int(time.time()),
            "event": event,
        }

    async def post(
        self,
        body: str,
        *,
        timestamp: int | None = None,
        signature: str | None = None,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> aiohttp.ClientResponse:
        stamp = str(timestamp if timestamp is not None else int(time.time()))
        all_headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signature or self.verifier.generate_signature(timestamp=stamp, body=body),
            **(headers or {}),
        }
        async with self.session.post(self.url, data=body.encode(), headers=all_headers) as response:
            self.last_body = await response.read()
            return response

    async def interact(self, payload: dict[str, Any]) -> aiohttp.ClientResponse:
        """An interactivity request (shortcut, button): the JSON payload in a `payload` form field."""
        return await self.post(urlencode({"payload": json.dumps(payload)}), content_type=FORM)

    async def command(self, fields: dict[str, str]) -> aiohttp.ClientResponse:
        """A slash command: plain form fields."""
        return await self.post(urlencode(fields), content_type=FORM)

    async def deliver(
        self, event: dict[str, Any], event_id: str | None = None, retry_num: int | None = None
    ) -> aiohttp.ClientResponse:
        headers = {}
        if retry_num is not None:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        return await self.post(json.dumps(self.envelope(event, event_id)), headers=headers)

    async def mention(self, message: dict[str, Any], event_id: str | None = None) -> aiohttp.ClientResponse:
        event = {**message, "type": "app_mention"}
        event.pop("channel_type", None)
        return await self.deliver(event, event_id)

    async def message(
        self, message: dict[str, Any], channel_type: str = "channel", event_id: str | None = None
    ) -> aiohttp.ClientResponse:
        return await self.deliver({**message, "type": "message", "channel_type": channel_type}, event_id)
