"""The deployer's first hour: a wrong signing secret says so in the log, and GET / says what to do next."""

from __future__ import annotations

import json
import logging

import aiohttp
import pytest

from bot.app.runtime import EVENTS_PATH
from tests.conftest import RunningBot
from tests.fakes.events import EventSender

URL_CHECK = json.dumps({"token": "legacy", "challenge": "challenge-3f9a", "type": "url_verification"})


def secret_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno == logging.WARNING and "SLACK_SIGNING_SECRET" in record.getMessage()
    ]


async def test_a_url_check_signed_with_another_secret_logs_one_warning_naming_the_setting(
    bot: RunningBot, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    """Slack's URL check with the app's real secret while SLACK_SIGNING_SECRET holds another: 401, and one
    warning saying which setting and where Slack shows the right value; a second failure within the minute
    adds no line."""
    wrong = EventSender(bot.url + EVENTS_PATH, http, secret="the-secret-slack-really-uses-0123")
    with caplog.at_level(logging.INFO):
        first = await wrong.post(URL_CHECK)
        second = await wrong.post(URL_CHECK)
    assert (first.status, second.status) == (401, 401)
    [warning] = secret_warnings(caplog)
    assert "Basic Information → App Credentials → Signing Secret" in warning
    assert "the-secret-slack-really-uses-0123" not in caplog.text


async def test_a_right_signature_or_an_unsigned_request_logs_no_warning(
    bot: RunningBot, events: EventSender, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    """The URL check passes with the right secret; a request without any signature is not from Slack."""
    with caplog.at_level(logging.INFO):
        passed = await events.post(URL_CHECK)
        async with http.post(bot.url + EVENTS_PATH, data=URL_CHECK) as unsigned:
            assert unsigned.status == 401
    assert passed.status == 200
    assert json.loads(events.last_body) == {"challenge": "challenge-3f9a"}
    assert secret_warnings(caplog) == []
