"""The team's MCP servers, spoken to over Streamable HTTP with the official `mcp` SDK (imported only here).

Each server's tools are listed at start and offered as `<server>__<tool>`, so two servers cannot collide.
One session per server is held open between calls (`McpServerClient`); a server restarted or
redeployed in between is reached again on a fresh one. A server down at start, or failing since, only
takes its own tools away: it is logged, named by `python -m bot check`, and listed again before a later
answer (at most every `RETRY_SECONDS`).
Header values (a bearer token), and a key in a server's URL, are secrets: masked in every error and never
logged; the URL is shown only with them masked (`McpServer.shown_url`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bot.errors import ToolError
from bot.safe_text import safe_text
from bot.settings import McpServer
from bot.tools.base import REDACT_MARGIN_CHARS, Tool, ToolResult, ToolSpec, function_name

if TYPE_CHECKING:
    # The SDK (pydantic, starlette, ...) costs about 55 MB of memory: imported only once a server is configured.
    import httpx2
    import mcp_types
    from mcp.client.session import ClientSession

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 10.0
LIST_TIMEOUT_SECONDS = 15.0
RETRY_SECONDS = 60.0
REFRESH_WAIT_SECONDS = 1.0


def may_change(annotations: mcp_types.ToolAnnotations | None) -> bool:
    """Every tool not marked read-only, and every one marked destructive."""
    read_only = annotations is not None and annotations.read_only_hint is True
    destructive = annotations is not None and annotations.destructive_hint is True
    return destructive or not read_only


def needs_approval(server: McpServer, annotations: mcp_types.ToolAnnotations | None) -> bool:
    """`writes`: every tool that may change something waits for a yes; `always` every one, `never` none."""
    if server.approval == "always":
        return True
    if server.approval == "never":
        return False
    return may_change(annotations)


def result_text(result: mcp_types.CallToolResult) -> str:
    """A result's content as text: text blocks whole, other blocks named; structured content as JSON when
    there is no text (servers usually send both, the text mirroring the structure)."""
    import mcp_types  # the SDK only once a server answers (see the imports above)

    parts: list[str] = []
    for block in result.content:
        if isinstance(block, mcp_types.TextContent):
            parts.append(block.text)
        elif isinstance(block, mcp_types.EmbeddedResource):
            resource = block.resource
            parts.append(resource.text if isinstance(resource, mcp_types.TextResourceContents) else f"[{resource.uri}]")
        elif isinstance(block, mcp_types.ResourceLink):
            parts.append(f"[{block.name}: {block.uri}]")
        else:
            parts.append(f"[{block.type} content, not shown]")
    if not any(part.strip() for part in parts) and result.structured_content is not None:
        parts = [json.dumps(result.structured_content, ensure_ascii=False, default=str)]
    return "\n".join(parts)


class McpServerClient:
    """One server: its tools, and calls to them, over one session held open between calls.

    The session lives in a task of its own (the SDK's streams must be opened and closed in one task);
    calls use it from any task. A call that fails drops the session: the next one opens a fresh one, and
    a read-only call is tried once more on it (a server restarted in between, or one that expired the
    idle session, never ran it). A `tools/list_changed` notification marks the tools for listing again."""

    def __init__(self, server: McpServer, secrets: Sequence[str] = ()) -> None:
        self.server = server
        self.secrets = (*secrets, *server.secrets)
        # Set when a call could not reach the server, or it said its tools changed: listed again soon.
        self.broken = False
        # One HTTP client per server, kept: making one loads the CA store (some 30 ms of CPU) each time.
        self._http: httpx2.AsyncClient | None = None
        self._session: ClientSession | None = None
        self._holder: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._opening = asyncio.Lock()

    async def close(self) -> None:
        await self._drop()
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def list_tools(self) -> list[McpTool]:
        """Raises ToolError, naming why the server could not be asked."""
        import mcp_types

        try:
            async with asyncio.timeout(LIST_TIMEOUT_SECONDS):
                session = await self._open()
                listed: list[mcp_types.Tool] = []
                cursor: str | None = None
                while True:
                    params = mcp_types.PaginatedRequestParams(cursor=cursor) if cursor else None
                    page = await session.list_tools(params=params)
                    listed.extend(page.tools)
                    cursor = page.next_cursor
                    if not cursor or len(listed) > 500:
                        break
        except TimeoutError as exc:
            await self._drop()
            raise ToolError(f"{self.server.name} did not list its tools within {LIST_TIMEOUT_SECONDS:g} s") from exc
        except Exception as exc:  # the SDK raises exception groups of anything below it
            await self._drop()
            raise ToolError(f"{self.server.name}: {self.describe(exc)}") from exc
        return [McpTool(self, tool) for tool in listed]

    async def call(self, name: str, arguments: dict[str, Any], *, repeatable: bool) -> ToolResult:
        for attempt in (1, 2):
            reused = self._session is not None
            try:
                session = await self._open()
                result = await session.call_tool(name, arguments)
            except Exception as exc:  # the SDK raises exception groups of anything below it
                await self._drop()
                if attempt == 1 and reused and repeatable:
                    continue
                self.broken = True
                raise ToolError(self.describe(exc)) from exc
            return ToolResult(result_text(result), is_error=result.is_error)
        raise AssertionError("unreachable")

    def describe(self, error: BaseException) -> str:
        """The innermost failure, in a few words, secrets masked (a server may echo a header back)."""
        while isinstance(error, BaseExceptionGroup) and error.exceptions:
            error = error.exceptions[0]
        words = str(error)[: 300 + REDACT_MARGIN_CHARS] or type(error).__name__
        return safe_text(f"{type(error).__name__}: {words}", self.secrets, limit=300)

    async def _open(self) -> ClientSession:
        import httpx2

        async with self._opening:
            if self._session is not None and self._holder is not None and not self._holder.done():
                return self._session
            await self._drop()
            if self._http is None:
                timeout = httpx2.Timeout(CONNECT_TIMEOUT_SECONDS, read=300.0)
                self._http = httpx2.AsyncClient(headers=dict(self.server.headers), timeout=timeout)
            ready: asyncio.Future[ClientSession] = asyncio.get_running_loop().create_future()
            self._stop = asyncio.Event()
            self._holder = asyncio.create_task(
                self._hold(self._http, ready, self._stop), name=f"mcp {self.server.name}"
            )
            try:
                self._session = await ready
            except BaseException:
                await self._drop()
                raise
            return self._session

    async def _hold(self, http: httpx2.AsyncClient, ready: asyncio.Future[ClientSession], stop: asyncio.Event) -> None:
        from mcp.client.session import ClientSession
        from mcp.client.streamable_http import streamable_http_client

        try:
            async with (
                streamable_http_client(self.server.url, http_client=http) as (read, write),
                ClientSession(read, write, message_handler=self._notified) as session,
            ):
                await session.initialize()
                ready.set_result(session)
                await stop.wait()
        except Exception as exc:  # noqa: BLE001 - the session's end, whatever the SDK raised, is handed to the caller
            if not ready.done():
                ready.set_exception(exc)
            else:
                logger.info("MCP session ended", extra={"server": self.server.name, "error": self.describe(exc)})
        finally:
            if not ready.done():
                ready.cancel()

    async def _notified(self, message: Any) -> None:
        import mcp_types

        if isinstance(message, mcp_types.ToolListChangedNotification):
            self.broken = True

    async def _drop(self) -> None:
        """Closes the held session, if any (its task closes the SDK's streams)."""
        holder, self._holder, self._session = self._holder, None, None
        if holder is None:
            return
        self._stop.set()
        try:
            async with asyncio.timeout(5):
                await asyncio.wait({holder})
        except TimeoutError:
            holder.cancel()
            await asyncio.wait({holder})


class McpTool:
    def __init__(self, client: McpServerClient, tool: mcp_types.Tool) -> None:
        self.client = client
        server = client.server
        self.spec = ToolSpec(
            name=function_name(server.name, tool.name),
            remote_name=tool.name,
            server=server.name,
            description=tool.description or tool.title or tool.name,
            parameters=tool.input_schema or {"type": "object"},
            needs_approval=needs_approval(server, tool.annotations),
        )
        # Tried again on a fresh session only if it changes nothing, whatever the approval rule says: a
        # connection lost mid-call may have lost only the answer, after an action ran.
        self.repeatable = not may_change(tool.annotations)

    async def call(self, arguments: dict[str, Any]) -> ToolResult:
        return await self.client.call(self.spec.remote_name, arguments, repeatable=self.repeatable)


class McpTools:
    """Every configured server's tools, kept current: a server that failed is listed again later."""

    def __init__(self, servers: Sequence[McpServer], secrets: Sequence[str] = ()) -> None:
        self.clients = [McpServerClient(server, secrets) for server in servers]
        self.tools: dict[str, list[McpTool]] = {}
        # Per server that could not be listed: why, and when it was last tried.
        self.problems: dict[str, str] = {}
        self._tried: dict[str, float] = {}
        self._refreshing: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await asyncio.gather(*(self._list(client) for client in self.clients))

    async def close(self) -> None:
        if self._refreshing is not None and not self._refreshing.done():
            self._refreshing.cancel()
            await asyncio.wait({self._refreshing})
        for client in self.clients:
            await client.close()

    async def current(self) -> list[Tool]:
        """The tools to offer now. Servers that failed are listed again first, at most every RETRY_SECONDS,
        in one listing shared by every answer; an answer waits for it at most REFRESH_WAIT_SECONDS (a
        server back up is offered at once, one that hangs holds no answer up: its listing goes on, and
        lands for the answers after)."""
        if self._refreshing is None or self._refreshing.done():
            now = time.monotonic()
            due = [
                client
                for client in self.clients
                if (client.broken or client.server.name in self.problems)
                and now - self._tried.get(client.server.name, 0) >= RETRY_SECONDS
            ]
            if due:
                self._refreshing = asyncio.create_task(self._relist(due), name="mcp relist")
        if self._refreshing is not None and not self._refreshing.done():
            await asyncio.wait({self._refreshing}, timeout=REFRESH_WAIT_SECONDS)
        return [tool for tools in self.tools.values() for tool in tools]

    async def _relist(self, due: Sequence[McpServerClient]) -> None:
        await asyncio.gather(*(self._list(client) for client in due))

    async def _list(self, client: McpServerClient) -> None:
        name = client.server.name
        self._tried[name] = time.monotonic()
        client.broken = False
        try:
            tools = await client.list_tools()
        except ToolError as error:
            self.problems[name] = str(error)
            self.tools.pop(name, None)
            fields = {"server": name, "error": str(error)}
            logger.warning("MCP server unavailable; its tools are not offered", extra=fields)
            return
        self.problems.pop(name, None)
        self.tools[name] = tools
        logger.info("MCP server listed", extra={"server": name, "tools": [tool.spec.remote_name for tool in tools]})
