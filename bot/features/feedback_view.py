"""The feedback shown to admins in the Home tab: the week's answers and votes, and the most recent 👎."""

from __future__ import annotations

import asyncio
import logging

from slack_sdk.web.async_client import AsyncWebClient

from bot.answer.feedback import VIEW_DAYS, Downvote, Feedback, FeedbackReport
from bot.features.home_tab import AdminPart, Block
from bot.slack.errors import SLACK_FAILURES

logger = logging.getLogger(__name__)

# The admin's Home tab waits this long at most for the answer's permalink, then links the archive.
PERMALINK_SECONDS = 2.0
UNAVAILABLE = "Feedback can't be read right now (the store did not answer). Try again in a moment."


def feedback_part(feedback: Feedback, client: AsyncWebClient) -> AdminPart:
    """The admin Home tab's feedback section, read when an admin opens the tab."""

    async def blocks() -> list[Block]:
        report = await feedback.report()
        link = await _link(client, report.last_down) if report is not None and report.last_down else None
        return feedback_blocks(report, link)

    return blocks


async def _link(client: AsyncWebClient, downvote: Downvote) -> str:
    """The answer's permalink; if Slack cannot give one, its archive address (it opens the same message)."""
    try:
        async with asyncio.timeout(PERMALINK_SECONDS):
            response = await client.chat_getPermalink(channel=downvote.channel, message_ts=downvote.message_ts)
        return str(response["permalink"])
    except SLACK_FAILURES as error:
        logger.warning("no permalink for the last downvote; linking the archive", extra={"error": repr(error)})
    stamp = downvote.message_ts.replace(".", "")
    return f"https://slack.com/archives/{downvote.channel}/p{stamp}?thread_ts={downvote.thread_ts}"


def feedback_blocks(report: FeedbackReport | None, last_down_link: str | None) -> list[Block]:
    """Answers and votes of the last days, the share voted down, and where the most recent 👎 is."""
    title = _section(f"*Answers and feedback* (last {VIEW_DAYS} UTC days)")
    if report is None:
        return [title, _section(UNAVAILABLE)]
    share = "no answers yet" if report.down_share is None else f"{report.down_share:.0%} of answers"
    lines = [
        f"Answers: *{report.answers:,}*   👍 *{report.up:,}*   👎 *{report.down:,}*   "
        f"🙋 Called a human: *{report.escalations:,}*   Voted down: *{share}*"
    ]
    if report.last_down is not None and last_down_link:
        where = report.last_down.channel
        place = f"in <#{where}>" if where.startswith(("C", "G")) else "in a DM"
        lines.append(f"Most recent 👎: <{last_down_link}|this answer> {place}")
    else:
        lines.append("No 👎 in that time.")
    return [title, _section("\n".join(lines))]


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}
