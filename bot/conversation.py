"""A Slack thread as the model should see it: alternating user and assistant turns, people named."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.model_client import ChatMessage

USER_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
CHANNEL_MENTION = re.compile(r"<#([CG][A-Z0-9]+)(?:\|([^>]*))?>")
SPECIAL_MENTION = re.compile(r"<!(here|channel|everyone)(?:\|[^>]*)?>")
GROUP_MENTION = re.compile(r"<!subteam\^[A-Z0-9]+(?:\|([^>]*))?>")
LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|([^>]*))?>")

# Subtypes that carry something a person said; every other subtype (joins, edits, topic changes, ...)
# is not part of the conversation.
SPOKEN_SUBTYPES = frozenset({None, "bot_message", "thread_broadcast", "file_share", "me_message"})


@dataclass(frozen=True)
class BotIdentity:
    """Who the bot is in this workspace, from `auth.test`."""

    user_id: str
    bot_id: str


@dataclass(frozen=True)
class ThreadMessage:
    ts: str
    author_id: str
    text: str
    by_this_bot: bool
    by_a_person: bool
    file_names: tuple[str, ...] = ()

    @classmethod
    def from_slack(cls, raw: Mapping[str, Any], identity: BotIdentity) -> ThreadMessage | None:
        """None for messages that are not speech (joins, edits, deletions, ...)."""
        if raw.get("subtype") not in SPOKEN_SUBTYPES or raw.get("hidden"):
            return None
        bot_id = raw.get("bot_id")
        user = raw.get("user")
        by_this_bot = user == identity.user_id or (bot_id is not None and bot_id == identity.bot_id)
        by_a_person = bot_id is None and raw.get("subtype") != "bot_message" and user is not None
        bot_name = (raw.get("bot_profile") or {}).get("name") or raw.get("username") or bot_id or "a bot"
        files = raw.get("files") or []
        return cls(
            ts=str(raw.get("ts", "")),
            author_id=str(user if by_a_person else bot_name),
            text=str(raw.get("text") or ""),
            by_this_bot=by_this_bot,
            by_a_person=by_a_person,
            file_names=tuple(str(item.get("name") or "file") for item in files if isinstance(item, dict)),
        )


def mentions_bot(text: str, bot_user_id: str) -> bool:
    return any(match.group(1) == bot_user_id for match in USER_MENTION.finditer(text))


def user_ids_in(messages: Iterable[ThreadMessage]) -> set[str]:
    """People whose names the conversation needs: the speakers and everyone mentioned."""
    ids: set[str] = set()
    for message in messages:
        if message.by_a_person:
            ids.add(message.author_id)
        ids.update(USER_MENTION.findall(message.text))
    return ids


def plain_text(text: str, bot_user_id: str, names: Mapping[str, str]) -> str:
    """Slack's message markup → plain text: the bot's mention dropped, others turned into names."""

    def user(match: re.Match[str]) -> str:
        user_id = match.group(1)
        return "" if user_id == bot_user_id else "@" + names.get(user_id, user_id)

    def link(match: re.Match[str]) -> str:
        url, label = match.group(1), match.group(2)
        if url.startswith("mailto:"):
            return label or url.removeprefix("mailto:")
        return f"[{label}]({url})" if label and label != url else url

    text = USER_MENTION.sub(user, text)
    text = CHANNEL_MENTION.sub(lambda match: "#" + (match.group(2) or match.group(1)), text)
    text = SPECIAL_MENTION.sub(lambda match: "@" + match.group(1), text)
    text = GROUP_MENTION.sub(lambda match: match.group(1) or "@group", text)
    text = LINK.sub(link, text)
    text = html.unescape(text)
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def history_for(thread: Sequence[ThreadMessage], question: ThreadMessage) -> list[ThreadMessage]:
    """What the model sees to answer `question`: the thread up to it, with the question last.

    The bot's own replies posted after the question answered earlier turns (turns are answered in
    order), so they come before it; anything people wrote after the question is left out.
    """
    before = [message for message in thread if float(message.ts) < float(question.ts)]
    answers_since = [message for message in thread if float(message.ts) > float(question.ts) and message.by_this_bot]
    return [*before, *answers_since, question]


def build_conversation(
    thread: Sequence[ThreadMessage],
    *,
    bot_user_id: str,
    names: Mapping[str, str],
    system_prompt: str,
) -> list[ChatMessage]:
    """The system prompt, then one message per thread message, oldest first.

    People's messages are prefixed with the speaker's name, since several people may share a thread.
    Kept one per thread message so trimming can drop the oldest; `alternate` then joins them into turns.
    """
    messages = [ChatMessage("system", system_prompt)]
    for message in thread:
        content = plain_text(message.text, bot_user_id, names)
        if message.file_names:
            content = f"{content}\n[attached, not read: {', '.join(message.file_names)}]".strip()
        if not content:
            continue
        if message.by_this_bot:
            messages.append(ChatMessage("assistant", content))
        else:
            messages.append(ChatMessage("user", f"{names.get(message.author_id, message.author_id)}: {content}"))
    return messages


def alternate(messages: Sequence[ChatMessage]) -> list[ChatMessage]:
    """Joins consecutive messages of one role, and starts with a user turn, as chat models expect."""
    system, *rest = messages
    turns: list[ChatMessage] = []
    for message in rest:
        if turns and turns[-1].role == message.role:
            turns[-1] = ChatMessage(message.role, f"{turns[-1].content}\n\n{message.content}")
        elif turns or message.role == "user":
            turns.append(message)
    return [system, *turns]
