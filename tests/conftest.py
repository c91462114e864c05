from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import aiohttp
import httpx
import pytest
from aiohttp import web

from bot.app.runtime import EVENTS_PATH, Runtime
from bot.app.server import serve_socket_mode
from bot.model.transport import AiohttpTransport
from bot.settings import Settings
from tests.fakes.events import SIGNING_SECRET, EventSender
from tests.fakes.model_api import MODEL_ID, MODEL_KEY, FakeModel
from tests.fakes.slack_api import APP_TOKEN, BOT_TOKEN, FakeSlack


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    slack = FakeSlack()
    await slack.start()
    slack.add_user("UALICE", "Alice")
    slack.add_user("UBOB", "Bob")
    yield slack
    await slack.stop()


@pytest.fixture
async def fake_model() -> AsyncIterator[FakeModel]:
    model = FakeModel()
    await model.start()
    yield model
    await model.stop()


ModelHTTP = Callable[..., httpx.AsyncClient]


@pytest.fixture(params=["aiohttp", "httpcore"])
def model_http(request: pytest.FixtureRequest) -> ModelHTTP:
    """httpx clients for the model, over the bot's wire (aiohttp's) and httpx's own: both must behave alike."""

    def build(**options: object) -> httpx.AsyncClient:
        transport = AiohttpTransport() if request.param == "aiohttp" else None
        return httpx.AsyncClient(transport=transport, **options)  # type: ignore[arg-type]

    return build


@pytest.fixture
def environ(fake_slack: FakeSlack, fake_model: FakeModel) -> dict[str, str]:
    """The settings a deployer would set, pointing at the fakes."""
    return {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.url,
        "INFERENCE_URL": fake_model.url,
        "INFERENCE_KEY": MODEL_KEY,
        "INFERENCE_MODEL_ID": MODEL_ID,
        "MODEL_TIMEOUT_SECONDS": "5",
    }


class RunningBot:
    def __init__(self, runtime: Runtime, runner: web.AppRunner, url: str) -> None:
        self.runtime = runtime
        self.runner = runner
        self.url = url
        self.closed = False

    async def close(self, grace_seconds: float = 5) -> None:
        """Stops as the server does on SIGTERM; closing twice is harmless."""
        if self.closed:
            return
        self.closed = True
        await self.runner.cleanup()
        await self.runtime.close(grace_seconds=grace_seconds)


async def start_bot(environ: dict[str, str]) -> RunningBot:
    """The app exactly as `python -m bot` builds it, served on a free loopback port."""
    runtime = await Runtime.start(Settings.from_env(environ))
    runner = web.AppRunner(runtime.web_app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    return RunningBot(runtime, runner, f"http://127.0.0.1:{port}")


@contextlib.asynccontextmanager
async def socket_mode_bot(environ: dict[str, str], fake_slack: FakeSlack) -> AsyncIterator[Runtime]:
    """The bot in Socket Mode (an app token, no signing secret), connected to the fake Slack's websocket."""
    settings = {key: value for key, value in environ.items() if key != "SLACK_SIGNING_SECRET"}
    runtime = await Runtime.start(Settings.from_env({**settings, "SLACK_APP_TOKEN": APP_TOKEN}))
    stop = asyncio.Event()
    serving = asyncio.create_task(serve_socket_mode(runtime, stop))
    try:
        await fake_slack.wait_for(lambda: bool(fake_slack.sockets))
        yield runtime
    finally:
        stop.set()
        await serving
        await runtime.close(grace_seconds=5)


BotFactory = Callable[..., Awaitable[RunningBot]]


@pytest.fixture
async def bot_factory(environ: dict[str, str]) -> AsyncIterator[BotFactory]:
    bots: list[RunningBot] = []

    async def make(**overrides: str) -> RunningBot:
        bot = await start_bot({**environ, **overrides})
        bots.append(bot)
        return bot

    yield make
    for bot in bots:
        await bot.close()


@pytest.fixture
async def bot(bot_factory: BotFactory) -> RunningBot:
    return await bot_factory()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def events(bot: RunningBot, http: aiohttp.ClientSession) -> EventSender:
    return EventSender(bot.url + EVENTS_PATH, http)


class _Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def no_crashed_tasks() -> Iterator[None]:
    """Any answer task that dies with an exception fails the test that caused it."""
    recorder = _Recorder()
    logger = logging.getLogger("bot.tasks")
    logger.addHandler(recorder)
    yield
    logger.removeHandler(recorder)
    assert [record.getMessage() for record in recorder.records] == []
