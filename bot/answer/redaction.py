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

Secrets are masked by their shape: private keys (PEM, OpenSSH, PGP), JWTs, Slack, AWS, GitHub, GitLab,
OpenAI, Anthropic, Google, Stripe and npm credentials, HTTP Basic and Bearer credentials, passwords in URLs,
and the values of `PASSWORD=`, `SECRET=`, `TOKEN=` and `API_KEY=` lines of a pasted `.env`.

Every pattern runs on RE2 (bot/linear_regex.py), in time linear in the text: a pasted file can't stall the
bot. What Python's `re` wrote as lookbehind or lookahead is a check, in code, of the characters around a match.

Modes: `off`; `default` (cards, emails, phone numbers, IBANs, secrets); `strict` adds the names of people
other than those speaking in the conversation, and the operator's own patterns (`REDACT_PATTERNS`).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import phonenumbers
from stdnum import iban, luhn, numdb

from bot import linear_regex
from bot.linear_regex import DIGIT, SPACE, WORD, Match, Pattern, is_word
from bot.model.messages import ChatMessage

# Where a value that starts with a word character may start (Python's `\b` before it): group 1, kept.
AFTER_BOUNDARY = rf"(\A|[^{WORD}])"
CLOSING = {"(": ")", "[": "]"}

# The placeholders that replace secrets, which a later pattern leaves as they are.
LABELS = (
    "[private key]",
    "[JWT]",
    "[Slack token]",
    "[Slack webhook]",
    "[AWS key]",
    "[GitHub token]",
    "[GitLab token]",
    "[API key]",
    "[Google API key]",
    "[Stripe key]",
    "[npm token]",
    "[AWS secret key]",
    "[secret]",
    "[token]",
    "[credentials]",
)
# Secrets, most specific first: a private-key block may hold text that looks like a token.
PRIVATE_KEY_NAME = r"(?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
PRIVATE_KEY_BEGIN = linear_regex.compile("-----BEGIN " + PRIVATE_KEY_NAME)
PRIVATE_KEY_END = linear_regex.compile("-----END " + PRIVATE_KEY_NAME)
# A block cut short (no END line after it): up to the last character that can be part of the key.
PRIVATE_KEY_CUT = linear_regex.compile(
    "-----BEGIN " + PRIVATE_KEY_NAME + rf"(?:[{SPACE}A-Za-z0-9+/=:,-]*[A-Za-z0-9+/=:,-])?"
)


def _ends_word(text: str, end: int) -> bool:
    """Python's `\\b` after a value that ends with a word character."""
    return end == len(text) or not is_word(text[end])


def _ends_name(text: str, end: int) -> bool:
    """Not before a word character or `-` (a longer word, an id, a kebab-case name)."""
    return end == len(text) or not (is_word(text[end]) or text[end] == "-")


def _ends_base64(text: str, end: int) -> bool:
    return end == len(text) or not (text[end].isascii() and (text[end].isalnum() or text[end] in "/+="))


def _ends_token(text: str, end: int) -> bool:
    return end == len(text) or not (text[end].isascii() and (text[end].isalnum() or text[end] in "_-"))


def _basic_credentials(value: str) -> bool:
    """Whether `value` is base64 of `user:password`, as HTTP Basic sends it (not a word after "basic")."""
    if len(value) % 4:
        return False
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return ":" in decoded and decoded.isprintable()


