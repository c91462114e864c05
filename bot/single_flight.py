"""Concurrent callers that want the same thing share one call, so a burst of questions costs one lookup."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

Result = TypeVar("Result")


class SingleFlight(Generic[Result]):
    def __init__(self) -> None:
        self._calls: dict[Hashable, asyncio.Future[Result]] = {}

    async def run(self, key: Hashable, call: Callable[[], Awaitable[Result]]) -> Result:
        """Joins the call in flight for `key`, or starts one; its result or error goes to every caller."""
        flight = self._calls.get(key)
        if flight is None:
            flight = asyncio.ensure_future(call())
            self._calls[key] = flight
            flight.add_done_callback(lambda done: self._landed(key, done))
        # A caller that is cancelled leaves the call running for the others.
        return await asyncio.shield(flight)

    def _landed(self, key: Hashable, flight: asyncio.Future[Result]) -> None:
        self._calls.pop(key, None)
        if not flight.cancelled():
            flight.exception()  # every caller has seen it; mark it retrieved for the last one gone
