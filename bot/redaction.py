"""Masks sensitive values in text before it goes to the model; what Slack shows is never changed.

Each value found is replaced by a labelled placeholder (`[email]`, `[card number]`, ...), so the model
still knows what was there. Placeholders hold no line breaks and matches never take one past the value,
so code blocks keep their fences and indentation. Numbers are masked only when a check says they are what
they look like (Luhn for cards, ISO 7064 for IBANs, libphonenumber's validity rules for phone numbers),
so timestamps, versions, ids and Slack `ts` values stay as written.

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

from bot.model_client import ChatMessage

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
EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
# 13 to 19 digits, in groups separated by single spaces or dashes, not part of a longer number or a decimal.
CARD = re.compile(r"(?<![\w.,-])\d{4}(?:[ -]?\d){9,15}(?![\w-]|[.,]\d)")
IBAN_CANDIDATE = re.compile(r"(?<![\w-])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}(?![\w-])", re.IGNORECASE)
# Numbers written without a country code are read as North American ones; others need their +code.
PHONE_REGION = "US"
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
    # Any script's digits (full-width, Arabic-Indic, ...) are checked as the number they write.
    digits = "".join(str(int(character)) for character in candidate if character.isdecimal())
    # Card numbers start with 2 to 6 (Mastercard, Amex, Visa, Discover, ...); ids often start with 1.
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn.is_valid(digits)


def _iban(match: re.Match[str]) -> str:
    """The longest prefix of the candidate that is a valid IBAN (a word may follow it), masked."""
    candidate = match.group()
    for end in range(len(candidate), 14, -1):
        if candidate[end - 1] != " " and iban.is_valid(candidate[:end].upper()):
            return "[IBAN]" + candidate[end:]
    return candidate


def _mask_phone_numbers(text: str) -> str:
    if not any(character.isdigit() for character in text):
        return text
    pieces: list[str] = []
    position = 0
    matcher = phonenumbers.PhoneNumberMatcher(text, PHONE_REGION, leniency=phonenumbers.Leniency.VALID)
    for found in matcher:
        pieces.append(text[position : found.start])
        pieces.append("[phone number]")
        position = found.end
    pieces.append(text[position:])
    return "".join(pieces)


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
