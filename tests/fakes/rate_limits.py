"""Slack's per-method rate limits, as the fake Slack enforces them: sliding windows per workspace or per
conversation, Slack's published limits for the methods the bot calls, and the HTTP 429 past them."""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class RateLimit:
    """At most `calls` accepted calls in any `window_seconds` (a sliding window), per workspace, or per
    value of the parameter `per` (say, `channel`). Past it Slack answers HTTP 429 `ratelimited` with a
    whole-second `Retry-After`: how long until the oldest call in the window leaves it."""

    calls: int
    window_seconds: float = 60.0
    per: str | None = None


# Slack's published limits for the methods the bot calls (docs.slack.dev method pages; Tier 2 is 20+ calls a
# minute, Tier 3 50+, Tier 4 100+, per workspace). The "special" ones are modelled: `chat.postMessage` and
# `assistant.threads.setStatus` about one a second per conversation with short bursts (and a few hundred a
# minute per workspace for posting), `auth.test` hundreds a minute.
PUBLISHED_RATE_LIMITS: dict[str, tuple[RateLimit, ...]] = {
    "auth.test": (RateLimit(600),),
    "conversations.replies": (RateLimit(50),),
    "conversations.info": (RateLimit(50),),
    "users.info": (RateLimit(100),),
    "users.list": (RateLimit(20),),
    "conversations.members": (RateLimit(100),),
    "chat.postMessage": (RateLimit(10, 10, per="channel"), RateLimit(300)),
    "chat.update": (RateLimit(50),),
    "chat.startStream": (RateLimit(20),),
    "chat.appendStream": (RateLimit(100),),
    "chat.stopStream": (RateLimit(20),),
    "chat.postEphemeral": (RateLimit(100),),
    "assistant.threads.setStatus": (RateLimit(10, 10, per="channel_id"),),
    "reactions.add": (RateLimit(50),),
    "reactions.remove": (RateLimit(20),),
    "views.publish": (RateLimit(100),),
}


class RateLimiter:
    def __init__(self, limits: dict[str, tuple[RateLimit, ...]]) -> None:
        self.limits = limits
        self._accepted: dict[tuple[str, RateLimit, str], deque[float]] = {}

    def retry_after(self, method: str, params: dict[str, Any]) -> int | None:
        """None if the call is within every limit of its method (and then it counts), else the seconds to wait."""
        now = time.monotonic()
        windows = []
        for limit in self.limits.get(method, ()):
            key = (method, limit, str(params.get(limit.per, "")) if limit.per else "")
            accepted = self._accepted.setdefault(key, deque())
            while accepted and accepted[0] <= now - limit.window_seconds:
                accepted.popleft()
            if len(accepted) >= limit.calls:
                return max(1, math.ceil(accepted[0] + limit.window_seconds - now))
            windows.append(accepted)
        for accepted in windows:
            accepted.append(now)
        return None


def ratelimited(retry_after: int) -> web.Response:
    """Slack's answer past a limit: HTTP 429 `ratelimited`, and how many whole seconds to wait."""
    return web.json_response(
        {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": str(retry_after)}
    )
