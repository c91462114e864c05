"""Server-sent events, decoded from the bytes of a stream as they arrive, a whole block at a time.

Only what a chat-completions stream uses: `data:` fields (several in one event are joined with a line
break), events ended by a blank line, comments (`: keep-alive`) and other fields ignored. Lines may end
in LF, CRLF or CR. A block may end anywhere, even inside a UTF-8 character: a line is decoded only
once it is complete, and a line break is never part of a multi-byte character.

Linear in the bytes received: each byte is split into lines once (an unfinished line is kept as it is
and only extended). A line or an event longer than `LINE_LIMIT_BYTES` is far beyond any real chunk: the
decoder stops there (`overflowed`), keeps nothing more, and the stream is to be broken off.
"""

from __future__ import annotations

# A real chunk is a few hundred bytes; a whole answer of 200,000 tokens in one event is under 1 MB.
LINE_LIMIT_BYTES = 1024 * 1024


class EventStreamDecoder:
    def __init__(self, line_limit: int = LINE_LIMIT_BYTES) -> None:
        self.line_limit = line_limit
        # Set once a line or an event is over the limit: what came before it was handed over, nothing after.
        self.overflowed = False
        self._partial_line = bytearray()
        self._after_cr = False
        self._data: list[bytes] = []
        self._data_bytes = 0

    def feed(self, block: bytes) -> list[str]:
        """The data of every event that `block` completes, in order."""
        if self.overflowed or not block:
            return []
        if self._after_cr and block.startswith(b"\n"):
            block = block[1:]  # the second half of a CRLF cut between two blocks
        self._after_cr = False
        end = max(block.rfind(b"\n"), block.rfind(b"\r"))
        if end < 0:
            self._partial_line += block
            self._check_partial_line()
            return []
        self._after_cr = end == len(block) - 1 and block[end] == ord("\r")
        complete = bytes(self._partial_line) + block[: end + 1]
        self._partial_line = bytearray(block[end + 1 :])
        if b"\r" in complete:
            complete = complete.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = complete.split(b"\n")
        lines.pop()  # empty: `complete` ends with a line break
        events = self._events(lines)
        self._check_partial_line()
        return events

    def end(self) -> list[str]:
        """At the end of the stream: an unfinished last line or event still counts (servers that stop
        without the final blank line)."""
        if self.overflowed:
            return []
        last = bytes(self._partial_line)
        self._partial_line.clear()
        return self._events([last, b""] if last else [b""])

    def _check_partial_line(self) -> None:
        if len(self._partial_line) > self.line_limit:
            self._overflow()

    def _overflow(self) -> None:
        self.overflowed = True
        self._partial_line = bytearray()
        self._data.clear()

    def _events(self, lines: list[bytes]) -> list[str]:
        events: list[str] = []
        data = self._data
        for line in lines:
            if not line:
                if data:
                    events.append(b"\n".join(data).decode("utf-8", errors="replace"))
                    data.clear()
                    self._data_bytes = 0
            elif len(line) > self.line_limit:
                self._overflow()
                break
            elif line.startswith(b"data:"):
                value = line[5:]
                data.append(value[1:] if value.startswith(b" ") else value)
                self._data_bytes += len(value)
                if self._data_bytes > self.line_limit:
                    self._overflow()  # an event of many lines that never ends
                    break
        return events
