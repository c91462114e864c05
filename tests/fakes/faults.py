"""Failures a test scripts into the fake Slack: an HTTP error, a Slack error, a dropped connection, a hang, an HTML
page where JSON was expected, or a call that lands but whose answer is lost; a slow network; a broken download.

`FakeSlack` takes them from `FaultInjection`: a test sets its attributes (`fake_slack.faults[method] = [...]`),
and the fake calls its hooks before it answers."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from tests.fakes.rate_limits import ratelimited

# What Slack serves a browser that is not signed in, and what a proxy or a login wall serves where JSON was expected.
SIGN_IN_PAGE = (
    "<!DOCTYPE html><html><head><title>Slack</title></head>"
    "<body><h1>Sign in to your workspace</h1><form><input name='email'></form></body></html>"
)


@dataclass
class Fault:
    """One scripted failure for a method: an HTTP status, a Slack error, and optional headers,
    or a connection dropped without an answer, or a call that never gets one (`hang`), or a proxy's
    HTML page where JSON was expected (`html`). With `lands`, the call takes effect first and only
    its answer is lost: the caller cannot tell whether it did."""

    status: int = 200
    error: str = "internal_error"
    headers: dict[str, str] = field(default_factory=dict)
    drop_connection: bool = False
    hang: bool = False
    html: bool = False
    lands: bool = False


class FaultInjection:
    """What a test scripts, and the hooks by which the fake Slack plays it.

    `faults[method]`: played in order, one a call (`response_url` for the response URLs), then calls succeed
    again. A scripted 429 with `Retry-After` is enforced as Slack does: a call before then is refused again.
    `latency[method]`: seconds every answer of the method takes to arrive. `dropped_downloads`,
    `hung_downloads`: how many of the next file downloads lose their connection, or never answer. A hang
    ends (with the fault's error) on `release_hangs()`, or when the fake stops."""

    def __init__(self) -> None:
        self.faults: dict[str, list[Fault]] = {}
        self.latency: dict[str, float] = {}
        self.limited_until: dict[str, float] = {}
        self.dropped_downloads = 0  # the next this many downloads lose their connection
        self.hung_downloads = 0  # the next this many downloads never answer
        self._hangs_released = asyncio.Event()

    def release_hangs(self) -> None:
        """Lets every call held by a `hang` fault end (with the fault's error), as a network would time out."""
        self._hangs_released.set()

    async def _scripted_failure(
        self, method: str, request: web.Request, take_effect: Callable[[], None]
    ) -> web.Response | None:
        """The answer a call gets instead of Slack's, or None: no fault is due and the call goes on.
        `take_effect` does what the call asks, for a fault that `lands`."""
        waited = self.limited_until.get(method, 0.0) - time.monotonic()
        if waited > 0:
            # Like Slack: a caller that does not wait out Retry-After is refused again.
            return ratelimited(math.ceil(waited))
        faults = self.faults.get(method)
        if not faults:
            return None
        fault = faults.pop(0)
        if fault.lands:
            take_effect()
        if fault.status == 429 and "Retry-After" in fault.headers:
            self.limited_until[method] = time.monotonic() + float(fault.headers["Retry-After"])
        if fault.hang:
            await self._hangs_released.wait()
        if fault.drop_connection and request.transport is not None:
            request.transport.abort()
        if fault.html:
            return web.Response(text=SIGN_IN_PAGE, content_type="text/html", status=fault.status)
        return web.json_response({"ok": False, "error": fault.error}, status=fault.status, headers=fault.headers)

    async def _slow_network(self, method: str) -> None:
        """The answer is what Slack held when the call arrived; a slow network delivers it later."""
        await asyncio.sleep(self.latency.get(method, 0))

    def _response_url_failure(self, request: web.Request) -> web.Response | None:
        """A response URL's scripted fault (under the method name `response_url`), or None."""
        faults = self.faults.get("response_url")
        if not faults:
            return None
        fault = faults.pop(0)
        if fault.drop_connection and request.transport is not None:
            request.transport.abort()
        return web.Response(status=fault.status if fault.status != 200 else 404, text=fault.error)

    async def _download_failure(self, request: web.Request) -> web.Response | None:
        """A hung download waits for `release_hangs`; a dropped one loses its connection; None: it is served."""
        if self.hung_downloads:
            self.hung_downloads -= 1
            await self._hangs_released.wait()
        if self.dropped_downloads and request.transport is not None:
            self.dropped_downloads -= 1
            request.transport.abort()
            return web.Response(status=500)
        return None
