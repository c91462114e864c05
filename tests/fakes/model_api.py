"""A fake chat-completions server on loopback: streams scripted answers, records requests, injects faults."""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

MODEL_KEY = "inf-test-key-9876543210"
MODEL_ID = "claude-4-5-haiku"


@dataclass
class Reply:
    """A streamed answer: `chunks` sent `delay` seconds apart, then the ending."""

    chunks: list[str]
    delay: float = 0.0
    finish_reason: str | None = "stop"
    send_done: bool = True
    # Sent after the ending, as OpenAI does, when the request asks for it (`stream_options.include_usage`);
    # None: a service that reports no usage.
    usage: dict[str, int] | None = field(default_factory=lambda: {"prompt_tokens": 10, "completion_tokens": 5})
    # The answer starts only once this is set: a model still thinking, for as long as a test needs.
    starts: asyncio.Event | None = None


@dataclass
class WholeReply:
    """A response in one piece: an error status, an HTML page from a firewall, or a non-streamed answer."""

    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


@dataclass
class Hang:
    """Accepts the request and never answers."""


@dataclass
class RawStream:
    """Exact bytes of an event stream, for malformed or cut-off streams; each item is written on its own."""

    lines: list[str] | list[bytes]
    drop_connection: bool = False


@dataclass
class Flood:
    """A body without end: `head`, then `piece` again and again up to `total_bytes`, or until the bot hangs up
    (FakeModel.flooded_bytes says how far it got). An event stream that never sends a line break, or a
    non-streamed answer of hundreds of megabytes."""

    head: bytes
    total_bytes: int = 256 * 1024 * 1024
    piece: bytes = b"x" * 65536
    content_type: str = "text/event-stream"


@dataclass
class ToolCalls:
    """A turn that calls tools, streamed as OpenAI streams it: each call's id and name first, then its
    arguments in `pieces` fragments, the calls of one turn interleaved by `index`; `text` said before."""

    calls: list[tuple[str, dict[str, Any]]]
    text: str = ""
    pieces: int = 3
    usage: dict[str, int] | None = field(default_factory=lambda: {"prompt_tokens": 20, "completion_tokens": 7})


Script = Reply | WholeReply | Hang | RawStream | Flood | ToolCalls


def gateway_page(key: str) -> str:
    """A gateway's 400 for a key it does not know: its internals, table names and the key itself, in plain text."""
    return (
        "No connected db. Key lookup for " + key + " in table inference_api_keys (schema gateway_prod) "
        "returned no row; No fallback was attempted because the routing pool us-east-1/primary was empty."
    )


def error_event(message: str, **fields: object) -> str:
    """An error event inside a stream whose HTTP status is 200, as a gateway sends one mid-answer."""
    return f"data: {json.dumps({'error': {'message': message, **fields}})}\n\n"


def text_of(message: dict[str, Any]) -> str:
    """A message's text, whether its content is a string or OpenAI-style content parts."""
    content = message["content"]
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if part.get("type") == "text")


def images_of(message: dict[str, Any]) -> list[str]:
    """The image URLs of a message's `image_url` content parts."""
    content = message["content"]
    if isinstance(content, str):
        return []
    return [part["image_url"]["url"] for part in content if part.get("type") == "image_url"]


def echo(request: dict[str, Any]) -> Script:
    last = text_of(request["messages"][-1])
    return Reply([f"You said: {last}"])


TEXT_ONLY_REFUSAL = json.dumps(
    {"error": {"message": "This model does not support image input.", "type": "invalid_request_error"}}
)


