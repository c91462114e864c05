"""Which question an answer answers, as Slack message metadata on the answer itself.

Every answer's last message carries `{"event_type": "thread_answer", "event_payload": {"question_ts": …}}`,
set by the call that completes it (chat.postMessage, chat.update or chat.stopStream take `metadata`;
chat.startStream does not, so a stream cut short carries none). `conversations.replies` returns it with
`include_all_metadata`, so whether a question was answered is known from Slack itself, whatever a store lost.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.errors import SLACK_FAILURES, error_name

logger = logging.getLogger(__name__)

ANSWER_EVENT = "thread_answer"
PAGE_SIZE = 200


def answer_metadata(question_ts: str) -> dict[str, Any]:
    return {"event_type": ANSWER_EVENT, "event_payload": {"question_ts": question_ts}}


def answers(message: dict[str, Any], question_ts: str) -> bool:
    """Whether `message` (as conversations.replies returns it) is a complete answer to `question_ts`."""
    metadata = message.get("metadata") or {}
    payload = metadata.get("event_payload") or {}
    return metadata.get("event_type") == ANSWER_EVENT and str(payload.get("question_ts")) == question_ts


async def answered_in_thread(client: AsyncWebClient, channel: str, thread_ts: str, question_ts: str) -> bool:
    """Whether the thread already holds a complete answer to the question. A thread that cannot be read
    counts as not answered: better an answer twice than none."""
    cursor: str | None = None
    try:
        while True:
            response = await client.conversations_replies(
                channel=channel,
                ts=thread_ts,
                oldest=question_ts,
                inclusive=True,
                include_all_metadata=True,
                limit=PAGE_SIZE,
                cursor=cursor,
            )
            if any(answers(message, question_ts) for message in response.get("messages") or []):
                return True
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not response.get("has_more") or not cursor:
                return False
    except SLACK_FAILURES as error:
        logger.warning("could not look for an earlier answer; answering", extra={"error": error_name(error)})
        return False
