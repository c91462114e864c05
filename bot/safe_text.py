"""Makes text from outside the bot (a service's error, an exception, a log field) safe to show in Slack or log.

Redaction comes before the cut, so a secret that straddles the cut is still found whole. Redacted are:
every secret the bot holds, whole or any piece of 8 or more characters of it (a service may echo part
of a key, or a cut may have ended one), and anything shaped like a credential whoever's it is.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

REDACTED = "[redacted]"
# The shortest piece of a secret that is masked on its own; shorter secrets are masked only whole.
FRAGMENT_CHARS = 8
SHORTEST_SECRET = 4

# Cheap to look for; the shapes below are searched for only in text that has one of these.
TOKEN_HINTS = re.compile(r"xox|xapp-|sk-|inf-|bearer |basic |://", re.IGNORECASE)
TOKEN_SHAPES = re.compile(
    r"""
      \bxox[a-z]\.xox[a-z]-[A-Za-z0-9-]+      # Slack rotating tokens (xoxe.xoxp-…)
    | \bxox[a-z]-[A-Za-z0-9-]{6,}             # Slack bot, user and refresh tokens (xoxb-, xoxp-, xoxe-)
    | \bxapp-[A-Za-z0-9-]{6,}                 # Slack app-level tokens
    | \bsk-[A-Za-z0-9_-]{12,}                 # OpenAI- and Anthropic-style keys (sk-…, sk-proj-…, sk-ant-…)
    | \binf-[A-Za-z0-9_-]{8,}                 # Heroku Managed Inference keys (INFERENCE_KEY)
    | (?<=\bBearer\ )\S+                      # Authorization: Bearer <anything>
    # Authorization: Basic <base64>; not a capitalised word (Slack's "Basic Information" page, named in hints)
    | (?<=\bBasic\ )(?!(?-i:[A-Z][a-z]+)\b)[A-Za-z0-9+/=]{8,}
    | (?<=://)[^/\s:@]*:[^/\s@]+(?=@)         # user:password in a URL (redis://:password@host)
    """,
    re.VERBOSE | re.IGNORECASE,
)


# Slack's control sequences (<!here>, <!channel>, <@U123>, <#C123|name>, <!subteam^S1>) and a bare
# @here, @channel or @everyone: in a service's words they would ping people or disguise a link.
SLACK_CONTROL = re.compile(r"<([!@#])([^<>]*)>|(?<![\w@])@(?=(?:here|channel|everyone)\b)", re.IGNORECASE)
WORD_JOINER = "\u2060"


def inert_in_slack(text: str) -> str:
    """`text` as Slack shows it, but pinging no one: each control sequence loses its brackets and gets an
    invisible word joiner after its sigil (`<!channel>` reads as `!channel`, `@here` stays `@here`)."""
    return SLACK_CONTROL.sub(_inert, text)


# What makes a link in Markdown (`[label](url)`, `<url>`) or in mrkdwn (`<url|label>`).
LINK_MARKUP = re.compile(r"(?<=\])(?=\()|(?<=<)")


def inert_markup(text: str) -> str:
    """Outside text (a URL, a name, a service's words) as it reads, but linking and pinging nothing in
    Slack's mrkdwn or in Markdown: `inert_in_slack`, then a word joiner after every `<` and between `]`
    and `(`, so `[re-authenticate](https://evil.example)` is shown as written, not as a link."""
    return LINK_MARKUP.sub(WORD_JOINER, inert_in_slack(text))


def _inert(match: re.Match[str]) -> str:
    if match.group(1) is None:
        return "@" + WORD_JOINER
    return match.group(1) + WORD_JOINER + match.group(2)


def safe_text(text: str, secrets: Iterable[str] = (), *, limit: int | None = None) -> str:
    """`text` with every secret and credential-shaped string masked, then cut to `limit` characters."""
    masked = _mask_secrets(text, tuple(secret for secret in secrets if len(secret) >= SHORTEST_SECRET))
    if TOKEN_HINTS.search(masked):
        masked = TOKEN_SHAPES.sub(REDACTED, masked)
    if limit is None or len(masked) <= limit:
        return masked
    end = limit - 1
    marker = masked.rfind(REDACTED, 0, end + len(REDACTED))
    if marker != -1 and marker < end < marker + len(REDACTED):
        end = marker  # never half a marker
    return masked[:end].rstrip() + "…"


def _mask_secrets(text: str, secrets: tuple[str, ...]) -> str:
    if not secrets:
        return text
    whole, pieces = _secret_patterns(secrets)
    if whole is not None:
        text = whole.sub(REDACTED, text)
    if pieces is None:
        return text
    spans: list[tuple[int, int]] = []
    for match in pieces.finditer(text):
        start, end = match.span()
        if spans and start <= spans[-1][1]:
            start = spans.pop()[0]
        # Pieces overlap (finditer does not report overlapping matches): extend while they continue.
        while pieces.match(text, end - FRAGMENT_CHARS + 1):
            end += 1
        spans.append((start, end))
    for start, end in reversed(spans):
        text = text[:start] + REDACTED + text[end:]
    return text


@functools.lru_cache(maxsize=16)
def _secret_patterns(secrets: tuple[str, ...]) -> tuple[re.Pattern[str] | None, re.Pattern[str] | None]:
    """(every secret whole, every 8-character piece of the longer ones): any piece of 8+ characters of a
    secret is a run of such pieces."""
    whole = sorted(set(secrets), key=len, reverse=True)
    pieces = {
        secret[start : start + FRAGMENT_CHARS]
        for secret in secrets
        if len(secret) > FRAGMENT_CHARS
        for start in range(len(secret) - FRAGMENT_CHARS + 1)
    }
    return (
        re.compile("|".join(map(re.escape, whole))) if whole else None,
        re.compile("|".join(map(re.escape, sorted(pieces)))) if pieces else None,
    )
