"""Reads a thread's files: which to read (newest first, within the limits), downloads, extraction, cache.

Every file ends up as a `FileContent`: its text, its image, or why it was not read. What was read (and
what can never be read) is cached next to the thread, in the same store, so a follow-up question does
not download it again; failures that may pass (the network, a refused download) are tried again.

Files are untrusted: they are parsed in worker processes (bot.files.workers), never in the bot's own. What
is downloaded and not yet read is bounded across all questions (a ByteBudget, held from before the
download until the parse ends); a question waits for room, for a while, rather than piling files up.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from bot.files.download import BudgetFull, ByteBudget, Downloader, DownloadFailed
from bot.files.kinds import Kind, kind_of
from bot.files.workers import BUSY, FileParsers, Job, Parsed
from bot.slack.messages import SlackFile
from bot.slack.thread import files_key
from bot.store.base import Store

logger = logging.getLogger(__name__)

# Reasons a file was not read (bot/files/workers.py has those a parse gives); bot/notices.py says each in words.
TOO_LARGE = "too_large"
UNSUPPORTED = "unsupported"
TEXT_ONLY_MODEL = "text_only_model"
TOO_MANY_IMAGES = "too_many_images"
TOO_MANY_FILES = "too_many_files"
REFUSED = "refused"
FAILED = "failed"
OTHER_ORGANISATION = "other_organisation"
NOT_IN_SLACK = "not_in_slack"
NO_ROOM = "no_room"
# Worth another try on the next question; everything else is final for that file (a file too complex
# to read is not parsed again for every follow-up).
PASSING_REASONS = frozenset({REFUSED, FAILED, BUSY})
MAX_FILES_PER_ANSWER = 20
# Downloads in flight per process.
CONCURRENT_DOWNLOADS = 8
# Bytes of files downloaded and not yet read, across all questions: three files at the 20 MB cap. A larger
# FILE_MAX_MB raises it to one file.
BYTES_IN_MEMORY = 64 * 1024 * 1024
# How long a file waits for that room before it is given up for this question (BUSY).
ROOM_WAIT_SECONDS = 60.0


@dataclass(frozen=True)
class FileLimits:
    max_bytes: int
    images_accepted: bool
    max_images: int
    max_pdf_pages: int
    # More text than this can never be sent: it is cut at once, so the cache holds no more.
    max_text_chars: int = 10_000_000


@dataclass(frozen=True)
class FileContent:
    file_id: str
    name: str
    kind: str
    text: str = ""
    image: str = ""
    not_read: str = ""
    detail: str = ""

    @property
    def read(self) -> bool:
        return not self.not_read


def not_read(file: SlackFile, reason: str, detail: str = "") -> FileContent:
    return FileContent(file.id, file.name, kind_of(file).value, not_read=reason, detail=detail)


def plan(files: Iterable[SlackFile], limits: FileLimits) -> tuple[list[SlackFile], dict[str, FileContent]]:
    """Splits files (newest first) into those to read and those decided without a download."""
    to_read: list[SlackFile] = []
    decided: dict[str, FileContent] = {}
    images = 0
    for file in files:
        kind = kind_of(file)
        reason = ""
        if file.access and file.access != "visible":
            reason = OTHER_ORGANISATION
        elif file.mode in ("tombstone", "external", "hidden_by_limit") or not file.url:
            reason = NOT_IN_SLACK
        elif file.size is not None and file.size > limits.max_bytes:
            reason = TOO_LARGE
        elif kind is Kind.OTHER:
            reason = UNSUPPORTED
        elif kind is Kind.IMAGE and not limits.images_accepted:
            reason = TEXT_ONLY_MODEL
        elif kind is Kind.IMAGE and images >= limits.max_images:
            reason = TOO_MANY_IMAGES
        elif len(to_read) >= MAX_FILES_PER_ANSWER:
            reason = TOO_MANY_FILES
        if reason:
            decided[file.id] = not_read(file, reason)
            continue
        images += kind is Kind.IMAGE
        to_read.append(file)
    return to_read, decided


def content_of(file: SlackFile, parsed: Parsed) -> FileContent:
    """What a parse made of the file (an unforeseen error's type is the log's, not the conversation's)."""
    return FileContent(
        file.id, file.name, kind_of(file).value, parsed.text, parsed.image, parsed.not_read, parsed.detail
    )


def job_for(file: SlackFile, limits: FileLimits) -> Job:
    return Job(kind_of(file).value, file.name, limits.max_pdf_pages, limits.max_text_chars)


@dataclass
class ReadStats:
    downloaded: int = 0
    downloaded_bytes: int = 0
    from_cache: int = 0


class FileReader:
    def __init__(
        self,
        downloader: Downloader,
        store: Store,
        limits: FileLimits,
        parsers: FileParsers,
        budget: ByteBudget | None = None,
    ) -> None:
        self.downloader = downloader
        self.store = store
        self.limits = limits
        self.parsers = parsers
        self.budget = budget or ByteBudget(max(BYTES_IN_MEMORY, limits.max_bytes))
        self._downloads = asyncio.Semaphore(CONCURRENT_DOWNLOADS)

    async def read(
        self, thread_key: str, files: Sequence[SlackFile], stats: ReadStats | None = None
    ) -> dict[str, FileContent]:
        """Each of `files` read, from the cache or from Slack. Call while holding the thread's lock."""
        stats = stats if stats is not None else ReadStats()
        key = files_key(thread_key)
        cached = _decode(await self.store.get_thread(key)) if files else {}
        found = {file.id: cached[file.id] for file in files if file.id in cached}
        stats.from_cache += len(found)
        missing = [file for file in files if file.id not in found]
        fresh = await asyncio.gather(*(self._read_one(file, stats) for file in missing))
        found.update((content.file_id, content) for content in fresh)
        lasting = {content.file_id: content for content in fresh if content.not_read not in PASSING_REASONS}
        if lasting:
            await self.store.put_thread(key, _encode({**cached, **lasting}))
        return found

    async def _read_one(self, file: SlackFile, stats: ReadStats) -> FileContent:
        expected = min(file.size, self.limits.max_bytes) if file.size is not None else self.limits.max_bytes
        try:
            async with self.budget.room(expected, ROOM_WAIT_SECONDS) as room:
                return await self._download_and_parse(file, stats, room.resize)
        except BudgetFull as error:
            logger.warning("file not read: no room", extra={"file_id": file.id, "detail": str(error)})
            return not_read(file, BUSY)

    async def _download_and_parse(self, file: SlackFile, stats: ReadStats, held: Callable[[int], None]) -> FileContent:
        async with self._downloads:
            try:
                data = await self.downloader.fetch(file)
            except DownloadFailed as error:
                logger.warning(
                    "file not downloaded",
                    extra={"file_id": file.id, "file_name": file.name, "reason": error.reason, "detail": error.detail},
                )
                return not_read(file, error.reason)
        held(len(data))
        stats.downloaded += 1
        stats.downloaded_bytes += len(data)
        return content_of(file, await self.parsers.parse(job_for(file, self.limits), data))


def files_of(raw_message: Mapping[str, Any]) -> list[SlackFile]:
    return [SlackFile.from_slack(item) for item in raw_message.get("files") or [] if isinstance(item, dict)]


def _encode(contents: Mapping[str, FileContent]) -> str:
    return json.dumps({file_id: asdict(content) for file_id, content in contents.items()})


def _decode(cached: str | None) -> dict[str, FileContent]:
    if not cached:
        return {}
    try:
        return {file_id: FileContent(**fields) for file_id, fields in json.loads(cached).items()}
    except (ValueError, TypeError):
        return {}
