"""The tool loop: the model asks for calls, the toolbox runs them, the results go back, until it answers.

Each round streams the model's text as it comes; the calls it asks for are run one after another (an
action may wait for its asker's approval), and each result goes back as a `role: "tool"` message,
redacted like every other text the model is sent. The loop ends when the model answers without calling,
after `MAX_TOOL_STEPS` rounds of calls (with an honest note) or at the answer's deadline. Each call shows
as a task card (bot/slack/rendering.py): yielded as a `CardText` when it starts (in progress) and when it ends
(complete or error, with a short output and its sources), whose text is the line shown wherever a card
cannot be. An answer that used search ends with its sources.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from bot import notices
from bot.model.client import Answer, ModelClient, ModelRequest
from bot.model.messages import ChatMessage
from bot.slack.rendering import COMPLETE, ERROR, IN_PROGRESS, CardText, TaskCard
from bot.tools.base import Approver, Outcome, Source, Toolbox, call_title

USAGE_KEYS = ("prompt_tokens", "completion_tokens", "total_tokens")
# Calls run per round: a model asking for thousands at once would flood the thread with lines, the
# servers with calls and the next request with results. The rest are dropped from the turn, and the
# model is told so in the last result, so it may ask again.
MAX_CALLS_PER_ROUND = 10


@dataclass
class ToolRun:
    """What the loop did, for the answer's log line and its sources."""

    steps: int = 0
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def sources(self) -> list[Source]:
        seen: dict[str, Source] = {}
        for outcome in self.outcomes:
            for source in outcome.sources:
                seen.setdefault(source.url, source)
        return list(seen.values())


async def tool_rounds(
    model: ModelClient,
    request: ModelRequest,
    answer: Answer,
    *,
    toolbox: Toolbox,
    approver: Approver,
    redact: Callable[[str], str],
    max_steps: int,
    deadline: float,
    run: ToolRun,
) -> AsyncIterator[str]:
    """Yields the answer's text, round after round, with a line per tool call; fills `answer` and `run`."""
    messages = list(request.messages)
    totals: dict[str, int] = {}
    shown = ""  # the end of what was yielded, to start each line on its own
    try:
        while True:
            start = len(answer.text)
            answer.usage = {}
            offered = toolbox.definitions() if not answer.tools_refused else []
            this_round = ModelRequest(messages, request.temperature, request.max_tokens, tools=offered)
            async for text in model.stream(this_round, answer):
                shown = (shown + text)[-2:]
                yield text
            _add_usage(totals, answer.usage)
            calls = answer.tool_calls if offered else []
            if not calls:
                if answer.tools_refused:
                    yield _line(shown, notices.TOOLS_REFUSED)
                break
            if run.steps >= max_steps:
                yield _line(shown, notices.TOOL_STEPS_SPENT.format(steps=max_steps))
                answer.finish_reason = "tool_steps"
                break
            run.steps += 1
            asked = len(calls)
            calls = calls[:MAX_CALLS_PER_ROUND]
            if asked > len(calls):
                line = _line(shown, notices.TOOL_CALLS_CAPPED.format(asked=asked, ran=len(calls)))
                shown = line[-2:]
                yield line
            messages.append(ChatMessage("assistant", answer.text[start:], tool_calls=tuple(calls)))
            for position, call in enumerate(calls, start=1):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    yield _line(shown, notices.TOOL_DEADLINE)
                    return
                card = f"tool-{len(run.outcomes) + 1}"  # the model's call ids may repeat across rounds
                yield CardText("", TaskCard(card, call_title(call, toolbox.spec(call.name)), IN_PROGRESS))
                outcome = await toolbox.run(call, approver, within_seconds=remaining)
                deadline += outcome.waited_seconds  # the asker's time to decide is not the answer's
                run.outcomes.append(outcome)
                line = _line(shown, notices.tool_line(outcome.status, outcome.title))
                shown = line[-2:]
                yield CardText(line, _card(card, outcome, redact))
                said = outcome.text
                if position == len(calls) and asked > len(calls):
                    said += f"\n[Only the first {len(calls)} of the {asked} calls asked for at once were run.]"
                messages.append(ChatMessage("tool", redact(said), tool_call_id=call.id))
            if deadline - time.monotonic() <= 0:
                yield _line(shown, notices.TOOL_DEADLINE)
                return
        sources = run.sources
        if sources:
            yield _line(shown, notices.sources_footer([(source.url, source.title) for source in sources]))
    finally:
        if totals:
            answer.usage = {**answer.usage, **totals}


def _card(card: str, outcome: Outcome, redact: Callable[[str], str]) -> TaskCard:
    """The call's card once it ended: what it found in a few words, redacted as the model's copy is."""
    status = COMPLETE if outcome.status == "complete" else ERROR
    said = notices.TOOL_CARD_NOT_RUN.get(outcome.status)
    if said is None:
        said = outcome.summary or next((line for line in outcome.text.splitlines() if line.strip()), "")
        # Whole, with its spaces as the card shows them (a number split over two lines is one on the card), and
        # only then cut: cut first, a secret across the cut would be shown in part. At most the capped result.
        said = redact(" ".join(said.split()))
    sources = tuple((source.url, source.title) for source in outcome.sources)
    return TaskCard(card, outcome.title, status, said, sources)


def _line(shown: str, line: str) -> str:
    """`line` on a line of its own after what was shown, and ended so the next text starts afresh."""
    if not shown:
        return f"{line}\n\n"
    return ("" if shown.endswith("\n\n") else "\n\n" if not shown.endswith("\n") else "\n") + f"{line}\n\n"


def _add_usage(totals: dict[str, int], usage: dict[str, Any]) -> None:
    for key in USAGE_KEYS:
        value = usage.get(key)
        if isinstance(value, int):
            totals[key] = totals.get(key, 0) + value
