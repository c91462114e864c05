"""Fitting conversations to the input budget."""

from __future__ import annotations

from bot.conversation import BotIdentity, ThreadMessage, history_for
from bot.model_client import ChatMessage
from bot.trimming import estimate_tokens, fit_to_budget

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
    assert "left out" in fitted[0].content
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
