"""What a Slack file is, from the metadata Slack sends with the message, before any download."""

from __future__ import annotations

from enum import Enum
from pathlib import PurePosixPath

from bot.slack.messages import SlackFile


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


class Kind(Enum):
    IMAGE = "image"
    TEXT = "text"
    PDF = "pdf"
    OTHER = "other"


IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
TEXT_MIMETYPES = frozenset(
    {
        "application/json",
        "application/xml",
        "application/javascript",
        "application/x-javascript",
        "application/x-yaml",
        "application/yaml",
        "application/x-sh",
        "application/sql",
        "application/toml",
        "application/x-httpd-php",
        "application/x-python",
        "application/csv",
        "application/x-ndjson",
    }
)
TEXT_EXTENSIONS = _words(
    ".txt .md .markdown .rst .log .csv .tsv .json .jsonl .ndjson .yaml .yml .toml .ini .cfg .conf .env "
    ".xml .html .htm .css .scss .js .mjs .cjs .ts .tsx .jsx .py .rb .go .rs .java .kt .kts .scala .swift "
    ".c .h .cc .cpp .hpp .cs .php .pl .sh .bash .zsh .ps1 .sql .graphql .proto .tf .hcl .dockerfile "
    ".gradle .properties .diff .patch .r .lua .ex .exs .erl .hs .clj .dart .vue .svelte .tex .srt .vtt"
)
# Slack's `filetype` for snippets and detected text files; anything Slack calls a snippet is text too.
TEXT_FILETYPES = _words(
    "text markdown post csv tsv json yaml xml html css javascript typescript python ruby go rust java "
    "kotlin scala swift c cpp csharp php perl shell powershell sql diff dockerfile groovy lua r matlab "
    "objc haskell elixir erlang clojure dart vue toml ini"
)
# Types that are surely neither text nor anything the bot reads: not worth a download.
KNOWN_BINARY_PREFIXES = ("image/", "video/", "audio/", "font/")
KNOWN_BINARY_MIMETYPES = frozenset(
    {
        "application/zip",
        "application/gzip",
        "application/x-gzip",
        "application/x-tar",
        "application/x-7z-compressed",
        "application/x-rar-compressed",
        "application/vnd.rar",
        "application/msword",
        "application/x-msdownload",
        "application/x-executable",
    }
)


def kind_of(file: SlackFile) -> Kind:
    extension = PurePosixPath(file.name.lower()).suffix
    if file.mimetype in IMAGE_TYPES:
        return Kind.IMAGE
    if file.mimetype == "application/pdf" or file.filetype == "pdf" or (not file.mimetype and extension == ".pdf"):
        return Kind.PDF
    if file.mode == "snippet" or file.filetype in TEXT_FILETYPES:
        return Kind.TEXT
    if file.mimetype.startswith("text/") or file.mimetype in TEXT_MIMETYPES or extension in TEXT_EXTENSIONS:
        return Kind.TEXT
    if file.mimetype.startswith(KNOWN_BINARY_PREFIXES) or file.mimetype in KNOWN_BINARY_MIMETYPES:
        return Kind.OTHER
    if file.mimetype.startswith(("application/vnd.", "application/x-iwork")):
        return Kind.OTHER
    # Unknown and undeclared (`application/octet-stream`, a missing type): try it as text; binary is refused.
    return Kind.TEXT
