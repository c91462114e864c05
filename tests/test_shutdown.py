"""Shutdown: everything fits in Heroku's 30 s, and an answer cut off by a restart ends cleanly."""

from __future__ import annotations

import pytest

from bot import shutdown
from bot.errors import ConfigurationError
from bot.settings import Settings
from bot.slack_reply import LANDING_SECONDS
from bot.thread_status import DECORATION_SECONDS
from tests.test_settings import REQUIRED


def test_the_longest_grace_still_fits_in_herokus_30_seconds() -> None:
    """Stop listening, the longest allowed grace, notices and closing add up to Heroku's kill at most."""
    longest = Settings.from_env({**REQUIRED, "SHUTDOWN_GRACE_SECONDS": str(shutdown.MAX_GRACE_SECONDS)})
    steps = [shutdown.LISTENER_CLOSE_SECONDS, shutdown.NOTICE_SECONDS, shutdown.CLOSE_SECONDS]
    assert longest.shutdown_grace_seconds + sum(steps) <= shutdown.HEROKU_KILL_SECONDS
    # After cancelling: a call in flight lands, the progress reaction is taken back, the notice goes out.
    assert LANDING_SECONDS + DECORATION_SECONDS + shutdown.RESTART_NOTICE_SECONDS <= shutdown.NOTICE_SECONDS


def test_a_grace_period_that_would_not_fit_is_refused_with_the_limit() -> None:
    with pytest.raises(ConfigurationError, match="SHUTDOWN_GRACE_SECONDS must be between 0 and 21"):
        Settings.from_env({**REQUIRED, "SHUTDOWN_GRACE_SECONDS": "28"})
