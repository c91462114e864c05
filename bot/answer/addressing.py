"""Whether a message without a mention is meant for the bot: a rule over the event and what the bot already
knows of the thread, with no model call and no Slack call.

In a channel thread the bot has answered in (reply mode `thread` or `help`), a person's message is answered
without a mention when all of these hold:
1. the thread is not muted (a mention that says only "stop", or *Stop following*, mutes it until the next
   mention);
2. it mentions nobody else: no person, no user group, no `@here`, `@channel` or `@everyone`;
3. it is more than an acknowledgement ("thanks!", "ok", "got it", an emoji, `<3`, `+1`); a message
   with a file is more;
4. the sender has asked the bot something in this thread before (with a mention, or as the thread's first
   question): others who join in talk to the people there until they mention the bot;
5. it answers the bot: the thread's previous message is the bot's, or the sender's own message that was
   itself meant for the bot (a follow-up typed in two messages). After another person's message, people are
   talking to each other, and the bot stays quiet.
In reply mode `help`, a person's new top-level message is answered too, unless it mentions someone else or
is only an acknowledgement or a greeting. In mode `mention`, only mentions are answered. DMs are answered
as always.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import asdict, dataclass
from enum import StrEnum

from bot.slack.messages import USER_MENTION

# `<!subteam^S123>`, `<!here>`, `<!channel>`, `<!everyone>`, with or without a label.
GROUP_MENTION = re.compile(r"<!(?:subteam\^[A-Z0-9]+|here|channel|everyone)(?:\|[^>]*)?>")
EMOJI_CODE = re.compile(r":[a-z0-9_+'-]+:")
# Emoji typed as text, standing alone: `<3`, `+1`, `:D`, `:p`, `xD` (after Slack's escapes are undone).
TEXT_EMOJI = re.compile(r"(?<!\S)(?:<3+|\+1|[:;=]-?[dpo3]|xd)(?!\S)")
SLACK_ESCAPES = re.compile(r"&(amp|lt|gt);")
UNESCAPED = {"amp": "&", "lt": "<", "gt": ">"}
ACKNOWLEDGEMENTS = frozenset(
    {
        "thanks",
        "thank you",
        "thanks a lot",
        "thanks so much",
        "thank you so much",
        "many thanks",
        "thx",
        "ty",
        "tysm",
        "cheers",
        "ok",
        "okay",
        "ok thanks",
        "okay thanks",
        "k",
        "kk",
        "cool",
        "cool thanks",
        "great",
        "great thanks",
        "nice",
        "perfect",
        "awesome",
        "got it",
        "got it thanks",
        "makes sense",
        "sounds good",
        "will do",
        "lol",
        "haha",
        "np",
        "noted",
        "done",
        "works",
        "that works",
        "it works",
    }
)
# An acknowledgement in other words: only these words, with at least one thanks or okay among them.
THANKS_AND_OKAYS = frozenset(
    [
        "thanks",
        "thank",
        "thx",
        "ty",
        "tysm",
        "cheers",
        "ok",
        "okay",
        "cool",
        "great",
        "nice",
        "perfect",
        "awesome",
        "noted",
        "lol",
        "haha",
        "brilliant",
    ]
)
ACKNOWLEDGING_WORDS = THANKS_AND_OKAYS | frozenset(
    [
        "you",
        "so",
        "much",
        "a",
        "lot",
        "very",
        "many",
        "again",
        "all",
        "everyone",
        "folks",
        "team",
        "guys",
        "really",
        "super",
        "got",
        "it",
        "that",
        "works",
        "makes",
        "sense",
    ]
)
GREETINGS = frozenset({"hi", "hello", "hey", "hi all", "hello all", "hey all", "morning", "good morning"})
MAX_ASKERS = 20
STOP_WORDS = frozenset({"stop", "stop following", "stop following this thread"})


class ReplyMode(StrEnum):
    """Per channel (CHANNEL_MODES, DEFAULT_REPLY_MODE): when the bot answers without a mention."""

    MENTION = "mention"
    THREAD = "thread"
    HELP = "help"


@dataclass(frozen=True)
class ThreadState:
    """What the bot knows of a channel thread without asking Slack, kept in the store."""

    answered: bool = False
    muted: bool = False
    last_author: str = ""
    # Whether the thread's latest message was meant for the bot (its own answers count as meant for it).
    last_for_bot: bool = False
    # Who has asked the bot something in the thread, the most recent last.
    askers: tuple[str, ...] = ()

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    def with_asker(self, person: str) -> tuple[str, ...]:
        return (*(asker for asker in self.askers if asker != person), person)[-MAX_ASKERS:]

    @classmethod
    def from_json(cls, text: str | None) -> ThreadState:
        try:
            data = json.loads(text or "{}")
        except json.JSONDecodeError:
            return cls()
        if not isinstance(data, dict):
            return cls()
        return cls(
            answered=data.get("answered") is True,
            muted=data.get("muted") is True,
            last_author=str(data.get("last_author") or ""),
            last_for_bot=data.get("last_for_bot") is True,
            askers=tuple(str(asker) for asker in data.get("askers") or () if isinstance(asker, str)),
        )


def words_of(text: str, bot_user_id: str) -> str:
    """The message as words: the bot's mention, emoji, punctuation and case taken out."""
    if "<@" in text:  # RE2, called only where it may match (bot/slack/messages.py)
        text = USER_MENTION.sub(lambda match: "" if match.group(1) == bot_user_id else match.group(0), text)
    text = SLACK_ESCAPES.sub(lambda match: UNESCAPED[match.group(1)], text)
    text = TEXT_EMOJI.sub(" ", EMOJI_CODE.sub(" ", text.lower()))
    kept = "".join(
        character if character.isalnum() or character.isspace() else " "
        for character in unicodedata.normalize("NFKC", text)
        if unicodedata.category(character) not in ("So", "Sk", "Cf")
    )
    return " ".join(kept.split())


def mentions_someone_else(text: str, bot_user_id: str) -> bool:
    people = {match.group(1) for match in USER_MENTION.finditer(text)} if "<@" in text else set()
    return bool(people - {bot_user_id}) or GROUP_MENTION.search(text) is not None


def is_acknowledgement(text: str, bot_user_id: str) -> bool:
    """Only thanks, an okay or an emoji: nothing to answer."""
    words = words_of(text, bot_user_id)
    if not words or words in ACKNOWLEDGEMENTS:
        return True
    each = set(words.split())
    return each <= ACKNOWLEDGING_WORDS and bool(each & THANKS_AND_OKAYS)


def says_stop(text: str, bot_user_id: str) -> bool:
    """A mention that says only "stop" (or "stop following"): the thread is muted."""
    return words_of(text, bot_user_id) in STOP_WORDS


def follow_up_is_for_bot(
    text: str, sender: str, bot_user_id: str, state: ThreadState, *, has_files: bool = False
) -> bool:
    """Rules 1 to 5 of the module docstring, for a person's message in a channel thread. A shared file is more
    than an acknowledgement, with or without words (the log or screenshot the bot asked for)."""
    if not state.answered or state.muted or sender not in state.askers:
        return False
    if mentions_someone_else(text, bot_user_id):
        return False
    if not has_files and is_acknowledgement(text, bot_user_id):
        return False
    return state.last_author == bot_user_id or (state.last_author == sender and state.last_for_bot)


def new_message_is_a_question(text: str, bot_user_id: str) -> bool:
    """In a help channel: a person's top-level message that asks something."""
    if mentions_someone_else(text, bot_user_id) or is_acknowledgement(text, bot_user_id):
        return False
    return words_of(text, bot_user_id) not in GREETINGS
