"""The least environment `Settings.from_env` accepts, with placeholder values: for tests that build settings
without the fakes (the `environ` fixture points at them instead)."""

from __future__ import annotations

REQUIRED = {
    "SLACK_BOT_TOKEN": "xoxb-1",
    "SLACK_SIGNING_SECRET": "secret",
    "INFERENCE_URL": "https://us.inference.heroku.com",
    "INFERENCE_KEY": "inf-key",
    "INFERENCE_MODEL_ID": "claude-4-5-haiku",
}
