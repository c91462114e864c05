"""The pure core of catch-up: `/catchup`'s time span, and a transcript that keeps the newest lines."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.features.transcript import EARLIER_LEFT_OUT, MAX_LINE_CHARACTERS, Line, fit_newest, line_for, parse_window
from bot.notices import window_phrase
from bot.slack.messages import ThreadMessage


@pytest.mark.parametrize(
    ("text", "window"),
    [
        ("", timedelta(hours=24)),
        ("  ", timedelta(hours=24)),
        ("8h", timedelta(hours=8)),
        ("3d", timedelta(days=3)),
        ("90m", timedelta(minutes=90)),
        ("2 weeks", timedelta(weeks=2)),
        ("1 Day", timedelta(days=1)),
        ("30d", timedelta(days=30)),
    ],
)
def test_time_spans_people_type(text: str, window: timedelta) -> None:
    assert parse_window(text) == window


@pytest.mark.parametrize("text", ["soon", "3", "d3", "0h", "31d", "5 fortnights", "3d 4h", "-2h", "1.5h"])
def test_what_is_not_a_time_span(text: str) -> None:
    assert parse_window(text) is None


@pytest.mark.parametrize(
    ("window", "phrase"),
    [
        (timedelta(hours=24), "the last 24 hours"),
        (timedelta(hours=1), "the last hour"),
        (timedelta(days=3), "the last 3 days"),
        (timedelta(minutes=90), "the last 90 minutes"),
        (timedelta(weeks=2), "the last 14 days"),
    ],
)
def test_window_phrases(window: timedelta, phrase: str) -> None:
    assert window_phrase(window) == phrase


def lines(count: int, size: int = 40) -> list[Line]:
    return [Line(f"{number}.0", f"{number:03d}" + "x" * size) for number in range(count)]


def test_everything_fits_nothing_is_noted() -> None:
    transcript = fit_newest(lines(3), 1000)
    assert not transcript.partial
    assert EARLIER_LEFT_OUT not in transcript.text
    assert transcript.reaches_back_to == "0.0"


def test_the_newest_lines_are_kept_within_the_budget() -> None:
    transcript = fit_newest(lines(100), 100)
    assert transcript.partial
    assert transcript.lines[-1].text.startswith("099")
    assert sum(line.tokens for line in transcript.lines) <= 100
    assert transcript.text.startswith(EARLIER_LEFT_OUT)
    assert transcript.reaches_back_to == transcript.lines[0].ts


def test_a_threads_parent_is_kept_whatever_its_age() -> None:
    transcript = fit_newest(lines(100), 100, keep_first=True)
    assert transcript.lines[0].text.startswith("000")
    assert transcript.lines[-1].text.startswith("099")
    assert transcript.text.split("\n")[1] == EARLIER_LEFT_OUT
    assert transcript.reaches_back_to == transcript.lines[1].ts


def test_lines_left_unread_make_it_partial() -> None:
    assert fit_newest(lines(2), 1000, more_before=True).partial


def test_a_line_names_its_speaker_and_keeps_code_and_is_cut_when_huge() -> None:
    names = {"UALICE": "Alice"}
    said = ThreadMessage("1.0", "UALICE", "see <@UALICE> `a < b`", by_this_bot=False, by_a_person=True)
    line = line_for(said, names=names, bot_user_id="UBOT", replies=2)
    assert line is not None
    assert line.text == "Alice: see @Alice `a < b` (2 replies in its thread)"
    bot = ThreadMessage("1700000000.000001", "Thread Assistant", "y" * 10_000, by_this_bot=True, by_a_person=False)
    long_line = line_for(bot, names=names, bot_user_id="UBOT", dated=True)
    assert long_line is not None
    assert long_line.text.startswith("[Tue 14 Nov 22:13] Thread Assistant (bot): yyy")
    assert len(long_line.text) < MAX_LINE_CHARACTERS + 60
    assert line_for(ThreadMessage("3.0", "UALICE", " ", False, True), names=names, bot_user_id="UBOT") is None


def test_a_newest_line_bigger_than_the_budget_is_cut_not_dropped() -> None:
    huge = [Line("1.0", "older"), Line("2.0", "Alice: " + "z" * 8000)]
    transcript = fit_newest(huge, 300)
    [line] = transcript.lines
    assert line.text.startswith("Alice: zzz")
    assert line.text.endswith(" […]")
    assert line.tokens <= 300
    assert transcript.partial
