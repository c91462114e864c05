"""Settings: every problem named with its fix; sensible defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from dotenv import dotenv_values

from bot.errors import ConfigurationError
from bot.settings import Settings
from tests.settings_env import REQUIRED

ROOT = Path(__file__).resolve().parents[2]


def test_defaults() -> None:
    settings = Settings.from_env(REQUIRED)
    assert settings.port == 3000
    assert settings.slack_api_url == "https://slack.com/api/"
    assert not settings.socket_mode
    assert settings.log_message_content is False


def test_inference_url_without_scheme_means_https() -> None:
    settings = Settings.from_env({**REQUIRED, "INFERENCE_URL": "us.inference.heroku.com/"})
    assert settings.inference_url == "https://us.inference.heroku.com"


@pytest.mark.parametrize(
    ("given", "url"),
    [
        ("localhost:11434", "http://localhost:11434"),
        ("127.0.0.1:8000/", "http://127.0.0.1:8000"),
        ("[::1]:8000", "http://[::1]:8000"),
        ("models.localhost", "http://models.localhost"),
        ("https://localhost:8443", "https://localhost:8443"),
        ("localhost.example.com", "https://localhost.example.com"),
    ],
)
def test_a_loopback_address_without_scheme_means_http(given: str, url: str) -> None:
    """A model server on this machine (Ollama, vLLM) speaks plain HTTP; tried as https it fails with a TLS error."""
    assert Settings.from_env({**REQUIRED, "INFERENCE_URL": given}).inference_url == url


@pytest.mark.parametrize(
    ("given", "url"),
    [
        ("https://us.inference.heroku.com/v1/chat/completions", "https://us.inference.heroku.com/v1"),
        ("https://us.inference.heroku.com/v1/chat/completions/", "https://us.inference.heroku.com/v1"),
        ("http://localhost:11434/v1", "http://localhost:11434/v1"),
    ],
)
def test_the_whole_endpoint_is_taken_for_its_base(given: str, url: str) -> None:
    """The endpoint pasted from a curl example names the base unambiguously: the bot calls exactly it."""
    assert Settings.from_env({**REQUIRED, "INFERENCE_URL": given}).inference_url == url


def test_an_endpoint_the_bot_cannot_call_asks_for_the_base_url() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env({**REQUIRED, "INFERENCE_URL": "https://gateway.example.com/openai/chat/completions"})
    assert str(caught.value) == (
        "- INFERENCE_URL must be the service's base URL, e.g. https://us.inference.heroku.com (the bot adds "
        "/v1/chat/completions itself), not 'https://gateway.example.com/openai/chat/completions'."
    )


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env({"SLACK_BOT_TOKEN": "xoxp-user", "MODEL_TEMPERATURE": "hot", "MODEL_MAX_TOKENS": "0"})
    text = str(caught.value)
    for needle in (
        "xoxb-",
        "SLACK_SIGNING_SECRET",
        "INFERENCE_URL",
        "INFERENCE_KEY",
        "MODEL_TEMPERATURE",
        "MODEL_MAX_TOKENS",
    ):
        assert needle in text


def test_socket_mode_needs_no_signing_secret() -> None:
    environ = {key: value for key, value in REQUIRED.items() if key != "SLACK_SIGNING_SECRET"}
    settings = Settings.from_env({**environ, "SLACK_APP_TOKEN": "xapp-1"})
    assert settings.socket_mode


def test_secrets_stay_out_of_repr() -> None:
    settings = Settings.from_env({**REQUIRED, "REDIS_URL": "rediss://:hunter22@host:6379"})
    assert "inf-key" not in repr(settings)
    assert "hunter22" not in repr(settings)
    assert {"inf-key", "secret", "xoxb-1", "hunter22"} <= set(settings.secrets)


def test_chat_needs_only_the_model_part() -> None:
    model_only = {key: value for key, value in REQUIRED.items() if not key.startswith("SLACK_")}
    settings = Settings.from_env(model_only, parts=("model",))
    assert (settings.slack_bot_token, settings.inference_key) == ("", "inf-key")
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env({}, parts=("model",))
    assert "SLACK" not in str(caught.value)
    assert "INFERENCE_KEY is not set" in str(caught.value)


def test_a_part_not_asked_for_may_be_missing_but_the_rest_is_checked() -> None:
    slack_only = {key: value for key, value in REQUIRED.items() if not key.startswith("INFERENCE_")}
    assert Settings.from_env(slack_only, parts=("slack",)).inference_url == ""
    with pytest.raises(ConfigurationError, match="MODEL_TEMPERATURE"):
        Settings.from_env({**slack_only, "MODEL_TEMPERATURE": "hot"}, parts=("slack",))


def test_per_channel_settings_are_read_and_each_malformed_entry_named() -> None:
    settings = Settings.from_env(
        {
            **REQUIRED,
            "DEFAULT_REPLY_MODE": "mention",
            "CHANNEL_MODES": "C0HELP001=Help, C0QUIET01=mention",
            "ESCALATE_TO": "C0HELP001=S0ABC123",
            "CHANNEL_MODELS": "C0HELP001=claude-4-5-sonnet",
        }
    )
    assert settings.default_reply_mode == "mention"
    assert settings.channel_modes == {"C0HELP001": "help", "C0QUIET01": "mention"}
    assert settings.escalate_to == {"C0HELP001": "S0ABC123"}
    assert settings.channel_models == {"C0HELP001": "claude-4-5-sonnet"}
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_env({**REQUIRED, "CHANNEL_MODES": "C0HELP001=loud", "ESCALATE_TO": "general=S0ABC123"})
    assert "'C0HELP001=loud' is not one" in str(raised.value)
    assert "'general=S0ABC123' is not one" in str(raised.value)


def env_example() -> dict[str, str]:
    """.env.example as `python -m bot` reads it once copied to .env."""
    return {name: value for name, value in dotenv_values(ROOT / ".env.example").items() if value is not None}


def test_the_placeholders_of_env_example_are_refused_by_name_with_where_to_find_the_value() -> None:
    """`cp .env.example .env` unchanged: each placeholder is a problem like a missing setting, named."""
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env(env_example())
    problems = caught.value.problems
    assert [problem.split(" ", 1)[0] for problem in problems] == [
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "INFERENCE_KEY",
    ]
    assert all("still holds a placeholder, not a real value" in problem for problem in problems)
    assert "OAuth & Permissions" in problems[0]
    assert "Basic Information → App Credentials → Signing Secret" in problems[1]
    assert "heroku config:get -a $APP_NAME INFERENCE_KEY" in problems[2]


@pytest.mark.parametrize(
    "placeholder", ["xoxb-...", "...", "xoxb-…", "your-bot-token", "YOUR_TOKEN", "<bot token>", "changeme", "xxxx"]
)
def test_a_placeholder_is_refused_like_a_missing_setting(placeholder: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env({**REQUIRED, "SLACK_BOT_TOKEN": placeholder})
    [problem] = caught.value.problems
    assert problem.startswith("SLACK_BOT_TOKEN still holds a placeholder")


def test_a_placeholder_of_a_part_not_asked_for_is_no_problem() -> None:
    """`python -m bot chat` with .env.example's Slack placeholders and a real model key."""
    settings = Settings.from_env({**env_example(), "INFERENCE_KEY": "inf-key"}, parts=("model",))
    assert (settings.slack_bot_token, settings.slack_signing_secret) == ("", "")


def test_an_app_token_placeholder_is_named_and_does_not_switch_on_socket_mode() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env({**REQUIRED, "SLACK_APP_TOKEN": "xapp-..."})
    [problem] = caught.value.problems
    assert problem.startswith("SLACK_APP_TOKEN is a placeholder")
    assert "App-Level Tokens" in problem


def test_real_looking_values_are_not_placeholders() -> None:
    values = {"SLACK_BOT_TOKEN": "xoxb-12-34-abcXYZ", "SLACK_SIGNING_SECRET": "8f14e45fceea167a5a36dedd4bea2543"}
    assert Settings.from_env({**REQUIRED, **values}).slack_signing_secret == values["SLACK_SIGNING_SECRET"]
