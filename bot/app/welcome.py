"""GET /: where the Heroku button lands the deployer. It says the mode, which settings are set (by name
only: never a value, nor a token's prefix), the exact Request URL to paste into Slack, and the next steps.

The page is public, so everything on it is escaped and nothing on it is secret.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape

from bot.settings import SIGNING_SECRET_WHERE, Settings

# A Host header as a browser sends it (name or address, optional port); anything else is not echoed.
HOST = re.compile(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")
EXAMPLE_HOST = "YOUR-HEROKU-APP.herokuapp.com"


@dataclass(frozen=True)
class SettingState:
    name: str
    is_set: bool
    # What the bot does without it; empty for a setting it cannot run without.
    unset_means: str = ""


def setting_states(settings: Settings) -> list[SettingState]:
    """The settings a deployer looks for first, in the order they set them."""
    http = not settings.socket_mode
    return [
        SettingState("SLACK_BOT_TOKEN", bool(settings.slack_bot_token)),
        SettingState("SLACK_SIGNING_SECRET", bool(settings.slack_signing_secret), "" if http else "not needed"),
        SettingState("SLACK_APP_TOKEN", settings.socket_mode, "HTTP mode (Slack sends events to the Request URL)"),
        SettingState("INFERENCE_URL", bool(settings.inference_url)),
        SettingState("INFERENCE_KEY", bool(settings.inference_key)),
        SettingState("INFERENCE_MODEL_ID", bool(settings.inference_model_id)),
        SettingState("REDIS_URL", bool(settings.redis_url), "one process, its state kept in memory"),
        SettingState("ALLOWED_CHANNELS", bool(settings.allowed_channels), "answers in every channel it is in"),
        SettingState("ADMIN_USER_IDS", bool(settings.admin_user_ids), "nobody sees usage in the Home tab"),
        SettingState("DAILY_TOKENS_PER_PERSON", settings.daily_tokens_per_person is not None, "no daily limit"),
        SettingState("DAILY_TOKENS_PER_CHANNEL", settings.daily_tokens_per_channel is not None, "no daily limit"),
    ]


def request_url(host: str, forwarded_proto: str | None, scheme: str, path: str) -> str:
    """The URL Slack reaches this app at: Heroku's router ends TLS and says so in X-Forwarded-Proto."""
    proto = (forwarded_proto or "").split(",")[0].strip().lower()
    if proto not in ("http", "https"):
        proto = scheme
    if not HOST.fullmatch(host):
        host, proto = EXAMPLE_HOST, "https"
    return f"{proto}://{host}{path}"


def welcome_page(settings: Settings, url: str, version: str) -> str:
    rows = "\n".join(_row(state) for state in setting_states(settings))
    if settings.socket_mode:
        mode = "Socket Mode: the bot connects to Slack itself, so Slack needs no Request URL."
        steps = SOCKET_MODE_STEPS
    else:
        mode = "HTTP: Slack sends every event, shortcut, button and <code>/catchup</code> to the Request URL."
        steps = HTTP_STEPS.format(url=escape(url))
    return PAGE.format(version=escape(version), mode=mode, steps=steps, rows=rows)


def _row(state: SettingState) -> str:
    if state.is_set:
        shown = "set"
    elif state.unset_means:
        shown = f"not set: {escape(state.unset_means)}"
    else:
        shown = "<strong>missing</strong>"
    return f"<tr><td><code>{escape(state.name)}</code></td><td>{shown}</td></tr>"


HTTP_STEPS = f"""<h2>Request URL</h2>
<p>Paste this into your Slack app, at <a href="https://api.slack.com/apps">api.slack.com/apps</a>:</p>
<p><code class="url">{{url}}</code></p>
<h2>Next steps</h2>
<ol>
<li>No Slack app yet? <em>Create New App → From a manifest</em>, paste <code>manifest.yml</code> with
<code>https://{EXAMPLE_HOST}/slack/events</code> replaced by the URL above in its three places, then set
<code>SLACK_BOT_TOKEN</code> and <code>SLACK_SIGNING_SECRET</code> from it
(<code>heroku config:set -a $APP_NAME SLACK_BOT_TOKEN=… SLACK_SIGNING_SECRET=…</code>).</li>
<li><em>Event Subscriptions</em>: paste the URL as the Request URL and wait for <em>Verified</em>. If it does not
verify, copy <code>SLACK_SIGNING_SECRET</code> again from <em>{SIGNING_SECRET_WHERE}</em>
(the app's log names it when a signature fails).</li>
<li><em>Interactivity &amp; Shortcuts</em> and <em>Slash Commands → /catchup</em>: the same URL.</li>
<li><em>Install App</em>: install (or reinstall) the app to your workspace.</li>
<li>In Slack, <code>/invite</code> the bot to a channel and mention it, or send it a DM.</li>
</ol>"""

SOCKET_MODE_STEPS = """<h2>Next steps</h2>
<ol>
<li><em>Install App</em>: install (or reinstall) the app to your workspace.</li>
<li>In Slack, <code>/invite</code> the bot to a channel and mention it, or send it a DM.</li>
</ol>"""

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Slack Thread Assistant</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; }}
code.url {{ display: block; padding: .6rem; background: #f4f4f4; user-select: all; word-break: break-all; }}
td {{ padding: .15rem 1rem .15rem 0; vertical-align: top; }}
</style>
</head>
<body>
<h1>The Slack Thread Assistant is running</h1>
<p>Version {version}. Mode: {mode}</p>
{steps}
<h2>Settings</h2>
<table>
{rows}
</table>
<p><code>heroku run -a $APP_NAME python -m bot check</code> tries each setting and connection and says how
to fix what fails.</p>
</body>
</html>
"""
