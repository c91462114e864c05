"""`python -m bench`: the real bot under load, in three processes, measured from the outside.

    python -m bench run --rate 100 --count 1000      one sustained run
    python -m bench run --rate 0 --count 500         a burst: every conversation at the same instant
    python -m bench lengths                          answers of 20, 50, 300 and 1,000 pieces (100 pieces/s)
    python -m bench capacity --chunks 300            the capacity point, then twice that rate (overload)
    python -m bench all                              the sweep (25, 50, 100, 200 per second), the burst,
                                                     the lengths and the capacity of 300-piece answers
    python -m bench limits                           questions a minute one workspace sustains under
                                                     Slack's published per-method rate limits
    python -m bench durability                       crashes, deploys and a Redis restart mid-answer: every
                                                     question answered once, in order (bench/durability.py)
    python -m bench tools                            answers with one MCP call each (a loopback MCP
                                                     server), next to the same answers without tools

Each run starts the fakes (`bench/fakes.py`), the bot (`python -m bot`) and the load generator
(`bench/load.py`) as separate processes, waits for every answer, and reads the bot's CPU time and peak
RSS from /proc. Figures go to bench/results/ as JSON, and `all` also draws the PNG plots.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import sys
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

from bench.durability import NEEDS_REDIS as DURABILITY_NEEDS_REDIS
from bench.durability import SITUATIONS as DURABILITY_SITUATIONS
from bench.durability import Options as DurabilityOptions
from bench.durability import run_durability
from bench.durability import save as save_durability
from tests.bot_process import free_port
from tests.fakes.events import SIGNING_SECRET
from tests.fakes.mcp_server import MCP_TOKEN
from tests.fakes.model_api import MODEL_ID, MODEL_KEY
from tests.fakes.slack_api import BOT_TOKEN

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SWEEP_RATES = (25, 50, 100, 200)
SWEEP_SECONDS = 10
# Real answers: pieces of one to a few tokens at about 100 a second. Each length has an arrival rate that
# keeps this 2-core machine (bot, fakes and load generator together) below saturation today.
PIECE_RATE = 100.0
SHORT = 20
LENGTHS = ((SHORT, 20.0), (50, 20.0), (300, 10.0), (1000, 3.0))
# The capacity point: the highest arrival rate that keeps both latencies under these, everything answered.
CAPACITY_ACK_P99_MS = 100.0
CAPACITY_ADDED_P99_MS = 500.0
CAPACITY_SECONDS = 10
CONVERSATION = re.compile(r"conv-\d+")
T = TypeVar("T")


async def start(*command: str, env: dict[str, str] | None = None, stdout: Any = None) -> asyncio.subprocess.Process:
    """Only the settings given here: a developer's own environment (or .env) must not steer the measured bot."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    return await asyncio.create_subprocess_exec(
        *command,
        cwd=RESULTS,
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), **(env or {})},
        stdout=stdout,
        start_new_session=True,  # its own process group: stopping it stops what it started (py-spy's bot)
    )


async def stop(process: asyncio.subprocess.Process) -> None:
    """Stops a process and everything it started, whatever state it is in."""
    if process.returncode is not None:
        return
    for stop_signal in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, stop_signal)
        try:
            await asyncio.wait_for(process.wait(), timeout=10)
            return
        except TimeoutError:
            continue


