"""The deployer's commands: `python -m bot check` and `python -m bot chat`."""

from __future__ import annotations

import asyncio
import io
import signal
import time
from pathlib import Path

import pytest
import redis.asyncio as redis

from bot.app.check import REQUIRED_SCOPES, SEARCH_SCOPES, run_checks
from bot.store.redis_queue import RedisQueue
from bot.store.redis_store import RedisStore
from tests.bot_process import ROOT, BotProcess
from tests.fakes.model_api import MODEL_KEY, FakeModel, Hang, Reply, WholeReply, gateway_page
from tests.fakes.slack_api import APP_TOKEN, BOT_TOKEN, FakeSlack
from tests.redis_server import redis_server


async def check(environ: dict[str, str]) -> tuple[int, str]:
    out = io.StringIO()
    code = await run_checks(environ, out)
    text = out.getvalue()
    for secret in (BOT_TOKEN, MODEL_KEY, environ.get("SLACK_SIGNING_SECRET", "never")):
        assert secret not in text
    return code, text


async def test_check_passes_when_everything_works(environ: dict[str, str], fake_model: FakeModel) -> None:
    fake_model.script.append(Reply(["ok"]))
    code, text = await check(environ)
    assert code == 0
    assert "✓ settings: all present and valid (HTTP on port 3000, path /slack/events)" in text
    assert "✓ slack: connected to workspace 'Test' as @assistant" in text
    assert "✓ model: claude-4-5-haiku answered 'ok' in" in text
    assert "✓ images: claude-4-5-haiku took a test image" in text
    assert "- redis: REDIS_URL not set" in text


async def test_check_says_how_to_verify_the_signing_secret(environ: dict[str, str]) -> None:
    """The secret cannot be tried from the bot's side: check says so, and how Slack confirms it."""
    _, text = await check(environ)
    [line] = [line for line in text.splitlines() if line.startswith("- signing secret: ")]
    assert "only a request from Slack can test it" in line
    assert 'Slack shows "Verified" when SLACK_SIGNING_SECRET matches' in line
    assert "Basic Information → App Credentials → Signing Secret" in line
    socket_mode = {**environ, "SLACK_APP_TOKEN": "xapp-1-A1-123-abc"}
    del socket_mode["SLACK_SIGNING_SECRET"]
    _, text = await check(socket_mode)
    assert "signing secret" not in text


async def test_check_tries_the_app_token_in_socket_mode(environ: dict[str, str]) -> None:
    """A wrong SLACK_APP_TOKEN fails the check with its fix, where the bot would only retry its connection."""
    socket_mode = {key: value for key, value in environ.items() if key != "SLACK_SIGNING_SECRET"}
    code, text = await check({**socket_mode, "SLACK_APP_TOKEN": "xapp-1-A1-123-wrong"})
    assert code == 1
    assert "✗ socket mode: Slack refused the app token (invalid_auth)" in text
    assert "Basic Information → App-Level Tokens" in text
    assert "connections:write" in text
    code, text = await check({**socket_mode, "SLACK_APP_TOKEN": APP_TOKEN})
    assert "✓ socket mode: Slack accepted the app token" in text
    assert APP_TOKEN not in text


async def test_check_sends_a_test_image(environ: dict[str, str], fake_model: FakeModel) -> None:
    """The image probe is one red PNG as an image part."""
    code, _ = await check(environ)
    assert code == 0
    [image] = fake_model.images(fake_model.requests[1])
    assert image.startswith("data:image/png;base64,")


async def test_check_says_a_text_only_model_refused_the_image(environ: dict[str, str], fake_model: FakeModel) -> None:
    """Images on (here forced) with a model that refuses them: a failure naming the fix."""
    fake_model.accepts_images = False
    code, text = await check({**environ, "MODEL_ACCEPTS_IMAGES": "true"})
    assert code == 1
    assert "✗ images: claude-4-5-haiku refused a test image: HTTP 400" in text
    assert "fix: set MODEL_ACCEPTS_IMAGES=false" in text


