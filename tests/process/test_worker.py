"""`python -m bot worker` beside a web process with WEB_ANSWERS=false: the web process records a question and
acknowledges it; a worker answers it, also one started only later."""

from __future__ import annotations

import signal

import aiohttp

from tests.bot_process import BotProcess, free_port
from tests.fakes.events import EventSender
from tests.fakes.model_api import FakeModel, Reply
from tests.fakes.slack_api import BOT_USER_ID, FakeSlack
from tests.redis_server import redis_server


async def test_the_web_process_queues_and_a_worker_started_later_answers(
    fake_slack: FakeSlack, fake_model: FakeModel, environ: dict[str, str]
) -> None:
    fake_model.script += [Reply(["From ", "the worker."])]
    question = fake_slack.post_as_person("C1", "UALICE", f"<@{BOT_USER_ID}> who answers?")
    port = free_port()
    async with redis_server() as redis_url, aiohttp.ClientSession() as http:
        shared = {**environ, "REDIS_URL": redis_url}
        web = await BotProcess.start({**shared, "PORT": str(port), "WEB_ANSWERS": "false"})
        worker: BotProcess | None = None
        try:
            await web.wait_for_line("msg=listening")
            sender = EventSender(f"http://127.0.0.1:{port}/slack/events", http)
            assert (await sender.mention(question)).status == 200, "acknowledged once queued"
            worker = await BotProcess.start(shared, "worker")
            await worker.wait_for_line('msg="answering queued questions"')
            await fake_slack.wait_for(lambda: fake_slack.bot_replies("C1", question["ts"]) == ["From the worker."])
            await worker.wait_for_line("outcome=answered")
            for process in (worker, web):
                process.process.send_signal(signal.SIGTERM)
                assert await process.finish(within_seconds=15) == 0
        finally:
            for process in (web, worker):
                if process is not None:
                    process.kill()
                    await process.finish()
    assert not any("outcome=answered" in line for line in web.output), "the web process only queued it"
    assert len(fake_model.requests) == 1


async def test_a_worker_without_redis_says_what_it_needs(environ: dict[str, str]) -> None:
    worker = await BotProcess.start(environ, "worker")
    assert await worker.finish() == 2
    assert "A worker answers the questions web processes queue in Redis: set REDIS_URL." in "\n".join(worker.output)


async def test_a_web_process_that_does_not_answer_needs_redis(environ: dict[str, str]) -> None:
    web = await BotProcess.start({**environ, "WEB_ANSWERS": "false"})
    assert await web.finish() == 2
    assert "WEB_ANSWERS=false needs REDIS_URL" in "\n".join(web.output)
