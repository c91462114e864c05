"""Files, screenshots and Slack links in a thread, end to end: what the model received, what people see."""

from __future__ import annotations

import base64
import io

import aiohttp
import pytest
from PIL import Image

from bot.app.runtime import EVENTS_PATH
from bot.files.download import Downloader, DownloadFailed
from bot.slack.messages import SlackFile
from tests.conftest import BotFactory, RunningBot
from tests.fakes.events import EventSender
from tests.fakes.model_api import FakeModel, Reply, text_of
from tests.fakes.slack_api import BOT_TOKEN, BOT_USER_ID, FakeSlack
from tests.files_data import ENDLESS_PAGES, encrypted_pdf, endless_pdf, huge_png, noisy_png, pdf, png
from tests.redis_server import redis_server

MENTION = f"<@{BOT_USER_ID}>"


def ask_with_files(
    fake_slack: FakeSlack, text: str, *files: dict[str, object], channel: str = "C1"
) -> dict[str, object]:
    return fake_slack.post_as_person(channel, "UALICE", f"{MENTION} {text}", subtype="file_share", files=list(files))


def data_url(png_bytes: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes).decode()


def last_user_text(fake_model: FakeModel, request: int = 0) -> str:
    return text_of(fake_model.requests[request]["messages"][-1])


