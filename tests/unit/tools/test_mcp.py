"""MCP tools against a real MCP server on loopback (the SDK's own server): listed, named, called, guarded."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import socket
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from bot.errors import ConfigurationError
from bot.logs import configure_logging
from bot.model.messages import ToolCall
from bot.settings import Settings
from bot.tools.base import NoApprover, Toolbox
from bot.tools.mcp import McpTools
from tests.fakes.mcp_server import MCP_TOKEN, FakeMcp, running_mcp_server
from tests.settings_env import REQUIRED


@pytest.fixture
def mcp_server() -> Iterator[FakeMcp]:
    with running_mcp_server() as server:
        yield server


OPENED: list[McpTools] = []


@pytest.fixture(autouse=True)
async def close_clients(mcp_server: FakeMcp) -> AsyncIterator[None]:
    """Every McpTools a test opened is closed before the server stops (its sessions are held open)."""
    yield
    while OPENED:
        await OPENED.pop().close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def settings(servers: dict[str, object]) -> Settings:
    return Settings.from_env({**REQUIRED, "MCP_SERVERS": json.dumps({"mcpServers": servers})})


def orders(server: FakeMcp, **entry: object) -> dict[str, object]:
    return {"url": server.url, "headers": {"Authorization": f"Bearer {MCP_TOKEN}"}, **entry}


async def toolbox_for(config: Settings) -> tuple[McpTools, Toolbox]:
    tools = McpTools(config.mcp_servers, config.secrets)
    OPENED.append(tools)
    await tools.start()
    return tools, Toolbox(await tools.current(), secrets=config.secrets, timeout_seconds=2)


async def test_tools_are_listed_under_their_servers_name_and_actions_need_approval(mcp_server: FakeMcp) -> None:
    _, toolbox = await toolbox_for(settings({"orders": orders(mcp_server)}))
    status, restart = toolbox.spec("orders__order_status"), toolbox.spec("orders__restart_worker")
    assert status is not None
    assert restart is not None
    assert (status.needs_approval, restart.needs_approval) == (False, True)
    assert status.parameters["properties"]["order"]["type"] == "integer"
    assert status.definition()["function"]["description"] == "The shipping status of an order."


@pytest.mark.parametrize(
    ("approval", "status_needs", "restart_needs"), [("always", True, True), ("never", False, False)]
)
async def test_approval_per_server(mcp_server: FakeMcp, approval: str, status_needs: bool, restart_needs: bool) -> None:
    _, toolbox = await toolbox_for(settings({"orders": orders(mcp_server, approval=approval)}))
    assert toolbox.spec("orders__order_status").needs_approval is status_needs  # type: ignore[union-attr]
    assert toolbox.spec("orders__restart_worker").needs_approval is restart_needs  # type: ignore[union-attr]


async def test_a_read_only_tool_runs_and_an_action_does_not_without_approval(mcp_server: FakeMcp) -> None:
    _, toolbox = await toolbox_for(settings({"orders": orders(mcp_server)}))
    done = await toolbox.run(ToolCall("1", "orders__order_status", '{"order": 7731}'), NoApprover())
    refused = await toolbox.run(ToolCall("2", "orders__restart_worker", '{"worker": "staging"}'), NoApprover())
    assert (done.status, done.text) == ("complete", "Order 7731 shipped on Monday.")
    assert refused.status == "denied"
    assert mcp_server.calls == [("order_status", {"order": 7731})]


async def test_a_server_down_at_start_only_loses_its_own_tools(mcp_server: FakeMcp) -> None:
    down = {"url": f"http://127.0.0.1:{closed_port()}/mcp"}
    tools, toolbox = await toolbox_for(settings({"orders": orders(mcp_server), "billing": down}))
    assert toolbox.spec("orders__order_status") is not None
    assert list(tools.problems) == ["billing"]


async def test_a_wrong_token_is_named_as_the_servers_problem(mcp_server: FakeMcp) -> None:
    config = settings({"orders": {"url": mcp_server.url, "headers": {"Authorization": "Bearer wrong-token-123456"}}})
    tools, toolbox = await toolbox_for(config)
    assert not toolbox
    assert "orders" in tools.problems
    assert mcp_server.refused >= 1


async def test_secrets_in_results_and_errors_are_masked_and_results_capped(mcp_server: FakeMcp) -> None:
    _, toolbox = await toolbox_for(settings({"orders": orders(mcp_server)}))
    leaked = await toolbox.run(ToolCall("1", "orders__leaky", '{"order": 1}'), NoApprover())
    failed = await toolbox.run(ToolCall("2", "orders__broken", "{}"), NoApprover())
    huge = await toolbox.run(ToolCall("3", "orders__huge", "{}"), NoApprover())
    assert MCP_TOKEN not in leaked.text
    assert "order 1" in leaked.text
    assert failed.status == "error"
    assert MCP_TOKEN not in failed.text
    assert "database down" in failed.text
    assert len(huge.text) < 8100


async def test_a_slow_tool_times_out(mcp_server: FakeMcp) -> None:
    _, toolbox = await toolbox_for(settings({"orders": orders(mcp_server)}))
    outcome = await toolbox.run(ToolCall("1", "orders__stall", "{}"), NoApprover())
    assert (outcome.status, outcome.text) == ("error", "The tool did not answer within 2 s.")


def test_header_values_are_secrets_and_malformed_servers_are_named() -> None:
    config = settings(
        {"orders": {"url": "https://x.example/mcp", "headers": {"Authorization": "Bearer abcdefgh12345"}}}
    )
    assert "Bearer abcdefgh12345" in config.secrets
    assert "abcdefgh" not in repr(config)
    with pytest.raises(Exception, match='needs a "url"'):
        settings({"orders": {"headers": {}}})
    with pytest.raises(Exception, match="approval"):
        settings({"orders": {"url": "https://x.example/mcp", "approval": "sometimes"}})


async def test_a_server_restarted_between_calls_is_reached_on_a_fresh_session(mcp_server: FakeMcp) -> None:
    """The held session died with the old server; a read-only call is tried once more on a new one."""
    from urllib.parse import urlsplit

    with running_mcp_server() as first:
        config = settings({"orders": orders(first)})
        port = urlsplit(first.url).port or 0
        tools, toolbox = await toolbox_for(config)
    with running_mcp_server(port) as second:
        outcome = await toolbox.run(ToolCall("1", "orders__order_status", '{"order": 5}'), NoApprover())
        await tools.close()
    assert (outcome.status, outcome.text) == ("complete", "Order 5 shipped on Monday.")
    assert second.calls == [("order_status", {"order": 5})]


async def test_a_server_that_hangs_is_listed_once_and_holds_no_answer_up(
    mcp_server: FakeMcp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that accepts and never answers, due for listing again while three answers start at once:
    it is asked once, and the three get the other servers' tools without waiting out its listing."""
    import bot.tools.mcp as mcp_module

    monkeypatch.setattr(mcp_module, "LIST_TIMEOUT_SECONDS", 3.0)
    accepted: list[asyncio.StreamWriter] = []

    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    stuck = await asyncio.start_server(hang, "127.0.0.1", 0)
    port = stuck.sockets[0].getsockname()[1]
    try:
        config = settings({"orders": orders(mcp_server), "stuck": {"url": f"http://127.0.0.1:{port}/mcp"}})
        tools = McpTools(config.mcp_servers, config.secrets)
        OPENED.append(tools)
        await tools._list(tools.clients[0])
        tools.clients[1].broken = True  # failed a call a while ago: due for listing again
        started = time.monotonic()
        offered = await asyncio.gather(*(tools.current() for _ in range(3)))
        waited = time.monotonic() - started
        assert all("orders__order_status" in {tool.spec.name for tool in batch} for batch in offered)
        assert waited < 2.0  # generous: the listing itself takes 3 s
        await tools.close()
        assert len(accepted) == 1
    finally:
        for writer in accepted:
            writer.close()
        stuck.close()
        await stuck.wait_closed()