async def test_check_accepts_a_text_only_model_when_images_are_off(
    environ: dict[str, str], fake_model: FakeModel
) -> None:
    fake_model.accepts_images = False
    code, text = await check({**environ, "INFERENCE_MODEL_ID": "gpt-oss-120b"})
    assert code == 0
    assert "✓ images: gpt-oss-120b takes no images (it refused a test image); images are named, not sent" in text


async def test_check_pings_redis_and_reports_its_eviction_policy_and_persistence(
    environ: dict[str, str], tmp_path: Path
) -> None:
    async with redis_server("--maxmemory", "100mb", "--appendonly", "yes", "--dir", str(tmp_path)) as url:
        code, text = await check({**environ, "REDIS_URL": url})
    assert code == 0
    assert "✓ redis: answered PING" in text
    assert "maxmemory-policy noeviction, maxmemory 100.0 MB; thread cache at most 25.0 MB" in text
    assert "persistence on (append-only file)" in text
    assert "of 10000 allowed, this process opening at most 20 (REDIS_MAX_CONNECTIONS)" in text
    assert "! redis" not in text


async def test_check_warns_when_redis_allows_fewer_clients_than_a_process_opens(environ: dict[str, str]) -> None:
    """A small plan's connection limit: a busy process would be refused connections, and fall back."""
    async with redis_server("--maxclients", "12") as url:
        code, text = await check({**environ, "REDIS_URL": url, "REDIS_MAX_CONNECTIONS": "12"})
    assert code == 0, "it works; it is a warning"
    assert "! redis: Redis allows 12 clients and 1 are connected: a process opening its 12" in text
    assert "keep the number of processes times REDIS_MAX_CONNECTIONS under the plan's connection limit" in text


async def test_check_warns_when_web_processes_only_queue_and_no_worker_reads_the_queue(
    environ: dict[str, str],
) -> None:
    """WEB_ANSWERS=false with the worker scaled to 0 (as app.json creates it): every question is acknowledged
    and waits unanswered, with nothing in Slack to say so."""
    async with redis_server() as url:
        client = redis.from_url(url)
        try:
            # Two questions queued a minute ago (a stream entry's id is the time it was put).
            minute_ago = int(time.time() * 1000) - 60_000
            await client.xgroup_create("slackbot:questions", "answerers", id="0", mkstream=True)
            for n in range(2):
                await client.xadd("slackbot:questions", {"job": "{}"}, id=f"{minute_ago}-{n}")
        finally:
            await client.aclose()
        code, text = await check({**environ, "REDIS_URL": url, "WEB_ANSWERS": "false"})
    assert code == 0, "a worker may be starting; it is a warning"
    assert "! redis: 2 questions waiting unanswered in the queue, the oldest for 60 s: no worker is reading it" in text
    assert "heroku ps:scale -a $APP_NAME worker=1" in text


async def test_check_counts_the_workers_reading_the_queue(environ: dict[str, str]) -> None:
    async with redis_server() as url:
        store = RedisStore.from_url(url)
        try:
            queue = RedisQueue(store.client)
            await queue.put("C1:1", "{}", 60)
            await queue.take("worker.1", 1, 0.01)
            _, text = await check({**environ, "REDIS_URL": url, "WEB_ANSWERS": "false"})
        finally:
            await store.close()
    assert "; 1 worker reading the question queue" in text
    assert "waiting unanswered" not in text


async def test_check_warns_when_redis_keeps_nothing_through_a_restart(environ: dict[str, str]) -> None:
    async with redis_server() as url:
        code, text = await check({**environ, "REDIS_URL": url})
    assert code == 0, "it works; it is a warning"
    assert "persistence off" in text
    assert "! redis: Redis keeps no data through a restart" in text


