"""Conversation memory: the exact thread, through restarts, long threads, concurrency and several processes."""

from __future__ import annotations

import aiohttp
import pytest

from bot.app.listeners import edited_thread
from bot.app.runtime import EVENTS_PATH
from bot.store.memory import MemoryStore
from tests.conftest import BotFactory, RunningBot
from tests.fakes.events import EventSender
from tests.fakes.model_api import FakeModel, Reply, WholeReply
from tests.fakes.slack_api import BOT_USER_ID, FakeSlack
from tests.redis_server import redis_server

MENTION = f"<@{BOT_USER_ID}>"


def conversation(request: dict[str, object]) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in request["messages"]][1:]  # type: ignore[attr-defined,index]


async def test_history_is_rebuilt_after_a_restart(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    """A fresh process reads the thread from Slack: nothing said before the restart is forgotten."""
    first_bot = await bot_factory()
    parent = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} my name is Alice")
    fake_model.script.append(Reply(["Nice to meet you."]))
    await EventSender(first_bot.url + EVENTS_PATH, http).mention(parent)
    await fake_slack.wait_for_replies("C1", parent["ts"])
    await first_bot.close()

    second_bot = await bot_factory()
    follow_up = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} what is my name?", thread_ts=parent["ts"])
    await EventSender(second_bot.url + EVENTS_PATH, http).mention(follow_up)
    await fake_slack.wait_for_replies("C1", parent["ts"], count=2)
    assert conversation(fake_model.requests[1]) == [
        ("user", "Alice: my name is Alice"),
        ("assistant", "Nice to meet you."),
        ("user", "Alice: what is my name?"),
    ]


async def test_plain_thread_messages_are_context_with_the_speaker_named(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, bot: RunningBot
) -> None:
    """Another person's unmentioned message is not answered, but the next answer sees it, named."""
    parent = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} pick a day for the offsite")
    await events.mention(parent)
    await fake_slack.wait_for_replies("C1", parent["ts"])

    chatter = fake_slack.post_as_person("C1", "UBOB", "Fridays do not work for me", thread_ts=parent["ts"])
    await events.message(chatter)
    await bot.runtime.tasks.wait()
    assert len(fake_model.requests) == 1

    follow_up = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} so which day?", thread_ts=parent["ts"])
    await events.mention(follow_up)
    await fake_slack.wait_for_replies("C1", parent["ts"], count=2)
    assert conversation(fake_model.requests[1])[-1] == (
        "user",
        "Bob: Fridays do not work for me\n\nAlice: so which day?",
    )


async def test_two_quick_mentions_are_answered_in_order(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, bot: RunningBot
) -> None:
    """The second answer waits for the first and sees it."""
    parent = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} first question")
    second = fake_slack.post_as_person("C1", "UBOB", f"{MENTION} second question", thread_ts=parent["ts"])
    fake_model.script += [Reply(["First ", "answer."], delay=0.3), Reply(["Second answer."])]
    await events.mention(parent)
    await events.mention(second)
    replies = await fake_slack.wait_for_replies("C1", parent["ts"], count=2)
    assert replies == ["First answer.", "Second answer."]
    await bot.runtime.tasks.wait()
    assert isinstance(bot.runtime.store, MemoryStore)
    assert len(bot.runtime.store.turns) == 0, "per-thread turns are dropped once nobody waits"
    assert conversation(fake_model.requests[1]) == [
        ("user", "Alice: first question"),
        ("assistant", "First answer."),
        ("user", "Bob: second question"),
    ]


async def test_a_long_thread_is_trimmed_to_the_budget(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    """A 400-message thread far over the budget is answered; the newest message is kept, the oldest dropped."""
    bot = await bot_factory(MODEL_INPUT_BUDGET_TOKENS="2000")
    parent = fake_slack.post_as_person("C1", "UALICE", "OPENING " + "a" * 200)
    for index in range(398):
        fake_slack.post_as_person("C1", "UBOB", f"message {index} " + "b" * 200, thread_ts=parent["ts"])
    last = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} summarise please", thread_ts=parent["ts"])
    await EventSender(bot.url + EVENTS_PATH, http).mention(last)
    await fake_slack.wait_for_replies("C1", parent["ts"])

    request = fake_model.requests[0]
    characters = sum(len(message["content"]) for message in request["messages"])
    assert characters / 4 < 2000
    assert request["messages"][-1]["content"].endswith("Alice: summarise please")
    assert "message 397" in request["messages"][-1]["content"]
    assert "OPENING" not in str(request["messages"])
    assert "left out" in request["messages"][0]["content"]
    assert len(fake_slack.calls_to("conversations.replies")) >= 2, "the thread is read across pages"


