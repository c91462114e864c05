"""A delivery refused for its signature, said once a minute in the log: Bolt answers it 401 and logs it only
at INFO (with the body), below the WARNING that bot.logs keeps Bolt at, so a wrong SLACK_SIGNING_SECRET was
silent: Slack's URL check failed and nothing said why."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from bot.settings import SIGNING_SECRET_WHERE

logger = logging.getLogger(__name__)

# Slack's signature check refuses a request whose timestamp is further than this from the clock.
MAX_AGE_SECONDS = 5 * 60
WRONG_SECRET = (
    "a request to /slack/events was refused: its signature does not match SLACK_SIGNING_SECRET. If it came from "
    f"Slack, copy the secret again from your Slack app's {SIGNING_SECRET_WHERE} into SLACK_SIGNING_SECRET "
    "(Slack's URL check fails until it matches)"
)


class SignatureWarnings:
    """Warns about refused signatures at most once every `every_seconds` (a scanner may post many)."""

    def __init__(
        self,
        every_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.every_seconds = every_seconds
        self.clock = clock
        self.wall_clock = wall_clock
        self.last_warned: float | None = None

    def refused(self, headers: Mapping[str, str]) -> None:
        """A request Bolt refused (401). One without a signature is not from Slack, and says nothing."""
        if not headers.get("X-Slack-Signature"):
            return
        moment = self.clock()
        if self.last_warned is not None and moment - self.last_warned < self.every_seconds:
            return
        self.last_warned = moment
        age = _age_seconds(headers.get("X-Slack-Request-Timestamp", ""), self.wall_clock())
        if age is not None and abs(age) > MAX_AGE_SECONDS:
            logger.warning(
                "a request to /slack/events was refused: its timestamp is more than 5 minutes off this machine's "
                "clock (a replayed request, or a clock that is wrong); set the clock right if Slack's requests "
                "keep failing",
                extra={"request_age_s": round(age)},
            )
            return
        logger.warning(WRONG_SECRET, extra={"status": 401})


def _age_seconds(timestamp: str, now: float) -> float | None:
    try:
        return now - int(timestamp)
    except ValueError:
        return None
