"""Makes text from outside the bot (a service's error, an exception, a log field) safe to show in Slack or log.

Redaction comes before the cut, so a secret that straddles the cut is still found whole. Redacted are:
every secret the bot holds, whole or any piece of 8 or more characters of it (a service may echo part
of a key, or a cut may have ended one), and anything shaped like a credential whoever's it is.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Iterable

from bot import linear_regex
from bot.linear_regex import SPACE, WORD, Match, Pattern, is_word

REDACTED = "[redacted]"
# The shortest piece of a secret that is masked on its own; shorter secrets are masked only whole.
FRAGMENT_CHARS = 8
SHORTEST_SECRET = 4

# Cheap to look for (in the case-folded text, as RE2's (?i) reads it); the shapes below are searched for
# only in text that has one of these. Every pattern here runs on RE2, in time linear in the text
# (bot/linear_regex.py), and is called only where it may match: a log line has a dozen fields, and each
# RE2 call lets go of the GIL, which a busy thread then holds for up to 5 ms.
TOKEN_HINTS = ("xox", "xapp-", "sk-", "inf-", "bearer ", "bearer\t", "basic ", "basic\t", "://")
# Text up to this long is looked through for a piece of a secret in plain code, not by RE2.
SHORT_TEXT = 160
# user:password in a URL (redis://:password@host), between `://` and `@`, which stay.
URL_CREDENTIALS = linear_regex.compile(rf"://[^/{SPACE}:@]*:[^/{SPACE}@]+@")
# Group 1, kept: the start of the text or a character that is not a word character (Python's `\b`).
TOKEN = linear_regex.compile(
    rf"(?i)(\A|[^{WORD}])(?:"
    r"xox[a-z]\.xox[a-z]-[A-Za-z0-9-]+"  # Slack rotating tokens (xoxe.xoxp-…)
    r"|xox[a-z]-[A-Za-z0-9-]{6,}"  # Slack bot, user and refresh tokens (xoxb-, xoxp-, xoxe-)
    r"|xapp-[A-Za-z0-9-]{6,}"  # Slack app-level tokens
    r"|sk-[A-Za-z0-9_-]{12,}"  # OpenAI- and Anthropic-style keys (sk-…, sk-proj-…, sk-ant-…)
    r"|inf-[A-Za-z0-9_-]{8,}"  # Heroku Managed Inference keys (INFERENCE_KEY)
    r")"
)
# Authorization: Bearer <anything>, Basic <base64>; the scheme (group 1 or 2) kept.
# After the scheme, spaces and tabs (a header typed by hand, a log's alignment).
AUTHORIZATION = linear_regex.compile(
    rf"(?i)((?:\A|[^{WORD}])(?:Bearer[ \t]+)+)[^{SPACE}]+|((?:\A|[^{WORD}])Basic[ \t]+)[A-Za-z0-9+/=]{{8,}}"
)

# Longer runs of letters after Bearer or Basic are taken for a token, not a word of prose.
LONGEST_WORD = 20
# How far before a scheme `Authorization:` is looked for, and what may stand between them.
HEADER_LOOKBACK = 24
QUOTES_AND_SPACES = " \t\"'"

# Slack's control sequences (<!here>, <!channel>, <@U123>, <#C123|name>, <!subteam^S1>) and a bare
# @here, @channel or @everyone (not after a word character or `@`, not before a word character): in a
# service's words they would ping people or disguise a link.
SLACK_CONTROL = linear_regex.compile(r"(?i)<([!@#])([^<>]*)>|@(here|channel|everyone)")
WORD_JOINER = "\u2060"


def inert_markup(text: str) -> str:
    """Outside text (a URL, a name, a service's words) as it reads, but linking and pinging nothing in
    Slack's mrkdwn or in Markdown: `inert_in_slack`, then a word joiner after every `<` and between `]`
    and `(`, so `[re-authenticate](https://evil.example)` is shown as written, not as a link."""
    return inert_in_slack(text).replace("](", "]" + WORD_JOINER + "(").replace("<", "<" + WORD_JOINER)


def inert_in_slack(text: str) -> str:
    """`text` as Slack shows it, but pinging no one: each control sequence loses its brackets and gets an
    invisible word joiner after its sigil (`<!channel>` reads as `!channel`, `@here` stays `@here`)."""
    text = linear_regex.encodable(text)

    def inert(match: Match) -> str:
        if match.group(3) is None:
            return match.group(1) + WORD_JOINER + match.group(2)
        start, end = match.span()
        if (start > 0 and (is_word(text[start - 1]) or text[start - 1] == "@")) or (
            end < len(text) and is_word(text[end])
        ):
            return match.group()
        return "@" + WORD_JOINER + match.group(3)

    return SLACK_CONTROL.sub(inert, text)


def safe_text(text: str, secrets: Iterable[str] = (), *, limit: int | None = None) -> str:
    """`text` with every secret and credential-shaped string masked, then cut to `limit` characters."""
    text = linear_regex.encodable(text)
    masked = _mask_secrets(text, tuple(secret for secret in secrets if len(secret) >= SHORTEST_SECRET))
    folded = masked.casefold()
    if any(hint in folded for hint in TOKEN_HINTS):
        masked = URL_CREDENTIALS.sub("://" + REDACTED + "@", masked)
        masked = AUTHORIZATION.sub(_masked_authorization, masked)
        masked = TOKEN.sub(lambda match: match.group(1) + REDACTED, masked)
    if limit is None or len(masked) <= limit:
        return masked
    end = limit - 1
    marker = masked.rfind(REDACTED, 0, end + len(REDACTED))
    if marker != -1 and marker < end < marker + len(REDACTED):
        end = marker  # never half a marker
    return masked[:end].rstrip() + "…"


def _masked_authorization(match: Match) -> str:
    """Bearer <anything>, Basic <base64> masked; not a word after either ("invalid Bearer token", "a basic
    understanding", Slack's "Basic Information/App Credentials" page, which hints name), unless it is base64 of
    user:password."""
    scheme = match.group(1) or match.group(2)
    value = match.group(0)[len(scheme) :]
    if _in_a_header(match):
        return scheme + REDACTED
    if match.group(2):
        # Basic's alphabet is base64's: a word ends at `/`, `+` or `=`, and a credential decodes to user:password.
        if _starts_with_a_word(value) and not _is_user_and_password(value):
            return match.group(0)
    elif _starts_with_a_word(value, whole=True):
        return match.group(0)
    return scheme + REDACTED


def _in_a_header(match: Match) -> bool:
    """After `Authorization:` (or `"Authorization": "`, `authorization=`), whatever follows the scheme is one."""
    start = match.start()
    before = match.string[max(0, start - HEADER_LOOKBACK) : start + 1].casefold().rstrip(QUOTES_AND_SPACES)
    return before[-1:] in (":", "=") and before[:-1].rstrip(QUOTES_AND_SPACES).endswith("authorization")


def _starts_with_a_word(value: str, *, whole: bool = False) -> bool:
    """`understanding`, `Information`, `Information/…`: ASCII letters, lower-case after the first, then the end
    or a character that is not a word character; `whole`: no word character after that either (`token,`, not
    `abc.def.ghi`): a credential mixes cases and digits."""
    if not value[:1].isascii() or not value[:1].isalpha():
        return False
    rest = value[1:]
    lower = len(rest) - len(rest.lstrip("abcdefghijklmnopqrstuvwxyz"))
    if lower + 1 > LONGEST_WORD:
        return False  # no word of prose: letters a token may be made of
    after = rest[lower:] if whole else rest[lower : lower + 1]
    return lower > 0 and not any(is_word(character) for character in after)


def _is_user_and_password(value: str) -> bool:
    """Whether `value` is base64 of `user:password`, as HTTP Basic sends it."""
    if len(value) % 4:
        return False
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return ":" in decoded


def _mask_secrets(text: str, secrets: tuple[str, ...]) -> str:
    if not secrets:
        return text
    whole, pieces, piece_set = _secret_patterns(secrets)
    if len(text) <= SHORT_TEXT and not _holds_secret(text, secrets, piece_set):
        return text
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
        while text[end - FRAGMENT_CHARS + 1 : end + 1] in piece_set:
            end += 1
        spans.append((start, end))
    for start, end in reversed(spans):
        text = text[:start] + REDACTED + text[end:]
    return text


def _holds_secret(text: str, secrets: tuple[str, ...], piece_set: frozenset[str]) -> bool:
    """Whether the patterns of `_secret_patterns` would find anything: a secret whole, or a piece of one."""
    if any(secret in text for secret in secrets):
        return True
    return any(text[start : start + FRAGMENT_CHARS] in piece_set for start in range(len(text) - FRAGMENT_CHARS + 1))


@functools.lru_cache(maxsize=16)
def _secret_patterns(secrets: tuple[str, ...]) -> tuple[Pattern | None, Pattern | None, frozenset[str]]:
    """(every secret whole, every 8-character piece of the longer ones, those pieces): any piece of 8+
    characters of a secret is a run of such pieces."""
    whole = sorted(set(secrets), key=len, reverse=True)
    pieces = frozenset(
        secret[start : start + FRAGMENT_CHARS]
        for secret in secrets
        if len(secret) > FRAGMENT_CHARS
        for start in range(len(secret) - FRAGMENT_CHARS + 1)
    )
    return (
        linear_regex.compile("|".join(map(linear_regex.escape, whole))) if whole else None,
        linear_regex.compile("|".join(map(linear_regex.escape, sorted(pieces)))) if pieces else None,
        pieces,
    )
