"""The messages of a chat-completions conversation, as plain data that text code can build without HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True)
class ToolCall:
    """A call the model asked for: `arguments` is its JSON text as the model wrote it (it may be malformed)."""

    id: str
    name: str
    arguments: str

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.arguments}}


@dataclass(frozen=True)
class ChatMessage:
    """One message; `images` are data URLs (`data:image/png;base64,...`) sent as image parts after the text.

    An assistant message may carry the `tool_calls` it asked for; a `tool` message answers one of them
    by its `tool_call_id`."""

    role: Role
    content: str
    images: tuple[str, ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        if self.tool_calls:
            return {
                "role": self.role,
                "content": self.content or None,
                "tool_calls": [call.as_json() for call in self.tool_calls],
            }
        if self.role == "tool":
            return {"role": "tool", "tool_call_id": self.tool_call_id, "content": self.content}
        if not self.images:
            return {"role": self.role, "content": self.content}
        parts: list[dict[str, Any]] = [{"type": "text", "text": self.content}] if self.content else []
        parts.extend({"type": "image_url", "image_url": {"url": image}} for image in self.images)
        return {"role": self.role, "content": parts}
