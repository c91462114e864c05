"""The text of a PDF's first pages (pypdf). CPU-heavy: call `pdf_text` in a thread."""

from __future__ import annotations

import io
import logging

from pypdf import PdfReader
from pypdf.errors import DependencyError, PyPdfError

# pypdf warns about every small flaw of a PDF in the wild; those are not the operator's concern.
logging.getLogger("pypdf").setLevel(logging.ERROR)


class UnreadablePdf(ValueError):
    """Not a PDF, damaged, password-protected, or without any text (a scan)."""


def pdf_text(data: bytes, max_pages: int) -> tuple[str, int]:
    """The text of the first `max_pages` pages, and how many pages the PDF has."""
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadablePdf("password-protected")
        total = len(reader.pages)
        texts = [reader.pages[index].extract_text() or "" for index in range(min(total, max_pages))]
    except UnreadablePdf:
        raise
    except DependencyError as error:
        raise UnreadablePdf("encrypted in a way the bot cannot read") from error
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError, RecursionError) as error:
        raise UnreadablePdf("damaged or not a PDF") from error
    text = "\n\n".join(f"[page {number}]\n{page.strip()}" for number, page in enumerate(texts, 1) if page.strip())
    if not text:
        raise UnreadablePdf("no text in it (a scan?)")
    if total > max_pages:
        text += f"\n\n[… the last {total - max_pages} of {total} pages were not read (limit: {max_pages} pages) …]"
    return text, total
