"""What a Slack call can fail with, and one name for each failure in logs and decisions."""

from __future__ import annotations

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError

# What a Slack call can end in once the SDK's own retries are spent.
SLACK_FAILURES = (SlackClientError, aiohttp.ClientError, TimeoutError)
# The name of a Slack answer that was not Slack's JSON (an HTML 5xx page, a proxy's page).
NOT_SLACK_JSON = "not_slack_json"


def slack_error_code(error: SlackApiError) -> str | None:
    """Slack's error code (`not_allowed`, ...); None when the body was not Slack's JSON (an HTML 5xx page)."""
    data = getattr(error.response, "data", error.response)
    return str(data.get("error")) if isinstance(data, dict) else None


def error_name(error: BaseException) -> str:
    """Slack's error code for a refused call (`not_in_channel`), else the failure's type (`TimeoutError`)."""
    if isinstance(error, SlackApiError):
        return slack_error_code(error) or NOT_SLACK_JSON
    return type(error).__name__
