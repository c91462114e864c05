"""Fitting conversations to the input budget."""

from __future__ import annotations

import random
import re

import pytest

from bot.answer.conversation import history_for
from bot.answer.trimming import estimate_tokens, fit_to_budget
from bot.model.messages import ChatMessage
from bot.slack.messages import BotIdentity, ThreadMessage

MARKER = re.compile(r"\n\n\[… (\d+) characters left out here to fit the model's input limit …\]\n\n")
NOTE = re.compile(r"\n\n\((\d+) earlier messages of this thread were left out to fit the model's input limit\.\)$")

SYSTEM = ChatMessage("system", "Be helpful.")


def test_a_conversation_within_budget_is_unchanged() -> None:
    messages = [SYSTEM, ChatMessage("user", "hi")]
    assert fit_to_budget(messages, 1000) == messages


def test_oldest_messages_are_dropped_first_and_the_system_prompt_says_so() -> None:
    messages = [SYSTEM] + [ChatMessage("user", f"{index} " + "z" * 400) for index in range(20)]
    fitted = fit_to_budget(messages, 500)
    assert sum(estimate_tokens(message) for message in fitted) <= 500
    assert fitted[-1] == messages[-1]
    assert fitted[0].content.startswith("Be helpful.")
    note = NOTE.search(fitted[0].content)
    assert note is not None
    assert note[1] == "16"
    assert [message.content[:3] for message in fitted[1:]] == ["16 ", "17 ", "18 ", "19 "]


def test_a_newest_message_too_big_alone_keeps_its_start_and_end() -> None:
    question = ChatMessage("user", "BEGIN " + "y" * 50_000 + " END?")
    fitted = fit_to_budget([SYSTEM, question], 1000)
    assert sum(estimate_tokens(message) for message in fitted) <= 1000
    assert fitted[-1].content.startswith("BEGIN ")
    assert fitted[-1].content.endswith(" END?")
    assert "characters left out here" in fitted[-1].content


def test_history_puts_the_question_after_earlier_answers_and_drops_later_chatter() -> None:
    identity = BotIdentity("UBOT", "BBOT")

    def message(ts: str, user: str, text: str) -> ThreadMessage:
        raw = {"ts": ts, "user": user, "text": text, **({"bot_id": "BBOT"} if user == "UBOT" else {})}
        parsed = ThreadMessage.from_slack(raw, identity)
        assert parsed is not None
        return parsed

    first, question = message("1", "UALICE", "q1"), message("2", "UBOB", "q2")
    answer, later = message("3", "UBOT", "a1"), message("4", "UALICE", "after")
    assert [m.text for m in history_for([first, question, answer, later], question)] == ["q1", "a1", "q2"]


def test_a_system_prompt_bigger_than_the_budget_still_leaves_the_question_whole() -> None:
    question = ChatMessage("user", "Alice: what is 2 + 2?")
    fitted = fit_to_budget([ChatMessage("system", "Rules. " * 5000), question], 1000)
    assert fitted[-1] == question
    assert sum(estimate_tokens(message) for message in fitted) <= 1000
    assert fitted[0].content.startswith("Rules. ")
    assert MARKER.search(fitted[0].content)


def test_nothing_is_said_to_be_left_out_when_nothing_was() -> None:
    """A question too big alone is cut with its marker; no note claims that earlier messages were dropped."""
    question = ChatMessage("user", "q" * 20_000)
    fitted = fit_to_budget([SYSTEM, ChatMessage("assistant", "small answer"), question], 1000)
    assert fitted[0] == SYSTEM
    assert fitted[1].content == "small answer"
    assert MARKER.search(fitted[-1].content)


def _random_text(rng: random.Random) -> str:
    size = rng.choice([0, 1, 10, 100, 1000, 4000, 20_000, 100_000])
    return "".join(rng.choices("ab c\n\t€😀", k=rng.randint(size // 2, size) or 1))


def _restored(original: str, kept: str) -> bool:
    """Whether `kept` is `original` whole, or its start and end around a marker counting what is missing."""
    if kept == original:
        return True
    match = MARKER.search(kept)
    if match is None:
        return False
    head, tail = kept[: match.start()], kept[match.end() :]
    return (
        original.startswith(head) and original.endswith(tail) and len(head) + len(tail) + int(match[1]) == len(original)
    )


@pytest.mark.parametrize("seed", range(300))
def test_random_conversations_fit_and_say_only_what_happened(seed: int) -> None:
    """Any budget, any sizes: within budget; the question always there (whole when it is at most half the
    budget); the system prompt's start kept; the thread's newest messages kept in order; markers and the
    note exactly where something was cut or dropped."""
    rng = random.Random(seed)
    budget = rng.choice([500, 1000, 2000, 8000, 50_000])
    system = ChatMessage("system", _random_text(rng))
    thread = [ChatMessage(rng.choice(["user", "assistant"]), _random_text(rng)) for _ in range(rng.randint(0, 12))]
    question = ChatMessage("user", _random_text(rng))
    fitted = fit_to_budget([system, *thread, question], budget)

    assert sum(estimate_tokens(message) for message in fitted) <= budget
    assert fitted[-1].role == "user"
    assert _restored(question.content, fitted[-1].content)
    if estimate_tokens(question) <= budget // 2:
        assert fitted[-1] == question
    note = NOTE.search(fitted[0].content)
    system_kept = fitted[0].content[: note.start()] if note else fitted[0].content
    assert _restored(system.content, system_kept)
    kept = fitted[1:-1]
    left_out = len(thread) - len(kept)
    assert (int(note[1]) if note else 0) == left_out
    for original, message in zip(thread[left_out:], kept, strict=True):
        assert message.role == original.role
        assert message == original or (message is kept[0] and _restored(original.content, message.content))
