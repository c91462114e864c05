"""httpx's transport for the model stream, carried over aiohttp: the client stays httpx, the wire is aiohttp's.

Why: a model streams an answer as hundreds of small HTTP chunks. httpcore hands each one through h11 and
several layers of async iterators, which cost about 60 µs per piece in this bot; aiohttp parses the
chunks in C as they arrive and hands over everything read so far in one block (bench/README.md
has the numbers). Everything above the wire (`httpx.AsyncClient`, its timeouts, `httpx.Response`,
the model client's error mapping) is unchanged.

aiohttp's errors become the httpx errors that mean the same thing, so a refused connection is never
called a timeout and a stream cut short is never called unreachable. `httpx-aiohttp` does this job too,
but maps refused connections and servers that hang up to `ConnectTimeout`, so it is not used.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from types import SimpleNamespace

import aiohttp
import httpx

from bot.safe_text import safe_text

# How often a body that trickles in is read (see _ResponseStream); a block this large means it pours in.
# Measured on 300-piece answers at 100 pieces a second: 0.05 s cost 15 to 16 ms of CPU per answer, 0.1 s 12 to 13.
TRICKLE_PAUSE_SECONDS = 0.1
POURING_BYTES = 16 * 1024
# The longest response head httpx (httpcore) takes.
HEAD_BYTES = 100 * 1024
# A request is handed to aiohttp in parts this large; it asks for the next once its buffer has room.
UPLOAD_PART_BYTES = 64 * 1024

# A URL in aiohttp's words about an error, up to its host: the path and query may carry a gateway's key.
_URL_PAST_HOST = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#\s'\"]+)[^\s'\"]*")

# Most specific first: the first class an error is an instance of decides.
_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
    (aiohttp.ClientConnectorError, httpx.ConnectError),
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientPayloadError, httpx.RemoteProtocolError),
    (aiohttp.ClientHttpProxyError, httpx.ProxyError),
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),
    (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
    (aiohttp.NonHttpUrlClientError, httpx.UnsupportedProtocol),
    (aiohttp.ClientError, httpx.ReadError),
)


@contextlib.contextmanager
def _as_httpx_errors(request: httpx.Request) -> Iterator[None]:
    try:
        yield
    except aiohttp.ClientError as exc:
        meaning = next(httpx_error for aiohttp_error, httpx_error in _ERRORS if isinstance(exc, aiohttp_error))
        raise meaning(_described(exc, request), request=request) from exc


def _described(error: aiohttp.ClientError, request: httpx.Request) -> str:
    """aiohttp's words for `error`, as safe as httpx's (which name neither the URL nor the credentials):
    each URL cut after its host, and the request's Authorization masked wherever a server echoed it."""
    words = _URL_PAST_HOST.sub(r"\1", f"{type(error).__name__}: {error}")
    credentials = request.headers.get("authorization", "").partition(" ")[2]
    return safe_text(words, [credentials])


class _ResponseStream(httpx.AsyncByteStream):
    """The body, a block at a time: each block is all that arrived since the last one was taken.

    A body that trickles in faster than `TRICKLE_PAUSE_SECONDS` a piece (a model's answer, one small HTTP
    chunk per piece) is read once per that time: between two reads the socket itself is left unread, so
    the pieces that come meanwhile wait in the kernel and the next read takes them all with one wake-up,
    one system call and one parse. Each piece reaches Slack at most that much later (Slack is shown the
    text once a second). A slower trickle is read as it comes, and a body that pours in (full blocks)
    straight through; the end is never waited for.
    """

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request
        # aiohttp's read timeout counts from the last bytes it saw, and bytes left in the kernel are not seen:
        # a pause is kept well inside it, so a steady stream is never taken for a stalled one.
        read_timeout = request.extensions.get("timeout", {}).get("read")
        self._pause = TRICKLE_PAUSE_SECONDS if read_timeout is None else min(TRICKLE_PAUSE_SECONDS, read_timeout / 2)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        content = self._response.content
        clock = asyncio.get_running_loop().time
        while True:
            asked = clock()
            with _as_httpx_errors(self._request):
                block = await content.readany()
            if not block:
                return
            trickling = clock() - asked < TRICKLE_PAUSE_SECONDS and len(block) < POURING_BYTES
            yield block
            if trickling and not content.at_eof():
                await self._leave_unread(self._pause)

    async def _leave_unread(self, seconds: float) -> None:
        """Stops reading the socket for `seconds` (not aiohttp's parser: paused, it would hand over only one
        chunk of the next read). Reading that aiohttp itself has paused (a full buffer) is left to it."""
        connection = self._response.connection
        socket = connection.transport if connection is not None else None
        if socket is None or not socket.is_reading():
            await asyncio.sleep(seconds)
            return
        socket.pause_reading()
        try:
            await asyncio.sleep(seconds)
        finally:
            if not socket.is_closing():
                socket.resume_reading()

    async def aclose(self) -> None:
        """A body read to its end has already given its connection back to the pool (aiohttp does at the
        end); one left unread (a cancelled answer, a failure) closes it, so no later request reads the rest."""
        self._response.close()