@dataclass(frozen=True)
class Shape:
    """A credential's shape. `pattern`'s group 1 is kept (the character before it, `Bearer `, `PASSWORD=`)
    and the rest replaced by `label`, if the text after it `ends` as the value does and the value `holds`.

    `needles`: text the pattern can match only where one of them is (in the case-folded text for a
    `(?i)` pattern). Most messages hold none, and then RE2 is not called at all: each RE2 call lets go of
    the GIL, and in a worker thread getting it back waits for the event loop's turn to end (up to 5 ms)."""

    pattern: Pattern
    label: str
    needles: tuple[str, ...]
    ends: Callable[[str, int], bool] | None = None
    holds: Callable[[str], bool] | None = None

    @property
    def ignores_case(self) -> bool:
        return self.pattern.pattern.startswith("(?i)")

    def may_match(self, text: str, folded: str) -> bool:
        within = folded if self.ignores_case else text
        return any(needle in within for needle in self.needles)

    def mask(self, text: str) -> str:
        def replace(match: Match) -> str:
            if text.startswith(LABELS, match.end(1)):  # a value masked already (`TOKEN=[Slack token]`)
                return match.group()
            if self.ends is not None and not self.ends(text, match.end()):
                return match.group()
            if self.holds is not None and not self.holds(text[match.end(1) : match.end()]):
                return match.group()
            return match.group(1) + self.label

        return self.pattern.sub(replace, text)


def _shape(
    pattern: str,
    label: str,
    needles: tuple[str, ...],
    ends: Callable[[str, int], bool] | None = None,
    holds: Callable[[str], bool] | None = None,
) -> Shape:
    return Shape(linear_regex.compile(pattern), label, needles, ends, holds)


