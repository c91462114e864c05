"""SUGGESTED_PROMPTS: the forms a deployer can type, and every malformed value named at start."""

from __future__ import annotations

import json

import pytest

from bot.errors import ConfigurationError
from bot.settings import Settings
from bot.suggested_prompts import DEFAULT_SUGGESTED_PROMPTS, SuggestedPrompt, parse_suggested_prompts
from tests.settings_env import REQUIRED


def test_unset_gives_the_defaults() -> None:
    assert Settings.from_env(REQUIRED).suggested_prompts == DEFAULT_SUGGESTED_PROMPTS


def test_title_message_pairs() -> None:
    assert parse_suggested_prompts(" Explain = What does this mean? ; Draft=Help me write a reply;") == (
        SuggestedPrompt("Explain", "What does this mean?"),
        SuggestedPrompt("Draft", "Help me write a reply"),
    )


def test_json_takes_any_text() -> None:
    raw = json.dumps([{"title": "Math", "message": "Is 2+2=4; or 5? Explain `x=1`"}])
    assert parse_suggested_prompts(raw) == (SuggestedPrompt("Math", "Is 2+2=4; or 5? Explain `x=1`"),)


def test_none_turns_them_off() -> None:
    assert Settings.from_env({**REQUIRED, "SUGGESTED_PROMPTS": "None"}).suggested_prompts == ()


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        ("A=1;B=2;C=3;D=4;E=5", "lists 5 prompts; Slack shows at most 4"),
        ("Just a message", "'Just a message', which is not one `Title=Message` pair"),
        ("A=x=y", "not one `Title=Message` pair"),
        ("=no title", "without a title or a message"),
        ('[{"title": "A"}]', 'JSON list of {"title"'),
        ("[{oops", "is not valid JSON"),
        ("T" * 80 + "=m", "title longer than 75 characters"),
        (";;", "lists no prompt"),
    ],
)
def test_a_malformed_value_stops_the_start_with_what_is_wrong(raw: str, said: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env({**REQUIRED, "SUGGESTED_PROMPTS": raw})
    text = str(caught.value)
    assert "SUGGESTED_PROMPTS" in text
    assert said in text
    assert "Title=Message;Title=Message" in text
