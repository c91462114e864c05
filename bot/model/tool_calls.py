"""Tool calls as a chat-completions stream delivers them: index-keyed pieces, arguments in fragments.

OpenAI's shape (which Heroku's `/v1/chat/completions` follows): each chunk's `delta.tool_calls` is a list
of `{index, id?, type?, function: {name?, arguments?}}`; the first piece of a call brings its id and name,
later ones only more of `arguments`. Several calls of one turn are told apart by `index` alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from bot.model.messages import ToolCall


@dataclass
class _Partial:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


# Far past any real turn's calls: a gateway streaming fragments without end is cut off here (the
# client raises ModelAnswerTooLarge) instead of growing the process until the answer's deadline.
MAX_CALLS = 4096
MAX_CHARS = 1024 * 1024


class ToolCallAssembler:
    def __init__(self) -> None:
        self._calls: dict[int, _Partial] = {}
        self._chars = 0
        self.overflowed = False

    def clear(self) -> None:
        self._calls.clear()
        self._chars = 0
        self.overflowed = False

    def feed(self, pieces: Any) -> None:
        """One chunk's `delta.tool_calls` (or a whole message's `tool_calls`); anything malformed is skipped."""
        if not isinstance(pieces, list):
            return
        for position, piece in enumerate(pieces):
            if not isinstance(piece, dict):
                continue
            index = piece.get("index", position)
            if not isinstance(index, int):
                continue
            if index not in self._calls and len(self._calls) >= MAX_CALLS:
                self.overflowed = True
                return
            call = self._calls.setdefault(index, _Partial())
            if isinstance(piece.get("id"), str) and piece["id"]:
                call.id = piece["id"]
            function = piece.get("function")
            if not isinstance(function, dict):
                continue
            name = function.get("name")
            arguments = function.get("arguments")
            if isinstance(arguments, dict):
                arguments = json.dumps(arguments)  # a gateway that sends them parsed
            size = (len(name) if isinstance(name, str) else 0) + (len(arguments) if isinstance(arguments, str) else 0)
            if self._chars + size > MAX_CHARS:
                self.overflowed = True
                return
            self._chars += size
            if isinstance(name, str) and name and name != call.name:
                # Whole in the first piece (OpenAI); some gateways repeat it in every piece.
                call.name += name
            if isinstance(arguments, str):
                call.arguments.append(arguments)

    def calls(self) -> list[ToolCall]:
        """The calls assembled so far, in index order; a call the model named no id for gets one."""
        return [
            ToolCall(call.id or f"call_{index}", call.name, "".join(call.arguments) or "{}")
            for index, call in sorted(self._calls.items())
            if call.name
        ]
