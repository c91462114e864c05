"""The queue of several processes: a Redis Stream with one consumer group, every process a consumer.

    put        SET NX of the question's key and XADD, in one script: recorded once, or not at all
    take       XREADGROUP >: new entries, each delivered to one consumer
    renew      XCLAIM JUSTID of the consumer's own entries (checked with XPENDING): a live long answer
               keeps its entry, since reclaiming needs it idle
    reclaim    XAUTOCLAIM of entries idle for `min_idle_seconds` (their consumer died, or its attempt failed),
               with each one's times-delivered from XPENDING
    done       XACK and XDEL
    hand_back  XACK, XDEL and a new XADD in one script, if the consumer still holds the entry

Redis restarted empty is told by the queue's epoch: a key, set once (SET NX) by whichever process finds it
missing, and read with every `put`. A process whose puts saw one epoch and then finds another (`emptied`,
asked every few seconds) knows that what it queued before is gone, and queues it again; every process learns
this for itself, not only the first to notice. A stream found without its group gets the group again, from the
stream's start. Every call goes through the store's RedisGuard; the blocking read has a guard of its own that
allows for its wait.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import redis.asyncio as redis
from redis.exceptions import RedisError, ResponseError

from bot.errors import StoreUnavailable
from bot.store.base import KEY_PREFIX
from bot.store.queue import Entry
from bot.store.redis_guard import RedisGuard

logger = logging.getLogger(__name__)
T = TypeVar("T")

GROUP = "answerers"
FIELD = "job"

# KEYS: the question's key, the stream, the epoch. ARGV: payload, key's ttl in s, a new epoch should there be
# none. Returns the new entry's id (false if the key was put before) and the epoch.
PUT = """
redis.call('SET', KEYS[3], ARGV[3], 'NX')
local epoch = redis.call('GET', KEYS[3])
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[2]) then
  return {redis.call('XADD', KEYS[2], '*', 'job', ARGV[1]), epoch}
end
return {false, epoch}
"""
# KEYS: the epoch. ARGV: a new epoch should there be none. Returns the epoch.
EPOCH = """
redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('GET', KEYS[1])
"""
# KEYS: stream. ARGV: group, consumer, ids... Returns the ids the consumer no longer holds.
RENEW = """
local lost = {}
for i = 3, #ARGV do
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if #pending == 0 or pending[1][2] ~= ARGV[2] then
    table.insert(lost, ARGV[i])
  else
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
  end
