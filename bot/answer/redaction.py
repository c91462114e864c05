"""Masks sensitive values in text before it goes to the model; what Slack shows is never changed.

Each value found is replaced by a labelled placeholder (`[email]`, `[card number]`, ...), so the model
still knows what was there. Placeholders hold no line breaks and matches never take one past the value,
so code blocks keep their fences and indentation. Numbers are masked only when a check says they are what
they look like (Luhn for cards, ISO 7064 for IBANs, libphonenumber's validity rules for phone numbers),
so timestamps, versions, ids and Slack `ts` values stay as written.

What code and logs are made of is left alone, because the model needs it to answer:
- a bare run of digits (`4155550100`: no `+`, no spaces, dashes, dots or brackets) is an order id, a
  build number or a Unix timestamp far more often than a phone number, so it is masked only right after
  a word that says it is one ("call me at", "phone:", "tel.", "mobile #", a record's `"phone":` key); a
  number with a `+` or written in groups (`+1 415 555 0100`, `(415) 555-0100`, `415-555-0100`,
  `+44 20 7946 0958`) is masked anywhere;
- a number glued to a longer token (`415-555-0100-rc1`, `v1.415-555-0100`), or written as an IPv4
  address, is not a phone number; dates, UUIDs and hex hashes fail the checks above;
- `user@host` in a URL (`ssh://git@github.com/...`) or before `:path` (an scp-style remote such as
  `git@github.com:owner/repo.git`) is not an email address; the password in a URL is masked.
Card numbers are found whatever separates their groups: spaces (also the no-break, thin and narrow ones
PDFs and banking apps use), dashes, or dots in a card's grouping (`4111.1111.1111.1111`).

Code blocks and `inline code` are masked by exactly the same rules as prose: people paste customer
records and logs into them, and wrapping a value in backticks does not make it less personal.

Modes: `off`; `default` (cards, emails, phone numbers, IBANs, secrets); `strict` adds the names of people
other than those speaking in the conversation, and the operator's own patterns (`REDACT_PATTERNS`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import phonenumbers
from stdnum import iban, luhn

from bot.model.messages import ChatMessage

Replacement = Callable[[re.Match[str]], str]

# Secrets, most specific first: a private-key block may hold text that looks like a token.
PRIVATE_KEY = re.compile(
    r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----"
    r"(?:.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|(?:\s*[A-Za-z0-9+/=:,-]+)*)",
    re.DOTALL,
)
SECRETS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{8,}"), "[JWT]"),
    (re.compile(r"\bxox[abposre]-[A-Za-z0-9-]{10,}|\bxapp-\d-[A-Za-z0-9-]{10,}"), "[Slack token]"),
    (re.compile(r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]+"), "[Slack webhook]"),
    (re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b"), "[AWS key]"),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b|\bgithub_pat_[A-Za-z0-9_]{22,}"), "[GitHub token]"),
)
# The value after a name that says it is an AWS secret key (40 characters of base64, no fixed prefix).
AWS_SECRET = re.compile(r"(?i)(aws.?secret.?access.?key[\"']?\s*[:=]\s*[\"']?)[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])")
BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/-]{8,}=*")
# An address, not the user part of a URL (`ssh://git@host/...`), nor an scp-style remote
# (`git@github.com:owner/repo.git`): a colon and a path right after the host make it a remote.
EMAIL = re.compile(
    r"(?<![\w.+-])(?<!://)[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
    r"(?![\w-]|\.[\w-]|:[\w~/.-])"
)
# The password in a URL's user part (`postgres://app:secret@db.example.com`); the user and host stay.
# (The scheme is looked for from the start of a run of its characters only: from each letter of a long dotted
# run, its search was quadratic.)
URL_PASSWORD = re.compile(r"(?i)(?<![a-z0-9+.-])([a-z][a-z0-9+.-]*://[^\s/?#@:]*:)[^\s/?#@]+(?=@)")
# What PDFs, banking apps and people put between the digit groups of a card or an IBAN: spaces (plain,
# no-break, figure, thin, narrow no-break) and dashes; dots for cards too, checked against a card's grouping.
GROUP_SPACES = " \u00a0\u2007\u2009\u202f"
# 13 to 19 digits, in groups, not part of a longer number or a decimal.
# (An underscore next to it is Slack's _italics_, not part of a longer token.)
CARD = re.compile(rf"(?<![^\W_]|[.,-])\d{{4}}(?:[{GROUP_SPACES}.-]?\d){{9,15}}(?![^\W_]|-|[.,]\d)")
# Group lengths of dotted card numbers: fours (the last group may be shorter), or Amex's and Diners' 4-6-5/4-6-4.
CARD_GROUPINGS = re.compile(r"\d{4}(?:\.\d{4})*(?:\.\d{1,4})?|\d{4}\.\d{6}\.\d{4,5}")
IBAN_CANDIDATE = re.compile(
    rf"(?<![\w-])[A-Z]{{2}}\d{{2}}(?:[{GROUP_SPACES}]?[A-Z0-9]){{11,30}}(?![\w-])", re.IGNORECASE
)
# Numbers written without a country code are read as North American ones; others need their +code.
PHONE_REGION = "US"
NO_SPACES = dict.fromkeys(map(ord, GROUP_SPACES))
# Words that make a bare run of digits a phone number: "call me at 4155550100", "tel: 4155550100", and the
# keys of pasted records (`"phone": "4155550100"`, `phone_number=4155550100`, `mobilePhone: 4155550100`).
PHONE_CUE = re.compile(
    r"(?i)(?:phone|tel|mobile|cell|fax|whatsapp|sms|call|text(?=\s+(?:me|us)))"
    r"(?:[\s_-]*(?:no\.?|number|num|nr))?(?:\s+(?:me|us))?(?:\s+(?:at|on))?"
    r"(?:\s+is)?[\s\"'\uff1a:=#.>-]*\Z"
)
# How far before a bare run of digits PHONE_CUE is looked for.
PHONE_CUE_REACH = 40
# An IPv4 address, which libphonenumber reads as a number with dots between its groups.
IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
# What glues a number to a longer token (an id, a version, a file name): a letter or digit, or a dot or
# dash next to one. An underscore is Slack's _italics_ around it.
GLUED_AFTER = re.compile(r"[^\W_]|@|[.-]\w")
GLUED_BEFORE = re.compile(r"(?:[^\W_]|@|\w[.-])\Z")
NAME_BOUNDARY = r"(?<![\w.-]){}(?![\w-])"


@dataclass(frozen=True)
class Redactor:
    mode: str = "default"
    patterns: tuple[str, ...] = ()
    _compiled: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_compiled", tuple(re.compile(pattern) for pattern in self.patterns))

    def redact(self, text: str, names: Collection[str] = ()) -> str:
        """`text` with every sensitive value replaced; `names` (people) are masked in strict mode only."""
        if self.mode == "off" or not text:
            return text
        text = PRIVATE_KEY.sub("[private key]", text)
        for pattern, label in SECRETS:
            text = pattern.sub(label, text)
        text = AWS_SECRET.sub(lambda match: match.group(1) + "[AWS secret key]", text)
        text = BEARER.sub(lambda match: match.group(1) + "[token]", text)
        if "@" in text:  # most messages hold none: skip two scans
            text = URL_PASSWORD.sub(lambda match: match.group(1) + "[password]", text)
            text = EMAIL.sub("[email]", text)
        text = IBAN_CANDIDATE.sub(_iban, text)
        text = CARD.sub(lambda match: "[card number]" if _is_card(match.group()) else match.group(), text)
        text = _mask_phone_numbers(text)
        if self.mode == "strict":
            for pattern in self._compiled:
                text = pattern.sub("[redacted]", text)
            people = _names_pattern(tuple(sorted(set(names), key=len, reverse=True)))
            if people is not None:
                text = people.sub("[person]", text)
        return text

    def redact_messages(self, messages: Sequence[ChatMessage], names: Collection[str] = ()) -> list[ChatMessage]:
        """Every message's text masked; anything else about a message (its role, images) kept."""
        if self.mode == "off":
            return list(messages)
        return [dataclasses.replace(message, content=self.redact(message.content, names)) for message in messages]


