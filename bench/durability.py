"""`python -m bench durability`: every acknowledged question answered once, in order, through crashes, deploys
and a Redis restarted empty (issue 21), measured from what the threads finally show.

Each situation runs real bot processes (`python -m bot`) on a real redis-server, with the fake Slack Web API
and a fake model in this process. Questions go to the bots as Slack sends them: signed, each mention delivered
twice (`app_mention` and `message`), through a router that round-robins the deliveries over the processes and
tries the next one on a refused connection (as Heroku's router does). A delivery not acknowledged with a 2xx
within Slack's 3 s is retried with `X-Slack-Retry-Num` and `X-Slack-Retry-Reason` after about 1 s, 1 min and
5 min, those waits divided by `--retry-factor` (never below 1 s). A stopped process gets SIGTERM, and SIGKILL
`--kill-after` seconds later if it is still running (Heroku's 30 s).

The fake model streams every answer over `--answer-seconds` (4 to 8 s, varying per question) as
`ANSWER-q<thread>-<n> r<request>: w0 w1 … END-q<thread>-<n>`, so the text in Slack says which question and
which model request it answers, and whether it is whole. The fault comes `--fault-at` seconds after the first
question, about a third into the first answers. Per situation, from the fake Slack's final messages:

    answered once / twice   questions whose whole answer the thread shows once / more than once
    ask again               bot messages telling someone to ask again
    silent                  questions the thread shows nothing for: no answer, no notice
    cut off                 questions with a message that shows a part of an answer only (or still streams)
    order held              threads whose answers stand in question order, each written by a model request
                            that saw the whole answer before it
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import re
import shutil
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from slack_sdk.signature import SignatureVerifier

from tests.bot_process import free_port
from tests.fakes.events import SIGNING_SECRET
from tests.fakes.model_api import MODEL_ID, MODEL_KEY, FakeModel, Reply, Script, text_of
from tests.fakes.slack_api import BOT_TOKEN, BOT_USER_ID, TEAM_ID, FakeSlack

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
LOGS = RESULTS / "durability"
ACK_DEADLINE_SECONDS = 3.0
SLACK_RETRY_SECONDS = (1.0, 60.0, 300.0)
QUESTION = re.compile(r"q(\d+)-(\d+)")
ANSWER = re.compile(r"ANSWER-(q\d+-\d+) r(\d+): ")
ASK_AGAIN = re.compile(r"ask again", re.IGNORECASE)
SITUATIONS = (
    "one_of_two_killed",
    "sigterm_then_new",
    "rolling_deploy",
    "redis_restarted_empty",
    "only_one_killed",
    "worker_restarted",
)
# A worker answers from Redis: without it there is nothing to run.
NEEDS_REDIS = frozenset({"worker_restarted"})
TITLES = {
    "one_of_two_killed": "one of two processes killed (SIGKILL)",
    "sigterm_then_new": "SIGTERM, new process 5 s later",
    "rolling_deploy": "rolling deploy with preboot",
    "redis_restarted_empty": "Redis restarted empty",
    "only_one_killed": "the only process killed, back 10 s later",
    "worker_restarted": "web queues, its worker restarted (SIGTERM, new one 5 s later)",
}


@dataclass
class Options:
    threads: int = 8
    per_thread: int = 3
    answer_seconds: tuple[float, float] = (4.0, 8.0)
    pieces: int = 30
    fault_at: float = 2.5
    # Follow-ups in a thread come this long after the one before: while its answer still streams.
    follow_up_every: float = 2.0
    retry_factor: float = 10.0
    kill_after: float = 30.0
    redis: bool = True
    # Gives up waiting for the threads to settle this long after the last question.
    deadline: float = 120.0


# --- the fake model's answers --------------------------------------------------------------------------


def answer_seconds(qid: str, options: Options) -> float:
    """Between the two bounds, varying from question to question (the same in every run)."""
    low, high = options.answer_seconds
    thread, number = map(int, QUESTION.fullmatch(qid).groups())  # type: ignore[union-attr]
    return low + (high - low) * ((thread * 3 + number) % 5) / 4


def answer_pieces(qid: str, request: int, options: Options) -> list[str]:
    return [f"ANSWER-{qid} r{request}: ", *(f"w{index} " for index in range(options.pieces)), f"END-{qid}"]


def whole_answer(qid: str, request: int, options: Options) -> str:
    return "".join(answer_pieces(qid, request, options))


def model_answers(model: FakeModel, options: Options) -> Callable[[dict[str, Any]], Script]:
    def answer(request: dict[str, Any]) -> Script:
        # The last one named: two questions in a row of one person may reach the model as one message.
        asked = QUESTION.findall(text_of(request["messages"][-1]))
        if not asked:
            return Reply(["(no question)"])
        qid = "q{}-{}".format(*asked[-1])
        pieces = answer_pieces(qid, len(model.requests), options)
        return Reply(pieces, delay=answer_seconds(qid, options) / (len(pieces) - 1))

    return answer


# --- Slack's side: deliveries, retries and the router --------------------------------------------------


@dataclass
class Delivery:
    qid: str
    event_id: str
    attempts: list[dict[str, Any]] = field(default_factory=list)
    acknowledged: bool = False


class Router:
    """Heroku's router, as far as Slack's deliveries see it: round-robin, the next process on a refused connection."""

    def __init__(self, http: aiohttp.ClientSession) -> None:
        self.http = http
        self.backends: list[str] = []
        self._turn = itertools.count()

    async def forward(self, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        """The HTTP status (0: no answer) and, for a failure, Slack's retry reason."""
        backends = list(self.backends)
        start = next(self._turn)
        for offset in range(len(backends)):
            url = backends[(start + offset) % len(backends)]
            try:
                async with asyncio.timeout(ACK_DEADLINE_SECONDS):
                    async with self.http.post(url, data=body, headers=headers) as response:
                        await response.read()
                        return response.status, "" if response.status < 300 else "http_error"
            except aiohttp.ClientConnectorError:
                continue  # refused: this process is gone or not listening; try the next
            except TimeoutError:
                return 0, "http_timeout"
            except aiohttp.ClientError:
                return 0, "connection_failed"
        return 0, "connection_failed"


