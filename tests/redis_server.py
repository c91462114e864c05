"""A real redis-server on a free loopback port, started and stopped by the tests themselves."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from tests.process import free_port


@asynccontextmanager
async def redis_server() -> AsyncIterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed here (.ci/run installs it, so CI always runs this)")
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    try:
        async with asyncio.timeout(10):
            while b"Ready to accept connections" not in await process.stdout.readline():
                pass
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        await process.wait()
