"""The deployer's first hour: a wrong signing secret says so in the log, and GET / says what to do next."""

from __future__ import annotations

import json
import logging

import aiohttp
import pytest

from bot.app.runtime import EVENTS_PATH
from tests.conftest import BotFactory, RunningBot
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


async def welcome(http: aiohttp.ClientSession, bot: RunningBot, headers: dict[str, str]) -> str:
    async with http.get(bot.url + "/", headers=headers) as response:
        assert response.status == 200
        assert response.content_type == "text/html"
        return await response.text()


async def test_the_welcome_page_gives_the_request_url_heroku_serves_the_app_at(
    bot: RunningBot, http: aiohttp.ClientSession
) -> None:
    """Behind Heroku's router (Host and X-Forwarded-Proto set): the exact URL to paste, the mode, what is set."""
    page = await welcome(http, bot, {"Host": "my-assistant.herokuapp.com", "X-Forwarded-Proto": "https"})
    assert '<code class="url">https://my-assistant.herokuapp.com/slack/events</code>' in page
    assert "Mode: HTTP" in page
    assert "<tr><td><code>SLACK_SIGNING_SECRET</code></td><td>set</td></tr>" in page
    assert "<tr><td><code>REDIS_URL</code></td><td>not set: one process, its state kept in memory</td></tr>" in page
    assert "manifest.yml" in page
    assert "Verified" in page


async def test_the_welcome_page_shows_no_secret(bot_factory: BotFactory, http: aiohttp.ClientSession) -> None:
    """Distinctive values for every secret the bot holds, and not one of them, nor a token's prefix, on the page."""
    bot = await bot_factory(
        SLACK_SIGNING_SECRET="signing-Quokka-4a1f9e", REDIS_URL="redis://:Wombat-pass-77c2@127.0.0.1:9/0"
    )
    page = await welcome(http, bot, {})
    secrets = bot.runtime.settings.secrets
    assert {"signing-Quokka-4a1f9e", "Wombat-pass-77c2"} <= set(secrets)
    for secret in [*secrets, "Quokka", "Wombat", "xoxb-", "inf-", "redis://"]:
        assert secret not in page
    assert "<tr><td><code>REDIS_URL</code></td><td>set</td></tr>" in page
    assert f'<code class="url">{bot.url}/slack/events</code>' in page


async def test_a_hostile_host_header_is_not_echoed(bot: RunningBot, http: aiohttp.ClientSession) -> None:
    page = await welcome(http, bot, {"Host": '"><script>alert(1)</script>', "X-Forwarded-Proto": "javascript"})
    assert "<script>" not in page
    assert "https://YOUR-HEROKU-APP.herokuapp.com/slack/events</code>" in page
