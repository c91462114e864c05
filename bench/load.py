"""The benchmark's load generator, in its own process: opens conversations as Slack would deliver them.

Each conversation is one mention delivered twice, as `app_mention` and as `message.channels`, signed like
Slack signs them, either all at once (`--rate 0`, a burst) or at a steady arrival rate. Prints one JSON
document: per conversation, when it was sent and how long each delivery took to be acknowledged.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

import aiohttp

from tests.fakes.events import EventSender
from tests.fakes.slack_api import BOT_USER_ID

# Older than every message the fake Slack posts (1700000000.…), as a question is older than its answer: a
# redelivered question's thread is searched for its answer from the question's ts on.
QUESTION_TS = "1600000000.{:06d}"


def conversation(index: int, file: dict[str, Any] | None = None) -> dict[str, Any]:
    message = {
        "type": "message",
        "channel": f"C{index % 200:05d}",
        "user": "UALICE",
        "text": f"<@{BOT_USER_ID}> question conv-{index}",
        "ts": QUESTION_TS.format(index),
        "team": "T0001",
    }
    if file is not None:
        message.update(subtype="file_share", files=[file])
    return message


def follow_up(index: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """A thread someone else opened, and a mention in it: answering it needs the thread read from Slack."""
    opening = {
        **conversation(index),
        "user": "UBOB",
        "text": f"context conv-{index}",
        "ts": QUESTION_TS.format(2 * index),
    }
    question = {**conversation(index), "ts": QUESTION_TS.format(2 * index + 1), "thread_ts": opening["ts"]}
    return opening, question


async def deliver(sender: EventSender, message: dict[str, Any]) -> dict[str, Any]:
    sent_at = time.monotonic()

    async def timed(delivery: Any) -> tuple[int, float]:
        started = time.monotonic()
        try:
            response = await delivery
            status = response.status
        except aiohttp.ClientError:
            status = 0
        return status, (time.monotonic() - started) * 1000

    results = await asyncio.gather(timed(sender.mention(message)), timed(sender.message(message)))
    return {
        "key": f"{message['channel']}:{message.get('thread_ts') or message['ts']}",
        "question": message["text"],
        "sent_at": sent_at,
        "statuses": [status for status, _ in results],
        "ack_ms": [latency for _, latency in results],
    }


async def run(
    events_url: str, control_url: str, count: int, rate: float, follow_ups: bool = False
) -> list[dict[str, Any]]:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:
        async with session.get(f"{control_url}/file") as response:
            file = (await response.json())["file"]
        threads = [follow_up(index) if follow_ups else (None, conversation(index, file)) for index in range(count)]
        messages = [question for _, question in threads]
        stored = [message for thread in threads for message in thread if message is not None]
        seeded = [{key: value for key, value in message.items() if key != "type"} for message in stored]
        async with session.post(f"{control_url}/seed", json={"messages": seeded}) as response:
            response.raise_for_status()
        sender = EventSender(events_url, session)
        started = time.monotonic()
        tasks = []
        for index, message in enumerate(messages):
            if rate > 0:
                await asyncio.sleep(max(0.0, started + index / rate - time.monotonic()))
            tasks.append(asyncio.create_task(deliver(sender, message)))
        return list(await asyncio.gather(*tasks))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("events_url")
    parser.add_argument("control_url")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--rate", type=float, required=True, help="conversations per second; 0 for a burst")
    parser.add_argument("--follow-ups", action="store_true", help="each question is a mention in an existing thread")
    arguments = parser.parse_args()
    results = asyncio.run(
        run(arguments.events_url, arguments.control_url, arguments.count, arguments.rate, arguments.follow_ups)
    )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
