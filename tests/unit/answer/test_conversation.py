"""Thread → model conversation, without Slack."""

from __future__ import annotations

from bot.answer.conversation import alternate, build_conversation
from bot.slack.messages import BotIdentity, ThreadMessage, plain_text, user_ids_in

IDENTITY = BotIdentity(user_id="UBOT", bot_id="BBOT")
NAMES = {"UALICE": "Alice", "UBOB": "Bob"}


def person(user: str, text: str, ts: str = "1.0", **extra: object) -> ThreadMessage:
    message = ThreadMessage.from_slack({"user": user, "text": text, "ts": ts, **extra}, IDENTITY)
    assert message is not None
    return message


def bot(text: str, ts: str = "2.0") -> ThreadMessage:
    message = ThreadMessage.from_slack({"user": "UBOT", "bot_id": "BBOT", "text": text, "ts": ts}, IDENTITY)
    assert message is not None
    return message


def test_plain_text_turns_slack_markup_into_readable_text() -> None:
    text = "<@UBOT> ask <@UBOB|bob> in <#C1|general> about <https://x.io|the docs>, <!here> &lt;b&gt; &amp;"
    assert plain_text(text, "UBOT", NAMES) == "ask @Bob in #general about [the docs](https://x.io), @here <b> &"


def test_unknown_mentions_keep_their_id() -> None:
    assert plain_text("hi <@UZED>", "UBOT", NAMES) == "hi @UZED"


def test_turns_alternate_and_people_are_named() -> None:
    """Consecutive messages of one role are joined; every person's message names its speaker."""
    thread = [
        person("UALICE", "<@UBOT> plan a party", "1.0"),
        bot("Sure: cake.", "2.0"),
        person("UBOB", "and music?", "3.0"),
        person("UALICE", "<@UBOT> and music", "4.0"),
    ]
    messages = alternate(build_conversation(thread, bot_user_id="UBOT", names=NAMES, system_prompt="Be brief."))
    assert [(m.role, m.content) for m in messages] == [
        ("system", "Be brief."),
        ("user", "Alice: plan a party"),
        ("assistant", "Sure: cake."),
        ("user", "Bob: and music?\n\nAlice: and music"),
    ]


def test_files_are_mentioned_as_not_read() -> None:
    message = person("UALICE", "see this", files=[{"name": "report.pdf"}])
    [_, user] = build_conversation([message], bot_user_id="UBOT", names=NAMES, system_prompt="s")
    assert user.content == "Alice: see this\n[attached, not read: report.pdf]"


def test_non_speech_messages_are_left_out() -> None:
    for raw in ({"subtype": "channel_join", "user": "UALICE", "text": "joined"}, {"subtype": "message_deleted"}):
        assert ThreadMessage.from_slack({"ts": "1.0", **raw}, IDENTITY) is None


def test_other_bots_are_users_named_after_the_bot() -> None:
    other = ThreadMessage.from_slack(
        {"bot_id": "BX", "user": "UX", "text": "build passed", "ts": "1.0", "bot_profile": {"name": "CI"}}, IDENTITY
    )
    assert other is not None
    [_, user] = build_conversation([other], bot_user_id="UBOT", names=NAMES, system_prompt="s")
    assert user.content == "CI: build passed"


def test_names_needed_are_speakers_and_mentions() -> None:
    thread = [person("UALICE", "<@UBOT> ask <@UBOB>"), bot("ok")]
    assert user_ids_in(thread) == {"UALICE", "UBOT", "UBOB"}


def test_a_leading_bot_message_is_dropped_so_the_conversation_starts_with_a_person() -> None:
    thread = [bot("hello"), person("UALICE", "hi")]
    messages = alternate(build_conversation(thread, bot_user_id="UBOT", names=NAMES, system_prompt="s"))
    assert [m.role for m in messages] == ["system", "user"]


CODE = "def f(x):\n    if x:\n\treturn 1  \n\n  # end\t"


def test_code_keeps_every_space_tab_and_line_end() -> None:
    """Only Slack's markup is translated: indentation, tabs, trailing spaces, blank lines and CRLF stay."""
    text = f"<@UBOT> why?\r\n```\n{CODE}\n```\nand `a  =  b`\r\n"
    assert plain_text(text, "UBOT", NAMES) == f"why?\r\n```\n{CODE}\n```\nand `a  =  b`"


def test_unusual_unicode_passes_untouched() -> None:
    text = "\u200f\u05e9\u05dc\u05d5\u05dd \U0001f469\U0001f3fd\u200d\U0001f52c zero\u200bwidth e\u0301 \ufeff"
    assert plain_text(f"<@UBOT> {text}", "UBOT", NAMES) == text


def test_the_bot_mention_leaves_one_space_between_words_and_none_at_a_line_edge() -> None:
    assert plain_text("ask <@UBOT> now", "UBOT", NAMES) == "ask now"
    assert plain_text("  <@UBOT>\n    indented", "UBOT", NAMES) == "    indented"
    assert plain_text("thanks <@UBOT>", "UBOT", NAMES) == "thanks"


def test_slack_escapes_are_undone_exactly_once() -> None:
    """A person who types `&lt;` is stored by Slack as `&amp;lt;` and must reach the model as `&lt;`."""
    assert plain_text("&amp;lt; &amp;amp; &lt;b&gt; &copy; &#39;", "UBOT", NAMES) == "&lt; &amp; <b> &copy; &#39;"


def test_links_read_as_typed_and_labels_are_unescaped() -> None:
    text = "see <http://x.io|x.io> and <https://y.io/a?b=1&amp;c=2|A &amp; B> or <mailto:bo@x.io|bo@x.io>"
    assert plain_text(text, "UBOT", NAMES) == "see x.io and [A & B](https://y.io/a?b=1&c=2) or bo@x.io"


def test_markdown_written_by_the_bot_is_kept_as_written() -> None:
    """The source of a `markdown` block is not Slack markup: nothing is unescaped or translated."""
    raw = {"user": "UBOT", "bot_id": "BBOT", "ts": "2.0", "text": "fallback", "markdown": "Write `&lt;` for <@U1> <"}
    message = ThreadMessage.from_slack(raw, IDENTITY)
    assert message is not None
    [_, answer] = build_conversation([message], bot_user_id="UBOT", names=NAMES, system_prompt="s")
    assert answer.content == "Write `&lt;` for <@U1> <"


def test_only_blank_lines_around_a_message_are_dropped() -> None:
    """The first line keeps its indentation and the last its spaces; blank lines around them go."""
    assert plain_text("<@UBOT>\r\n  \n    code\n  x  \r\n \n\t", "UBOT", NAMES) == "    code\n  x  "
    assert plain_text("x" + "\n " * 15_000 + "x", "UBOT", NAMES) == "x" + "\n " * 15_000 + "x"
