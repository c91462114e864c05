"""`python -m bot chat`: talk to the configured model in the terminal, the way the bot would in Slack.

Same conversation building, trimming, streaming, retries and notices as the Slack path, so a deployer
can try prompts and the model before touching Slack. The MCP servers' tools are offered too (Slack search
is not: it needs a Slack event), and an action asks for approval at the prompt.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
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


async def chat(settings: Settings, lines: AsyncIterator[str], out: TextIO) -> int:
    model = open_model_client(settings)
    history: list[ThreadMessage] = []
    mcp = McpTools(settings.mcp_servers, settings.secrets)
    await mcp.start()
    for server, problem in mcp.problems.items():
        print(f"MCP server {server} is unavailable, its tools are not offered: {problem}", file=out)
    approver = PromptApprover(lines, out)
    print(f"Chatting with {settings.inference_model_id}. An empty line or Ctrl-D ends the chat.", file=out)
    try:
        async for line in lines:
            if not line.strip():
                break
            history.append(_message(len(history), line.strip(), by_bot=False))
            messages = build_conversation(
                history, bot_user_id="", names={YOU: "You"}, system_prompt=settings.system_prompt
            )
            answer = Answer()
            print("assistant> ", end="", file=out, flush=True)

            async def show(deltas: AsyncIterator[str]) -> None:
                async for text in deltas:
                    print(text, end="", file=out, flush=True)

            try:
                toolbox = Toolbox(await mcp.current(), secrets=settings.secrets)
                await ask(model, messages, settings, show, answer, toolbox=toolbox, approver=approver)
            except ModelError as error:
                ending = notices.interrupted(error) if answer.text else notices.model_failed(error)
            else:
                ending = notices.ending_note(answer.finish_reason) or ""
            print(f"\n{ending}".rstrip() + "\n", file=out, flush=True)
            if answer.text:
                history.append(_message(len(history), answer.text, by_bot=True))
    finally:
        await mcp.close()
        await model.http.aclose()
    return 0


class PromptApprover:
    """Asks at the prompt before an action runs: `y` runs it, anything else refuses it."""

    def __init__(self, lines: AsyncIterator[str], out: TextIO) -> None:
        self.lines = lines
        self.out = out

    async def decide(self, spec: ToolSpec, arguments: Mapping[str, Any]) -> Decision:
        print(f"\nRun {spec.remote_name} on {spec.server} with {arguments}? [y/N] ", end="", file=self.out, flush=True)
        try:
            typed = await anext(self.lines)
        except StopAsyncIteration:
            return Decision.DENIED
        return Decision.APPROVED if typed.strip().lower() in ("y", "yes") else Decision.DENIED


def _message(index: int, text: str, *, by_bot: bool) -> ThreadMessage:
    return ThreadMessage(ts=f"{index + 1}.0", author_id=YOU, text=text, by_this_bot=by_bot, by_a_person=not by_bot)


async def stdin_lines(out: TextIO) -> AsyncIterator[str]:
    """Lines typed at the prompt. The blocking read runs in a daemon thread, so the stream keeps printing,
    and a Ctrl-C at the prompt ends the chat at once instead of waiting for a line that never comes."""
    loop = asyncio.get_running_loop()
    while True:
        if sys.stdin.isatty():
            print("you> ", end="", file=out, flush=True)
        typed: asyncio.Future[str] = loop.create_future()
        threading.Thread(target=_read_line, args=(loop, typed), name="stdin", daemon=True).start()
        line = await typed
        if not line:
            return
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
