"""Slack's messages, read without Slack: who the bot is, a thread's messages and files, mentions, plain text."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bot import linear_regex
from bot.linear_regex import Match, Pattern

USER_MENTION = linear_regex.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
# Slack's markup in a message's `text`: `<...>` (mentions, links, dates) and the three characters it escapes.
# Everything else, whitespace included, is what the person typed.
MARKUP = linear_regex.compile(r"<([^<>\n]*)>|&(amp|lt|gt);")
ESCAPED = {"amp": "&", "lt": "<", "gt": ">"}

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
    """One message of a thread. `text` is Slack markup (`<@U…>`, `<url|label>`, `&amp;` `&lt;` `&gt;`) when
    `markup` is true, as in a message's `text` field; else Markdown exactly as written (a `markdown` block)."""

    ts: str
    author_id: str
    text: str
    by_this_bot: bool
    by_a_person: bool
    file_names: tuple[str, ...] = ()
    markup: bool = True

    @classmethod
    def from_slack(cls, raw: Mapping[str, Any], identity: BotIdentity) -> ThreadMessage | None:
        """None for messages that are not speech (joins, edits, deletions, ...).

        `raw` is a message as `slack_thread.compact` keeps it: a `markdown` field holds the Markdown source
        of the message's `markdown` blocks, which Slack does not escape.
        """
        if raw.get("subtype") not in SPOKEN_SUBTYPES or raw.get("hidden"):
            return None
        bot_id = raw.get("bot_id")
        user = raw.get("user")
        by_this_bot = user == identity.user_id or (bot_id is not None and bot_id == identity.bot_id)
        by_a_person = bot_id is None and raw.get("subtype") != "bot_message" and user is not None
        bot_name = (raw.get("bot_profile") or {}).get("name") or raw.get("username") or bot_id or "a bot"
        files = raw.get("files") or []
        markdown = raw.get("markdown")
        return cls(
            ts=str(raw.get("ts", "")),
            author_id=str(user if by_a_person else bot_name),
            text=str(markdown if markdown is not None else raw.get("text") or ""),
            by_this_bot=by_this_bot,
            by_a_person=by_a_person,
            file_names=tuple(str(item.get("name") or "file") for item in files if isinstance(item, dict)),
            markup=markdown is None,
        )

    def readable(self, bot_user_id: str, names: Mapping[str, str]) -> str:
        """The text as the model should read it: Slack's markup translated, Markdown left as written."""
        return plain_text(self.text, bot_user_id, names) if self.markup else self.text


def is_direct_message(channel: str) -> bool:
    """A DM between one person and the bot: Slack's DM channel ids, and only theirs, start with D."""
    return channel.startswith("D")


def mentions_bot(text: str, bot_user_id: str) -> bool:
    # Each pattern here runs only where the text holds what its match starts with: an RE2 call lets go of
    # the GIL, and getting it back may wait for another thread's turn (bot/safe_text.py).
    return f"<@{bot_user_id}" in text and any(match.group(1) == bot_user_id for match in USER_MENTION.finditer(text))


def user_ids_in(messages: Iterable[ThreadMessage]) -> set[str]:
    """People whose names the conversation needs: the speakers and everyone mentioned."""
    ids: set[str] = set()
    for message in messages:
        if message.by_a_person:
            ids.add(message.author_id)
        if message.markup and "<@" in message.text:
            ids.update(USER_MENTION.findall(message.text))
    return ids


def plain_text(text: str, bot_user_id: str, names: Mapping[str, str]) -> str:
    """Slack's message markup → plain text: the bot's mention dropped, others turned into names.

    Only the markup is translated, in one pass, so `&amp;lt;` (a person typing `&lt;`) comes out as `&lt;`.
    Spaces, tabs, line ends and any Unicode are kept exactly: code keeps its indentation.
    """

    def translate(match: Match) -> str:
        if match.group(2):
            return ESCAPED[match.group(2)]
        return _markup(match.group(1), names) or match.group(0)

    if bot_user_id and f"<@{bot_user_id}" in text:
        text = _without_mention(text, _mention_of(bot_user_id))
    if "<" in text or "&" in text:
        text = MARKUP.sub(translate, text)
    return _without_blank_edges(text)


