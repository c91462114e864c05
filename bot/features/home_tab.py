"""The App Home tab: what the bot is, how to use it, which model answers, and where; for admins, more.

The admin section is made of parts (usage, ...), each an async function returning its blocks, read
when an admin opens the tab; a part handles its own failures (it shows what it could not read).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Sequence
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


def home_view(model_id: str, allowed_channels: Collection[str], admin_blocks: Sequence[Block] = ()) -> dict[str, Any]:
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
                "• *In a thread*: mention me again to follow up; I read the whole thread, "
                "including what others wrote.\n"
                "• *In a DM*: just write. Each message starts a conversation; reply in its thread to go on."
            ),
            section(f"*Where*\n{where}"),
            section(
                "*Channel instructions*\nAdd a line starting with `Assistant:` to a channel's description "
                "(e.g. `Assistant: answer in French`) and I'll follow it in that channel."
            ),
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Model: `{model_id}`"}]},
            *admin_blocks,
        ],
    }
