"""Feedback: 👍/👎 under every complete answer (never under a notice), a click acknowledged at once,
thanked privately and counted once per person per answer, and the counts on the admins' Home tab."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from bot.answer.feedback import ACTION_ID, Feedback
from bot.store.memory import MemoryStore
from bot.store.redis_store import RedisStore
from tests.conftest import BotFactory, RunningBot, socket_mode_bot
from tests.fakes.events import EventSender, block_action, tab_opened
from tests.fakes.faults import Fault
from tests.fakes.model_api import MODEL_ID, FakeModel, Reply, WholeReply
from tests.fakes.slack_api import BOT_USER_ID, FakeSlack
from tests.redis_server import redis_server


def feedback_element(message: dict[str, Any]) -> dict[str, Any] | None:
    """The feedback buttons under a bot message, if it has them."""
    for block in message.get("blocks") or []:
        if block.get("type") == "context_actions":
            [element] = block["elements"]
            assert element["type"] == "feedback_buttons"
            return element  # type: ignore[no-any-return]
    return None


def click(element: dict[str, Any], vote: str) -> dict[str, Any]:
    """The `actions` entry Slack sends for a click on one of the two buttons."""
    button = element["positive_button" if vote == "up" else "negative_button"]
    return {
        "type": "feedback_buttons",
        "action_id": element["action_id"],
        "value": button["value"],
        "text": button["text"],
    }


async def answered(fake_slack: FakeSlack, events: EventSender, bot: RunningBot, channel: str = "C1") -> dict[str, Any]:
    """A question answered (in a channel, or a DM); returns the answer's (last) message once it is complete."""
    question = fake_slack.post_as_person(channel, "UALICE", f"<@{BOT_USER_ID}> what is X?")
    if channel.startswith("D"):
        await events.message(question, channel_type="im")
    else:
        await events.mention(question)
    await fake_slack.wait_for_replies(channel, question["ts"])
    await bot.runtime.tasks.wait()
    return fake_slack.bot_messages(channel, question["ts"])[-1]


@pytest.mark.parametrize("streaming", ["true", "false"])
async def test_every_answer_carries_the_feedback_buttons(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: object, streaming: str
) -> None:
    """Streamed (on chat.stopStream) or posted and updated where Slack does not stream."""
    bot = await bot_factory(SLACK_STREAMING=streaming)
    events = EventSender(bot.url + "/slack/events", http)  # type: ignore[arg-type]
    fake_model.script.append(Reply(["X is ", "a letter."]))
    answer = await answered(fake_slack, events, bot)
    assert answer["visible"] == "X is a letter."
    element = feedback_element(answer)
    assert element is not None
    assert element["action_id"] == ACTION_ID
    for key, text in (("positive_button", "👍"), ("negative_button", "👎")):
        button = element[key]
        assert button["text"] == {"type": "plain_text", "text": text}
        assert button["accessibility_label"]
        assert json.loads(button["value"])["model"] == MODEL_ID
    closing = "chat.stopStream" if streaming == "true" else "chat.update"
    assert "blocks" in fake_slack.calls_to(closing)[-1].params


async def test_a_long_answer_has_the_buttons_under_its_last_message_only(
    fake_slack: FakeSlack, fake_model: FakeModel, bot: RunningBot, events: EventSender
) -> None:
    fake_model.script.append(Reply(["word " * 3000, "\n\n", "more " * 2000]))
    question = fake_slack.post_as_person("C1", "UALICE", f"<@{BOT_USER_ID}> long please")
    await events.mention(question)
    await fake_slack.wait_for_replies("C1", question["ts"], count=2)
    await bot.runtime.tasks.wait()
    messages = fake_slack.bot_messages("C1", question["ts"])
    assert [feedback_element(message) is not None for message in messages] == [False] * (len(messages) - 1) + [True]


@pytest.mark.parametrize(
    "case", ["model_error", "empty_mention", "empty_answer", "interrupted"], ids=lambda case: str(case)
)
async def test_notices_carry_no_feedback_buttons(
    fake_slack: FakeSlack, fake_model: FakeModel, bot: RunningBot, events: EventSender, case: str
) -> None:
    text = f"<@{BOT_USER_ID}>" if case == "empty_mention" else f"<@{BOT_USER_ID}> hi"
    if case == "model_error":
        fake_model.script.append(WholeReply(401, json.dumps({"error": "invalid api key"})))
    elif case == "empty_answer":
        fake_model.script.append(Reply([]))
    elif case == "interrupted":
        fake_model.script.append(Reply(["Half an answer"], finish_reason=None, send_done=False))
    question = fake_slack.post_as_person("C1", "UALICE", text)
    await events.mention(question)
    await fake_slack.wait_for_replies("C1", question["ts"])
    await bot.runtime.tasks.wait()
    [notice] = fake_slack.bot_messages("C1", question["ts"])
    assert feedback_element(notice) is None
    assert all("blocks" not in call.params for call in fake_slack.calls_to("chat.stopStream"))


