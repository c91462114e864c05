"""A Slack thread as the model should see it: alternating user and assistant turns, people named."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.files.attachments import Attachment
from bot.model.messages import ChatMessage
from bot.slack.messages import ThreadMessage


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
    attachments: Mapping[str, Attachment] | None = None,
) -> list[ChatMessage]:
    """The system prompt, then one message per thread message, oldest first.

    `attachments` (by message ts) add what was read from a message's files and links, and its images.

    People's messages are prefixed with the speaker's name, since several people may share a thread.
    Kept one per thread message so trimming can drop the oldest; `alternate` then joins them into turns.
    """
    messages = [ChatMessage("system", system_prompt)]
    for message in thread:
        content = message.readable(bot_user_id, names)
        attached = (attachments or {}).get(message.ts)
        if attached is not None and not message.by_this_bot:
            content = f"{content}\n\n{attached.text}".lstrip("\r\n")
        elif message.file_names:
            content = f"{content}\n[attached, not read: {', '.join(message.file_names)}]".lstrip("\r\n")
        if not content.strip():
            continue
        if message.by_this_bot:
            messages.append(ChatMessage("assistant", content))
        else:
            speaker = names.get(message.author_id, message.author_id)
            images = attached.images if attached is not None else ()
            messages.append(ChatMessage("user", f"{speaker}: {content}", images))
    return messages


def alternate(messages: Sequence[ChatMessage]) -> list[ChatMessage]:
    """Joins consecutive messages of one role, and starts with a user turn, as chat models expect."""
    system, *rest = messages
    turns: list[ChatMessage] = []
    for message in rest:
        if turns and turns[-1].role == message.role:
            joined = f"{turns[-1].content}\n\n{message.content}"
            turns[-1] = ChatMessage(message.role, joined, turns[-1].images + message.images)
        elif turns or message.role == "user":
            turns.append(message)
    return [system, *turns]
