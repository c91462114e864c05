"""Files parsed in worker processes, where a hostile one cannot hurt the bot (`python -m bot.files.workers`).

    the bot: FileParsers.parse(job, data) ──── job + bytes ────▶ a worker: parse(job, data), one at a time
                                          ◀─── JSON fields ────

The rules this module keeps:
- A worker runs with an address-space limit (`memory_bytes`) and, for each parse, a CPU-time limit
  (`cpu_seconds`, RLIMIT_CPU); the bot gives each parse `wall_seconds` of wall clock. Past any of them the
  worker dies (or is killed), that file is TOO_COMPLEX, and the next parse gets a fresh worker.
- A worker that dies for any other reason (a crash in PDFium, a SIGKILL from outside) is the same: that
  file is TOO_COMPLEX, nothing else notices.
- A worker's answer is JSON, checked field by field: never a pickle, since a worker parses hostile bytes.
- A worker's environment holds no secret: only the few variables Python itself needs are passed on.
- A cancelled parse (the answer stopped by a restart) kills its worker; `close` kills every worker and
  never waits on a parse. A worker ignores SIGTERM and SIGINT, which a restart sends every process.

Sized for Heroku's 512 MB dyno: the bot itself takes about 100 MB, the bytes downloaded and not yet read
at most 64 MB (bot.files.reading), and each of the two workers at most 192 MB, though an idle one holds
about 30 MB. A worker starts in about 0.1 s (PDFium, Pillow and charset-normalizer are loaded once).

A worker's states: STARTING → IDLE ⇄ BUSY → DEAD (killed, crashed, or over a limit).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import resource
import signal
import struct
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from enum import Enum
from pathlib import Path
from typing import BinaryIO

from bot.files.cutting import cut_middle
from bot.files.decoding import NotText, decode_text
from bot.files.images import ImageTooLarge, NotAnImage, prepare_image
from bot.files.pdf import UnreadablePdf, pdf_text

logger = logging.getLogger(__name__)

# Reasons a parse gives for a file not read (bot/files/reading.py lists the others; bot/notices.py says each).
BINARY = "binary"
UNREADABLE = "unreadable"
IMAGE_TOO_LARGE = "image_too_large"
TOO_COMPLEX = "too_complex"
# The workers could not be started, or were closed for a restart: worth another try.
BUSY = "busy"
PARSE_REASONS = frozenset({BINARY, UNREADABLE, IMAGE_TOO_LARGE})

# Where `python -m bot.files.workers` finds the package, and the variables a worker may see (no secrets).
PACKAGE_ROOT = Path(__file__).resolve().parents[2]
PASSED_VARIABLES = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "LD_LIBRARY_PATH", "TMPDIR")
# A frame: its length (4 bytes, big-endian), then that many bytes.
LENGTH = struct.Struct(">I")
MAX_ANSWER_BYTES = 64 * 1024 * 1024
CHUNK_BYTES = 1024 * 1024
# The exit code of a worker that ran out of memory in Python code (PDFium aborts instead: SIGABRT).
EXIT_OUT_OF_MEMORY = 3


@dataclass(frozen=True)
class ParseLimits:
    workers: int = 2
    cpu_seconds: int = 5
    wall_seconds: float = 10.0
    memory_bytes: int = 192 * 1024 * 1024
    # A worker that has not loaded its libraries by then is taken for broken.
    start_seconds: float = 20.0


@dataclass(frozen=True)
class Job:
    """What to make of the bytes: `kind` is a bot.files.kinds.Kind value."""

    kind: str
    name: str
    max_pdf_pages: int
    max_text_chars: int


@dataclass(frozen=True)
class Parsed:
    text: str = ""
    image: str = ""
    not_read: str = ""
    detail: str = ""
    # The type of an error no reader foresaw (a bug, or a file unlike any tried), for the bot's log. Never its
    # message, which may quote the file.
    error: str = ""


def parse(job: Job, data: bytes) -> Parsed:
    """The file's text or image, or why not: plain code over bytes, run in a worker."""
    try:
        if job.kind == "image":
            return Parsed(image=prepare_image(data))
        if job.kind == "pdf":
            text, pages = pdf_text(data, job.max_pdf_pages)
            return Parsed(text=cut_middle(text, job.name, job.max_text_chars), detail=f"{pages} pages")
        return Parsed(text=cut_middle(decode_text(data), job.name, job.max_text_chars))
    except NotText:
        return Parsed(not_read=BINARY)
    except ImageTooLarge as error:
        return Parsed(not_read=IMAGE_TOO_LARGE, detail=str(error))
    except (NotAnImage, UnreadablePdf) as error:
        return Parsed(not_read=UNREADABLE, detail=str(error))
    except MemoryError:
        raise
    except Exception as error:  # noqa: BLE001 - a file no reader foresaw is unreadable, and its error reported
        return Parsed(not_read=UNREADABLE, error=type(error).__name__)


