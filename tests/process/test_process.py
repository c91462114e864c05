"""`python -m bot` as a deployer runs it: settings checks, and a real process answering a signed mention."""

from __future__ import annotations

import os
import re
import shutil
import signal
from pathlib import Path

import aiohttp

from bot import notices
from bot.shutdown import HEROKU_KILL_SECONDS
from tests.bot_process import ROOT, BotProcess, free_port
from tests.fakes.events import EventSender
from tests.fakes.model_api import MODEL_KEY, FakeModel, Reply, WholeReply
from tests.fakes.slack_api import BOT_USER_ID, FakeSlack
from tests.files_data import ENDLESS_PAGES, endless_pdf


async def test_missing_settings_stop_the_start_naming_each() -> None:
    """Without required settings the bot exits 2 with one message naming every problem and its fix."""
    process = await BotProcess.start({"INFERENCE_URL": "us.inference.heroku.com", "PORT": "http"})
    code = await process.finish()
    output = "\n".join(process.output)
    assert code == 2
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "INFERENCE_KEY", "INFERENCE_MODEL_ID", "PORT"):
        assert name in output
    assert "heroku config:get -a $APP_NAME INFERENCE_KEY" in output
    assert "INFERENCE_URL" not in output


async def test_an_unedited_copy_of_env_example_stops_the_start_and_fails_the_check(tmp_path: Path) -> None:
    """`cp .env.example .env && python -m bot`: the placeholders are refused by name, not taken for settings."""
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    started = await BotProcess.start({"PORT": str(free_port())}, cwd=tmp_path)
    checked = await BotProcess.start({}, "check", cwd=tmp_path)
    try:
        assert await started.finish(within_seconds=10) == 2
        assert await checked.finish(within_seconds=10) == 1
    finally:
        started.kill()
        checked.kill()
    for output in ("\n".join(started.output), "\n".join(checked.output)):
        for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "INFERENCE_KEY"):
            assert f"{name} still holds a placeholder, not a real value" in output
        assert "listening" not in output
        assert "all present and valid" not in output
    assert "- slack: not configured" in "\n".join(checked.output)


async def test_python_m_bot_answers_a_signed_mention(
    fake_slack: FakeSlack, fake_model: FakeModel, environ: dict[str, str]
) -> None:
    """The started process answers a mention in its thread, and SIGTERM stops it cleanly."""
    port = free_port()
    process = await BotProcess.start({**environ, "PORT": str(port)})
    try:
        await process.wait_for_line("msg=listening")
        message = fake_slack.post_as_person("C1", "UALICE", f"<@{BOT_USER_ID}> ping")
        async with aiohttp.ClientSession() as http:
            sender = EventSender(f"http://127.0.0.1:{port}/slack/events", http)
            response = await sender.mention(message)
        assert response.status == 200
        assert await fake_slack.wait_for_replies("C1", message["ts"]) == ["You said: Alice: ping"]
        await process.wait_for_line("outcome=answered")
        process.process.send_signal(signal.SIGTERM)
        assert await process.finish() == 0
    finally:
        process.kill()
    log = "\n".join(process.output)
    for secret in (environ["SLACK_BOT_TOKEN"], environ["SLACK_SIGNING_SECRET"], environ["INFERENCE_KEY"]):
        assert secret not in log
    assert "level=warning" not in log, "a healthy start and answer log no warnings"


async def test_sigterm_finishes_short_answers_and_says_so_for_long_ones(
    fake_slack: FakeSlack, fake_model: FakeModel, environ: dict[str, str]
) -> None:
    """On SIGTERM: no new events, a nearly done answer completes, an unfinishable one gets a notice; exit 0."""
    port = free_port()
    process = await BotProcess.start({**environ, "PORT": str(port), "SHUTDOWN_GRACE_SECONDS": "2"})
    try:
        await process.wait_for_line("msg=listening")
        fake_model.script += [
            Reply(["Short ", "answer."], delay=0.5),
            Reply([f"part {index} " for index in range(100)], delay=0.5),
        ]
        short = fake_slack.post_as_person("C1", "UALICE", f"<@{BOT_USER_ID}> quick one")
        long = fake_slack.post_as_person("C2", "UBOB", f"<@{BOT_USER_ID}> long one")
        async with aiohttp.ClientSession() as http:
            sender = EventSender(f"http://127.0.0.1:{port}/slack/events", http)
            await sender.mention(short)
            await fake_model.wait_for_requests(1)  # the short reply goes to the short question
            await sender.mention(long)
            await fake_slack.wait_for(lambda: len(fake_slack.calls_to("chat.startStream")) == 2)
            process.process.send_signal(signal.SIGTERM)
            await process.wait_for_line("stopped taking new events")
            late = fake_slack.post_as_person("C3", "UALICE", f"<@{BOT_USER_ID}> too late")
            try:
                refused = await sender.mention(late)
                assert refused.status >= 500
            except aiohttp.ClientError:
                pass
        assert await process.finish(within_seconds=15) == 0
    finally:
        process.kill()
    assert fake_slack.bot_replies("C1", short["ts"]) == ["Short answer."]
    [interrupted] = fake_slack.bot_replies("C2", long["ts"])
    assert interrupted.startswith("part 0 ")
    assert interrupted.endswith("I'm restarting and couldn't finish this answer. Please ask again in a minute.")
    assert [call for call in fake_slack.posts() if call.params.get("channel") == "C3"] == []
    assert "outcome=stopped_by_shutdown" in "\n".join(process.output)