SECRETS: tuple[Shape, ...] = (
    _shape(AFTER_BOUNDARY + r"eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{8,}", "[JWT]", ("eyJ",)),
    _shape(
        AFTER_BOUNDARY + rf"(?:xox[abposre]-[A-Za-z0-9-]{{10,}}|xapp-{DIGIT}-[A-Za-z0-9-]{{10,}})",
        "[Slack token]",
        ("xox", "xapp-"),
    ),
    _shape(
        r"()https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]+",
        "[Slack webhook]",
        ("hooks.slack.com/",),
    ),
    _shape(
        AFTER_BOUNDARY + r"(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}",
        "[AWS key]",
        ("AKIA", "ASIA", "ABIA", "ACCA"),
        ends=_ends_word,
    ),
    _shape(
        AFTER_BOUNDARY + r"gh[pousr]_[A-Za-z0-9]{36,}",
        "[GitHub token]",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
        ends=_ends_word,
    ),
    _shape(AFTER_BOUNDARY + r"github_pat_[A-Za-z0-9_]{22,}", "[GitHub token]", ("github_pat_",)),
    _shape(AFTER_BOUNDARY + r"glpat-[A-Za-z0-9_-]{20,}", "[GitLab token]", ("glpat-",)),
    # OpenAI (sk-…, sk-proj-…, sk-svcacct-…) and Anthropic (sk-ant-api03-…): 32 characters or more, so
    # kebab-case names that start with `sk-` (a CSS class, a branch) stay.
    _shape(AFTER_BOUNDARY + r"sk-[A-Za-z0-9_-]{32,}", "[API key]", ("sk-",)),
    _shape(AFTER_BOUNDARY + r"AIza[A-Za-z0-9_-]{35}", "[Google API key]", ("AIza",), ends=_ends_token),
    _shape(
        AFTER_BOUNDARY + r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}",
        "[Stripe key]",
        ("sk_live_", "sk_test_", "rk_live_", "rk_test_"),
    ),
    _shape(AFTER_BOUNDARY + r"npm_[A-Za-z0-9]{36}", "[npm token]", ("npm_",), ends=_ends_word),
    # The value after a name that says it is an AWS secret key (40 characters of base64, no fixed prefix).
    _shape(
        rf"(?i)(aws.?secret.?access.?key[\"']?[{SPACE}]*[:=][{SPACE}]*[\"']?)[A-Za-z0-9/+=]{{40}}",
        "[AWS secret key]",
        ("secret",),
        ends=_ends_base64,
    ),
    # A `.env` line (`DB_PASSWORD=…`, `export API_SECRET="…"`): its value, quoted or up to a space.
    _shape(
        r"(?m)(^[ \t]*(?:export[ \t]+)?(?:[A-Z0-9_]*_)?"
        r"(?:PASSWORD|PASSWD|PASS|PWD|SECRET|SECRET_KEY|TOKEN|API_KEY|APIKEY|ACCESS_KEY|PRIVATE_KEY)=)"
        rf"(?:\"[^\"\n]+\"|'[^'\n]+'|[^{SPACE}\"'#][^{SPACE}]*)",
        "[secret]",
        ("PASS", "PWD", "SECRET", "TOKEN", "API_KEY", "APIKEY", "ACCESS_KEY", "PRIVATE_KEY"),
    ),
    _shape(rf"(?i)((?:\A|[^{WORD}])bearer[{SPACE}]+)[A-Za-z0-9._~+/-]{{8,}}=*", "[token]", ("bearer",)),
    # HTTP Basic: base64 of `user:password`, not a word after "basic".
    _shape(
        rf"(?i)((?:\A|[^{WORD}])basic[{SPACE}]+)[A-Za-z0-9+/]{{8,}}={{0,2}}",
        "[credentials]",
        ("basic",),
        ends=_ends_base64,
        holds=_basic_credentials,
    ),
)
# The password in a URL's user part (`postgres://app:secret@db.example.com`); the user and host stay. The
# scheme starts a run of its characters. (The `@` is part of the match, so that text that only looks like
# the start of one, `x://:y/`, can't hide a URL in it from the search.)
URL_PASSWORD = linear_regex.compile(rf"(?i)((?:\A|[^a-z0-9+.-])[a-z][a-z0-9+.-]*://[^{SPACE}/?#@:]*:)[^{SPACE}/?#@]+@")
# An address, not the user part of a URL (`ssh://git@host/...`, group 1 is then `://`), nor an scp-style
# remote (`git@github.com:owner/repo.git`): a colon and a path right after the host make it a remote.
EMAIL = linear_regex.compile(
    rf"(\A|://|[^{WORD}.+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{{2,}}"
)
# What PDFs, banking apps and people put between the digit groups of a card or an IBAN: spaces (plain,
# no-break, figure, thin, narrow no-break) and dashes; dots for cards too, checked against a card's grouping.
GROUP_SPACES = " \u00a0\u2007\u2009\u202f"
# Where a card may start (group 1): 4 digits, not part of a longer number or a decimal. (An underscore
# before it is Slack's _italics_, not part of a longer token.)
CARD_START = linear_regex.compile(rf"(?:\A|[^\p{{L}}\p{{N}}.,-])({DIGIT}{{4}})")
# Group lengths of dotted card numbers: fours (the last group may be shorter), or Amex's and Diners' 4-6-5/4-6-4.
CARD_GROUPINGS = linear_regex.compile(
    rf"{DIGIT}{{4}}(?:\.{DIGIT}{{4}})*(?:\.{DIGIT}{{1,4}})?|{DIGIT}{{4}}\.{DIGIT}{{6}}\.{DIGIT}{{4,5}}"
)
IBAN_START = linear_regex.compile(rf"(?i)(?:\A|[^{WORD}-])([A-Z]{{2}}{DIGIT}{{2}})")
# Numbers written without a country code are read as North American ones; others need their +code.
PHONE_REGION = "US"
NO_SPACES = dict.fromkeys(map(ord, GROUP_SPACES))
# Words that make a bare run of digits a phone number: "call me at 4155550100", "tel: 4155550100", and the
# keys of pasted records (`"phone": "4155550100"`, `phone_number=4155550100`, `mobilePhone: 4155550100`).
PHONE_CUE = linear_regex.compile(
    rf"(?i)(?:(?:phone|tel|mobile|cell|fax|whatsapp|sms|call)(?:[{SPACE}_-]*(?:no\.?|number|num|nr))?"
    rf"(?:[{SPACE}]+(?:me|us))?|text[{SPACE}]+(?:me|us))(?:[{SPACE}]+(?:at|on))?"
    rf"(?:[{SPACE}]+is)?[{SPACE}\"'\x{{ff1a}}:=#.>-]*\z"
)
# How far before a bare run of digits PHONE_CUE is looked for.
PHONE_CUE_REACH = 40
# An IPv4 address, which libphonenumber reads as a number with dots between its groups.
IPV4 = linear_regex.compile(rf"{DIGIT}{{1,3}}(?:\.{DIGIT}{{1,3}}){{3}}")


