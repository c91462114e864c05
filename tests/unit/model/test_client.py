"""The model client against the fake chat-completions server: streaming, retries, failures named."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import pytest

from bot.errors import ContextTooLong, ModelHTTPError, ModelSetupError, ModelStreamBroken, ModelTimeout
from bot.model.client import Answer, ModelClient, ModelRequest, RetryPolicy
from bot.model.messages import ChatMessage
from tests.conftest import ModelHTTP
from tests.fakes.model_api import (
    MODEL_KEY,
    FakeModel,
    Flood,
    Hang,
    RawStream,
    Reply,
    WholeReply,
    error_event,
    gateway_page,
)

REQUEST = ModelRequest([ChatMessage("system", "s"), ChatMessage("user", "hi")], temperature=0.5, max_tokens=100)


@pytest.fixture
async def client(fake_model: FakeModel, model_http: ModelHTTP) -> AsyncIterator[ModelClient]:
    async with model_http() as http:
        yield ModelClient(
            http,
            base_url=fake_model.url,
            api_key=MODEL_KEY,
            model_id="m",
            timeout_seconds=3,
            retry=RetryPolicy(max_attempts=3, backoff_seconds=0.05),
        )


async def test_stream_yields_text_as_it_arrives(client: ModelClient, fake_model: FakeModel) -> None:
    fake_model.script.append(Reply(["Hel", "lo", "!"]))
    answer = await client.complete(REQUEST)
    assert (answer.text, answer.finish_reason, answer.usage["completion_tokens"]) == ("Hello!", "stop", 5)
    assert fake_model.requests[0]["messages"] == [{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}]


async def test_reasoning_deltas_are_not_shown(client: ModelClient, fake_model: FakeModel) -> None:
    fake_model.script.append(
        RawStream(
            [
                'data: {"choices":[{"delta":{"reasoning":"thinking..."}}]}\n\n',
                'data: {"choices":[{"delta":{"content":"Answer"}}]}\n\n',
                'data: {"choices":[{"delta":{},"finish_reason":"stop"}]}\n\n',
                "data: [DONE]\n\n",
            ]
        )
    )
    assert (await client.complete(REQUEST)).text == "Answer"


async def test_url_ending_in_v1_is_not_doubled(fake_model: FakeModel, model_http: ModelHTTP) -> None:
    async with model_http() as http:
        client = ModelClient(http, base_url=fake_model.url + "/v1", api_key="k", model_id="m", timeout_seconds=3)
        assert (await client.complete(REQUEST)).text == "You said: hi"


async def test_503_then_success_is_retried(client: ModelClient, fake_model: FakeModel) -> None:
    fake_model.script += [WholeReply(503, '{"error": {"message": "overloaded"}}'), Reply(["ok"])]
    answer = await client.complete(REQUEST)
    assert (answer.text, answer.attempts) == ("ok", 2)


async def test_429_waits_for_retry_after(client: ModelClient, fake_model: FakeModel) -> None:
    fake_model.script += [WholeReply(429, '{"error": "slow down"}', {"Retry-After": "1"}), Reply(["ok"])]
    started = time.monotonic()
    answer = await client.complete(REQUEST)
    assert answer.text == "ok"
    assert time.monotonic() - started >= 1.0


async def test_heroku_reset_duration_is_honoured(client: ModelClient, fake_model: FakeModel) -> None:
    fake_model.script += [WholeReply(429, "{}", {"x-ratelimit-reset-requests": "800ms"}), Reply(["ok"])]
    started = time.monotonic()
    await client.complete(REQUEST)
    assert time.monotonic() - started >= 0.8


async def test_400_is_not_retried(client: ModelClient, fake_model: FakeModel) -> None:
    fake_model.script.append(WholeReply(400, json.dumps({"error": {"message": "bad temperature"}})))
    with pytest.raises(ModelHTTPError) as caught:
        await client.complete(REQUEST)
    assert (caught.value.status, caught.value.message) == (400, "bad temperature")
    assert len(fake_model.requests) == 1


async def test_context_too_long_is_recognised(client: ModelClient, fake_model: FakeModel) -> None:
    fake_model.script.append(WholeReply(400, '{"error": {"message": "prompt is too long: 250000 tokens"}}'))
    with pytest.raises(ContextTooLong):
        await client.complete(REQUEST)


async def test_long_error_messages_are_cut(client: ModelClient, fake_model: FakeModel) -> None:
    fake_model.script.append(WholeReply(422, json.dumps({"message": "x" * 5000})))
    with pytest.raises(ModelHTTPError) as caught:
        await client.complete(REQUEST)
    assert len(caught.value.message) <= 200


async def test_an_error_page_of_megabytes_is_read_only_as_far_as_it_is_shown(model_http: ModelHTTP) -> None:
    """A broken gateway's error page of megabytes: the user is told how it starts, and the rest is left
    unread (all of it was read, then searched for secrets, holding the event loop for seconds)."""
    megabyte = b"x" * 1_000_000
    page_megabytes = 32
    sent: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        head = b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n"
        writer.write(head % (len(b"<p>Bad gateway. </p>") + page_megabytes * len(megabyte)) + b"<p>Bad gateway. </p>")
        try:
            for _ in range(page_megabytes):
                writer.write(megabyte)
                await writer.drain()
                sent.append(len(megabyte))
        except ConnectionError:
            pass  # the bot hung up
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    async with server, model_http() as http:
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        client = ModelClient(http, base_url=url, api_key=MODEL_KEY, model_id="m", timeout_seconds=30)
        with pytest.raises(ModelHTTPError) as caught:
            await client.complete(REQUEST)
    assert caught.value.detail.startswith("Bad gateway. xxx")
    assert caught.value.message == "Bad gateway."
    assert len(sent) < page_megabytes


async def test_a_hang_times_out(fake_model: FakeModel, model_http: ModelHTTP) -> None:
    fake_model.default = lambda request: Hang()
    async with model_http() as http:
        client = ModelClient(http, base_url=fake_model.url, api_key="k", model_id="m", timeout_seconds=0.5)
        with pytest.raises(ModelTimeout):
            await client.complete(REQUEST)


@pytest.mark.parametrize(
    "stream",
    [
        RawStream(['data: {"choices":[{"delta":{"content":"half"}}]}\n\n']),
        RawStream(['data: {"choices":[{"delta":{"content":"half"}}]}\n\n'], drop_connection=True),
        RawStream(['data: {"choices":[{"delta":{"content":"half"}}]}\n\n', "data: {not json\n\n"]),
    ],
    ids=["ends-without-finish", "connection-dropped", "malformed-chunk"],
)
async def test_broken_streams_after_text_are_errors(
    client: ModelClient, fake_model: FakeModel, stream: RawStream
) -> None:
    """Text already shown is never repeated by a retry: a broken stream after text is an error."""
    fake_model.script.append(stream)
    with pytest.raises(ModelStreamBroken):
        await client.complete(REQUEST)
    assert len(fake_model.requests) == 1


async def test_a_stream_broken_before_any_text_is_retried(client: ModelClient, fake_model: FakeModel) -> None:
    fake_model.script += [RawStream([": keep-alive\n\n"]), Reply(["whole"])]
    assert (await client.complete(REQUEST)).text == "whole"


@pytest.mark.parametrize("status", [200, 500])
async def test_a_body_that_says_gzip_but_is_not_is_a_broken_stream(
    client: ModelClient, fake_model: FakeModel, status: int
) -> None:
    """A proxy that mislabels a body: httpx cannot decode it, and the user is told the stream broke off
    (and the call is retried), not left without an answer by an error the bot does not know."""
    mislabelled = WholeReply(status, "data: [DONE]\n\n", {"Content-Encoding": "gzip"}, "text/event-stream")
    fake_model.script += [mislabelled, Reply(["whole"])]
    assert (await client.complete(REQUEST)).text == "whole"


@pytest.mark.parametrize("status", [301, 307, 308])
async def test_a_redirect_names_the_url_setting_and_is_not_followed(
    client: ModelClient, fake_model: FakeModel, status: int
) -> None:
    """INFERENCE_URL=http://… for an https-only service (or an old address): the deployer is told where
    the service moved, at once. The POST is not followed (the key would go wherever the redirect says)."""
    moved = WholeReply(status, "", {"Location": "https://moved.example/v1/chat/completions"}, "text/html")
    fake_model.script.append(moved)
    with pytest.raises(ModelSetupError) as caught:
        await client.complete(REQUEST)
    assert caught.value.settings == ("INFERENCE_URL",)
    assert "https://moved.example/v1/chat/completions" in str(caught.value)
    assert len(fake_model.requests) == 1


async def test_a_server_that_ignores_stream_is_understood(client: ModelClient, fake_model: FakeModel) -> None:
    """Some OpenAI-compatible servers answer `stream: true` with one JSON completion."""
    body = {
        "choices": [{"message": {"role": "assistant", "content": "All at once."}, "finish_reason": "length"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4},
    }
    fake_model.script.append(WholeReply(200, json.dumps(body)))
    answer = await client.complete(REQUEST)
    assert (answer.text, answer.finish_reason, answer.usage["completion_tokens"]) == ("All at once.", "length", 4)


def _event(error: dict[str, object]) -> str:
    return f"data: {json.dumps({'error': error})}\n\n"


async def test_an_error_event_before_any_text_is_retried_when_worth_it(
    client: ModelClient, fake_model: FakeModel
) -> None:
    fake_model.script += [RawStream([_event({"type": "overloaded_error", "message": "Overloaded"})]), Reply(["ok"])]
    answer = await client.complete(REQUEST)
    assert (answer.text, answer.attempts) == ("ok", 2)


@pytest.mark.parametrize(
    ("fault", "settings"),
    [
        (WholeReply(401, "Unauthorized", content_type="text/plain"), ("INFERENCE_KEY",)),
        (
            WholeReply(429, json.dumps({"error": {"code": "insufficient_quota", "message": "quota"}})),
            ("INFERENCE_KEY", "INFERENCE_MODEL_ID"),
        ),
        (WholeReply(400, json.dumps({"error": {"message": "max_tokens: 8192 > 4096"}})), ("MODEL_MAX_TOKENS",)),
        (
            WholeReply(400, json.dumps({"error": {"message": "You do not have access to model claude-9"}})),
            ("INFERENCE_KEY", "INFERENCE_MODEL_ID"),
        ),
        (RawStream([_event({"code": 401, "message": "bad key"})]), ("INFERENCE_KEY",)),
        (WholeReply(503, json.dumps({"error": {"message": "model not available, try later"}})), None),
        (WholeReply(403, "<html><title>Request blocked</title></html>", content_type="text/html"), None),
        (WholeReply(422, json.dumps({"error": {"message": "image too large"}})), None),
    ],
    ids=[
        "401-page",
        "no-quota",
        "parameter",
        "no-access-words",
        "event-code",
        "5xx-is-not-setup",
        "filter-page",
        "about-the-message",
    ],
)
async def test_setup_errors_name_the_setting_and_are_not_retried(
    client: ModelClient, fake_model: FakeModel, fault: WholeReply | RawStream, settings: tuple[str, ...] | None
) -> None:
    fake_model.script += [fault, fault, fault]
    with pytest.raises(ModelHTTPError) as caught:
        await client.complete(REQUEST)
    if settings is None:
        assert not isinstance(caught.value, ModelSetupError)
    else:
        assert isinstance(caught.value, ModelSetupError)
        assert caught.value.settings == settings
        assert len(fake_model.requests) == 1


async def test_a_chunk_with_an_empty_error_field_is_not_an_error(client: ModelClient, fake_model: FakeModel) -> None:
    fake_model.script.append(
        RawStream(
            [
                'data: {"choices":[{"delta":{"content":"Fine"}}],"error":null}\n\n',
                'data: {"choices":[{"delta":{},"finish_reason":"stop"}],"error":null}\n\n',
                "data: [DONE]\n\n",
            ]
        )
    )
    assert (await client.complete(REQUEST)).text == "Fine"


async def test_crlf_line_endings_and_multi_line_data_events(client: ModelClient, fake_model: FakeModel) -> None:
    fake_model.script.append(
        RawStream(
            [
                'data: {"choices":[{"delta":{"content":"One "}}]}\r\n\r\n',
                'data: {"choices":[{"delta":\r\ndata: {"content":"event on two lines"}}]}\r\n\r\n',
                'data: {"choices":[{"delta":{},"finish_reason":"stop"}]}\r\n\r\ndata: [DONE]\r\n\r\n',
            ]
        )
    )
    answer = await client.complete(REQUEST)
    assert (answer.text, answer.finish_reason) == ("One event on two lines", "stop")


async def test_a_character_split_between_two_reads(client: ModelClient, fake_model: FakeModel) -> None:
    event = 'data: {"choices":[{"delta":{"content":"caf\u00e9 \U0001f600"}}]}\n\n'.encode()
    split = event.index("\U0001f600".encode()) + 2
    end = b'data: {"choices":[{"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
    fake_model.script.append(RawStream([event[: split - 4], event[split - 4 : split], event[split:], end]))
    assert (await client.complete(REQUEST)).text == "caf\u00e9 \U0001f600"


async def test_text_before_an_error_event_in_the_same_read_is_shown_and_not_retried(
    client: ModelClient, fake_model: FakeModel
) -> None:
    one_write = 'data: {"choices":[{"delta":{"content":"Partial"}}]}\n\n' + _event({"message": "upstream failed"})
    fake_model.script += [RawStream([one_write]), Reply(["never asked"])]
    shown: list[str] = []
    answer = Answer()

    async def read() -> None:
        async for text in client.stream(REQUEST, answer):
            shown.append(text)

    with pytest.raises(ModelHTTPError) as caught:
        await read()
    assert caught.value.in_stream
    assert ("".join(shown), answer.text, answer.attempts, len(fake_model.requests)) == ("Partial", "Partial", 1, 1)


async def test_a_stream_that_never_sends_a_line_break_is_broken_off_at_a_megabyte(
    client: ModelClient, fake_model: FakeModel
) -> None:
    """The text before it stays shown; the rest of the stream is not read (it grew memory without limit)."""
    fake_model.script.append(Flood(b'data: {"choices":[{"delta":{"content":"Partial"}}]}\n\ndata: '))
    shown: list[str] = []

    async def read() -> None:
        async for text in client.stream(REQUEST, Answer()):
            shown.append(text)

    with pytest.raises(ModelStreamBroken) as caught:
        await read()
    assert shown == ["Partial"]
    assert caught.value.detail == "a line of over 1 MB"
    await fake_model.wait_for_flood()
    assert fake_model.flooded_bytes[0] < 64 * 1024 * 1024


async def test_a_whole_answer_past_the_limit_is_not_read_to_its_end(client: ModelClient, fake_model: FakeModel) -> None:
    fake_model.script.append(Flood(b'{"choices": [{"message": {"content": "', content_type="application/json"))
    with pytest.raises(ModelStreamBroken) as caught:
        await client.complete(REQUEST)
    assert caught.value.detail == "an answer of over 8 MB"
    assert len(fake_model.requests) == 1, "not retried: it would be as large again"
    await fake_model.wait_for_flood()
    assert fake_model.flooded_bytes[0] < 64 * 1024 * 1024


async def test_an_error_event_in_a_200_stream_is_not_called_an_http_status(
    client: ModelClient, fake_model: FakeModel
) -> None:
    fake_model.script.append(RawStream([PARTIAL, error_event("upstream model crashed", type="server_error")]))
    with pytest.raises(ModelHTTPError) as caught:
        await client.complete(REQUEST)
    assert caught.value.in_stream
    assert str(caught.value) == "error event in the answer stream: upstream model crashed"


async def test_a_long_service_message_is_summed_up_in_whole_words_and_kept_whole_for_the_log(
    client: ModelClient, fake_model: FakeModel
) -> None:
    fake_model.script.append(WholeReply(400, gateway_page(MODEL_KEY), content_type="text/plain"))
    with pytest.raises(ModelHTTPError) as caught:
        await client.complete(REQUEST)
    assert caught.value.message == "No connected db."
    assert "No fallback was attempted because the routing pool" in caught.value.detail
    assert MODEL_KEY not in caught.value.detail
    fake_model.script.append(WholeReply(400, json.dumps({"error": "word " * 100}), content_type="text/plain"))
    with pytest.raises(ModelHTTPError) as caught:
        await client.complete(REQUEST)
    assert caught.value.message == " ".join(["word"] * 24) + "…"


PARTIAL = 'data: {"choices":[{"delta":{"content":"Partial"}}]}\n\n'


async def test_a_stream_of_small_events_far_past_max_tokens_is_broken_off(
    client: ModelClient, fake_model: FakeModel
) -> None:
    """Each event is small, so no line is too long; a service that ignores max_tokens still stops being read."""
    event = b'data: {"choices":[{"delta":{"content":"' + b"spam " * 200 + b'"}}]}\n\n'
    fake_model.script.append(Flood(event, piece=event))
    answer = Answer()
    with pytest.raises(ModelStreamBroken) as caught:
        async for _ in client.stream(REQUEST, answer):
            pass
    assert caught.value.detail == "an answer far past its 100 tokens"
    # Checked after each block the transport hands over (all it has read), so it may pass the limit by one.
    assert 65_536 < len(answer.text) < 8 * 1024 * 1024
    assert len(fake_model.requests) == 1
    await fake_model.wait_for_flood()
    assert fake_model.flooded_bytes[0] < 64 * 1024 * 1024
