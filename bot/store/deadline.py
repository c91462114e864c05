"""One short deadline shared by the store calls made for one answer: a stalled Redis costs it one wait.

The answerer opens `shared_deadline` around a turn; the Redis store's calls inside it (and in the tasks it
starts) take their time from it, and fail at once when it is spent. The memory store never waits on anything.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

ANSWER_DEADLINE_SECONDS = 2.0


class Deadline:
    """Seconds left for store calls; spent by the time each call takes."""

    def __init__(self, seconds: float) -> None:
        self.left = seconds


_deadline: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar("store_deadline", default=None)


@contextlib.contextmanager
def shared_deadline(seconds: float = ANSWER_DEADLINE_SECONDS) -> Iterator[None]:
    """Store calls in this block (and in tasks it starts) spend at most `seconds` between them."""
    token = _deadline.set(Deadline(seconds))
    try:
        yield
    finally:
        _deadline.reset(token)


def current_deadline() -> Deadline | None:
    return _deadline.get()


def outside_deadline() -> None:
    """For a background task started inside an answer (a lease renewal, a listener): its calls are not the
    answer's and must not spend its deadline. Call first thing in the task; it changes only its own context."""
    _deadline.set(None)
