"""Socket Mode (local development): events arrive over a websocket, are acked at once and answered."""

from __future__ import annotations

from tests.conftest import socket_mode_bot
from tests.fakes.events import EventSender
from tests.fakes.model_api import FakeModel
from tests.fakes.slack_api import BOT_USER_ID, FakeSlack


async def test_a_mention_over_socket_mode_is_acked_and_answered(
    fake_slack: FakeSlack, fake_model: FakeModel, environ: dict[str, str]
) -> None:
    async with socket_mode_bot(environ, fake_slack):
        message = fake_slack.post_as_person("C1", "UALICE", f"<@{BOT_USER_ID}> over the socket")
        envelope = EventSender("unused", None).envelope({**message, "type": "app_mention"})  # type: ignore[arg-type]
        envelope_id = await fake_slack.push_event(envelope)
        await fake_slack.wait_for(lambda: envelope_id in fake_slack.socket_acks)
        assert await fake_slack.wait_for_replies("C1", message["ts"]) == ["You said: Alice: over the socket"]
