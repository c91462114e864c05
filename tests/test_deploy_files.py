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