class SlackDeliveries:
    """Sends each event as Slack would, signed, and retries it on Slack's schedule until it is acknowledged."""

    def __init__(self, router: Router, options: Options) -> None:
        self.router = router
        self.options = options
        self.verifier = SignatureVerifier(SIGNING_SECRET)
        self.deliveries: list[Delivery] = []
        self.tasks: list[asyncio.Task[None]] = []
        self._ids = itertools.count(1)

    def send(self, qid: str, event: dict[str, Any]) -> None:
        delivery = Delivery(qid, f"Ev{next(self._ids):06d}")
        self.deliveries.append(delivery)
        self.tasks.append(asyncio.create_task(self._deliver(delivery, event)))

    async def _deliver(self, delivery: Delivery, event: dict[str, Any]) -> None:
        envelope = {
            "token": "legacy-verification-token",
            "team_id": TEAM_ID,
            "api_app_id": "A0001",
            "type": "event_callback",
            "event_id": delivery.event_id,
            "event_time": int(time.time()),
            "event": event,
        }
        body = json.dumps(envelope)
        reason = ""
        for retry in range(len(SLACK_RETRY_SECONDS) + 1):
            if retry:
                await asyncio.sleep(max(1.0, SLACK_RETRY_SECONDS[retry - 1] / self.options.retry_factor))
            stamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                "X-Slack-Request-Timestamp": stamp,
                "X-Slack-Signature": self.verifier.generate_signature(timestamp=stamp, body=body),
            }
            if retry:
                headers.update({"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": reason})
            started = time.monotonic()
            status, reason = await self.router.forward(body.encode(), headers)
            delivery.attempts.append({"retry": retry, "status": status, "ms": (time.monotonic() - started) * 1000})
            if 200 <= status < 300:
                delivery.acknowledged = True
                return


# --- processes: the bots and Redis ---------------------------------------------------------------------


@dataclass
class Bot:
    name: str
    process: asyncio.subprocess.Process
    url: str
    log: Path


