"""The model's wire (bot/model/transport.py): aiohttp's errors keep their meaning, pieces are read in
blocks, and a connection is reused only when its answer was read to the end."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from bot.errors import ModelStreamBroken, ModelTimeout, ModelUnreachable
from bot.model import transport as model_transport
from bot.model.client import Answer, ModelClient, ModelRequest, RetryPolicy
from bot.model.messages import ChatMessage
from bot.model.transport import AiohttpTransport
from tests.bot_process import free_port
from tests.conftest import ModelHTTP
from tests.fakes.model_api import FakeModel, Reply, WholeReply

REQUEST = ModelRequest([ChatMessage("user", "hi")], temperature=0.5, max_tokens=100)


def model_client(http: httpx.AsyncClient, url: str, timeout_seconds: float = 3) -> ModelClient:
    retry = RetryPolicy(max_attempts=3, backoff_seconds=0.01)
    return ModelClient(http, base_url=url, api_key="k", model_id="m", timeout_seconds=timeout_seconds, retry=retry)


async def read_all(stream: AsyncIterator[str]) -> None:
    async for _ in stream:
        pass


@pytest.mark.parametrize(
    ("aiohttp_error", "meaning"),
    [
        (aiohttp.ConnectionTimeoutError("connect"), httpx.ConnectTimeout),
        (aiohttp.SocketTimeoutError("read"), httpx.ReadTimeout),
        (aiohttp.ServerDisconnectedError(), httpx.RemoteProtocolError),
        (aiohttp.ClientPayloadError("cut short"), httpx.RemoteProtocolError),
        (aiohttp.ClientOSError(104, "reset"), httpx.ReadError),
    ],
)
def test_aiohttp_errors_become_the_httpx_errors_that_mean_the_same(
    aiohttp_error: aiohttp.ClientError, meaning: type[httpx.TransportError]
) -> None:
    request = httpx.Request("POST", "http://model.test/v1/chat/completions")
    with pytest.raises(httpx.TransportError) as caught, model_transport._as_httpx_errors(request):
        raise aiohttp_error
    assert type(caught.value) is meaning
    assert caught.value.request is request


# A gateway may take its key in the URL; the bot's own key travels in the Authorization header.
URL_KEY = "gw-key-7f3a9c2e5b1d"
BEARER_KEY = "inf-secret-4c8e1a7b9d2f"


@pytest.mark.parametrize(
    "aiohttp_error",
    [
        aiohttp.ConnectionTimeoutError(f"Connection timeout to host http://model.test/{URL_KEY}/v1?key={URL_KEY}"),
        aiohttp.ClientOSError(32, f"Can not write request body for http://model.test/{URL_KEY}/v1?key={URL_KEY}"),
        aiohttp.ClientResponseError(
            aiohttp.RequestInfo(
                URL(f"http://model.test/{URL_KEY}/v1?key={URL_KEY}"), "POST", CIMultiDictProxy(CIMultiDict())
            ),
            (),
            status=400,
            message=f"Bad status line: b'echoing Bearer {BEARER_KEY}'",
        ),
    ],
    ids=["connect-timeout", "write", "not-http"],
)
def test_errors_from_aiohttp_name_neither_the_url_nor_the_key(aiohttp_error: aiohttp.ClientError) -> None:
    """httpx's own errors never name the URL (a gateway may take its key in it) nor the request's
    Authorization; aiohttp's do name the URL, and may quote what a server echoed."""
    request = httpx.Request(
        "POST", f"http://model.test/{URL_KEY}/v1?key={URL_KEY}", headers={"Authorization": f"Bearer {BEARER_KEY}"}
    )
    with pytest.raises(httpx.TransportError) as caught, model_transport._as_httpx_errors(request):
        raise aiohttp_error
    assert URL_KEY not in str(caught.value)
    assert BEARER_KEY[:8] not in str(caught.value)
    assert "model.test" in str(caught.value) or "Bad status line" in str(caught.value)