def _is_card(candidate: str) -> bool:
    if "." in candidate and not CARD_GROUPINGS.fullmatch(candidate):
        return False
    # Any script's digits (full-width, Arabic-Indic, ...) are checked as the number they write.
    digits = "".join(str(int(character)) for character in candidate if character.isdecimal())
    # Card numbers start with 2 to 6 (Mastercard, Amex, Visa, Discover, ...); ids often start with 1.
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn.is_valid(digits)


def _iban(match: re.Match[str]) -> str:
    """The longest prefix of the candidate that is a valid IBAN (a word may follow it), masked."""
    candidate = match.group()
    for end in range(len(candidate), 14, -1):
        if not candidate[end - 1].isspace() and iban.is_valid(candidate[:end].translate(NO_SPACES).upper()):
            return "[IBAN]" + candidate[end:]
    return candidate


def _mask_phone_numbers(text: str) -> str:
    if not any(character.isdigit() for character in text):
        return text
    pieces: list[str] = []
    position = 0
    matcher = phonenumbers.PhoneNumberMatcher(text, PHONE_REGION, leniency=phonenumbers.Leniency.VALID)
    for found in matcher:
        if not _is_phone_number(text, found.start, found.end):
            continue
        pieces.append(text[position : found.start])
        pieces.append("[phone number]")
        position = found.end
    pieces.append(text[position:])
    return "".join(pieces)


def _is_phone_number(text: str, start: int, end: int) -> bool:
    """Whether a number libphonenumber found is written as people write phone numbers, not as ids are.

    A bare run of digits (no `+`, no separators: `4155550100`) is far more often an order id, a build
    number or a Unix timestamp than a phone number: it counts only after a word such as "call" or
    "phone". A number glued to a longer token (`415-555-0100-rc1`, `v1.4155550100`) or written as an
    IPv4 address is no phone number either."""
    written = text[start:end]
    if IPV4.fullmatch(written) or GLUED_AFTER.match(text, end):
        return False
    if written[0].isdecimal() and GLUED_BEFORE.search(text, max(0, start - 2), start):
        return False
    return not written.isdecimal() or PHONE_CUE.search(text, max(0, start - PHONE_CUE_REACH), start) is not None


def private_names(names: Mapping[str, str], speakers: Collection[str]) -> frozenset[str]:
    """The names of people the conversation mentions who are not speaking in it."""
    spoken = {names.get(speaker, speaker) for speaker in speakers}
    return frozenset(name for user, name in names.items() if user not in speakers and name not in spoken)


@lru_cache(maxsize=256)
def _names_pattern(names: tuple[str, ...]) -> re.Pattern[str] | None:
    names = tuple(name for name in names if name.strip())
    if not names:
        return None
    return re.compile(NAME_BOUNDARY.format("(?:" + "|".join(re.escape(name) for name in names) + ")"))
