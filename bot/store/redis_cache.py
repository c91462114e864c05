"""The thread cache in Redis, within a budget the bot keeps itself.

Claims share Redis's memory with the cache. If the cache could grow until Redis is full, Redis would
evict (under an `allkeys-*` or `volatile-*` policy) or refuse writes (`noeviction`), and a lost claim
lets a Slack retry be answered twice. So the cache never relies on Redis's limit: across all processes
it holds at most `max_bytes` of threads (and `max_entries` threads), least recently written first out,
and never more than a quarter of Redis's `maxmemory`. Every read of a thread is followed by a write of
its merged copy, so least recently written is least recently used.
"""

from __future__ import annotations

import logging
import time

import redis.asyncio as redis
from redis.exceptions import RedisError

from bot.store.redis_guard import RedisGuard

logger = logging.getLogger(__name__)

# The share of Redis's maxmemory the cache may take; the rest is for claims, turns and counters.
MAXMEMORY_SHARE = 4

# KEYS: the entry, the index (zset key → last write ms), the sizes (hash key → bytes), the byte total.
# ARGV: key, thread, now ms, ttl s, max bytes, max entries, entry key prefix.
PUT = """
local function drop(key)
  local size = redis.call('HGET', KEYS[3], key)
  if size then redis.call('DECRBY', KEYS[4], size) end
  redis.call('HDEL', KEYS[3], key)
  redis.call('ZREM', KEYS[2], key)
  redis.call('DEL', ARGV[7] .. key)
end
drop(ARGV[1])
for _, key in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', tonumber(ARGV[3]) - tonumber(ARGV[4]) * 1000)) do
  drop(key)
end
local size = string.len(ARGV[2])
if size > tonumber(ARGV[5]) or tonumber(ARGV[6]) < 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[4])
redis.call('HSET', KEYS[3], ARGV[1], size)
local newest = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')[2]
redis.call('ZADD', KEYS[2], math.max(tonumber(ARGV[3]), tonumber(newest or '0') + 1), ARGV[1])
redis.call('INCRBY', KEYS[4], size)
while tonumber(redis.call('GET', KEYS[4]) or '0') > tonumber(ARGV[5])
    or redis.call('ZCARD', KEYS[2]) > tonumber(ARGV[6]) do
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
  if not oldest then
    redis.call('SET', KEYS[4], 0)
    break
  end
  drop(oldest)
end
return 1
"""
FORGET = """
local size = redis.call('HGET', KEYS[3], ARGV[1])
if size then redis.call('DECRBY', KEYS[4], size) end
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[1])
"""


class RedisThreadCache:
    def __init__(
        self,
        client: redis.Redis,
        prefix: str,
        *,
        max_entries: int,
        max_bytes: int,
        ttl_seconds: int,
        guard: RedisGuard | None = None,
    ) -> None:
        self.client = client
        self.guard = guard or RedisGuard()
        self.entry_prefix = prefix + "thread:"
        self.bookkeeping = [prefix + "threads:used", prefix + "threads:sizes", prefix + "threads:bytes"]
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.ttl_seconds = ttl_seconds
        self._budget: int | None = None
        self._put = client.register_script(PUT)
        self._forget = client.register_script(FORGET)

    async def budget(self) -> int:
        """`max_bytes`, or a quarter of Redis's maxmemory if that is less (read once)."""
        if self._budget is None:
            memory = await self.client.info("memory")
            limit = int(memory.get("maxmemory", 0))
            self._budget = min(self.max_bytes, limit // MAXMEMORY_SHARE) if limit else self.max_bytes
        return self._budget

    async def used_bytes(self) -> int:
        return int(await self.client.get(self.bookkeeping[2]) or 0)

    async def get(self, key: str) -> str | None:
        try:
            value = await self.guard.run(lambda: self.client.get(self.entry_prefix + key))
        except RedisError as error:
            logger.warning("redis unavailable: reading the thread from Slack", extra={"error": repr(error)})
            return None
        return str(value) if value is not None else None

    async def put(self, key: str, thread: str) -> None:

        async def write() -> None:
            budget = await self.budget()
            now_ms = round(time.time() * 1000)  # dynos' clocks agree closely enough for least-recent order
            await self._put(
                keys=[self.entry_prefix + key, *self.bookkeeping],
                args=[key, thread, now_ms, self.ttl_seconds, budget, self.max_entries, self.entry_prefix],
            )

        try:
            await self.guard.run(write)
        except RedisError as error:
            logger.warning("redis unavailable: thread not cached", extra={"error": repr(error)})

    async def forget(self, key: str) -> None:
        try:
            await self.guard.run(lambda: self._forget(keys=[self.entry_prefix + key, *self.bookkeeping], args=[key]))
        except RedisError as error:
            logger.warning("redis unavailable: cached thread not forgotten", extra={"error": repr(error)})