async def test_check_does_not_claim_redis_loses_its_data_when_redis_will_not_say(environ: dict[str, str]) -> None:
    """Managed Redis often refuses CONFIG: snapshots may be on, so the warning says it could not tell."""
    async with redis_server("--rename-command", "CONFIG", "") as url:
        code, text = await check({**environ, "REDIS_URL": url})
    assert code == 0
    assert "persistence: append-only file off, snapshots unknown (CONFIG GET refused)" in text
    assert "Redis keeps no data through a restart" not in text
    assert "! redis: Redis may keep no data through a restart (it would not say)" in text


async def test_check_warns_where_claims_could_be_evicted(environ: dict[str, str]) -> None:
    async with redis_server("--maxmemory-policy", "allkeys-lru") as url:
        code, text = await check({**environ, "REDIS_URL": url})
    assert code == 0, "it works; it is a warning"
    assert "! redis: maxmemory-policy allkeys-lru: a full Redis evicts keys, the bot's claims among them" in text
    assert "fix: `heroku redis:maxmemory -a $APP_NAME --policy noeviction`" in text


async def test_check_names_missing_settings() -> None:
    code, text = await check({"SLACK_BOT_TOKEN": "xoxb-1"})
    assert code == 1
    assert "✗ settings: SLACK_SIGNING_SECRET is not set" in text
    assert "✗ settings: INFERENCE_KEY is not set" in text


async def test_check_without_slack_settings_still_checks_the_model(
    environ: dict[str, str], fake_model: FakeModel
) -> None:
    """A newcomer with only the INFERENCE_* settings learns the model works and what the server still needs."""
    fake_model.script.append(Reply(["ok"]))
    model_only = {name: value for name, value in environ.items() if not name.startswith("SLACK_")}
    code, text = await check(model_only)
    assert code == 1
    assert "✗ settings: SLACK_BOT_TOKEN is not set" in text
    assert "✗ settings: SLACK_SIGNING_SECRET is not set" in text
    assert "- slack: not configured" in text
    assert "✓ model: claude-4-5-haiku answered 'ok' in" in text
    assert "- redis: REDIS_URL not set" in text


async def test_check_without_model_settings_still_checks_slack(environ: dict[str, str]) -> None:
    slack_only = {name: value for name, value in environ.items() if not name.startswith("INFERENCE_")}
    code, text = await check(slack_only)
    assert code == 1
    assert "✗ settings: INFERENCE_KEY is not set" in text
    assert "✓ slack: connected to workspace 'Test' as @assistant" in text
    assert "- model: not configured" in text


@pytest.mark.parametrize(
    ("overrides", "problem", "fix"),
    [
        (
            {"SLACK_BOT_TOKEN": "xoxb-wrong"},
            "✗ slack: Slack refused the bot token (invalid_auth)",
            "OAuth & Permissions",
        ),
        ({"SLACK_API_URL": "http://127.0.0.1:9/api/"}, "✗ slack: could not reach Slack", "SLACK_API_URL"),
        ({"INFERENCE_URL": "http://127.0.0.1:9"}, "✗ model: claude-4-5-haiku at http://127.0.0.1:9", "INFERENCE_URL"),
        ({"REDIS_URL": "redis://127.0.0.1:9/0"}, "✗ redis: could not connect", "REDIS_URL"),
    ],
)
async def test_each_failure_gives_its_fix(
    environ: dict[str, str], overrides: dict[str, str], problem: str, fix: str
) -> None:
    code, text = await check({**environ, **overrides})
    assert code == 1
    assert problem in text
    fix_line = text.split(problem, 1)[1].split("\n")[1]
    assert fix_line.startswith("    fix: ")
    assert fix in fix_line


async def test_check_reports_a_refused_model_key(environ: dict[str, str], fake_model: FakeModel) -> None:
    fake_model.script.append(WholeReply(401, '{"error": {"message": "invalid api key"}}'))
    code, text = await check(environ)
    assert code == 1
    assert "HTTP 401: invalid api key" in text
    assert "copy INFERENCE_KEY again" in text


