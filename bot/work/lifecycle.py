"""The life of one question that the durable queue holds, as one explicit state machine.

    RECEIVED ──PUT──▶ QUEUED ──TAKEN──▶ CLAIMED ──STARTED──▶ ANSWERING ──POSTED──▶ ANSWERED (XACK)
       │                ▲                  │                     │
       │                │                  └──────HANDED────────┼──▶ HANDED_BACK (a new entry: QUEUED again)
       │                └───────────RECLAIMED (the consumer died)┼──ABANDONED──▶ LOST (still pending)
       │                                                         └──FAILED──▶ FAILED (still pending, tried again)
       ├──ALREADY_QUEUED──▶ DUPLICATE
       ├──UNAVAILABLE──▶ REFUSED      (Slack gets a non-2xx and retries)
       └──LAST_RETRY──▶ IN_MEMORY     (Slack's last retry, answered by this process without Redis)

A life is seen in parts by different processes: the one that received the delivery (RECEIVED → QUEUED,
DUPLICATE, REFUSED or IN_MEMORY), and each consumer that holds its entry (from QUEUED on). Only `apply`
changes the state, and it refuses a move that is not in `TRANSITIONS`.

Rules this module keeps (tests/unit/work/):
1. Slack is acknowledged only in QUEUED, DUPLICATE or IN_MEMORY: once the question is recorded (or, on
   the last retry, is being answered here). If Redis cannot take it, Slack is not acknowledged.
2. An entry is acknowledged to the queue (XACK) only in ANSWERED: the thread shows its answer or a final
   notice (or, for a redelivery, already did).
3. An entry leaves its consumer only as HANDED_BACK (a new entry, naming the messages it left, that any live
   consumer takes at once), LOST (its consumer stopped: another one reclaims it once it is idle) or FAILED
   (the attempt ended without an answer or a final notice: reclaimed once idle, like LOST). Its delivery
   count bounds the attempts: the last one posts the final notice, which is ANSWERED.
"""

from __future__ import annotations

import enum


class State(enum.Enum):
    RECEIVED = "received"
    QUEUED = "queued"
    DUPLICATE = "duplicate"
    REFUSED = "refused"
    IN_MEMORY = "in memory"
    CLAIMED = "claimed"
    ANSWERING = "answering"
    ANSWERED = "answered"
    HANDED_BACK = "handed back"
    LOST = "lost"
    FAILED = "failed"


class Event(enum.Enum):
    PUT = "put"
    ALREADY_QUEUED = "already queued"
    UNAVAILABLE = "queue unavailable"
    LAST_RETRY = "last retry, queue unavailable"
    TAKEN = "taken"
    RECLAIMED = "reclaimed"
    STARTED = "started"
    POSTED = "posted"
    HANDED = "handed back"
    ABANDONED = "abandoned"
    FAILED = "failed"


TRANSITIONS: dict[tuple[State, Event], State] = {
    (State.RECEIVED, Event.PUT): State.QUEUED,
    (State.RECEIVED, Event.ALREADY_QUEUED): State.DUPLICATE,
    (State.RECEIVED, Event.UNAVAILABLE): State.REFUSED,
    (State.RECEIVED, Event.LAST_RETRY): State.IN_MEMORY,
    (State.QUEUED, Event.TAKEN): State.CLAIMED,
    (State.QUEUED, Event.RECLAIMED): State.CLAIMED,
    (State.CLAIMED, Event.STARTED): State.ANSWERING,
    (State.CLAIMED, Event.HANDED): State.HANDED_BACK,
    (State.CLAIMED, Event.ABANDONED): State.LOST,
    (State.ANSWERING, Event.POSTED): State.ANSWERED,
    (State.ANSWERING, Event.HANDED): State.HANDED_BACK,
    (State.ANSWERING, Event.ABANDONED): State.LOST,
    (State.ANSWERING, Event.FAILED): State.FAILED,
}

ACKNOWLEDGED = frozenset({State.QUEUED, State.DUPLICATE, State.IN_MEMORY})


class IllegalTransition(RuntimeError):
    """A bug: the question was asked to make a move its state does not allow."""

    def __init__(self, state: State, event: Event) -> None:
        super().__init__(f"{event.value!r} is not allowed in state {state.value!r}")
        self.state = state
        self.event = event


class QuestionLife:
    def __init__(self, state: State = State.RECEIVED) -> None:
        self.state = state

    @property
    def acknowledged(self) -> bool:
        """Whether Slack may be told the delivery was taken (rule 1)."""
        return self.state in ACKNOWLEDGED

    def apply(self, event: Event) -> State:
        """The one place the state changes."""
        next_state = TRANSITIONS.get((self.state, event))
        if next_state is None:
            raise IllegalTransition(self.state, event)
        self.state = next_state
        return next_state
