"""Slack's markup read as plain text, in time linear in the message whatever it holds."""

from __future__ import annotations

import time

import pytest

from bot.slack.messages import mentions_bot, plain_text

BOT = "UBOT"


def test_mentions_and_markup_read_as_plain_text() -> None:
    text = f"<@{BOT}> ask <@UALICE|alice> about <#C1|general> &amp; <https://example.com|the docs>"
    assert mentions_bot(text, BOT)
    assert plain_text(text, BOT, {"UALICE": "Alice"}).startswith("ask ")


@pytest.mark.parametrize("text", ["<@UA|" * 8_000, "<@U" * 13_000, "<" * 40_000, "<@UBOT|" * 5_700])
def test_no_message_makes_reading_it_take_long(text: str) -> None:
    """40,000 characters of unclosed mentions (`<@UA|<@UA|…`) took 1.9 s on the event loop: each one looked for
    its `>` to the end of the message. (A wide bound: it now takes milliseconds.)"""
    started = time.perf_counter()
    mentions_bot(text, BOT)
    plain_text(text, BOT, {})
    assert time.perf_counter() - started < 1