async def test_logs_hold_no_secret_even_at_debug_level(
    fake_slack: FakeSlack, fake_model: FakeModel, environ: dict[str, str]
) -> None:
    """Tokens, keys and the signing secret never appear in the log, whatever the level or the failure."""
    port = free_port()
    process = await BotProcess.start({**environ, "PORT": str(port), "LOG_LEVEL": "DEBUG"})
    try:
        await process.wait_for_line("msg=listening")
        fake_model.script += [WholeReply(401, f'{{"error": "bad key {MODEL_KEY}"}}'), Reply(["fine"])]
        async with aiohttp.ClientSession() as http:
            sender = EventSender(f"http://127.0.0.1:{port}/slack/events", http)
            for text in ("first", "second"):
                message = fake_slack.post_as_person("C1", "UALICE", f"<@{BOT_USER_ID}> {text}")
                await sender.mention(message)
                await fake_slack.wait_for_replies("C1", message["ts"])
                await process.wait_for_line('msg="event handled"')
        process.process.send_signal(signal.SIGTERM)
        assert await process.finish() == 0
    finally:
        process.kill()
    log = "\n".join(process.output)
    assert "outcome=model_error" in log
    for secret in (environ["SLACK_BOT_TOKEN"], environ["SLACK_SIGNING_SECRET"], MODEL_KEY):
        assert secret not in log


async def test_a_wrong_signing_secret_is_a_warning_in_the_real_log(environ: dict[str, str]) -> None:
    """Slack's URL check signed with the app's real secret while SLACK_SIGNING_SECRET holds another: the
    process logs (with its own logging set-up, Bolt kept at WARNING) one line naming the setting."""
    port = free_port()
    process = await BotProcess.start({**environ, "PORT": str(port)})
    try:
        await process.wait_for_line("msg=listening")
        async with aiohttp.ClientSession() as http:
            slack = EventSender(f"http://127.0.0.1:{port}/slack/events", http, secret="secret-slack-has-4e5f6a7b")
            response = await slack.post('{"type": "url_verification", "challenge": "c1", "token": "t"}')
        assert response.status == 401
        line = await process.wait_for_line("SLACK_SIGNING_SECRET")
        process.process.send_signal(signal.SIGTERM)
        assert await process.finish() == 0
    finally:
        process.kill()
    assert "level=warning logger=bot.app.signature" in line
    assert "Basic Information → App Credentials → Signing Secret" in line
    assert "secret-slack-has-4e5f6a7b" not in "\n".join(process.output)


async def test_sigterm_during_a_hung_parse_exits_within_herokus_budget(
    fake_slack: FakeSlack, fake_model: FakeModel, environ: dict[str, str]
) -> None:
    """A PDF that would take minutes to read is being parsed: SIGTERM still ends the process well before
    Heroku's SIGKILL, the answer says it was cut off by the restart, and the worker is gone too."""
    port = free_port()
    settings = {
        "PORT": str(port),
        "SHUTDOWN_GRACE_SECONDS": "1",
        "PDF_MAX_PAGES": str(ENDLESS_PAGES),
        "LOG_LEVEL": "DEBUG",
    }
    process = await BotProcess.start({**environ, **settings})
    try:
        await process.wait_for_line("msg=listening")
        hostile = fake_slack.add_file("endless.pdf", endless_pdf(), "application/pdf")
        message = fake_slack.post_as_person(
            "C1", "UALICE", f"<@{BOT_USER_ID}> read this", subtype="file_share", files=[hostile]
        )
        async with aiohttp.ClientSession() as http:
            await EventSender(f"http://127.0.0.1:{port}/slack/events", http).mention(message)
        started = await process.wait_for_line("file parse started")
        match = re.search(r"pid=(\d+)", started)
        assert match is not None
        process.process.send_signal(signal.SIGTERM)
        assert await process.finish(within_seconds=HEROKU_KILL_SECONDS) == 0
    finally:
        process.kill()
    assert fake_slack.bot_replies("C1", message["ts"]) == [notices.RESTARTING]
    try:
        os.kill(int(match[1]), 0)
    except ProcessLookupError:
        pass
    else:
        raise AssertionError("the worker outlived the bot")


async def test_ctrl_c_stops_a_socket_mode_start_that_cannot_connect(environ: dict[str, str]) -> None:
    """A refused app token keeps Socket Mode retrying its connection; Ctrl-C (or SIGTERM) still ends the bot."""
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        process = await BotProcess.start({**environ, "SLACK_APP_TOKEN": "xapp-1-A1-2-wrong"})
        try:
            await process.wait_for_line("Failed to connect")
            process.process.send_signal(stop_signal)
            assert await process.finish(within_seconds=10) in (0, 130)
        finally:
            process.kill()
        assert "stopped" in "\n".join(process.output)
