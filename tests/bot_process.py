"""Runs `python -m bot` as a real process, as Heroku would."""

from __future__ import annotations

import asyncio
import codecs
import fcntl
import os
import pty
import socket
import struct
import sys
import termios
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ERASE_LINE = "\x1b[K"


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


class TerminalProcess:
    """`python -m bot` in a pseudo-terminal, as a person runs it: standard input, output and error are one
    terminal, so the chat prints its prompts and every write, log lines too, lands on the same screen."""

    def __init__(self, process: asyncio.subprocess.Process, terminal: int) -> None:
        self.process = process
        self.terminal = terminal
        self.screen = ""
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._changed = asyncio.Event()
        asyncio.get_running_loop().add_reader(terminal, self._read)

    @classmethod
    async def start(cls, environ: dict[str, str], *arguments: str) -> TerminalProcess:
        terminal, device = pty.openpty()
        fcntl.ioctl(device, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))  # 24 rows of 80 columns
        env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "TERM": "xterm", **environ}
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                *arguments,
                cwd=ROOT / "tests",
                env=env,
                stdin=device,
                stdout=device,
                stderr=device,
                start_new_session=True,
            )
        finally:
            os.close(device)
        return cls(process, terminal)

    def _read(self) -> None:
        try:
            data = os.read(self.terminal, 65536)
        except OSError:  # EIO: the process closed the terminal
            data = b""
        if not data:
            asyncio.get_running_loop().remove_reader(self.terminal)
        self.screen += self._decoder.decode(data, final=not data)
        self._changed.set()

    def type(self, text: str) -> None:
        os.write(self.terminal, text.encode())

    async def wait_for(self, text: str, within_seconds: float = 20.0) -> None:
        """Until `text` is on the screen (the terminal ends lines with \\r\\n)."""
        try:
            async with asyncio.timeout(within_seconds):
                while text not in self.screen:
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(f"{text!r} never showed; the screen:\n{self.screen}") from None

    async def wait_for_count(self, text: str, count: int, within_seconds: float = 20.0) -> None:
        """Until `text` is on the screen `count` times."""
        try:
            async with asyncio.timeout(within_seconds):
                while self.screen.count(text) < count:
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(f"{text!r} never showed {count} times; the screen:\n{self.screen}") from None

    def lines(self) -> list[str]:
        """The screen's lines as a person sees them: each carriage return and line erase applied."""
        shown: list[str] = []
        for raw in self.screen.replace("\r\n", "\n").split("\n"):
            line = ""
            for part in raw.split("\r"):
                part = part.replace("\x1b[K", "")
                line = part + line[len(part) :] if part else line
            shown.append(line)
        return shown

    async def finish(self, within_seconds: float = 20.0) -> int:
        async with asyncio.timeout(within_seconds):
            code = await self.process.wait()
        asyncio.get_running_loop().remove_reader(self.terminal)
        os.close(self.terminal)
        return code

    def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
