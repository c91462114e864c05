"""The messages of a chat-completions conversation, as plain data that text code can build without HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class ChatMessage:
    """One message; `images` are data URLs (`data:image/png;base64,...`) sent as image parts after the text."""

    role: Role
    content: str
    images: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        if not self.images:
            return {"role": self.role, "content": self.content}
        parts: list[dict[str, Any]] = [{"type": "text", "text": self.content}] if self.content else []
        parts.extend({"type": "image_url", "image_url": {"url": image}} for image in self.images)
        return {"role": self.role, "content": parts}