def py_spy() -> str:
    """py-spy from the virtualenv that runs the benchmark (bench/requirements.txt), else from the PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise SystemExit("--profile needs py-spy: pip install -r bench/requirements.txt")
    return found


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def run_once(
    count: int,
    rate: float,
    latency: float,
    chunks: int,
    profile: bool = False,
    screenshot_kb: int = 0,
    *,
    slack_limits: float | None = None,
    follow_ups: bool = False,
    deadline: float = 60,
    tool_call: bool = False,
    redis: bool = False,
) -> dict[str, Any]:
    """`slack_limits` enforces Slack's published rate limits, their windows shortened that many times;
    with `tool_call`, every answer calls a tool of a loopback MCP server once before it answers; `redis` runs
    the bot with REDIS_URL, on a redis-server of its own (persistence off)."""
    limits = ["--slack-limits", str(slack_limits)] if slack_limits else []
    limits += ["--tool-call"] if tool_call else []
    command = [sys.executable, "-m", "bot"]
    if profile:
        # py-spy samples the bot from outside; the collapsed stacks land next to the figures.
        command = [py_spy(), "record", "--format", "raw", "--output", str(RESULTS / "profile.txt"), "--", *command]
    fakes = await start(
        sys.executable, "-m", "bench.fakes", "--latency", str(latency), "--chunks", str(chunks),
        "--screenshot-kb", str(screenshot_kb), *limits, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    bot: asyncio.subprocess.Process | None = None
    redis_server: asyncio.subprocess.Process | None = None
    RESULTS.mkdir(parents=True, exist_ok=True)
    bot_log = (RESULTS / "bot.log").open("w")
    try:
        assert fakes.stdout is not None
        ready = (await fakes.stdout.readline()).decode().split()
        if not ready or ready[0] != "READY":
            raise RuntimeError("the fakes did not start")
        urls = dict(part.split("=", 1) for part in ready[1:])
        port = free_port()
        bot_env = {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": urls["slack"],
            "INFERENCE_URL": urls["model"],
            "INFERENCE_KEY": MODEL_KEY,
            "INFERENCE_MODEL_ID": MODEL_ID,
            "PORT": str(port),
        }
        if tool_call:
            servers = {"orders": {"url": urls["mcp"], "headers": {"Authorization": f"Bearer {MCP_TOKEN}"}}}
            bot_env["MCP_SERVERS"] = json.dumps(servers)
        if redis:
            redis_port = free_port()
            redis_server = await start(
                "redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                stdout=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            await _wait_redis(redis_port)
            bot_env["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
            # This redis-server allows 10,000 clients. At 100 questions a second (twelve times the 30,000 events an
            # hour Slack sends an app from one workspace) one busy process keeps 50 to 100 connections in use; the
            # default 20 fits Heroku's smallest plan, and makes such a load wait for connections.
            bot_env["REDIS_MAX_CONNECTIONS"] = "100"
        bot = await start(*command, env=bot_env, stdout=bot_log)
        async with aiohttp.ClientSession() as http:
            await _wait_healthy(http, f"http://127.0.0.1:{port}/health", bot)
            bot_pid = _child_pid(bot.pid) if profile else bot.pid
            cpu_before = cpu_seconds(bot_pid)
            load = await start(
                sys.executable, "-m", "bench.load", f"http://127.0.0.1:{port}/slack/events", urls["control"],
                "--count", str(count), "--rate", str(rate), *(["--follow-ups"] if follow_ups else []),
                stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
            try:
                output, _ = await load.communicate()
            finally:
                await stop(load)
            deliveries = json.loads(output)
            stats = await _wait_answered(http, urls["control"], count, deadline=latency + deadline)
            cpu = cpu_seconds(bot_pid) - cpu_before
            rss = peak_rss_mb(bot_pid)
            if profile:
                os.kill(bot_pid, signal.SIGTERM)
                await asyncio.wait_for(bot.wait(), timeout=60)  # py-spy writes the profile as the bot ends
    finally:
        for process in (bot, fakes, redis_server):
            if process is not None:
                await stop(process)
        bot_log.close()
    figures = _figures(count, rate, latency, deliveries, stats, cpu, rss)
    figures.update(
        pieces_per_answer=chunks,
        cpu_us_per_piece=round(cpu * 1e6 / max(1, stats["answered"]) / max(1, chunks), 1),
        screenshot_kb=screenshot_kb,
        slack_errors=(RESULTS / "bot.log").read_text().count("outcome=slack_error"),
        tool_calls_per_answer=1 if tool_call else 0,
        task_cards=stats.get("task_cards", 0),
    )
    return figures


def _child_pid(pid: int) -> int:
    """The bot's own process, under py-spy."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    if not children:
        raise RuntimeError("py-spy started no bot; see bench/results/bot.log")
    return int(children[0])


async def _wait_redis(port: int) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            await writer.wait_closed()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start") from None
            await asyncio.sleep(0.1)