class State(Enum):
    STARTING = "starting"
    IDLE = "idle"
    BUSY = "busy"
    DEAD = "dead"


class WorkerDied(Exception):
    """The worker ended (or was killed) before it answered; `detail` says why, in words for the notice."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class WorkerNotStarted(Exception):
    """A worker ended, or hung, before it said it was ready; `exit_code` is its exit code (negative: the signal
    that ended it, SIGKILL when it hung)."""

    def __init__(self, detail: str, exit_code: int | None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.exit_code = exit_code


class Worker:
    """One worker process and its state; only FileParsers moves it between states."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.state = State.STARTING
        self.pid = process.pid
        # Whether the job in progress reached the worker whole: until then, a worker that went away did so
        # for a reason of its own, not the file's.
        self.handed_over = False

    @classmethod
    async def start(cls, limits: ParseLimits) -> Worker:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-E",
            "-s",
            "-m",
            "bot.files.workers",
            str(limits.memory_bytes),
            str(limits.cpu_seconds),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            # What a C library or a warning writes there may quote the file, and would land raw in the bot's
            # log. A worker reports its failures in its answers (`Parsed.error`) and by its exit code.
            stderr=asyncio.subprocess.DEVNULL,
            cwd=PACKAGE_ROOT,
            env=worker_environment(os.environ),
        )
        return cls(process)

    async def ready(self) -> None:
        await self._answer()

    async def run(self, job: Job, data: bytes | bytearray) -> Mapping[str, object]:
        stdin = self.process.stdin
        assert stdin is not None
        self.handed_over = False
        header = json.dumps({**asdict(job), "size": len(data)}).encode()
        stdin.write(LENGTH.pack(len(header)) + header)
        view = memoryview(data)
        for start in range(0, len(data), CHUNK_BYTES):
            stdin.write(view[start : start + CHUNK_BYTES])
            await stdin.drain()
        await stdin.drain()
        self.handed_over = True
        return await self._answer()

    async def _answer(self) -> Mapping[str, object]:
        stdout = self.process.stdout
        assert stdout is not None
        (length,) = LENGTH.unpack(await stdout.readexactly(LENGTH.size))
        if length > MAX_ANSWER_BYTES:
            raise WorkerDied("the reader answered nonsense")
        body = await stdout.readexactly(length)
        try:
            answer = json.loads(body)
        except RecursionError as error:
            # Nested deeper than Python's stack: no worker of ours writes that (bad JSON, a ValueError, too).
            raise WorkerDied("the reader answered nonsense") from error
        if not isinstance(answer, dict):
            raise WorkerDied("the reader answered nonsense")
        return answer

    async def ended(self, within_seconds: float = 1.0) -> None:
        """A worker that closed its pipe has ended, or soon will: its exit code says why. Not killed at once:
        signalling a process that may already be dead makes Popen reap it behind asyncio's back, and its
        exit code is lost (asyncio reports 255)."""
        try:
            async with asyncio.timeout(within_seconds):
                await self.process.wait()
        except TimeoutError:
            await self.kill()
        self.state = State.DEAD

    async def kill(self) -> None:
        """Ends the process at once and reaps it (a matter of milliseconds)."""
        self.state = State.DEAD
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        await self.process.wait()

    def why_it_died(self) -> str:
        code = self.process.returncode
        if code == -signal.SIGXCPU:
            return "it took too long"
        if code in (EXIT_OUT_OF_MEMORY, -signal.SIGABRT, -signal.SIGSEGV, -signal.SIGBUS):
            return "it needs too much memory"
        return "the reader stopped"


