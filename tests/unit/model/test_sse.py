"""The event-stream decoder: the same events however the bytes are cut into blocks."""

from __future__ import annotations

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
