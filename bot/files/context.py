"""What a question's files and links add to its conversation, for the answerer.

The question's own files and links are fetched while the thread is read (`prefetch`); the rest of the
thread's files (mostly cached by then) once it is known (`attach`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.files.attachments import Attached, Extra, attach, files_room
from bot.files.download import Downloader
from bot.files.images import model_takes_images
from bot.files.links import MAX_LINKS, LinkedThread, LinkFollower, SlackLink, links_in
from bot.files.reading import MAX_FILES_PER_ANSWER, FileContent, FileLimits, FileReader, ReadStats, files_of, plan
from bot.files.workers import FileParsers
from bot.notices import (
    file_not_read,
    link_not_followed,
    link_not_for_everyone_here,
    link_unchecked,
    more_files_not_read,
    more_links_not_followed,
)
from bot.settings import Settings
from bot.slack.access import ConversationAccess, Verdict
from bot.slack.errors import SLACK_FAILURES
from bot.slack.messages import BotIdentity, SlackFile, ThreadMessage
from bot.slack.thread import NameDirectory
from bot.store.base import Store

logger = logging.getLogger(__name__)

# Lines in an answer's note about files not read; more are counted in one line.
MAX_NOTES = 5


@dataclass
class Prefetched:
    asker: str
    identity: BotIdentity
    # The conversation the answer goes to.
    answered_in: str
    contents: dict[str, FileContent] = field(default_factory=dict)
    # The question's links, followed (or not) for the asker.
    links: list[LinkedThread] = field(default_factory=list)
    # How many more links the question held than are followed.
    links_left_out: int = 0
    stats: ReadStats = field(default_factory=ReadStats)
    # Files whose message carried only a stub (Slack Connect), as `files.info` described them.
    resolved: dict[str, SlackFile] = field(default_factory=dict)


class FileContext:
    def __init__(
        self,
        reader: FileReader,
        links: LinkFollower | None,
        limits: FileLimits,
        budget_tokens: int,
        slack: AsyncWebClient | None = None,
    ) -> None:
        self.slack = slack
        self.reader = reader
        self.links = links
        self.limits = limits
        self.budget_tokens = budget_tokens

    async def prefetch(
        self, thread_key: str, question: Mapping[str, Any], asker: str, identity: BotIdentity, answered_in: str
    ) -> Prefetched:
        """The question's own files and the Slack links in it."""
        prefetched = Prefetched(asker, identity, answered_in)
        files = await self._resolved(list(reversed(files_of(question))), prefetched.resolved)
        to_read, decided = plan(files, self.limits)
        links = links_in(str(question.get("text") or ""))
        read, followed = await asyncio.gather(
            self.reader.read(thread_key, to_read, prefetched.stats), self._follow(links[:MAX_LINKS], prefetched)
        )
        prefetched.links_left_out = max(len(links) - MAX_LINKS, 0)
        prefetched.contents = {**decided, **read}
        prefetched.links = followed
        return prefetched

    async def _follow(self, links: Sequence[SlackLink], prefetched: Prefetched) -> list[LinkedThread]:
        if self.links is None or not links:
            return []
        return await self.links.follow_all(links, prefetched.asker, prefetched.identity, prefetched.answered_in)

    async def _earlier_links(
        self, thread: Sequence[ThreadMessage], asked_ts: str, prefetched: Prefetched
    ) -> list[tuple[str, LinkedThread]]:
        """Links people posted earlier in the thread (the newest first, within MAX_LINKS in all), followed
        again for this question's asker: a follow-up keeps the linked context only if the asker may see it."""
        seen = {(linked.link.channel, linked.link.ts) for linked in prefetched.links}
        found: list[tuple[str, SlackLink]] = []
        for message in reversed(thread):
            if message.ts == asked_ts or not message.by_a_person:
                continue
            for link in links_in(message.text):
                if (link.channel, link.ts) not in seen and len(seen) < MAX_LINKS:
                    seen.add((link.channel, link.ts))
                    found.append((message.ts, link))
        followed = await self._follow([link for _, link in found], prefetched)
        return [(ts, linked) for (ts, _), linked in zip(found, followed, strict=True)]

    async def attach(
        self,
        thread_key: str,
        raw_thread: Iterable[Mapping[str, Any]],
        thread: Sequence[ThreadMessage],
        question: Mapping[str, Any],
        prefetched: Prefetched,
    ) -> tuple[Attached, list[str]]:
        """Attachments by message ts, and the notes for the answer: one line per file or link not read."""
        raw_by_ts = {str(message.get("ts")): message for message in raw_thread}
        raw_by_ts[str(question.get("ts"))] = question
        files = [(message.ts, file) for message in thread for file in files_of(raw_by_ts.get(message.ts) or {})]
        newest_first = await self._resolved([file for _, file in reversed(files)], prefetched.resolved)
        to_read, decided = plan(newest_first, self.limits)
        known = prefetched.contents
        read = await self.reader.read(thread_key, [f for f in to_read if f.id not in known], prefetched.stats)
        contents = {**decided, **read, **known}
        asked_ts = str(question.get("ts"))
        linked_threads = [(asked_ts, linked) for linked in prefetched.links]
        linked_threads += await self._earlier_links(thread, asked_ts, prefetched)
        extras = [
            Extra(ts, f"the linked Slack thread {linked.link.url}", linked.text)
            if linked.text is not None
            else Extra(ts, linked.link.url, f"[Slack link {linked.link.url}: could not be opened]")
            for ts, linked in linked_threads
        ]
        fresh_after = max((float(message.ts) for message in thread if message.by_this_bot), default=0.0)
        attached = attach(files, contents, budget_tokens=self.budget_tokens, fresh_after=fresh_after, extras=extras)
        notes = [self._note(content) for content in attached.unread[:MAX_NOTES]]
        if len(attached.unread) > MAX_NOTES:
            notes.append(more_files_not_read(len(attached.unread) - MAX_NOTES))
        notes += [_link_note(linked) for linked in prefetched.links if linked.text is None]
        if prefetched.links_left_out:
            notes.append(more_links_not_followed(prefetched.links_left_out, MAX_LINKS))
        return attached, notes

    async def _resolved(self, files: list[SlackFile], resolved: dict[str, SlackFile]) -> list[SlackFile]:
        """Files with their full description: in Slack Connect channels a message carries only a stub
        (`file_access: check_file_info`), and `files.info` tells the rest, or refuses."""
        stubs = [file for file in files[:MAX_FILES_PER_ANSWER] if file.access == "check_file_info"]
        missing = [file for file in stubs if file.id not in resolved]
        if missing and self.slack is not None:
            found = await asyncio.gather(*(self._file_info(self.slack, file) for file in missing))
            resolved.update((file.id, full) for file, full in zip(missing, found, strict=True))
        return [resolved.get(file.id, file) for file in files]

    async def _file_info(self, slack: AsyncWebClient, stub: SlackFile) -> SlackFile:
        try:
            response = await slack.files_info(file=stub.id)
        except SLACK_FAILURES as error:
            logger.info("file not described by Slack", extra={"file_id": stub.id, "error": repr(error)})
            return stub
        raw = response.get("file")
        return SlackFile.from_slack(raw) if isinstance(raw, dict) else stub

    async def close(self) -> None:
        """Kills the file-reading workers, busy or not: a restart never waits on a parse."""
        await self.reader.parsers.close()

    def _note(self, content: FileContent) -> str:
        limits = self.limits
        return file_not_read(
            content.name,
            content.not_read,
            content.detail,
            max_mb=limits.max_bytes // (1024 * 1024),
            max_images=limits.max_images,
            max_files=MAX_FILES_PER_ANSWER,
        )


