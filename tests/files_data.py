"""Files for tests, made on the spot: images with Pillow, PDFs by hand."""

from __future__ import annotations

import io
import zlib

from PIL import Image
from pypdf import PdfReader, PdfWriter


def png(width: int = 40, height: int = 30, colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "PNG")
    return buffer.getvalue()


def noisy_png(width: int, height: int) -> bytes:
    """A screenshot-sized image that compresses badly (random pixels)."""
    import random

    generator = random.Random(7)
    image = Image.frombytes("RGB", (width, height), generator.randbytes(width * height * 3))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def huge_png(width: int = 7000, height: int = 7000) -> bytes:
    """A "decompression bomb": 160 KB of PNG that decodes into 49 megapixels (196 MB in memory)."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (255, 255, 255)).save(buffer, "PNG")
    return buffer.getvalue()


HELVETICA = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"


def pdf(*pages: str) -> bytes:
    """A minimal valid PDF with one line of text per page (Helvetica), cross-reference table and all."""
    count = len(pages)
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [" + " ".join(f"{4 + 2 * index} 0 R" for index in range(count)) + f"] /Count {count} >>",
        HELVETICA,
    ]
    for index, text in enumerate(pages):
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        stream = f"BT /F1 12 Tf 72 720 Td ({escaped}) Tj ET"
        objects.append(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * index} 0 R >>"
        )
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
    return _pdf_file([body.encode("latin-1") for body in objects])


def shared_stream_pdf(pages: int = 100, operators: int = 50_000) -> bytes:
    """The adversarial PDF of issue 20: `pages` pages that all draw one content stream of `operators` text
    operators, compressed (16 KB on the wire). Every page is the whole stream's work again."""
    stream = zlib.compress(b"BT /F1 12 Tf 72 720 Td " + b"(x) Tj " * operators + b"ET", 9)
    kids = " ".join(f"{5 + index} 0 R" for index in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
        HELVETICA.encode(),
        f"<< /Length {len(stream)} /Filter /FlateDecode >>\nstream\n".encode() + stream + b"\nendstream",
    ]
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
    page += b"/Contents 4 0 R >>"
    return _pdf_file(objects + [page] * pages)


ENDLESS_PAGES = 1000


def endless_pdf() -> bytes:
    """A 120 KB PDF whose text takes minutes of CPU to extract (1,000 pages of 100,000 operators each,
    about 0.12 s a page with PDFium, 1 s with pypdf): read with PDF_MAX_PAGES=1000, only a limit ends it."""
    return shared_stream_pdf(pages=ENDLESS_PAGES, operators=100_000)


def _pdf_file(objects: list[bytes]) -> bytes:
    """`objects` numbered from 1, with a cross-reference table and a trailer; object 1 is the catalog."""
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def encrypted_pdf(text: str, user_password: str = "", algorithm: str = "AES-256") -> bytes:
    """A PDF encrypted as Acrobat does: with an owner password only (anyone may open it) unless `user_password`."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf(text))))
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm=algorithm)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def screenshot(width: int, height: int, mode: str = "RGBA", image_format: str = "PNG") -> bytes:
    """A screenshot's shape: lines of text on a plain ground; `mode` "P" has a transparent colour."""
    from PIL import ImageDraw

    ground, ink = (0, 1) if mode == "P" else ((240,) * len(mode), (20,) * len(mode))
    image = Image.new(mode, (width, height), ground)
    draw = ImageDraw.Draw(image)
    for top in range(0, height, 24):
        draw.text((8, top), "Traceback (most recent call last): port 8080 in use " * (width // 300), fill=ink)
    buffer = io.BytesIO()
    image.save(buffer, image_format, **({"transparency": 0} if mode == "P" else {}))
    return buffer.getvalue()
