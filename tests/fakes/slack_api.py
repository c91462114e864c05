"""A fake Slack Web API on loopback: keeps channels and threads, records every call; plays the faults a test
scripts (tests/fakes/faults.py) and Slack's rate limits (tests/fakes/rate_limits.py)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from bot.app.check import REQUIRED_SCOPES, SEARCH_SCOPES
from tests.fakes.faults import SIGN_IN_PAGE, FaultInjection
from tests.fakes.rate_limits import RateLimit, RateLimiter, ratelimited

BOT_TOKEN = "xoxb-test-token-0123456789"
APP_TOKEN = "xapp-test-token-5555555555"
BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
TEAM_ID = "T0001"
# The `action_token` a message event brings in an AI app's thread, which `assistant.search.context` needs.
ACTION_TOKEN = "1234.5678.action-token"


MARKDOWN_TEXT_LIMIT = 12_000
POSTING_METHODS = frozenset(
    {
        "chat.postMessage",
        "chat.postEphemeral",
        "chat.update",
        "chat.startStream",
        "chat.appendStream",
        "chat.stopStream",
        "chat.meMessage",
        "chat.scheduleMessage",
        "files.upload",
        "files.completeUploadExternal",
    }
)
# Bookkeeping of the fake that Slack itself would not return.
FAKE_ONLY_FIELDS = frozenset(
    {"visible", "revisions", "streaming", "markdown_text", "finished_at", "changed_at", "metadata", "chunks", "tasks"}
)
# What a `task_update` chunk must and may hold.
TASK_FIELDS = frozenset({"type", "id", "title", "status", "details", "output", "sources"})
TASK_STATUSES = frozenset({"pending", "in_progress", "complete", "error"})


class ApiError(Exception):
    def __init__(self, code: str) -> None:
        self.code = code


def escaped(text: str) -> str:
    """What Slack stores in a message's `text` for characters it treats as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def check_length(text: str, limit: int) -> None:
    if len(text) > limit:
        raise ApiError("msg_too_long")


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