class FakeModel:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.script: list[Script] = []
        self.default: Callable[[dict[str, Any]], Script] = echo
        self.in_flight = 0
        self.peak_in_flight = 0
        # A text-only model refuses requests with image parts, as Heroku's gpt-oss-120b would.
        self.accepts_images = True
        # (last user message, started, finished) per request, on the shared monotonic clock: a tool round's
        # request is named by the question, not by the tool results it ends with.
        self.timings: list[tuple[str, float, float]] = []
        # The client's address of each request: a repeated one is a connection kept alive and reused.
        self.peers: list[object] = []
        # The bytes each Flood got out before the bot hung up (or all of them).
        self.flooded_bytes: list[int] = []
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._hung = asyncio.Event()
        self._received = asyncio.Condition()

    async def start(self, tls: ssl.SSLContext | None = None) -> None:
        """Serves on loopback; over TLS with `tls`, a server context."""
        # Requests with images run to megabytes; aiohttp refuses bodies over 1 MB by default.
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=tls)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"

    async def stop(self) -> None:
        self._hung.set()
        if self._runner:
            await self._runner.cleanup()

    async def wait_for_requests(self, count: int, within_seconds: float = 10.0) -> None:
        async with asyncio.timeout(within_seconds), self._received:
            await self._received.wait_for(lambda: len(self.requests) >= count)

    async def wait_for_flood(self, within_seconds: float = 10.0) -> None:
        """Until a Flood has ended: all written, or the bot hung up."""
        async with asyncio.timeout(within_seconds), self._received:
            await self._received.wait_for(lambda: bool(self.flooded_bytes))

    @staticmethod
    def images(request: dict[str, Any]) -> list[str]:
        """Every image part a request carried, in order."""
        return [url for message in request["messages"] for url in images_of(message)]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        self.peers.append(request.transport.get_extra_info("peername") if request.transport else None)
        async with self._received:
            self._received.notify_all()
        if not self.accepts_images and self.images(body):
            script: Script = WholeReply(400, TEXT_ONLY_REFUSAL)
        else:
            script = self.script.pop(0) if self.script else self.default(body)
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        started = time.monotonic()
        try:
            return await self._play(request, script, _wants_usage(body))
        finally:
            self.in_flight -= 1
            asked = [message for message in body["messages"] if message["role"] == "user"] or body["messages"]
            self.timings.append((text_of(asked[-1]), started, time.monotonic()))

    async def _play(self, request: web.Request, script: Script, wants_usage: bool) -> web.StreamResponse:
        if isinstance(script, WholeReply):
            return web.Response(
                status=script.status, text=script.body, headers=script.headers, content_type=script.content_type
            )
        if isinstance(script, Hang):
            await self._hung.wait()
            return web.Response(status=504)
        if isinstance(script, Flood):
            return await self._flood(request, script)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        if isinstance(script, ToolCalls):
            for chunk in _tool_call_chunks(script):
                await response.write(_event(chunk))
            if wants_usage and script.usage is not None:
                await response.write(_event({"choices": [], "usage": script.usage}))
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
            return response
        if isinstance(script, RawStream):
            for line in script.lines:
                await response.write(line if isinstance(line, bytes) else line.encode())
            if script.drop_connection and request.transport is not None:
                request.transport.abort()
                return response
            await response.write_eof()
            return response
        if script.starts is not None:
            await script.starts.wait()
        for index, text in enumerate(script.chunks):
            if index and script.delay:
                await asyncio.sleep(script.delay)
            await response.write(_event({"choices": [{"index": 0, "delta": {"content": text}}]}))
        if script.finish_reason:
            ending = {"choices": [{"index": 0, "delta": {}, "finish_reason": script.finish_reason}]}
            await response.write(_event(ending))
            if wants_usage and script.usage is not None:
                await response.write(_event({"choices": [], "usage": script.usage}))
        if script.send_done:
            await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def _flood(self, request: web.Request, script: Flood) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": script.content_type})
        await response.prepare(request)
        await response.write(script.head)
        sent = 0
        try:
            while sent < script.total_bytes:
                await response.write(script.piece)
                sent += len(script.piece)
            await response.write_eof()
        except (ConnectionError, RuntimeError):
            pass  # the bot hung up (aiohttp says so with a ConnectionResetError, or a RuntimeError once closed)
        finally:
            self.flooded_bytes.append(sent)
            async with self._received:
                self._received.notify_all()
        return response


def _tool_call_chunks(script: ToolCalls) -> list[dict[str, Any]]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    chunks = [chunk({"role": "assistant", "content": script.text})] if script.text else []
    for index, (name, _) in enumerate(script.calls):
        head = {"index": index, "id": f"call_{index}_{name}", "type": "function"}
        chunks.append(chunk({"tool_calls": [{**head, "function": {"name": name, "arguments": ""}}]}))
    texts = [json.dumps(arguments) for _, arguments in script.calls]
    for piece in range(script.pieces):
        for index, text in enumerate(texts):
            size = -(-len(text) // script.pieces)
            fragment = text[piece * size : (piece + 1) * size]
            if fragment:
                chunks.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]}))
    chunks.append(chunk({}, "tool_calls"))
    return chunks


def tool_messages(request: dict[str, Any]) -> list[dict[str, Any]]:
    """The `role: "tool"` messages a request carried: the results the bot sent back."""
    return [message for message in request["messages"] if message["role"] == "tool"]


def _event(payload: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()


def _wants_usage(body: dict[str, Any]) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True