async def _wait_healthy(http: aiohttp.ClientSession, url: str, process: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.returncode is None:
        try:
            async with http.get(url) as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the bot did not start; see bench/results/bot.log")


async def _wait_answered(http: aiohttp.ClientSession, control_url: str, count: int, deadline: float) -> dict[str, Any]:
    """Polls the fakes until every conversation is answered (or the deadline passes)."""
    give_up = time.monotonic() + deadline
    while True:
        async with http.get(f"{control_url}/stats") as response:
            stats: dict[str, Any] = await response.json()
        if stats["answered"] >= count or time.monotonic() > give_up:
            await asyncio.sleep(1.0)  # late duplicates, if any, would show up now
            async with http.get(f"{control_url}/stats") as response:
                return dict(await response.json())
        await asyncio.sleep(0.25)


def _figures(
    count: int,
    rate: float,
    latency: float,
    deliveries: list[dict[str, Any]],
    stats: dict[str, Any],
    cpu: float,
    rss: float,
) -> dict[str, Any]:
    model_time: dict[str, float] = {}
    for call in stats["model"]:  # an answer with a tool round asks the model twice: its time is both
        conversation = CONVERSATION.search(call["question"]).group(0)  # type: ignore[union-attr]
        model_time[conversation] = model_time.get(conversation, 0.0) + call["finished"] - call["started"]
    added = []
    for delivery in deliveries:
        finished = stats["finished_at"].get(delivery["key"])
        conversation = CONVERSATION.search(delivery["question"]).group(0)  # type: ignore[union-attr]
        if finished and conversation in model_time:
            added.append((finished - delivery["sent_at"] - model_time[conversation]) * 1000)
    acks = [latency_ms for delivery in deliveries for latency_ms in delivery["ack_ms"]]
    refused = sum(1 for delivery in deliveries for status in delivery["statuses"] if status != 200)
    answered = int(stats["answered"])
    slack_calls = sum(stats["slack_calls"].values()) - stats["slack_calls"].get("auth.test", 0)
    return {
        "conversations": count,
        "arrival_rate_per_s": rate or "burst",
        "model_latency_s": latency,
        "answered": answered,
        "duplicates": stats["duplicates"],
        "duplicated_threads": stats.get("duplicated", []),
        "answers_with_wrong_text": stats["wrong_text"],
        "refused_deliveries": refused,
        "ack_ms": {"p50": percentile(acks, 0.5), "p99": percentile(acks, 0.99), "max": max(acks, default=0)},
        "added_ms": {"p50": percentile(added, 0.5), "p99": percentile(added, 0.99), "max": max(added, default=0)},
        "slack_calls_per_answer": round(slack_calls / max(1, answered), 2),
        "slack_calls_by_method": stats["slack_calls"],
        "file_downloads": stats["downloads"],
        "model_peak_in_flight": stats["model_peak_in_flight"],
        "cpu_ms_per_answer": round(cpu * 1000 / max(1, answered), 2),
        "peak_rss_mb": round(rss, 1),
        "streams_left_open": stats["streams_left_open"],
        "rate_limited_by_method": stats["rate_limited"],
        "ack_samples_ms": acks,
        "added_samples_ms": added,
    }


def summary(result: dict[str, Any]) -> str:
    ack, added = result["ack_ms"], result["added_ms"]
    return (
        f"rate={result['arrival_rate_per_s']} n={result['conversations']} pieces={result['pieces_per_answer']}: "
        f"answered {result['answered']}/{result['conversations']}, duplicates {result['duplicates']}, "
        f"wrong text {result['answers_with_wrong_text']}, "
        f"refused {result['refused_deliveries']}, "
        f"ack p50/p99/max {ack['p50']:.1f}/{ack['p99']:.1f}/{ack['max']:.1f} ms, "
        f"added p50/p99 {added['p50']:.0f}/{added['p99']:.0f} ms, "
        f"Slack calls/answer {result['slack_calls_per_answer']}, model peak in flight "
        f"{result['model_peak_in_flight']}, CPU {result['cpu_ms_per_answer']} ms/answer "
        f"({result['cpu_us_per_piece']} µs/piece), peak RSS {result['peak_rss_mb']} MB"
        + (
            f", a {result['screenshot_kb']} KB screenshot each, {result['file_downloads']} downloads"
            if result.get("screenshot_kb")
            else ""
        )
    )


def save(name: str, results: list[dict[str, Any]]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    brief = [{key: value for key, value in result.items() if not key.endswith("_samples_ms")} for result in results]
    (RESULTS / f"{name}.json").write_text(json.dumps(brief, indent=2) + "\n")


def latency_for(chunks: int, piece_rate: float) -> float:
    """The model's own time for an answer of `chunks` pieces streamed at `piece_rate` a second."""
    return chunks / piece_rate


def sustained(result: dict[str, Any]) -> bool:
    """Whether a run stayed within the capacity point's limits, with every answer whole and once."""
    whole = result["answered"] == result["conversations"] and not result["duplicates"]
    clean = not result["answers_with_wrong_text"] and not result["refused_deliveries"]
    fast = result["ack_ms"]["p99"] < CAPACITY_ACK_P99_MS and result["added_ms"]["p99"] < CAPACITY_ADDED_P99_MS
    return whole and clean and fast


async def run_lengths(piece_rate: float) -> list[dict[str, Any]]:
    """Answers of each length in `LENGTHS`; CPU per streamed piece is the cost beyond the short answer's."""
    results = []
    for chunks, rate in LENGTHS:
        latency = 2.0 if chunks == SHORT else latency_for(chunks, piece_rate)  # the short case as before
        result = await run_once(round(rate * SWEEP_SECONDS), rate, latency, chunks)
        results.append(result)
        print(summary(result), flush=True)
    short = results[0]["cpu_ms_per_answer"]
    for result in results:
        extra = result["pieces_per_answer"] - SHORT
        result["cpu_us_per_extra_piece"] = (
            round((result["cpu_ms_per_answer"] - short) * 1000 / extra, 1) if extra else None
        )
    save("lengths", results)
    return results


async def run_capacity(chunks: int, piece_rate: float, start_rate: float, seconds: int) -> dict[str, Any]:
    """Raises the arrival rate by half until a run misses the limits, narrows the gap twice, then runs at twice
    the capacity point found (overload: acks must stay well within Slack's 3 s, nothing lost)."""
    latency = latency_for(chunks, piece_rate)
    runs: list[dict[str, Any]] = []

    async def trial(rate: float) -> bool:
        result = await run_once(round(rate * seconds), rate, latency, chunks)
        result["sustained"] = sustained(result)
        print(("PASS " if result["sustained"] else "MISS ") + summary(result), flush=True)
        runs.append(result)
        return bool(result["sustained"])

    passed, failed = 0.0, 0.0
    rate = start_rate
    while await trial(rate):
        passed, rate = rate, round(rate * 1.5, 1)
    failed = rate
    for _ in range(2):
        middle = round((passed + failed) / 2, 1)
        if await trial(middle):
            passed = middle
        else:
            failed = middle
    overload = await run_once(round(2 * passed * seconds), 2 * passed, latency, chunks) if passed else None
    if overload is not None:
        print("OVERLOAD " + summary(overload), flush=True)
    found = {
        "pieces_per_answer": chunks,
        "piece_rate_per_s": piece_rate,
        "capacity_per_s": passed,
        "first_miss_per_s": failed,
        "runs": runs,
        "overload": overload,
    }
    brief = {**found, "runs": _brief(runs), "overload": _brief([overload])[0] if overload else None}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"capacity_{chunks}.json").write_text(json.dumps(brief, indent=2) + "\n")
    print(f"capacity for {chunks}-piece answers: {passed}/s (first miss {failed}/s)", flush=True)
    return found


def _brief(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{key: value for key, value in result.items() if not key.endswith("_samples_ms")} for result in results]


async def run_all(latency: float, chunks: int, piece_rate: float) -> None:
    from bench.plots import plot_capacity, plot_lengths, plot_results

    sweep = []
    for rate in SWEEP_RATES:
        result = await run_once(rate * SWEEP_SECONDS, rate, latency, chunks)
        print(summary(result), flush=True)
        sweep.append(result)
    burst = await run_once(500, 0, latency, chunks)
    print(summary(burst), flush=True)
    save("sweep", sweep)
    save("burst", [burst])
    plot_results(sweep, burst, RESULTS)
    plot_lengths(await run_lengths(piece_rate), RESULTS)
    plot_capacity(await run_capacity(300, piece_rate, 20, CAPACITY_SECONDS), RESULTS)


def run(job: Coroutine[Any, Any, T]) -> T:
    """Runs `job`; SIGTERM (a `timeout`, a CI runner) ends it like Ctrl-C does, so every process it started
    is stopped (they run in their own process groups, out of reach of signals sent to this one)."""

    async def cancellable() -> T:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        return await job

    return asyncio.run(cancellable())


async def run_limits(per_minute: list[int], minutes: float, time_scale: float, latency: float, chunks: int) -> None:
    """New threads and follow-ups at each rate, under Slack's limits: what arrives, what is lost, what was refused."""
    results = []
    for follow_ups in (False, True):
        for rate in per_minute:
            result = await run_once(
                round(rate * minutes), rate * time_scale / 60, latency, chunks,
                slack_limits=time_scale, follow_ups=follow_ups, deadline=300,
            )  # fmt: skip
            result.update(kind="follow-ups" if follow_ups else "new threads", per_minute=rate, time_scale=time_scale)
            print(limits_summary(result), flush=True)
            results.append(result)
    save("limits", results)


def limits_summary(result: dict[str, Any]) -> str:
    added = result["added_ms"]
    return (
        f"{result['kind']} at {result['per_minute']}/min (windows /{result['time_scale']}): "
        f"answered {result['answered']}/{result['conversations']}, duplicates {result['duplicates']}, "
        f"wrong text {result['answers_with_wrong_text']}, streams left open {result['streams_left_open']}, "
        f"slack errors {result['slack_errors']}, added p50/p99 {added['p50'] / 1000:.1f}/{added['p99'] / 1000:.1f} s, "
        f"calls {result['slack_calls_by_method']}, refused (429) {result['rate_limited_by_method']}"
    )


async def run_tools(count: int, rate: float, latency: float, chunks: int, runs: int) -> None:
    """The same answers without tools and with one MCP call each, alternating `runs` times: the bot's CPU
    and added time per tool round are the differences."""
    results = []
    for _ in range(runs):
        for tool_call in (False, True):
            result = await run_once(count, rate, latency, chunks, tool_call=tool_call)
            print(("ONE MCP CALL " if tool_call else "NO TOOLS     ") + summary(result), flush=True)
            results.append(result)
    without = [result for result in results if not result["tool_calls_per_answer"]]
    with_tool = [result for result in results if result["tool_calls_per_answer"]]
    for index, (plain, tooled) in enumerate(zip(without, with_tool, strict=True), start=1):
        cpu = tooled["cpu_ms_per_answer"] - plain["cpu_ms_per_answer"]
        p50 = tooled["added_ms"]["p50"] - plain["added_ms"]["p50"]
        p99 = tooled["added_ms"]["p99"] - plain["added_ms"]["p99"]
        calls = tooled["slack_calls_per_answer"] - plain["slack_calls_per_answer"]
        print(
            f"run {index}: a tool round adds {cpu:.2f} ms of bot CPU, {p50:.0f} / {p99:.0f} ms added time p50 / p99, "
            f"{calls:.2f} Slack calls ({tooled['task_cards']} task cards shown for {tooled['answered']} answers)",
            flush=True,
        )
    save("tools", results)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("run", help="one run")
    one.add_argument("--count", type=int, default=1000)
    one.add_argument("--rate", type=float, default=100, help="conversations per second; 0 for a burst")
    one.add_argument("--profile", action="store_true", help="sample the bot with py-spy (bench/results/profile.txt)")
    one.add_argument("--screenshot-kb", type=int, default=0, help="each question carries a screenshot this large")
    one.add_argument("--redis", action="store_true", help="with REDIS_URL: durable intake and the question queue")
    lengths = commands.add_parser("lengths", help="answers of 20, 50, 300 and 1,000 pieces, with plots")
    capacity = commands.add_parser("capacity", help="the capacity point for one answer length, and overload")
    capacity.add_argument("--start-rate", type=float, default=20, help="the first arrival rate tried, per second")
    capacity.add_argument("--seconds", type=int, default=CAPACITY_SECONDS, help="arrivals last this long per run")
    everything = commands.add_parser("all", help="the sweep, the burst, the lengths and the capacity, with plots")
    limits = commands.add_parser("limits", help="questions a minute one workspace sustains under Slack's rate limits")
    limits.add_argument("--per-minute", default="10,20,30,60", help="question rates to try, comma-separated")
    limits.add_argument("--minutes", type=float, default=3, help="how long each rate is kept up, in Slack minutes")
    limits.add_argument("--time-scale", type=float, default=4, help="rate-limit windows are this many times shorter")
    tools = commands.add_parser("tools", help="answers with one MCP call each, next to the same without tools")
    tools.add_argument("--count", type=int, default=200)
    tools.add_argument("--rate", type=float, default=20, help="conversations per second")
    tools.add_argument("--runs", type=int, default=2, help="alternating pairs of runs")
    for command in (one, everything, capacity, limits, tools):
        command.add_argument("--latency", type=float, default=2.0, help="the model's own time per answer, s")
        command.add_argument("--chunks", type=int, default=SHORT, help="streamed pieces per answer")
    for command in (one, lengths, capacity, everything):
        command.add_argument(
            "--piece-rate", type=float, default=None, help="pieces streamed per second (sets --latency from --chunks)"
        )
    durability = commands.add_parser("durability", help="crashes, deploys and Redis restarts in the middle of answers")
    durability.add_argument("--situation", choices=DURABILITY_SITUATIONS, action="append", help="run only this one")
    durability.add_argument("--answer-seconds", default="4,8", help="each answer streams between these, s")
    durability.add_argument("--fault-at", type=float, default=2.5, help="the fault, s after the first question")
    durability.add_argument("--retry-factor", type=float, default=10, help="Slack retries this many times sooner")
    durability.add_argument("--kill-after", type=float, default=30, help="SIGKILL this long after SIGTERM, s")
    durability.add_argument("--without-redis", action="store_true", help="the same, without Redis")
    arguments = parser.parse_args()
    piece_rate = getattr(arguments, "piece_rate", None) or PIECE_RATE
    if arguments.command == "run":
        latency = latency_for(arguments.chunks, arguments.piece_rate) if arguments.piece_rate else arguments.latency
        result = run(
            run_once(
                arguments.count,
                arguments.rate,
                latency,
                arguments.chunks,
                arguments.profile,
                arguments.screenshot_kb,
                redis=arguments.redis,
            )
        )
        result["redis"] = arguments.redis
        print(summary(result))
        save("run", [result])
    elif arguments.command == "durability":
        low, high = (float(value) for value in arguments.answer_seconds.split(","))
        options = DurabilityOptions(
            answer_seconds=(low, high),
            fault_at=arguments.fault_at,
            retry_factor=arguments.retry_factor,
            kill_after=arguments.kill_after,
            redis=not arguments.without_redis,
        )
        situations = arguments.situation or [
            situation for situation in DURABILITY_SITUATIONS if options.redis or situation not in DURABILITY_NEEDS_REDIS
        ]
        results = run(run_durability(situations, options))
        save_durability(results, options)
    elif arguments.command == "limits":
        rates = [int(rate) for rate in arguments.per_minute.split(",")]
        run(run_limits(rates, arguments.minutes, arguments.time_scale, arguments.latency, arguments.chunks))
    elif arguments.command == "tools":
        run(run_tools(arguments.count, arguments.rate, arguments.latency, arguments.chunks, arguments.runs))
    elif arguments.command == "lengths":
        from bench.plots import plot_lengths

        plot_lengths(run(run_lengths(piece_rate)), RESULTS)
    elif arguments.command == "capacity":
        from bench.plots import plot_capacity

        found = run(run_capacity(arguments.chunks, piece_rate, arguments.start_rate, arguments.seconds))
        plot_capacity(found, RESULTS)
    else:
        run(run_all(arguments.latency, arguments.chunks, piece_rate))


if __name__ == "__main__":
    main()
