"""The files a deployer uses: the manifest validates, and it subscribes to what the bot handles."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT.parent / "shared" / "reference" / "slack-app-manifest.schema.v1.json"


def manifest() -> dict[str, object]:
    return yaml.safe_load((ROOT / "manifest.yml").read_text())  # type: ignore[no-any-return]


@pytest.mark.skipif(not SCHEMA.exists(), reason="../shared is not checked out beside this repository")
def test_manifest_validates_against_slacks_schema() -> None:
    """Slack accepts the manifest as it is."""
    jsonschema.validate(manifest(), json.loads(SCHEMA.read_text()))


def test_manifest_subscribes_to_mentions_and_messages_with_history_scopes() -> None:
    """The events the bot answers are subscribed, and the scopes let it read whole threads."""
    data = manifest()
    events = set(data["settings"]["event_subscriptions"]["bot_events"])  # type: ignore[index]
    scopes = set(data["oauth_config"]["scopes"]["bot"])  # type: ignore[index]
    assert {"app_mention", "message.im", "message.channels"} <= events
    assert {"app_mentions:read", "chat:write", "channels:history", "im:history", "users:read"} <= scopes
    request_url = data["settings"]["event_subscriptions"]["request_url"]  # type: ignore[index]
    assert request_url.endswith("/slack/events")


def test_procfile_starts_the_package() -> None:
    assert (ROOT / "Procfile").read_text().strip() == "web: python -m bot"


def test_app_json_offers_every_setting_a_deployer_sets() -> None:
    """The Heroku Button asks for exactly the settings the code reads, minus those Heroku and add-ons set."""
    from bot.settings import Settings

    app = json.loads((ROOT / "app.json").read_text())
    set_elsewhere = {"INFERENCE_URL", "INFERENCE_KEY", "INFERENCE_MODEL_ID", "PORT", "REDIS_URL", "SLACK_APP_TOKEN"}
    assert set(app["env"]) == set(Settings.names()) - set_elsewhere
    assert {name for name, var in app["env"].items() if var["required"]} == {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"}
    assert all(var["description"] for var in app["env"].values())
    assert {"plan": "heroku-inference:claude-4-5-haiku", "as": "INFERENCE"} in app["addons"]
    assert app["formation"]["web"]["quantity"] == 1


def test_readme_and_env_example_document_every_setting() -> None:
    from bot.settings import Settings

    readme = (ROOT / "README.md").read_text()
    example = (ROOT / ".env.example").read_text()
    for name in Settings.names():
        assert f"`{name}`" in readme, name
        assert name in example, name
