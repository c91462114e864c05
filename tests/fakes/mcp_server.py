"""A real MCP server on loopback, built with the `mcp` SDK's own server (MCPServer's Streamable HTTP app
under uvicorn, in a thread): a read-only tool, a destructive one, and tools that fail, stall, flood and
leak; it checks a bearer token."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations

MCP_TOKEN = "mcp-bearer-token-5555666677778888"


@dataclass
class FakeMcp:
    url: str
    # What each tool was called with, in order.
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    refused: int = 0
    release: threading.Event = field(default_factory=threading.Event)


def _server(state: FakeMcp) -> MCPServer:
    server = MCPServer("orders")

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def order_status(order: int) -> str:
        """The shipping status of an order."""
        state.calls.append(("order_status", {"order": order}))
        return f"Order {order} shipped on Monday."

    @server.tool(annotations=ToolAnnotations(destructive_hint=True))
    def restart_worker(worker: str) -> str:
        """Restarts a worker process."""
        state.calls.append(("restart_worker", {"worker": worker}))
        return f"Restarted {worker}."

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def leaky(order: int) -> str:
        """Echoes what it was sent, the token too."""
        state.calls.append(("leaky", {"order": order}))
        return f"debug: Authorization: Bearer {MCP_TOKEN}; order {order}"

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def huge() -> str:
        """A result of a megabyte."""
        return "y" * 1_000_000

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def broken() -> str:
        """Always fails."""
        raise ToolError(f"database down (token {MCP_TOKEN})")

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def stall() -> str:
        """Answers only once released."""
        state.release.wait(10)
        return "late"

    return server


@contextmanager
def running_mcp_server(port: int = 0) -> Iterator[FakeMcp]:
    """On a free port, or on `port` again (a server restarted where the bot knows it)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    port = sock.getsockname()[1]
    state = FakeMcp(url=f"http://127.0.0.1:{port}/mcp")
    app = _server(state).streamable_http_app()

    async def guarded(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and dict(scope["headers"]).get(b"authorization") != f"Bearer {MCP_TOKEN}".encode():
            state.refused += 1
            await send({"type": "http.response.start", "status": 401, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"unauthorized"})
            return
        await app(scope, receive, send)

    server = uvicorn.Server(uvicorn.Config(guarded, log_level="warning", lifespan="on", timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:  # uvicorn offers no event to wait on
        if time.monotonic() > deadline:
            raise RuntimeError("the MCP server did not start")
        time.sleep(0.01)
    try:
        yield state
    finally:
        state.release.set()
        server.should_exit = True
        thread.join(10)
        sock.close()
