"""Reads a thread's files: which to read (newest first, within the limits), downloads, extraction, cache.

Every file ends up as a `FileContent`: its text, its image, or why it was not read. What was read (and
what can never be read) is cached next to the thread, in the same store, so a follow-up question does
not download it again; failures that may pass (the network, a refused download) are tried again.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from bot.files.cutting import cut_middle
from bot.files.decoding import NotText, decode_text
from bot.files.download import Downloader, DownloadFailed
from bot.files.images import NotAnImage, prepare_image
from bot.files.kinds import Kind, kind_of
from bot.files.pdf import UnreadablePdf, pdf_text
from bot.slack.messages import SlackFile
from bot.slack.thread import files_key
from bot.store.base import Store

logger = logging.getLogger(__name__)

# Reasons a file was not read; bot/notices.py says each in words.
TOO_LARGE = "too_large"
UNSUPPORTED = "unsupported"
TEXT_ONLY_MODEL = "text_only_model"
TOO_MANY_IMAGES = "too_many_images"
TOO_MANY_FILES = "too_many_files"
REFUSED = "refused"
FAILED = "failed"
OTHER_ORGANISATION = "other_organisation"
NOT_IN_SLACK = "not_in_slack"
BINARY = "binary"
UNREADABLE = "unreadable"
NO_ROOM = "no_room"
# Worth another try on the next question; everything else is final for that file.
PASSING_REASONS = frozenset({REFUSED, FAILED})
MAX_FILES_PER_ANSWER = 20
# Downloads in flight per process; each holds at most FILE_MAX_MB in memory until it is read.
CONCURRENT_DOWNLOADS = 8
# Decoding a screenshot takes tens of MB and a core for ~0.1 s: at most this many at once per process,
# so memory stays bounded and the event loop keeps a core in a burst of screenshots. Their own threads,
# too: memory freed in a thread stays with that thread's allocator arena, so few threads keep RSS low.
CONCURRENT_EXTRACTIONS = 2
EXTRACTION_THREADS = ThreadPoolExecutor(max_workers=CONCURRENT_EXTRACTIONS, thread_name_prefix="file-reading")


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


def extract(file: SlackFile, data: bytes, limits: FileLimits) -> FileContent:
    """The file's text or image; CPU-bound, run in a thread."""
    kind = kind_of(file)
    try:
        if kind is Kind.IMAGE:
            return FileContent(file.id, file.name, kind.value, image=prepare_image(data))
        if kind is Kind.PDF:
            text, pages = pdf_text(data, limits.max_pdf_pages)
            text = cut_middle(text, file.name, limits.max_text_chars)
            return FileContent(file.id, file.name, kind.value, text=text, detail=f"{pages} pages")
        text = cut_middle(decode_text(data), file.name, limits.max_text_chars)
        return FileContent(file.id, file.name, kind.value, text=text)
    except NotText:
        return not_read(file, BINARY)
    except (NotAnImage, UnreadablePdf) as error:
        return not_read(file, UNREADABLE, str(error))


@dataclass
class ReadStats:
    downloaded: int = 0
    downloaded_bytes: int = 0
    from_cache: int = 0


class FileReader:
    def __init__(self, downloader: Downloader, store: Store, limits: FileLimits) -> None:
        self.downloader = downloader
        self.store = store
        self.limits = limits
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
        async with self._downloads:
            try:
                data = await self.downloader.fetch(file)
            except DownloadFailed as error:
                logger.warning(
                    "file not downloaded",
                    extra={"file_id": file.id, "file_name": file.name, "reason": error.reason, "detail": error.detail},
                )
                return not_read(file, error.reason)
        stats.downloaded += 1
        stats.downloaded_bytes += len(data)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(EXTRACTION_THREADS, extract, file, data, self.limits)


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
