"""Budgets across processes: check and reserve in one Lua script, reservations that lapse on their own.

A budget's counter is a field of a usage hash (`add_counts` keeps those). What answers in flight have
reserved against it is a sorted set beside it, one member per reservation ("tokens:id"), scored by the
end of its lease in Redis's own milliseconds (`TIME`, so the clocks of the processes do not matter). Each
script first drops the members whose lease has ended, so a process that died mid-answer stops counting
once its lease is over; the set itself expires with its last lease. Redis runs a script whole, with
nothing in between: of a burst at once, each question sees the reservations of those before it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import redis.asyncio as redis
from redis.exceptions import RedisError

from bot.store.base import Budget, Reservation
from bot.store.redis_guard import RedisGuard

logger = logging.getLogger(__name__)

_NOW_AND_HOLD = """
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local function hold(key, lease, member)
  redis.call('ZADD', key, now + lease, member)
  if redis.call('PTTL', key) < lease then redis.call('PEXPIRE', key, lease) end
end
"""
# KEYS: per budget, its counters (a hash), then its reservations (a sorted set).
# ARGV: the lease in ms, the reservation ("tokens:id", or "" to check only), then per budget its field and limit.
# The 1-based number of the first spent budget; 0 when none is (and then the reservation is held).
RESERVE = (
    _NOW_AND_HOLD
    + """
local lease, member = tonumber(ARGV[1]), ARGV[2]
for i = 1, #KEYS / 2 do
  local reserved = KEYS[2 * i]
  redis.call('ZREMRANGEBYSCORE', reserved, '-inf', now)
  local used = tonumber(redis.call('HGET', KEYS[2 * i - 1], ARGV[2 * i + 1]) or 0)
  for _, held in ipairs(redis.call('ZRANGE', reserved, 0, -1)) do
    used = used + tonumber(string.match(held, '^%d+'))
  end
  if used >= tonumber(ARGV[2 * i + 2]) then return i end
end
if member ~= '' then
  for i = 1, #KEYS / 2 do hold(KEYS[2 * i], lease, member) end
end
return 0
"""
)
# KEYS: each budget's reservations. ARGV: the lease in ms, the reservation.
RENEW = (
    _NOW_AND_HOLD
    + """
for _, key in ipairs(KEYS) do hold(key, tonumber(ARGV[1]), ARGV[2]) end
"""
)


class RedisBudgets:
    """The budget side of `RedisStore`; every failure is logged and the question answered as if no budget
    were spent (a budget is a cost control, not a safety gate)."""

    def __init__(self, client: redis.Redis, prefix: str, guard: RedisGuard | None = None) -> None:
        self.client = client
        self.guard = guard or RedisGuard()
        self.prefix = prefix
        # redis-py runs these by EVALSHA and loads them again if Redis answers NOSCRIPT (after a restart).
        self._reserve = client.register_script(RESERVE)
        self._renew = client.register_script(RENEW)

    async def spent(self, budgets: Sequence[Budget]) -> int | None:
        return await self._check(budgets, "", 0)

    async def reserve(self, reservation: Reservation, lease_seconds: float) -> int | None:
        return await self._check(reservation.budgets, _member(reservation), lease_seconds)

    async def _check(self, budgets: Sequence[Budget], member: str, lease_seconds: float) -> int | None:
        keys: list[str] = []
        args: list[str | int] = [_ms(lease_seconds), member]
        for budget in budgets:
            keys += [self.prefix + budget.key, self._reserved(budget)]
            args += [budget.field, budget.limit]
        try:
            spent = int(await self.guard.run(lambda: self._reserve(keys=keys, args=args)))
        except RedisError as error:
            logger.warning("redis unavailable: answering without the budget", extra={"error": repr(error)})
            return None
        return spent - 1 if spent else None

    async def renew(self, reservation: Reservation, lease_seconds: float) -> None:
        keys = [self._reserved(budget) for budget in reservation.budgets]
        try:
            await self.guard.run(lambda: self._renew(keys=keys, args=[_ms(lease_seconds), _member(reservation)]))
        except RedisError as error:
            logger.warning("redis unavailable: a reservation may lapse", extra={"error": repr(error)})

    async def release(self, reservation: Reservation) -> None:
        async def send() -> None:
            async with self.client.pipeline(transaction=True) as pipe:
                for budget in reservation.budgets:
                    pipe.zrem(self._reserved(budget), _member(reservation))
                await pipe.execute()

        try:
            await self.guard.run(send)
        except RedisError as error:
            logger.warning("redis unavailable: a reservation ends when its lease does", extra={"error": repr(error)})

    def _reserved(self, budget: Budget) -> str:
        return f"{self.prefix}{budget.key}:reserved:{budget.field}"


def _member(reservation: Reservation) -> str:
    return f"{reservation.tokens}:{reservation.id}"


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))
