"""The plain core of file reading: kinds, decoding, images, PDFs, planning, fitting, links."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from bot.files.attachments import attach
from bot.files.decoding import NotText, decode_text
from bot.files.download import Downloader
from bot.files.images import MAX_LONG_EDGE, ImageTooLarge, NotAnImage, model_takes_images, prepare_image
from bot.files.kinds import Kind, kind_of
from bot.files.links import links_in
from bot.files.pdf import UnreadablePdf, pdf_text
from bot.files.reading import FileContent, FileLimits, content_of, job_for, plan
from bot.files.workers import parse
from bot.slack.messages import SlackFile
from tests.files_data import noisy_png, pdf, png

LIMITS = FileLimits(max_bytes=1000, images_accepted=True, max_images=2, max_pdf_pages=10)


def slack_file(name: str, mimetype: str = "text/plain", size: int = 10, **fields: str) -> SlackFile:
    return SlackFile(id=f"F-{name}", name=name, mimetype=mimetype, size=size, url="https://files.slack.com/x", **fields)


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ("plain ✓ utf-8".encode(), "plain ✓ utf-8"),
        ("naïve café, déjà vu, garçon".encode("latin-1"), "naïve café, déjà vu, garçon"),
        ("with a BOM ✓".encode("utf-16"), "with a BOM ✓"),
        ("\ufeffutf-8 BOM".encode(), "utf-8 BOM"),
        ("Привет, как дела? Это проверка кодировки.".encode("cp1251"), "Привет, как дела? Это проверка кодировки."),
        (b"", ""),
    ],
)
def test_text_is_decoded_whatever_its_encoding(data: bytes, text: str) -> None:
    assert decode_text(data) == text


@pytest.mark.parametrize("data", [bytes(range(256)) * 8, b"PK\x03\x04\x14\x00\x00\x00", png()])
def test_binary_data_is_refused(data: bytes) -> None:
    with pytest.raises(NotText):
        decode_text(data)


def test_a_small_image_passes_through_untouched() -> None:
    image = png()
    assert prepare_image(image) == "data:image/png;base64," + base64.b64encode(image).decode()


def _decoded(data_url: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1])))


def test_a_large_image_is_scaled_to_the_long_edge_and_the_byte_limit() -> None:
    url = prepare_image(noisy_png(2400, 1200), max_encoded_bytes=2 * 1024 * 1024)
    assert len(url.split(",", 1)[1]) <= 2 * 1024 * 1024
    with _decoded(url) as image:
        assert image.size == (MAX_LONG_EDGE, MAX_LONG_EDGE // 2)
    # Too large for PNG within the limit: re-encoded as JPEG.
    assert url.startswith("data:image/jpeg;base64,")


def test_an_image_with_too_many_pixels_is_refused_before_decoding() -> None:
    buffer = io.BytesIO()
    Image.new("1", (10_000, 6_000)).save(buffer, "PNG")
    with pytest.raises(ImageTooLarge, match="10,000 x 6,000 pixels; I read up to 16 megapixels"):
        prepare_image(buffer.getvalue())


def test_an_image_past_pillows_own_bomb_limit_is_named_too_large() -> None:
    """Past 179 megapixels Pillow refuses to open it at all: still too large, not unreadable."""
    buffer = io.BytesIO()
    Image.new("1", (20_000, 10_000)).save(buffer, "PNG")
    with pytest.raises(ImageTooLarge, match="over 178 megapixels; I read up to 16 megapixels"):
        prepare_image(buffer.getvalue())


def test_a_small_image_cut_short_is_refused_rather_than_passed_on() -> None:
    """Passed through as it is, a PNG cut in the middle would reach the model service, which refuses the
    whole request for it (Anthropic's API: 400 "Could not process image"): no answer for one broken file."""
    whole = noisy_png(300, 200)
    with pytest.raises(NotAnImage, match="not a readable image"):
        prepare_image(whole[: len(whole) // 2])


@pytest.mark.parametrize("data", [b"not an image", png()[:40]])
def test_a_broken_image_is_refused(data: bytes) -> None:
    with pytest.raises(NotAnImage):
        prepare_image(data)


@pytest.mark.parametrize(
    ("setting", "model", "takes"),
    [
        ("auto", "claude-4-5-haiku", True),
        ("auto", "claude-4-5-sonnet", True),
        ("auto", "claude-sonnet-4-6", True),
        ("auto", "gpt-oss-120b", False),
        ("auto", "nova-lite", False),
        ("auto", "claude-3-5-haiku", False),
        ("true", "gpt-oss-120b", True),
        ("false", "claude-4-5-haiku", False),
    ],
)
def test_model_accepts_images_setting(setting: str, model: str, takes: bool) -> None:
    assert model_takes_images(setting, model) is takes


def test_pdf_text_is_read_page_by_page_up_to_the_cap() -> None:
    text, pages = pdf_text(pdf("one", "two", "three"), max_pages=2)
    assert pages == 3
    assert text.startswith("[page 1]\none\n\n[page 2]\ntwo")
    assert "three" not in text
    assert "the last 1 of 3 pages were not read" in text


@pytest.mark.parametrize("data", [b"%PDF-1.4 garbage", b"hello", pdf("x")[:60]])
def test_a_damaged_pdf_is_refused(data: bytes) -> None:
    with pytest.raises(UnreadablePdf):
        pdf_text(data, 10)


@pytest.mark.parametrize(
    ("file", "kind"),
    [
        (SlackFile("F1", "shot.png", "image/png"), Kind.IMAGE),
        (SlackFile("F2", "spec.pdf", "application/pdf"), Kind.PDF),
        (SlackFile("F3", "app.log", "application/octet-stream"), Kind.TEXT),
        (SlackFile("F4", "Untitled", "text/plain", mode="snippet", filetype="python"), Kind.TEXT),
        (SlackFile("F5", "movie.mp4", "video/mp4"), Kind.OTHER),
        (SlackFile("F6", "icon.bmp", "image/bmp"), Kind.OTHER),
        (SlackFile("F7", "deck.pptx", "application/vnd.openxmlformats-officedocument.presentationml"), Kind.OTHER),
        (SlackFile("F8", "data", ""), Kind.TEXT),
    ],
)
def test_kinds_come_from_slack_metadata(file: SlackFile, kind: Kind) -> None:
    assert kind_of(file) is kind


def test_plan_reads_newest_first_within_the_limits() -> None:
    files = [
        slack_file("c.png", "image/png"),
        slack_file("b.png", "image/png"),
        slack_file("a.png", "image/png"),
        slack_file("big.log", size=5000),
        slack_file("song.mp3", "audio/mpeg"),
        slack_file("shared.txt", access="check_file_info"),
    ]
    to_read, decided = plan(files, LIMITS)
    assert [file.name for file in to_read] == ["c.png", "b.png"]
    assert {content.name: content.not_read for content in decided.values()} == {
        "a.png": "too_many_images",
        "big.log": "too_large",
        "song.mp3": "unsupported",
        "shared.txt": "other_organisation",
    }
    _, decided = plan(files[:1], FileLimits(1000, images_accepted=False, max_images=2, max_pdf_pages=1))
    assert decided["F-c.png"].not_read == "text_only_model"


def test_newer_files_win_and_a_big_one_keeps_its_start_and_end() -> None:
    old, new = slack_file("old.log"), slack_file("new.log")
    contents = {
        old.id: FileContent(old.id, old.name, "text", text="old " * 100),
        new.id: FileContent(new.id, new.name, "text", text="HEAD" + "x" * 10_000 + "TAIL"),
    }
    attached = attach([("1.0", old), ("2.0", new)], contents, budget_tokens=1000, fresh_after=0)
    newest = attached.by_ts["2.0"].text
    assert newest.startswith('<file name="new.log">\nHEAD')
    assert newest.endswith("TAIL\n</file>")
    assert "characters of new.log left out here to fit the model's input limit" in newest
    assert len(newest) < 3100
    assert attached.by_ts["1.0"].text == "[file old.log: not read (no room)]"
    assert [content.name for content in attached.unread] == ["old.log"]


def test_only_files_since_the_last_answer_are_noted_as_unread() -> None:
    old, new = slack_file("old.zip", "application/zip"), slack_file("new.zip", "application/zip")
    _, decided = plan([new, old], LIMITS)
    attached = attach([("1.0", old), ("3.0", new)], decided, budget_tokens=1000, fresh_after=2.0)
    assert [content.name for content in attached.unread] == ["new.zip"]


def test_images_stay_with_their_message() -> None:
    shot = slack_file("shot.png", "image/png")
    contents = {shot.id: FileContent(shot.id, shot.name, "image", image="data:image/png;base64,AAAA")}
    attached = attach([("1.0", shot)], contents, budget_tokens=1000, fresh_after=0)
    assert attached.by_ts["1.0"].images == ("data:image/png;base64,AAAA",)
    assert attached.by_ts["1.0"].text == "[image shot.png: attached]"


def test_slack_links_are_found_with_or_without_thread_ts() -> None:
    text = (
        "see <https://acme.slack.com/archives/C0123ABCD/p1700000000123456|this> and "
        "<https://acme.enterprise.slack.com/archives/G0999/p1700000001000001"
        "?thread_ts=1700000000.000001&amp;cid=G0999> "
        "and again https://acme.slack.com/archives/C0123ABCD/p1700000000123456 and https://example.com/archives/C1/p1"
    )
    links = links_in(text)
    assert [(link.channel, link.ts, link.thread_ts) for link in links] == [
        ("C0123ABCD", "1700000000.123456", None),
        ("G0999", "1700000001.000001", "1700000000.000001"),
    ]


def test_the_token_goes_only_to_slack() -> None:
    downloader = Downloader(None, token="xoxb-1", max_bytes=1, api_url="https://slack.com/api/")  # type: ignore[arg-type]
    assert downloader.trusted("https://files.slack.com/files-pri/T1-F1/download/a.png")
    assert not downloader.trusted("http://files.slack.com/files-pri/T1-F1/a.png")
    assert not downloader.trusted("https://files.slack.com.evil.example/a.png")
    assert not downloader.trusted("https://evil.example/slack.com/a.png")
    assert not downloader.trusted("http://slack.com/files/a.png")


def test_a_huge_text_is_cut_when_read_so_the_cache_holds_no_more_than_can_be_sent() -> None:
    limits = FileLimits(max_bytes=10**8, images_accepted=True, max_images=1, max_pdf_pages=1, max_text_chars=2000)
    file = slack_file("huge.log")
    content = content_of(file, parse(job_for(file, limits), b"START" + b"x" * 100_000 + b"END"))
    assert len(content.text) <= 2000
    assert content.text.startswith("START")
    assert content.text.endswith("END")
    assert "characters of huge.log left out here" in content.text


@pytest.mark.parametrize(
    "text",
    [
        "https://evilslack.com/archives/C0123ABCD/p1700000000123456",
        "https://acme.slack.com.evil.example/archives/C0123ABCD/p1700000000123456",
        "https://evil.example/?next=https://acme.slack.com/archives/C0123ABCD/p1700000000123456",
        "http://acme.slack.com/archives/C0123ABCD/p1700000000123456",
        "https://acme.slack.com/archives/C0123ABCD/p17000000001234567",
        "https://acme.slack.com/archives/C0123ABCD/p1700000000123456/../../evil",
    ],
)
def test_only_slacks_own_links_are_slack_links(text: str) -> None:
    assert links_in(f"see <{text}>") == []


def test_a_slack_link_is_rebuilt_from_its_parts_only() -> None:
    """Whatever the query held, the link the bot shows or follows is Slack's own form."""
    [link] = links_in(
        "<https://Acme.slack.com/archives/C0123ABCD/p1700000000123456"
        "?thread_ts=1700000000.000001&amp;cid=C0123ABCD&amp;x=[re-authenticate_here](https://evil.example/login)>"
    )
    assert link.url == (
        "https://acme.slack.com/archives/C0123ABCD/p1700000000123456?thread_ts=1700000000.000001&cid=C0123ABCD"
    )
    [link] = links_in(
        "<https://acme.slack.com/archives/C0123ABCD/p1700000000123456?thread_ts=[x](https://evil.example)>"
    )
    assert link.url == "https://acme.slack.com/archives/C0123ABCD/p1700000000123456"
    [link] = links_in("see https://acme.slack.com/archives/C0123ABCD/p1700000000123456?thread_ts=1700000000.000001.")
    assert link.url == (
        "https://acme.slack.com/archives/C0123ABCD/p1700000000123456?thread_ts=1700000000.000001&cid=C0123ABCD"
    )
