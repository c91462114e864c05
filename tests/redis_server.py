"""A real redis-server on a free loopback port, started and stopped by the tests themselves."""

from __future__ import annotations

import asyncio
import shutil
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
import redis.asyncio as redis

from tests.bot_process import free_port


@asynccontextmanager
async def redis_server(*options: str) -> AsyncIterator[str]:
    """`options` are redis-server's own, e.g. `--maxmemory-policy allkeys-lru`."""
    async with controlled_redis_server(*options) as server:
        yield server.url


class RedisProcess:
    """A running redis-server that a test can stall (SIGSTOP: connections stay open, nothing answers),
    resume, or stop (connections refused)."""

    def __init__(self, url: str, process: asyncio.subprocess.Process) -> None:
        self.url = url
        self.process = process

    def stall(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            await self.process.wait()


@asynccontextmanager
async def controlled_redis_server(*options: str) -> AsyncIterator[RedisProcess]:
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
        *options,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    server = RedisProcess(f"redis://127.0.0.1:{port}/0", process)
    try:
        async with asyncio.timeout(10):
            while b"Ready to accept connections" not in await process.stdout.readline():
                pass
        yield server
    finally:
        await server.stop()


@asynccontextmanager
async def watching(url: str) -> AsyncIterator[RedisWatch]:
    """Keyspace notifications on: a test waits for a condition on Redis's keys without polling."""
    client = redis.from_url(url, decode_responses=True)
    await client.config_set("notify-keyspace-events", "KA")
    pubsub = client.pubsub()
    await pubsub.psubscribe("__keyspace@0__:*")
    try:
        yield RedisWatch(client, pubsub)
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]
        await client.aclose()


class RedisWatch:
    def __init__(self, client: redis.Redis, pubsub: redis.client.PubSub) -> None:
        self.client = client
        self.pubsub = pubsub

    async def wait_for(self, condition: Callable[[redis.Redis], Awaitable[bool]], within_seconds: float = 10) -> None:
        """Checks `condition` after every change to any key (expiry included) until it holds."""
        async with asyncio.timeout(within_seconds):
            while not await condition(self.client):
                await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