# The fewest digits each kind of number holds: an IBAN its two check digits (Azerbaijan's holds no
# other), a card 13, a phone number libphonenumber finds valid 6 (a German one of four digits after +49).
# tests/unit/answer/test_redaction.py works the last two out from stdnum's and libphonenumber's data.
IBAN_DIGITS = 2
CARD_DIGITS = 13
PHONE_DIGITS = 6
ASCII_DIGITS = "0123456789"


def _digit_count(text: str) -> int:
    """How many decimal digits `text` holds, any script's (the checks read them all); in C for ASCII text."""
    if text.isascii():
        return sum(text.count(digit) for digit in ASCII_DIGITS)
    return sum(map(str.isdecimal, text))


@dataclass(frozen=True)
class Redactor:
    mode: str = "default"
    patterns: tuple[str, ...] = ()
    _compiled: tuple[Pattern, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "_compiled",
            tuple(linear_regex.compile(linear_regex.with_python_classes(pattern)) for pattern in self.patterns),
        )

    def redact(self, text: str, names: Collection[str] = ()) -> str:
        """`text` with every sensitive value replaced; `names` (people) are masked in strict mode only."""
        if self.mode == "off" or not text:
            return text
        text = _mask_private_keys(linear_regex.encodable(text))
        # Each search below runs only where the text holds what its match needs (see Shape).
        folded = text.casefold()
        for shape in SECRETS:
            if shape.may_match(text, folded):
                text = shape.mask(text)
        if "://" in text and "@" in text:
            text = URL_PASSWORD.sub(lambda match: match.group(1) + "[password]@", text)
        if "@" in text and "." in text[text.index("@") + 1 :]:  # an address has a dot after its `@`
            text = _mask_emails(text)
        digits = _digit_count(text)
        if digits >= IBAN_DIGITS:
            text = _replace_spans(text, _ibans(text))
        if digits >= CARD_DIGITS:
            text = _replace_spans(text, _cards(text))
        if digits >= PHONE_DIGITS:
            text = _mask_phone_numbers(text)
        if self.mode == "strict":
            for pattern in self._compiled:
                text = pattern.sub("[redacted]", text)
            text = _mask_names(text, tuple(sorted({name for name in names if name.strip()}, key=len, reverse=True)))
        return text

    def redact_messages(self, messages: Sequence[ChatMessage], names: Collection[str] = ()) -> list[ChatMessage]:
        """Every message's text masked; anything else about a message (its role, images) kept."""
        if self.mode == "off":
            return list(messages)
        return [dataclasses.replace(message, content=self.redact(message.content, names)) for message in messages]


def _mask_private_keys(text: str) -> str:
    """Each block from its BEGIN line to the first END line after it, or, with none after it, up to the
    last character that can be part of the key. (One search of each kind: a BEGIN line looking for its END
    in the rest of the text, line after line, was quadratic.)"""
    if "PRIVATE KEY" not in text:
        return text
    ends = [match.span() for match in PRIVATE_KEY_END.finditer(text)]
    pieces: list[str] = []
    position = end_index = 0
    for begin in PRIVATE_KEY_BEGIN.finditer(text):
        if begin.start() < position:
            continue
        while end_index < len(ends) and ends[end_index][0] < begin.end():
            end_index += 1
        if end_index == len(ends):  # none ends after this one, nor after any later one
            pieces.append(text[position : begin.start()])
            pieces.append(PRIVATE_KEY_CUT.sub("[private key]", text[begin.start() :]))
            return "".join(pieces)
        pieces.append(text[position : begin.start()] + "[private key]")
        position = ends[end_index][1]
    pieces.append(text[position:])
    return "".join(pieces)


