"""The tools one answer may use: the MCP servers' (kept current), Slack search where the event allows it,
and the asker's approval for actions."""

from __future__ import annotations

import logging

from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import Settings
from bot.slack.access import ConversationAccess
from bot.tools.approval import ApprovalDesk
from bot.tools.base import Approver, Tool, Toolbox
from bot.tools.mcp import McpTools
from bot.tools.search import SlackSearch

logger = logging.getLogger(__name__)


class ToolKit:
    def __init__(
        self,
        settings: Settings,
        slack: AsyncWebClient,
        access: ConversationAccess,
        desk: ApprovalDesk,
        mcp: McpTools,
    ) -> None:
        self.settings = settings
        self.slack = slack
        self.access = access
        self.desk = desk
        self.mcp = mcp
        # Off once Slack said this workspace or token lacks the search API.
        self.search_available = True

    async def for_question(
        self, *, channel: str, thread_ts: str, asker: str, action_token: str | None
    ) -> tuple[Toolbox, Approver]:
        tools: list[Tool] = list(await self.mcp.current())
        if action_token and self.search_available:
            audience = await self.access.audience(channel, asker)
            tools.append(SlackSearch(self.slack, self.access, audience, action_token, self._search_unavailable))
        toolbox = Toolbox(tools, secrets=self.settings.secrets, log_arguments=self.settings.log_message_content)
        return toolbox, self.desk.approver(channel, thread_ts, asker)

    def _search_unavailable(self) -> None:
        if self.search_available:
            logger.warning("Slack search is not available to this app; search_slack is no longer offered")
        self.search_available = False
