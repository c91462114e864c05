"""Redis down or stalled: Slack's last retry is still answered, once, and without a wait per Redis call
(earlier deliveries are refused so that Slack retries: tests/scenarios/test_durable.py)."""

from __future__ import annotations

import time

import aiohttp

from bot.app.runtime import EVENTS_PATH
from tests.conftest import BotFactory
from tests.fakes.events import EventSender
from tests.fakes.model_api import FakeModel, Reply
from tests.fakes.slack_api import BOT_USER_ID, FakeSlack
from tests.redis_server import controlled_redis_server

MENTION = f"<@{BOT_USER_ID}>"


async def test_with_redis_down_a_channel_mention_delivered_twice_is_answered_once(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    """Slack delivers a mention as `app_mention` and as `message.channels`; without Redis, the process's own
    memory of what it has taken keeps the second (last) retry from being answered again."""
    async with controlled_redis_server() as server:
        bot = await bot_factory(REDIS_URL=server.url)
        events = EventSender(bot.url + EVENTS_PATH, http)
        await server.stop()
        fake_model.script.append(Reply(["Hello!"]))
        question = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} hi there")
        await last_retry(events, question, "app_mention")
        await last_retry(events, question, "message")
        await fake_slack.wait_for_replies("C1", question["ts"])
        await bot.runtime.tasks.wait()
        assert fake_slack.bot_replies("C1", question["ts"]) == ["Hello!"]
        assert len(fake_model.requests) == 1


async def last_retry(events: EventSender, message: dict[str, object], event_type: str) -> aiohttp.ClientResponse:
    """Slack's third retry of the event delivering `message` as `event_type`."""
    event = {**message, "type": event_type}
    if event_type == "message":
        event["channel_type"] = "channel"
    return await events.deliver(event, retry_num=3)


async def test_a_claim_taken_in_redis_is_remembered_when_redis_then_fails(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    """The first delivery is queued in Redis and answered; Redis goes away before the second event's last retry:
    the thread's metadata shows the answer, so still once."""
    async with controlled_redis_server() as server:
        bot = await bot_factory(REDIS_URL=server.url)
        events = EventSender(bot.url + EVENTS_PATH, http)
        fake_model.script.append(Reply(["Hello!"]))
        question = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} hi there")
        await events.mention(question)
        await fake_slack.wait_for_replies("C1", question["ts"])
        await bot.runtime.tasks.wait()
        await server.stop()
        assert (await last_retry(events, question, "message")).status == 200
        await bot.runtime.tasks.wait()
        assert fake_slack.bot_replies("C1", question["ts"]) == ["Hello!"]
        assert len(fake_model.requests) == 1


async def test_a_stalled_redis_costs_an_answer_one_short_wait_not_one_timeout_per_call(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    """Redis stops answering (its connections stay open): the answer comes once, and within seconds, not
    the 5 s socket timeout of every call on its path in sequence (claims, turn, thread cache, budgets)."""
    async with controlled_redis_server() as server:
        bot = await bot_factory(REDIS_URL=server.url, DAILY_TOKENS_PER_PERSON="100000")
        events = EventSender(bot.url + EVENTS_PATH, http)
        warm_up = fake_slack.post_as_person("C1", "UBOB", f"{MENTION} warm up")
        fake_model.script += [Reply(["Warm."]), Reply(["Hello!"])]
        await events.mention(warm_up)
        await fake_slack.wait_for_replies("C1", warm_up["ts"])
        await bot.runtime.tasks.wait()

        server.stall()
        try:
            question = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} hi there")
            asked = time.monotonic()
            await last_retry(events, question, "app_mention")
            await last_retry(events, question, "message")
            await fake_slack.wait_for_replies("C1", question["ts"], within_seconds=60)
            waited = time.monotonic() - asked
            await bot.runtime.tasks.wait()
            assert fake_slack.bot_replies("C1", question["ts"]) == ["Hello!"]
            # Generous: about 1 s is spent on Redis with the fix; each stalled call cost 5 s before it.
            assert waited < 6, f"the answer waited {waited:.1f} s on a stalled Redis"
        finally:
            server.resume()


async def test_a_follow_up_while_redis_stalls_is_acknowledged_at_once_and_the_next_mention_answered(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    """The thread's state is read from Redis for a follow-up without a mention: a stalled Redis holds neither
    Slack's acknowledgement nor the thread (the follow-up goes unanswered: what the thread knows cannot be
    read), and a mention that Redis cannot record is refused until Slack's last retry, then answered."""
    async with controlled_redis_server() as server:
        bot = await bot_factory(REDIS_URL=server.url)
        events = EventSender(bot.url + EVENTS_PATH, http)
        fake_model.script += [Reply(["Deploy to EU."]), Reply(["Staging is us-east."])]
        parent = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} where do we deploy?")
        await events.mention(parent)
        await fake_slack.wait_for_replies("C1", parent["ts"])
        await bot.runtime.tasks.wait()

        server.stall()
        try:
            follow_up = fake_slack.post_as_person("C1", "UALICE", "and for staging?", thread_ts=parent["ts"])
            sent = time.monotonic()
            response = await events.message(follow_up)
            acknowledged = time.monotonic() - sent
            assert response.status == 200
            # Generous: Slack waits 3 s; the store read happens after the acknowledgement.
            assert acknowledged < 1.5, f"the acknowledgement waited {acknowledged:.1f} s on a stalled Redis"
            await bot.runtime.tasks.wait()
            mention = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} and for staging?", thread_ts=parent["ts"])
            # Redis cannot record it: not acknowledged (Slack retries), and answered from memory on the last retry.
            assert (await events.mention(mention)).status == 503
            await last_retry(events, mention, "app_mention")
            await fake_slack.wait_for_replies("C1", parent["ts"], count=2, within_seconds=30)
            await bot.runtime.tasks.wait()
            assert fake_slack.bot_replies("C1", parent["ts"]) == ["Deploy to EU.", "Staging is us-east."]
            assert len(fake_model.requests) == 2
        finally:
            server.resume()