class Processes:
    """Every process a situation starts, stopped at its end whatever happened."""

    def __init__(self, situation: str, environ: dict[str, str], router: Router, http: aiohttp.ClientSession) -> None:
        self.situation = situation
        self.environ = environ
        self.router = router
        self.http = http
        self.bots: list[Bot] = []
        self.redis: asyncio.subprocess.Process | None = None
        self.redis_port = free_port()
        self._names = itertools.count(1)
        self._side: list[asyncio.Task[None]] = []

    async def start_redis(self) -> None:
        """Persistence off: a restart comes back empty."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("`python -m bench durability` needs redis-server on the PATH")
        self.redis = await asyncio.create_subprocess_exec(
            binary, "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        assert self.redis.stdout is not None
        async with asyncio.timeout(10):
            while b"Ready to accept connections" not in await self.redis.stdout.readline():
                pass
        self._side.append(asyncio.create_task(_drain(self.redis.stdout)))

    async def restart_redis(self) -> None:
        await self.stop_redis()
        await self.start_redis()

    async def stop_redis(self) -> None:
        if self.redis is not None and self.redis.returncode is None:
            self.redis.terminate()
            await self.redis.wait()

    async def start_bot(self, *, web_answers: bool = True) -> Bot:
        """A new web process, listening, and in the router's rotation."""
        port = free_port()
        bot = await self._start("web", {"PORT": str(port), "WEB_ANSWERS": str(web_answers).lower()}, port)
        await self._wait_healthy(bot)
        self.router.backends.append(bot.url + "/slack/events")
        return bot

    async def start_worker(self) -> Bot:
        """A new `python -m bot worker`, answering once its log says so."""
        bot = await self._start("worker", {}, None, "worker")
        async with asyncio.timeout(30):
            while "answering queued questions" not in bot.log.read_text():
                if bot.process.returncode is not None:
                    raise RuntimeError(f"{bot.name} did not start; see {bot.log}")
                await asyncio.sleep(0.1)
        return bot

    async def _start(self, role: str, settings: dict[str, str], port: int | None, *arguments: str) -> Bot:
        name = f"{role}.{next(self._names)}"
        LOGS.mkdir(parents=True, exist_ok=True)
        log = LOGS / f"{self.situation}-{name}.log"
        env = {
            "PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1",
            **self.environ, **settings, "DYNO": name,
        }  # fmt: skip
        if "REDIS_URL" in env:
            env["REDIS_URL"] = f"redis://127.0.0.1:{self.redis_port}/0"
        with log.open("w") as output:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", *arguments, cwd=LOGS, env=env, stdout=output,
                stderr=asyncio.subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        bot = Bot(name, process, f"http://127.0.0.1:{port}" if port else "", log)
        self.bots.append(bot)
        return bot

    def kill(self, bot: Bot) -> None:
        with contextlib.suppress(ProcessLookupError):
            bot.process.kill()

    def terminate(self, bot: Bot, kill_after: float) -> asyncio.Task[None]:
        """SIGTERM, then SIGKILL if it still runs `kill_after` seconds later."""

        async def stop() -> None:
            with contextlib.suppress(ProcessLookupError):
                bot.process.terminate()
            try:
                await asyncio.wait_for(bot.process.wait(), kill_after)
            except TimeoutError:
                self.kill(bot)
                await bot.process.wait()

        task = asyncio.create_task(stop())
        self._side.append(task)
        return task

    async def close(self) -> None:
        for bot in self.bots:
            self.terminate(bot, kill_after=10)
        await asyncio.gather(*(bot.process.wait() for bot in self.bots))
        await self.stop_redis()
        for task in self._side:
            task.cancel()
        await asyncio.gather(*self._side, return_exceptions=True)

    async def _wait_healthy(self, bot: Bot) -> None:
        async with asyncio.timeout(30):
            while bot.process.returncode is None:
                with contextlib.suppress(aiohttp.ClientError):
                    async with self.http.get(bot.url + "/health") as response:
                        if response.status == 200:
                            return
                await asyncio.sleep(0.1)
        raise RuntimeError(f"{bot.name} did not start; see {bot.log}")


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.read(65536):
        pass


# --- the situations ------------------------------------------------------------------------------------


