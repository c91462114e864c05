"""Server-sent events, decoded from the bytes of a stream as they arrive, a whole block at a time.

Only what a chat-completions stream uses: `data:` fields (several in one event are joined with a line
break), events ended by a blank line, comments (`: keep-alive`) and other fields ignored. Lines may end
in LF, CRLF or CR. A block may end anywhere, even inside a UTF-8 character: a line is decoded only
once it is complete, and a line break is never part of a multi-byte character.
"""

from __future__ import annotations


class EventStreamDecoder:
    def __init__(self) -> None:
        self._partial_line = b""
        self._data: list[bytes] = []

    def feed(self, block: bytes) -> list[str]:
        """The data of every event that `block` completes, in order."""
        text = self._partial_line + block
        if b"\r" in text:
            # A CR at the very end may be the first half of a CRLF: it waits for the next block.
            held = text.endswith(b"\r")
            text = text.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            if held:
                text = text[:-1]
                lines = text.split(b"\n")
                self._partial_line = lines.pop() + b"\r"
                return self._events(lines)
        lines = text.split(b"\n")
        self._partial_line = lines.pop()
        return self._events(lines)

    def end(self) -> list[str]:
        """At the end of the stream: an unfinished last line or event still counts (servers that stop
        without the final blank line)."""
        last = self._partial_line.rstrip(b"\r")
        self._partial_line = b""
        return self._events([last, b""] if last else [b""])

    def _events(self, lines: list[bytes]) -> list[str]:
        events: list[str] = []
        data = self._data
        for line in lines:
            if not line:
                if data:
                    events.append(b"\n".join(data).decode("utf-8", errors="replace"))
                    data.clear()
            elif line.startswith(b"data:"):
                value = line[5:]
                data.append(value[1:] if value.startswith(b" ") else value)
        return events
