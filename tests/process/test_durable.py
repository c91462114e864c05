"""Two real `python -m bot` processes on one Redis: a question is answered once, in full, in one message,
when the process answering it gets SIGTERM (handed back at once) or SIGKILL (reclaimed by the other)."""

from __future__ import annotations

import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from tests.bot_process import BotProcess, free_port
from tests.fakes.events import EventSender
from tests.fakes.model_api import FakeModel, Reply, text_of
from tests.fakes.slack_api import BOT_USER_ID, FakeSlack
from tests.redis_server import controlled_redis_server

LONG = Reply([f"part {index} " for index in range(200)], delay=0.1)
WHOLE = Reply(["Whole ", "answer."])


@asynccontextmanager
async def bot_process(environ: dict[str, str], redis_url: str) -> AsyncIterator[tuple[BotProcess, str]]:
    port = free_port()
    process = await BotProcess.start({**environ, "PORT": str(port), "REDIS_URL": redis_url})
    try:
        await process.wait_for_line("msg=listening")
        yield process, f"http://127.0.0.1:{port}/slack/events"
    finally:
        process.kill()
        await process.finish()


@asynccontextmanager
async def answering_a_long_question(
    fake_slack: FakeSlack, fake_model: FakeModel, environ: dict[str, str]
) -> AsyncIterator[tuple[BotProcess, str, dict[str, Any]]]:
    """One process on a Redis of its own, streaming a long answer (the model's next answer is short and whole):
    the process, Redis's URL, and the question."""
    fake_model.script += [LONG, WHOLE]
    question = fake_slack.post_as_person("C1", "UALICE", f"<@{BOT_USER_ID}> long one")
    async with (
        controlled_redis_server() as server,
        bot_process(environ, server.url) as (answering, url),
        aiohttp.ClientSession() as http,
    ):
        assert (await EventSender(url, http).mention(question)).status == 200
        await fake_slack.wait_for(lambda: len(fake_slack.calls_to("chat.appendStream")) >= 1)
        yield answering, server.url, question


async def test_sigterm_mid_answer_hands_it_to_the_live_process_which_answers_in_full_in_the_same_message(
    fake_slack: FakeSlack, fake_model: FakeModel, environ: dict[str, str]
) -> None:
    async with (
        answering_a_long_question(fake_slack, fake_model, environ) as (leaving, redis_url, question),
        bot_process(environ, redis_url) as (staying, _),
    ):
        leaving.process.send_signal(signal.SIGTERM)
        assert await leaving.finish(within_seconds=15) == 0
        await fake_slack.wait_for(
            lambda: fake_slack.bot_replies("C1", question["ts"]) == ["Whole answer."], within_seconds=15
        )
        await staying.wait_for_line("outcome=answered")
    [answer] = fake_slack.bot_messages("C1", question["ts"])
    assert not answer.get("streaming")
    assert not any("ask again" in text for text in answer["revisions"])
    assert "outcome=handed_back" in "\n".join(leaving.output)
    assert len(fake_model.requests) == 2


async def test_sigkill_mid_answer_is_reclaimed_by_the_live_process_and_answered_within_15_seconds(
    fake_slack: FakeSlack, fake_model: FakeModel, environ: dict[str, str]
) -> None:
    async with (
        answering_a_long_question(fake_slack, fake_model, environ) as (dying, redis_url, question),
        bot_process(environ, redis_url) as (staying, _),
    ):
        dying.kill()
        killed = time.monotonic()
        await fake_slack.wait_for(
            lambda: fake_slack.bot_replies("C1", question["ts"]) == ["Whole answer."], within_seconds=25
        )
        took = time.monotonic() - killed
        await staying.wait_for_line("outcome=answered")
    [answer] = fake_slack.bot_messages("C1", question["ts"])
    assert not answer.get("streaming"), "the dead process's stream is stopped and its text replaced"
    assert answer["metadata"]["event_payload"] == {"question_ts": question["ts"]}
    assert took < 16, f"reclaimed and answered {took:.1f} s after the kill"


async def test_after_a_crash_a_later_question_of_the_thread_waits_for_the_earlier_one_to_be_answered_again(
    fake_slack: FakeSlack, fake_model: FakeModel, environ: dict[str, str]
) -> None:
    """The process answering a thread's first question is killed while the second waits for its turn in the
    other process: the first is reclaimed and answered before the second, whose answer sees it."""
    fake_model.script.append(LONG)
    first = fake_slack.post_as_person("C1", "UALICE", f"<@{BOT_USER_ID}> first one")
    second = fake_slack.post_as_person("C1", "UALICE", f"<@{BOT_USER_ID}> second one", thread_ts=first["ts"])
    async with (
        controlled_redis_server() as server,
        bot_process(environ, server.url) as (dying, dying_url),
        bot_process(environ, server.url) as (_, staying_url),
        aiohttp.ClientSession() as http,
    ):
        assert (await EventSender(dying_url, http).mention(first)).status == 200
        await fake_slack.wait_for(lambda: len(fake_slack.calls_to("chat.appendStream")) >= 1)
        assert (await EventSender(staying_url, http).mention(second)).status == 200
        dying.kill()
        await fake_slack.wait_for(
            lambda: (
                len(fake_slack.bot_replies("C1", first["ts"])) == 2
                and not fake_slack.streaming_messages()
                and all(reply.startswith("You said") for reply in fake_slack.bot_replies("C1", first["ts"]))
            ),
            within_seconds=40,
        )
    earlier, later = fake_slack.bot_replies("C1", first["ts"])
    assert "first one" in earlier
    assert "second one" in later
    seen = "\n".join(text_of(message) for message in fake_model.requests[-1]["messages"])
    assert "second one" in text_of(fake_model.requests[-1]["messages"][-1])
    assert earlier in seen, "the second answer was written without the first one's"
