"""`python -m bot check`: every setting, Slack, the model and Redis, one line each, with a fix for each failure."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TextIO

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import (
    ConfigurationError,
    ModelError,
    ModelHTTPError,
    ModelSetupError,
    ModelTimeout,
    ModelUnreachable,
    StoreUnavailable,
)
from bot.files.images import model_takes_images, probe_image
from bot.model.client import ModelClient, ModelRequest
from bot.model.messages import ChatMessage
from bot.model.opening import open_model_client
from bot.settings import SIGNING_SECRET_WHERE, Part, Settings
from bot.slack.client import close_slack_client, open_slack_client
from bot.slack.errors import SLACK_FAILURES, slack_error_code
from bot.store.redis_queue import RedisQueue
from bot.store.redis_store import RedisHealth, RedisStore
from bot.tools.mcp import McpTools

# The bot scopes manifest.yml asks for; a token without them fails in ways that are hard to trace later.
REQUIRED_SCOPES = (
    "app_mentions:read",
    "chat:write",
    "channels:history",
    "groups:history",
    "im:history",
    "mpim:history",
    "users:read",
    "reactions:write",
    "channels:read",
    "groups:read",
    "commands",
    "im:write",
    "files:read",
    "im:read",
    "mpim:read",
    "assistant:write",
)
# Slack search (`search_slack`): without them the tool fails and the answers go on without it.
SEARCH_SCOPES = ("search:read.public", "search:read.files", "search:read.users")
PROMPT = [ChatMessage("system", "You are a health check. Reply with one word."), ChatMessage("user", "Say ok.")]


class Report:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.failures = 0

    def passed(self, name: str, detail: str) -> None:
        print(f"✓ {name}: {detail}", file=self.out)

    def failed(self, name: str, problem: str, fix: str | None = None) -> None:
        self.failures += 1
        print(f"✗ {name}: {problem}" + (f"\n    fix: {fix}" if fix else ""), file=self.out)

    def skipped(self, name: str, detail: str) -> None:
        print(f"- {name}: {detail}", file=self.out)

    def warned(self, name: str, problem: str, fix: str) -> None:
        """Works, but can go wrong under load; does not fail the check."""
        print(f"! {name}: {problem}\n    fix: {fix}", file=self.out)


async def run_checks(environ: Mapping[str, str], out: TextIO) -> int:
    """Exit code 0 only when every check passes. A part whose settings are missing is reported as not
    configured, and the other parts are still checked."""
    report = Report(out)
    settings = _check_settings(environ, report)
    slack_settings = settings or _settings_of_part(environ, "slack")
    model_settings = settings or _settings_of_part(environ, "model")
    if slack_settings is None:
        report.skipped("slack", f"not configured: {NOT_CONFIGURED} (`python -m bot chat` works without it)")
    else:
        await _check_slack(slack_settings, report)
    if model_settings is None:
        report.skipped("model", f"not configured: {NOT_CONFIGURED}")
    else:
        await _check_model(model_settings, report)
    any_settings = settings or model_settings or slack_settings
    if any_settings is None:
        report.skipped("redis", f"not checked: {NOT_CONFIGURED}")
    else:
        await _check_redis(any_settings, report)
    if settings is not None:
        await _check_mcp(settings, report)
    return 1 if report.failures else 0


def _check_settings(environ: Mapping[str, str], report: Report) -> Settings | None:
    """Everything the server needs; each problem is a failure, named with its fix."""
    try:
        settings = Settings.from_env(environ)
    except ConfigurationError as error:
        for problem in error.problems:
            report.failed("settings", problem)
        return None
    mode = "Socket Mode" if settings.socket_mode else f"HTTP on port {settings.port}, path /slack/events"
    report.passed("settings", f"all present and valid ({mode})")
    return settings


NOT_CONFIGURED = "fix the settings above to check it"
# A live reader takes a question within seconds (bot/work/consumer.py): one unread this long has no reader.
WORKER_SEEN_SECONDS = 30.0


def _settings_of_part(environ: Mapping[str, str], part: Part) -> Settings | None:
    try:
        return Settings.from_env(environ, parts=(part,))
    except ConfigurationError:
        return None


async def _check_slack(settings: Settings, report: Report) -> None:
    slack = open_slack_client(settings)
    try:
        await _check_slack_token(settings, slack, report)
        if settings.socket_mode:
            await _check_app_token(settings, slack, report)
    finally:
        await close_slack_client(slack)
    if not settings.socket_mode:
        report.skipped("signing secret", SIGNING_SECRET_CHECK)


# Slack signs each request with the secret and the bot only checks it, so no call from here can test it.
SIGNING_SECRET_CHECK = (
    "only a request from Slack can test it. In your Slack app's Event Subscriptions, enter the Request URL "
    'that the bot\'s page at / shows (https://<app>.herokuapp.com/slack/events): Slack shows "Verified" '
    f"when SLACK_SIGNING_SECRET matches. If it does not, copy it again from {SIGNING_SECRET_WHERE}; the bot's "
    "log names SLACK_SIGNING_SECRET whenever a signature fails."
)


async def _check_slack_token(settings: Settings, slack: AsyncWebClient, report: Report) -> None:
    try:
        response = await slack.auth_test()
    except SlackApiError as error:
        code = slack_error_code(error) or "an unreadable answer"
        report.failed(
            "slack",
            f"Slack refused the bot token ({code})",
            "copy the Bot User OAuth Token (xoxb-...) again from your app's OAuth & Permissions page into "
            "SLACK_BOT_TOKEN; reinstall the app to the workspace if the token was revoked.",
        )
        return
    except SLACK_FAILURES as error:
        report.failed(
            "slack",
            f"could not reach Slack at {settings.slack_api_url} ({type(error).__name__})",
            "check SLACK_API_URL (leave it unset for slack.com) and the network.",
        )
        return
    granted = {scope.strip() for scope in str(response.headers.get("x-oauth-scopes", "")).split(",") if scope}
    missing = [scope for scope in REQUIRED_SCOPES if granted and scope not in granted]
    who = f"workspace {response.get('team')!r} as @{response.get('user')}"
    if missing:
        report.failed(
            "slack",
            f"connected to {who}, but the token lacks {', '.join(missing)}",
            "add these bot scopes (manifest.yml lists them all) under OAuth & Permissions, then reinstall the app.",
        )
        return
    report.passed("slack", f"connected to {who}")
    lacking = [scope for scope in SEARCH_SCOPES if granted and scope not in granted]
    if lacking:
        report.warned(
            "slack search",
            f"the token lacks {', '.join(lacking)}: answers cannot search Slack",
            "add these bot scopes (manifest.yml lists them) under OAuth & Permissions, then reinstall the app.",
        )


APP_TOKEN_FIX = (
    "copy an app-level token (xapp-...) with the connections:write scope from your app's Basic Information → "
    "App-Level Tokens into SLACK_APP_TOKEN, and turn on Socket Mode in the app's settings; or unset "
    "SLACK_APP_TOKEN to use HTTP mode."
)


async def _check_app_token(settings: Settings, slack: AsyncWebClient, report: Report) -> None:
    """The token Socket Mode connects with: refused, the bot would only retry its connection, for ever."""
    try:
        # Only asks for a websocket address (valid for a short while); nothing connects to it.
        await slack.apps_connections_open(app_token=str(settings.slack_app_token))
    except SlackApiError as error:
        code = slack_error_code(error) or "an unreadable answer"
        report.failed("socket mode", f"Slack refused the app token ({code})", APP_TOKEN_FIX)
        return
    except SLACK_FAILURES as error:
        report.failed(
            "socket mode",
            f"could not reach Slack at {settings.slack_api_url} ({type(error).__name__})",
            "check SLACK_API_URL (leave it unset for slack.com) and the network.",
        )
        return
    report.passed("socket mode", "Slack accepted the app token")


async def _check_model(settings: Settings, report: Report) -> None:
    model = open_model_client(settings)
    try:
        if await _check_answer(settings, model, report):
            await _check_images(settings, model, report)
            await _check_channel_models(settings, model, report)
    finally:
        await model.http.aclose()


async def _check_answer(settings: Settings, model: ModelClient, report: Report) -> bool:
    started = time.monotonic()
    try:
        answer = await model.complete(ModelRequest(PROMPT, temperature=0, max_tokens=16))
    except ModelError as error:
        report.failed("model", f"{settings.inference_model_id} at {settings.inference_url}: {error}", _model_fix(error))
        return False
    latency = (time.monotonic() - started) * 1000
    reply = " ".join(answer.text.split())[:40] or "(empty)"
    report.passed("model", f"{settings.inference_model_id} answered {reply!r} in {latency:.0f} ms")
    return True


async def _check_channel_models(settings: Settings, model: ModelClient, report: Report) -> None:
    """Each model CHANNEL_MODELS names, asked once."""
    channels: dict[str, list[str]] = {}
    for channel, model_id in settings.channel_models.items():
        channels.setdefault(model_id, []).append(channel)
    for model_id, where in sorted(channels.items()):
        used_in = ", ".join(sorted(where))
        try:
            answer = await model.complete(ModelRequest(PROMPT, temperature=0, max_tokens=16, model=model_id))
        except ModelError as error:
            report.failed(
                "model",
                f"{model_id} (CHANNEL_MODELS, for {used_in}): {error}",
                f"check CHANNEL_MODELS: {model_id} must be a model your INFERENCE_KEY may use.",
            )
            continue
        reply = " ".join(answer.text.split())[:40] or "(empty)"
        report.passed("model", f"{model_id} (for {used_in}) answered {reply!r}")


async def _check_images(settings: Settings, model: ModelClient, report: Report) -> None:
    """Sends a tiny image: does the model take it, and does MODEL_ACCEPTS_IMAGES agree?"""
    model_id, setting = settings.inference_model_id, settings.model_accepts_images
    sending = model_takes_images(setting, model_id)
    probe = ChatMessage("user", "What colour is this square? Answer with one word.", (probe_image(),))
    try:
        answer = await model.complete(ModelRequest([probe], temperature=0, max_tokens=16))
    except ModelHTTPError as error:
        if not sending:
            report.passed("images", f"{model_id} takes no images (it refused a test image); images are named, not sent")
            return
        report.failed(
            "images",
            f"{model_id} refused a test image: {error}",
            "set MODEL_ACCEPTS_IMAGES=false: images in threads are then named in answers, not sent.",
        )
        return
    except ModelError as error:
        report.failed("images", f"could not send a test image ({error})", "try again in a moment.")
        return
    reply = " ".join(answer.text.split())[:40] or "(empty)"
    if sending:
        report.passed("images", f"{model_id} took a test image (answered {reply!r}); images in threads are sent")
    else:
        report.passed(
            "images",
            f"{model_id} took a test image (answered {reply!r}), but MODEL_ACCEPTS_IMAGES={setting} keeps images "
            "out: set MODEL_ACCEPTS_IMAGES=true to send them",
        )


SETTING_FIXES = {
    "INFERENCE_KEY": "the key was refused: copy INFERENCE_KEY again (`{config} INFERENCE_KEY`).",
    "INFERENCE_MODEL_ID": "check INFERENCE_MODEL_ID: a model this key may use (`{config} INFERENCE_MODEL_ID`).",
    "INFERENCE_URL": "check INFERENCE_URL, the service's base URL (`{config} INFERENCE_URL`).",
    "MODEL_TEMPERATURE": "set MODEL_TEMPERATURE within what the model accepts (the message above says the range).",
    "MODEL_MAX_TOKENS": "lower MODEL_MAX_TOKENS to what the model accepts (the message above says the limit).",
}


# Each model setting, for a refusal that names none of them.
EACH_MODEL_SETTING = {
    "INFERENCE_URL": "the service's base URL, e.g. https://us.inference.heroku.com",
    "INFERENCE_KEY": "copy it again",
    "INFERENCE_MODEL_ID": "a model this key may use",
}


def _model_fix(error: ModelError) -> str:
    config = "heroku config:get -a $APP_NAME"
    if isinstance(error, ModelSetupError):
        return " ".join(SETTING_FIXES[name].format(config=config) for name in error.settings)
    if _refused_the_probe(error):
        # A gateway's "No connected db" for a key it does not know, a 400 page of a proxy: not about the
        # question, and its words do not say which setting.
        each = [f"{name}: {what} (`{config} {name}`)" for name, what in EACH_MODEL_SETTING.items()]
        return "\n      ".join(
            ["the service refused a one-line test question without saying which setting is wrong; check each:", *each]
        )
    if isinstance(error, (ModelUnreachable, ModelTimeout)):
        return f"check INFERENCE_URL (`{config} INFERENCE_URL`) and the network; try again if the service is busy."
    return (
        "try again in a moment; if it keeps failing, see the service's status page, and check INFERENCE_URL, "
        "INFERENCE_KEY and INFERENCE_MODEL_ID."
    )


def _refused_the_probe(error: ModelError) -> bool:
    """A 4xx for check's own one-line question cannot be about the question; a rate limit is about the load."""
    return isinstance(error, ModelHTTPError) and 400 <= error.status < 500 and error.status != 429