async def one_of_two_killed(processes: Processes, options: Options) -> None:
    await asyncio.sleep(options.fault_at)
    processes.kill(processes.bots[0])


async def sigterm_then_new(processes: Processes, options: Options) -> None:
    await asyncio.sleep(options.fault_at)
    processes.terminate(processes.bots[0], options.kill_after)
    await asyncio.sleep(5.0)
    await processes.start_bot()


async def rolling_deploy(processes: Processes, options: Options) -> None:
    await asyncio.sleep(options.fault_at)
    await processes.start_bot()
    processes.terminate(processes.bots[0], options.kill_after)


async def redis_restarted_empty(processes: Processes, options: Options) -> None:
    await asyncio.sleep(options.fault_at)
    await processes.restart_redis()


async def only_one_killed(processes: Processes, options: Options) -> None:
    await asyncio.sleep(options.fault_at)
    processes.kill(processes.bots[0])
    await asyncio.sleep(10.0)
    await processes.start_bot()


async def worker_restarted(processes: Processes, options: Options) -> None:
    """Heroku restarts worker dynos without preboot: the old one stops, a new one starts."""
    await asyncio.sleep(options.fault_at)
    processes.terminate(processes.bots[1], options.kill_after)
    await asyncio.sleep(5.0)
    await processes.start_worker()


async def one_web(processes: Processes) -> None:
    await processes.start_bot()


async def two_web(processes: Processes) -> None:
    await processes.start_bot()
    await processes.start_bot()


async def web_and_worker(processes: Processes) -> None:
    """A web process that only queues (WEB_ANSWERS=false), and one worker."""
    await processes.start_bot(web_answers=not processes.environ.get("REDIS_URL"))
    await processes.start_worker()


Start = Callable[[Processes], Awaitable[None]]
Fault = Callable[[Processes, Options], Awaitable[None]]
FAULTS: dict[str, tuple[Start, Fault]] = {
    "one_of_two_killed": (two_web, one_of_two_killed),
    "sigterm_then_new": (one_web, sigterm_then_new),
    "rolling_deploy": (one_web, rolling_deploy),
    "redis_restarted_empty": (two_web, redis_restarted_empty),
    "only_one_killed": (one_web, only_one_killed),
    "worker_restarted": (web_and_worker, worker_restarted),
}


# --- one run -------------------------------------------------------------------------------------------


@dataclass
class Asked:
    qid: str
    channel: str
    thread_ts: str
    ts: str


def qid_of(thread: int, number: int) -> str:
    return f"q{thread}-{number}"


async def ask_all(slack: FakeSlack, deliveries: SlackDeliveries, options: Options) -> list[Asked]:
    """The threads' first questions a moment apart, each follow-up `follow_up_every` after the one before."""
    started = time.monotonic()
    schedule = sorted(
        (thread * 0.25 + (number - 1) * options.follow_up_every, thread, number)
        for thread in range(1, options.threads + 1)
        for number in range(1, options.per_thread + 1)
    )
    asked: list[Asked] = []
    opened: dict[int, str] = {}
    for at, thread, number in schedule:
        await asyncio.sleep(max(0.0, started + at - time.monotonic()))
        qid = qid_of(thread, number)
        channel = f"C{thread % 2 + 1}"
        text = f"<@{BOT_USER_ID}> question {qid}, please"
        message = slack.post_as_person(channel, f"U{thread:04d}", text, thread_ts=opened.get(thread))
        opened.setdefault(thread, message["ts"])
        asked.append(Asked(qid, channel, opened[thread], message["ts"]))
        mention = {**message, "type": "app_mention"}
        deliveries.send(qid, mention)
        deliveries.send(qid, {**message, "type": "message", "channel_type": "channel"})
    return asked


