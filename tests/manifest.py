"""The app's manifest.yml, as a deployer gives it to Slack."""

from __future__ import annotations

import yaml

from tests.bot_process import ROOT


def manifest() -> dict[str, object]:
    return yaml.safe_load((ROOT / "manifest.yml").read_text())  # type: ignore[no-any-return]
