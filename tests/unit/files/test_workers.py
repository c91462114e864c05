"""Worker processes for untrusted files: limits that end a hostile parse, and a pool that carries on."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.files import workers
from bot.files.workers import BUSY, IMAGE_TOO_LARGE, TOO_COMPLEX, FileParsers, Job, Parsed, ParseLimits, State, Worker
from tests.files_data import ENDLESS_PAGES, endless_pdf, pdf, screenshot, shared_stream_pdf

TEXT = Job("text", "notes.txt", max_pdf_pages=10, max_text_chars=10_000)
ENDLESS = Job("pdf", "endless.pdf", max_pdf_pages=ENDLESS_PAGES, max_text_chars=10_000)


@pytest.fixture
async def parsers() -> AsyncIterator[FileParsers]:
    pool = FileParsers()
    yield pool
    await pool.close()


async def busy_worker(parsers: FileParsers) -> Worker:
    async with parsers.changed:
        await parsers.changed.wait_for(lambda: bool(parsers.busy()))
    [worker] = parsers.busy()
    return worker


async def test_a_file_is_read_in_a_worker_and_the_worker_is_kept_for_the_next(parsers: FileParsers) -> None:
    assert await parsers.parse(TEXT, b"port 8080 in use") == Parsed(text="port 8080 in use")
    first = [worker.pid for worker in parsers.workers]
    pages = await parsers.parse(Job("pdf", "spec.pdf", 10, 10_000), pdf("Retry after 5 s."))
    assert pages == Parsed(text="[page 1]\nRetry after 5 s.", detail="1 pages")
    assert [worker.pid for worker in parsers.workers] == first
    assert os.getpid() not in first


async def test_a_parse_past_its_cpu_time_is_too_complex_and_the_next_file_is_read() -> None:
    """RLIMIT_CPU ends the worker (SIGXCPU); the file is named too complex, a fresh worker reads the next."""
    parsers = FileParsers(ParseLimits(cpu_seconds=1, wall_seconds=600))
    try:
        assert await parsers.parse(ENDLESS, endless_pdf()) == Parsed(not_read=TOO_COMPLEX, detail="it took too long")
        assert await parsers.parse(TEXT, b"next") == Parsed(text="next")
    finally:
        await parsers.close()


async def test_a_parse_past_its_wall_clock_is_killed() -> None:
    parsers = FileParsers(ParseLimits(cpu_seconds=600, wall_seconds=0.5))
    try:
        assert await parsers.parse(ENDLESS, endless_pdf()) == Parsed(not_read=TOO_COMPLEX, detail="it took too long")
        assert await parsers.parse(TEXT, b"next") == Parsed(text="next")
    finally:
        await parsers.close()


async def test_a_parse_past_its_memory_is_too_complex(parsers: FileParsers) -> None:
    """A 40 KB PDF whose one page makes PDFium allocate over 500 MB: the worker dies, the pool goes on."""
    bomb = shared_stream_pdf(pages=1, operators=1_000_000)
    parsed = await parsers.parse(Job("pdf", "bomb.pdf", 10, 10_000), bomb)
    assert parsed == Parsed(not_read=TOO_COMPLEX, detail="it needs too much memory")
    assert await parsers.parse(TEXT, b"next") == Parsed(text="next")


async def test_a_worker_killed_mid_parse_is_replaced_and_the_next_file_is_read(parsers: FileParsers) -> None:
    reading = asyncio.create_task(parsers.parse(ENDLESS, endless_pdf()))
    worker = await busy_worker(parsers)
    os.kill(worker.pid, signal.SIGKILL)
    assert await reading == Parsed(not_read=TOO_COMPLEX, detail="the reader stopped")
    assert await parsers.parse(TEXT, b"next") == Parsed(text="next")
    assert worker.pid not in [other.pid for other in parsers.workers]


async def test_an_idle_worker_that_died_is_not_given_the_next_file(parsers: FileParsers) -> None:
    await parsers.parse(TEXT, b"first")
    [worker] = parsers.workers
    os.kill(worker.pid, signal.SIGKILL)
    await worker.process.wait()
    assert await parsers.parse(TEXT, b"second") == Parsed(text="second")


async def test_two_hung_parses_do_not_stop_a_third_file_for_long() -> None:
    """Both workers busy with hostile PDFs: the text file waits its turn, then is read."""
    parsers = FileParsers(ParseLimits(cpu_seconds=1, wall_seconds=600))
    try:
        hostile = [asyncio.create_task(parsers.parse(ENDLESS, endless_pdf())) for _ in range(2)]
        async with parsers.changed:
            await parsers.changed.wait_for(lambda: len(parsers.busy()) == 2)
        assert await parsers.parse(TEXT, b"after them") == Parsed(text="after them")
        assert [parsed.not_read for parsed in await asyncio.gather(*hostile)] == [TOO_COMPLEX, TOO_COMPLEX]
    finally:
        await parsers.close()


async def test_a_cancelled_parse_kills_its_worker(parsers: FileParsers) -> None:
    """An answer stopped by a restart leaves no worker busy with a file nobody waits for."""
    reading = asyncio.create_task(parsers.parse(ENDLESS, endless_pdf()))
    worker = await busy_worker(parsers)
    reading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reading
    assert worker.process.returncode == -signal.SIGKILL
    assert worker.state is State.DEAD
    assert parsers.workers == []


async def test_close_kills_a_busy_worker_without_waiting_for_its_parse(parsers: FileParsers) -> None:
    reading = asyncio.create_task(parsers.parse(ENDLESS, endless_pdf()))
    worker = await busy_worker(parsers)
    await parsers.close()
    assert worker.process.returncode == -signal.SIGKILL
    assert await reading == Parsed(not_read=BUSY)
    assert await parsers.parse(TEXT, b"after close") == Parsed(not_read=BUSY)


async def test_a_worker_sees_none_of_the_bots_secrets(parsers: FileParsers, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-never-in-a-worker")
    monkeypatch.setenv("INFERENCE_KEY", "inf-never-in-a-worker")
    await parsers.parse(TEXT, b"hello")
    [worker] = parsers.workers
    environment = await asyncio.to_thread(Path(f"/proc/{worker.pid}/environ").read_bytes)
    assert b"never-in-a-worker" not in environment
    assert b"SLACK_BOT_TOKEN" not in environment


# A worker that parsed a hostile file may be the attacker's: what it answers is checked, never trusted.
LIARS = {
    "nested JSON": "body = b'[' * 200_000 + b']' * 200_000",
    "nested object": "body = b'{\"text\": ' * 100_000 + b'1' + b'}' * 100_000",
    "a number past int's digits": "body = b'{\"text\": ' + b'9' * 100_000 + b'}'",
    "not JSON": "body = b'\\xff\\xfe not json'",
    "a field that is not text": "body = b'{\"text\": [1]}'",
    "a reason no parse gives": 'body = b\'{"not_read": "refused"}\'',
}


async def lying_worker(body: str, length: str = "len(body)") -> Worker:
    """A process that answers the bot's ready check, then one job with `body` (as Python)."""
    script = (
        "import struct, sys\n"
        "out = sys.stdout.buffer\n"
        "out.write(struct.pack('>I', 2) + b'{}'); out.flush()\n"
        f"{body}\n"
        "sys.stdin.buffer.read(4)\n"
        f"out.write(struct.pack('>I', {length}) + body); out.flush()\n"
        "sys.stdin.buffer.read()\n"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    worker = Worker(process)
    await worker.ready()
    worker.state = State.IDLE
    return worker


@pytest.mark.parametrize("body", LIARS.values(), ids=LIARS.keys())
async def test_a_worker_that_answers_nonsense_costs_only_its_file(parsers: FileParsers, body: str) -> None:
    liar = await lying_worker(body)
    parsers.workers.append(liar)
    parsed = await parsers.parse(TEXT, b"its file")
    assert parsed.not_read == TOO_COMPLEX
    assert liar.process.returncode is not None
    assert liar not in parsers.workers
    assert await parsers.parse(TEXT, b"the next file") == Parsed(text="the next file")


@pytest.mark.parametrize(
    ("mode", "width", "height"),
    [("RGBA", 5120, 2880), ("RGBA", 4000, 4000), ("P", 4000, 4000), ("RGB", 4000, 4000), ("LA", 4000, 4000)],
    ids=["5K screenshot", "16 MP with alpha", "16 MP with a transparent colour", "16 MP", "16 MP grey with alpha"],
)
async def test_an_image_within_the_pixel_limit_is_read_in_a_worker(
    parsers: FileParsers, mode: str, width: int, height: int
) -> None:
    """Up to 16 megapixels, whatever the PNG's colours: scaling one down fits in a worker's memory."""
    parsed = await parsers.parse(Job("image", "shot.png", 10, 10_000), screenshot(width, height, mode))
    assert parsed.not_read == ""
    assert parsed.image.startswith("data:image/")


async def test_a_webp_too_large_for_a_worker_is_refused_by_its_size(parsers: FileParsers) -> None:
    """Pillow decodes a WebP at about 17 bytes a pixel: past 6 megapixels that is named, not a worker killed."""
    job = Job("image", "photo.webp", 10, 10_000)
    parsed = await parsers.parse(job, screenshot(3000, 3000, "RGB", "WEBP"))
    assert parsed == Parsed(not_read=IMAGE_TOO_LARGE, detail="3,000 x 3,000 pixels; I read a WebP up to 6 megapixels")
    assert (await parsers.parse(job, screenshot(2400, 2400, "RGB", "WEBP"))).image.startswith("data:image/")


async def test_a_sigterm_to_every_process_leaves_a_parse_to_its_own_limits() -> None:
    """Heroku stops a dyno by sending SIGTERM to all its processes (Ctrl-C sends SIGINT to the terminal's):
    a worker carries on, since the bot still answers in its grace period and kills workers itself on close.
    One that died of it had its file named too complex, and cached so for the thread."""
    parsers = FileParsers(ParseLimits(cpu_seconds=1, wall_seconds=600))
    try:
        reading = asyncio.create_task(parsers.parse(ENDLESS, endless_pdf()))
        worker = await busy_worker(parsers)
        os.kill(worker.pid, signal.SIGTERM)
        os.kill(worker.pid, signal.SIGINT)
        assert await reading == Parsed(not_read=TOO_COMPLEX, detail="it took too long")
    finally:
        await parsers.close()


async def test_a_worker_gone_while_idle_costs_no_file(parsers: FileParsers) -> None:
    """An idle worker that can no longer take a job (killed and not yet reaped, here one that closed its
    input): the file goes to a fresh worker, not named too complex (and cached so) for a fault not its own."""
    script = "import os, struct, sys, time\nos.close(0)\nsys.stdout.buffer.write(struct.pack('>I', 2) + b'{}')\n"
    script += "sys.stdout.buffer.flush()\ntime.sleep(60)\n"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    gone = Worker(process)
    await gone.ready()
    gone.state = State.IDLE
    parsers.workers.append(gone)
    assert await parsers.parse(TEXT, b"its file") == Parsed(text="its file")
    assert gone.process.returncode is not None
    assert gone not in parsers.workers


def progressive_jpeg(width: int, height: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.linear_gradient("L").resize((width, height)).convert("RGB").save(buffer, "JPEG", progressive=True)
    return buffer.getvalue()


async def test_a_progressive_jpeg_too_large_to_decode_in_a_worker_is_named_too_large(parsers: FileParsers) -> None:
    """libjpeg holds all of a progressive JPEG's coefficients at full size, however small the draft: a
    48-megapixel photo (8,000 x 6,000) ran out of memory and was called unreadable. 24 megapixels still fit."""
    job = Job("image", "photo.jpg", 10, 10_000)
    parsed = await parsers.parse(job, progressive_jpeg(8000, 6000))
    assert parsed.not_read == IMAGE_TOO_LARGE
    assert parsed.detail.startswith("8,000 x 6,000 pixels; I read a progressive JPEG up to ")
    assert (await parsers.parse(job, progressive_jpeg(6000, 4000))).image.startswith("data:image/")


def test_an_error_no_reader_foresaw_makes_the_file_unreadable_and_names_only_its_type(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The message may quote the file: the bot's log gets the error's type, the thread the usual notice."""

    def failing(data: bytes) -> str:
        raise KeyError("card 4111 1111 1111 1111")

    monkeypatch.setattr(workers, "decode_text", failing)
    assert workers.parse(TEXT, b"anything") == Parsed(not_read=workers.UNREADABLE, error="KeyError")


async def test_what_a_worker_writes_to_stderr_never_reaches_the_bots_log(
    parsers: FileParsers, capfd: pytest.CaptureFixture[str]
) -> None:
    """A worker that crashes prints a traceback, which may quote the file: it must not land raw in the log."""
    assert await parsers.parse(TEXT, b"first") == Parsed(text="first")
    [worker] = parsers.workers
    stdin = worker.process.stdin
    assert stdin is not None
    # Python's traceback quotes the bad size: `invalid literal for int() with base 10: '4111 ...'`.
    header = b'{"kind": "text", "name": "a.txt", "max_pdf_pages": 1, "max_text_chars": 1, "size": "4111 1111"}'
    stdin.write(workers.LENGTH.pack(len(header)) + header)
    await stdin.drain()
    assert await worker.process.wait() != 0
    captured = capfd.readouterr()
    assert "4111" not in captured.err + captured.out
    assert await parsers.parse(TEXT, b"next") == Parsed(text="next")


async def test_a_reader_that_dies_before_it_is_ready_is_logged_with_its_exit_code(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A broken install (a library that fails to load): the operator needs its exit code, not an
    IncompleteReadError."""
    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\nexit 3\n")
    broken.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(broken))
    parsers = FileParsers()
    try:
        assert await parsers.parse(TEXT, b"port 8080 in use") == Parsed(not_read=BUSY)
    finally:
        await parsers.close()
    [record] = [record for record in caplog.records if record.getMessage() == "file reader did not start"]
    assert record.__dict__["exit"] == 3