async def test_a_refused_probe_that_names_no_setting_names_every_model_setting(
    environ: dict[str, str], fake_model: FakeModel
) -> None:
    """A gateway's 400 for a wrong key ("No connected db", the key in its page): a one-line test question
    cannot be the cause, so each model setting is named with its fix, and the key is shown nowhere."""
    fake_model.script.append(WholeReply(400, gateway_page(MODEL_KEY), content_type="text/plain"))
    code, text = await check(environ)
    assert code == 1
    assert "✗ model: claude-4-5-haiku at http://127.0.0.1:" in text
    assert "HTTP 400: No connected db." in text
    fix = text.split("    fix: ", 1)[1]
    assert fix.startswith("the service refused a one-line test question without saying which setting is wrong")
    for line in (
        "      INFERENCE_URL: the service's base URL, e.g. https://us.inference.heroku.com "
        "(`heroku config:get -a $APP_NAME INFERENCE_URL`)",
        "      INFERENCE_KEY: copy it again (`heroku config:get -a $APP_NAME INFERENCE_KEY`)",
        "      INFERENCE_MODEL_ID: a model this key may use (`heroku config:get -a $APP_NAME INFERENCE_MODEL_ID`)",
    ):
        assert line in fix.splitlines()
    assert len(fake_model.requests) == 1


@pytest.mark.parametrize("form", ["endpoint", "no-scheme"])
async def test_check_reaches_the_model_at_the_url_as_a_deployer_writes_it(
    environ: dict[str, str], fake_model: FakeModel, form: str
) -> None:
    """The whole endpoint (`…/v1/chat/completions`), or a loopback address without a scheme."""
    url = fake_model.url + "/v1/chat/completions" if form == "endpoint" else fake_model.url.removeprefix("http://")
    code, text = await check({**environ, "INFERENCE_URL": url})
    assert code == 0, text
    assert "✓ model: claude-4-5-haiku answered" in text


async def test_check_names_the_setting_behind_an_unknown_model(environ: dict[str, str], fake_model: FakeModel) -> None:
    body = '{"error": {"message": "model claude-9 not found", "code": "model_not_found"}}'
    fake_model.script.append(WholeReply(404, body))
    code, text = await check(environ)
    assert code == 1
    assert "    fix: check INFERENCE_MODEL_ID: a model this key may use" in text


async def test_check_reports_missing_scopes(environ: dict[str, str], fake_slack: FakeSlack) -> None:
    fake_slack.granted_scopes -= {"users:read", "channels:read"}
    code, text = await check(environ)
    assert code == 1
    assert "the token lacks users:read, channels:read" in text


def test_required_scopes_are_the_manifests() -> None:
    import yaml

    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    assert {*REQUIRED_SCOPES, *SEARCH_SCOPES} == set(manifest["oauth_config"]["scopes"]["bot"])


async def run_chat(environ: dict[str, str], typed: str) -> tuple[int, str]:
    process = await BotProcess.start(environ, "chat", typed=True)
    return await process.type_and_finish(typed)


async def test_chat_talks_to_the_model_with_history(environ: dict[str, str], fake_model: FakeModel) -> None:
    """Typed lines get streamed answers; the second request carries the first turn."""
    fake_model.script += [Reply(["Hello ", "there."]), Reply(["You said hi."])]
    code, output = await run_chat(environ, "hi\nwhat did I say?\n")
    assert code == 0
    assert "assistant> Hello there.\n" in output
    assert "assistant> You said hi.\n" in output
    assert [(m["role"], m["content"]) for m in fake_model.requests[1]["messages"][1:]] == [
        ("user", "You: hi"),
        ("assistant", "Hello there."),
        ("user", "You: what did I say?"),
    ]


async def test_chat_shows_failures_as_the_bot_would(environ: dict[str, str], fake_model: FakeModel) -> None:
    fake_model.script += [
        WholeReply(400, '{"error": {"message": "bad request"}}'),
        Reply(["fine"], finish_reason="length"),
    ]
    code, output = await run_chat(environ, "one\ntwo\n")
    assert code == 0
    assert "assistant> Sorry, the model service answered HTTP 400: bad request." in output
    assert "assistant> fine\n(The answer stops here: it reached the length limit" in output
    assert ":warning:" not in output