def _mask_emails(text: str) -> str:
    def replace(match: Match) -> str:
        if match.group(1) == "://" or _glued_to_host(text[match.end() : match.end() + 2]):
            return match.group()
        return match.group(1) + "[email]"

    return EMAIL.sub(replace, text)


def _glued_to_host(after: str) -> bool:
    """Whether what follows an address's last label makes it part of something longer: a word character or
    `-`, a dot before one (a longer host), or a colon before a path (an scp-style remote)."""
    if not after:
        return False
    if is_word(after[0]) or after[0] == "-":
        return True
    following = after[1:2]
    if after[0] == "." and following:
        return is_word(following) or following == "-"
    if after[0] == ":" and following:
        return is_word(following) or following in "~/.-"
    return False


def _replace_spans(text: str, spans: Iterator[tuple[int, int, str]]) -> str:
    pieces: list[str] = []
    position = 0
    for start, end, label in spans:
        pieces.append(text[position:start] + label)
        position = end
    if not pieces:
        return text
    pieces.append(text[position:])
    return "".join(pieces)


def _grouped_runs(
    text: str,
    starts: Pattern,
    unit: Callable[[str], bool],
    separators: str,
    counts: tuple[int, int],
    fits_after: Callable[[str, int], bool],
) -> Iterator[tuple[int, int]]:
    """The spans `re.sub` finds for `HEAD(?:[separators]?UNIT){fewest,most}(?!...)`: each from a start
    (`starts`' group 1: HEAD, after what may come before it) over as many units as the text after the last
    one allows, a unit at a time (a group space may come before each); fewer units where the text after the
    longest run does not fit, as `re` backtracks. Each run is at most `most` units: linear in the text."""
    fewest, most = counts
    position = 0
    for match in starts.finditer(text):
        start = match.start(1)
        if start < position:
            continue
        index = match.end(1)
        ends: list[int] = []
        while len(ends) < most:
            if index < len(text) and unit(text[index]):
                index += 1
            elif index + 1 < len(text) and text[index] in separators and unit(text[index + 1]):
                index += 2
            else:
                break
            ends.append(index)
        end = next((end for end in reversed(ends[fewest - 1 :]) if fits_after(text, end)), None)
        if end is not None:
            yield start, end
            position = end


def _card_ends(text: str, end: int) -> bool:
    """Not part of a longer number, token or decimal after the card's last digit."""
    if end == len(text):
        return True
    after = text[end]
    if after.isalnum() or after == "-":
        return False
    return not (after in ".," and text[end + 1 : end + 2].isdecimal())


def _cards(text: str) -> Iterator[tuple[int, int, str]]:
    """13 to 19 digits, in groups, not part of a longer number or a decimal."""
    for start, end in _grouped_runs(text, CARD_START, str.isdecimal, GROUP_SPACES + ".-", (9, 15), _card_ends):
        if _is_card(text[start:end]):
            yield start, end, "[card number]"


def _is_card(candidate: str) -> bool:
    if "." in candidate and not CARD_GROUPINGS.fullmatch(candidate):
        return False
    # Any script's digits (full-width, Arabic-Indic, ...) are checked as the number they write.
    digits = "".join(str(int(character)) for character in candidate if character.isdecimal())
    # Card numbers start with 2 to 6 (Mastercard, Amex, Visa, Discover, ...); ids often start with 1.
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn.is_valid(digits)


def _iban_unit(character: str) -> bool:
    return character.isascii() and character.isalnum()


