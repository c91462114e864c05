"""Controls for the people who pay: daily token budgets and redaction, as people see them in the thread."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import aiohttp
import pytest

from bot.answer.usage import Usage
from bot.app.runtime import EVENTS_PATH
from bot.model.client import Answer
from bot.model.messages import ChatMessage
from bot.store.redis_store import RedisStore
from tests.bot_process import BotProcess, free_port
from tests.conftest import BotFactory
from tests.fakes.events import EventSender
from tests.fakes.model_api import FakeModel, Reply, WholeReply, text_of
from tests.fakes.slack_api import BOT_USER_ID, FakeSlack
from tests.files_data import pdf
from tests.redis_server import redis_server, watching

# The fake model reports 10 input + 5 output tokens per answer: one answer spends a 10-token budget.
SMALL_BUDGET = "10"


async def ask(fake_slack: FakeSlack, events: EventSender, user: str, text: str, channel: str = "C1") -> list[str]:
    """A person mentions the bot in a new thread; returns what the bot said there."""
    if channel.startswith("D"):
        message = fake_slack.post_as_person(channel, user, text)
        await events.message(message, channel_type="im")
    else:
        message = fake_slack.post_as_person(channel, user, f"<@{BOT_USER_ID}> {text}")
        await events.mention(message)
    return await fake_slack.wait_for_replies(channel, message["ts"])


def sender(bot_url: str, http: aiohttp.ClientSession) -> EventSender:
    return EventSender(bot_url + EVENTS_PATH, http)


async def test_the_question_past_a_persons_budget_gets_a_notice_and_the_model_nothing(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    """The answer that crosses the budget is shown whole; the next question is refused, naming the budget."""
    bot = await bot_factory(DAILY_TOKENS_PER_PERSON=SMALL_BUDGET)
    events = sender(bot.url, http)
    fake_model.script.append(Reply(["A long answer ", "that crosses the budget."]))
    assert await ask(fake_slack, events, "UALICE", "first") == ["A long answer that crosses the budget."]
    assert fake_model.requests[0]["stream_options"] == {"include_usage": True}

    [notice] = await ask(fake_slack, events, "UALICE", "second")
    assert "You've used your daily budget of 10 tokens" in notice
    assert "It resets at midnight UTC, in " in notice
    assert len(fake_model.requests) == 1

    assert await ask(fake_slack, events, "UBOB", "mine") == ["You said: Bob: mine"]


async def test_an_over_budget_question_is_refused_before_its_files_and_links_are_read(
    fake_slack: FakeSlack,
    fake_model: FakeModel,
    bot_factory: BotFactory,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A person past their budget asks about a PDF and a linked thread: the notice comes at once, and
    nothing is downloaded or read for an answer the model will never be asked for."""
    bot = await bot_factory(DAILY_TOKENS_PER_PERSON=SMALL_BUDGET)
    events = sender(bot.url, http)
    await ask(fake_slack, events, "UALICE", "first")
    incident = fake_slack.post_as_person("C9", "UBOB", "Deploy failed: disk full")
    link = f"https://test.slack.com/archives/C9/p{str(incident['ts']).replace('.', '')}"
    spec = fake_slack.add_file("spec.pdf", pdf("The API returns 429 when busy."), "application/pdf")
    question = fake_slack.post_as_person(
        "C1", "UALICE", f"<@{BOT_USER_ID}> compare <{link}> with this", subtype="file_share", files=[spec]
    )
    calls_before = len(fake_slack.calls)
    with caplog.at_level(logging.INFO, logger="bot.answer.answerer"):
        await events.mention(question)
        [notice] = await fake_slack.wait_for_replies("C1", str(question["ts"]))
        await bot.runtime.tasks.wait()
    assert "You've used your daily budget of 10 tokens" in notice
    assert fake_slack.download_attempts == []
    read = {"files.info", "conversations.replies", "conversations.history", "conversations.members"}
    assert [call.method for call in fake_slack.calls[calls_before:] if call.method in read] == []
    [logged] = [record for record in caplog.records if getattr(record, "message_ts", None) == question["ts"]]
    assert getattr(logged, "outcome", None) == "over_budget"
    assert len(fake_model.requests) == 1