async def test_chat_needs_only_the_model_settings(environ: dict[str, str], fake_model: FakeModel) -> None:
    """`chat` is for trying the model before touching Slack: no Slack setting is asked for."""
    fake_model.script.append(Reply(["Hello."]))
    model_only = {name: value for name, value in environ.items() if not name.startswith("SLACK_")}
    code, output = await run_chat(model_only, "hi\n")
    assert code == 0
    assert "assistant> Hello.\n" in output


@pytest.mark.parametrize("moment", ["mid-answer", "at-the-prompt"])
async def test_ctrl_c_ends_the_chat_without_a_traceback(
    environ: dict[str, str], fake_model: FakeModel, moment: str
) -> None:
    """Ctrl-C while the model is still answering, or while the chat waits for the next line (it ends at
    once, though nothing more is typed): a clean exit with the shell's code for it, 130."""
    fake_model.script.append(Hang() if moment == "mid-answer" else Reply(["Hello."]))
    process = await BotProcess.start(environ, "chat", typed=True)
    try:
        assert process.process.stdin is not None
        process.process.stdin.write(b"hi\n")
        if moment == "mid-answer":
            await fake_model.wait_for_requests(1)
        else:
            await process.wait_for_line("assistant> Hello.")
        process.process.send_signal(signal.SIGINT)
        code = await process.finish()
    finally:
        process.kill()
    output = "\n".join(process.output)
    assert "Traceback" not in output
    assert code == 130


async def test_end_of_input_mid_answer_lets_the_answer_finish(environ: dict[str, str], fake_model: FakeModel) -> None:
    """Ctrl-D (standard input closed) while the model answers: the answer is shown whole, then a clean exit."""
    answer_starts = asyncio.Event()
    fake_model.script.append(Reply(["Hello ", "there."], starts=answer_starts))
    process = await BotProcess.start(environ, "chat", typed=True)
    try:
        assert process.process.stdin is not None
        process.process.stdin.write(b"hi\n")
        await fake_model.wait_for_requests(1)
        process.process.stdin.close()
        answer_starts.set()
        code = await process.finish()
    finally:
        process.kill()
    output = "\n".join(process.output)
    assert "assistant> Hello there." in output
    assert "Traceback" not in output
    assert code == 0


async def test_check_tries_each_channels_model_once(environ: dict[str, str], fake_model: FakeModel) -> None:
    """CHANNEL_MODELS: each model named is asked once, and named with the channels that use it."""
    code, text = await check({**environ, "CHANNEL_MODELS": "C0TEAM001=claude-4-5-sonnet,C0TEAM002=claude-4-5-sonnet"})
    assert code == 0
    assert [request["model"] for request in fake_model.requests].count("claude-4-5-sonnet") == 1
    assert "✓ model: claude-4-5-sonnet (for C0TEAM001, C0TEAM002) answered" in text


async def test_check_names_an_mcp_server_that_is_down_with_the_fix(
    environ: dict[str, str], fake_model: FakeModel
) -> None:
    import json
    import socket

    from tests.fakes.mcp_server import MCP_TOKEN, running_mcp_server

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    fake_model.script.append(Reply(["ok"]))
    with running_mcp_server() as mcp:
        servers = {
            "orders": {"url": mcp.url, "headers": {"Authorization": f"Bearer {MCP_TOKEN}"}},
            # Some hosted servers take their key in the URL: never shown, the fix names the URL masked.
            "billing": {"url": f"http://127.0.0.1:{closed}/mcp?key=billing-key-{MCP_TOKEN}"},
        }
        code, text = await check({**environ, "MCP_SERVERS": json.dumps(servers)})
    assert code == 1
    assert "✓ mcp orders: 6 tools, 1 of them run only once the asker approves" in text
    assert "✗ mcp billing: could not list its tools" in text
    assert f"check that http://127.0.0.1:{closed}/mcp?key=[redacted] is up" in text
    assert "only its own tools are missing" in text
    assert MCP_TOKEN not in text
