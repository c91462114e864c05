"""Turn order across processes: one queue per thread in Redis, ordered by message timestamp.

Each turn enters its thread's queue (a sorted set scored by the message's ts) the moment it arrives, with a
lease: a key that expires unless the turn renews it. The turn whose entry comes first and whose lease is
alive holds the thread; once it does, its score drops to 0, so that an earlier message arriving late (a
Slack retry, another process) waits for it instead of running beside it. A turn that ends leaves the queue
and publishes the thread's key, which wakes the waiting turns of every process at once (no polling).

A turn's entry is named by its message, and its lease holds the attempt's own token: another attempt at the
same message (a question reclaimed from a process that died) takes its place in the queue, held or not,
at once, and the dead attempt's leave or renewal can no longer touch it. A process that dies stops
renewing: its leases expire within `lease_seconds`, and the waiters, who also wake when the head's lease is
due, skip it. The lease outlasts the queue's reclaim of a dead process's questions (bot/work/consumer.py),
so a thread's later question never goes ahead of an earlier one that is about to be reclaimed. If Redis
fails before a turn holds its thread, the turn is kept in this process's own order instead (`ThreadLocks`),
which every turn also holds once it comes first, so that a turn falling back waits for one holding through Redis.

States of one turn: entering → waiting (not first) → holding (first) → left. It renews its lease in every
state between entering and leaving, so a turn holds its thread for as long as it lives, however long it
waits for a model slot; it leaves on every exit, cancellation included.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import redis.asyncio as redis
from redis.exceptions import RedisError

from bot.store.deadline import outside_deadline
from bot.store.redis_guard import RedisGuard
from bot.store.thread_locks import ThreadLocks, turn_order

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Longer than a dead process's questions take to be reclaimed (bot/work/consumer.py: idle for 10 s, looked for
# every 2 s): renewed every third of it, a dead turn's lease lapses 16 s after its process died at the
# earliest, so its question is reclaimed (and takes its place) first. Only turns that are not queued questions
# (a cache refresh after an edit, a catch-up) of a dead process hold their thread until their lease lapses.
DEFAULT_LEASE_SECONDS = 24.0
RECONNECT_SECONDS = 1.0
# What RENEW says when another attempt at the same message has taken the turn's place.
TAKEN_OVER = -1

# KEYS: queue, lease. ARGV: member, score, lease in ms, token. Takes the member's place if it has one (LT: a
# held turn's 0 stays), and its lease, whoever had it.
ENTER = """
redis.call('ZADD', KEYS[1], 'LT', ARGV[2], ARGV[1])
redis.call('SET', KEYS[2], ARGV[4], 'PX', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
"""
# KEYS: queue, lease. ARGV: lease in ms, token. 1 renewed; 0 lapsed (the process stalled past it); -1 taken
# over by another attempt at the same message.
RENEW = """
local holder = redis.call('GET', KEYS[2])
if not holder then return 0 end
if holder ~= ARGV[2] then return -1 end
redis.call('PEXPIRE', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
"""
# KEYS: queue. ARGV: lease key prefix, member, token. The first entry with a live lease, its lease's ms left
# and its token; if that is this turn, it now holds the thread: its score drops to 0, before
# every message's.
HEAD = """
while true do
  local first = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
  if not first then return {} end
  local left = redis.call('PTTL', ARGV[1] .. first)
  if left ~= -2 then
    local holder = redis.call('GET', ARGV[1] .. first) or ''
    if first == ARGV[2] and holder == ARGV[3] then redis.call('ZADD', KEYS[1], 'XX', 0, first) end
    return {first, left, holder}
  end
  redis.call('ZREM', KEYS[1], first)
end
"""
# KEYS: queue, lease. ARGV: member, channel, thread key, token. Leaves only if the place is still this turn's.
LEAVE = """
if redis.call('GET', KEYS[2]) == ARGV[4] then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('DEL', KEYS[2])
end
redis.call('PUBLISH', ARGV[2], ARGV[3])
"""


class RedisTurns:
    """Cross-process turns of threads; one pub/sub connection per process carries every wake-up."""

    def __init__(
        self,
        client: redis.Redis,
        prefix: str,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        guard: RedisGuard | None = None,
        local: ThreadLocks | None = None,
    ) -> None:
        self.client = client
        self.guard = guard or RedisGuard()
        self.local = local or ThreadLocks()
        self.prefix = prefix + "turns:"
        self.channel = prefix + "turns"
        self.lease_seconds = lease_seconds
        self._enter = client.register_script(ENTER)
        self._renew = client.register_script(RENEW)
        self._head = client.register_script(HEAD)
        self._leave = client.register_script(LEAVE)
        self._wakers: dict[str, set[asyncio.Event]] = {}
        self._subscribed = asyncio.Event()
        self._tried = asyncio.Event()  # the first subscription has succeeded or failed
        self._listener: asyncio.Task[None] | None = None

    @contextlib.asynccontextmanager
    async def hold(self, key: str, ts: str) -> AsyncIterator[None]:
        """Waits for the turns of earlier messages in any process, then holds the thread until the block ends."""
        turn = _Turn(self.prefix + key, uuid.uuid4().hex, turn_order(ts), round(self.lease_seconds * 1000))
        wake = asyncio.Event()
        self._wakers.setdefault(key, set()).add(wake)
        renewing: asyncio.Task[None] | None = None
        entering = False
        in_process = contextlib.AsyncExitStack()
        try:
            try:
                await self._listen_for_wake_ups()
                entering = True  # from here on, leave: a cancelled call may still have entered
                await self._call(lambda: self._enter(keys=turn.keys, args=turn.args))
                renewing = asyncio.create_task(self._keep_alive(turn), name=f"lease {key}")
                await self._wait_until_first(turn, wake)
            except RedisError as error:
                logger.warning(
                    "redis unavailable: the thread's turn kept in this process", extra={"error": repr(error)}
                )
            # Held in this process's order too, whichever way the turn came first: a turn that falls back when
            # Redis fails mid-answer then waits for the one holding the thread through Redis.
            await in_process.enter_async_context(self.local.hold(key, ts))
            yield
        finally:
            await in_process.aclose()
            self._wakers[key].discard(wake)
            if not self._wakers[key]:
                del self._wakers[key]
            if renewing is not None:
                renewing.cancel()
                await asyncio.wait([renewing])  # no renewal may land after the turn has left
            if entering:
                try:
                    await self.guard.run(
                        lambda: self._leave(keys=turn.keys, args=[turn.member, self.channel, key, turn.token])
                    )
                except RedisError as error:
                    logger.warning("redis unavailable: the turn ends when its lease does", extra={"error": repr(error)})

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener

    async def _wait_until_first(self, turn: _Turn, wake: asyncio.Event) -> None:
        while True:
            wake.clear()
            head: list[Any] = await self._call(
                lambda: self._head(keys=[turn.queue], args=[turn.queue + ":", turn.member, turn.token])
            )
            if not head:
                await self._call(lambda: self._enter(keys=turn.keys, args=turn.args))  # its own lease had lapsed
                continue
            first, left_ms, holder = str(head[0]), int(head[1]), str(head[2])
            if first == turn.member and holder == turn.token:
                return
            # Woken by a turn that ends; else when the first one's lease is due (its process may have died).
            due = min(max(left_ms, 0) / 1000, self.lease_seconds) + 0.01
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(due):
                    await wake.wait()

    async def _call(self, call: Callable[[], Awaitable[T]]) -> T:
        return await _unless_cancelled(self.guard.run(call))

    async def _keep_alive(self, turn: _Turn) -> None:
        outside_deadline()
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            try:
                renewed = await self.guard.run(lambda: self._renew(keys=turn.keys, args=[turn.lease_ms, turn.token]))
                if renewed == TAKEN_OVER:
                    logger.warning("a thread's turn was taken over by another attempt at its question")
                    return
                if not renewed:
                    logger.warning("a thread's turn lapsed (the process stalled); it queues again in its place")
                    await self.guard.run(lambda: self._enter(keys=turn.keys, args=turn.args))
            except RedisError as error:
                logger.warning("redis unavailable: the thread's turn may lapse", extra={"error": repr(error)})

    async def _listen_for_wake_ups(self) -> None:
        if self._listener is None or self._listener.done():
            self._listener = asyncio.create_task(self._listen(), name="redis turn wake-ups")
        if self.guard.paused:
            return  # leases time the waits; the listener reconnects on its own
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.guard.call_timeout_seconds):
                await self._tried.wait()

    async def _listen(self) -> None:
        """Runs for the life of the store; a lost connection is reopened, and meanwhile leases time the waits."""
        outside_deadline()
        while True:
            pubsub = self.client.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                async for message in pubsub.listen():
                    if message["type"] == "subscribe":
                        self._subscribed.set()
                        self._tried.set()
                    elif message["type"] == "message":
                        for wake in self._wakers.get(str(message["data"]), ()):
                            wake.set()
            except (RedisError, OSError) as error:
                if self._subscribed.is_set() or not self._tried.is_set():  # once per outage, not per retry
                    logger.warning("redis wake-ups interrupted; reconnecting", extra={"error": repr(error)})
                self._tried.set()
            finally:
                self._subscribed.clear()
                await pubsub.aclose()  # type: ignore[no-untyped-call]
            for wakes in self._wakers.values():
                for wake in wakes:
                    wake.set()
            await asyncio.sleep(RECONNECT_SECONDS)


async def _unless_cancelled(call: Awaitable[T]) -> T:
    """Python 3.11's `asyncio.wait_for`, which redis-py uses for socket timeouts, swallows a cancellation
    that comes as the reply does; a turn must end when cancelled, or shutdown waits for it forever."""
    result = await call
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
    return result


class _Turn:
    """One attempt at a message's turn: its place (`member`, the message) and this attempt's `token`."""

    def __init__(self, queue: str, token: str, order: int, lease_ms: int) -> None:
        self.queue = queue
        self.token = token
        self.member = str(order)
        self.lease_ms = lease_ms
        self.keys = [queue, f"{queue}:{self.member}"]
        self.args: list[str | int] = [self.member, order, lease_ms, token]
