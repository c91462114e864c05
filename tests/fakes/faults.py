"""Failures a test scripts into the fake Slack: an HTTP error, a Slack error, a dropped connection, a hang, an HTML
page where JSON was expected, or a call that lands but whose answer is lost."""

from __future__ import annotations

from dataclasses import dataclass, field


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
