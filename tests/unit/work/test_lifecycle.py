"""The life of a queued question: only the moves in its table, and Slack acknowledged only once it is recorded."""

from __future__ import annotations

import pytest

from bot.work.lifecycle import ACKNOWLEDGED, TRANSITIONS, Event, IllegalTransition, QuestionLife, State


def test_slack_is_acknowledged_only_once_the_question_is_recorded_or_answered_here() -> None:
    assert {State.QUEUED, State.DUPLICATE, State.IN_MEMORY} == ACKNOWLEDGED
    refused = QuestionLife()
    refused.apply(Event.UNAVAILABLE)
    assert not refused.acknowledged


def test_an_entry_is_acknowledged_to_the_queue_only_after_it_was_answering() -> None:
    """Rule 2: ANSWERED is reached from ANSWERING only, and only by POSTED."""
    into_answered = [key for key, state in TRANSITIONS.items() if state is State.ANSWERED]
    assert into_answered == [(State.ANSWERING, Event.POSTED)]


def test_an_entry_leaves_its_consumer_only_handed_back_lost_or_failed() -> None:
    """Rule 3: from CLAIMED or ANSWERING, the only ends besides ANSWERED are HANDED_BACK, LOST and FAILED (the
    last two still pending, for another attempt)."""
    ends = {state for (state_from, _), state in TRANSITIONS.items() if state_from in (State.CLAIMED, State.ANSWERING)}
    assert ends == {State.ANSWERING, State.ANSWERED, State.HANDED_BACK, State.LOST, State.FAILED}


def test_a_move_not_in_the_table_is_refused_naming_state_and_event() -> None:
    life = QuestionLife(State.QUEUED)
    with pytest.raises(IllegalTransition, match="'posted' is not allowed in state 'queued'"):
        life.apply(Event.POSTED)
    assert life.state is State.QUEUED


def test_a_whole_life_from_delivery_to_answer() -> None:
    life = QuestionLife()
    for event in (Event.PUT, Event.TAKEN, Event.STARTED, Event.POSTED):
        life.apply(event)
    assert life.state is State.ANSWERED
