"""A tool as the model sees it, and the toolbox that runs the calls a model asks for.

Every call is bounded (`CALL_TIMEOUT_SECONDS`), its result capped (`RESULT_CHARS`), and logged in one
line: server, tool, duration, outcome (arguments only with LOG_MESSAGE_CONTENT). A tool that is not
read-only runs only once its approver says yes. Whatever happens, the model gets a text answer to its
call, never an exception: a failure is a result the model can read and say.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import json
import logging
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bot.errors import ToolError
from bot.model.messages import ToolCall
from bot.safe_text import safe_text

logger = logging.getLogger(__name__)

CALL_TIMEOUT_SECONDS = 30.0
RESULT_CHARS = 8000
# Redaction runs over this much more than is kept (a secret straddling the cut is still found whole),
# never over the whole of a flood: 10 MB of token-shaped text takes seconds of CPU to redact.
REDACT_MARGIN_CHARS = 4096
# A result's summary, as its card shows it at most.
SUMMARY_CHARS = 256
# A tool's name as shown and logged: the model names the calls, a server its tools, at any length.
NAME_CHARS = 100
# What chat-completions accepts as a function name.
FUNCTION_NAME = re.compile(r"[^a-zA-Z0-9_-]")


def function_name(*parts: str) -> str:
    """`<server>__<tool>`, in the characters a function name may have, at most 64 of them."""
    return FUNCTION_NAME.sub("_", "__".join(parts))[:64]


@dataclass(frozen=True)
class Source:
    """Something a result came from that people can open (a Slack message's permalink)."""

    url: str
    title: str


@dataclass(frozen=True)
class ToolResult:
    text: str
    is_error: bool = False
    sources: tuple[Source, ...] = ()
    # What the call found, in a few words for its task card ("3 messages"); else the result's first line.
    summary: str = ""


@dataclass(frozen=True)
class ToolSpec:
    """`name` is what the model calls (unique across servers); `remote_name` what its server calls it."""

    name: str
    remote_name: str
    server: str
    description: str
    parameters: Mapping[str, Any]
    needs_approval: bool

    def definition(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description[:1024],
                "parameters": dict(self.parameters),
            },
        }


class Tool(Protocol):
    spec: ToolSpec

    async def call(self, arguments: dict[str, Any]) -> ToolResult:
        """Raises ToolError when the tool could not run."""
        ...


class Decision(enum.Enum):
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"
    UNAVAILABLE = "unavailable"
    UNSHOWABLE = "unshowable"  # the request could not show the call whole, so it was not put to the asker


class Approver(Protocol):
    async def decide(self, spec: ToolSpec, arguments: Mapping[str, Any]) -> Decision:
        """Asks the asker whether this call may run, and waits for the answer (or its expiry)."""
        ...


class NoApprover:
    """Where nobody can be asked, nothing that changes anything runs."""

    async def decide(self, spec: ToolSpec, arguments: Mapping[str, Any]) -> Decision:
        return Decision.UNAVAILABLE


@dataclass(frozen=True)
class Outcome:
    """What one call came to: the text the model is sent back, and what the answer shows of it."""

    call: ToolCall
    spec: ToolSpec | None
    text: str
    status: str  # complete | error | denied | expired
    sources: tuple[Source, ...] = ()
    # Time spent waiting for the asker's decision: it does not count against the answer's deadline.
    waited_seconds: float = 0.0
    summary: str = ""

    @property
    def title(self) -> str:
        return call_title(self.call, self.spec)


def call_title(call: ToolCall, spec: ToolSpec | None) -> str:
    """What the answer names a call by: its tool and server (`order_status (orders)`)."""
    if spec is None:
        return _short(call.name)
    return f"{_short(spec.remote_name)} ({_short(spec.server)})"


REFUSALS = {
    Decision.DENIED: "The person who asked refused this action: it did not run. Do not try it again.",
    Decision.EXPIRED: "Nobody approved this action in time: it did not run.",
    Decision.UNAVAILABLE: "This action needs the asker's approval, which cannot be asked for here: it did not run.",
    Decision.UNSHOWABLE: (
        "The arguments were too long to show the asker whole for approval: it did not run. "
        "Call it again with shorter arguments."
    ),
}