async def _check_redis(settings: Settings, report: Report) -> None:
    if not settings.redis_url:
        report.skipped("redis", "REDIS_URL not set: one process, state kept in memory")
        return
    store = RedisStore.from_settings(settings)
    try:
        health = await store.health()
        queue = RedisQueue(store.client)
        persistence = await queue.persistence()
        readers = await queue.readers(WORKER_SEEN_SECONDS)
        unread, oldest = await queue.unread()
    except StoreUnavailable as error:
        report.failed(
            "redis",
            f"could not connect ({error})",
            "check REDIS_URL (`heroku config:get -a $APP_NAME REDIS_URL`, `heroku redis:info -a $APP_NAME`).",
        )
        return
    finally:
        await store.close()
    policy, limit = health.maxmemory_policy, health.maxmemory
    size = f"maxmemory {_megabytes(limit)}" if limit else "no maxmemory"
    report.passed(
        "redis",
        f"answered PING in {health.latency_ms:.0f} ms; maxmemory-policy {policy}, {size}; "
        f"thread cache at most {_megabytes(health.thread_cache_bytes)}; {persistence.describe()}; "
        f"{_clients(health)}{_readers(readers, settings.web_answers)}",
    )
    if unread and oldest >= WORKER_SEEN_SECONDS:
        # Acknowledged to Slack, so nothing in Slack says so: the asker sees no answer and no notice.
        who = "no worker is reading it (WEB_ANSWERS=false)" if not settings.web_answers else "no process is reading it"
        fix = (
            "start a worker: `heroku ps:scale -a $APP_NAME worker=1` (the Procfile's `python -m bot worker`), or "
            "unset WEB_ANSWERS so that web processes answer."
            if not settings.web_answers
            else "look at the logs for `the question queue cannot be read`; restart: `heroku ps:restart -a $APP_NAME`."
        )
        report.warned(
            "redis",
            f"{unread} question{'s' if unread > 1 else ''} waiting unanswered in the queue, the oldest for "
            f"{oldest:.0f} s: {who}",
            fix,
        )
    if health.maxclients and health.connected_clients + health.max_connections > health.maxclients:
        report.warned(
            "redis",
            f"Redis allows {health.maxclients} clients and {health.connected_clients} are connected: a process "
            f"opening its {health.max_connections} (REDIS_MAX_CONNECTIONS) would be refused some, and its "
            "answers would then fall back to one process's memory",
            "keep the number of processes times REDIS_MAX_CONNECTIONS under the plan's connection limit "
            "(`heroku redis:info -a $APP_NAME` shows it), or choose a larger plan.",
        )
    if not persistence.kept:
        # A Redis that refuses CONFIG (many managed ones) may still take snapshots: say so, not that it has none.
        unknown = persistence.snapshots is None
        loses = (
            "may keep no data through a restart (it would not say)" if unknown else "keeps no data through a restart"
        )
        report.warned(
            "redis",
            f"Redis {loses}: questions queued and not yet answered are then answered only "
            "if the process that took them is still running",
            "a Heroku Key-Value Store plan that keeps data (premium and up), or `appendonly yes` on your own Redis.",
        )
    if policy != "noeviction":
        report.warned(
            "redis",
            f"maxmemory-policy {policy}: a full Redis evicts keys, the bot's claims among them (they expire, so "
            "volatile-* policies evict them too), and a Slack retry could then be answered twice",
            "`heroku redis:maxmemory -a $APP_NAME --policy noeviction` (Heroku's default); the bot keeps its "
            "thread cache within a quarter of maxmemory itself.",
        )