@functools.lru_cache(maxsize=16)
def _mention_of(user_id: str) -> Pattern:
    return linear_regex.compile(rf"<@{linear_regex.escape(user_id)}(?:\|[^>]*)?>")


def _without_blank_edges(text: str) -> str:
    """Drops blank lines before the first line and after the last; that line's own spaces stay (indentation).

    (String methods, not a pattern: a pattern anchored at the end rescans a long run of blank lines.)
    """
    body = text.lstrip(" \t\r\n")
    text = text[text.rfind("\n", 0, len(text) - len(body)) + 1 :]
    body = text.rstrip(" \t\r\n")
    ends = [index for index in (text.find("\r", len(body)), text.find("\n", len(body))) if index >= 0]
    return text[: min(ends)] if ends else text


def _without_mention(text: str, mention: Pattern) -> str:
    """Drops a mention with the spaces around it: one space stays between two words, none at a line's edge.

    (Split, not one pattern with the spaces in it: that would scan a long run of spaces once per space.)
    """
    pieces = mention.split(text)
    kept: list[str] = []
    for index, piece in enumerate(pieces):
        if index > 0:
            piece = piece.lstrip(" \t")
        if index < len(pieces) - 1:
            piece = piece.rstrip(" \t")
        if not piece:
            continue
        if kept and kept[-1][-1] not in "\r\n" and piece[0] not in "\r\n":
            kept.append(" ")
        kept.append(piece)
    return "".join(kept)


def _unescape(text: str) -> str:
    return MARKUP.sub(lambda match: ESCAPED[match.group(2)] if match.group(2) else match.group(0), text)


def _markup(inner: str, names: Mapping[str, str]) -> str | None:
    """One `<...>` of Slack markup as readable text; None when it is none Slack writes."""
    target, _, label = inner.partition("|")
    label = _unescape(label)
    if target.startswith("@") and target[1:2] in ("U", "W"):
        return "@" + names.get(target[1:], target[1:])
    if target.startswith("#") and target[1:2] in ("C", "G"):
        return "#" + (label or target[1:])
    if target in ("!here", "!channel", "!everyone"):
        return "@" + target[1:]
    if target.startswith("!subteam^"):
        return label or "@group"
    if target.startswith("!date^"):
        return label or None
    url = _unescape(target)
    if target.startswith("mailto:"):
        return label or url.removeprefix("mailto:")
    if "://" in target:
        # A link Slack made of what the person typed (`x.io`) reads as typed; a labelled one as Markdown.
        if not label or label in (url, url.split("://", 1)[1]):
            return label or url
        return f"[{label}]({url})"
    return None


@dataclass(frozen=True)
class SlackFile:
    """The parts of Slack's file object the bot uses (https://docs.slack.dev/reference/objects/file-object)."""

    id: str
    name: str
    mimetype: str = ""
    filetype: str = ""
    size: int | None = None
    url: str = ""
    mode: str = ""
    access: str = ""

    @classmethod
    def from_slack(cls, raw: Mapping[str, Any]) -> SlackFile:
        size = raw.get("size")
        return cls(
            id=str(raw.get("id") or raw.get("name") or "file"),
            name=str(raw.get("name") or raw.get("title") or f"file {raw.get('id') or ''}".strip()),
            mimetype=str(raw.get("mimetype") or "").lower(),
            filetype=str(raw.get("filetype") or "").lower(),
            size=size if isinstance(size, int) else None,
            url=str(raw.get("url_private_download") or raw.get("url_private") or ""),
            mode=str(raw.get("mode") or ""),
            access=str(raw.get("file_access") or ""),
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "mimetype": self.mimetype,
            "filetype": self.filetype,
            "size": self.size,
            "url_private_download": self.url,
            "mode": self.mode,
            "file_access": self.access,
        }