async def test_an_action_is_never_tried_twice_even_where_it_needs_no_approval() -> None:
    """`"approval": "never"` waives the asker's yes, not the rule that a call that may change something is
    not repeated: a connection lost mid-call may have lost only the answer, after the action ran."""
    import mcp_types

    from bot.tools.base import ToolResult
    from bot.tools.mcp import McpServerClient, McpTool

    asked: list[bool] = []

    class Client(McpServerClient):
        async def call(self, name: str, arguments: dict[str, object], *, repeatable: bool) -> ToolResult:
            asked.append(repeatable)
            return ToolResult("ok")

    config = settings({"orders": {"url": "http://127.0.0.1:1/mcp", "approval": "never"}})
    client = Client(config.mcp_servers[0])
    destructive = mcp_types.ToolAnnotations(destructive_hint=True)
    read_only = mcp_types.ToolAnnotations(read_only_hint=True)
    for hints in (destructive, read_only, None):
        tool = mcp_types.Tool(name="t", input_schema={"type": "object"}, annotations=hints)
        await McpTool(client, tool).call({})
    assert asked == [False, True, False]


URL_KEY = "url-key-0123456789abcdef"


async def test_a_key_in_a_servers_url_is_never_logged_or_shown(mcp_server: FakeMcp) -> None:
    """A key in the query (`?key=…`), a password or a user name before the host: masked in the servers'
    problems (an HTTP error names the URL whole), in every log line, and kept out of the settings' repr."""
    port = closed_port()
    config = settings(
        {
            "orders": {"url": f"{mcp_server.url}?key={URL_KEY}&format=json"},  # no bearer token: a 401 naming the URL
            "billing": {"url": f"http://admin:pw-{URL_KEY}@127.0.0.1:{port}/mcp"},
            "stock": {"url": f"http://{URL_KEY}@127.0.0.1:{port}/mcp"},
        }
    )
    assert URL_KEY not in repr(config)
    assert f"pw-{URL_KEY}" in config.secrets
    log = io.StringIO()
    configure_logging("DEBUG", config.secrets, log)
    try:
        tools, _ = await toolbox_for(config)
        # What a library's error or log line may say: the URL whole (httpx names it in an HTTPStatusError).
        named = [tools.clients[index].describe(RuntimeError(f"for url {server.url}")) for index, server in
                 enumerate(config.mcp_servers)]  # fmt: skip
        for server in config.mcp_servers:
            logging.getLogger("mcp").warning("HTTP Request: POST %s", server.url)
    finally:
        logging.getLogger().handlers.clear()
    assert set(tools.problems) == {"orders", "billing", "stock"}
    shown = json.dumps([tools.problems, named]) + log.getvalue()
    assert "MCP server unavailable" in log.getvalue()
    assert log.getvalue().count("HTTP Request: POST http://") == 3
    assert URL_KEY not in shown
    assert "pw-url-key" not in shown
    assert [server.shown_url for server in config.mcp_servers] == [
        f"{mcp_server.url}?key=[redacted]&format=[redacted]",
        f"http://[redacted]@127.0.0.1:{port}/mcp",
        f"http://[redacted]@127.0.0.1:{port}/mcp",
    ]


def test_a_url_the_settings_refuse_is_named_without_its_key() -> None:
    with pytest.raises(ConfigurationError) as refused:
        settings({"orders": {"url": f"ftp://files.example/mcp?key={URL_KEY}"}})
    assert "url must be an http(s) URL" in str(refused.value)
    assert URL_KEY not in str(refused.value)
