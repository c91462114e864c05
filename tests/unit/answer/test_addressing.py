"""Which messages without a mention are meant for the bot: the rule of bot/answer/addressing.py, as a table of
real-looking threads. Each row: what the thread knows, who writes what next, and whether the bot answers."""

from __future__ import annotations

import pytest

from bot.answer.addressing import (
    ThreadState,
    follow_up_is_for_bot,
    is_acknowledgement,
    new_message_is_a_question,
    says_stop,
)

BOT = "UBOT"
# Alice asked the bot; it answered last.
BOT_ANSWERED_ALICE = ThreadState(answered=True, last_author=BOT, last_for_bot=True, askers=("UALICE",))

FOLLOW_UPS = [
    # (what happens, the thread, sender, text, answered?)
    ("the asker follows up", BOT_ANSWERED_ALICE, "UALICE", "and for staging?", True),
    ("the asker answers the bot's question", BOT_ANSWERED_ALICE, "UALICE", "yes, the EU region", True),
    ("the asker asks in code", BOT_ANSWERED_ALICE, "UALICE", "what about\n```\nkubectl get pods\n```", True),
    ("the asker thanks it", BOT_ANSWERED_ALICE, "UALICE", "thanks!", False),
    ("the asker says ok with an emoji", BOT_ANSWERED_ALICE, "UALICE", "ok :+1:", False),
    ("only an emoji", BOT_ANSWERED_ALICE, "UALICE", "🙏", False),
    ("the asker turns to a colleague", BOT_ANSWERED_ALICE, "UALICE", "<@UBOB> can you check this?", False),
    ("the asker pings a group", BOT_ANSWERED_ALICE, "UALICE", "<!subteam^S0ABC|oncall> FYI", False),
    ("the asker pings the channel", BOT_ANSWERED_ALICE, "UALICE", "<!here> heads up, deploy at 5", False),
    ("someone who never asked joins in", BOT_ANSWERED_ALICE, "UBOB", "Fridays do not work for me", False),
    (
        "the asker replies to a colleague who spoke after the bot",
        ThreadState(answered=True, last_author="UBOB", askers=("UALICE",)),
        "UALICE",
        "sure, Thursday then",
        False,
    ),
    (
        "the asker's second message right after their first follow-up",
        ThreadState(answered=True, last_author="UALICE", last_for_bot=True, askers=("UALICE",)),
        "UALICE",
        "I mean the worker, not the web dyno",
        True,
    ),
    (
        "a second asker follows up on their own answer",
        ThreadState(answered=True, last_author=BOT, last_for_bot=True, askers=("UALICE", "UBOB")),
        "UBOB",
        "and how long does it take?",
        True,
    ),
    (
        "a muted thread",
        ThreadState(answered=True, muted=True, last_author=BOT, last_for_bot=True, askers=("UALICE",)),
        "UALICE",
        "and for staging?",
        False,
    ),
    ("a thread the bot never answered in", ThreadState(), "UALICE", "and for staging?", False),
]


@pytest.mark.parametrize(
    ("state", "sender", "text", "answered"),
    [row[1:] for row in FOLLOW_UPS],
    ids=[row[0] for row in FOLLOW_UPS],
)
def test_a_follow_up_without_a_mention(state: ThreadState, sender: str, text: str, answered: bool) -> None:
    assert follow_up_is_for_bot(text, sender, BOT, state) is answered


NEW_MESSAGES = [
    ("a question", "How do I rotate the staging database password?", True),
    ("a request without a question mark", "need help with the VPN on my new laptop", True),
    ("a greeting", "Hi all!", False),
    ("thanks", "thanks everyone", False),
    ("someone else is asked", "<@UBOB> are you around?", False),
]


@pytest.mark.parametrize(("text", "answered"), [row[1:] for row in NEW_MESSAGES], ids=[row[0] for row in NEW_MESSAGES])
def test_a_new_message_in_a_help_channel(text: str, answered: bool) -> None:
    assert new_message_is_a_question(text, BOT) is answered


@pytest.mark.parametrize("text", ["<@UBOT> stop", "<@UBOT> Stop!", "stop following <@UBOT>", "<@UBOT>   STOP."])
def test_a_mention_that_says_only_stop_mutes(text: str) -> None:
    assert says_stop(text, BOT)


@pytest.mark.parametrize("text", ["<@UBOT> stop the staging worker", "<@UBOT> how do I stop a dyno?"])
def test_stop_inside_a_question_is_a_question(text: str) -> None:
    assert not says_stop(text, BOT)


@pytest.mark.parametrize("text", ["Thank you so much!!", "got it, thanks", "👍", "kk", "Perfect."])
def test_acknowledgements(text: str) -> None:
    assert is_acknowledgement(text, BOT)


def test_thread_state_survives_the_store_and_ignores_what_it_cannot_read() -> None:
    state = ThreadState(answered=True, muted=True, last_author="UALICE", last_for_bot=True, askers=("UALICE",))
    assert ThreadState.from_json(state.to_json()) == state
    assert ThreadState.from_json("not json") == ThreadState()
    assert ThreadState.from_json('["a list"]') == ThreadState()