end
return lost
"""
# KEYS: stream. ARGV: group, consumer, id, payload. The new entry's id, or false if not the consumer's.
HAND_BACK = """
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if #pending == 0 or pending[1][2] ~= ARGV[2] then return false end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
redis.call('XDEL', KEYS[1], ARGV[3])
return redis.call('XADD', KEYS[1], '*', 'job', ARGV[4])
"""
# KEYS: stream. ARGV: group, ids... Each entry's times-delivered (0 if no longer pending).
DELIVERIES = """
local counts = {}
for i = 2, #ARGV do
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  counts[i - 1] = pending[1] and pending[1][4] or 0
end
return counts
"""
DONE = """
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return redis.call('XDEL', KEYS[1], ARGV[2])
"""


@dataclass(frozen=True)
class Persistence:
    """Whether Redis keeps its data through a restart: the append-only file, or snapshots (`save` rules)."""

    aof: bool
    # The `save` rules ("3600 1 300 100"); "" for none; None when Redis does not say (CONFIG refused).
    snapshots: str | None

    @property
    def kept(self) -> bool:
        return self.aof or bool(self.snapshots)

    def describe(self) -> str:
        if self.aof:
            return "persistence on (append-only file)"
        if self.snapshots:
            return f"persistence by snapshots only (save {self.snapshots}): a crash loses the last minutes"
        if self.snapshots is None:
            return "persistence: append-only file off, snapshots unknown (CONFIG GET refused)"
        return "persistence off"


class RedisQueue:
    def __init__(
        self,
        client: redis.Redis,
        guard: RedisGuard | None = None,
        *,
        prefix: str = KEY_PREFIX,
        longest_block: float = 2.0,
    ) -> None:
        self.client = client
        self.guard = guard or RedisGuard()
        # The blocking read waits on purpose; its own guard allows for that wait.
        self.read_guard = RedisGuard(call_timeout_seconds=longest_block + self.guard.call_timeout_seconds)
        self.stream = prefix + "questions"
        self.key_prefix = prefix + "queued:"
        self.epoch_key = prefix + "queue-epoch"
        self._put = client.register_script(PUT)
        self._epoch_script = client.register_script(EPOCH)
        self._renew = client.register_script(RENEW)
        self._hand_back = client.register_script(HAND_BACK)
        self._done = client.register_script(DONE)
        self._deliveries = client.register_script(DELIVERIES)
        self._group_made = False
        # The epoch this process's puts were recorded under (None before the first); and whether a put found a
        # new one before `emptied` was asked.
        self._epoch: str | None = None
        self._epoch_changed = False

    async def put(self, key: str, payload: str, ttl_seconds: float) -> bool:
        keys = [self.key_prefix + key, self.stream, self.epoch_key]
        args: list[str | int] = [payload, max(1, int(ttl_seconds)), _new_epoch()]
        entry_id, epoch = await self._run(lambda: self._put(keys=keys, args=args))
        self._saw_epoch(str(epoch))
        return entry_id is not None

    async def emptied(self) -> bool:
        epoch = await self._run(lambda: self._epoch_script(keys=[self.epoch_key], args=[_new_epoch()]))
        self._saw_epoch(str(epoch))
        changed, self._epoch_changed = self._epoch_changed, False
        return changed

    @property
    def epoch(self) -> str | None:
        return self._epoch

    def _saw_epoch(self, epoch: str) -> None:
        if self._epoch is not None and epoch != self._epoch:
            self._epoch_changed = True
        self._epoch = epoch

    async def put_again(self, payload: str) -> None:
        await self._run(lambda: self.client.xadd(self.stream, {FIELD: payload}))

    async def take(self, consumer: str, count: int, block_seconds: float) -> list[Entry]:
        if not self._group_made:
            await self._make_group()
        try:
            reply: Any = await self._run(
                lambda: self.client.xreadgroup(
                    GROUP, consumer, {self.stream: ">"}, count=count, block=max(1, round(block_seconds * 1000))
                ),
                guard=self.read_guard,
            )
        except StoreUnavailable as error:
            if not _no_group(error):
                raise
            logger.warning("the question queue's group was gone (Redis lost its data); made again")
            await self._make_group()
            return []
        return [_entry(item) for _, items in reply or [] for item in items]

    async def reclaim(self, consumer: str, min_idle_seconds: float, count: int) -> list[Entry]:
        try:
            reply: Any = await self._run(
                lambda: self.client.xautoclaim(
                    self.stream, GROUP, consumer, round(min_idle_seconds * 1000), "0-0", count=count
                )
            )
        except StoreUnavailable as error:
            if _no_group(error):
                return []  # `take` makes the group again
            raise
        entries = [_entry(item, redelivered=True) for item in reply[1] if item and item[1]]
        if not entries:
            return []
        ids = [entry.id for entry in entries]
        counts: Any = await self._run(lambda: self._deliveries(keys=[self.stream], args=[GROUP, *ids]))
        return [
            dataclasses.replace(entry, deliveries=max(2, int(count)))
            for entry, count in zip(entries, counts, strict=True)
        ]

    async def renew(self, consumer: str, ids: Sequence[str]) -> list[str]:
        if not ids:
            return []
        try:
            lost = await self._run(lambda: self._renew(keys=[self.stream], args=[GROUP, consumer, *ids]))
        except StoreUnavailable as error:
            if _no_group(error):
                return []  # the queue was emptied: nothing to renew, and no one else holds them
            raise
        return [str(entry_id) for entry_id in lost or []]

    async def done(self, entry_id: str) -> None:
        try:
            await self._run(lambda: self._done(keys=[self.stream], args=[GROUP, entry_id]))
        except StoreUnavailable as error:
            if not _no_group(error):
                raise

    async def hand_back(self, consumer: str, entry_id: str, payload: str) -> bool:
        try:
            result = await self._run(
                lambda: self._hand_back(keys=[self.stream], args=[GROUP, consumer, entry_id, payload])
            )
        except StoreUnavailable as error:
            if _no_group(error):
                return False
            raise
        return result is not None

    async def close(self) -> None:
        """The client is the store's; it closes it."""

    async def persistence(self) -> Persistence:
        """For `check`: CONFIG GET where Redis allows it, else INFO persistence (which has no `save` rules)."""
        try:
            config = await self._run(lambda: self.client.config_get("appendonly"))
            saves = await self._run(lambda: self.client.config_get("save"))
            return Persistence(aof=config.get("appendonly") == "yes", snapshots=str(saves.get("save") or ""))
        except StoreUnavailable as error:
            if not isinstance(error.__cause__, ResponseError):
                raise
        info = await self._run(lambda: self.client.info("persistence"))
        return Persistence(aof=bool(int(info.get("aof_enabled", 0))), snapshots=None)

    async def readers(self, within_seconds: float) -> int:
        """For `check`: the consumers that took an entry (Redis 7.2 and later: or tried to) within
        `within_seconds`."""
        try:
            consumers: Any = await self._run(lambda: self.client.xinfo_consumers(self.stream, GROUP))
        except StoreUnavailable as error:
            if isinstance(error.__cause__, ResponseError):
                return 0  # no queue yet, or no group: no one has read it
            raise
        return sum(1 for consumer in consumers if int(consumer.get("idle", 0)) <= within_seconds * 1000)

    async def unread(self) -> tuple[int, float]:
        """For `check`: the entries no consumer has taken yet, and how long ago the oldest was put (0 if none)."""
        try:
            groups: Any = await self._run(lambda: self.client.xinfo_groups(self.stream))
        except StoreUnavailable as error:
            if isinstance(error.__cause__, ResponseError):
                return 0, 0.0  # no queue yet
            raise
        group = next((group for group in groups if group.get("name") == GROUP), None)
        after = str(group.get("last-delivered-id", "0-0")) if group else "0-0"
        first: Any = await self._run(lambda: self.client.xrange(self.stream, f"({after}", "+", count=1))
        if not first:
            return 0, 0.0
        lag = group.get("lag") if group else None
        count = int(lag) if lag is not None else int(await self._run(lambda: self.client.xlen(self.stream)))
        now: Any = await self._run(lambda: self.client.time())
        put_ms = int(str(first[0][0]).split("-")[0])
        return count, max(0.0, (int(now[0]) * 1000 + int(now[1]) // 1000 - put_ms) / 1000)

    async def _make_group(self) -> None:
        try:
            await self._run(lambda: self.client.xgroup_create(self.stream, GROUP, id="0", mkstream=True))
        except StoreUnavailable as error:
            if "BUSYGROUP" not in str(error.__cause__):
                raise
        self._group_made = True

    async def _run(self, call: Callable[[], Awaitable[T]], guard: RedisGuard | None = None) -> T:
        """The call within the guard's limits; Redis's failures become the bot's StoreUnavailable."""
        try:
            return await (guard or self.guard).run(call)
        except RedisError as error:
            raise StoreUnavailable(type(error).__name__) from error


def _new_epoch() -> str:
    return uuid.uuid4().hex


def _no_group(error: StoreUnavailable) -> bool:
    cause = error.__cause__
    return isinstance(cause, ResponseError) and str(cause).startswith("NOGROUP")


def _entry(item: Any, *, redelivered: bool = False) -> Entry:
    entry_id, fields = item
    return Entry(str(entry_id), str(fields[FIELD]), redelivered=redelivered)