def _link_note(linked: LinkedThread) -> str:
    if linked.verdict is Verdict.NOT_FOR_EVERYONE:
        return link_not_for_everyone_here(linked.link.url)
    if linked.verdict is Verdict.UNDECIDED:
        return link_unchecked(linked.link.url)
    return link_not_followed(linked.link.url)


def file_context(
    settings: Settings,
    slack: AsyncWebClient,
    store: Store,
    names: NameDirectory,
    access: ConversationAccess | None = None,
) -> FileContext:
    """Built from the settings, downloading over the Slack client's own connection pool."""
    if slack.session is None:
        raise ValueError("the Slack client needs a shared aiohttp session")
    limits = FileLimits(
        max_bytes=settings.file_max_bytes,
        images_accepted=model_takes_images(settings.model_accepts_images, settings.inference_model_id),
        max_images=settings.model_max_images,
        max_pdf_pages=settings.pdf_max_pages,
        max_text_chars=files_room(settings.input_budget_tokens),
    )
    downloader = Downloader(
        slack.session, token=settings.slack_bot_token, max_bytes=limits.max_bytes, api_url=settings.slack_api_url
    )
    reader = FileReader(downloader, store, limits, FileParsers())
    return FileContext(reader, LinkFollower(slack, names, access), limits, settings.input_budget_tokens, slack)
