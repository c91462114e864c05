"""What never leaves the bot: secrets and credential-shaped text are masked before any cut, in Slack and logs."""

from __future__ import annotations

import contextlib
import enum
import io
import logging
import time

import pytest

from bot.logs import LogfmtFormatter
from bot.safe_text import REDACTED, WORD_JOINER, inert_in_slack, safe_text

KEY = "inf-5f0c2a9e-77d1-4b7e-9a51-0c3d2e1f4a6b"
TOKEN = "xoxb-1111111111-2222222222-AbCdEfGhIjKlMnOp"


def pieces(secret: str, size: int = 8) -> list[str]:
    return [secret[start : start + size] for start in range(len(secret) - size + 1)]


def leaks(text: str, *secrets: str) -> list[str]:
    """Every 8-character piece of a secret that is visible in `text`."""
    return [piece for secret in secrets for piece in pieces(secret) if piece in text]


def test_a_secret_straddling_the_cut_is_masked_whole() -> None:
    text = "x" * 190 + " " + KEY + " and more"
    safe = safe_text(text, [KEY], limit=200)
    assert len(safe) <= 200
    assert leaks(safe, KEY) == []
    assert safe == "x" * 190 + "…"


def test_the_cut_never_splits_a_mask() -> None:
    assert safe_text("x" * 20 + " " + KEY, [KEY], limit=25) == "x" * 20 + "…"
    assert safe_text("x" * 5 + " " + KEY, [KEY], limit=25) == "x" * 5 + f" {REDACTED}"


@pytest.mark.parametrize(
    "echo",
    [KEY[:12], KEY[10:30], KEY[-9:], KEY[:9] + "****" + KEY[-9:]],
    ids=["prefix", "middle", "suffix", "both-ends"],
)
@pytest.mark.parametrize("before", ["", "a long error text " * 20], ids=["short", "long"])
def test_any_piece_of_eight_or_more_characters_of_a_secret_is_masked(echo: str, before: str) -> None:
    """Short text is looked through in plain code and long text by RE2: both find every piece."""
    safe = safe_text(f"{before}the service echoed {echo}!", ["not-this-one-at-all", KEY])
    assert leaks(safe, KEY) == []
    assert safe.startswith(f"{before}the service echoed {REDACTED}")
    assert safe.endswith(f"{REDACTED}!")


@pytest.mark.parametrize(
    "credential",
    [
        "xoxb-9999999999-8888888888-ZyXwVuTsRqPo",
        "xoxp-9999999999-8888888888-7777777777-abcdef",
        "xapp-1-A0123456789-1234567890123-abcdef0123",
        "xoxe-1-My0xLTEyMzQ1Njc4OQ",
        "xoxe.xoxp-1-Mi0yLTEyMzQ1Njc4OQ",
        "sk-proj-AbCdEf0123456789GhIjKl",
        "sk-ant-api03-AbCdEf0123456789GhIjKl",
        "inf-00000000-1111-2222-3333-444444444444",
    ],
)
def test_credential_shaped_text_is_masked_whoever_it_belongs_to(credential: str) -> None:
    safe = safe_text(f"upstream refused key {credential}, try another")
    assert safe == f"upstream refused key {REDACTED}, try another"


def test_authorization_headers_and_url_passwords_are_masked() -> None:
    safe = safe_text("sent Authorization: Bearer abc.def.ghi to redis://:hunter2hunter2@host:6379/0")
    assert safe == f"sent Authorization: Bearer {REDACTED} to redis://{REDACTED}@host:6379/0"


@pytest.mark.parametrize("gap", ["\t", "  ", " \t "])
def test_authorization_credentials_after_tabs_or_several_spaces_are_masked(gap: str) -> None:
    safe = safe_text(f"Authorization: Bearer{gap}abc.def.ghi and Basic{gap}dXNlcjpodW50ZXIy")
    assert "abc.def.ghi" not in safe
    assert "dXNlcjpodW50ZXIy" not in safe


def test_basic_credentials_are_masked_but_slacks_basic_information_page_is_named() -> None:
    """The signing-secret warning says where Slack shows it; `Basic ` before a plain word is no credential."""
    safe = safe_text("Authorization: Basic c29tZW9uZTpodW50ZXIy or Basic dXNlcjpwYXNz; see Basic Information")
    assert safe == f"Authorization: Basic {REDACTED} or Basic {REDACTED}; see Basic Information"


@pytest.mark.parametrize(
    "prose",
    [
        "a basic understanding of the basic  settings",
        "the Bearer\tof bad news",
        "401: invalid Bearer token, send a Bearer token. Basic authentication is off",
        "see Basic Information/App Credentials",
    ],
)
def test_a_word_after_bearer_or_basic_is_prose_not_a_credential(prose: str) -> None:
    """A tool's result the model reads, a service's error the thread shows: "Bearer [redacted]" hid what was
    wrong ("invalid Bearer token") and "basic [redacted]" mangled ordinary sentences."""
    assert safe_text(prose) == prose


