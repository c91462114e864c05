"""`python -m bot chat`: talk to the configured model in the terminal, the way the bot would in Slack.

Same conversation building, trimming, streaming, retries and notices as the Slack path (the notices as
plain text), so a deployer can try prompts and the model before touching Slack. The conversation and the
log share the terminal through one `Screen`, so a log line (a retry, say) never lands inside a line of
the conversation. The MCP servers' tools are offered too (Slack search is not: it needs a Slack event), and
an action asks for approval at the prompt.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
import unicodedata
from collections.abc import AsyncIterator, Mapping
from typing import Any, TextIO

from bot import notices
from bot.answer.asking import ask
from bot.answer.conversation import build_conversation
from bot.errors import ModelError
from bot.model.client import Answer
from bot.model.opening import open_model_client
from bot.settings import Settings
from bot.slack.messages import ThreadMessage
from bot.tools.base import Decision, Toolbox, ToolSpec
from bot.tools.mcp import McpTools

YOU = "you"


# Erases the terminal's current line (carriage return, then ANSI "erase to end of line").
CLEAR_LINE = "\r\x1b[K"


class Screen:
    """The terminal the conversation and the log lines share. A log line always starts a line of its own:
    on a terminal the conversation's unfinished line (a prompt, a growing answer) is erased, the log line
    written, and the line drawn again below it; where the two only share a file or pipe, the log line
    starts a new line. Written from the event loop and, for log lines, from any thread."""

    def __init__(self, out: TextIO, log: TextIO) -> None:
        self.out = out
        self.log = log
        self.shared = _same_file(out, log)
        self.redraws = self.shared and out.isatty()
        self.line = ""  # the conversation's unfinished line, as shown
        self._lock = threading.Lock()

    def write(self, text: str) -> None:
        with self._lock:
            self.out.write(text)
            self.out.flush()
            head, newline, tail = text.rpartition("\n")
            self.line = tail if newline else self.line + head + tail

    def write_log(self, text: str) -> int:
        """One formatted log record (logging.StreamHandler writes each in one call)."""
        with self._lock:
            if not (self.shared and self.line):
                self.log.write(text)
                self.log.flush()
                return len(text)
            redraw = self.redraws and _width(self.line) < _columns(self.out)
            self.out.write(CLEAR_LINE if redraw else "\n")
            self.out.flush()
            self.log.write(text)
            self.log.flush()
            if redraw:
                self.out.write(self.line)
                self.out.flush()
            else:
                self.line = ""
            return len(text)

    def line_typed(self) -> None:
        """Enter was pressed: the terminal itself moved to the next line."""
        with self._lock:
            self.line = ""

    @property
    def log_stream(self) -> _LogStream:
        return _LogStream(self)


class _LogStream:
    """What bot.logs.configure_logging writes log lines to: the screen's log side."""

    def __init__(self, screen: Screen) -> None:
        self.screen = screen

    def write(self, text: str) -> int:
        return self.screen.write_log(text)

    def flush(self) -> None:
        """Each line is flushed as it is written."""


def _same_file(first: TextIO, second: TextIO) -> bool:
    try:
        return os.path.samestat(os.fstat(first.fileno()), os.fstat(second.fileno()))
    except (OSError, ValueError):  # io.UnsupportedOperation (a StringIO) is both
        return False


def _columns(out: TextIO) -> int:
    try:
        return os.get_terminal_size(out.fileno()).columns
    except (OSError, ValueError):
        return 0


def _width(line: str) -> int:
    """Columns the line takes on a terminal; a line that may have wrapped is not drawn again."""
    if "\t" in line:
        return sys.maxsize
    return sum(2 if unicodedata.east_asian_width(character) in "WF" else 1 for character in line)


