"""The files a deployer uses: the manifest validates, and it subscribes to what the bot handles."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.manifest import manifest

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT.parent / "shared" / "reference" / "slack-app-manifest.schema.v1.json"


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
    """The web process first (what Heroku scales to one); a worker type that answers only, off by default."""
    assert (ROOT / "Procfile").read_text().splitlines() == ["web: python -m bot", "worker: python -m bot worker"]
    formation = json.loads((ROOT / "app.json").read_text())["formation"]
    assert formation["web"]["quantity"] == 1
    assert formation["worker"]["quantity"] == 0


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
    assert app["success_url"] == "/", "after a deploy, the welcome page (the Request URL), not /health's JSON"


SETTINGS_PAGE = ROOT / "docs" / "settings.md"


def test_settings_page_and_env_example_document_every_setting() -> None:
    from bot.settings import Settings

    page = SETTINGS_PAGE.read_text()
    example = (ROOT / ".env.example").read_text()
    for name in Settings.names():
        assert f"`{name}`" in page, name
        assert name in example, name


BASE_ENVIRON = {
    "SLACK_BOT_TOKEN": "xoxb-1",
    "SLACK_SIGNING_SECRET": "secret",
    "INFERENCE_URL": "https://inference.example",
    "INFERENCE_KEY": "key",
    "INFERENCE_MODEL_ID": "claude-4-5-haiku",
}


def documented_settings() -> dict[str, str]:
    """The settings tables of docs/settings.md: each setting's Default cell, each setting in one row only."""
    rows: dict[str, str] = {}
    for line in SETTINGS_PAGE.read_text().splitlines():
        if match := re.fullmatch(r"\| `([A-Z_]+)` \| (.+?) \| .+ \|", line):
            assert match[1] not in rows, f"{match[1]} has two rows"
            rows[match[1]] = match[2]
    return rows


def literal(cell: str) -> str | None:
    """`20` → 20; prose such as 'unset (no limit)' → None."""
    match = re.fullmatch(r"`([^`]+)`", cell)
    return match[1] if match else None


def test_settings_tables_list_every_setting_once() -> None:
    from bot.settings import Settings

    assert sorted(documented_settings()) == sorted(Settings.names())


def test_documented_defaults_are_the_codes() -> None:
    """Setting a variable to the default docs/settings.md, app.json or .env.example names changes nothing."""
    from bot.settings import Settings

    defaults = Settings.from_env(BASE_ENVIRON)
    documented: list[tuple[str, str, str]] = []
    for name, cell in documented_settings().items():
        if (value := literal(cell)) is not None:
            documented.append(("docs/settings.md", name, value))
    for name, var in json.loads((ROOT / "app.json").read_text())["env"].items():
        if match := re.search(r"\(default ([^,;:)]+)|Default: ([^.,;:]+)", var["description"]):
            documented.append(("app.json", name, match[1] or match[2]))
    example = re.findall(r"^#? ?([A-Z_]+)=(\S*)", (ROOT / ".env.example").read_text(), re.MULTILINE)
    assert len({name for name, _ in example}) == len(example), "a setting appears twice in .env.example"
    page_defaults = {name: literal(cell) for name, cell in documented_settings().items()}
    for name, value in example:
        if page_defaults.get(name) is not None:
            documented.append((".env.example", name, value))
    assert len(documented) > 20
    for where, name, value in documented:
        if name in BASE_ENVIRON:
            continue
        assert Settings.from_env({**BASE_ENVIRON, name: value}) == defaults, f"{where}: {name}={value}"


def test_manifest_defines_the_shortcut_command_and_events_the_bot_handles() -> None:
    """What the listeners wait for is what Slack is told to send, all to the one events URL."""
    from bot.app.interactivity import CATCHUP_COMMAND, SUMMARIZE_THREAD

    data: Any = manifest()
    assert [(s["type"], s["callback_id"]) for s in data["features"]["shortcuts"]] == [("message", SUMMARIZE_THREAD)]
    [command] = data["features"]["slash_commands"]
    assert command["command"] == CATCHUP_COMMAND
    events = set(data["settings"]["event_subscriptions"]["bot_events"])
    assert events == {
        "app_home_opened",
        "app_mention",
        "message.channels",
        "message.groups",
        "message.im",
        "message.mpim",
    }
    assert data["settings"]["interactivity"]["is_enabled"] is True
    assert data["features"]["app_home"]["home_tab_enabled"] is True
    urls = {command["url"], data["settings"]["interactivity"]["request_url"]}
    assert urls == {data["settings"]["event_subscriptions"]["request_url"]}
