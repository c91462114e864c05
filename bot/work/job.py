"""A question as the queue keeps it: everything the answerer needs, as JSON, and what earlier attempts left."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass

from bot.answer.answerer import Question
from bot.slack.messages import BotIdentity


@dataclass(frozen=True)
class Job:
    question: Question
    identity: BotIdentity
    # A redelivery of some kind (a Slack retry, a hand-back, a question queued again): look in the thread first.
    recheck: bool = False
    # Messages an earlier attempt left in the thread, for the next attempt to take over.
    adopt: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """One question per message, however many events deliver it."""
        return f"{self.question.channel}:{self.question.ts}"

    def again(self, adopt: Sequence[str] = ()) -> Job:
        """The job for the next attempt: checked against the thread, taking over `adopt` (or the earlier ones)."""
        return dataclasses.replace(self, recheck=True, adopt=tuple(adopt) or self.adopt)

    def payload(self) -> str:
        question = self.question
        return json.dumps(
            {
                "question": {
                    "event_id": question.event_id,
                    "event_type": question.event_type,
                    "channel": question.channel,
                    "channel_type": question.channel_type,
                    "team_id": question.team_id,
                    "message": question.message,
                },
                "identity": {"user_id": self.identity.user_id, "bot_id": self.identity.bot_id},
                "recheck": self.recheck,
                "adopt": list(self.adopt),
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_payload(cls, payload: str) -> Job:
        data = json.loads(payload)
        return cls(
            question=Question(**data["question"]),
            identity=BotIdentity(**data["identity"]),
            recheck=bool(data.get("recheck")),
            adopt=tuple(str(ts) for ts in data.get("adopt") or ()),
        )
