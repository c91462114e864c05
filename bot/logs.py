"""Structured log lines (logfmt), every field made safe (bot/safe_text.py) whatever the code tried to log."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import MutableMapping, Sequence
from enum import StrEnum
from typing import Any, Protocol

from bot.safe_text import safe_text


class Outcome(StrEnum):
    """How a handled event ended: the `outcome` field of its one "event handled" line."""

    ANSWERED = "answered"
    DUPLICATE = "duplicate"
    CHANNEL_NOT_ALLOWED = "channel_not_allowed"
    EMPTY_QUESTION = "empty_question"
    OVER_BUDGET = "over_budget"
    INTERRUPTED = "interrupted"
    MODEL_ERROR = "model_error"
    SLACK_ERROR = "slack_error"
    STOPPED_BY_SHUTDOWN = "stopped_by_shutdown"
    HANDED_BACK = "handed_back"
    GAVE_UP = "gave_up"
    ALREADY_ANSWERED = "already_answered"
    CANNOT_READ = "cannot_read"
    NOTHING_TO_SUMMARIZE = "nothing_to_summarize"
    MUTED = "muted"


def log_event_handled(logger: logging.Logger, log: MutableMapping[str, Any], started: float) -> None:
    """The one line per handled event: its fields, with the time since `started` (time.monotonic())."""
    log["latency_ms"] = round((time.monotonic() - started) * 1000)
    logger.info("event handled", extra=dict(log))


# Attributes every LogRecord has; anything else on a record came from `extra=` and is printed as a field.
STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class LogfmtFormatter(logging.Formatter):
    def __init__(self, secrets: Sequence[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(secrets)

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, object] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in STANDARD_ATTRIBUTES and not key.startswith("_"):
                fields[key] = value
        if record.exc_info:
            fields["exception"] = self.formatException(record.exc_info)
        line = " ".join(f"{key}={self._quote(value)}" for key, value in fields.items() if value is not None)
        # A lone surrogate (a model may send half an emoji) cannot be written as UTF-8: the whole line
        # would be lost. It is written as its escape instead.
        return line.encode("utf-8", "backslashreplace").decode("utf-8")

    def _quote(self, value: object) -> str:
        text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
        return _quote(safe_text(text, self.secrets))


def _quote(text: str) -> str:
    if text and all(character.isalnum() or character in "._-:/@+" for character in text):
        return text
    return json.dumps(text, ensure_ascii=False)


class LogStream(Protocol):
    """Where log lines go: a file such as sys.stdout, or `python -m bot chat`'s screen."""

    def write(self, text: str, /) -> object: ...

    def flush(self) -> None: ...


def configure_logging(level: str, secrets: Sequence[str], stream: LogStream = sys.stdout) -> None:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(LogfmtFormatter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # These log request headers (tokens) at DEBUG; keep them at INFO or above whatever LOG_LEVEL says.
    for name in ("slack_sdk", "slack_bolt", "httpx", "httpcore", "httpx2", "httpcore2", "mcp", "aiohttp.access"):
        logging.getLogger(name).setLevel(max(logging.getLevelName(level), logging.WARNING))
