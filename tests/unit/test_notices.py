"""Notices: each says what happened and what will help, as whole sentences."""

from __future__ import annotations

import pytest

from bot import notices
from bot.errors import ContextTooLong, ModelAnswerTooLarge, ModelHTTPError, ModelSetupError
from bot.safe_text import WORD_JOINER
from bot.slack.rendering import to_mrkdwn


def test_a_service_message_with_its_own_stop_gets_no_second_one() -> None:
    assert notices.sentences("HTTP 400: Bad request.", "Try again") == "HTTP 400: Bad request. Try again."
    assert notices.sentences("Cut off…", "Really?", "") == "Cut off… Really?"


def test_a_conversation_too_long_even_shortened_asks_for_a_new_thread() -> None:
    notice = notices.model_failed(ContextTooLong(400, "prompt is too long: 250000 tokens"))
    assert notice.endswith("Please start a new thread, or send a shorter message.")


def test_a_setup_error_mid_answer_does_not_ask_people_to_ask_again() -> None:
    notice = notices.interrupted(ModelSetupError(401, "key revoked.", ("INFERENCE_KEY",)))
    assert "`python -m bot check`" in notice
    assert "Please ask again" not in notice
    assert ".." not in notice


def test_a_busy_service_says_to_wait() -> None:
    notice = notices.model_failed(ModelHTTPError(429, "slow down"))
    assert notice == (
        ":warning: Sorry, the model service answered HTTP 429: slow down. "
        "It is busy right now; please try again in a minute."
    )


INJECTED = "[re-authenticate here](https://evil.example/login) or <https://evil.example/login|re-authenticate>"


def test_a_service_message_cannot_put_a_link_into_a_notice() -> None:
    """Shown as written, linking nowhere: in Markdown (`markdown_text`) and in mrkdwn (the fallback text)."""
    for notice in (
        notices.model_failed(ModelHTTPError(400, INJECTED)),
        notices.model_failed(ModelSetupError(401, INJECTED, ("INFERENCE_KEY",))),
        notices.interrupted(ModelHTTPError(400, INJECTED)),
        notices.file_not_read("x.pdf", "unreadable", INJECTED),
    ):
        assert "](" not in notice
        assert "<https://" not in notice
        assert "<https://evil" not in to_mrkdwn(notice)
        assert "re-authenticate here" in notice.replace(WORD_JOINER, "")


def test_a_link_in_a_notice_is_inert_whatever_it_holds() -> None:
    for notice in (
        notices.link_not_followed(INJECTED),
        notices.link_not_for_everyone_here(INJECTED),
        notices.link_unchecked(INJECTED),
    ):
        assert "](" not in notice
        assert "<https://evil" not in to_mrkdwn(notice)


def test_an_answer_too_large_says_the_bot_stopped_reading_it() -> None:
    notice = notices.model_failed(ModelAnswerTooLarge("an answer of over 8 MB"))
    assert notice == (
        ":warning: Sorry, the model service sent an answer of over 8 MB, more than any real answer, so I stopped "
        "reading it. Please try again in a moment. If it keeps happening, please tell the person who runs this bot."
    )


def test_an_error_event_in_a_stream_names_no_http_status() -> None:
    error = ModelHTTPError(500, "Upstream crashed.", in_stream=True)
    assert notices.model_failed(error) == (
        ":warning: Sorry, the model service reported an error mid-answer: Upstream crashed. "
        "Please try again in a moment."
    )
    assert "HTTP" not in notices.interrupted(error)


@pytest.mark.parametrize(
    ("mrkdwn", "plain"),
    [
        (":warning: Sorry, the model service timed out.", "Sorry, the model service timed out."),
        (
            ":warning: _The answer was interrupted (HTTP 500: oops). Please ask again._",
            "The answer was interrupted (HTTP 500: oops). Please ask again.",
        ),
        (notices.LENGTH_LIMIT, "(The answer stops here: it reached the length limit. Ask me to continue.)"),
        ("*Bold* and ~gone~ and _*both*_", "Bold and gone and both"),
        ("lower MODEL_MAX_TOKENS; model_not_found; `python -m bot check`", None),
        (
            "See <https://example.com/x|this thread> in <#C0123ABCD>",
            "See this thread (https://example.com/x) in #C0123ABCD",
        ),
        ("<!date^1700000000^{date_short_pretty}|14 Nov 22:13 UTC>", "14 Nov 22:13 UTC"),
        ("at 10:30: done, ratio 3:4", None),
    ],
)
def test_plain_text_drops_slacks_markup_and_keeps_every_word(mrkdwn: str, plain: str | None) -> None:
    """The terminal chat shows the notices Slack shows, without the markup (None: nothing to change)."""
    assert notices.plain_text(mrkdwn) == (mrkdwn if plain is None else plain)


def test_a_file_name_or_catchup_argument_in_a_code_span_pings_no_one() -> None:
    """`<!channel>` and `<@U…>` are Slack's own sequences, which a code span may not disarm: a file someone named
    `<!channel>.txt` must not call the whole channel from the bot's note in the thread."""
    for outside in ("<!channel>.txt", "<@U0ADMIN> <!subteam^S1>", "@here.txt"):
        for notice in (notices.file_not_read(outside, "unreadable"), notices.catch_up_usage(outside)):
            for sequence in ("<!channel>", "<@U0ADMIN>", "<!subteam^S1>", "@here"):
                assert sequence not in notice
                assert sequence not in to_mrkdwn(notice)
            assert outside.replace("<", "").replace(">", "") in notice.replace(WORD_JOINER, "")


def test_an_answer_lists_its_first_sources_and_counts_the_rest() -> None:
    """Three searches may find 60 messages: the answer ends with ten links and a count, not sixty lines."""
    sources = [(f"https://test.slack.com/archives/C2/p{index}", f"#deploys, Dana, {index}") for index in range(25)]
    footer = notices.sources_footer(sources)
    assert footer.count("https://") == notices.FOOTER_SOURCES
    assert footer.splitlines()[-1] == "- _and 15 more_"
    assert "p9)" in footer
    assert "p10)" not in footer
