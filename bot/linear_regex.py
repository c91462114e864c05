"""Regular expressions over text from outside the bot (messages, files, the model's words) run on RE2.

Python's `re` backtracks: a pattern such as `eyJ[\\w-]{5,}\\.` over 150 KB of `eyJ-eyJ-…` takes seconds, and
it holds the GIL for the whole match, so no thread helps: every conversation waits. RE2 runs in time
linear in the text by construction, whatever the pattern and the text. It has no lookbehind, lookahead or
backreferences: callers match the value and check the characters around it in plain code.

RE2 reads `\\w`, `\\d`, `\\s` and `\\b` as ASCII; Python's `re` reads them as Unicode. The classes below are
what Python's mean, to write inside `[...]`.
"""

from __future__ import annotations

from typing import TypeAlias

import re2

Pattern: TypeAlias = "re2._Regexp[str]"
Match: TypeAlias = "re2._Match[str]"
PatternError = re2.error

# Python's \w (str.isalnum() or "_"), \d (str.isdecimal()) and \s (str.isspace()), as RE2 classes.
WORD = r"\p{L}\p{N}_"
DIGIT = r"\p{Nd}"
SPACE = r"\t-\r\x1c-\x1f\x85\p{Z}"

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a bad REDACT_PATTERNS entry is reported once, by settings, not also on stderr

# Texts on which a pattern that can match empty text does so somewhere (`\b`, `^`, `$`, `x*`, `(?:)`).
_EMPTY_PROBES = ("", "a", " ", "a b", "\n", "0", "_", ".")


def compile(pattern: str) -> Pattern:
    """`pattern` as RE2; raises PatternError when RE2 cannot run it (a lookbehind, a backreference, ...)."""
    return re2.compile(pattern, _OPTIONS)


# Python's meaning of each class escape: as a class of its own, and as the part it adds inside [...].
_CLASSES = {"d": DIGIT, "w": WORD, "s": SPACE}


def with_python_classes(pattern: str) -> str:
    """`pattern` (an operator's, written for Python) with `\\d`, `\\w`, `\\s` and, outside [...], `\\D`, `\\W`,
    `\\S` in Python's Unicode meaning, which RE2 reads as ASCII. `\\b` stays ASCII: RE2 has no other."""
    out: list[str] = []
    in_class = False
    index = 0
    while index < len(pattern):
        character = pattern[index]
        if character == "\\" and index + 1 < len(pattern):
            escaped = pattern[index + 1]
            if escaped in _CLASSES:
                out.append(_CLASSES[escaped] if in_class else f"[{_CLASSES[escaped]}]")
            elif escaped.lower() in _CLASSES and not in_class:
                out.append(f"[^{_CLASSES[escaped.lower()]}]")
            else:
                out.append(character + escaped)
            index += 2
            continue
        if character == "[" and not in_class:
            in_class = True
            # A `]` first in the class (after an optional `^`) is a literal, not its end.
            start = index + 1 + (pattern.startswith("^", index + 1))
            if pattern.startswith("]", start):
                out.append(pattern[index : start + 1])
                index = start + 1
                continue
        elif character == "[" and pattern.startswith("[:", index):
            end = pattern.find(":]", index + 2)
            if end >= 0:  # a POSIX class inside a class: [[:alpha:]]
                out.append(pattern[index : end + 2])
                index = end + 2
                continue
        elif character == "]" and in_class:
            in_class = False
        out.append(character)
        index += 1
    return "".join(out)


def error_text(error: PatternError) -> str:
    """What RE2 says is wrong, as words (it reports bytes)."""
    said = error.args[0] if error.args else error
    return said.decode("utf-8", "replace") if isinstance(said, bytes) else str(said)


def matches_empty(pattern: Pattern) -> bool:
    """Whether `pattern` matches empty text anywhere in a few short texts: it would then mask everywhere."""
    return any(match.start() == match.end() for probe in _EMPTY_PROBES for match in pattern.finditer(probe))


def is_word(character: str) -> bool:
    """Python's `\\w` for one character."""
    return character.isalnum() or character == "_"


def encodable(text: str) -> str:
    """`text`, with each lone surrogate (half an emoji from a model's stream) as U+FFFD, as any UTF-8
    reader shows it: RE2 reads UTF-8, which has none. A str subclass (an enum's value) becomes a plain str,
    which RE2's `sub` needs."""
    if type(text) is not str:
        text = str.__str__(text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def escape(text: str) -> str:
    """`text` as a pattern that matches exactly it."""
    return re2.escape(text)
