"""Reads a model service's error (an HTTP error response, or an error event inside the stream) into the
bot's own error: the service's words made safe to show, what kind of failure it is, and which setting to
check when only the person who runs the bot can fix it.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from bot.errors import ContextTooLong, ModelHTTPError, ModelSetupError
from bot.safe_text import inert_in_slack, safe_text

# The service's words in the log and in `check`; a notice quotes a summary: the first sentence, in whole words.
DETAIL_LIMIT = 1000
SUMMARY_LIMIT = 120
SENTENCE_END = re.compile(r"(?<=[.!?;])\s+")
CONTEXT_TOO_LONG = re.compile(
    r"context (length|window)|too many (input )?tokens|prompt is too long|input is too long|maximum context",
    re.IGNORECASE,
)
DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")

KEY = ("INFERENCE_KEY",)
ACCESS = ("INFERENCE_KEY", "INFERENCE_MODEL_ID")
MODEL = ("INFERENCE_MODEL_ID",)
# Error codes and types (OpenAI-, Anthropic- and Heroku-style) that only a change of settings can fix.
SETUP_CODES: dict[str, tuple[str, ...]] = {
    "invalid_api_key": KEY,
    "authentication_error": KEY,
    "invalid_authentication": KEY,
    "unauthorized": KEY,
    "permission_error": ACCESS,
    "permission_denied": ACCESS,
    "access_denied": ACCESS,
    "insufficient_quota": ACCESS,
    "model_not_found": MODEL,
    "invalid_model": MODEL,
    "unknown_model": MODEL,
    "model_not_available": MODEL,
}
SETUP_STATUSES: dict[int, tuple[str, ...]] = {401: KEY, 403: ACCESS, 404: ("INFERENCE_MODEL_ID", "INFERENCE_URL")}
UNKNOWN_MODEL = re.compile(
    r"\b(unknown|invalid|unsupported) model\b|\bno such model\b|\bmodel\b[^.]{0,80}?\b(not found|does not exist|"
    r"is not supported|not available|unknown)\b",
    re.IGNORECASE,
)
NO_ACCESS = re.compile(r"\b(not|no longer) (have|has) access\b|\bno access\b|\bnot (allowed|authorized) to use\b", re.I)
# A request parameter the service refused names the setting it came from.
PARAMETERS = (
    (re.compile(r"\btemperature\b", re.IGNORECASE), "MODEL_TEMPERATURE"),
    (re.compile(r"\bmax.tokens\b", re.IGNORECASE), "MODEL_MAX_TOKENS"),
)
# Statuses for an error event inside a stream, which arrives under HTTP 200 and may carry only a code.
CODE_STATUSES = {
    **{code: {KEY: 401, ACCESS: 403, MODEL: 404}[settings] for code, settings in SETUP_CODES.items()},
    "rate_limit_error": 429,
    "rate_limit_exceeded": 429,
    "overloaded_error": 529,
    "server_error": 500,
    "api_error": 500,
    "context_length_exceeded": 400,
}


@dataclass
class _Said:
    """What a service's error body says: its words (outside text, not yet safe), codes and status."""

    message: str
    from_the_service: bool
    codes: set[str] = field(default_factory=set)
    status: int | None = None


def http_error(response: httpx.Response, body: str, secrets: Sequence[str]) -> ModelHTTPError:
    """The error an HTTP error response with `body` (or its start) stands for."""
    said = _said_in_body(body, response.reason_phrase)
    return _error(response.status_code, said, secrets, _retry_after(response.headers))


def redirect_error(response: httpx.Response, secrets: Sequence[str]) -> ModelSetupError:
    """A redirect means INFERENCE_URL is not the service's address (http:// for an https-only service, an
    old host); it is not followed, since the key would go wherever the redirect says."""
    location = _safe_message(response.headers.get("location", ""), secrets)
    moved = f"the service has moved to {location}"
    return ModelSetupError(response.status_code, summary(moved), ("INFERENCE_URL",), detail=moved)


def stream_error(event: dict[str, Any], secrets: Sequence[str]) -> ModelHTTPError:
    """The error a gateway's `data: {"error": ...}` event stands for. The stream's HTTP status was 200: the
    event's own status or code says what kind of failure it is, and one that says nothing counts as the
    service's (500), retried only while no text was shown, as a broken stream is."""
    said = _said_in(event)
    status = said.status
    if status is None:
        # Codes that name the setup first: an event may carry a general type and a specific code.
        known = sorted(said.codes & CODE_STATUSES.keys(), key=lambda code: (code not in SETUP_CODES, code))
        status = CODE_STATUSES[known[0]] if known else 500
    return _error(status, said, secrets, None, in_stream=True)


