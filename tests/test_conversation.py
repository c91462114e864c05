"""Thread → model conversation, without Slack."""

from __future__ import annotations

from bot.conversation import BotIdentity, ThreadMessage, alternate, build_conversation, plain_text, user_ids_in

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
