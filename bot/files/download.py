"""Downloads a Slack file with the bot token, into memory, never more than the cap.

Slack answers a download without a valid token (or a wrong URL) with its HTML sign-in page and status
200, so a response is taken as the file only if it is not an HTML page (unless the file is one). The
token is only ever sent to Slack's own hosts.
"""

from __future__ import annotations

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

    async def fetch(self, file: SlackFile) -> bytes:
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
                data = bytearray()
                async for chunk in response.content.iter_chunked(CHUNK_BYTES):
                    data += chunk
                    if len(data) > self.max_bytes:
                        raise DownloadFailed("too_large")
                content_type = response.headers.get("Content-Type", "").lower()
        except (aiohttp.ClientError, TimeoutError) as error:
            raise DownloadFailed("failed", type(error).__name__) from error
        if _looks_like_html(bytes(data[:512]), content_type) and not _is_html_file(file):
            raise DownloadFailed("refused", "Slack answered with a sign-in page")
        return bytes(data)


def _looks_like_html(start: bytes, content_type: str) -> bool:
    return content_type.startswith("text/html") or start.lstrip().lower().startswith(HTML_STARTS)


def _is_html_file(file: SlackFile) -> bool:
    return file.mimetype == "text/html" or file.filetype == "html"