class FakeSlack(FaultInjection):
    def __init__(self, rate_limits: dict[str, tuple[RateLimit, ...]] | None = None) -> None:
        super().__init__()
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.users: dict[str, str] = {}
        self.calls: list[Call] = []
        self.refused_methods: set[str] = set()
        self.statuses: list[tuple[str, str, str]] = []
        self.purposes: dict[str, str] = {}
        self.ephemerals: list[dict[str, Any]] = []
        self.home_views: dict[str, dict[str, Any]] = {}
        # The prompts set in each agent tab (its DM channel), as the last setSuggestedPrompts call left them.
        self.suggested_prompts: dict[str, dict[str, Any]] = {}
        self.granted_scopes: set[str] = {*REQUIRED_SCOPES, *SEARCH_SCOPES}
        # Conversations the bot cannot read, and the error Slack gives (`not_in_channel`, `channel_not_found`).
        self.read_refusals: dict[str, str] = {}
        # What the bot sent to response URLs (shortcuts, slash commands), with the URL's name.
        self.responses: list[dict[str, Any]] = []
        # Slack may translate a `markdown` block into other blocks; False reads messages back without it.
        self.returns_markdown_blocks = True
        self.sockets: list[web.WebSocketResponse] = []
        self.socket_acks: list[str] = []
        # Files by id: (content, mimetype); a download is served only with the bot token and `files:read`.
        self.files: dict[str, tuple[bytes, str]] = {}
        self.downloads: list[str] = []
        self.file_objects: dict[str, dict[str, Any]] = {}
        self.download_attempts: list[str] = []
        # Private channels (and DMs) by id, with their members; the bot reads only those it is in.
        self.private_channels: dict[str, set[str]] = {}
        self.channel_names: dict[str, str] = {}
        self.rate_limiter = RateLimiter(rate_limits or {})
        self.rate_limited: Counter[str] = Counter()
        # Members of public channels where a test names them (otherwise every known user is).
        self.channel_members: dict[str, set[str]] = {}
        # Guests (Slack's `is_restricted`) and people of other organisations (Slack Connect) by their team.
        self.guests: set[str] = set()
        self.single_channel_guests: set[str] = set()  # `is_ultra_restricted`
        self.user_teams: dict[str, str] = {}
        # Extra fields of a conversation in conversations.info: Slack Connect (`is_ext_shared`, `is_shared`,
        # `shared_team_ids`), a pending invitation (`is_pending_ext_shared`), another workspace of the org.
        self.channel_flags: dict[str, dict[str, Any]] = {}
        # What `assistant.search.context` finds (each a result message, its `channel_id` among them); it
        # answers by `channel_types` unless `search_ignores_channel_types` (a fault: a hit the bot must drop).
        self.search_hits: list[dict[str, Any]] = []
        self.search_ignores_channel_types = False
        # A fault: every call carrying `chunks` is refused with this error (a workspace or client that
        # takes streamed text but not task cards).
        self.refuses_chunks: str | None = None
        # A fault: a chunk this says True for is refused with `invalid_arguments` (what one card holds).
        self.refuses_chunk: Callable[[dict[str, Any]], bool] | None = None
        self._ts = itertools.count(1)
        self._changed = asyncio.Condition()
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle)
        app.router.add_get("/socket", self._socket)
        app.router.add_get("/files/{file_id}/{name}", self._download)
        app.router.add_post("/respond/{name}", self._respond)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/api/"

    async def stop(self) -> None:
        self.release_hangs()
        for socket in list(self.sockets):
            await socket.close()
        if self._runner:
            await self._runner.cleanup()

    def response_url(self, name: str) -> str:
        """A response URL as Slack puts in shortcut and command payloads; what is sent there lands in `responses`."""
        return self.url.replace("/api/", f"/respond/{name}")

    def dm_channel(self, user: str) -> str:
        """The id of a person's DM with the bot, as `conversations.open` gives it."""
        return f"D{user}"

    def next_ts(self) -> str:
        return f"1700000000.{next(self._ts):06d}"

    def add_user(self, user_id: str, display_name: str) -> None:
        self.users[user_id] = display_name

    def post_as_person(
        self, channel: str, user: str, text: str, thread_ts: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        """A person's message, stored as Slack would; returns it as the event's `event` payload."""
        message: dict[str, Any] = {
            "type": "message",
            "user": user,
            "text": text,
            "ts": self.next_ts(),
            "team": TEAM_ID,
            "client_msg_id": f"msg-{len(self.calls)}-{text[:8]}",
        }
        if thread_ts:
            message["thread_ts"] = thread_ts
        message.update(extra)
        self.messages.setdefault(channel, []).append(message)
        return {**message, "channel": channel}

    def edit_as_person(self, channel: str, ts: str, text: str) -> dict[str, Any]:
        """Edits a stored message; returns the `message_changed` event Slack would send."""
        message = next(message for message in self.messages[channel] if message["ts"] == ts)
        previous = dict(message)
        # The new text replaces the whole content, the Markdown blocks an answer was shown with included.
        message["text"] = text
        message.pop("blocks", None)
        if "visible" in message:
            message["visible"] = text
        return {
            "type": "message",
            "subtype": "message_changed",
            "hidden": True,
            "channel": channel,
            "ts": self.next_ts(),
            "message": dict(message),
            "previous_message": previous,
        }

    def delete(self, channel: str, ts: str) -> dict[str, Any]:
        """Deletes a stored message (an admin can delete anyone's); returns the `message_deleted` event."""
        message = next(message for message in self.messages[channel] if message["ts"] == ts)
        self.messages[channel].remove(message)
        previous = {k: v for k, v in message.items() if k not in FAKE_ONLY_FIELDS}
        return {
            "type": "message",
            "subtype": "message_deleted",
            "hidden": True,
            "channel": channel,
            "ts": self.next_ts(),
            "deleted_ts": ts,
            "previous_message": previous,
        }

    def thread(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        return [
            message
            for message in self.messages.get(channel, [])
            if message["ts"] == thread_ts or message.get("thread_ts") == thread_ts
        ]

    def bot_replies(self, channel: str, thread_ts: str) -> list[str]:
        """What people see from the bot in the thread, oldest first."""
        return [message["visible"] for message in self.thread(channel, thread_ts) if message.get("user") == BOT_USER_ID]

    def bot_messages(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        return [message for message in self.thread(channel, thread_ts) if message.get("user") == BOT_USER_ID]

    def task_cards(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """The task cards the thread shows (each in its last state), in the order they appeared."""
        return [task for message in self.bot_messages(channel, thread_ts) for task in message.get("tasks", {}).values()]

    def streaming_messages(self) -> list[dict[str, Any]]:
        """Bot messages still streaming anywhere: a stream the bot started and never stopped."""
        return [m for messages in self.messages.values() for m in messages if m.get("streaming")]

    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    def posts(self) -> list[Call]:
        """Every call by which something would have appeared in Slack: a message, a stream, an edit, a
        private note. `[]` means the bot stayed quiet by every path."""
        return [call for call in self.calls if call.method in POSTING_METHODS]

    async def wait_for(self, condition: Callable[[], bool], within_seconds: float = 10.0) -> None:
        """Waits until `condition()` holds after some API call; fails the test after `within_seconds`."""
        async with asyncio.timeout(within_seconds), self._changed:
            await self._changed.wait_for(condition)

    async def wait_for_replies(
        self, channel: str, thread_ts: str, count: int = 1, within_seconds: float = 10.0
    ) -> list[str]:
        """Waits for `count` bot messages in the thread, none of them still streaming."""

        def arrived() -> bool:
            messages = self.bot_messages(channel, thread_ts)
            return len(messages) >= count and not any(message.get("streaming") for message in messages)

        await self.wait_for(arrived, within_seconds)
        return self.bot_replies(channel, thread_ts)

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                params.update(await request.json())
            else:
                params.update(await request.post())
        try:
            token = APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN
            if request.headers.get("Authorization") != f"Bearer {token}":
                return web.json_response({"ok": False, "error": "invalid_auth"})
            self.calls.append(Call(method, params))
            await self._notify()
            failed = await self._scripted_failure(method, request, lambda: self._take_effect(method, params))
            if failed is not None:
                return failed
            retry_after = self.rate_limiter.retry_after(method, params)
            if retry_after is not None:
                self.rate_limited[method] += 1
                return ratelimited(retry_after)
            if method in self.refused_methods:
                return web.json_response({"ok": False, "error": "not_allowed"})
            handler = getattr(self, "_" + method.replace(".", "_"), None)
            if handler is None:
                return web.json_response({"ok": False, "error": "unknown_method"})
            headers = {"x-oauth-scopes": ",".join(sorted(self.granted_scopes))} if method == "auth.test" else {}
            try:
                result = {"ok": True, **handler(params)}
            except ApiError as error:
                result = {"ok": False, "error": error.code}
            await self._slow_network(method)
            return web.json_response(result, headers=headers)
        finally:
            await self._notify()

    def _take_effect(self, method: str, params: dict[str, Any]) -> None:
        handler = getattr(self, "_" + method.replace(".", "_"))
        with contextlib.suppress(ApiError):  # its answer is lost either way
            handler(params)

    def _apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": self.url.replace("http://", "ws://").replace("/api/", "/socket")}

    async def push_event(self, envelope: dict[str, Any], retry_attempt: int = 0) -> str:
        """Sends an Events API envelope over Socket Mode, as Slack does (again, with `retry_attempt`: Slack
        redelivers an envelope that was not acknowledged); returns its envelope id."""
        return await self.push("events_api", envelope, f"env-{envelope['event_id']}-{retry_attempt}", retry_attempt)

    async def push(self, envelope_type: str, payload: dict[str, Any], envelope_id: str, retry_attempt: int = 0) -> str:
        """Sends a Socket Mode envelope (`events_api`, `interactive`, `slash_commands`); returns its id."""
        message = {"envelope_id": envelope_id, "type": envelope_type, "accepts_response_payload": True}
        reason = "timeout" if retry_attempt else ""
        await self.sockets[-1].send_json(
            {**message, "payload": payload, "retry_attempt": retry_attempt, "retry_reason": reason}
        )
        return envelope_id

    async def _respond(self, request: web.Request) -> web.Response:
        """A response URL; faults for it are scripted under the method name `response_url`."""
        body = await request.json()
        failed = self._response_url_failure(request)
        if failed is not None:
            return failed
        self.responses.append({"name": request.match_info["name"], **body})
        await self._notify()
        return web.Response(text="ok")

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        await socket.send_json({"type": "hello", "num_connections": 1})
        self.sockets.append(socket)
        await self._notify()
        async for frame in socket:
            acked = json.loads(frame.data).get("envelope_id") if frame.type == aiohttp.WSMsgType.TEXT else None
            if acked:
                self.socket_acks.append(acked)
                await self._notify()
        self.sockets.remove(socket)
        return socket

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"user_id": BOT_USER_ID, "bot_id": BOT_ID, "team_id": TEAM_ID, "user": "assistant", "team": "Test"}

    def _new_bot_message(self, channel: str, thread_ts: str | None) -> dict[str, Any]:
        message: dict[str, Any] = {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, "ts": self.next_ts()}
        if thread_ts:
            message["thread_ts"] = str(thread_ts)
        self.messages.setdefault(channel, []).append(message)
        return message

    def _find(self, channel: str, ts: str) -> dict[str, Any]:
        for message in self.messages.get(channel, []):
            if message["ts"] == ts:
                return message
        raise ApiError("message_not_found")

    def _set_content(self, message: dict[str, Any], params: dict[str, Any]) -> None:
        """What people see: Markdown (`markdown_text` or a `markdown` block) rendered, else the text."""
        blocks = params.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        message["text"] = params.get("text") or escaped(params.get("markdown_text") or "")
        if params.get("markdown_text"):
            check_length(params["markdown_text"], MARKDOWN_TEXT_LIMIT)
            message["visible"] = params["markdown_text"]
            message["blocks"] = [{"type": "markdown", "text": params["markdown_text"]}]
        elif blocks:
            markdown = [block["text"] for block in blocks if block.get("type") == "markdown"]
            check_length("".join(markdown), MARKDOWN_TEXT_LIMIT)
            message["visible"] = "".join(markdown) or message["text"]  # other blocks: Slack shows the text
            message["blocks"] = blocks
        else:
            message["visible"] = message["text"]
        message.setdefault("revisions", []).append(message["visible"])
        message["changed_at"] = time.monotonic()
        self._set_metadata(message, params)

    def _set_metadata(self, message: dict[str, Any], params: dict[str, Any]) -> None:
        """Message metadata, kept as Slack keeps it: returned by conversations.replies with include_all_metadata."""
        metadata = params.get("metadata")
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        if metadata:
            message["metadata"] = metadata

    def _chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._new_bot_message(str(params["channel"]), params.get("thread_ts"))
        self._set_content(message, params)
        return {"channel": params["channel"], "ts": message["ts"], "message": message}

    def _chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._find(str(params["channel"]), str(params["ts"]))
        self._set_content(message, params)
        message.pop("tasks", None)  # the message's blocks are replaced, its task cards with them
        return {"channel": params["channel"], "ts": message["ts"]}

    def _chat_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params["channel"])
        message = self._find(channel, str(params["ts"]))
        if message.get("user") != BOT_USER_ID:
            raise ApiError("cant_delete_message")
        self.messages[channel].remove(message)
        return {"channel": channel, "ts": message["ts"]}

    def _chat_startStream(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params["channel"])
        if channel[0] in "CG" and not (params.get("recipient_user_id") and params.get("recipient_team_id")):
            raise ApiError("invalid_arguments")
        self._check_chunks(params)
        if not params.get("markdown_text") and not params.get("chunks"):
            raise ApiError("invalid_arguments")
        message = self._new_bot_message(channel, str(params["thread_ts"]))
        message["streaming"] = True
        message["visible"] = message["text"] = ""
        message["revisions"] = []
        self._stream_append(message, params)
        return {"channel": channel, "ts": message["ts"]}

    def _chat_appendStream(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._find(str(params["channel"]), str(params["ts"]))
        if not message.get("streaming"):
            raise ApiError("message_not_in_streaming_state")
        self._check_chunks(params)
        self._stream_append(message, params)
        return {"channel": params["channel"], "ts": message["ts"]}

    def _chat_stopStream(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._find(str(params["channel"]), str(params["ts"]))
        if not message.get("streaming"):
            raise ApiError("message_not_in_streaming_state")
        self._check_chunks(params)
        self._stream_append(message, params)
        message["streaming"] = False
        self._set_metadata(message, params)
        blocks = params.get("blocks")
        if blocks:
            blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
            message["blocks"] = [{"type": "markdown", "text": message["visible"]}, *blocks]
        message["finished_at"] = time.monotonic()
        return {"channel": params["channel"], "ts": message["ts"]}

    def _check_chunks(self, params: dict[str, Any]) -> None:
        """Chunks as Slack takes them: `task_update` with an id, a title and a known status."""
        chunks = params.get("chunks")
        if not chunks:
            return
        if self.refuses_chunks:
            raise ApiError(self.refuses_chunks)
        if self.refuses_chunk is not None and any(self.refuses_chunk(chunk) for chunk in chunks):
            raise ApiError("invalid_arguments")
        for chunk in chunks:
            if chunk.get("type") != "task_update":
                raise ApiError("invalid_chunks")
            if set(chunk) - TASK_FIELDS or not chunk.get("id") or not chunk.get("title"):
                raise ApiError("invalid_chunks")
            if chunk.get("status") not in TASK_STATUSES:
                raise ApiError("invalid_chunks")

    def _stream_append(self, message: dict[str, Any], params: dict[str, Any]) -> None:
        """Text is appended; each task card is kept by its id, updated in place, in the order first seen."""
        for chunk in params.get("chunks") or []:
            message.setdefault("chunks", []).append(chunk)
            message.setdefault("tasks", {})[chunk["id"]] = chunk
        text = str(params.get("markdown_text") or "")
        check_length(text, MARKDOWN_TEXT_LIMIT)
        message["visible"] += text
        message["text"] = escaped(message["visible"])
        message["revisions"].append(message["visible"])
        message["changed_at"] = time.monotonic()

    def _assistant_threads_setStatus(self, params: dict[str, Any]) -> dict[str, Any]:
        self.statuses.append((str(params["channel_id"]), str(params["thread_ts"]), str(params["status"])))
        return {}

    def _assistant_threads_setSuggestedPrompts(self, params: dict[str, Any]) -> dict[str, Any]:
        prompts = params["prompts"]
        self.suggested_prompts[str(params["channel_id"])] = {
            "prompts": json.loads(prompts) if isinstance(prompts, str) else prompts,
            "title": params.get("title"),
        }
        return {}

    def _conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params["channel"])
        self._check_readable(channel)
        private = channel in self.private_channels
        return {
            "channel": {
                "id": channel,
                "name": self.channel_names.get(channel, channel.lower()),
                "is_channel": channel[0] == "C",
                "is_private": private,
                "is_im": channel[0] == "D",
                "context_team_id": TEAM_ID,
                "shared_team_ids": [TEAM_ID],
                "purpose": {"value": self.purposes.get(channel, "")},
                **self.channel_flags.get(channel, {}),
            }
        }

    def _conversations_members(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params["channel"])
        self._check_readable(channel)
        members = sorted(self.private_channels.get(channel) or self.channel_members.get(channel, set(self.users)))
        offset = int(params.get("cursor") or 0)
        limit = int(params.get("limit") or 100)
        more = offset + limit < len(members)
        return {
            "members": members[offset : offset + limit],
            "response_metadata": {"next_cursor": str(offset + limit) if more else ""},
        }

    def add_file(self, name: str, content: bytes, mimetype: str, **fields: Any) -> dict[str, Any]:
        """Stores a file; returns Slack's file object for a message's `files`."""
        file_id = f"F{len(self.files) + 1:06d}"
        self.files[file_id] = (content, mimetype)
        base = self.url.removesuffix("/api/")
        self.file_objects[file_id] = {
            "id": file_id,
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": name.rsplit(".", 1)[-1] if "." in name else "binary",
            "size": len(content),
            "mode": "hosted",
            "url_private": f"{base}/files/{file_id}/{name}",
            "url_private_download": f"{base}/files/{file_id}/{name}",
            **fields,
        }
        return dict(self.file_objects[file_id])

    def _files_info(self, params: dict[str, Any]) -> dict[str, Any]:
        file = self.file_objects.get(str(params["file"]))
        if file is None:
            raise ApiError("file_not_found")
        return {"file": file}

    async def _download(self, request: web.Request) -> web.Response:
        """Like Slack: without the bot token (or without `files:read`) the sign-in page, with status 200."""
        file_id = request.match_info["file_id"]
        self.download_attempts.append(file_id)
        await self._notify()
        authorized = request.headers.get("Authorization") == f"Bearer {BOT_TOKEN}"
        if not authorized or "files:read" not in self.granted_scopes or file_id not in self.files:
            return web.Response(text=SIGN_IN_PAGE, content_type="text/html")
        failed = await self._download_failure(request)
        if failed is not None:
            return failed
        content, mimetype = self.files[file_id]
        self.downloads.append(file_id)
        return web.Response(body=content, content_type=mimetype)

    def _assistant_search_context(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("action_token") != ACTION_TOKEN:
            raise ApiError("invalid_action_token")
        wanted = set(str(params.get("channel_types") or "public_channel").split(","))

        def kind(channel: str) -> str:
            return "private_channel" if channel in self.private_channels else "public_channel"

        hits = [
            hit for hit in self.search_hits if self.search_ignores_channel_types or kind(hit["channel_id"]) in wanted
        ]
        return {"results": {"messages": hits[: int(params.get("limit") or 20)]}}

    def _chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        self.ephemerals.append(dict(params))
        return {"message_ts": self.next_ts()}

    def _views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        view = params["view"]
        self.home_views[str(params["user_id"])] = json.loads(view) if isinstance(view, str) else view
        return {"view": {"id": "V1"}}

    def _reactions_add(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._find(str(params["channel"]), str(params["timestamp"]))
        message.setdefault("reactions", []).append(str(params["name"]))
        return {}

    def _reactions_remove(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._find(str(params["channel"]), str(params["timestamp"]))
        if str(params["name"]) not in message.get("reactions", []):
            raise ApiError("no_reaction")
        message["reactions"].remove(str(params["name"]))
        return {}

    def _check_readable(self, channel: str) -> None:
        if channel in self.read_refusals:
            raise ApiError(self.read_refusals[channel])
        if channel in self.private_channels and BOT_USER_ID not in self.private_channels[channel]:
            raise ApiError("channel_not_found")

    def _conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"channel": {"id": self.dm_channel(str(params["users"]))}}

    def _chat_getPermalink(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(params["channel"]), str(params["message_ts"])
        self._find(channel, ts)
        return {"channel": channel, "permalink": f"https://test.slack.com/archives/{channel}/p{ts.replace('.', '')}"}

    def _conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        """Top-level messages, newest first, each thread's parent with its `reply_count`."""
        channel = str(params["channel"])
        self._check_readable(channel)
        stored = self.messages.get(channel, [])
        replies: dict[str, int] = {}
        for message in stored:
            if message.get("thread_ts") and message["thread_ts"] != message["ts"]:
                replies[message["thread_ts"]] = replies.get(message["thread_ts"], 0) + 1
        top = [m for m in stored if not m.get("thread_ts") or m["thread_ts"] == m["ts"]]
        latest, oldest = params.get("latest"), params.get("oldest")
        if latest:
            top = [m for m in top if float(m["ts"]) < float(latest)]
        if oldest:
            top = [m for m in top if float(m["ts"]) > float(oldest)]
        top.sort(key=lambda message: float(message["ts"]), reverse=True)
        offset = int(params.get("cursor") or 0)
        limit = int(params.get("limit") or 100)
        page = json.loads(json.dumps(top[offset : offset + limit]))
        for message in page:
            if message["ts"] in replies:
                message.update(reply_count=replies[message["ts"]], thread_ts=message["ts"])
        has_more = offset + limit < len(top)
        return {
            "messages": [{k: v for k, v in m.items() if k not in FAKE_ONLY_FIELDS} for m in page],
            "has_more": has_more,
            "response_metadata": {"next_cursor": str(offset + limit) if has_more else ""},
        }

    def _conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        self._check_readable(str(params["channel"]))
        thread = self.thread(str(params["channel"]), str(params["ts"]))
        latest, oldest = params.get("latest"), params.get("oldest")
        if latest:
            thread = [message for message in thread if float(message["ts"]) <= float(latest)]
        if oldest:
            # Like Slack, the thread's parent comes first whatever the bounds.
            parent = str(params["ts"])
            thread = [m for m in thread if m["ts"] == parent or float(m["ts"]) >= float(oldest)]
        offset = int(params.get("cursor") or 0)
        limit = int(params.get("limit") or 1000)
        page = thread[offset : offset + limit]
        has_more = offset + limit < len(thread)
        with_metadata = str(params.get("include_all_metadata")).lower() in ("true", "1")
        return {
            "messages": [self._as_returned(message, with_metadata) for message in page],
            "has_more": has_more,
            "response_metadata": {"next_cursor": str(offset + limit) if has_more else ""},
        }

    def _as_returned(self, stored: dict[str, Any], with_metadata: bool = False) -> dict[str, Any]:
        message = {k: v for k, v in json.loads(json.dumps(stored)).items() if k not in FAKE_ONLY_FIELDS}
        if with_metadata and stored.get("metadata"):
            message["metadata"] = stored["metadata"]
        if not self.returns_markdown_blocks and message.get("blocks"):
            message["blocks"] = [block for block in message["blocks"] if block.get("type") != "markdown"]
        return message

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"user": self._user(str(params["user"]))}

    def _users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        """Everyone the fake knows of, paged as Slack pages it."""
        known = sorted({*self.users, *self.guests, *self.single_channel_guests, *self.user_teams, BOT_USER_ID})
        offset = int(params.get("cursor") or 0)
        limit = int(params.get("limit") or 100)
        more = offset + limit < len(known)
        return {
            "members": [self._user(user_id) for user_id in known[offset : offset + limit]],
            "response_metadata": {"next_cursor": str(offset + limit) if more else ""},
        }

    def _user(self, user_id: str) -> dict[str, Any]:
        name = self.users.get(user_id, user_id.lower())
        return {
            "id": user_id,
            "team_id": self.user_teams.get(user_id, TEAM_ID),
            "name": name.lower(),
            "is_restricted": user_id in self.guests,
            "is_ultra_restricted": user_id in self.single_channel_guests,
            "profile": {"display_name": name, "real_name": name},
        }
