"""Turns of one thread: one at a time, in the order the messages were posted, in one process or several."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import aiohttp
import redis.asyncio as redis

from bot import notices
from bot.app.runtime import EVENTS_PATH
from bot.slack.thread import thread_key
from bot.store.redis_store import RedisStore
from bot.store.thread_locks import ThreadLocks, turn_order
from tests.bot_process import ROOT, free_port
from tests.conftest import BotFactory
from tests.fakes.events import EventSender
from tests.fakes.model_api import FakeModel, Reply
from tests.fakes.slack_api import BOT_USER_ID, FakeSlack
from tests.redis_server import redis_server, watching

MENTION = f"<@{BOT_USER_ID}>"
THREAD = "C1:1700000000.000100"


def test_turn_order_is_exact() -> None:
    assert turn_order("1700000000.000100") < turn_order("1700000000.000101") < turn_order("1700000001.0")


async def test_waiting_turns_go_in_message_order_not_arrival_order() -> None:
    locks = ThreadLocks()
    order: list[str] = []

    async def turn(ts: str) -> None:
        async with locks.hold(THREAD, ts):
            order.append(ts)

    async with locks.hold(THREAD, "1.0"):
        waiting = [asyncio.create_task(turn(ts)) for ts in ("4.0", "2.0", "3.0")]
        await asyncio.sleep(0)  # each task runs up to its wait: it queues before its first await
        assert locks.waiting(THREAD) == 3
    await asyncio.gather(*waiting)
    assert order == ["2.0", "3.0", "4.0"]
    assert len(locks) == 0


async def test_a_cancelled_waiter_gives_up_its_place() -> None:
    locks = ThreadLocks()
    async with locks.hold(THREAD, "1.0"):
        cancelled = asyncio.create_task(_enter(locks.hold(THREAD, "2.0")))
        later = asyncio.create_task(_enter(locks.hold(THREAD, "3.0")))
        await asyncio.sleep(0)
        assert locks.waiting(THREAD) == 2
        cancelled.cancel()
    await later
    assert len(locks) == 0


async def _enter(turn: AbstractAsyncContextManager[None]) -> None:
    async with turn:
        pass


@asynccontextmanager
async def two_stores(url: str, lease_seconds: float = 30) -> AsyncIterator[tuple[RedisStore, RedisStore]]:
    """Two stores on separate connections, as two processes have."""
    stores = [RedisStore(redis.from_url(url, decode_responses=True), lease_seconds=lease_seconds) for _ in range(2)]
    try:
        yield stores[0], stores[1]
    finally:
        for store in stores:
            await store.close()


def queued(count: int) -> Callable[[redis.Redis], Awaitable[bool]]:
    async def condition(client: redis.Redis) -> bool:
        return int(await client.zcard("slackbot:turns:" + THREAD)) == count

    return condition


async def nothing_left(client: redis.Redis) -> bool:
    return not await client.keys("slackbot:turns*")


class Holder:
    """A turn run as a task: it enters, signals, and holds until released or cancelled."""

    def __init__(self, store: RedisStore, ts: str) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.task = asyncio.create_task(self._run(store, ts))

    async def _run(self, store: RedisStore, ts: str) -> None:
        async with store.thread_lock(THREAD, ts):
            self.entered.set()
            await self.release.wait()

    async def finish(self) -> None:
        self.release.set()
        await self.task


async def test_a_turn_holds_its_thread_past_the_lease_while_it_lives() -> None:
    """A turn that waits long (for a model slot) keeps the thread: no second process answers alongside."""
    async with redis_server() as url, watching(url) as watch, two_stores(url, lease_seconds=0.2) as (one, other):
        first = Holder(one, "1.0")
        await first.entered.wait()
        await watch.client.set("lease-long-gone", "1", px=1000)
        second = Holder(other, "2.0")
        await watch.wait_for(queued(2))
        await watch.wait_for(lambda client: _gone(client, "lease-long-gone"))
        assert not second.entered.is_set(), "the thread was taken from a turn still working"
        await first.finish()
        await second.entered.wait()
        await second.finish()
        await watch.wait_for(nothing_left)


async def _gone(client: redis.Redis, key: str) -> bool:
    return not await client.exists(key)


async def test_a_turn_ends_on_cancellation_holding_or_waiting() -> None:
    """Shutdown cancels turns: the next one starts at once, not when a lease runs out (30 s here)."""
    async with redis_server() as url, watching(url) as watch, two_stores(url) as (one, other):
        holding = Holder(one, "1.0")
        await holding.entered.wait()
        waiting = Holder(other, "2.0")
        last = Holder(one, "3.0")
        await watch.wait_for(queued(3))
        waiting.task.cancel()
        await watch.wait_for(queued(2))
        holding.task.cancel()
        async with asyncio.timeout(5):
            await last.entered.wait()
        await last.finish()
        await watch.wait_for(nothing_left)


HOLD_AS_A_PROCESS = """
import asyncio, sys
import redis.asyncio as redis
from bot.store.redis_store import RedisStore

async def main(url, ts):
    store = RedisStore(redis.from_url(url, decode_responses=True), lease_seconds=0.5)
    async with store.thread_lock(sys.argv[3], ts):
        print("holding", flush=True)
        await asyncio.Event().wait()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


