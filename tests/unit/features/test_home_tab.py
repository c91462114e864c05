"""The Home tab says when the bot answers without a mention, and which channel uses which model."""

from __future__ import annotations

import json

from bot.features.home_tab import home_view


def test_the_home_tab_shows_reply_modes_and_channel_models() -> None:
    view = json.dumps(
        home_view(
            "claude-4-5-haiku",
            (),
            default_mode="thread",
            channel_modes={"C0HELP001": "help"},
            channel_models={"C0HELP001": "claude-4-5-sonnet"},
        ),
        ensure_ascii=False,
    )
    assert "In channels: follow-ups in threads I've answered in, without a mention." in view
    assert "<#C0HELP001>: every new question" in view
    assert "<#C0HELP001> uses `claude-4-5-sonnet`" in view
