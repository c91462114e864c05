"""The agent tab (the app's Messages tab, `features.agent_view`): suggested prompts when a person opens it.

The prompts are a courtesy: where Slack refuses them (a workspace without the agent experience, an app
installed before `assistant:write` was added) the tab works without them, and the refusal is logged once
per process, not on every visit.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import notices
from bot.slack.errors import SLACK_FAILURES, slack_error_code
from bot.slack.reply import SlackCapabilities
from bot.suggested_prompts import SuggestedPrompt

logger = logging.getLogger(__name__)

METHOD = "assistant.threads.setSuggestedPrompts"


class SuggestedPrompts:
    def __init__(
        self, client: AsyncWebClient, prompts: Sequence[SuggestedPrompt], capabilities: SlackCapabilities
    ) -> None:
        self.client = client
        self.prompts = [prompt.as_json() for prompt in prompts]
        self.capabilities = capabilities
        self._refusals_logged: set[str] = set()

    async def offer(self, channel: str, user: str) -> None:
        """Sets the prompts in the person's agent tab (`channel`, their DM with the app).

        Under `agent_view` the call takes no `thread_ts`: with one, Slack silently ignores it.
        """
        if not self.prompts or not self.capabilities.allows(METHOD, channel):
            return
        try:
            await self.client.assistant_threads_setSuggestedPrompts(
                channel_id=channel, prompts=self.prompts, title=notices.SUGGESTED_PROMPTS_TITLE
            )
        except SlackApiError as error:
            code = slack_error_code(error) or "unreadable_error"
            self.capabilities.learn(METHOD, channel, error)
            if code not in self._refusals_logged:
                self._refusals_logged.add(code)
                logger.warning(
                    "suggested prompts refused; the agent tab works without them (logged once)",
                    extra={"error": code, "hint": "add the assistant:write scope and agent_view, then reinstall"},
                )
            return
        except SLACK_FAILURES as error:
            logger.warning("could not set suggested prompts", extra={"user": user, "error": repr(error)})
            return
        logger.info("suggested prompts set", extra={"user": user, "channel": channel})
