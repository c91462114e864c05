"""Delivers Events API payloads to the bot, signed exactly as Slack signs them."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import aiohttp
from slack_sdk.signature import SignatureVerifier

from tests.fakes.slack_api import TEAM_ID

SIGNING_SECRET = "signing-secret-abcdef0123456789"
# Slack's event ids are unique across a workspace, whichever process they are delivered to.
EVENT_IDS = itertools.count(1)


class EventSender:
    def __init__(self, url: str, session: aiohttp.ClientSession, secret: str = SIGNING_SECRET) -> None:
        self.url = url
        self.session = session
        self.verifier = SignatureVerifier(secret)

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
    ) -> aiohttp.ClientResponse:
        stamp = str(timestamp if timestamp is not None else int(time.time()))
        all_headers = {
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signature or self.verifier.generate_signature(timestamp=stamp, body=body),
            **(headers or {}),
        }
        async with self.session.post(self.url, data=body.encode(), headers=all_headers) as response:
            await response.read()
            return response

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