async def test_a_channels_budget_refuses_everyone_there_but_not_in_a_dm(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    bot = await bot_factory(DAILY_TOKENS_PER_CHANNEL=SMALL_BUDGET)
    events = sender(bot.url, http)
    await ask(fake_slack, events, "UALICE", "first")
    [notice] = await ask(fake_slack, events, "UBOB", "second")
    assert "This channel has used its daily budget of 10 tokens" in notice
    assert "You can still ask me in a DM." in notice
    assert await ask(fake_slack, events, "UBOB", "in private", channel="D1") == ["You said: Bob: in private"]
    assert len(fake_model.requests) == 2


async def test_an_admin_has_no_budget(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    bot = await bot_factory(DAILY_TOKENS_PER_PERSON=SMALL_BUDGET, ADMIN_USER_IDS="UALICE")
    events = sender(bot.url, http)
    for question in ("one", "two", "three"):
        assert await ask(fake_slack, events, "UALICE", question) == [f"You said: Alice: {question}"]
    assert len(fake_model.requests) == 3


async def test_a_service_that_reports_no_usage_is_counted_as_characters_over_four(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    """No usage reported: the estimate still counts, so a budget holds against such a service too."""
    bot = await bot_factory(DAILY_TOKENS_PER_PERSON="100")
    events = sender(bot.url, http)
    fake_model.script.append(Reply(["x" * 500], usage=None))
    await ask(fake_slack, events, "UALICE", "write a lot")
    [notice] = await ask(fake_slack, events, "UALICE", "more")
    assert "daily budget of 100 tokens" in notice
    assert len(fake_model.requests) == 1


async def test_two_processes_share_the_budget_through_redis(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    async with redis_server() as url:
        first = await bot_factory(REDIS_URL=url, DAILY_TOKENS_PER_PERSON=SMALL_BUDGET)
        second = await bot_factory(REDIS_URL=url, DAILY_TOKENS_PER_PERSON=SMALL_BUDGET)
        assert await ask(fake_slack, sender(first.url, http), "UALICE", "on one dyno") == [
            "You said: Alice: on one dyno"
        ]
        [notice] = await ask(fake_slack, sender(second.url, http), "UALICE", "on the other")
        assert "You've used your daily budget" in notice
        assert len(fake_model.requests) == 1
        await first.close()
        await second.close()


SENSITIVE = {
    "4111 1111 1111 1111": "[card number]",
    "jane.doe@example.com": "[email]",
    "+44 20 7946 0958": "[phone number]",
    "DE89 3704 0044 0532 0130 00": "[IBAN]",
    "xoxp-1234567890-0987654321-abcdefabcdef": "[Slack token]",
    "AKIAIOSFODNN7EXAMPLE": "[AWS key]",
    "ghp_" + "A1b2" * 9: "[GitHub token]",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c": "[JWT]",
}


async def test_each_kind_of_sensitive_value_is_masked_for_the_model_and_untouched_in_slack(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    pasted = "\n".join(f"- {value}" for value in SENSITIVE)
    text = f"<@{BOT_USER_ID}> what are these?\n{pasted}\nAuthorization: Bearer abcdef123456\n```\nkey = 1\n```"
    message = fake_slack.post_as_person("C1", "UALICE", text)
    await events.mention(message)
    await fake_slack.wait_for_replies("C1", message["ts"])

    sent = fake_model.requests[0]["messages"][-1]["content"]
    expected = "\n".join(f"- {label}" for label in SENSITIVE.values())
    assert sent == f"Alice: what are these?\n{expected}\nAuthorization: Bearer [token]\n```\nkey = 1\n```"
    assert fake_slack.thread("C1", message["ts"])[0]["text"] == text
    assert not fake_slack.calls_to("chat.update") or all(
        call.params.get("ts") != message["ts"] for call in fake_slack.calls_to("chat.update")
    )


async def test_a_message_with_letters_re2_folds_into_ascii_after_basic_is_answered(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    """`basic` before a long s: RE2's (?i) read it as base64, which then failed the whole answer."""
    replies = await ask(fake_slack, events, "UALICE", "is this basic \u017f\u017f\u017f\u017f\u017f\u017f\u017f\u017f?")
    assert fake_model.requests[0]["messages"][-1]["content"] == (
        "Alice: is this basic \u017f\u017f\u017f\u017f\u017f\u017f\u017f\u017f?"
    )
    assert [reply.startswith("You said: Alice: is this basic") for reply in replies] == [True]


async def test_redact_off_sends_the_text_as_written(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    bot = await bot_factory(REDACT="off")
    pasted = " ".join(SENSITIVE)
    await ask(fake_slack, sender(bot.url, http), "UALICE", pasted)
    assert fake_model.requests[0]["messages"][-1]["content"] == f"Alice: {pasted}"


async def test_strict_masks_people_who_are_not_speaking_and_the_operators_patterns(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    bot = await bot_factory(REDACT="strict", REDACT_PATTERNS="ACME-[0-9]+\nproject \\w+")
    await ask(fake_slack, sender(bot.url, http), "UALICE", "did <@UBOB> close ACME-1234 for project Falcon?")
    assert fake_model.requests[0]["messages"][-1]["content"] == "Alice: did @[person] close [redacted] for [redacted]?"


def view_text(view: dict[str, Any]) -> str:
    """Every text in a Home tab view, in order."""
    texts: list[str] = []
    for block in view["blocks"]:
        for item in [block.get("text"), *block.get("fields", []), *block.get("elements", [])]:
            if isinstance(item, dict) and "text" in item:
                texts.append(str(item["text"]))
    return "\n".join(texts)


async def open_home(fake_slack: FakeSlack, events: EventSender, user: str) -> str:
    fake_slack.home_views.pop(user, None)
    await events.deliver({"type": "app_home_opened", "user": user, "channel": "D1", "tab": "home"})
    await fake_slack.wait_for(lambda: user in fake_slack.home_views)
    return view_text(fake_slack.home_views[user])


async def test_the_admin_home_tab_shows_todays_and_the_weeks_usage(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    bot = await bot_factory(ADMIN_USER_IDS="UALICE", DAILY_TOKENS_PER_PERSON=SMALL_BUDGET)
    events = sender(bot.url, http)
    await ask(fake_slack, events, "UALICE", "one")
    await ask(fake_slack, events, "UBOB", "two", channel="C2")
    fake_model.script.append(WholeReply(400, '{"error": {"message": "bad request"}}'))
    await ask(fake_slack, events, "UCAROL", "three", channel="C2")
    await ask(fake_slack, events, "UBOB", "four")

    home = await open_home(fake_slack, events, "UALICE")
    summary = "3 questions · 20 tokens in · 10 tokens out · 1 error · 1 refused by a budget"
    assert f"*Today*: {summary}" in home
    assert f"*Last 7 days*: {summary}" in home
    assert "*Top channels*\n1. <#C1>: 15\n2. <#C2>: 15" in home
    assert "*Top people*\n1. <@UALICE>: 15\n2. <@UBOB>: 15\n*" in home
    assert "For admins" not in await open_home(fake_slack, events, "UBOB")


async def test_python_m_bot_usage_prints_the_counts_from_redis(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    async with redis_server() as url:
        bot = await bot_factory(REDIS_URL=url)
        events = sender(bot.url, http)
        await ask(fake_slack, events, "UALICE", "one")
        await ask(fake_slack, events, "UBOB", "two", channel="D1")
        await bot.close()
        process = await BotProcess.start({"REDIS_URL": url}, "usage")
        assert await process.finish() == 0
    lines = [" ".join(line.split()) for line in process.output]
    assert "usage (UTC days) today last 7 days" in lines
    assert "questions 2 2" in lines
    assert "tokens in 20 20" in lines
    assert "tokens out 10 10" in lines
    assert "errors 0 0" in lines
    assert "refused by a budget 0 0" in lines
    assert "1 C1 15 C1 15" in lines
    assert "2 DMs 15 DMs 15" in lines
    assert "1 UALICE 15 UALICE 15" in lines


async def test_python_m_bot_usage_without_redis_says_where_usage_is() -> None:
    process = await BotProcess.start({}, "usage")
    assert await process.finish() == 0
    assert "usage is counted by each running process on its own, and only visible in the bot's Home tab" in "\n".join(
        process.output
    )


async def test_sensitive_values_in_a_file_and_in_a_followed_link_are_masked_for_the_model(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    pasted = "\n".join(SENSITIVE)
    masked = "\n".join(SENSITIVE.values())
    notes = fake_slack.add_file("notes.txt", f"{pasted}\n".encode(), "text/plain")
    parent = fake_slack.post_as_person("C9", "UBOB", f"the values:\n{pasted}")
    link = f"https://test.slack.com/archives/C9/p{str(parent['ts']).replace('.', '')}"
    question = fake_slack.post_as_person(
        "C1", "UALICE", f"<@{BOT_USER_ID}> compare with <{link}>", subtype="file_share", files=[notes]
    )
    await events.mention(question)
    await fake_slack.wait_for_replies("C1", str(question["ts"]))

    sent = text_of(fake_model.requests[0]["messages"][-1])
    assert f'<file name="notes.txt">\n{masked}\n' in sent
    assert f"the values:\n{masked}" in sent
    assert not [value for value in SENSITIVE if value in sent]
    assert fake_slack.thread("C9", parent["ts"])[0]["text"] == f"the values:\n{pasted}"


async def test_python_m_bot_usage_says_when_redis_cannot_be_read() -> None:
    process = await BotProcess.start({"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}, "usage")
    assert await process.finish() == 1
    assert "Usage can't be read right now" in "\n".join(process.output)


async def test_the_logged_model_request_is_the_redacted_one(
    fake_slack: FakeSlack,
    fake_model: FakeModel,
    bot_factory: BotFactory,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With LOG_MESSAGE_CONTENT on, the log shows what the model was sent, not what it was spared."""
    bot = await bot_factory(LOG_MESSAGE_CONTENT="true")
    with caplog.at_level(logging.INFO, logger="bot.answer.asking"):
        await ask(fake_slack, sender(bot.url, http), "UALICE", "mail jane.doe@example.com")
    [logged] = [record for record in caplog.records if record.getMessage() == "model request"]
    assert logged.messages[-1] == {"role": "user", "content": "Alice: mail [email]", "images": 0}  # type: ignore[attr-defined]
    assert logged.thread_ts  # type: ignore[attr-defined]


async def test_a_service_that_refuses_stream_options_is_asked_without_them(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    """Some OpenAI-compatible servers reject the usage option: the question is answered all the same."""
    refusal = '{"error": {"message": "Unrecognized request argument supplied: stream_options"}}'
    fake_model.script.append(WholeReply(400, refusal))
    assert await ask(fake_slack, events, "UALICE", "first") == ["You said: Alice: first"]
    assert await ask(fake_slack, events, "UALICE", "second") == ["You said: Alice: second"]
    assert ["stream_options" in request for request in fake_model.requests] == [True, False, False]


async def test_questions_asked_at_once_cannot_all_pass_a_budget_with_room_for_one(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    """Five questions in five threads while the first answer is still coming: the first is answered, the
    others are refused, and the model is asked once; once the answer is counted, what it really cost stays."""
    bot = await bot_factory(DAILY_TOKENS_PER_PERSON="1000")
    events = sender(bot.url, http)
    first_may_start = asyncio.Event()
    fake_model.script.append(Reply(["The answer."], starts=first_may_start))
    questions = [
        fake_slack.post_as_person("C1", "UALICE", f"<@{BOT_USER_ID}> question {n} " + "x" * 4000) for n in range(5)
    ]
    await events.mention(questions[0])
    await fake_model.wait_for_requests(1)
    for question in questions[1:]:
        await events.mention(question)
    for question in questions[1:]:
        [notice] = await fake_slack.wait_for_replies("C1", question["ts"])
        assert "You've used your daily budget of 1,000 tokens" in notice
    first_may_start.set()
    assert await fake_slack.wait_for_replies("C1", questions[0]["ts"]) == ["The answer."]
    assert len(fake_model.requests) == 1
    await bot.runtime.tasks.wait()
    assert await bot.runtime.answerer.usage.budget_spent("UALICE", "C1", direct=False) is None


@pytest.mark.parametrize("shared", [False, True], ids=["memory", "redis"])
async def test_a_burst_at_a_nearly_spent_budget_gets_only_what_fits(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession, shared: bool
) -> None:
    """286 of 300 tokens spent, ten questions at once: one is answered (its estimate fills the budget), the
    other nine are told the budget is spent, whether one process counts or several share Redis."""
    async with contextlib.AsyncExitStack() as stack:
        store = {"REDIS_URL": await stack.enter_async_context(redis_server())} if shared else {}
        bot = await bot_factory(DAILY_TOKENS_PER_PERSON="300", **store)
        spent = Answer(text="earlier", finish_reason="stop", usage={"prompt_tokens": 276, "completion_tokens": 10})
        await bot.runtime.answerer.usage.record("UALICE", "C1", direct=False, answer=spent, failed=False)
        events = sender(bot.url, http)
        questions = [
            fake_slack.post_as_person("C1", "UALICE", f"<@{BOT_USER_ID}> question {n} " + "x" * 400) for n in range(10)
        ]
        await asyncio.gather(*(events.mention(question) for question in questions))
        replies = [await fake_slack.wait_for_replies("C1", question["ts"]) for question in questions]
        answered = [reply for reply in replies if reply[0].startswith("You said: Alice: question")]
        refused = [reply for reply in replies if "You've used your daily budget of 300 tokens" in reply[0]]
        assert (len(answered), len(refused)) == (1, 9)
        assert len(fake_model.requests) == 1
        await bot.close()


async def test_a_process_killed_mid_answer_leaves_no_charge_once_its_lease_is_over(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    """A dyno that died mid-answer never releases its reservation: while its lease runs it is an answer in
    flight for all anyone can tell, and counts; once the lease is over, the person is answered, not refused
    with 0 tokens used."""
    async with redis_server() as url, watching(url) as watch:
        bot = await bot_factory(REDIS_URL=url, DAILY_TOKENS_PER_PERSON="1000")
        dead = Usage(RedisStore.from_url(url), bot.runtime.answerer.usage.settings, lease_seconds=1)
        await dead.reserve("UALICE", "C1", direct=False, messages=[ChatMessage("user", "x" * 4000)])
        await dead.store.close()
        assert await bot.runtime.answerer.usage.budget_spent("UALICE", "C1", direct=False) is not None

        async def lapsed(client: Any) -> bool:
            return not await client.keys("slackbot:usage:*:reserved:*")

        await watch.wait_for(lapsed)
        assert await ask(fake_slack, sender(bot.url, http), "UALICE", "am I charged?") == [
            "You said: Alice: am I charged?"
        ]
        await bot.close()