async def test_a_click_is_acknowledged_at_once_thanked_privately_and_counted_once(
    fake_slack: FakeSlack, bot: RunningBot, events: EventSender, caplog: pytest.LogCaptureFixture
) -> None:
    """A repeated click changes nothing; the other button changes the vote, it does not add one."""
    answer = await answered(fake_slack, events, bot)
    element = feedback_element(answer)
    assert element is not None
    # The thanks hangs: the click is acknowledged all the same, before the work is done.
    fake_slack.faults["chat.postEphemeral"] = [Fault(hang=True)]
    url = fake_slack.response_url("fb")
    with caplog.at_level(logging.INFO, logger="bot.answer.feedback"):
        response = await events.interact(block_action(answer, "UBOB", click(element, "up"), url, channel="C1"))
        assert response.status == 200
        await fake_slack.wait_for(lambda: len(fake_slack.calls_to("chat.postEphemeral")) == 1)
        fake_slack.release_hangs()
        for vote in ("up", "down", "down"):
            response = await events.interact(block_action(answer, "UBOB", click(element, vote), url, channel="C1"))
            assert response.status == 200
        await fake_slack.wait_for(lambda: len(fake_slack.ephemerals) == 3)
        await bot.runtime.tasks.wait()

    thanks = fake_slack.ephemerals[-1]
    assert (thanks["channel"], thanks["user"], thanks["thread_ts"]) == ("C1", "UBOB", answer["thread_ts"])
    assert "Thanks for the feedback" in thanks["text"]
    report = await bot.runtime.answerer.feedback.report()
    assert report is not None
    assert (report.answers, report.up, report.down) == (1, 0, 1)
    assert report.last_down is not None
    assert (report.last_down.channel, report.last_down.message_ts) == ("C1", answer["ts"])
    recorded = [record for record in caplog.records if record.getMessage() == "feedback recorded"]
    assert [(r.channel, r.thread_ts, r.model, r.vote) for r in recorded][-1] == (  # type: ignore[attr-defined]
        "C1",
        answer["thread_ts"],
        MODEL_ID,
        "down",
    )


async def test_each_person_has_a_vote(fake_slack: FakeSlack, bot: RunningBot, events: EventSender) -> None:
    answer = await answered(fake_slack, events, bot)
    element = feedback_element(answer)
    assert element is not None
    url = fake_slack.response_url("fb")
    for user, vote in (("UALICE", "up"), ("UBOB", "down"), ("UCAROL", "up")):
        await events.interact(block_action(answer, user, click(element, vote), url, channel="C1"))
    await fake_slack.wait_for(lambda: len(fake_slack.ephemerals) == 3)
    await bot.runtime.tasks.wait()
    report = await bot.runtime.answerer.feedback.report()
    assert report is not None
    assert (report.up, report.down) == (2, 1)


async def test_a_payload_without_a_vote_is_acknowledged_and_ignored(
    fake_slack: FakeSlack, bot: RunningBot, events: EventSender
) -> None:
    answer = await answered(fake_slack, events, bot)
    forged = {"type": "feedback_buttons", "action_id": ACTION_ID, "value": '{"vote": "maybe"}'}
    response = await events.interact(block_action(answer, "UBOB", forged, fake_slack.response_url("x"), channel="C1"))
    assert response.status == 200
    await bot.runtime.tasks.wait()
    assert fake_slack.ephemerals == []
    report = await bot.runtime.answerer.feedback.report()
    assert report is not None
    assert (report.up, report.down) == (0, 0)


async def test_admins_see_the_weeks_answers_and_votes_on_the_home_tab(
    fake_slack: FakeSlack, bot_factory: BotFactory, http: object
) -> None:
    """With a link to the most recent 👎; everyone else sees the Home tab as before."""
    bot = await bot_factory(ADMIN_USER_IDS="UADMIN")
    events = EventSender(bot.url + "/slack/events", http)  # type: ignore[arg-type]
    first, second = await answered(fake_slack, events, bot), await answered(fake_slack, events, bot)
    url = fake_slack.response_url("fb")
    for answer, vote in ((first, "up"), (second, "down")):
        element = feedback_element(answer)
        assert element is not None
        await events.interact(block_action(answer, "UBOB", click(element, vote), url, channel="C1"))
    await fake_slack.wait_for(lambda: len(fake_slack.ephemerals) == 2)
    await bot.runtime.tasks.wait()

    await events.deliver(tab_opened("UADMIN", "home", "DADMIN"))
    await events.deliver(tab_opened("UBOB", "home", "DBOB"))
    await fake_slack.wait_for(lambda: {"UADMIN", "UBOB"} <= set(fake_slack.home_views))
    admin = json.dumps(fake_slack.home_views["UADMIN"], ensure_ascii=False)
    assert "Answers: *2*   👍 *1*   👎 *1*   🙋 Called a human: *0*   Voted down: *50% of answers*" in admin
    permalink = f"https://test.slack.com/archives/C1/p{second['ts'].replace('.', '')}"
    assert f"Most recent 👎: <{permalink}|this answer> in <#C1>" in admin
    assert "feedback" not in json.dumps(fake_slack.home_views["UBOB"]).lower()
    assert "Answers:" not in json.dumps(fake_slack.home_views["UBOB"])