async def run_situation(situation: str, options: Options, http: aiohttp.ClientSession) -> dict[str, Any]:
    slack, model = FakeSlack(), FakeModel()
    model.default = model_answers(model, options)
    await slack.start()
    await model.start()
    environ = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.url,
        "INFERENCE_URL": model.url,
        "INFERENCE_KEY": MODEL_KEY,
        "INFERENCE_MODEL_ID": MODEL_ID,
        "MODEL_TIMEOUT_SECONDS": "30",
    }
    if options.redis:
        environ["REDIS_URL"] = "set per process"
    router = Router(http)
    processes = Processes(situation, environ, router, http)
    deliveries = SlackDeliveries(router, options)
    start, fault = FAULTS[situation]
    started = time.monotonic()
    try:
        await processes.start_redis()
        await start(processes)
        faulting = asyncio.create_task(fault(processes, options))
        asked = await ask_all(slack, deliveries, options)
        await faulting
        await settle(slack, deliveries, asked, options)
    finally:
        await processes.close()
        for task in deliveries.tasks:
            task.cancel()
        await asyncio.gather(*deliveries.tasks, return_exceptions=True)
        await slack.stop()
        await model.stop()
    result = judge(slack, model, asked, options)
    _write_threads(situation, slack, asked)
    result.update(
        situation=situation,
        title=TITLES[situation],
        processes=[bot.name for bot in processes.bots],
        seconds=round(time.monotonic() - started, 1),
        deliveries=len(deliveries.deliveries),
        deliveries_never_acknowledged=sum(1 for d in deliveries.deliveries if not d.acknowledged),
        delivery_attempts=sum(len(d.attempts) for d in deliveries.deliveries),
        model_requests=len(model.requests),
        redis=options.redis,
    )
    return result


async def settle(slack: FakeSlack, deliveries: SlackDeliveries, asked: list[Asked], options: Options) -> None:
    """Until every question shows one whole answer and nothing streams, then a few quiet seconds for late
    duplicates; or, once Slack has stopped retrying, until nothing has changed for 15 s (longer than a
    reclaim); or the deadline."""
    give_up = time.monotonic() + options.deadline
    while time.monotonic() < give_up:
        done = all(task.done() for task in deliveries.tasks)
        quiet = not slack.calls or time.monotonic() - slack.calls[-1].at > 15.0
        if done and (quiet or _all_answered(slack, asked, options)):
            break
        await asyncio.sleep(0.5)
    await asyncio.sleep(3.0)


def _all_answered(slack: FakeSlack, asked: list[Asked], options: Options) -> bool:
    shown = judge_questions(slack, asked, options)
    return not slack.streaming_messages() and all(len(q["whole"]) >= 1 for q in shown.values())


def _write_threads(situation: str, slack: FakeSlack, asked: list[Asked]) -> None:
    """What each thread finally shows, for reading after a run."""
    lines = []
    for channel, thread_ts in sorted({(q.channel, q.thread_ts) for q in asked}):
        lines.append(f"== {channel} {thread_ts}")
        for message in slack.thread(channel, thread_ts):
            who = "bot" if message.get("user") == BOT_USER_ID else message.get("user")
            flags = " (streaming)" if message.get("streaming") else ""
            lines.append(f"{message['ts']} {who}{flags}: {message.get('visible') or message.get('text')}")
    LOGS.mkdir(parents=True, exist_ok=True)
    (LOGS / f"{situation}-threads.txt").write_text("\n".join(lines) + "\n")


# --- judging what the threads show ---------------------------------------------------------------------


def judge_questions(slack: FakeSlack, asked: list[Asked], options: Options) -> dict[str, dict[str, Any]]:
    """Per question: the bot's messages showing its whole answer, those showing a part, and the notices."""
    shown: dict[str, dict[str, Any]] = {q.qid: {"whole": [], "part": [], "ask_again": 0} for q in asked}
    by_thread: dict[tuple[str, str], list[Asked]] = {}
    for question in asked:
        by_thread.setdefault((question.channel, question.thread_ts), []).append(question)
    for (channel, thread_ts), questions in by_thread.items():
        for message in slack.bot_messages(channel, thread_ts):
            text = str(message.get("visible") or "")
            named = ANSWER.findall(text)
            for qid, request in named:
                if qid not in shown:
                    continue
                if whole_answer(qid, int(request), options) in text and not message.get("streaming"):
                    shown[qid]["whole"].append({"ts": message["ts"], "request": int(request), "text": text})
                else:
                    shown[qid]["part"].append(message["ts"])
            if ASK_AGAIN.search(text):
                target = named[-1][0] if named else _asked_before(questions, str(message["ts"]), shown)
                if target:
                    shown[target]["ask_again"] += 1
    return shown


