"""Bytes → text, whatever the encoding; binary data is refused rather than shown to the model as noise.

UTF-8 (the common case) is tried first, then the byte-order marks, then charset-normalizer's detection,
which also tells binary data from text.
"""

from __future__ import annotations

import codecs

from charset_normalizer import from_bytes

BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Control characters other than tab, newline, carriage return and form feed: many of them mean binary.
CONTROL_BYTES = bytes(set(range(32)) - {9, 10, 12, 13})
MAX_CONTROL_SHARE = 0.05
SAMPLE_BYTES = 64 * 1024
WESTERN = "cp1252"
TIE = 0.01


class NotText(ValueError):
    """The bytes are not text in any encoding the bot recognises."""


def decode_text(data: bytes) -> str:
    for bom, encoding in BOMS:
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    sample = data[:SAMPLE_BYTES]
    if b"\x00" in sample or _control_share(sample) > MAX_CONTROL_SHARE:
        raise NotText("binary data")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    best = from_bytes(data).best()
    if best is None or best.encoding is None:
        raise NotText("no text encoding fits")
    # Short texts fit several single-byte encodings equally well; Western Windows/Latin-1 is the likeliest.
    western = from_bytes(data, cp_isolation=[WESTERN]).best()
    if western is not None and western.chaos <= best.chaos + TIE:
        return data.decode(WESTERN, errors="replace")
    return data.decode(best.encoding, errors="replace")


def _control_share(sample: bytes) -> float:
    if not sample:
        return 0.0
    return (len(sample) - len(sample.translate(None, CONTROL_BYTES))) / len(sample)
