"""The App Home tab: what the bot is, how to use it, which model answers, and where; for admins, more.

The admin section is made of parts (usage, ...), each an async function returning its blocks, read
when an admin opens the tab; a part handles its own failures (it shows what it could not read).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import Any

Block = dict[str, Any]
AdminPart = Callable[[], Awaitable[list[Block]]]


async def admin_section(parts: Sequence[AdminPart]) -> list[Block]:
    """The blocks under the public part of the tab, for ADMIN_USER_IDS only."""
    if not parts:
        return []
    header = {"type": "header", "text": {"type": "plain_text", "text": "For admins"}}
    blocks: list[Block] = [{"type": "divider"}, header]
    # Read at once: the tab waits for the slowest part, not for their sum.
    for part_blocks in await asyncio.gather(*(part() for part in parts)):
        blocks.extend(part_blocks)
    return blocks


MODE_WORDS = {
    "mention": "only when mentioned",
    "thread": "follow-ups in threads I've answered in, without a mention",
    "help": "every new question, and follow-ups, without a mention (a help channel)",
}


def home_view(
    model_id: str,
    allowed_channels: Collection[str],
    admin_blocks: Sequence[Block] = (),
    *,
    default_mode: str = "thread",
    channel_modes: Mapping[str, str] | None = None,
    channel_models: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    if allowed_channels:
        where = "I answer in " + ", ".join(f"<#{channel}>" for channel in sorted(allowed_channels)) + ", and in DMs."
    else:
        where = "I answer in every channel I'm invited to (`/invite @me`), and in DMs."

    def section(text: str) -> dict[str, Any]:
        return {"type": "section", "text": {"type": "mrkdwn", "text": text}}

    return {
        "type": "home",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Your team's AI assistant"}},
            section("I answer questions in Slack threads, with the whole thread as context."),
            {"type": "divider"},
            section(
                "*How to ask*\n"
                "• *In a channel*: mention me, e.g. `@assistant what does this error mean?` "
                "I answer in the thread.\n"
                + _thread_line(default_mode)
                + "• *In a DM*: just write. Each message starts a conversation; reply in its thread to go on."
            ),
            section(f"*Where*\n{where}"),
            section(_modes_text(default_mode, channel_modes or {})),
            section(
                "*Channel instructions*\nAdd a line starting with `Assistant:` to a channel's description "
                "(e.g. `Assistant: answer in French`) and I'll follow it in that channel."
            ),
            {"type": "context", "elements": [{"type": "mrkdwn", "text": _models_text(model_id, channel_models or {})}]},
            *admin_blocks,
        ],
    }


def _thread_line(default_mode: str) -> str:
    if default_mode == "mention":
        return "• *In a thread*: mention me again to follow up; I read the whole thread, including what others wrote.\n"
    return (
        "• *In a thread*: once I've answered, just reply; I answer what's meant for me, not thanks or "
        "people talking to each other. Say `@me stop` (or *Stop following*) and I'll stay quiet there.\n"
    )


def _modes_text(default_mode: str, channel_modes: Mapping[str, str]) -> str:
    lines = [f"*When I answer*\nIn channels: {MODE_WORDS.get(default_mode, default_mode)}."]
    lines += [f"• <#{channel}>: {MODE_WORDS.get(mode, mode)}" for channel, mode in sorted(channel_modes.items())]
    return "\n".join(lines)


def _models_text(model_id: str, channel_models: Mapping[str, str]) -> str:
    own = "; ".join(f"<#{channel}> uses `{model}`" for channel, model in sorted(channel_models.items()))
    return f"Model: `{model_id}`" + (f"; {own}" if own else "")