async def test_an_oversized_message_is_shortened_with_a_marker(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    bot = await bot_factory(MODEL_INPUT_BUDGET_TOKENS="1000")
    message = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} " + "x" * 100_000 + " what is this?")
    await EventSender(bot.url + EVENTS_PATH, http).mention(message)
    await fake_slack.wait_for_replies("C1", message["ts"])
    content = fake_model.requests[0]["messages"][-1]["content"]
    assert "characters left out here" in content
    assert content.endswith("what is this?")
    assert len(content) < 4000


async def test_context_too_long_is_retried_once_with_a_smaller_budget(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    bot = await bot_factory(MODEL_INPUT_BUDGET_TOKENS="4000")
    parent = fake_slack.post_as_person("C1", "UALICE", "context " + "c" * 8000)
    question = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} and?", thread_ts=parent["ts"])
    fake_model.script += [WholeReply(400, '{"error": {"message": "prompt is too long"}}'), Reply(["Short answer."])]
    await EventSender(bot.url + EVENTS_PATH, http).mention(question)
    assert await fake_slack.wait_for_replies("C1", parent["ts"]) == ["Short answer."]
    sizes = [sum(len(m["content"]) for m in request["messages"]) for request in fake_model.requests]
    assert len(sizes) == 2
    assert sizes[1] < sizes[0]


async def test_repeat_turns_read_only_what_is_new(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    """The cached thread makes a follow-up cheap: Slack is asked only for messages after the last turn."""
    parent = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} one")
    await events.mention(parent)
    await fake_slack.wait_for_replies("C1", parent["ts"])
    follow_up = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} two", thread_ts=parent["ts"])
    await events.mention(follow_up)
    await fake_slack.wait_for_replies("C1", parent["ts"], count=2)
    second_read = fake_slack.calls_to("conversations.replies")[-1].params
    assert second_read["oldest"] == parent["ts"]
    assert len(conversation(fake_model.requests[1])) == 3


async def test_an_edit_in_the_thread_is_seen_by_the_next_turn(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, bot: RunningBot
) -> None:
    """An edited message is never served stale from the cache."""
    parent = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} the code is 1234")
    await events.mention(parent)
    await fake_slack.wait_for_replies("C1", parent["ts"])
    await events.deliver(fake_slack.edit_as_person("C1", parent["ts"], f"{MENTION} the code is 9999"))
    await bot.runtime.tasks.wait()
    follow_up = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} what is the code?", thread_ts=parent["ts"])
    await events.mention(follow_up)
    await fake_slack.wait_for_replies("C1", parent["ts"], count=2)
    assert conversation(fake_model.requests[1])[0] == ("user", "Alice: the code is 9999")


async def test_two_processes_share_redis(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    """With REDIS_URL, one event delivered to both processes is answered once; the other process continues it."""
    async with redis_server() as redis_url:
        first = await bot_factory(REDIS_URL=redis_url)
        second = await bot_factory(REDIS_URL=redis_url)
        to_first = EventSender(first.url + EVENTS_PATH, http)
        to_second = EventSender(second.url + EVENTS_PATH, http)

        parent = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} remember the word zebra")
        fake_model.script.append(Reply(["Remembered."], delay=0.2))
        await to_first.mention(parent, event_id="EvShared")
        await to_second.deliver({**parent, "type": "app_mention"}, event_id="EvShared", retry_num=1)
        await to_second.message(parent, event_id="EvOther")
        await fake_slack.wait_for_replies("C1", parent["ts"])
        await first.runtime.tasks.wait()
        await second.runtime.tasks.wait()
        assert fake_slack.bot_replies("C1", parent["ts"]) == ["Remembered."]

        follow_up = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} which word?", thread_ts=parent["ts"])
        await to_second.mention(follow_up)
        await fake_slack.wait_for_replies("C1", parent["ts"], count=2)
        assert conversation(fake_model.requests[-1]) == [
            ("user", "Alice: remember the word zebra"),
            ("assistant", "Remembered."),
            ("user", "Alice: which word?"),
        ]
        assert len(fake_model.requests) == 2
        await first.close()
        await second.close()


async def test_turns_across_processes_wait_for_each_other(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    """Two mentions of one thread on two processes: the second is answered after, and with, the first."""
    async with redis_server() as redis_url:
        first = await bot_factory(REDIS_URL=redis_url)
        second = await bot_factory(REDIS_URL=redis_url)
        parent = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} question one")
        other = fake_slack.post_as_person("C1", "UBOB", f"{MENTION} question two", thread_ts=parent["ts"])
        fake_model.script += [Reply(["Answer ", "one."], delay=0.3), Reply(["Answer two."])]
        await EventSender(first.url + EVENTS_PATH, http).mention(parent)
        await fake_model.wait_for_requests(1)
        await EventSender(second.url + EVENTS_PATH, http).mention(other)
        assert await fake_slack.wait_for_replies("C1", parent["ts"], count=2) == ["Answer one.", "Answer two."]
        assert ("assistant", "Answer one.") in conversation(fake_model.requests[1])
        await first.close()
        await second.close()