async def test_an_image_reaches_the_model_as_an_image_part(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    """A screenshot under a question is sent as a data-URL image part next to the question's text."""
    image = png()
    message = ask_with_files(fake_slack, "why does this fail?", fake_slack.add_file("error.png", image, "image/png"))
    fake_model.script.append(Reply(["The port is taken."]))
    await events.mention(message)
    assert await fake_slack.wait_for_replies("C1", str(message["ts"])) == ["The port is taken."]
    [sent] = fake_model.images(fake_model.requests[0])
    assert sent == data_url(image)
    assert "Alice: why does this fail?" in last_user_text(fake_model)
    assert "[image error.png: attached]" in last_user_text(fake_model)


async def test_a_large_screenshot_is_scaled_down_to_what_the_model_takes(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    """A 3,000 px wide screenshot arrives with a long edge of 1,568 px, within 5 MB encoded."""
    message = ask_with_files(
        fake_slack, "what is this?", fake_slack.add_file("big.png", noisy_png(3000, 1000), "image/png")
    )
    await events.mention(message)
    await fake_slack.wait_for_replies("C1", str(message["ts"]))
    [sent] = fake_model.images(fake_model.requests[0])
    assert len(sent) <= 5 * 1024 * 1024
    encoded = sent.split(",", 1)[1]
    with Image.open(io.BytesIO(base64.b64decode(encoded))) as received:
        assert max(received.size) == 1568


async def test_an_image_for_a_text_only_model_is_named_not_sent(
    bot_factory: BotFactory, fake_slack: FakeSlack, fake_model: FakeModel, http: aiohttp.ClientSession
) -> None:
    """With a text-only model the image is not sent, and the answer says why it was not read."""
    bot = await bot_factory(INFERENCE_MODEL_ID="gpt-oss-120b")
    events = EventSender(bot.url + EVENTS_PATH, http)
    message = ask_with_files(fake_slack, "what is this?", fake_slack.add_file("chart.png", png(), "image/png"))
    fake_model.script.append(Reply(["I can only see the text."]))
    await events.mention(message)
    [reply] = await fake_slack.wait_for_replies("C1", str(message["ts"]))
    assert fake_model.images(fake_model.requests[0]) == []
    assert fake_slack.download_attempts == []
    assert reply == "I can only see the text.\n\n_I did not read `chart.png`: the model I use can't take images._"


async def test_a_text_file_reaches_the_model_under_its_name(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    """A log file's content (here in Latin-1, with a code fence) is in the question the model receives."""
    log = "2026-11-25 ERROR café: port 8080 in use\n```\nTraceback\n```\n".encode("latin-1")
    message = ask_with_files(fake_slack, "why?", fake_slack.add_file("error.log", log, "text/plain"))
    await events.mention(message)
    await fake_slack.wait_for_replies("C1", str(message["ts"]))
    assert '<file name="error.log">\n2026-11-25 ERROR café: port 8080 in use\n```\nTraceback\n```\n\n</file>' in (
        last_user_text(fake_model)
    )


async def test_a_snippet_and_a_pdf_reach_the_model_as_text(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    """A Slack snippet is read as text, and a PDF's text is extracted, page by page."""
    snippet = fake_slack.add_file("config", b"retries: 3\n", "text/plain", mode="snippet", filetype="yaml")
    spec = fake_slack.add_file("spec.pdf", pdf("The API returns 429 when busy.", "Retry after 5 s."), "application/pdf")
    message = ask_with_files(fake_slack, "is this right?", snippet, spec)
    await events.mention(message)
    await fake_slack.wait_for_replies("C1", str(message["ts"]))
    text = last_user_text(fake_model)
    assert '<file name="config">\nretries: 3\n\n</file>' in text
    assert "[page 1]\nThe API returns 429 when busy.\n\n[page 2]\nRetry after 5 s." in text


async def test_an_encrypted_pdf_is_read_and_a_password_protected_one_named(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    """Most PDFs with an owner password only (AES, as Acrobat and Word write them) open for anyone: their
    text reaches the model; one that needs a password to open is named, and the answer still comes."""
    report = fake_slack.add_file("report.pdf", encrypted_pdf("Revenue grew 12%."), "application/pdf")
    locked = fake_slack.add_file("locked.pdf", encrypted_pdf("Secret plan", user_password="pw"), "application/pdf")
    message = ask_with_files(fake_slack, "summarise these", report, locked)
    await events.mention(message)
    [reply] = await fake_slack.wait_for_replies("C1", str(message["ts"]))
    text = last_user_text(fake_model)
    assert "[page 1]\nRevenue grew 12%." in text
    assert "Secret plan" not in text
    assert "_I did not read `locked.pdf`: it could not be read (password-protected)._" in reply


async def test_an_oversized_file_is_not_downloaded_and_is_named(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    """A file over FILE_MAX_MB is never downloaded; the answer names it and the limit."""
    bot = await bot_factory(FILE_MAX_MB="1")
    events = EventSender(bot.url + EVENTS_PATH, http)
    dump = fake_slack.add_file("heap.txt", b"x" * (1024 * 1024 + 1), "text/plain")
    message = ask_with_files(fake_slack, "look", dump)
    fake_model.script.append(Reply(["Sure."]))
    await events.mention(message)
    [reply] = await fake_slack.wait_for_replies("C1", str(message["ts"]))
    assert reply == "Sure.\n\n_I did not read `heap.txt`: it is larger than the 1 MB limit._"
    assert fake_slack.download_attempts == []
    assert "xxxx" not in last_user_text(fake_model)


async def test_a_sign_in_page_is_never_taken_for_the_file(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    """Without `files:read` Slack serves its HTML sign-in page with status 200: nothing of it reaches the model."""
    fake_slack.granted_scopes.discard("files:read")
    message = ask_with_files(fake_slack, "why?", fake_slack.add_file("error.log", b"real log", "text/plain"))
    fake_model.script.append(Reply(["Hmm."]))
    await events.mention(message)
    [reply] = await fake_slack.wait_for_replies("C1", str(message["ts"]))
    assert fake_slack.download_attempts != []
    text = last_user_text(fake_model)
    assert "Sign in" not in text
    assert "<html" not in text.lower()
    assert "`files:read`" in reply
    assert "error.log" in reply


async def test_a_binary_file_is_refused_not_shown_as_noise(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    """Bytes that are no text in any encoding are named in the answer, not sent to the model."""
    message = ask_with_files(fake_slack, "what's this?", fake_slack.add_file("core", bytes(range(256)) * 4, ""))
    fake_model.script.append(Reply(["Unknown."]))
    await events.mention(message)
    [reply] = await fake_slack.wait_for_replies("C1", str(message["ts"]))
    assert reply == "Unknown.\n\n_I did not read `core`: it is not text._"


async def test_a_follow_up_does_not_download_again(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    """The second question in the thread sees the file again, from the cache; an edit drops the cache."""
    message = ask_with_files(fake_slack, "why?", fake_slack.add_file("error.log", b"port in use", "text/plain"))
    await events.mention(message)
    await fake_slack.wait_for_replies("C1", str(message["ts"]))
    follow_up = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} and now?", thread_ts=str(message["ts"]))
    await events.mention(follow_up)
    await fake_slack.wait_for_replies("C1", str(message["ts"]), count=2)
    assert len(fake_slack.downloads) == 1
    assert "port in use" in text_of(fake_model.requests[1]["messages"][1])

    await events.message(fake_slack.edit_as_person("C1", str(message["ts"]), f"{MENTION} why, again?"))
    await fake_slack.wait_for(lambda: len(fake_slack.calls_to("conversations.replies")) >= 1)
    third = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} once more", thread_ts=str(message["ts"]))
    await events.mention(third)
    await fake_slack.wait_for_replies("C1", str(message["ts"]), count=3)
    assert len(fake_slack.downloads) == 2


async def test_a_link_to_a_public_thread_is_followed(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    """The linked thread is added to the question with who said what and where."""
    fake_slack.channel_names["C9"] = "incidents"
    parent = fake_slack.post_as_person("C9", "UBOB", "Deploy failed: disk full")
    fake_slack.post_as_person("C9", "UALICE", "Cleared /tmp, retrying", thread_ts=parent["ts"])
    link = f"https://test.slack.com/archives/C9/p{str(parent['ts']).replace('.', '')}"
    question = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} what happened in <{link}>?")
    await events.mention(question)
    await fake_slack.wait_for_replies("C1", str(question["ts"]))
    text = last_user_text(fake_model)
    assert f'<slack_thread link="{link}" where="#incidents">' in text
    assert "Bob (the linked message): Deploy failed: disk full\n\nAlice: Cleared /tmp, retrying" in text


async def test_a_link_to_a_private_channel_the_asker_is_not_in_is_not_followed(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    """The bot is in the private channel but Alice is not: nothing from it reaches the model or Slack."""
    fake_slack.private_channels["G7"] = {BOT_USER_ID, "UBOB"}
    fake_slack.channel_names["G7"] = "secret-project"
    secret = fake_slack.post_as_person("G7", "UBOB", "The launch date is 3 March")
    link = (
        f"https://test.slack.com/archives/G7/p{str(secret['ts']).replace('.', '')}?thread_ts={secret['ts']}&amp;cid=G7"
    )
    question = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} summarise <{link}>")
    fake_model.script.append(Reply(["I can't see that."]))
    await events.mention(question)
    [reply] = await fake_slack.wait_for_replies("C1", str(question["ts"]))
    text = last_user_text(fake_model)
    assert "launch" not in text
    assert "secret-project" not in text
    assert "launch" not in reply
    assert "secret-project" not in reply
    assert "I could not open https://test.slack.com/archives/G7/" in reply
    assert all(call.params["channel"] != "G7" for call in fake_slack.calls_to("conversations.replies"))


async def test_a_link_to_a_private_channel_the_asker_is_in_is_followed_in_their_dm(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    """Membership is checked with conversations.members: a member asking in their DM gets the thread."""
    fake_slack.private_channels["G7"] = {BOT_USER_ID, "UALICE", "UBOB"}
    secret = fake_slack.post_as_person("G7", "UBOB", "The launch date is 3 March")
    link = f"https://test.slack.com/archives/G7/p{str(secret['ts']).replace('.', '')}"
    question = fake_slack.post_as_person("DALICE", "UALICE", f"summarise <{link}>")
    await events.message(question, channel_type="im")
    await fake_slack.wait_for_replies("DALICE", str(question["ts"]))
    assert "Bob: The launch date is 3 March" in last_user_text(fake_model)


async def test_a_private_channel_is_not_carried_into_a_channel_others_read(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    """Alice may read G7, but the answer would go to #general, where people who may not read G7 see it."""
    fake_slack.private_channels["G7"] = {BOT_USER_ID, "UALICE", "UBOB"}
    secret = fake_slack.post_as_person("G7", "UBOB", "The launch date is 3 March")
    link = f"https://test.slack.com/archives/G7/p{str(secret['ts']).replace('.', '')}"
    question = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} summarise <{link}>")
    fake_model.script.append(Reply(["I can't see that."]))
    await events.mention(question)
    [reply] = await fake_slack.wait_for_replies("C1", str(question["ts"]))
    assert "launch" not in str(fake_model.requests[-1]["messages"])
    assert "launch" not in reply
    assert f"I did not open {link} here" in reply
    assert all(call.params["channel"] != "G7" for call in fake_slack.calls_to("conversations.replies"))


async def test_a_dropped_download_is_named_and_tried_again_next_time(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    """A download that loses its connection is not cached as unreadable: the follow-up reads the file."""
    fake_slack.dropped_downloads = 2  # aiohttp itself retries once a request on a reused connection
    message = ask_with_files(fake_slack, "why?", fake_slack.add_file("error.log", b"port in use", "text/plain"))
    fake_model.script.append(Reply(["No file."]))
    await events.mention(message)
    [reply] = await fake_slack.wait_for_replies("C1", str(message["ts"]))
    assert reply == "No file.\n\n_I did not read `error.log`: the download failed; ask again to retry._"
    follow_up = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} try again", thread_ts=str(message["ts"]))
    await events.mention(follow_up)
    await fake_slack.wait_for_replies("C1", str(message["ts"]), count=2)
    assert "port in use" in text_of(fake_model.requests[1]["messages"][1])


async def test_at_most_n_images_are_sent_the_newest_first(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    """MODEL_MAX_IMAGES=1: the question's image is sent, the older one in the thread is named."""
    bot = await bot_factory(MODEL_MAX_IMAGES="1")
    events = EventSender(bot.url + EVENTS_PATH, http)
    old, new = png(colour=(0, 0, 255)), png(colour=(0, 255, 0))
    first = fake_slack.post_as_person(
        "C1", "UBOB", "before", subtype="file_share", files=[fake_slack.add_file("before.png", old, "image/png")]
    )
    question = fake_slack.post_as_person(
        "C1",
        "UALICE",
        f"{MENTION} what changed?",
        thread_ts=str(first["ts"]),
        subtype="file_share",
        files=[fake_slack.add_file("after.png", new, "image/png")],
    )
    fake_model.script.append(Reply(["Green now."]))
    await events.mention(question)
    [reply] = await fake_slack.wait_for_replies("C1", str(first["ts"]))
    assert fake_model.images(fake_model.requests[0]) == [data_url(new)]
    assert reply == (
        "Green now.\n\n_I did not read `before.png`: I send at most 1 images per question, the newest first._"
    )


async def test_another_process_reuses_the_file_through_redis(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    """With REDIS_URL, a follow-up answered by another process reads the image from Redis, not from Slack."""
    async with redis_server() as redis_url:
        first = await bot_factory(REDIS_URL=redis_url)
        second = await bot_factory(REDIS_URL=redis_url)
        image = png()
        message = ask_with_files(fake_slack, "what is it?", fake_slack.add_file("shot.png", image, "image/png"))
        await EventSender(first.url + EVENTS_PATH, http).mention(message)
        await fake_slack.wait_for_replies("C1", str(message["ts"]))
        follow_up = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} and now?", thread_ts=str(message["ts"]))
        await EventSender(second.url + EVENTS_PATH, http).mention(follow_up)
        await fake_slack.wait_for_replies("C1", str(message["ts"]), count=2)
        assert fake_model.images(fake_model.requests[1]) == [data_url(image)]
        assert len(fake_slack.downloads) == 1
        await first.close()
        await second.close()


async def test_a_hung_download_gives_up_in_time(fake_slack: FakeSlack, http: aiohttp.ClientSession) -> None:
    """A download that never finishes ends as a failure after the downloader's timeout."""
    fake_slack.hung_downloads = 1
    raw = fake_slack.add_file("slow.log", b"never", "text/plain")
    downloader = Downloader(http, token=BOT_TOKEN, max_bytes=1000, api_url=fake_slack.url, timeout_seconds=0.3)
    with pytest.raises(DownloadFailed) as failure:
        await downloader.fetch(SlackFile.from_slack(raw))
    assert failure.value.reason == "failed"


async def test_a_slack_connect_file_stub_is_described_by_files_info(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    """In Slack Connect a message carries only a stub; files.info gives the rest, and a refusal is named."""
    shared = fake_slack.add_file("notes.txt", b"shared across orgs", "text/plain")
    stubs = [
        {"id": shared["id"], "mode": "file_access", "file_access": "check_file_info"},
        {"id": "FGONE", "mode": "file_access", "file_access": "check_file_info"},
    ]
    message = ask_with_files(fake_slack, "read these", *stubs)
    fake_model.script.append(Reply(["Read one."]))
    await events.mention(message)
    [reply] = await fake_slack.wait_for_replies("C1", str(message["ts"]))
    assert "shared across orgs" in last_user_text(fake_model)
    assert reply == "Read one.\n\n_I did not read `file FGONE`: it was shared from another organisation._"
    assert len(fake_slack.calls_to("files.info")) == 2


async def test_a_model_that_refuses_images_is_asked_again_without_them(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    """MODEL_ACCEPTS_IMAGES=true with a text-only model: the answer still comes, from the text, and says so."""
    fake_model.accepts_images = False
    bot = await bot_factory(MODEL_ACCEPTS_IMAGES="true")
    message = ask_with_files(fake_slack, "what is this?", fake_slack.add_file("chart.png", png(), "image/png"))
    fake_model.script.append(Reply(["From the text: a chart."]))
    await EventSender(bot.url + EVENTS_PATH, http).mention(message)
    [reply] = await fake_slack.wait_for_replies("C1", str(message["ts"]))
    assert reply == (
        "From the text: a chart.\n\n_The model would not take the images here, so I answered from the text alone._"
    )
    assert [len(fake_model.images(request)) for request in fake_model.requests] == [1, 0]
    assert "[The images attached here could not be sent" in last_user_text(fake_model, 1)


async def test_a_file_larger_than_slack_said_is_cut_off_at_the_cap(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    """Without a `size` (or a wrong one), the download stops at FILE_MAX_MB and the file is named as too large."""
    bot = await bot_factory(FILE_MAX_MB="1")
    dump = fake_slack.add_file("dump.txt", b"y" * (2 * 1024 * 1024), "text/plain", size=None)
    message = ask_with_files(fake_slack, "look", dump)
    fake_model.script.append(Reply(["Sure."]))
    await EventSender(bot.url + EVENTS_PATH, http).mention(message)
    [reply] = await fake_slack.wait_for_replies("C1", str(message["ts"]))
    assert reply == "Sure.\n\n_I did not read `dump.txt`: it is larger than the 1 MB limit._"
    assert "yyyy" not in last_user_text(fake_model)


async def test_many_unread_files_are_counted_not_listed(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    """Seven archives: five named, the rest counted in one line."""
    archives = [fake_slack.add_file(f"part{index}.zip", b"PK", "application/zip") for index in range(7)]
    message = ask_with_files(fake_slack, "unpack?", *archives)
    fake_model.script.append(Reply(["No."]))
    await events.mention(message)
    [reply] = await fake_slack.wait_for_replies("C1", str(message["ts"]))
    lines = reply.split("\n")
    assert lines[2:] == [
        *(f"_I did not read `part{index}.zip`: I can't read this kind of file._" for index in range(5)),
        "_…and 2 more files I did not read._",
    ]


async def test_a_follow_up_keeps_a_linked_thread_only_for_askers_who_may_see_it(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    """Alice links a public channel; her follow-up still has it, Bob's (a guest, not in it) does not."""
    fake_slack.guests.add("UBOB")
    fake_slack.channel_members["C9"] = {BOT_USER_ID, "UALICE"}
    fake_slack.channel_members["C1"] = {BOT_USER_ID, "UALICE"}
    secret = fake_slack.post_as_person("C9", "UALICE", "The launch date is 3 March")
    link = f"https://test.slack.com/archives/C9/p{str(secret['ts']).replace('.', '')}"
    question = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} summarise <{link}>")
    fake_model.script.append(Reply(["A launch is planned."]))
    await events.mention(question)
    await fake_slack.wait_for_replies("C1", str(question["ts"]))
    thread_ts = str(question["ts"])

    again = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} and the date?", thread_ts=thread_ts)
    fake_model.script.append(Reply(["3 March."]))
    await events.mention(again)
    await fake_slack.wait_for_replies("C1", thread_ts, count=2)
    assert "The launch date is 3 March" in text_of(fake_model.requests[1]["messages"][1])

    fake_slack.channel_members["C1"].add("UBOB")  # a guest joins: nothing from C9 is for this channel now
    bob = fake_slack.post_as_person("C1", "UBOB", f"{MENTION} what date?", thread_ts=thread_ts)
    fake_model.script.append(Reply(["I can't say."]))
    await events.mention(bob)
    replies = await fake_slack.wait_for_replies("C1", thread_ts, count=3)
    assert "launch date is" not in str(fake_model.requests[2]["messages"])
    assert "could not be opened" in text_of(fake_model.requests[2]["messages"][1])
    assert replies[2] == "I can't say."


@pytest.mark.parametrize(
    "query",
    [
        "x=[re-authenticate here](https://evil.example/login)",
        "x=[re-authenticate_here](https://evil.example/login)",
        "thread_ts=[re-authenticate_here](https://evil.example/login)",
    ],
)
@pytest.mark.parametrize("streaming", [True, False], ids=["markdown_text", "fallback"])
async def test_a_link_cannot_put_a_link_of_its_own_into_the_bots_words(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, bot: RunningBot, query: str, streaming: bool
) -> None:
    """The notice names the Slack link as Slack writes it, rebuilt from its parts: whatever else the
    question's link held is not shown, in the Markdown or in the notification text."""
    if not streaming:
        fake_slack.refused_methods.add("chat.startStream")
    fake_slack.private_channels["G7"] = {BOT_USER_ID, "UBOB"}
    secret = fake_slack.post_as_person("G7", "UBOB", "The launch date is 3 March")
    link = f"https://test.slack.com/archives/G7/p{str(secret['ts']).replace('.', '')}"
    question = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} summarise <{link}?{query}>")
    fake_model.script.append(Reply(["I can't see that."]))
    await events.mention(question)
    await fake_slack.wait_for_replies("C1", str(question["ts"]))
    await bot.runtime.tasks.wait()
    [reply] = fake_slack.bot_replies("C1", str(question["ts"]))
    [posted] = fake_slack.bot_messages("C1", str(question["ts"]))
    assert f"_I could not open {link}: I only follow links" in reply
    for shown in (reply, posted["text"]):
        assert "evil.example" not in shown


async def test_a_pdf_too_complex_to_read_is_named_and_the_rest_of_the_answer_comes(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    """A 120 KB PDF that would take minutes to read is given up at its worker's CPU limit; the log file
    next to it reaches the model, and the answer names the PDF."""
    bot = await bot_factory(PDF_MAX_PAGES=str(ENDLESS_PAGES))
    hostile = fake_slack.add_file("endless.pdf", endless_pdf(), "application/pdf")
    log = fake_slack.add_file("error.log", b"port 8080 in use", "text/plain")
    message = ask_with_files(fake_slack, "what broke?", hostile, log)
    fake_model.script.append(Reply(["The port is taken."]))
    await EventSender(bot.url + EVENTS_PATH, http).mention(message)
    [reply] = await fake_slack.wait_for_replies("C1", str(message["ts"]), within_seconds=60)
    assert (
        reply
        == "The port is taken.\n\n_I did not read `endless.pdf`: it is too complex for me to read (it took too long)._"
    )
    assert '<file name="error.log">\nport 8080 in use\n</file>' in last_user_text(fake_model)


async def test_a_decompression_bomb_is_refused_as_too_large(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    """A 160 KB PNG of 49 megapixels is never decoded: the answer says the image is too large."""
    message = ask_with_files(fake_slack, "what is this?", fake_slack.add_file("bomb.png", huge_png(), "image/png"))
    fake_model.script.append(Reply(["No image."]))
    await events.mention(message)
    [reply] = await fake_slack.wait_for_replies("C1", str(message["ts"]))
    assert fake_model.images(fake_model.requests[0]) == []
    assert reply == (
        "No image.\n\n_I did not read `bomb.png`: the image is too large for me to read "
        "(7,000 x 7,000 pixels; I read up to 16 megapixels)._"
    )


async def test_twenty_big_files_in_two_questions_stay_within_the_memory_bound(
    fake_slack: FakeSlack, fake_model: FakeModel, bot: RunningBot, events: EventSender
) -> None:
    """Ten 19 MB files in each of two questions: never more than the bound is held in memory at once
    (each file from before its download until it is read), and both questions are answered."""
    blob = b"x" * (19 * 1024 * 1024)
    questions = [
        ask_with_files(
            fake_slack,
            "look",
            *(fake_slack.add_file(f"dump{channel}-{index}.log", blob, "text/plain") for index in range(10)),
            channel=channel,
        )
        for channel in ("C1", "C2")
    ]
    for question in questions:
        await events.mention(question)
    for question in questions:
        await fake_slack.wait_for_replies(str(question["channel"]), str(question["ts"]), within_seconds=60)
    budget = bot.runtime.files.reader.budget
    assert len(fake_slack.downloads) == 20
    assert budget.capacity == 64 * 1024 * 1024
    assert 0 < budget.peak <= budget.capacity
    assert budget.held == 0