class FileParsers:
    """A small pool of workers; `parse` waits for a free one (at most `limits.workers` at once)."""

    def __init__(self, limits: ParseLimits | None = None) -> None:
        self.limits = limits or ParseLimits()
        self.workers: list[Worker] = []
        # Notified on every change of a worker's state, for whoever watches (tests, a status page).
        self.changed = asyncio.Condition()
        self._free = asyncio.Semaphore(self.limits.workers)
        self._closed = False

    async def parse(self, job: Job, data: bytes | bytearray) -> Parsed:
        if self._closed:
            return Parsed(not_read=BUSY)
        async with self._free:
            while True:
                try:
                    worker = await self._idle_worker()
                except WorkerNotStarted as error:
                    logger.error("file reader did not start", extra={"error": error.detail, "exit": error.exit_code})
                    return Parsed(not_read=BUSY)
                except OSError as error:  # no process at all (out of process slots, no executable)
                    logger.error("file reader did not start", extra={"error": repr(error)})
                    return Parsed(not_read=BUSY)
                parsed = await self._parse_in(worker, job, data)
                if parsed is not None:
                    return parsed

    async def _parse_in(self, worker: Worker, job: Job, data: bytes | bytearray) -> Parsed | None:
        """The file parsed by `worker`; None when an idle worker turned out gone before it took the job
        (killed while idle, not yet reaped): the caller tries a fresh one."""
        reused = worker.state is State.IDLE
        await self._move(worker, State.BUSY)
        logger.debug("file parse started", extra={"pid": worker.pid, "kind": job.kind, "bytes": len(data)})
        try:
            async with asyncio.timeout(self.limits.wall_seconds):
                answer = await worker.run(job, data)
            parsed = _checked(answer)
            if parsed.error:
                logger.warning("file reader failed", extra={"kind": job.kind, "error": parsed.error})
        except TimeoutError:
            detail = "it took too long"
        except (asyncio.IncompleteReadError, ConnectionError, WorkerDied, ValueError) as error:
            await worker.ended()
            if reused and not worker.handed_over:
                await self._drop(worker)
                logger.warning(
                    "file reader gone while idle", extra={"pid": worker.pid, "exit": worker.process.returncode}
                )
                return None
            detail = error.detail if isinstance(error, WorkerDied) else worker.why_it_died()
        except BaseException:
            # Cancelled (a restart): the worker is busy with a parse nobody waits for.
            await self._drop(worker)
            raise
        else:
            await self._move(worker, State.IDLE)
            return parsed
        await self._drop(worker)
        if self._closed:
            return Parsed(not_read=BUSY)
        logger.warning(
            "file too complex to read",
            extra={"file_name": job.name, "kind": job.kind, "detail": detail, "exit": worker.process.returncode},
        )
        return Parsed(not_read=TOO_COMPLEX, detail=detail)

    async def _idle_worker(self) -> Worker:
        for worker in self.workers:
            if worker.state is State.IDLE and worker.process.returncode is None:
                return worker
        for worker in [worker for worker in self.workers if worker.state is State.IDLE]:
            await self._drop(worker)
        worker = await Worker.start(self.limits)
        self.workers.append(worker)
        try:
            async with asyncio.timeout(self.limits.start_seconds):
                await worker.ready()
        except (WorkerDied, EOFError, ConnectionError, ValueError) as error:
            # It closed its pipe, or answered nonsense, before saying it was ready: its exit code says why.
            await worker.ended()
            await self._drop(worker)
            detail = error.detail if isinstance(error, WorkerDied) else worker.why_it_died()
            raise WorkerNotStarted(detail, worker.process.returncode) from error
        except TimeoutError as error:
            await self._drop(worker)
            raise WorkerNotStarted("it took too long to start", worker.process.returncode) from error
        except BaseException:
            await self._drop(worker)
            raise
        # Still STARTING: the caller takes it (BUSY) before anyone else can see it IDLE.
        return worker

    async def _move(self, worker: Worker, state: State) -> None:
        # Set before any await: whoever looks next sees the new state.
        worker.state = state
        async with self.changed:
            self.changed.notify_all()

    async def _drop(self, worker: Worker) -> None:
        await worker.kill()
        if worker in self.workers:
            self.workers.remove(worker)
        async with self.changed:
            self.changed.notify_all()

    def busy(self) -> list[Worker]:
        return [worker for worker in self.workers if worker.state is State.BUSY]

    async def close(self) -> None:
        """Kills every worker, busy or not: a restart never waits on a parse."""
        self._closed = True
        for worker in list(self.workers):
            await self._drop(worker)


