"""Socket Mode (local development): events arrive over a websocket, are acked at once and answered."""

from __future__ import annotations

from tests.conftest import socket_mode_bot
from tests.fakes.events import EventSender
from tests.fakes.model_api import FakeModel
from tests.fakes.slack_api import BOT_USER_ID, FakeSlack
from tests.redis_server import controlled_redis_server


async def test_a_mention_over_socket_mode_is_acked_and_answered(
    fake_slack: FakeSlack, fake_model: FakeModel, environ: dict[str, str]
) -> None:
    async with socket_mode_bot(environ, fake_slack):
        message = fake_slack.post_as_person("C1", "UALICE", f"<@{BOT_USER_ID}> over the socket")
        envelope = EventSender("unused", None).envelope({**message, "type": "app_mention"})  # type: ignore[arg-type]
        envelope_id = await fake_slack.push_event(envelope)
        await fake_slack.wait_for(lambda: envelope_id in fake_slack.socket_acks)
        assert await fake_slack.wait_for_replies("C1", message["ts"]) == ["You said: Alice: over the socket"]


async def test_over_socket_mode_a_mention_redis_cannot_record_is_not_acknowledged_until_slacks_last_retry(
    fake_slack: FakeSlack, fake_model: FakeModel, environ: dict[str, str]
) -> None:
    """Durable intake holds over the socket as over HTTP: an envelope Redis cannot take is left unacknowledged
    (Slack sends it again), and its last retry is answered from the process's memory, once."""
    async with controlled_redis_server() as server, socket_mode_bot({**environ, "REDIS_URL": server.url}, fake_slack):
        message = fake_slack.post_as_person("C1", "UALICE", f"<@{BOT_USER_ID}> while Redis stalls")
        envelope = EventSender("unused", None).envelope({**message, "type": "app_mention"})  # type: ignore[arg-type]
        server.stall()
        try:
            first = await fake_slack.push_event(envelope)
            last = await fake_slack.push_event(envelope, retry_attempt=3)
            await fake_slack.wait_for(lambda: last in fake_slack.socket_acks, within_seconds=30)
            assert await fake_slack.wait_for_replies("C1", message["ts"], within_seconds=30) == [
                "You said: Alice: while Redis stalls"
            ]
            assert first not in fake_slack.socket_acks
        finally:
            server.resume()