def _ibans(text: str) -> Iterator[tuple[int, int, str]]:
    """The longest prefix of each candidate that is a valid IBAN (a word may follow it in the candidate)."""
    for start, end in _grouped_runs(text, IBAN_START, _iban_unit, GROUP_SPACES, (11, 30), _ends_name):
        length = _iban_length(text[start : start + 2].upper())
        if length is None:
            continue
        # Only the prefix of the country's length can be valid: one check per candidate, not one per prefix.
        index, count = start, 0
        while index < end and count < length:
            count += _iban_unit(text[index])
            index += 1
        if count == length and iban.is_valid(text[start:index].translate(NO_SPACES).upper()):
            yield start, index, "[IBAN]"


@lru_cache(maxsize=128)
def _iban_length(country: str) -> int | None:
    """How many letters and digits an IBAN of `country` has (22 for DE), from the SWIFT registry stdnum holds."""
    (_, info), *_ = numdb.get("iban").info(country)
    structure = info.get("bban")
    if not structure:
        return None
    # "8!n10!n": 8 digits, then 10 digits (n digits, a letters, c either).
    return 4 + sum(int(part.lstrip("nac")) for part in structure.split("!")[:-1])


def _mask_phone_numbers(text: str) -> str:
    pieces: list[str] = []
    position = 0
    matcher = phonenumbers.PhoneNumberMatcher(text, PHONE_REGION, leniency=phonenumbers.Leniency.VALID)
    for found in matcher:
        start = found.start
        if text[start] in CLOSING and CLOSING[text[start]] not in found.raw_string:
            start += 1  # `get_user(4155550100)`, `[4155550100, ...]`: the bracket is the code's, not the number's
        if not _is_phone_number(text, start, found.end):
            continue
        pieces.append(text[position:start])
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
    if IPV4.fullmatch(written) or _glued_after(text[end : end + 2]):
        return False
    if written[0].isdecimal() and _glued_before(text[max(0, start - 2) : start]):
        return False
    return not written.isdecimal() or PHONE_CUE.search(text[max(0, start - PHONE_CUE_REACH) : start]) is not None


def _glued_after(after: str) -> bool:
    """A letter or digit, `@`, or a dot or dash before a word character. An underscore is Slack's _italics_."""
    if not after:
        return False
    return after[0].isalnum() or after[0] == "@" or (after[0] in ".-" and is_word(after[1:2] or " "))


def _glued_before(before: str) -> bool:
    if not before:
        return False
    last = before[-1]
    return last.isalnum() or last == "@" or (last in ".-" and len(before) == 2 and is_word(before[0]))


def private_names(names: Mapping[str, str], speakers: Collection[str]) -> frozenset[str]:
    """The names of people the conversation mentions who are not speaking in it."""
    spoken = {names.get(speaker, speaker) for speaker in speakers}
    return frozenset(name for user, name in names.items() if user not in speakers and name not in spoken)


def _mask_names(text: str, names: tuple[str, ...]) -> str:
    """Each name (longest first) where it is not part of a longer word, id or address: not after a word
    character, `.` or `-`, not before a word character or `-`."""
    if not names:
        return text
    spans: list[tuple[int, int, str]] = []
    position = 0
    for match in _names_pattern(names).finditer(text):
        # Where RE2 found the first name, `re` would also try each position inside it (a shorter name
        # may start there when a longer one is refused for what follows it).
        for start in range(match.start(1), match.end(1) + 1):
            end = _name_at(text, start, names) if start >= position else None
            if end is not None:
                spans.append((start, end, "[person]"))
                position = end
    return _replace_spans(text, iter(spans))


def _name_at(text: str, start: int, names: tuple[str, ...]) -> int | None:
    if start > 0 and (is_word(text[start - 1]) or text[start - 1] in ".-"):
        return None
    for name in names:
        end = start + len(name)
        if text.startswith(name, start) and _ends_name(text, end):
            return end
    return None


@lru_cache(maxsize=256)
def _names_pattern(names: tuple[str, ...]) -> Pattern:
    return linear_regex.compile(rf"(?:\A|[^{WORD}.-])(" + "|".join(linear_regex.escape(name) for name in names) + ")")
