"""Shared state between deliveries: which events are already taken.

`MemoryStore` serves one process; a Redis store (same protocol) serves several.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Protocol


class Store(Protocol):
    async def claim(self, key: str, ttl_seconds: float) -> bool:
        """True for the first caller of `key` within `ttl_seconds`, False for every later one."""
        ...

    async def close(self) -> None: ...


class MemoryStore:
    """In-process store; claims expire, and at most `max_claims` are held."""

    def __init__(self, max_claims: int = 100_000) -> None:
        self.max_claims = max_claims
        self._claims: OrderedDict[str, float] = OrderedDict()

    async def claim(self, key: str, ttl_seconds: float) -> bool:
        now = time.monotonic()
        self._forget_expired(now)
        if key in self._claims:
            return False
        self._claims[key] = now + ttl_seconds
        while len(self._claims) > self.max_claims:
            self._claims.popitem(last=False)
        return True

    async def close(self) -> None:
        self._claims.clear()

    def _forget_expired(self, now: float) -> None:
        while self._claims:
            key, expires = next(iter(self._claims.items()))
            if expires > now:
                break
            del self._claims[key]