class _Upload:
    """A request's body, handed over in parts. Waiting longer than the `write` timeout for aiohttp to take
    the next one (its buffer does not drain: the server stopped reading) is a write timeout, as with httpx
    (which gives the whole body that long). aiohttp has no write timeout: a server that stopped reading a
    request of megabytes (images) held it until the answer's deadline. Once the last part is taken,
    aiohttp's read timeout takes over."""

    def __init__(self, body: bytes, seconds: float | None) -> None:
        self._body = body
        self._seconds = seconds
        self._deadline: asyncio.Timeout | None = None
        self._watching = False

    @property
    def timed_out(self) -> bool:
        return self._deadline is not None and self._deadline.expired()

    @contextlib.asynccontextmanager
    async def watched(self) -> AsyncIterator[None]:
        async with asyncio.timeout(None) as deadline:
            self._deadline, self._watching = deadline, True
            try:
                yield
            finally:
                self._watching = False

    async def parts(self) -> AsyncIterator[bytes]:
        """The body a part at a time, each with `write` seconds to be asked for after the one before."""
        clock = asyncio.get_running_loop().time
        for start in range(0, len(self._body), UPLOAD_PART_BYTES):
            self._reschedule(None if self._seconds is None else clock() + self._seconds)
            yield self._body[start : start + UPLOAD_PART_BYTES]
        self._reschedule(None)

    def _reschedule(self, when: float | None) -> None:
        # A response may come before the whole request is written (an early refusal): the watch is over.
        if self._watching and self._deadline is not None and not self._deadline.expired():
            self._deadline.reschedule(when)


@dataclass
class _Sending:
    """One sending of a request, as aiohttp's tracing sees it."""

    on_kept_alive_connection: bool = False


async def _note_kept_alive_connection(
    session: aiohttp.ClientSession, context: SimpleNamespace, params: aiohttp.TraceConnectionReuseconnParams
) -> None:
    sending: _Sending = context.trace_request_ctx
    sending.on_kept_alive_connection = True


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Sends httpx's requests through one aiohttp session. The request's httpx timeouts apply: `connect`
    to opening a connection (finding the host included, as in httpx), `read` to each wait for the
    response or the next block of it, `write` to each wait to hand aiohttp the next part of the request
    (see _Upload). `pool` has no counterpart: the pool has no limit.

    Connections are kept between answers; a request its kept connection's server dropped unanswered is
    sent once more on another, as browsers do (httpx's wire never reused one, so never met the case)."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[str, str] = {}
        self._proxy_by_origin: dict[tuple[str, str], str | None] = {}

    def _opened(self) -> aiohttp.ClientSession:
        if self._session is None:
            # Unlimited connections (MAX_CONCURRENT_MODEL_CALLS is the cap), httpx's certificate store, no
            # decompression (httpx decodes), and header lines as long as httpx takes (its whole head may
            # be 100 KB; aiohttp refuses a line over 8 KB). Not aiohttp's `trust_env`: besides the proxies,
            # it would look each request's host up in ~/.netrc and refuse the request (a ValueError) on a match.
            reuse = aiohttp.TraceConfig()
            reuse.on_connection_reuseconn.append(_note_kept_alive_connection)
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, ssl=httpx.create_ssl_context()),
                auto_decompress=False,
                max_line_size=HEAD_BYTES,
                max_field_size=HEAD_BYTES,
                trace_configs=[reuse],
            )
            self._proxies = urllib.request.getproxies()
        return self._session

    def _proxy_for(self, url: httpx.URL) -> str | None:
        """The proxy HTTP_PROXY or HTTPS_PROXY names for `url`, unless NO_PROXY exempts its host, as httpx
        would choose it: decided once per scheme and host, as the environment is read once (reading
        NO_PROXY again costs about 40 µs, on every model call)."""
        origin = (url.scheme, url.host)
        if origin not in self._proxy_by_origin:
            exempt = url.scheme not in self._proxies or urllib.request.proxy_bypass(url.host)
            self._proxy_by_origin[origin] = None if exempt else self._proxies[url.scheme]
        return self._proxy_by_origin[origin]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._opened()
        body = await request.aread()
        with _as_httpx_errors(request):
            sent = _Sending()
            try:
                response = await self._send(session, request, body, sent)
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
                if not sent.on_kept_alive_connection:
                    raise
                # Unanswered on a connection kept from an earlier answer: its server closed it as the request
                # went out (it times idle connections out sooner, or this loop had yet to see it close).
                # Sent once more, as browsers do, on a connection aiohttp has checked again.
                response = await self._send(session, request, body, _Sending())
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=_ResponseStream(response, request),
            request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": (response.reason or "").encode()},
        )

    async def _send(
        self, session: aiohttp.ClientSession, request: httpx.Request, body: bytes, sent: _Sending
    ) -> aiohttp.ClientResponse:
        timeouts = request.extensions.get("timeout", {})
        upload = _Upload(body, timeouts.get("write"))
        try:
            async with upload.watched():
                return await session.request(
                    request.method,
                    # Credentials in the URL are httpx's to send (as a header, already set); aiohttp would
                    # refuse them beside that header.
                    str(request.url.copy_with(userinfo=b"")),
                    headers=list(request.headers.multi_items()),
                    proxy=self._proxy_for(request.url),
                    data=upload.parts(),
                    allow_redirects=False,
                    timeout=aiohttp.ClientTimeout(
                        total=None,
                        connect=timeouts.get("connect"),
                        sock_connect=timeouts.get("connect"),
                        sock_read=timeouts.get("read"),
                    ),
                    trace_request_ctx=sent,
                )
        except TimeoutError as exc:
            if not upload.timed_out:
                raise  # aiohttp's own timeouts are TimeoutErrors too
            raise httpx.WriteTimeout("the request was not taken in time", request=request) from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