async def test_a_refused_connection_is_unreachable_not_a_timeout(model_http: ModelHTTP) -> None:
    async with model_http() as http:
        with pytest.raises(ModelUnreachable) as caught:
            await model_client(http, f"http://127.0.0.1:{free_port()}").complete(REQUEST)
    assert "timed out" not in str(caught.value)


@contextlib.asynccontextmanager
async def raw_server(answer: bytes) -> AsyncIterator[str]:
    """A server that reads a request, writes `answer` (maybe nothing) and hangs up."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(answer)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    async with server:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


@pytest.mark.parametrize("answer", [b"", b"this is not HTTP\r\n\r\n"], ids=["hangs-up", "not-http"])
async def test_a_server_that_answers_no_http_breaks_the_stream(model_http: ModelHTTP, answer: bytes) -> None:
    async with raw_server(answer) as url, model_http() as http:
        with pytest.raises(ModelStreamBroken):
            await model_client(http, url).complete(REQUEST)


async def test_a_header_of_many_kilobytes_is_taken_as_httpx_takes_it(model_http: ModelHTTP) -> None:
    """A gateway in front of the model may add a long header (a security policy, a debugging trace):
    httpx takes header blocks up to 100 KB; aiohttp refused any one line over 8 KB."""
    body = b'data: {"choices":[{"delta":{"content":"ok"},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: %d\r\n" % len(body)
    answer = head + b"Content-Security-Policy: " + b"a" * 20_000 + b"\r\n\r\n" + body
    async with raw_server(answer) as url, model_http() as http:
        assert (await model_client(http, url).complete(REQUEST)).text == "ok"


async def test_a_server_that_stops_reading_the_request_is_a_write_timeout(model_http: ModelHTTP) -> None:
    """A request of megabytes (images) to a server that stops reading it: the wire's own timeout ends the
    wait, as httpx's write timeout did, not the answer's whole deadline."""

    test_over = asyncio.Event()

    async def never_reads(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await test_over.wait()
        writer.close()
        await writer.wait_closed()

    request = ModelRequest([ChatMessage("user", "x" * 8_000_000)], temperature=0.5, max_tokens=100)
    server = await asyncio.start_server(never_reads, "127.0.0.1", 0)
    async with server, model_http(timeout=httpx.Timeout(5, read=0.3, write=0.3)) as http:
        client = model_client(http, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", timeout_seconds=5)
        with pytest.raises(ModelTimeout) as caught:
            await client.complete(request)
        test_over.set()
    assert caught.value.seconds == 0.3


async def test_a_stall_mid_stream_is_a_read_timeout(fake_model: FakeModel, model_http: ModelHTTP) -> None:
    fake_model.script.append(Reply(["first ", "second"], delay=2))
    answer = Answer()
    async with model_http(timeout=httpx.Timeout(5, read=0.3)) as http:
        client = model_client(http, fake_model.url, timeout_seconds=10)
        with pytest.raises(ModelTimeout):
            await read_all(client.stream(REQUEST, answer))
    assert answer.text == "first "


async def test_the_shortest_read_timeout_is_not_tripped_by_leaving_the_socket_unread(
    fake_model: FakeModel, model_http: ModelHTTP
) -> None:
    """aiohttp's read timeout counts from the last bytes it saw: pieces held in the kernel while the socket
    is left unread are not seen. A pause as long as the read timeout (MODEL_READ_TIMEOUT_SECONDS may be
    0.1) would call a steady stream stalled."""
    pieces = [f"p{index} " for index in range(30)]
    fake_model.script.append(Reply(pieces, delay=0.01))
    answer = Answer()
    async with model_http(timeout=httpx.Timeout(5, read=0.1)) as http:
        await read_all(model_client(http, fake_model.url, timeout_seconds=10).stream(REQUEST, answer))
    assert answer.text == "".join(pieces)


async def test_after_an_answer_cut_short_the_next_one_is_whole(fake_model: FakeModel, model_http: ModelHTTP) -> None:
    """A connection given back with part of an answer unread would hand that part to the next request."""
    fake_model.script.append(Reply([f"cut{index} " for index in range(50)], delay=0.02))
    async with model_http() as http:
        client = model_client(http, fake_model.url)
        stream = client.stream(REQUEST, Answer())
        assert (await anext(stream)).startswith("cut0")
        await stream.aclose()
        assert (await client.complete(REQUEST)).text == "You said: hi"
    assert fake_model.peers[1] != fake_model.peers[0]


async def test_an_answer_read_to_its_end_leaves_its_connection_for_the_next(fake_model: FakeModel) -> None:
    """No new connection (and, to a real service, no new TLS handshake) per answer. httpx's own wire
    hands over `[DONE]` before it has read the body's end, and so closes every connection."""
    fake_model.script += [Reply(["one"]), Reply(["two"], delay=0.01)]
    async with httpx.AsyncClient(transport=AiohttpTransport()) as http:
        client = model_client(http, fake_model.url)
        assert (await client.complete(REQUEST)).text == "one"
        assert (await client.complete(REQUEST)).text == "two"
        assert (await client.complete(REQUEST)).text == "You said: hi"
    assert len(set(fake_model.peers)) == 1