@asynccontextmanager
async def turn_in_a_process(url: str, ts: str) -> AsyncIterator[asyncio.subprocess.Process]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLD_AS_A_PROCESS, url, ts, THREAD, cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_a_process_that_dies_holding_or_waiting_does_not_block_the_thread() -> None:
    async with redis_server() as url, watching(url) as watch, two_stores(url) as (one, _):
        async with turn_in_a_process(url, "1.0") as holder:
            assert holder.stdout is not None
            assert await holder.stdout.readline() == b"holding\n"
            async with turn_in_a_process(url, "2.0") as waiter:
                await watch.wait_for(queued(2))
                last = Holder(one, "3.0")
                await watch.wait_for(queued(3))
                waiter.kill()
                holder.kill()
                await last.entered.wait()
                await last.finish()
        await watch.wait_for(nothing_left)


async def test_turns_across_processes_go_in_message_order(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    """Four questions in one thread on two processes, delivered out of order while the first is answered:
    the model gets them, and the thread shows the answers, in the order they were posted."""
    async with redis_server() as url, watching(url) as watch:
        bots = [await bot_factory(REDIS_URL=url) for _ in range(2)]
        senders = [EventSender(bot.url + EVENTS_PATH, http) for bot in bots]
        parent = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} Q0")
        questions = [
            fake_slack.post_as_person("C1", "UBOB", f"{MENTION} Q{index}", thread_ts=parent["ts"])
            for index in (1, 2, 3)
        ]
        first_answer_may_start = asyncio.Event()
        fake_model.script.append(Reply(["A0"], starts=first_answer_may_start))
        fake_model.default = lambda request: Reply(["A" + request["messages"][-1]["content"][-1]])
        await senders[0].mention(parent)
        await fake_model.wait_for_requests(1)
        for sender, question in zip([senders[1], senders[0], senders[1]], reversed(questions), strict=True):
            await sender.mention(question)

        async def all_queued(client: redis.Redis) -> bool:
            return int(await client.zcard("slackbot:turns:" + thread_key("C1", parent["ts"]))) == 4

        await watch.wait_for(all_queued)
        first_answer_may_start.set()
        replies = await fake_slack.wait_for_replies("C1", parent["ts"], count=4)
        asked = [request["messages"][-1]["content"].rsplit(" ", 1)[-1] for request in fake_model.requests]
        assert asked == ["Q0", "Q1", "Q2", "Q3"]
        assert replies == ["A0", "A1", "A2", "A3"]
        for bot in bots:
            await bot.close()
        await watch.wait_for(nothing_left)


async def test_an_unreachable_redis_costs_no_answer(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    """Nothing listens on REDIS_URL's port: Slack is not acknowledged (so it retries), and its last retry is
    still answered, from the process's memory."""
    bot = await bot_factory(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    question = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} still there?")
    events = EventSender(bot.url + EVENTS_PATH, http)
    event = {**question, "type": "app_mention"}
    assert (await events.deliver(event, "EvU1")).status == 503
    assert (await events.deliver(event, "EvU1", retry_num=3)).status == 200
    assert await fake_slack.wait_for_replies("C1", question["ts"]) == ["You said: Alice: still there?"]


async def test_a_shutdown_frees_the_thread_for_the_other_process(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    """A dyno restarting with one turn answering and one queued: it hands both back, and the other dyno
    answers them, in order, and then the next question, at once, not when the leases run out."""
    async with redis_server() as url, watching(url) as watch:
        stopping = await bot_factory(REDIS_URL=url)
        to_stopping = EventSender(stopping.url + EVENTS_PATH, http)
        parent = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} Q0")
        queued_question = fake_slack.post_as_person("C1", "UBOB", f"{MENTION} Q1", thread_ts=parent["ts"])
        never = asyncio.Event()
        fake_model.script.append(Reply(["A0"], starts=never))
        await to_stopping.mention(parent)
        await fake_model.wait_for_requests(1)
        await to_stopping.mention(queued_question)

        async def both_queued(client: redis.Redis) -> bool:
            return int(await client.zcard("slackbot:turns:" + thread_key("C1", parent["ts"]))) == 2

        await watch.wait_for(both_queued)
        staying = await bot_factory(REDIS_URL=url)
        await stopping.close(grace_seconds=0)
        await watch.wait_for(nothing_left)
        after = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} Q2", thread_ts=parent["ts"])
        await EventSender(staying.url + EVENTS_PATH, http).mention(after)
        await fake_slack.wait_for(lambda: "You said: Alice: Q2" in fake_slack.bot_replies("C1", parent["ts"]))
        replies = fake_slack.bot_replies("C1", parent["ts"])
        assert notices.RESTARTING not in replies
        assert [reply.rsplit(": ", 1)[-1] for reply in replies] == ["Q0", "Q1", "Q2"]
        never.set()


async def test_after_redis_lost_the_turns_a_waiting_turn_lets_the_one_holding_the_thread_enter_again_first() -> None:
    """Redis restarts empty while one turn holds the thread and another waits: the waiter, woken and finding
    the queue gone, enters again but does not take the thread; the holder's next renewal puts it back first."""
    async with redis_server() as url, watching(url) as watch, two_stores(url, lease_seconds=2.4) as (one, other):
        holding = Holder(one, "1.0")
        await holding.entered.wait()
        waiting = Holder(other, "2.0")
        await watch.wait_for(queued(2))
        await watch.client.flushall()
        await watch.client.publish("slackbot:turns", THREAD)  # wakes the waiter at once, before any renewal

        async def holder_back_first(client: redis.Redis) -> bool:
            first = await client.zrange("slackbot:turns:" + THREAD, 0, 0, withscores=True)
            return bool(first) and first[0][0].startswith("1000000:") and first[0][1] == 0

        await watch.wait_for(holder_back_first)
        assert not waiting.entered.is_set(), "the waiting turn took the thread from the one holding it"
        await holding.finish()
        await waiting.entered.wait()
        await waiting.finish()
        await watch.wait_for(nothing_left)