class Toolbox:
    def __init__(
        self,
        tools: Iterable[Tool],
        *,
        secrets: Sequence[str] = (),
        log_arguments: bool = False,
        timeout_seconds: float = CALL_TIMEOUT_SECONDS,
        result_chars: int = RESULT_CHARS,
    ) -> None:
        self.tools = {tool.spec.name: tool for tool in tools}
        self.secrets = tuple(secrets)
        self.log_arguments = log_arguments
        self.timeout_seconds = timeout_seconds
        self.result_chars = result_chars

    def __bool__(self) -> bool:
        return bool(self.tools)

    def definitions(self) -> list[dict[str, Any]]:
        return [tool.spec.definition() for tool in self.tools.values()]

    def spec(self, name: str) -> ToolSpec | None:
        tool = self.tools.get(name)
        return tool.spec if tool else None

    async def run(self, call: ToolCall, approver: Approver, *, within_seconds: float | None = None) -> Outcome:
        started = time.monotonic()
        outcome = await self._run(call, approver, within_seconds)
        fields: dict[str, Any] = {
            "server": outcome.spec.server if outcome.spec else None,
            "tool": _short(outcome.spec.remote_name if outcome.spec else call.name),
            "duration_ms": round((time.monotonic() - started) * 1000),
            "outcome": outcome.status,
        }
        if self.log_arguments:
            fields["arguments"] = safe_text(call.arguments, self.secrets, limit=2000)
        logger.info("tool call", extra=fields)
        return outcome

    async def _run(self, call: ToolCall, approver: Approver, within_seconds: float | None) -> Outcome:
        tool = self.tools.get(call.name)
        if tool is None:
            return Outcome(call, None, f"There is no tool named {_short(call.name)!r}.", "error")
        try:
            arguments = json.loads(call.arguments or "{}")
        except json.JSONDecodeError:
            arguments = None
        if not isinstance(arguments, dict):
            return Outcome(call, tool.spec, "The arguments were not a JSON object; call the tool again.", "error")
        waited = 0.0
        if tool.spec.needs_approval:
            asked = time.monotonic()
            decision = await approver.decide(tool.spec, arguments)
            waited = time.monotonic() - asked
            if decision is not Decision.APPROVED:
                status = "expired" if decision is Decision.EXPIRED else "denied"
                return Outcome(call, tool.spec, REFUSALS[decision], status, waited_seconds=waited)
        outcome = await self._call(call, tool, arguments, within_seconds)
        return dataclasses.replace(outcome, waited_seconds=waited)

    async def _call(
        self, call: ToolCall, tool: Tool, arguments: dict[str, Any], within_seconds: float | None
    ) -> Outcome:
        timeout = self.timeout_seconds
        if within_seconds is not None:
            timeout = max(0.1, min(timeout, within_seconds))
        try:
            async with asyncio.timeout(timeout):
                result = await tool.call(arguments)
        except TimeoutError:
            return Outcome(call, tool.spec, f"The tool did not answer within {timeout:g} s.", "error")
        except ToolError as error:
            said = safe_text(str(error)[: 500 + REDACT_MARGIN_CHARS], self.secrets, limit=500)
            return Outcome(call, tool.spec, f"The tool failed: {said}", "error")
        kept = result.text[: self.result_chars + REDACT_MARGIN_CHARS]
        text = safe_text(kept, self.secrets)
        if len(text) > self.result_chars:
            cut = len(text) - self.result_chars + len(result.text) - len(kept)
            text = f"{text[: self.result_chars]}\n[… {cut} more characters left out]"
        if result.is_error:
            return Outcome(call, tool.spec, f"The tool reported an error: {text}", "error", result.sources)
        # Not cut here: the card cuts it once it is redacted (bot/answer/tool_loop.py).
        summary = safe_text(result.summary[: SUMMARY_CHARS + REDACT_MARGIN_CHARS], self.secrets)
        return Outcome(call, tool.spec, text, "complete", result.sources, summary=summary)


def _short(name: str) -> str:
    return name if len(name) <= NAME_CHARS else name[: NAME_CHARS - 1] + "…"
