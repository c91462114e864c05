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


def test_many_channels_fit_in_what_slack_takes_for_a_block() -> None:
    """Slack refuses the whole view (invalid_blocks) when a section's or a context's text passes 3,000
    characters: 60 help channels and 120 channel models are listed as far as they fit, the rest counted."""
    channels = [f"C0HELP{index:04d}" for index in range(120)]
    view = home_view(
        "claude-4-5-haiku",
        (),
        channel_modes=dict.fromkeys(channels[:60], "help"),
        channel_models=dict.fromkeys(channels, "claude-4-5-sonnet"),
    )
    texts = [block["text"]["text"] for block in view["blocks"] if block["type"] == "section"]
    texts += [
        element["text"] for block in view["blocks"] if block["type"] == "context" for element in block["elements"]
    ]
    assert max(len(text) for text in texts) <= 3000
    shown = json.dumps(view)
    assert "<#C0HELP0000>: every new question" in shown
    assert "<#C0HELP0000> uses `claude-4-5-sonnet`" in shown
    assert next(text for text in texts if "When I answer" in text).endswith("… and 28 more")
    assert next(text for text in texts if text.startswith("Model:")).endswith(" more")
