"""Downloads a Slack file with the bot token, into memory, never more than the cap.

Slack answers a download without a valid token (or a wrong URL) with its HTML sign-in page and status
200, so a response is taken as the file only if it is not an HTML page (unless the file is one). The
token is only ever sent to Slack's own hosts.

`ByteBudget` bounds what all questions together hold in memory of files downloaded and not yet read.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import aiohttp

from bot.slack.messages import SlackFile

CHUNK_BYTES = 64 * 1024
SLACK_HOST_SUFFIXES = (".slack.com", ".slack-edge.com", ".slack-gov.com")
HTML_STARTS = (b"<!doctype html", b"<html")


class DownloadFailed(Exception):
    """`reason` is one of bot/files/reading.py's: `refused` (Slack would not hand the file over),
    `too_large` (over the cap) or `failed` (the network, or no answer within the timeout)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class Downloader:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        token: str,
        max_bytes: int,
        api_url: str,
        timeout_seconds: float = 30.0,
    ) -> None:
        self.session = session
        self.token = token
        self.max_bytes = max_bytes
        # The API's own host (a GovSlack or test server) is trusted like slack.com.
        api = urlsplit(api_url)
        self.trusted_host, self.trusted_scheme = api.hostname or "slack.com", api.scheme or "https"
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds, sock_connect=10)

    def trusted(self, url: str) -> bool:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if host == self.trusted_host:
            return parts.scheme in ("https", self.trusted_scheme)
        return parts.scheme == "https" and (host == "slack.com" or host.endswith(SLACK_HOST_SUFFIXES))

    async def fetch(self, file: SlackFile) -> bytearray:
        """The file's bytes, in the buffer they arrived in: a copy into `bytes` would hold them twice."""
        if not file.url or not self.trusted(file.url):
            raise DownloadFailed("refused", "not a Slack download link")
        headers = {"Authorization": f"Bearer {self.token}"}
        try:
            async with self.session.get(file.url, headers=headers, timeout=self.timeout, max_redirects=3) as response:
                if response.status != 200:
                    raise DownloadFailed("refused", f"HTTP {response.status}")
                declared = response.headers.get("Content-Length")
                if declared and declared.isdigit() and int(declared) > self.max_bytes:
                    raise DownloadFailed("too_large")
                # Allocated once at the size announced, so that growing it never holds two copies.
                data = bytearray(int(declared)) if declared and declared.isdigit() else bytearray()
                filled = 0
                async for chunk in response.content.iter_chunked(CHUNK_BYTES):
                    if filled + len(chunk) > self.max_bytes:
                        raise DownloadFailed("too_large")
                    data[filled : filled + len(chunk)] = chunk
                    filled += len(chunk)
                del data[filled:]
                content_type = response.headers.get("Content-Type", "").lower()
        except (aiohttp.ClientError, TimeoutError) as error:
            raise DownloadFailed("failed", type(error).__name__) from error
        if _looks_like_html(bytes(data[:512]), content_type) and not _is_html_file(file):
            raise DownloadFailed("refused", "Slack answered with a sign-in page")
        return data


def _looks_like_html(start: bytes, content_type: str) -> bool:
    return content_type.startswith("text/html") or start.lstrip().lower().startswith(HTML_STARTS)


def _is_html_file(file: SlackFile) -> bool:
    return file.mimetype == "text/html" or file.filetype == "html"


class BudgetFull(Exception):
    """No room in the ByteBudget within the wait allowed."""


class Room:
    """Bytes reserved in a ByteBudget; `resize` once the real size is known."""

    def __init__(self, budget: ByteBudget, size: int) -> None:
        self.budget = budget
        self.size = size

    def resize(self, size: int) -> None:
        """The file as downloaded: a smaller one frees room at once; one larger than Slack said (at most the
        download cap) is counted as it is, since its bytes are already here."""
        self.budget.take(size - self.size)
        self.size = size


class ByteBudget:
    """At most `capacity` bytes of files held at once, from before their download until they are read.

    Reservations are granted in turn (first come, first served, so a big file is not overtaken for ever by
    small ones) when they fit; one larger than the whole capacity goes alone. The bookkeeping is plain,
    without awaits: `held` is always the sum of the rooms granted and not yet left.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.held = 0
        self.peak = 0
        self._waiting: deque[tuple[int, asyncio.Future[None]]] = deque()

    @contextlib.asynccontextmanager
    async def room(self, size: int, within_seconds: float) -> AsyncIterator[Room]:
        """Holds `size` bytes for the body of the `async with`; raises BudgetFull after `within_seconds`."""
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((size, granted))
        self._grant()
        try:
            async with asyncio.timeout(within_seconds):
                await asyncio.shield(granted)
        except BaseException as error:
            if granted.done():
                self.take(-size)
            else:
                granted.cancel()
                self._waiting.remove((size, granted))
                self._grant()
            if isinstance(error, TimeoutError):
                raise BudgetFull(f"{self.held:,} of {self.capacity:,} bytes held") from error
            raise
        room = Room(self, size)
        try:
            yield room
        finally:
            self.take(-room.size)

    def take(self, size: int) -> None:
        """Counts `size` more bytes held (fewer when negative), and grants what now fits."""
        self.held += size
        self.peak = max(self.peak, self.held)
        self._grant()

    def _grant(self) -> None:
        while self._waiting:
            size, granted = self._waiting[0]
            if self.held and self.held + size > self.capacity:
                return
            self._waiting.popleft()
            self.held += size
            self.peak = max(self.peak, self.held)
            granted.set_result(None)