@pytest.mark.parametrize("fault", [Fault(error="channel_not_found"), Fault(hang=True)], ids=["refused", "hung"])
async def test_the_admin_view_links_the_archive_when_slack_gives_no_permalink(
    fake_slack: FakeSlack, bot_factory: BotFactory, http: object, fault: Fault
) -> None:
    bot = await bot_factory(ADMIN_USER_IDS="UADMIN")
    events = EventSender(bot.url + "/slack/events", http)  # type: ignore[arg-type]
    answer = await answered(fake_slack, events, bot, channel="DALICE")
    element = feedback_element(answer)
    assert element is not None
    await events.interact(block_action(answer, "UALICE", click(element, "down"), "http://x", channel="DALICE"))
    await fake_slack.wait_for(lambda: len(fake_slack.ephemerals) == 1)
    await bot.runtime.tasks.wait()
    fake_slack.faults["chat.getPermalink"] = [fault]
    await events.deliver(tab_opened("UADMIN", "home", "DADMIN"))
    await fake_slack.wait_for(lambda: "UADMIN" in fake_slack.home_views)
    admin = json.dumps(fake_slack.home_views["UADMIN"], ensure_ascii=False)
    stamp = answer["ts"].replace(".", "")
    assert f"<https://slack.com/archives/DALICE/p{stamp}?thread_ts={answer['thread_ts']}|this answer> in a DM" in admin


async def test_votes_are_shared_through_redis_and_expire(fake_slack: FakeSlack) -> None:
    """Two processes count into the same days; a person's vote is one across them."""
    async with redis_server() as url:
        one, two = RedisStore.from_url(url), RedisStore.from_url(url)
        try:
            await _count_votes_in(Feedback(one), Feedback(two))
            ttl = await one.client.ttl("slackbot:note:vote:C1:1700000000.000001:UBOB")
            assert 0 < ttl <= 8 * 24 * 3600
        finally:
            await one.close()
            await two.close()


async def test_votes_in_memory() -> None:
    store = MemoryStore()
    await _count_votes_in(Feedback(store), Feedback(store))


async def _count_votes_in(first: Feedback, second: Feedback) -> None:
    from bot.answer.feedback import Ballot

    def ballot(user: str, vote: str) -> Ballot:
        return Ballot(user, "C1", "1700000000.000001", "1700000000.000001", vote, MODEL_ID)  # type: ignore[arg-type]

    await first.answered()
    assert await first.vote(ballot("UBOB", "up")) is None
    assert await second.vote(ballot("UBOB", "down")) == "up"
    assert await first.vote(ballot("UALICE", "down")) is None
    report = await second.report()
    assert report is not None
    assert (report.answers, report.up, report.down) == (1, 0, 2)
    assert report.last_down is not None


async def test_a_click_over_socket_mode_is_acknowledged_and_thanked(
    fake_slack: FakeSlack, fake_model: FakeModel, environ: dict[str, str], http: object
) -> None:
    async with socket_mode_bot(environ, fake_slack):
        question = fake_slack.post_as_person("DALICE", "UALICE", "hello")
        sender = EventSender("unused", http)  # type: ignore[arg-type]
        await fake_slack.push_event(sender.envelope({**question, "type": "message", "channel_type": "im"}))
        await fake_slack.wait_for_replies("DALICE", question["ts"])
        answer = fake_slack.bot_messages("DALICE", question["ts"])[-1]
        element = feedback_element(answer)
        assert element is not None
        payload = block_action(answer, "UALICE", click(element, "up"), "http://x", channel="DALICE")
        envelope_id = await fake_slack.push("interactive", payload, "env-feedback")
        await fake_slack.wait_for(lambda: envelope_id in fake_slack.socket_acks and bool(fake_slack.ephemerals))
        assert fake_slack.ephemerals[0]["text"].startswith("Thanks for the feedback")


def test_the_admin_view_says_when_the_counts_cannot_be_read() -> None:
    from bot.features.feedback_view import UNAVAILABLE, feedback_blocks

    assert UNAVAILABLE in json.dumps(feedback_blocks(None, None))


@pytest.mark.parametrize(
    "value", ["", "not json", "[1, 2]", '{"vote": "sideways"}', '{"vote": null}', '"up"'], ids=repr
)
def test_a_ballot_is_read_only_from_a_well_formed_click(value: str) -> None:
    from bot.answer.feedback import Ballot

    body = {"user": {"id": "UBOB"}, "container": {"channel_id": "C1", "message_ts": "1700000000.000002"}}
    assert Ballot.from_action(body, {"action_id": ACTION_ID, "value": value}) is None
    good = Ballot.from_action(body, {"action_id": ACTION_ID, "value": '{"vote": "down", "model": "m"}'})
    assert good is not None
    assert (good.vote, good.thread_ts, good.model) == ("down", "1700000000.000002", "m")
    assert Ballot.from_action({**body, "user": {}}, {"value": '{"vote": "up"}'}) is None
    odd_ts = {**body, "container": {"channel_id": "C1", "message_ts": "x"}}
    assert Ballot.from_action(odd_ts, {"value": '{"vote": "up"}'}) is None
