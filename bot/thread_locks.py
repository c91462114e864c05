"""In-process turn order: questions of one thread are answered one at a time, in arrival order."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class ThreadLocks:
    """One FIFO lock per thread, dropped when nobody holds or waits for it (memory stays bounded)."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._holders: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._locks)

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        """Take it before any other await, so that turns queue in the order their tasks started."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._holders[key] = self._holders.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._holders[key] -= 1
            if not self._holders[key]:
                del self._holders[key], self._locks[key]
