"""Refused signatures: one warning a minute, and a stale timestamp told apart from a wrong secret."""

from __future__ import annotations

import logging

import pytest

from bot.app.signature import SignatureWarnings

NOW = 1_700_000_000.0


def warnings_after(caplog: pytest.LogCaptureFixture, moments: list[float], timestamp: float = NOW) -> list[str]:
    clock = iter(moments)
    signatures = SignatureWarnings(clock=lambda: next(clock), wall_clock=lambda: NOW)
    headers = {"X-Slack-Signature": "v0=00", "X-Slack-Request-Timestamp": str(int(timestamp))}
    with caplog.at_level(logging.WARNING, logger="bot.app.signature"):
        for _ in moments:
            signatures.refused(headers)
    return [record.getMessage() for record in caplog.records]


def test_at_most_one_warning_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    said = warnings_after(caplog, [0.0, 1.0, 59.9, 60.0, 61.0, 200.0])
    assert len(said) == 3
    assert all("SLACK_SIGNING_SECRET" in line for line in said)


def test_a_stale_timestamp_blames_the_clock_not_the_secret(caplog: pytest.LogCaptureFixture) -> None:
    [said] = warnings_after(caplog, [0.0], timestamp=NOW - 6 * 60)
    assert "more than 5 minutes off this machine's clock" in said
    assert "SLACK_SIGNING_SECRET" not in said
