"""The real app against the fake Slack and model, fed signed deliveries: what people see in the thread."""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import BotFactory, RunningBot
from tests.fakes.events import EventSender
from tests.fakes.model_api import MODEL_ID, MODEL_KEY, FakeModel, Hang, RawStream, Reply, WholeReply
from tests.fakes.slack_api import BOT_USER_ID, TEAM_ID, FakeSlack
from tests.manifest import manifest


async def test_channel_mention_is_answered_in_its_thread(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    """A mention in a channel gets the model's answer as a reply in that message's thread."""
    fake_model.script.append(Reply(["X is ", "a letter."]))
    message = fake_slack.post_as_person("C1", "UALICE", f"<@{BOT_USER_ID}> what is X?")
    response = await events.mention(message)
    assert response.status == 200

    replies = await fake_slack.wait_for_replies("C1", message["ts"])
    assert replies == ["X is a letter."]
    stream = fake_slack.calls_to("chat.startStream")[0].params
    assert (stream["thread_ts"], stream["recipient_user_id"], stream["recipient_team_id"]) == (
        message["ts"],
        "UALICE",
        TEAM_ID,
    )
    request = fake_model.requests[0]
    assert request["model"] == MODEL_ID
    assert request["stream"] is True
    assert fake_model.headers[0]["Authorization"] == f"Bearer {MODEL_KEY}"
    assert request["messages"][0]["role"] == "system"
    assert request["messages"][-1] == {"role": "user", "content": "Alice: what is X?"}


async def test_other_mentions_become_display_names(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    """The bot's own mention is dropped; other people's mentions reach the model as their names."""
    message = fake_slack.post_as_person("C1", "UALICE", f"<@{BOT_USER_ID}> what does <@UBOB> think &amp; why?")
    await events.mention(message)
    await fake_slack.wait_for_replies("C1", message["ts"])
    assert fake_model.requests[0]["messages"][-1]["content"] == "Alice: what does @Bob think & why?"


async def test_follow_up_carries_the_thread_history(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    """A later mention in the thread sends the history as alternating turns, the bot's replies as assistant."""
    first = fake_slack.post_as_person("C1", "UALICE", f"<@{BOT_USER_ID}> name a colour")
    fake_model.script.append(Reply(["Blue."]))
    await events.mention(first)
    await fake_slack.wait_for_replies("C1", first["ts"])

    follow_up = fake_slack.post_as_person("C1", "UALICE", f"<@{BOT_USER_ID}> another one?", thread_ts=first["ts"])
    fake_model.script.append(Reply(["Green."]))
    await events.mention(follow_up)
    replies = await fake_slack.wait_for_replies("C1", first["ts"], count=2)

    assert replies == ["Blue.", "Green."]
    assert [(m["role"], m["content"]) for m in fake_model.requests[1]["messages"][1:]] == [
        ("user", "Alice: name a colour"),
        ("assistant", "Blue."),
        ("user", "Alice: another one?"),
    ]


async def test_direct_message_is_answered_without_a_mention(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    """Every message in a DM is a question; the answer goes in that message's thread."""
    message = fake_slack.post_as_person("D1", "UALICE", "hello there")
    await events.message(message, channel_type="im")
    replies = await fake_slack.wait_for_replies("D1", message["ts"])
    assert replies == ["You said: Alice: hello there"]


async def test_dm_thread_keeps_its_history(fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender) -> None:
    """A reply in a DM thread is answered with that thread's earlier messages."""
    first = fake_slack.post_as_person("D1", "UALICE", "remember 42")
    await events.message(first, channel_type="im")
    await fake_slack.wait_for_replies("D1", first["ts"])
    second = fake_slack.post_as_person("D1", "UALICE", "what number?", thread_ts=first["ts"])
    await events.message(second, channel_type="im")
    await fake_slack.wait_for_replies("D1", first["ts"], count=2)
    contents = [m["content"] for m in fake_model.requests[1]["messages"]]
    assert contents[1:] == ["Alice: remember 42", "You said: Alice: remember 42", "Alice: what number?"]


SETUP = "the bot's setup needs attention. Please tell the person who runs it (`python -m bot check`"
MESSAGE_MAY_HELP = "If that is about your message, changing it may help."


def _error(message: str, **fields: str) -> str:
    return json.dumps({"error": {"message": message, **fields}})


@pytest.mark.parametrize(
    ("fault", "expected", "advice", "logged"),
    [
        (
            WholeReply(401, json.dumps({"error": "invalid api key"})),
            "HTTP 401: invalid api key. ",
            SETUP,
            "INFERENCE_KEY",
        ),
        (
            WholeReply(404, _error("The model `claude-9` does not exist", code="model_not_found")),
            "refused this bot's settings: HTTP 404: The model `claude-9` does not exist. ",
            SETUP,
            "check INFERENCE_MODEL_ID",
        ),
        (
            WholeReply(400, _error("unknown model: claude-9", type="invalid_request_error")),
            "HTTP 400: unknown model: claude-9. ",
            SETUP,
            "check INFERENCE_MODEL_ID",
        ),
        (
            WholeReply(403, _error("Key has no access to this model", type="permission_error")),
            "HTTP 403: Key has no access to this model. ",
            SETUP,
            "check INFERENCE_KEY and INFERENCE_MODEL_ID",
        ),
        (
            WholeReply(400, _error("temperature must be at most 1", type="invalid_request_error")),
            "HTTP 400: temperature must be at most 1. ",
            SETUP,
            "check MODEL_TEMPERATURE",
        ),
        (
            RawStream([f"data: {_error('model not found: claude-9', code='model_not_found')}\n\n"]),
            "refused this bot's settings: model not found: claude-9. ",
            SETUP,
            "check INFERENCE_MODEL_ID",
        ),
        (WholeReply(400, _error("Bad request.")), "HTTP 400: Bad request. If", MESSAGE_MAY_HELP, "Bad request."),
        (
            WholeReply(403, "<html><head><title>Request blocked</title></head><body>x</body></html>", {}, "text/html"),
            "HTTP 403: Request blocked. ",
            MESSAGE_MAY_HELP,
            "HTTP 403: Request blocked",
        ),
        (Hang(), "timed out after 1 s. ", "Please try again in a moment.", "timed out after 1 s"),
    ],
    ids=[
        "wrong-key",
        "unknown-model-code",
        "unknown-model-words",
        "no-access",
        "setting-refused",
        "unknown-model-in-stream",
        "message-with-its-own-stop",
        "firewall-page",
        "timeout",
    ],
)
async def test_model_failure_is_named_in_the_thread_with_what_helps(
    fake_slack: FakeSlack,
    fake_model: FakeModel,
    bot_factory: BotFactory,
    http: object,
    caplog: pytest.LogCaptureFixture,
    fault: WholeReply | RawStream | Hang,
    expected: str,
    advice: str,
    logged: str,
) -> None:
    """The notice says what failed and what will help; setup errors send people to whoever runs the bot,
    never to rephrasing, and the log names the setting to check."""
    bot = await bot_factory(MODEL_TIMEOUT_SECONDS="1")
    events = EventSender(bot.url + "/slack/events", http)  # type: ignore[arg-type]
    fake_model.script.append(fault)
    message = fake_slack.post_as_person("C1", "UALICE", f"<@{BOT_USER_ID}> hi")
    with caplog.at_level("INFO", logger="bot.answer.answerer"):
        await events.mention(message)
        [notice] = await fake_slack.wait_for_replies("C1", message["ts"])
        await bot.runtime.tasks.wait()
    assert notice.startswith(":warning: Sorry")
    assert expected in notice
    assert advice in notice
    assert ".." not in notice
    assert "Rephrasing" not in notice
    assert MODEL_KEY not in notice
    [handled] = [record for record in caplog.records if record.getMessage() == "event handled"]
    assert logged in handled.error  # type: ignore[attr-defined]
    if advice == SETUP:
        assert len(fake_model.requests) == 1  # a refused setup is not retried


async def test_unreachable_model_is_named(fake_slack: FakeSlack, bot_factory: BotFactory, http: object) -> None:
    """A model service that refuses connections gives the 'could not reach' notice."""
    bot = await bot_factory(INFERENCE_URL="http://127.0.0.1:9")
    events = EventSender(bot.url + "/slack/events", http)  # type: ignore[arg-type]
    message = fake_slack.post_as_person("C1", "UALICE", f"<@{BOT_USER_ID}> hi")
    await events.mention(message)
    [notice] = await fake_slack.wait_for_replies("C1", message["ts"])
    assert "could not reach the model service" in notice


async def test_retries_and_double_delivery_are_answered_once(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, bot: RunningBot
) -> None:
    """Slack's retries of one event and the app_mention + message pair for one message give one answer."""
    fake_model.script.append(Reply(["Once."], delay=0.2))
    message = fake_slack.post_as_person("C1", "UALICE", f"<@{BOT_USER_ID}> once please")
    responses = [
        await events.mention(message, event_id="EvA"),
        await events.message(message, event_id="EvB"),
        await events.deliver({**message, "type": "app_mention"}, event_id="EvA", retry_num=1),
        await events.deliver({**message, "type": "app_mention"}, event_id="EvA", retry_num=2),
    ]
    assert [response.status for response in responses] == [200, 200, 200, 200]
    await fake_slack.wait_for_replies("C1", message["ts"])
    await bot.runtime.tasks.wait()
    assert fake_slack.bot_replies("C1", message["ts"]) == ["Once."]
    assert len(fake_model.requests) == 1


@pytest.mark.parametrize(
    "event",
    [
        {"subtype": "message_changed", "hidden": True, "message": {"text": "<@UBOT> edited"}},
        {"subtype": "message_deleted", "hidden": True},
        {"subtype": "channel_join", "user": "UALICE", "text": "<@UALICE> has joined"},
        {"bot_id": "BOTHER", "user": "UOTHERBOT", "text": "<@UBOT> ping from another bot"},
        {"subtype": "bot_message", "bot_id": "BOTHER", "text": "<@UBOT> classic bot"},
        {"user": BOT_USER_ID, "bot_id": "BBOT", "text": "my own message"},
        {"user": BOT_USER_ID, "bot_id": "BBOT", "text": "<@UBOT> my own message naming me"},
        {"user": BOT_USER_ID, "bot_id": "BBOT", "channel_type": "im", "text": "my own DM"},
        {"user": BOT_USER_ID, "bot_id": "BBOT", "subtype": "thread_broadcast", "text": "<@UBOT> mine, broadcast"},
        {
            "subtype": "message_changed",
            "hidden": True,
            "message": {"user": BOT_USER_ID, "bot_id": "BBOT", "text": "<@UBOT> my answer, edited", "ts": "1.0"},
        },
        {"subtype": "message_deleted", "hidden": True, "previous_message": {"user": BOT_USER_ID, "ts": "1.0"}},
        {"user": "UALICE", "text": "a plain channel message without a mention"},
    ],
)
async def test_quiet_where_it_should_be(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, bot: RunningBot, event: dict[str, object]
) -> None:
    """Own messages, other bots, edits, deletions, joins and unmentioned channel chatter get no answer by any
    path (message, stream, edit or private note), and a 200."""
    payload = {"type": "message", "channel": "C1", "channel_type": "channel", "ts": fake_slack.next_ts(), **event}
    response = await events.deliver(payload)
    assert response.status == 200
    await bot.runtime.tasks.wait()
    assert fake_slack.posts() == []
    assert fake_model.requests == []


@pytest.mark.parametrize("subscription", manifest()["settings"]["event_subscriptions"]["bot_events"])
async def test_every_subscribed_event_type_gets_200(events: EventSender, bot: RunningBot, subscription: str) -> None:
    """Every event type manifest.yml subscribes to is acknowledged (Bolt answers 404 to unhandled ones, and
    Slack retries those)."""
    channel_types = {"channels": "channel", "groups": "group", "im": "im", "mpim": "mpim"}
    kind, _, scope = subscription.partition(".")
    event = {"type": kind, "channel": "C1", "user": "UALICE", "ts": "1.0", "tab": "messages"}
    if scope:
        event.update(subtype="channel_join", channel_type=channel_types[scope])
    response = await events.deliver(event)
    assert response.status == 200


async def test_forged_and_stale_requests_are_refused(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, bot: RunningBot
) -> None:
    """A bad signature or a request older than five minutes gets 401 and changes nothing."""
    message = fake_slack.post_as_person("C1", "UALICE", f"<@{BOT_USER_ID}> hi")
    body = json.dumps(events.envelope({**message, "type": "app_mention"}))
    forged = await events.post(body, signature="v0=" + "0" * 64)
    stale_stamp = int(time.time()) - 6 * 60
    stale = await events.post(body, timestamp=stale_stamp)
    assert (forged.status, stale.status) == (401, 401)
    await bot.runtime.tasks.wait()
    assert fake_slack.posts() == []
    assert fake_model.requests == []


async def test_empty_mention_gets_a_friendly_prompt(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    """A mention with no question asks for one instead of calling the model."""
    message = fake_slack.post_as_person("C1", "UALICE", f"<@{BOT_USER_ID}>  ")
    await events.mention(message)
    [reply] = await fake_slack.wait_for_replies("C1", message["ts"])
    assert "Ask me anything" in reply
    assert fake_model.requests == []


async def test_health_reports_the_version(bot: RunningBot, http: object) -> None:
    """GET /health answers 200 with the version, for uptime checks."""
    from bot import __version__

    async with http.get(bot.url + "/health") as response:  # type: ignore[attr-defined]
        assert response.status == 200
        assert await response.json() == {"status": "ok", "version": __version__}


async def test_one_log_line_per_event_with_latency_and_usage(
    fake_slack: FakeSlack,
    fake_model: FakeModel,
    events: EventSender,
    bot: RunningBot,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The operator sees ids, thread, outcome, latency and the model's token usage; not the message text."""
    message = fake_slack.post_as_person("C1", "UALICE", f"<@{BOT_USER_ID}> secret plans")
    with caplog.at_level("INFO", logger="bot.answer.answerer"):
        await events.mention(message, event_id="EvLog")
        await fake_slack.wait_for_replies("C1", message["ts"])
        await bot.runtime.tasks.wait()
    [line] = [record for record in caplog.records if record.getMessage() == "event handled"]
    fields = vars(line)
    assert fields["event_id"] == "EvLog"
    assert (fields["channel"], fields["thread_ts"], fields["outcome"]) == ("C1", message["ts"], "answered")
    assert fields["latency_ms"] >= 0
    assert (fields["usage_prompt_tokens"], fields["usage_completion_tokens"]) == (10, 5)
    assert "secret plans" not in caplog.text
