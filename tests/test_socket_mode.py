"""Socket Mode (local development): events arrive over a websocket, are acked at once and answered."""

from __future__ import annotations

import asyncio

from bot.runtime import Runtime
from bot.server import serve_socket_mode
from bot.settings import Settings
from tests.fakes.events import EventSender
from tests.fakes.model_api import FakeModel
from tests.fakes.slack_api import APP_TOKEN, BOT_USER_ID, FakeSlack


async def test_a_mention_over_socket_mode_is_acked_and_answered(
    fake_slack: FakeSlack, fake_model: FakeModel, environ: dict[str, str]
) -> None:
    settings = {key: value for key, value in environ.items() if key != "SLACK_SIGNING_SECRET"}
    runtime = await Runtime.start(Settings.from_env({**settings, "SLACK_APP_TOKEN": APP_TOKEN}))
    stop = asyncio.Event()
    serving = asyncio.create_task(serve_socket_mode(runtime, stop))
    try:
        await fake_slack.wait_for(lambda: bool(fake_slack.sockets))
        message = fake_slack.post_as_person("C1", "UALICE", f"<@{BOT_USER_ID}> over the socket")
        envelope = EventSender("unused", None).envelope({**message, "type": "app_mention"})  # type: ignore[arg-type]
        envelope_id = await fake_slack.push_event(envelope)
        await fake_slack.wait_for(lambda: envelope_id in fake_slack.socket_acks)
        assert await fake_slack.wait_for_replies("C1", message["ts"]) == ["You said: Alice: over the socket"]
    finally:
        stop.set()
        await serving
        await runtime.close(grace_seconds=5)
