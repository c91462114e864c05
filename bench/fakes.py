"""The benchmark's fake Slack and fake model, in their own process, with a control API for the harness.

Run by `python -m bench`; prints one line `READY slack=URL model=URL control=URL` when serving.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import io
import random
import signal
from collections import Counter
from collections.abc import Callable
from typing import Any

from aiohttp import web
from PIL import Image

from tests.fakes.mcp_server import running_mcp_server
from tests.fakes.model_api import FakeModel, Reply, Script, ToolCalls
from tests.fakes.rate_limits import PUBLISHED_RATE_LIMITS, RateLimit
from tests.fakes.slack_api import FakeSlack

# The MCP tool every answer calls once with `--tool-call` (the loopback server of tests/fakes/mcp_server.py).
TOOL = "orders__order_status"


def streamed_reply(latency_seconds: float, chunks: int) -> Reply:
    """An answer that takes `latency_seconds` to stream, in `chunks` evenly spaced pieces."""
    return Reply([f"word{index} " for index in range(chunks)], delay=latency_seconds / max(1, chunks - 1))


def screenshot(target_bytes: int) -> bytes:
    """A 2560 x 1440 PNG of about `target_bytes`: flat panels with a band of noise (which does not compress)."""
    width, height = 2560, 1440
    image = Image.new("RGB", (width, height), (245, 245, 247))
    rows = max(1, min(height, target_bytes // (width * 3)))
    noise = Image.frombytes("RGB", (width, rows), random.Random(1).randbytes(width * rows * 3))
    image.paste(noise, (0, height // 3))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def scaled_limits(time_scale: float) -> dict[str, tuple[RateLimit, ...]]:
    """Slack's published limits with every window `time_scale` times shorter: a minute of Slack's
    budget passes in 60 / `time_scale` seconds, so a run of a few "minutes" stays short."""
    return {
        method: tuple(dataclasses.replace(limit, window_seconds=limit.window_seconds / time_scale) for limit in limits)
        for method, limits in PUBLISHED_RATE_LIMITS.items()
    }


def finished_at(message: dict[str, Any], expected: str) -> float:
    """When the answer became complete in Slack: its stream stopped, or (posted and updated) its text whole."""
    if message.get("streaming"):
        return 0.0
    if message.get("finished_at"):
        return float(message["finished_at"])
    return float(message.get("changed_at", 0.0)) if message.get("visible") == expected else 0.0


def answer_after_one_tool_call(latency_seconds: float, chunks: int) -> Callable[[dict[str, Any]], Script]:
    """The model calls the MCP tool once (a turn streamed at once), then answers as without tools."""

    def script(request: dict[str, Any]) -> Script:
        if any(message["role"] == "tool" for message in request["messages"]):
            return streamed_reply(latency_seconds, chunks)
        return ToolCalls([(TOOL, {"order": 7731})])

    return script


async def serve(
    latency_seconds: float, chunks: int, screenshot_kb: int, time_scale: float | None = None, tool_call: bool = False
) -> None:
    with contextlib.ExitStack() as stack:
        # The MCP server runs here, in a thread of the fakes' process: its CPU is not the bot's.
        mcp_url = stack.enter_context(running_mcp_server()).url if tool_call else ""
        await _serve(latency_seconds, chunks, screenshot_kb, time_scale, mcp_url)


async def _serve(latency_seconds: float, chunks: int, screenshot_kb: int, time_scale: float | None, mcp: str) -> None:
    slack, model = FakeSlack(scaled_limits(time_scale) if time_scale else None), FakeModel()
    model.default = (
        answer_after_one_tool_call(latency_seconds, chunks)
        if mcp
        else (lambda request: streamed_reply(latency_seconds, chunks))
    )
    await slack.start()
    await model.start()
    shared = slack.add_file("screenshot.png", screenshot(screenshot_kb * 1024), "image/png") if screenshot_kb else None

    async def file(request: web.Request) -> web.Response:
        """The file every question carries, if any."""
        return web.json_response({"file": shared})

    async def seed(request: web.Request) -> web.Response:
        for message in (await request.json())["messages"]:
            slack.messages.setdefault(message.pop("channel"), []).append(message)
        return web.json_response({"ok": True})

    async def stats(request: web.Request) -> web.Response:
        answers: dict[str, list[dict[str, Any]]] = {}
        for channel, messages in slack.messages.items():
            for message in messages:
                if message.get("bot_id") and message.get("thread_ts"):
                    answers.setdefault(f"{channel}:{message['thread_ts']}", []).append(message)
        expected = "".join(streamed_reply(latency_seconds, chunks).chunks)
        finished = {key: max(finished_at(m, expected) for m in found) for key, found in answers.items()}
        return web.json_response(
            {
                "answered": sum(1 for at in finished.values() if at),
                "streams_left_open": sum(1 for found in answers.values() for m in found if m.get("streaming")),
                "rate_limited": dict(slack.rate_limited),
                "duplicates": sum(len(found) - 1 for found in answers.values()),
                "wrong_text": sum(1 for found in answers.values() if found[0].get("visible") != expected),
                "finished_at": finished,
                "model": [{"question": q, "started": s, "finished": f} for q, s, f in model.timings],
                "task_cards": sum(len(m.get("tasks", {})) for found in answers.values() for m in found),
                "model_peak_in_flight": model.peak_in_flight,
                # File downloads count as Slack calls too: each is a request to Slack.
                "slack_calls": dict(
                    Counter([*(call.method for call in slack.calls), *("file download" for _ in slack.downloads)])
                ),
                "downloads": len(slack.downloads),
                # A few threads answered more than once, as the fake holds them, to see what happened.
                "duplicated": [
                    [{k: m.get(k) for k in ("ts", "metadata", "streaming", "revisions")} for m in found]
                    for found in list(answers.values())
                    if len(found) > 1
                ][:3],
            }
        )

    control = web.Application()
    control.add_routes([web.post("/seed", seed), web.get("/stats", stats), web.get("/file", file)])
    runner = web.AppRunner(control, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    control_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    ready = f"READY slack={slack.url} model={model.url} control={control_url}" + (f" mcp={mcp}" if mcp else "")
    print(ready, flush=True)

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await runner.cleanup()
    await slack.stop()
    await model.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=2.0)
    parser.add_argument("--chunks", type=int, default=20)
    parser.add_argument("--screenshot-kb", type=int, default=0)
    parser.add_argument("--slack-limits", type=float, default=None, metavar="TIME_SCALE",
                        help="enforce Slack's published rate limits, windows shortened by TIME_SCALE")  # fmt: skip
    parser.add_argument("--tool-call", action="store_true", help="serve an MCP server; every answer calls it once")
    arguments = parser.parse_args()
    asyncio.run(
        serve(arguments.latency, arguments.chunks, arguments.screenshot_kb, arguments.slack_limits, arguments.tool_call)
    )


if __name__ == "__main__":
    main()