def _error(
    status: int, said: _Said, secrets: Sequence[str], retry_after: float | None, *, in_stream: bool = False
) -> ModelHTTPError:
    detail = _safe_message(said.message, secrets)
    message = summary(detail)
    if (status in (400, 413) and CONTEXT_TOO_LONG.search(said.message)) or "context_length_exceeded" in said.codes:
        return ContextTooLong(status, message, retry_after, detail=detail, in_stream=in_stream)
    settings = _settings_at_fault(status, said)
    if settings:
        return ModelSetupError(status, message, settings, retry_after, detail=detail, in_stream=in_stream)
    return ModelHTTPError(status, message, retry_after, detail=detail, in_stream=in_stream)


def summary(detail: str) -> str:
    """What a notice quotes of a service's words (already made safe): the first sentence, at most
    `SUMMARY_LIMIT` characters, cut between words. What follows it is often a gateway's internals (its
    tables, its routing), which the people in a channel have no use for; the log keeps it all."""
    first = SENTENCE_END.split(detail, maxsplit=1)[0].rstrip(";")
    if len(first) <= SUMMARY_LIMIT:
        return first
    space = first.rfind(" ", 0, SUMMARY_LIMIT)
    if space < SUMMARY_LIMIT // 2:
        return safe_text(first, limit=SUMMARY_LIMIT)  # one word longer than the summary: cut inside it
    return first[:space].rstrip(" ,;:-(") + "…"


def _settings_at_fault(status: int, said: _Said) -> tuple[str, ...]:
    """The settings to check when the error is about the bot's setup, not the question; else ()."""
    for code in sorted(said.codes):
        if code in SETUP_CODES:
            return SETUP_CODES[code]
    if not 400 <= status < 500:
        return ()
    if status == 403 and not said.from_the_service:
        return ()  # a filter's page in front of the service, often about the message's content
    if NO_ACCESS.search(said.message):
        return ACCESS
    if UNKNOWN_MODEL.search(said.message):
        return MODEL
    if status in SETUP_STATUSES:
        return SETUP_STATUSES[status]
    if status in (400, 422):
        return tuple(setting for pattern, setting in PARAMETERS if pattern.search(said.message))
    return ()


def _said_in_body(body: str, reason_phrase: str) -> _Said:
    text = body.strip()
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        parsed = None
    if parsed is not None:
        said = _said_in(parsed)
    elif "<" in text and ">" in text:
        title = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
        said = _Said(title.group(1) if title else re.sub(r"<[^>]+>", " ", text), from_the_service=False)
    else:
        said = _Said(text, from_the_service=False)
    if not said.message.strip():
        said.message = reason_phrase
    return said


def _said_in(body: Any) -> _Said:
    said = _Said(_error_message(body), from_the_service=True)
    node = body
    while isinstance(node, dict):
        for key in ("code", "type", "status"):
            value = node.get(key)
            if isinstance(value, bool):
                continue
            if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
                if said.status is None and 400 <= int(value) <= 599:
                    said.status = int(value)
            elif isinstance(value, str):
                said.codes.add(value.lower())
        node = node.get("error")
    return said


def _error_message(body: Any) -> str:
    """The human part of an error body, whatever shape the service chose."""
    if isinstance(body, str):
        return body
    if isinstance(body, dict):
        for key in ("error", "message", "detail", "error_message"):
            if key in body:
                return _error_message(body[key])
    return json.dumps(body)


def _safe_message(message: str, secrets: Sequence[str]) -> str:
    """One line, secrets masked, pinging no one in Slack, then cut: the only way a service's words reach a
    notice or a log."""
    one_line = inert_in_slack(" ".join(message.split()))
    return safe_text(one_line, secrets, limit=DETAIL_LIMIT) or "no details given"


def _retry_after(headers: httpx.Headers) -> float | None:
    """Seconds to wait from `Retry-After` or Heroku's `x-ratelimit-reset-*` durations, if given."""
    value = headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
            except (TypeError, ValueError):
                pass
    resets = [
        _duration_seconds(headers[name])
        for name in ("x-ratelimit-reset-requests", "x-ratelimit-reset-tokens")
        if name in headers
    ]
    known = [seconds for seconds in resets if seconds is not None]
    return max(known) if known else None


def _duration_seconds(value: str) -> float | None:
    """'51s', '1m30s', '250ms' → seconds."""
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    parts = DURATION_PART.findall(value.strip())
    if not parts:
        try:
            return float(value)
        except ValueError:
            return None
    return sum(float(number) * units[unit] for number, unit in parts)