def _readers(readers: int, web_answers: bool) -> str:
    if not readers:
        return ""
    if web_answers:
        return f"; {readers} process{'es' if readers > 1 else ''} reading the question queue"
    return f"; {readers} worker{'s' if readers > 1 else ''} reading the question queue"


def _clients(health: RedisHealth) -> str:
    allowed = f" of {health.maxclients} allowed" if health.maxclients else ""
    return (
        f"{health.connected_clients} clients connected{allowed}, this process opening at most "
        f"{health.max_connections} (REDIS_MAX_CONNECTIONS)"
    )


async def _check_mcp(settings: Settings, report: Report) -> None:
    """Each MCP server: reachable, and its tools listed; one that is not only loses its own tools."""
    if not settings.mcp_servers:
        report.skipped("mcp", "MCP_SERVERS not set: no team tools")
        return
    tools = McpTools(settings.mcp_servers, settings.secrets)
    try:
        await tools.start()
    finally:
        await tools.close()
    for server in settings.mcp_servers:
        name = f"mcp {server.name}"
        if server.name in tools.problems:
            report.failed(
                name,
                f"could not list its tools ({tools.problems[server.name]})",
                f"check that {server.shown_url} is up and speaks MCP over Streamable HTTP, and that its headers "
                "(a bearer token) in MCP_SERVERS are current; until then only its own tools are missing.",
            )
            continue
        listed = tools.tools.get(server.name, [])
        actions = sum(tool.spec.needs_approval for tool in listed)
        report.passed(name, f"{len(listed)} tools, {actions} of them run only once the asker approves")


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"
