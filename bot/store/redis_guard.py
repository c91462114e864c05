"""Redis calls that cannot hold an answer up: a short timeout each, one deadline per answer, and a pause after
a failure.

redis-py waits 5 s for each reply. On a stalled Redis (a failover, a paused instance: connections stay open,
nothing answers) the dozen calls on an answer's path would wait a minute in sequence. So:
- each call gets at most `CALL_TIMEOUT_SECONDS`;
- the calls made for one answer share one deadline between them (bot/store/deadline.py);
- after a failure, the process does not try Redis again for `PAUSE_SECONDS`: calls fail at once (a call cut
  short by its answer's deadline, not by its own timeout, is no such failure; nor is one that found every
  connection of the process's pool busy for `POOL_WAIT_SECONDS`: that is this process's load, not Redis
  failing, and a stalled Redis is noticed by the calls holding those connections).
A call that fails raises RedisError, as redis-py's own failures do; its caller falls back (claims to the
process's memory, turns to in-process order, the cache to Slack).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis.asyncio import BlockingConnectionPool
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.store.deadline import current_deadline

logger = logging.getLogger(__name__)
T = TypeVar("T")

CALL_TIMEOUT_SECONDS = 1.0
PAUSE_SECONDS = 5.0
# A call waits this long for one of the pool's connections, within its own CALL_TIMEOUT_SECONDS.
POOL_WAIT_SECONDS = CALL_TIMEOUT_SECONDS / 2


class ConnectionsBusy(RedisConnectionError):
    """Every connection of the pool stayed in use for POOL_WAIT_SECONDS."""


class WaitingPool(BlockingConnectionPool):
    """At most `max_connections` connections (a Redis plan limits them): a call finding them all in use waits
    for one, rather than failing at once as redis-py's default pool does; after POOL_WAIT_SECONDS it fails
    with ConnectionsBusy.

    A call whose connection Redis dropped (a restart, a failover, an idle timeout) is sent again once, at
    once, on a new connection: failing, it would pause Redis for everyone, once per stale connection. Not
    after a timeout: a stalled Redis would only be waited for twice."""

    def __init__(self, **options: Any) -> None:
        retry = Retry(NoBackoff(), retries=1, supported_errors=(RedisConnectionError,))
        super().__init__(timeout=POOL_WAIT_SECONDS, retry=retry, **options)

    async def get_connection(self, *args: Any, **options: Any) -> Any:
        try:
            return await super().get_connection(*args, **options)  # type: ignore[no-untyped-call]
        except RedisConnectionError as error:
            if isinstance(error.__cause__, TimeoutError):
                raise ConnectionsBusy(f"all {self.max_connections} connections busy") from error
            raise


class RedisGuard:
    """Shared by every Redis call of one store; see the module docstring."""

    def __init__(
        self,
        call_timeout_seconds: float = CALL_TIMEOUT_SECONDS,
        pause_seconds: float = PAUSE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.call_timeout_seconds = call_timeout_seconds
        self.pause_seconds = pause_seconds
        self.clock = clock
        self._paused_until = 0.0

    @property
    def paused(self) -> bool:
        return self.clock() < self._paused_until

    async def run(self, call: Callable[[], Awaitable[T]]) -> T:
        if self.paused:
            raise RedisConnectionError("not tried: Redis failed moments ago")
        deadline = current_deadline()
        limit = self.call_timeout_seconds if deadline is None else min(self.call_timeout_seconds, deadline.left)
        if limit <= 0:
            raise RedisTimeoutError("not tried: this answer's time for Redis is spent")
        started = self.clock()
        try:
            async with asyncio.timeout(limit):
                return await call()
        except TimeoutError as error:
            if limit >= self.call_timeout_seconds:
                self._pause()
            # Else the answer's own time ran out: Redis may be slow for it, not failing for every other answer.
            raise RedisTimeoutError(f"no reply within {limit:g} s") from error
        except OSError as error:
            self._pause()
            raise RedisConnectionError(type(error).__name__) from error
        except ConnectionsBusy:
            raise
        except (RedisConnectionError, RedisTimeoutError):
            self._pause()
            raise
        finally:
            if deadline is not None:
                deadline.left -= self.clock() - started

    def _pause(self) -> None:
        if not self.paused:
            logger.warning("redis failed; not tried again for a few seconds", extra={"seconds": self.pause_seconds})
        self._paused_until = self.clock() + self.pause_seconds