def test_credentials_that_start_like_words_are_still_masked() -> None:
    """A value that decodes to user:password, or one that is sent as an Authorization header, is masked whatever
    it looks like."""
    assert safe_text("Authorization: Bearer abc") == f"Authorization: Bearer {REDACTED}"
    assert safe_text('"Authorization": "Basic settings"') == f'"Authorization": "Basic {REDACTED}"'
    assert safe_text("-H 'authorization:\tbearer x'") == f"-H 'authorization:\tbearer {REDACTED}"
    safe = safe_text("Bearer abc.def.ghi or Bearer token-4f9a2c or Basic dXNlcjpwYXNz or basic YWRtaW46czNjcjN0IQ==")
    assert safe == f"Bearer {REDACTED} or Bearer {REDACTED} or Basic {REDACTED} or basic {REDACTED}"
    # A run of letters no word of prose is as long as: a token of letters only.
    assert safe_text("Bearer qwzxkvbnmplokijuhygtfr") == f"Bearer {REDACTED}"


def test_ordinary_text_is_kept() -> None:
    text = "The model `claude-4-5-haiku` is unknown; task-sk-list and risk-assessment stay, 1 inf-norm."
    assert safe_text(text, [KEY, TOKEN]) == text


def test_short_secrets_are_masked_only_whole() -> None:
    assert safe_text("hunter22 and hunter2", ["hunter22"]) == f"{REDACTED} and hunter2"


def test_log_lines_mask_every_secret_in_every_field() -> None:
    formatter = LogfmtFormatter([KEY, TOKEN])
    record = logging.LogRecord("bot", logging.WARNING, __file__, 1, "failed with %s", (KEY[:20],), None)
    record.error = f"HTTP 401: bad token {TOKEN[:15]}"
    record.details = {"header": f"Bearer {KEY}", "other": "sk-live-0123456789abcdef"}
    line = formatter.format(record)
    assert leaks(line, KEY, TOKEN) == []
    assert "sk-live-0123456789abcdef" not in line
    assert "failed with [redacted]" in line


@pytest.mark.parametrize(
    "control", ["<!channel>", "<!here>", "<!everyone>", "<@U0123ABC>", "<!subteam^S012|@admins>", "@here", "@channel"]
)
def test_a_slack_control_sequence_pings_no_one(control: str) -> None:
    shown = inert_in_slack(f"upstream says {control} now")
    assert control not in shown
    assert shown.replace(WORD_JOINER, "").replace("<", "").replace(">", "") == f"upstream says {control} now".replace(
        "<", ""
    ).replace(">", "")


def test_ordinary_angle_brackets_and_addresses_are_kept() -> None:
    text = "expected x < 3 and y > 1, mail ops@example.com, <html> page"
    assert inert_in_slack(text) == text


def test_a_log_line_with_half_an_emoji_is_still_written() -> None:
    """A lone surrogate from a model's stream would make the whole line unwritable as UTF-8."""
    stream = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(LogfmtFormatter())
    record = logging.LogRecord("bot.answer.answerer", logging.INFO, "", 0, "event handled", None, None)
    record.undelivered_answer = "Smile \ud83d and \ud83d\ude00 done"
    with contextlib.redirect_stderr(io.StringIO()) as errors:
        handler.emit(record)
    stream.flush()
    written = stream.buffer.getvalue().decode("utf-8")  # type: ignore[attr-defined]
    assert errors.getvalue() == ""
    assert "undelivered_answer=" in written
    assert "done" in written


ADVERSARIAL = {
    "token prefixes": "sk-" * 50_000,
    "Slack prefixes": "xoxb-" * 30_000,
    "URL credentials": "://a:" * 30_000,
    "Bearer words": "Bearer " * 21_000,
    "Bearer tabs": "Bearer\t" * 21_000,
    "Basic words": "Basic " * 25_000,
    "mentions": "<@U" * 50_000,
    "here": "@here" * 30_000,
    "secret pieces": KEY[:20] * 7_500,
}


@pytest.mark.parametrize("text", ADVERSARIAL.values(), ids=ADVERSARIAL.keys())
def test_no_input_makes_masking_take_long(text: str) -> None:
    """Every log line and every Slack text goes through these patterns: they run in time linear in the text.
    (A wide bound: each takes milliseconds.)"""
    started = time.perf_counter()
    safe_text(text, [KEY, TOKEN])
    inert_in_slack(text)
    assert time.perf_counter() - started < 1


def test_a_ping_right_after_a_control_sequence_pings_no_one() -> None:
    assert inert_in_slack("<!here>@channel x@here") == f"!{WORD_JOINER}here@{WORD_JOINER}channel x@here"


def test_text_with_half_an_emoji_is_masked() -> None:
    assert safe_text(f"key \ud83d {KEY}", [KEY]) == f"key \ufffd {REDACTED}"


def test_a_str_enum_value_is_masked_as_its_text() -> None:
    """Log fields are often enum members (an outcome): RE2's `sub` needs a plain str."""

    class Outcome(enum.StrEnum):
        ANSWERED = "answered"

    assert safe_text(Outcome.ANSWERED, [KEY]) == "answered"