def _asked_before(questions: list[Asked], ts: str, shown: dict[str, dict[str, Any]]) -> str:
    """A notice naming no answer is for the latest question before it without a whole answer (else the latest)."""
    before = [q for q in questions if float(q.ts) < float(ts)]
    unanswered = [q for q in before if not shown[q.qid]["whole"]]
    chosen = (unanswered or before)[-1:] or questions[:1]
    return chosen[0].qid if chosen else ""


def judge(slack: FakeSlack, model: FakeModel, asked: list[Asked], options: Options) -> dict[str, Any]:
    shown = judge_questions(slack, asked, options)
    threads: dict[str, list[Asked]] = {}
    for question in asked:
        threads.setdefault(question.thread_ts + question.channel, []).append(question)
    broken = [why for why in (_order_held(questions, shown, model) for questions in threads.values()) if why]
    return {
        "asked": len(asked),
        "answered_once": sum(1 for q in shown.values() if len(q["whole"]) == 1),
        "answered_twice": sum(1 for q in shown.values() if len(q["whole"]) > 1),
        "ask_again": sum(q["ask_again"] for q in shown.values()),
        "silent": sum(1 for q in shown.values() if not q["whole"] and not q["part"] and not q["ask_again"]),
        "cut_off": sum(1 for q in shown.values() if q["part"]),
        "threads": len(threads),
        "order_held": len(threads) - len(broken),
        "order_broken": broken,
        "streams_left_open": len(slack.streaming_messages()),
        "by_question": {
            qid: {"whole": len(q["whole"]), "part": len(q["part"]), "ask_again": q["ask_again"]}
            for qid, q in shown.items()
            if len(q["whole"]) != 1 or q["part"] or q["ask_again"]
        },
    }


def _order_held(questions: list[Asked], shown: dict[str, dict[str, Any]], model: FakeModel) -> str:
    """ "" when each question's one answer stands below the one before and was written by a request that saw
    it; else what broke the order."""
    previous: dict[str, Any] | None = None
    for question in sorted(questions, key=lambda q: float(q.ts)):
        answers = shown[question.qid]["whole"]
        if len(answers) != 1:
            return f"{question.qid} answered {len(answers)} times"
        answer = answers[0]
        if previous is not None:
            if float(answer["ts"]) < float(previous["ts"]):
                return f"{question.qid}'s answer stands above the one before"
            request = model.requests[answer["request"] - 1]
            seen = "\n".join(text_of(message) for message in request["messages"])
            if previous["text"].strip() not in seen:
                return f"{question.qid} was answered without the answer before it: {seen[-300:]!r}"
        previous = answer
    return ""


# --- the command ---------------------------------------------------------------------------------------

COLUMNS = (
    ("asked", "asked"),
    ("answered_once", "answered once"),
    ("answered_twice", "twice"),
    ("ask_again", '"ask again"'),
    ("silent", "silent"),
    ("cut_off", "cut off"),
)


def table(results: list[dict[str, Any]]) -> str:
    head = "| situation | " + " | ".join(title for _, title in COLUMNS) + " | order held |"
    rows = [head, "|---" * (len(COLUMNS) + 2) + "|"]
    for result in results:
        cells = [str(result[key]) for key, _ in COLUMNS]
        rows.append(
            f"| {result['title']} | " + " | ".join(cells) + f" | {result['order_held']}/{result['threads']} threads |"
        )
    return "\n".join(rows)


async def run_durability(situations: list[str], options: Options) -> list[dict[str, Any]]:
    # A killed process leaves the fake model writing to a closed connection: expected here, not worth a trace.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    results = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        for situation in situations:
            result = await run_situation(situation, options, http)
            results.append(result)
            print(table([result]).splitlines()[-1], f"({result['seconds']} s)", flush=True)
    print(table(results), flush=True)
    return results


def save(results: list[dict[str, Any]], options: Options) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "durability.json" if options.redis else "durability_without_redis.json"
    document = {"options": {**options.__dict__}, "results": results}
    (RESULTS / name).write_text(json.dumps(document, indent=2) + "\n")