def _checked(answer: Mapping[str, object]) -> Parsed:
    """A worker's answer as Parsed, refused unless every field is a string and the reason one a parse gives."""
    names = {field.name for field in fields(Parsed)}
    if set(answer) - names or not all(isinstance(value, str) for value in answer.values()):
        raise WorkerDied("the reader answered nonsense")
    parsed = Parsed(**{name: str(value) for name, value in answer.items()})
    if parsed.not_read and parsed.not_read not in PARSE_REASONS:
        raise WorkerDied("the reader answered nonsense")
    return parsed


def worker_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The bot's environment holds its tokens: a worker gets only what Python and the C libraries need."""
    return {name: environ[name] for name in PASSED_VARIABLES if name in environ}


# The worker's side: a loop over jobs on standard input, answers on standard output.


def serve(memory_bytes: int, cpu_seconds: int, source: BinaryIO, sink: BinaryIO) -> int:
    """Parses jobs until standard input closes; every limit breached ends the process, which the bot notices."""
    # Heroku's SIGTERM goes to every process of the dyno, a terminal's SIGINT to the whole group: the bot still
    # answers in its grace period, and kills its workers itself when it closes (or they read the end of input).
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    _send(sink, {})
    while True:
        header = _frame(source)
        if header is None:
            return 0
        header_fields = json.loads(header)
        data = _exactly(source, int(header_fields.pop("size")))
        if data is None:
            return 0
        # RLIMIT_CPU counts the process's whole life: each parse gets `cpu_seconds` more than used so far.
        usage = resource.getrusage(resource.RUSAGE_SELF)
        soft = math.ceil(usage.ru_utime + usage.ru_stime) + cpu_seconds
        resource.setrlimit(resource.RLIMIT_CPU, (soft, resource.getrlimit(resource.RLIMIT_CPU)[1]))
        try:
            parsed = parse(Job(**header_fields), data)
        except MemoryError:
            return EXIT_OUT_OF_MEMORY
        del data
        _send(sink, asdict(parsed))


def _send(sink: BinaryIO, answer: Mapping[str, object]) -> None:
    body = json.dumps(answer).encode()
    sink.write(LENGTH.pack(len(body)) + body)
    sink.flush()


def _frame(source: BinaryIO) -> bytes | None:
    prefix = _exactly(source, LENGTH.size)
    if prefix is None:
        return None
    return _exactly(source, LENGTH.unpack(prefix)[0])


def _exactly(source: BinaryIO, size: int) -> bytes | None:
    data = source.read(size)
    return data if len(data) == size else None


if __name__ == "__main__":
    sys.exit(serve(int(sys.argv[1]), int(sys.argv[2]), sys.stdin.buffer, sys.stdout.buffer))
