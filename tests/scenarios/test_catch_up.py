"""Catch-up: the "Summarize thread" shortcut and `/catchup`, privately in the asker's DM, with follow-ups."""

from __future__ import annotations

import json
import time

import pytest

from bot.notices import RESTARTING
from tests.conftest import BotFactory, RunningBot, socket_mode_bot
from tests.fakes.events import EventSender, message_shortcut, slash_command
from tests.fakes.faults import Fault
from tests.fakes.model_api import FakeModel, Reply, WholeReply
from tests.fakes.slack_api import BOT_USER_ID, TEAM_ID, FakeSlack
from tests.redis_server import redis_server

POSTING_METHODS = ("chat.postMessage", "chat.startStream", "chat.appendStream", "chat.stopStream", "chat.update")


def posted_in(fake_slack: FakeSlack, channel: str) -> list[str]:
    """Every call that would show something in `channel`."""
    return [
        call.method
        for call in fake_slack.calls
        if call.method in POSTING_METHODS and call.params.get("channel") == channel
    ]


def a_thread(fake_slack: FakeSlack) -> tuple[dict[str, object], dict[str, object]]:
    root = fake_slack.post_as_person("C1", "UALICE", "Shall we ship on Friday? <@UBOB> what do you think?")
    reply = fake_slack.post_as_person("C1", "UBOB", "Friday works, if QA signs off.", thread_ts=str(root["ts"]))
    return root, reply


async def summary_in_dm(fake_slack: FakeSlack, user: str = "UALICE") -> tuple[str, list[str]]:
    """Waits for the DM thread that a catch-up starts; returns its first message's ts and the bot's messages."""
    dm = fake_slack.dm_channel(user)
    await fake_slack.wait_for(lambda: bool(fake_slack.messages.get(dm)))
    root_ts = str(fake_slack.messages[dm][0]["ts"])
    return root_ts, await fake_slack.wait_for_replies(dm, root_ts, count=2)


