"""Background work that outlives the HTTP request which brought it: referenced, reported, awaitable."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

logger = logging.getLogger(__name__)


class TaskTracker:
    """Keeps a reference to every task (the event loop keeps only weak ones) and logs any crash."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def start(self, work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    async def wait(self, within_seconds: float | None = None) -> set[asyncio.Task[None]]:
        """Waits for the running tasks; returns those still running after `within_seconds`."""
        if not self._tasks:
            return set()
        _, pending = await asyncio.wait(set(self._tasks), timeout=within_seconds)
        return pending

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("background task crashed", exc_info=task.exception(), extra={"task": task.get_name()})