async def test_a_kept_alive_connection_the_server_dropped_is_not_a_failure(model_http: ModelHTTP) -> None:
    """A server may close an idle connection just as the next request goes out on it (one that times idle
    connections out sooner than aiohttp does, or a busy event loop that has not seen it close yet): the
    request is sent again on a new connection, without an attempt or a wait of the model client's."""
    body = b'data: {"choices":[{"delta":{"content":"ok"},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answers the first request of a connection, and closes it when a second one comes."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))
            await reader.readexactly(int(length.split(b":")[1]))
            writer.write(answer)
            await writer.drain()
            with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
                await reader.readuntil(b"\r\n\r\n")
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    async with server, model_http() as http:
        client = model_client(http, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
        answers = [await client.complete(REQUEST) for _ in range(3)]
    assert [(answer.text, answer.attempts) for answer in answers] == [("ok", 1)] * 3


async def test_a_trickling_answer_is_read_in_blocks_of_several_pieces(fake_model: FakeModel) -> None:
    """Pieces that arrive while the socket is left unread come together, with one wake-up for all."""
    fake_model.script.append(Reply([f"p{index} " for index in range(40)], delay=0.005))
    async with httpx.AsyncClient(transport=AiohttpTransport()) as http:
        answer = Answer()
        texts = [text async for text in model_client(http, fake_model.url).stream(REQUEST, answer)]
    assert answer.text == "".join(f"p{index} " for index in range(40))
    assert len(texts) <= 10


async def test_a_body_that_pours_in_is_read_straight_through(
    fake_model: FakeModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a trickle is paced: a one-piece answer of a megabyte is not held between its blocks."""
    monkeypatch.setattr(model_transport, "TRICKLE_PAUSE_SECONDS", 10)
    whole = "x" * 1_000_000
    body = {"choices": [{"message": {"content": whole}, "finish_reason": "stop"}]}
    fake_model.script.append(WholeReply(200, json.dumps(body), content_type="application/json"))
    async with httpx.AsyncClient(transport=AiohttpTransport()) as http:
        assert (await model_client(http, fake_model.url, timeout_seconds=5).complete(REQUEST)).text == whole


async def test_a_login_in_netrc_leaves_the_key_alone(
    fake_model: FakeModel, model_http: ModelHTTP, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ~/.netrc (the Heroku CLI writes one) naming a login for the model's host, or for any host: the
    model is still sent the key, as httpx sends it; aiohttp would put the login in its place, or fail."""
    netrc = tmp_path / "netrc"
    netrc.write_text("default login someone password hunter2\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    async with model_http() as http:
        assert (await model_client(http, fake_model.url).complete(REQUEST)).text == "You said: hi"
    assert fake_model.headers[0]["Authorization"] == "Bearer k"


async def test_the_proxy_the_environment_names_is_used(
    fake_model: FakeModel, model_http: ModelHTTP, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP(S)_PROXY and NO_PROXY are honoured as httpx honours them (the fake model stands in for the proxy)."""
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", fake_model.url)
    async with model_http() as http:
        assert (await model_client(http, "http://model.invalid").complete(REQUEST)).text == "You said: hi"
    monkeypatch.setenv("NO_PROXY", "model.invalid")
    async with model_http() as http:
        with pytest.raises(ModelUnreachable):
            await model_client(http, "http://model.invalid").complete(REQUEST)


async def test_a_proxy_that_refuses_the_tunnel_is_unreachable(
    model_http: ModelHTTP, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy that will not open the tunnel to an https service (its login is missing): the service
    could not be reached, as httpx says; the answer did not "break off"."""
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    async with raw_server(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n") as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy)
        async with model_http() as http:
            with pytest.raises(ModelUnreachable):
                await model_client(http, "https://model.invalid").complete(REQUEST)


async def test_a_login_in_the_url_is_sent_as_httpx_sends_it(fake_model: FakeModel, model_http: ModelHTTP) -> None:
    async with model_http() as http:
        url = fake_model.url.replace("http://", "http://someone:hunter2@")
        assert (await model_client(http, url).complete(REQUEST)).text == "You said: hi"
    assert fake_model.headers[0]["Authorization"] == "Basic " + base64.b64encode(b"someone:hunter2").decode()


async def test_a_name_lookup_that_hangs_is_a_connect_timeout(
    model_http: ModelHTTP, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connect timeout bounds finding the host too, as httpx's does: a resolver that never answers is
    `unreachable` (and retried) within it, not a silence that uses up the whole answer's time."""
    answered = threading.Event()
    lookup = socket.getaddrinfo

    def hanging(host: str | bytes | None, *args: Any, **kwargs: Any) -> Any:
        if host in ("hangs.test", b"hangs.test"):
            answered.wait()
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return lookup(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", hanging)
    try:
        async with model_http(timeout=httpx.Timeout(5, connect=0.2)) as http:
            with pytest.raises(ModelUnreachable) as caught:
                await model_client(http, "http://hangs.test", timeout_seconds=10).complete(REQUEST)
    finally:
        answered.set()
    assert "timed out" in str(caught.value)


@pytest.fixture
async def tls_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeModel]:
    """The fake model over TLS, with a certificate of its own that the bot's wire is made to trust."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    trusted = ssl.create_default_context(cafile=tmp_path / "cert.pem")
    monkeypatch.setattr(httpx, "create_ssl_context", lambda: trusted)
    model = FakeModel()
    await model.start(tls=served)
    yield model
    await model.stop()


async def test_over_tls_a_trickle_is_read_in_blocks_and_a_stall_still_times_out(tls_model: FakeModel) -> None:
    """The socket is left unread through asyncio's TLS transport too (it holds back what it decrypted): the
    pieces come whole and together, and a server that stalls is still a read timeout."""
    tls_model.script += [
        Reply([f"p{index} " for index in range(40)], delay=0.005),
        Reply(["first ", "second"], delay=2),
    ]
    async with httpx.AsyncClient(transport=AiohttpTransport(), timeout=httpx.Timeout(5, read=0.3)) as http:
        client = model_client(http, tls_model.url, timeout_seconds=10)
        whole = Answer()
        texts = [text async for text in client.stream(REQUEST, whole)]
        stalled = Answer()
        with pytest.raises(ModelTimeout):
            await read_all(client.stream(REQUEST, stalled))
    assert whole.text == "".join(f"p{index} " for index in range(40))
    assert len(texts) <= 10
    assert stalled.text == "first "