async def test_summarize_thread_arrives_only_in_the_askers_dm(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    """The shortcut on a reply: the whole thread, with names, goes to the model; the summary streams in a new
    DM thread that links back; the asker gets a private note; the channel sees nothing."""
    root, reply = a_thread(fake_slack)
    fake_model.script.append(Reply(["**Gist:** ship Friday", " if QA agrees."]))
    response = await events.interact(message_shortcut(reply, "UALICE", fake_slack.response_url("r1")))
    assert response.status == 200

    root_ts, dm_messages = await summary_in_dm(fake_slack)
    permalink = f"https://test.slack.com/archives/C1/p{str(root['ts']).replace('.', '')}"
    assert dm_messages[0].startswith(f":memo: Summary of <{permalink}|this thread> in <#C1>")
    assert dm_messages[1] == "**Gist:** ship Friday if QA agrees."
    stream = fake_slack.calls_to("chat.startStream")[0].params
    assert (stream["channel"], stream["thread_ts"], stream["recipient_user_id"]) == ("DUALICE", root_ts, "UALICE")
    assert stream["recipient_team_id"] == TEAM_ID
    [system, asked] = fake_model.requests[0]["messages"]
    assert "Open questions" in system["content"]
    assert (
        "Alice: Shall we ship on Friday? @Bob what do you think?\nBob: Friday works, if QA signs off."
        in asked["content"]
    )
    await fake_slack.wait_for(lambda: bool(fake_slack.responses))
    assert [(r["name"], r["response_type"]) for r in fake_slack.responses] == [("r1", "ephemeral")]
    assert "summary of this thread in our DM" in fake_slack.responses[0]["text"]
    assert posted_in(fake_slack, "C1") == []
    assert fake_slack.ephemerals == []


async def test_a_follow_up_in_the_dm_thread_sees_the_original_thread_as_it_is_now(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, bot: RunningBot
) -> None:
    """A question in the summary's DM thread is answered with the original thread, read again (a reply
    written since the summary included), and the summary; the original thread still sees nothing."""
    root, _ = a_thread(fake_slack)
    fake_model.script.append(Reply(["They may ship Friday."]))
    await events.interact(message_shortcut(root, "UALICE", fake_slack.response_url("r1")))
    root_ts, _ = await summary_in_dm(fake_slack)
    fake_slack.post_as_person("C1", "UBOB", "QA signed off!", thread_ts=str(root["ts"]))

    question = fake_slack.post_as_person("DUALICE", "UALICE", "Did QA sign off?", thread_ts=root_ts)
    await events.message(question, channel_type="im")
    replies = await fake_slack.wait_for_replies("DUALICE", root_ts, count=3)

    assert replies[2] == "You said: Alice: Did QA sign off?"
    messages = fake_model.requests[1]["messages"]
    assert "Bob: Friday works, if QA signs off.\nBob: QA signed off!" in messages[0]["content"]
    assert [m["role"] for m in messages[1:]] == ["user", "assistant", "user"]
    assert "They may ship Friday." in messages[2]["content"]
    await bot.runtime.tasks.wait()
    assert posted_in(fake_slack, "C1") == []


async def test_a_channel_the_bot_is_not_in_gets_a_private_note(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, bot: RunningBot
) -> None:
    """Where Slack refuses the read, the asker privately learns why and how to invite the bot; no DM, no model."""
    fake_slack.add_user(BOT_USER_ID, "Thread Assistant")
    message = fake_slack.post_as_person("C2", "UALICE", "a thread elsewhere")
    fake_slack.read_refusals["C2"] = "not_in_channel"
    response = await events.interact(message_shortcut(message, "UALICE", fake_slack.response_url("r2")))
    assert response.status == 200
    await fake_slack.wait_for(lambda: bool(fake_slack.responses))
    await bot.runtime.tasks.wait()
    [note] = fake_slack.responses
    assert note["response_type"] == "ephemeral"
    assert note["text"] == (
        "I can't read <#C2>: I'm not a member of it. Add me by typing `/invite @Thread Assistant` in that "
        "channel, then try again."
    )
    assert fake_slack.calls_to("conversations.open") == []
    assert fake_model.requests == []


async def test_a_retried_shortcut_is_summarized_once(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, bot: RunningBot
) -> None:
    """The same payload delivered twice (same trigger id) gives one summary."""
    root, _ = a_thread(fake_slack)
    fake_model.script.append(Reply(["Once."], delay=0.2))
    payload = message_shortcut(root, "UALICE", fake_slack.response_url("r1"))
    responses = [await events.interact(payload), await events.interact(payload)]
    assert [response.status for response in responses] == [200, 200]
    await summary_in_dm(fake_slack)
    await bot.runtime.tasks.wait()
    assert len(fake_model.requests) == 1
    assert len(fake_slack.calls_to("conversations.open")) == 1


async def test_the_shortcut_respects_allowed_channels(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: object
) -> None:
    """Outside ALLOWED_CHANNELS the asker gets the private "only in" note and nothing is read."""
    bot = await bot_factory(ALLOWED_CHANNELS="C0ALLOWED")
    events = EventSender(bot.url + "/slack/events", http)  # type: ignore[arg-type]
    root, _ = a_thread(fake_slack)
    await events.interact(message_shortcut(root, "UALICE", fake_slack.response_url("r1")))
    await fake_slack.wait_for(lambda: bool(fake_slack.responses))
    await bot.runtime.tasks.wait()
    assert "I only answer in <#C0ALLOWED>" in fake_slack.responses[0]["text"]
    assert fake_slack.calls_to("conversations.replies") == []
    assert fake_model.requests == []


async def spend_budget(fake_slack: FakeSlack, events: EventSender, user: str, channel: str = "C1") -> None:
    """`user` asks once in `channel`: the fake model's 10 + 5 tokens spend a 10-token budget."""
    question = fake_slack.post_as_person(channel, user, f"<@{BOT_USER_ID}> hello")
    await events.mention(question)
    await fake_slack.wait_for_replies(channel, str(question["ts"]))


@pytest.mark.parametrize("how", ["shortcut", "command"])
async def test_a_person_over_budget_is_told_privately_before_anything_is_read(
    fake_slack: FakeSlack,
    fake_model: FakeModel,
    bot_factory: BotFactory,
    http: object,
    caplog: pytest.LogCaptureFixture,
    how: str,
) -> None:
    """Past their daily budget, the asker gets the budget notice where they asked, at once: the thread or
    channel is not read, no DM thread is started, the model is not asked."""
    bot = await bot_factory(DAILY_TOKENS_PER_PERSON="10")
    events = EventSender(bot.url + "/slack/events", http)  # type: ignore[arg-type]
    await spend_budget(fake_slack, events, "UALICE")
    root, _ = a_thread(fake_slack)
    channel_message(fake_slack, "UBOB", "Lunch at noon?", hours_ago=1)
    calls_before = len(fake_slack.calls)
    with caplog.at_level("INFO"):
        if how == "shortcut":
            await events.interact(message_shortcut(root, "UALICE", fake_slack.response_url("r1")))
        else:
            await events.command(slash_command("/catchup", "8h", "C1", "UALICE", fake_slack.response_url("r1")))
        await fake_slack.wait_for(lambda: bool(fake_slack.responses))
        await bot.runtime.tasks.wait()
    [note] = fake_slack.responses
    assert note["response_type"] == "ephemeral"
    assert note["text"].startswith(":hourglass_flowing_sand: You've used your daily budget of 10 tokens")
    assert "It resets at midnight UTC, in " in note["text"]
    called = [call.method for call in fake_slack.calls[calls_before:]]
    for method in ("conversations.replies", "conversations.history", "chat.getPermalink", "conversations.open"):
        assert method not in called
    assert "DUALICE" not in fake_slack.messages
    assert len(fake_model.requests) == 1
    lines = [vars(record) for record in caplog.records if record.getMessage() == "event handled"]
    [logged] = [line for line in lines if line["event_type"] in ("message_action", "slash_command")]
    assert (logged["outcome"], logged["budget"], logged["user"]) == ("over_budget", "person", "UALICE")


async def test_catch_up_is_held_to_the_askers_budget_only_and_not_for_admins(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: object
) -> None:
    """A summary goes to the asker's DM, so a channel's spent budget does not stop it (as for DMs); an
    admin past the person budget is summarized too."""
    bot = await bot_factory(DAILY_TOKENS_PER_PERSON="10", DAILY_TOKENS_PER_CHANNEL="10", ADMIN_USER_IDS="UALICE")
    events = EventSender(bot.url + "/slack/events", http)  # type: ignore[arg-type]
    await spend_budget(fake_slack, events, "UALICE")
    root, _ = a_thread(fake_slack)
    fake_model.script.append(Reply(["For Bob."]))
    await events.interact(message_shortcut(root, "UBOB", fake_slack.response_url("bob")))
    _, bob_dm = await summary_in_dm(fake_slack, "UBOB")
    assert bob_dm[1] == "For Bob."
    fake_model.script.append(Reply(["For Alice."]))
    await events.interact(message_shortcut(root, "UALICE", fake_slack.response_url("alice")))
    _, alice_dm = await summary_in_dm(fake_slack, "UALICE")
    assert alice_dm[1] == "For Alice."
    await bot.runtime.tasks.wait()


def channel_message(
    fake_slack: FakeSlack, user: str, text: str, hours_ago: float, **extra: object
) -> dict[str, object]:
    return fake_slack.post_as_person("C1", user, text, ts=f"{time.time() - hours_ago * 3600:.6f}", **extra)


async def test_catchup_summarizes_the_last_day_with_threads_as_their_roots(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, bot: RunningBot
) -> None:
    """`/catchup` reads the channel's last 24 hours: named, with reply counts, older messages left out."""
    channel_message(fake_slack, "UBOB", "old news from last week", hours_ago=30)
    launch = channel_message(fake_slack, "UALICE", "Launch moved to Monday", hours_ago=5)
    channel_message(fake_slack, "UBOB", "why?", hours_ago=4.9, thread_ts=launch["ts"])
    channel_message(fake_slack, "UALICE", "vendor delay", hours_ago=4.8, thread_ts=launch["ts"])
    channel_message(fake_slack, "UBOB", "Lunch at noon?", hours_ago=1)

    response = await events.command(slash_command("/catchup", "", "C1", "UALICE", fake_slack.response_url("c1")))
    assert response.status == 200
    assert events.last_body == b""
    _, dm_messages = await summary_in_dm(fake_slack)

    assert dm_messages[0].startswith(":memo: Catching you up on <#C1>, the last 24 hours.")
    content = fake_model.requests[0]["messages"][1]["content"]
    assert "in the last 24 hours" in content
    assert "Alice: Launch moved to Monday (2 replies in its thread)" in content
    assert "Bob: Lunch at noon?" in content
    assert "old news" not in content
    assert content.index("Launch moved") < content.index("Lunch at noon")
    oldest = float(fake_slack.calls_to("conversations.history")[0].params["oldest"])
    assert abs(oldest - (time.time() - 24 * 3600)) < 60
    await bot.runtime.tasks.wait()
    assert posted_in(fake_slack, "C1") == []


async def test_catchup_takes_a_time_span_and_explains_a_bad_one(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, bot: RunningBot
) -> None:
    """`/catchup 3d` reaches three days back; `/catchup soon` gets the usage line as the command's private
    response, and nothing else happens."""
    channel_message(fake_slack, "UBOB", "two days ago", hours_ago=48)
    await events.command(slash_command("/catchup", "3d", "C1", "UALICE", fake_slack.response_url("c1")))
    await summary_in_dm(fake_slack)
    assert "Bob: two days ago" in fake_model.requests[0]["messages"][1]["content"]

    response = await events.command(slash_command("/catchup", "soon", "C1", "UALICE", fake_slack.response_url("c2")))
    assert response.status == 200
    assert "I didn't understand `soon` as a time span" in events.last_body.decode()
    await bot.runtime.tasks.wait()
    assert len(fake_model.requests) == 1


async def test_a_long_channel_is_summarized_newest_first_within_the_budget(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: object
) -> None:
    """More than the input budget: the newest messages are summarized, the DM says how far back it reaches."""
    bot = await bot_factory(MODEL_INPUT_BUDGET_TOKENS="1000")
    events = EventSender(bot.url + "/slack/events", http)  # type: ignore[arg-type]
    for number in range(300):
        channel_message(fake_slack, "UBOB", f"update number {number:03d} " + "x" * 40, hours_ago=10 - number / 60)
    await events.command(slash_command("/catchup", "", "C1", "UALICE", fake_slack.response_url("c1")))
    _, dm_messages = await summary_in_dm(fake_slack)

    assert "it reaches back to <!date^" in dm_messages[0]
    request = fake_model.requests[0]["messages"]
    assert sum(len(message["content"]) for message in request) // 4 <= 1000
    content = request[1]["content"]
    assert "update number 299" in content
    assert "update number 000" not in content
    assert "Earlier messages did not fit" in content
    await bot.runtime.tasks.wait()


async def test_catchup_where_the_bot_cannot_read_and_where_nothing_was_said(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, bot: RunningBot
) -> None:
    """A private channel the bot is not in gets the invite note; a quiet channel gets "all caught up"."""
    fake_slack.read_refusals["G9"] = "channel_not_found"
    await events.command(slash_command("/catchup", "", "G9", "UALICE", fake_slack.response_url("g9")))
    await events.command(slash_command("/catchup", "8h", "C5", "UALICE", fake_slack.response_url("c5")))
    await fake_slack.wait_for(lambda: len(fake_slack.responses) == 2)
    await bot.runtime.tasks.wait()
    notes = {response["name"]: response["text"] for response in fake_slack.responses}
    assert notes["g9"].startswith("I can't read <#G9>: I'm not a member of it. Add me by typing `/invite @")
    assert notes["c5"] == "Nothing was said in <#C5> in the last 8 hours: you're all caught up."
    assert fake_model.requests == []
    assert fake_slack.calls_to("conversations.open") == []


async def test_a_retried_command_is_handled_once(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, bot: RunningBot
) -> None:
    """The same command delivered twice (same trigger id) gives one summary."""
    channel_message(fake_slack, "UBOB", "hello", hours_ago=1)
    fields = slash_command("/catchup", "", "C1", "UALICE", fake_slack.response_url("c1"))
    await events.command(fields)
    await events.command(fields)
    await summary_in_dm(fake_slack)
    await bot.runtime.tasks.wait()
    assert len(fake_model.requests) == 1
    assert len(fake_slack.messages["DUALICE"]) == 2


async def test_shortcut_and_command_over_socket_mode(
    fake_slack: FakeSlack, fake_model: FakeModel, environ: dict[str, str]
) -> None:
    """In Socket Mode both arrive as envelopes, are acked at once, and are summarized in the DM."""
    async with socket_mode_bot(environ, fake_slack):
        root, _ = a_thread(fake_slack)
        shortcut = message_shortcut(root, "UALICE", fake_slack.response_url("s1"))
        await fake_slack.push("interactive", shortcut, "env-shortcut")
        await fake_slack.wait_for(lambda: "env-shortcut" in fake_slack.socket_acks)
        await summary_in_dm(fake_slack, "UALICE")

        channel_message(fake_slack, "UBOB", "over the socket", hours_ago=1)
        command = slash_command("/catchup", "", "C1", "UBOB", fake_slack.response_url("s2"))
        await fake_slack.push("slash_commands", command, "env-command")
        await fake_slack.wait_for(lambda: "env-command" in fake_slack.socket_acks)
        await summary_in_dm(fake_slack, "UBOB")
        assert "Bob: over the socket" in fake_model.requests[1]["messages"][1]["content"]
        assert posted_in(fake_slack, "C1") == []


async def test_slack_failures_on_the_way_give_a_private_note(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, bot: RunningBot
) -> None:
    """A read that keeps dropping, or a DM that cannot be opened: the asker is told privately, nothing crashes."""
    root, _ = a_thread(fake_slack)
    fake_slack.faults["conversations.replies"] = [Fault(drop_connection=True) for _ in range(6)]
    await events.interact(message_shortcut(root, "UALICE", fake_slack.response_url("dropped")))
    await fake_slack.wait_for(lambda: len(fake_slack.responses) == 1)
    fake_slack.faults["conversations.open"] = [Fault(error="user_disabled")]
    await events.interact(message_shortcut(root, "UALICE", fake_slack.response_url("no-dm")))
    await fake_slack.wait_for(lambda: len(fake_slack.responses) == 2)
    await bot.runtime.tasks.wait()
    notes = {response["name"]: response["text"] for response in fake_slack.responses}
    assert notes["dropped"] == ":warning: Sorry, I couldn't read <#C1> just now. Please try again in a moment."
    assert notes["no-dm"].startswith(":warning: Sorry, I couldn't send you the summary in our DM.")
    assert fake_model.requests == []


async def test_a_model_failure_is_named_in_the_dm_thread(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, bot: RunningBot
) -> None:
    """The summary's model call fails: the notice goes where the summary would have, never to the channel."""
    root, _ = a_thread(fake_slack)
    fake_model.script.append(WholeReply(500, "{}"))
    fake_model.script.append(WholeReply(500, "{}"))
    fake_model.script.append(WholeReply(500, "{}"))
    await events.interact(message_shortcut(root, "UALICE", fake_slack.response_url("r1")))
    _, dm_messages = await summary_in_dm(fake_slack)
    assert dm_messages[1].startswith(":warning: Sorry, the model service answered HTTP 500")
    await bot.runtime.tasks.wait()
    assert posted_in(fake_slack, "C1") == []


async def test_a_shutdown_while_reading_tells_the_asker(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, bot: RunningBot
) -> None:
    """Stopped before the summary started: a private "restarting" note instead of silence."""
    root, _ = a_thread(fake_slack)
    fake_slack.latency["conversations.replies"] = 2
    await events.interact(message_shortcut(root, "UALICE", fake_slack.response_url("r1")))
    await fake_slack.wait_for(lambda: bool(fake_slack.calls_to("conversations.replies")))
    await bot.close(grace_seconds=0)
    assert [response["text"] for response in fake_slack.responses] == [RESTARTING]
    assert fake_model.requests == []


async def test_a_follow_up_after_catchup_reads_the_channel_again_with_redis(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: object
) -> None:
    """With Redis as the store, a follow-up to a `/catchup` sees the channel as it is now."""
    async with redis_server() as redis_url:
        bot = await bot_factory(REDIS_URL=redis_url)
        events = EventSender(bot.url + "/slack/events", http)  # type: ignore[arg-type]
        channel_message(fake_slack, "UBOB", "Standup moved to 10", hours_ago=2)
        await events.command(slash_command("/catchup", "", "C1", "UALICE", fake_slack.response_url("c1")))
        root_ts, _ = await summary_in_dm(fake_slack)
        channel_message(fake_slack, "UBOB", "Standup cancelled today", hours_ago=0.01)

        question = fake_slack.post_as_person("DUALICE", "UALICE", "Is standup on?", thread_ts=root_ts)
        await events.message(question, channel_type="im")
        await fake_slack.wait_for_replies("DUALICE", root_ts, count=3)
        system = fake_model.requests[1]["messages"][0]["content"]
        assert "Bob: Standup moved to 10" in system
        assert "Bob: Standup cancelled today" in system
        await bot.close()
    assert posted_in(fake_slack, "C1") == []


async def test_a_long_thread_keeps_its_start_and_newest_replies(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: object
) -> None:
    """Over the budget, a thread's summary sees its first message and its newest replies, and says so."""
    bot = await bot_factory(MODEL_INPUT_BUDGET_TOKENS="1000")
    events = EventSender(bot.url + "/slack/events", http)  # type: ignore[arg-type]
    root = fake_slack.post_as_person("C1", "UALICE", "The question everyone answers")
    for number in range(200):
        fake_slack.post_as_person("C1", "UBOB", f"reply {number:03d} " + "y" * 40, thread_ts=str(root["ts"]))
    await events.interact(message_shortcut(root, "UALICE", fake_slack.response_url("r1")))
    _, dm_messages = await summary_in_dm(fake_slack)

    assert "it covers its start and the replies since <!date^" in dm_messages[0]
    content = fake_model.requests[0]["messages"][1]["content"]
    assert "Alice: The question everyone answers\n(Earlier messages did not fit" in content
    assert "reply 199" in content
    assert "reply 000" not in content
    await bot.runtime.tasks.wait()


async def test_one_log_line_per_catch_up(
    fake_slack: FakeSlack, events: EventSender, bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    """The operator sees who asked, about what, where it went and how it ended; not the messages."""
    root, _ = a_thread(fake_slack)
    fake_slack.read_refusals["C2"] = "not_in_channel"
    elsewhere = fake_slack.post_as_person("C2", "UBOB", "private plans")
    with caplog.at_level("INFO"):
        await events.interact(message_shortcut(root, "UALICE", fake_slack.response_url("r1")))
        await summary_in_dm(fake_slack)
        await events.interact(message_shortcut(elsewhere, "UBOB", fake_slack.response_url("r2")))
        await fake_slack.wait_for(lambda: len(fake_slack.responses) == 2)
        await bot.runtime.tasks.wait()
    lines = [vars(record) for record in caplog.records if record.getMessage() == "event handled"]
    outcomes = {(line["source_channel"], line["event_type"], line["outcome"]) for line in lines}
    assert outcomes == {("C1", "message_action", "answered"), ("C2", "message_action", "cannot_read")}
    assert len(lines) == 2
    answered = next(line for line in lines if line["outcome"] == "answered")
    assert (answered["channel"], answered["user"]) == ("DUALICE", "UALICE")
    assert "private plans" not in caplog.text
    assert "Friday" not in caplog.text


@pytest.mark.parametrize("fault", [Fault(drop_connection=True), Fault(status=404, error="expired_url")])
async def test_a_failing_response_url_does_not_stop_the_summary(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, bot: RunningBot, fault: Fault
) -> None:
    """The private "on its way" note is a courtesy: when it cannot be sent, the summary still arrives."""
    root, _ = a_thread(fake_slack)
    fake_slack.faults["response_url"] = [fault] * 3
    await events.interact(message_shortcut(root, "UALICE", fake_slack.response_url("r1")))
    _, dm_messages = await summary_in_dm(fake_slack)
    assert dm_messages[1].startswith("You said:")
    await bot.runtime.tasks.wait()
    assert fake_slack.responses == []


async def test_strict_redaction_masks_people_the_thread_only_mentions(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: object
) -> None:
    """With `REDACT=strict`, in the summary and in its follow-ups, the thread's speakers stay named and
    people it only mentions are masked."""
    bot = await bot_factory(REDACT="strict")
    events = EventSender(bot.url + "/slack/events", http)  # type: ignore[arg-type]
    fake_slack.add_user("UCAROL", "Carol")
    root = fake_slack.post_as_person("C1", "UALICE", "Ask <@UCAROL> about the budget")
    fake_slack.post_as_person("C1", "UBOB", "Will do", thread_ts=str(root["ts"]))
    await events.interact(message_shortcut(root, "UALICE", fake_slack.response_url("r1")))
    root_ts, _ = await summary_in_dm(fake_slack)
    question = fake_slack.post_as_person("DUALICE", "UALICE", "What did Bob say?", thread_ts=root_ts)
    await events.message(question, channel_type="im")
    await fake_slack.wait_for_replies("DUALICE", root_ts, count=3)

    summary_input = fake_model.requests[0]["messages"][1]["content"]
    follow_up_input = json.dumps(fake_model.requests[1]["messages"])
    for sent in (summary_input, follow_up_input):
        assert "Carol" not in sent
        assert "Alice: Ask @[person] about the budget" in sent or "Alice: Ask [person] about the budget" in sent
        assert "Bob: Will do" in sent
    assert "What did Bob say?" in follow_up_input


async def test_a_huge_summary_prompt_still_leaves_room_for_the_channel(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: object
) -> None:
    """A SUMMARY_PROMPT as long as the whole budget does not turn a busy channel into "nothing was said"."""
    bot = await bot_factory(SUMMARY_PROMPT="Be brief. " * 500, MODEL_INPUT_BUDGET_TOKENS="1000")
    events = EventSender(bot.url + "/slack/events", http)  # type: ignore[arg-type]
    channel_message(fake_slack, "UBOB", "The deploy is green", hours_ago=1)
    await events.command(slash_command("/catchup", "", "C1", "UALICE", fake_slack.response_url("c1")))
    await summary_in_dm(fake_slack)
    assert "Bob: The deploy is green" in json.dumps(fake_model.requests[0]["messages"])
    await bot.runtime.tasks.wait()