async def test_an_edit_during_a_thread_read_is_not_cached_stale(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, bot: RunningBot
) -> None:
    """An edit that lands while a turn is reading the thread still reaches the next turn."""
    parent = fake_slack.post_as_person("C1", "UALICE", "about the door")
    code = fake_slack.post_as_person("C1", "UBOB", "the code is 1234", thread_ts=parent["ts"])
    question = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} noted?", thread_ts=parent["ts"])
    fake_slack.latency = {"conversations.replies": 0.5}
    await events.mention(question)
    await fake_slack.wait_for(lambda: bool(fake_slack.calls_to("conversations.replies")))
    await events.deliver(fake_slack.edit_as_person("C1", code["ts"], "the code is 9999"))
    await fake_slack.wait_for_replies("C1", parent["ts"])
    await bot.runtime.tasks.wait()
    fake_slack.latency = {}
    follow_up = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} what is the code?", thread_ts=parent["ts"])
    await events.mention(follow_up)
    await fake_slack.wait_for_replies("C1", parent["ts"], count=2)
    assert "Bob: the code is 9999" in conversation(fake_model.requests[1])[0][1]


@pytest.mark.parametrize("change", ["deleted", "edited"])
async def test_a_deleted_or_edited_answer_leaves_the_models_context(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, bot: RunningBot, change: str
) -> None:
    """An admin deletes (or a tool edits) an answer that leaked something after a later turn cached it: the
    next answer's request holds the thread as Slack has it now, not the cached copy."""
    parent = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} what is the wifi password?")
    fake_model.script += [Reply(["It is hunter2."]), Reply(["Noted."]), Reply(["Sure."])]
    await events.mention(parent)
    await fake_slack.wait_for_replies("C1", parent["ts"])
    second = fake_slack.post_as_person("C1", "UBOB", f"{MENTION} thanks", thread_ts=parent["ts"])
    await events.mention(second)
    await fake_slack.wait_for_replies("C1", parent["ts"], count=2)
    await bot.runtime.tasks.wait()
    assert "hunter2" in str(fake_model.requests[1]["messages"]), "the answer is in the cached thread"

    leaked = fake_slack.bot_messages("C1", parent["ts"])[0]["ts"]
    if change == "deleted":
        event = fake_slack.delete("C1", leaked)
    else:
        event = fake_slack.edit_as_person("C1", leaked, "(removed by an admin)")
    await events.message(event)
    await bot.runtime.tasks.wait()
    third = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} say it again?", thread_ts=parent["ts"])
    await events.mention(third)
    await fake_model.wait_for_requests(3)
    await bot.runtime.tasks.wait()
    assert "hunter2" not in str(fake_model.requests[2]["messages"])
    assert conversation(fake_model.requests[2])[-1] == ("user", "Alice: say it again?")


async def test_edits_of_a_streaming_answer_wait_as_one_forget(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, bot: RunningBot
) -> None:
    """Every update of an answer in progress is an edit event; those that arrive while a forget of the thread
    waits for its turn ride on it, instead of queueing one forget each."""
    forgotten: list[str] = []
    threads = bot.runtime.answerer.threads
    forget = threads.forget

    async def counting_forget(channel: str, thread_ts: str) -> None:
        forgotten.append(thread_ts)
        await forget(channel, thread_ts)

    threads.forget = counting_forget  # type: ignore[method-assign]
    parent = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} tell me a long story")
    fake_model.script.append(Reply([f"part {index} " for index in range(4)], delay=0.3))
    await events.mention(parent)
    await fake_slack.wait_for(lambda: bool(fake_slack.bot_messages("C1", parent["ts"])))
    answer = fake_slack.bot_messages("C1", parent["ts"])[0]["ts"]
    for index in range(20):
        await events.message(fake_slack.edit_as_person("C1", answer, f"part {index}"))
    await fake_slack.wait_for_replies("C1", parent["ts"])
    await bot.runtime.tasks.wait()
    assert forgotten == [parent["ts"]]


@pytest.mark.parametrize(
    "event",
    [
        {"subtype": "message_changed", "message": {"subtype": "thread_broadcast", "ts": "5.0", "thread_ts": "1.0"}},
        {
            "subtype": "message_deleted",
            "previous_message": {"subtype": "thread_broadcast", "ts": "5.0", "thread_ts": "1.0"},
        },
        {"subtype": "message_changed", "message": {"subtype": "file_share", "ts": "5.0", "thread_ts": "1.0"}},
        {"subtype": "message_deleted", "previous_message": {"user": BOT_USER_ID, "ts": "5.0", "thread_ts": "1.0"}},
        {"subtype": "message_changed", "message": {"user": "UALICE", "ts": "1.0"}},
    ],
)
def test_broadcast_file_and_own_edits_name_their_thread(event: dict[str, object]) -> None:
    assert edited_thread(event) == "1.0"
