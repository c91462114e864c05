"""Runs `python -m bot` as a real process, as Heroku would."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class BotProcess:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.output: list[str] = []

    @classmethod
    async def start(
        cls, environ: dict[str, str], *arguments: str, typed: bool = False, cwd: Path = ROOT / "tests"
    ) -> BotProcess:
        """`typed`: give the process a standard input to type into (see `type_and_finish`); `cwd`: where
        it reads `.env` from."""
        # By default a directory without .env, so that no developer's .env leaks into the run.
        env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", **environ}
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            *arguments,
            cwd=cwd,
            env=env,
            stdin=asyncio.subprocess.PIPE if typed else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        return cls(process)

    async def type_and_finish(self, text: str, within_seconds: float = 30.0) -> tuple[int, str]:
        """Types `text`, closes standard input, and returns the exit code and everything printed."""
        async with asyncio.timeout(within_seconds):
            output, _ = await self.process.communicate(text.encode())
        return self.process.returncode or 0, output.decode()

    async def wait_for_line(self, needle: str, within_seconds: float = 20.0) -> str:
        """Reads output until a line contains `needle`."""
        assert self.process.stdout is not None
        async with asyncio.timeout(within_seconds):
            while True:
                raw = await self.process.stdout.readline()
                if not raw:
                    raise AssertionError(f"process ended before {needle!r}; output:\n" + "\n".join(self.output))
                line = raw.decode(errors="replace").rstrip()
                self.output.append(line)
                if needle in line:
                    return line

    async def finish(self, within_seconds: float = 30.0) -> int:
        """Waits for exit, collecting the rest of the output."""
        assert self.process.stdout is not None
        async with asyncio.timeout(within_seconds):
            rest = await self.process.stdout.read()
            self.output.extend(rest.decode(errors="replace").splitlines())
            return await self.process.wait()

    def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
