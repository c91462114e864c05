"""Turn order across processes: one queue per thread in Redis, ordered by message timestamp.

Each turn enters its thread's queue (a sorted set scored by the message's ts) the moment it arrives, with a
lease: a key that expires unless the turn renews it. The turn whose entry comes first and whose lease is
alive holds the thread; once it does, its score drops to 0, so that an earlier message arriving late (a
Slack retry, another process) waits for it instead of running beside it. A turn that ends leaves the queue
and publishes the thread's key, which wakes the waiting turns of every process at once (no polling).

A turn renews its lease every eighth of it. Another attempt at the same message (a question reclaimed from a
process that died, or handed back at shutdown) takes the place of one whose lease has missed two renewals,
held or not, at once; an attempt beside a live one (a question queued again after Redis was emptied) waits
behind it. A turn whose question will be attempted again (`hand_on_when`: handed back unfinished at
shutdown, or its attempt failed and the question is retried) does not leave: it makes its lease stale at
once, for that next attempt, and lapses if none comes. A turn that enters again (its lease lapsed while its
process stalled, or Redis restarted empty) keeps its place: a held turn still holds, and a waiting turn that
finds its queue gone lets the holder enter again before it looks for the head.

A process that dies stops renewing: its leases expire within `lease_seconds`, and the waiters, who also wake
when the head's lease is due, skip it. The lease outlasts the queue's reclaim of a dead process's questions
(bot/work/consumer.py), so a thread's later question never goes ahead of an earlier one about to be
reclaimed. If Redis fails before a turn holds its thread, the turn is kept in this process's own order
instead (`ThreadLocks`), which every turn also holds once it comes first, so that a turn falling back waits
for one holding through Redis.

States of one turn: entering → waiting (not first) → holding (first) → left (or, cancelled, stale). It renews
its lease in every state between entering and leaving, so a turn holds its thread for as long as it lives,
however long it waits for a model slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
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
# every 2 s), so its question is reclaimed, and takes the dead turn's place, before the lease lapses. Only turns
# that are not queued questions (a cache refresh after an edit, a catch-up) of a dead process hold their thread
# until their lease lapses.
DEFAULT_LEASE_SECONDS = 24.0
RECONNECT_SECONDS = 1.0
# A live turn renews its lease this many times per lease; one that missed two renewals (its process died or
# stalled) is stale, and another attempt at its message may take its place.
RENEWALS = 8
# Shutdown cancels the wake-up listener up to this many times, waiting this long after each (see close).
CLOSE_ATTEMPTS = 5
CLOSE_ATTEMPT_SECONDS = 0.5

# KEYS: queue, lease. ARGV: member, score, lease in ms, stale ms, the member's message prefix. Takes the place
# of an earlier attempt at the same message whose lease has gone unrenewed (its process died), held or not.
ENTER = """
local score = ARGV[2]
for _, at in ipairs({'0', ARGV[2]}) do
  for _, other in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], at, at)) do
    if other ~= ARGV[1] and string.sub(other, 1, #ARGV[5]) == ARGV[5] then
      if redis.call('PTTL', KEYS[1] .. ':' .. other) < tonumber(ARGV[4]) then
        redis.call('ZREM', KEYS[1], other)
        redis.call('DEL', KEYS[1] .. ':' .. other)
        if at == '0' then score = '0' end
      end
    end
  end
end
redis.call('ZADD', KEYS[1], score, ARGV[1])
redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
"""
# KEYS: queue, lease. ARGV: lease in ms. 0 if the lease had lapsed (the process stalled past it).
RENEW = """
local alive = redis.call('PEXPIRE', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return alive
"""
# KEYS: queue. ARGV: lease key prefix, member. The first entry with a live lease, and its lease's ms left; if
# that is this turn, it now holds the thread: its score drops to 0, before every message's.
HEAD = """
while true do
  local first = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
  if not first then return {} end
  local left = redis.call('PTTL', ARGV[1] .. first)
  if left ~= -2 then
    if first == ARGV[2] then redis.call('ZADD', KEYS[1], 'XX', 0, first) end
    return {first, left}
  end
  redis.call('ZREM', KEYS[1], first)
end
"""
# KEYS: queue, lease. ARGV: the stale lease's ms. A turn whose question will be attempted again keeps its
# place as a stale one, which the next attempt at its message takes at once; it lapses if none comes.
HAND_ON = """
if redis.call('PTTL', KEYS[2]) > tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[2], ARGV[1]) end
"""
# KEYS: queue, lease. ARGV: member, channel, thread key.
LEAVE = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
redis.call('PUBLISH', ARGV[2], ARGV[3])
"""


_HANDING_ON: contextvars.ContextVar[Callable[[], bool]] = contextvars.ContextVar(
    "turns_handed_on", default=lambda: False
)


def hand_on_when(handing_on: Callable[[], bool]) -> None:
    """For the task answering a queued question: when its turn ends (cancelled or not) and `handing_on()` says
    the question will be attempted again (handed back unfinished, or its attempt failed), its turns keep their
    place (stale) for that next attempt instead of leaving. Any other turn leaves at once."""
    _HANDING_ON.set(handing_on)


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
        self._hand_on = client.register_script(HAND_ON)
        self._wakers: dict[str, set[asyncio.Event]] = {}
        self._subscribed = asyncio.Event()
        self._tried = asyncio.Event()  # the first subscription has succeeded or failed
        self._listener: asyncio.Task[None] | None = None
        self._closed = False

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
            turn.handed_on = _HANDING_ON.get()()
            await in_process.aclose()
            self._wakers[key].discard(wake)
            if not self._wakers[key]:
                del self._wakers[key]
            # The end runs to completion even when the turn is cancelled again meanwhile (a shutdown cancels a
            # task that is just ending): otherwise its place stays in the queue until its lease lapses.
            ending = asyncio.ensure_future(self._end(turn, key, renewing, entering))
            cancelled = False
            while not ending.done():
                try:
                    await asyncio.shield(ending)
                except asyncio.CancelledError:
                    cancelled = True
            if cancelled:
                raise asyncio.CancelledError

    async def _end(self, turn: _Turn, key: str, renewing: asyncio.Task[None] | None, entered: bool) -> None:
        """Stops the renewals, then leaves the queue (or, handed on, makes the lease stale); bounded by the guard."""
        if renewing is not None:
            renewing.cancel()
            await asyncio.wait([renewing])  # no renewal may land after the turn has left
        if not entered:
            return
        try:
            if turn.handed_on:
                await self.guard.run(lambda: self._hand_on(keys=turn.keys, args=[turn.stale_ms - 1]))
            else:
                leave = [turn.member, self.channel, key]
                await self.guard.run(lambda: self._leave(keys=turn.keys, args=leave))
        except RedisError as error:
            logger.warning("redis unavailable: the turn ends when its lease does", extra={"error": repr(error)})

    async def close(self) -> None:
        """Stops the wake-up listener. redis-py can swallow a cancellation (Python 3.11's `asyncio.wait_for`,
        when a reply comes as the cancellation does) and go back to waiting for the next message, which may
        never come: shutdown would wait for ever. So the listener is cancelled until it ends, within reason."""
        self._closed = True
        listener = self._listener
        if listener is None:
            return
        for _ in range(CLOSE_ATTEMPTS):
            listener.cancel()
            await asyncio.wait([listener], timeout=CLOSE_ATTEMPT_SECONDS)
            if listener.done():
                return
        logger.warning("redis wake-ups did not stop; left behind at shutdown")

    async def _wait_until_first(self, turn: _Turn, wake: asyncio.Event) -> None:
        while True:
            wake.clear()
            head: list[Any] = await self._call(
                lambda: self._head(keys=[turn.queue], args=[turn.queue + ":", turn.member])
            )
            if not head:
                # Its own place is gone too: its lease lapsed, or Redis lost the queue. It enters again, but lets
                # a turn that holds the thread enter again first (within its next renewal, once the guard's pause
                # after a failure is over), so that it does not run beside it.
                await self._call(lambda: self._enter(keys=turn.keys, args=turn.args))
                await asyncio.sleep(self.guard.pause_seconds + 2 * self.lease_seconds / RENEWALS)
                continue
            first, left_ms = str(head[0]), int(head[1])
            if first == turn.member:
                turn.hold()
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
            await asyncio.sleep(self.lease_seconds / RENEWALS)
            try:
                # Through `_call`: a cancellation that redis-py swallows with the reply must still end the renewals,
                # or the turn's leave waits for them for ever.
                if not await self._call(lambda: self._renew(keys=turn.keys, args=[turn.lease_ms])):
                    logger.warning("a thread's turn lapsed (the process stalled); it queues again in its place")
                    await self._call(lambda: self._enter(keys=turn.keys, args=turn.args))
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
        while not self._closed:
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
    """One attempt at a message's turn: `member` is the message's order and this attempt's token."""

    def __init__(self, queue: str, token: str, order: int, lease_ms: int) -> None:
        self.queue = queue
        self.member = f"{order}:{token}"
        self.lease_ms = lease_ms
        self.keys = [queue, f"{queue}:{self.member}"]
        self.stale_ms = lease_ms - 2 * lease_ms // RENEWALS
        self.args: list[str | int] = [self.member, order, lease_ms, self.stale_ms, f"{order}:"]
        self.handed_on = False

    def hold(self) -> None:
        """It holds its thread: entering again (after its lease lapsed, or Redis lost it) keeps it first."""
        self.args[1] = 0