async def chat(settings: Settings, lines: AsyncIterator[str], screen: Screen) -> int:
    model = open_model_client(settings)
    history: list[ThreadMessage] = []
    mcp = McpTools(settings.mcp_servers, settings.secrets)
    await mcp.start()
    for server, problem in mcp.problems.items():
        screen.write(f"MCP server {server} is unavailable, its tools are not offered: {problem}\n")
    approver = PromptApprover(lines, screen)
    screen.write(f"Chatting with {settings.inference_model_id}. An empty line or Ctrl-D ends the chat.\n")
    try:
        async for line in lines:
            if not line.strip():
                break
            history.append(_message(len(history), line.strip(), by_bot=False))
            messages = build_conversation(
                history, bot_user_id="", names={YOU: "You"}, system_prompt=settings.system_prompt
            )
            answer = Answer()
            screen.write("assistant> ")

            async def show(deltas: AsyncIterator[str]) -> None:
                async for text in deltas:
                    screen.write(text)

            try:
                toolbox = Toolbox(await mcp.current(), secrets=settings.secrets)
                await ask(model, messages, settings, show, answer, toolbox=toolbox, approver=approver)
            except ModelError as error:
                ending = notices.interrupted(error) if answer.text else notices.model_failed(error)
            else:
                ending = notices.ending_note(answer.finish_reason) or ""
            shown = notices.plain_text(ending)
            # A failure before any text is said on the assistant's line; a note after text, below it.
            screen.write(f"\n{shown}".rstrip() + "\n" if answer.text else f"{shown}\n")
            if answer.text:
                history.append(_message(len(history), answer.text, by_bot=True))
    finally:
        await mcp.close()
        await model.http.aclose()
    return 0


class PromptApprover:
    """Asks at the prompt before an action runs: `y` runs it, anything else refuses it."""

    def __init__(self, lines: AsyncIterator[str], screen: Screen) -> None:
        self.lines = lines
        self.screen = screen

    async def decide(self, spec: ToolSpec, arguments: Mapping[str, Any]) -> Decision:
        # The tool's and server's names are the server's words: shown with their control characters
        # escaped (the arguments are, by repr), so none can redraw the prompt over what will run.
        tool, server = _printable(spec.remote_name), _printable(spec.server)
        self.screen.write(f"\nRun {tool} on {server} with {arguments}? [y/N] ")
        try:
            typed = await anext(self.lines)
        except StopAsyncIteration:
            return Decision.DENIED
        return Decision.APPROVED if typed.strip().lower() in ("y", "yes") else Decision.DENIED


def _printable(text: str) -> str:
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def _message(index: int, text: str, *, by_bot: bool) -> ThreadMessage:
    return ThreadMessage(ts=f"{index + 1}.0", author_id=YOU, text=text, by_this_bot=by_bot, by_a_person=not by_bot)


async def stdin_lines(screen: Screen) -> AsyncIterator[str]:
    """Lines typed at the prompt. The blocking read runs in a daemon thread, so the stream keeps printing,
    and a Ctrl-C at the prompt ends the chat at once instead of waiting for a line that never comes."""
    loop = asyncio.get_running_loop()
    while True:
        if sys.stdin.isatty():
            screen.write("you> ")
        typed: asyncio.Future[str] = loop.create_future()
        threading.Thread(target=_read_line, args=(loop, typed), name="stdin", daemon=True).start()
        line = await typed
        if not line:
            return
        screen.line_typed()
        yield line


def _read_line(loop: asyncio.AbstractEventLoop, typed: asyncio.Future[str]) -> None:
    try:
        line: str | ValueError | OSError = sys.stdin.readline()
    except (ValueError, OSError) as error:  # bytes not in the terminal's encoding, say: the chat ends with it
        line = error
    with contextlib.suppress(RuntimeError):  # the loop is closed: the chat ended while this line was typed
        loop.call_soon_threadsafe(_settle, typed, line)


def _settle(typed: asyncio.Future[str], line: str | ValueError | OSError) -> None:
    if typed.done():
        return
    if isinstance(line, (ValueError, OSError)):
        typed.set_exception(line)
    else:
        typed.set_result(line)
