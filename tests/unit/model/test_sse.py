"""The event-stream decoder: the same events however the bytes are cut into blocks."""

from __future__ import annotations

import time

import pytest

from bot.model.sse import EventStreamDecoder

STREAM = (
    ": keep-alive\n\n"
    'data: {"content":"café"}\n\n'
    "event: message\r\nid: 7\r\ndata: first line\r\ndata:second line\r\n\r\n"
    "data: cr only\r\rretry: 100\n"
    "data:  two spaces keep one\n\n"
    "data: [DONE]\n\n"
).encode()
EVENTS = ['{"content":"café"}', "first line\nsecond line", "cr only", " two spaces keep one", "[DONE]"]


def decode(blocks: list[bytes]) -> list[str]:
    decoder = EventStreamDecoder()
    events = [event for block in blocks for event in decoder.feed(block)]
    return events + decoder.end()


def test_a_stream_in_one_block() -> None:
    assert decode([STREAM]) == EVENTS


@pytest.mark.parametrize("cut", range(1, len(STREAM)))
def test_a_stream_cut_anywhere_in_two_blocks(cut: int) -> None:
    """Also inside the two bytes of "é", between the CR and LF of a CRLF, and inside "data:"."""
    assert decode([STREAM[:cut], STREAM[cut:]]) == EVENTS


def test_a_stream_byte_by_byte() -> None:
    assert decode([STREAM[index : index + 1] for index in range(len(STREAM))]) == EVENTS


def test_a_last_event_without_its_blank_line_still_counts() -> None:
    assert decode([b"data: a\n\ndata: [DONE]"]) == ["a", "[DONE]"]
    assert decode([b"data: [DONE]\r"]) == ["[DONE]"]


def test_comments_and_empty_events_are_not_events() -> None:
    assert decode([b": ping\n\n\n\nevent: x\n\n"]) == []


def test_a_line_that_never_ends_stops_the_decoder_at_the_limit() -> None:
    """The events before it are handed over; nothing of the line is kept, and nothing after it is read."""
    decoder = EventStreamDecoder(line_limit=1000)
    assert decoder.feed(b"data: before\n\ndata: ") == ["before"]
    for _ in range(5):
        assert decoder.feed(b"x" * 300) == []
    assert decoder.overflowed
    assert decoder.feed(b"\n\ndata: after\n\n") == []
    assert decoder.end() == []


def test_a_long_line_inside_one_block_stops_the_decoder() -> None:
    decoder = EventStreamDecoder(line_limit=1000)
    assert decoder.feed(b"data: before\n\ndata: " + b"x" * 2000 + b"\n\ndata: after\n\n") == ["before"]
    assert decoder.overflowed


def test_an_event_of_many_lines_that_never_ends_stops_the_decoder() -> None:
    decoder = EventStreamDecoder(line_limit=1000)
    for _ in range(20):
        assert decoder.feed(b"data: " + b"y" * 99 + b"\n") == []
    assert decoder.overflowed


def test_lines_and_events_up_to_the_limit_are_decoded() -> None:
    decoder = EventStreamDecoder(line_limit=1000)
    line = b"data: " + b"z" * 994
    assert decoder.feed(line[:500]) + decoder.feed(line[500:] + b"\n\n") == ["z" * 994]
    assert not decoder.overflowed


def test_decoding_is_linear_in_the_bytes_of_a_long_line() -> None:
    """8 MB in 8,192 blocks of 1 KB, no line break until the end: each byte is split once (re-splitting the
    unfinished line on every block took about 30 s). A generous bound, not a benchmark."""
    decoder = EventStreamDecoder(line_limit=16 * 1024 * 1024)
    started = time.monotonic()
    assert decoder.feed(b"data: ") == []
    for _ in range(8192):
        decoder.feed(b"x" * 1024)
    assert decoder.feed(b"\n\n") == ["x" * 8 * 1024 * 1024]
    assert time.monotonic() - started < 3
