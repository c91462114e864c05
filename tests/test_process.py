"""`python -m bot` as a deployer runs it: settings checks, and a real process answering a signed mention."""

from __future__ import annotations

import signal

import aiohttp

from tests.fakes.events import EventSender
from tests.fakes.model_api import FakeModel
from tests.fakes.slack_api import BOT_USER_ID, FakeSlack
from tests.process import BotProcess, free_port


async def test_missing_settings_stop_the_start_naming_each() -> None:
    """Without required settings the bot exits 2 with one message naming every problem and its fix."""
    process = await BotProcess.start({"INFERENCE_URL": "us.inference.heroku.com", "PORT": "http"})
    code = await process.finish()
    output = "\n".join(process.output)
    assert code == 2
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "INFERENCE_KEY", "INFERENCE_MODEL_ID", "PORT"):
        assert name in output
    assert "heroku config:get -a $APP_NAME INFERENCE_KEY" in output
    assert "INFERENCE_URL" not in output


async def test_python_m_bot_answers_a_signed_mention(
    fake_slack: FakeSlack, fake_model: FakeModel, environ: dict[str, str]
) -> None:
    """The started process answers a mention in its thread, and SIGTERM stops it cleanly."""
    port = free_port()
    process = await BotProcess.start({**environ, "PORT": str(port)})
    try:
        await process.wait_for_line("msg=listening")
        message = fake_slack.post_as_person("C1", "UALICE", f"<@{BOT_USER_ID}> ping")
        async with aiohttp.ClientSession() as http:
            sender = EventSender(f"http://127.0.0.1:{port}/slack/events", http)
            response = await sender.mention(message)
        assert response.status == 200
        assert await fake_slack.wait_for_replies("C1", message["ts"]) == ["You said: Alice: ping"]
        await process.wait_for_line("outcome=answered")
        process.process.send_signal(signal.SIGTERM)
        assert await process.finish() == 0
    finally:
        process.kill()
    log = "\n".join(process.output)
    for secret in (environ["SLACK_BOT_TOKEN"], environ["SLACK_SIGNING_SECRET"], environ["INFERENCE_KEY"]):
        assert secret not in log
