"""The chat's screen: a log line never lands inside a line of the conversation, wherever the two go."""

from __future__ import annotations

import fcntl
import io
import os
import select
import struct
import termios
from collections.abc import Iterator

import pytest

from bot.app.chat import CLEAR_LINE, Screen

LOG_LINE = "time=t level=warning msg=retrying\n"


@pytest.fixture
def terminal() -> Iterator[tuple[io.TextIOWrapper, int]]:
    """A pseudo-terminal: the file the process writes to, and the side that reads what it shows."""
    reader, device = os.openpty()
    fcntl.ioctl(device, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))  # 24 rows of 80 columns
    with open(device, "w", encoding="utf-8", closefd=True) as out:
        yield out, reader
    os.close(reader)


def shown(reader: int, expected: str) -> str:
    """What the terminal received, read until it is as long as `expected` (it arrives in pieces)."""
    received = ""
    while len(received) < len(expected) and select.select([reader], [], [], 5)[0]:
        received += os.read(reader, 65536).decode().replace("\r\n", "\n")
    return received


def test_on_a_terminal_the_open_line_is_erased_and_drawn_again_below_the_log_line(
    terminal: tuple[io.TextIOWrapper, int],
) -> None:
    out, reader = terminal
    screen = Screen(out, out)
    screen.write("assistant> Hel")
    screen.write_log(LOG_LINE)
    screen.write("lo.\n")
    expected = f"assistant> Hel{CLEAR_LINE}{LOG_LINE}assistant> Hello.\n"
    assert shown(reader, expected) == expected


def test_a_prompt_waiting_for_a_typed_line_comes_back_after_a_log_line(terminal: tuple[io.TextIOWrapper, int]) -> None:
    out, reader = terminal
    screen = Screen(out, out)
    screen.write("you> ")
    screen.write_log(LOG_LINE)
    screen.line_typed()
    screen.write_log(LOG_LINE)
    expected = f"you> {CLEAR_LINE}{LOG_LINE}you> {LOG_LINE}"
    assert shown(reader, expected) == expected


def test_sharing_a_pipe_the_log_line_starts_a_new_line() -> None:
    """`python -m bot chat 2>&1 | tee chat.txt`: no terminal to redraw on, so the line is ended instead."""
    read_end, write_end = os.pipe()
    with open(write_end, "w", encoding="utf-8") as out:
        screen = Screen(out, out)
        screen.write("assistant> ")
        screen.write_log(LOG_LINE)
        screen.write("Hello.\n")
    with open(read_end, encoding="utf-8") as pipe:
        assert pipe.read() == f"assistant> \n{LOG_LINE}Hello.\n"


def test_apart_from_the_conversation_log_lines_are_written_as_they_are() -> None:
    out, log = io.StringIO(), io.StringIO()
    screen = Screen(out, log)
    screen.write("assistant> ")
    screen.write_log(LOG_LINE)
    assert (out.getvalue(), log.getvalue()) == ("assistant> ", LOG_LINE)


def test_a_line_wider_than_the_terminal_is_ended_not_drawn_again(terminal: tuple[io.TextIOWrapper, int]) -> None:
    """It has wrapped: erasing the last row and drawing it whole again would show its start twice."""
    out, reader = terminal
    screen = Screen(out, out)
    screen.write("assistant> " + "答" * 40)
    screen.write_log(LOG_LINE)
    screen.write("!\n")
    expected = "assistant> " + "答" * 40 + f"\n{LOG_LINE}!\n"
    assert shown(reader, expected) == expected
