"""Splitting a growing answer into Slack messages, and Markdown → mrkdwn."""

from __future__ import annotations

import random
import re
import time

import pytest

from bot.safe_text import WORD_JOINER
from bot.slack.rendering import MessageSplitter, Segment, open_fence, to_mrkdwn


def messages_from(segments: list[Segment]) -> list[str]:
    messages: list[str] = []
    for segment in segments:
        if segment.starts_message:
            messages.append(segment.text)
        else:
            messages[-1] += segment.text
    return messages


def stream(text: str, splitter: MessageSplitter, chunk_sizes: list[int]) -> list[str]:
    segments: list[Segment] = []
    position = 0
    for size in chunk_sizes:
        segments += splitter.feed(text[position : position + size])
        position += size
    segments += splitter.feed(text[position:], final=True)
    return messages_from(segments)


def test_short_text_is_one_message() -> None:
    assert messages_from(MessageSplitter().feed("Hello **world**", final=True)) == ["Hello **world**"]


def test_long_text_splits_between_paragraphs_and_loses_nothing() -> None:
    paragraphs = [f"Paragraph {index} " + "word " * 150 for index in range(40)]
    text = "\n\n".join(paragraph.strip() for paragraph in paragraphs)
    chunks = [random.Random(index).randint(1, 300) for index in range(200)]
    messages = stream(text, MessageSplitter(limit=3000, margin=800), chunks)
    assert len(messages) > 1
    assert all(len(message) <= 3000 for message in messages)
    assert all(message.startswith("Paragraph") for message in messages), "each message starts a paragraph"
    assert "\n\n".join(message.strip() for message in messages) == text


def test_a_code_block_cut_in_two_is_closed_and_reopened() -> None:
    code = "```python\n" + "\n".join(f"print({index})" for index in range(600)) + "\n```"
    messages = stream("Intro\n\n" + code + "\n\nOutro", MessageSplitter(limit=2000, margin=500), [50] * 200)
    assert all(len(message) <= 2000 for message in messages)
    for message in messages:
        assert open_fence(message) is None, "no message leaves a code block open"
    printed = [line for message in messages for line in message.split("\n") if line.startswith("print(")]
    assert printed == [f"print({index})" for index in range(600)]
    assert messages[1].startswith("```python\n")


def test_a_single_huge_line_is_cut_to_the_limit() -> None:
    messages = stream("x" * 25_000, MessageSplitter(), [1000] * 25)
    assert "".join(messages) == "x" * 25_000
    assert all(len(message) <= 12_000 for message in messages)


@pytest.mark.parametrize(
    ("markdown", "mrkdwn"),
    [
        ("**bold** and __bold__", "*bold* and *bold*"),
        ("*italic* and _italic_", "_italic_ and _italic_"),
        ("~~gone~~", "~gone~"),
        ("[Slack](https://slack.com) <https://x.io>", "<https://slack.com|Slack> <https://x.io>"),
        ("# Title", "*Title*"),
        ("### Sub **bold**", "*Sub *bold**"),
        ("- one\n  * two", "• one\n  • two"),
        ("1. first", "1. first"),
        ("> quoted **text**", "> quoted *text*"),
        ("a < b && c > d", "a &lt; b &amp;&amp; c &gt; d"),
        ("ask <@U123> in <#C1|general>", "ask <@U123> in <#C1|general>"),
        (
            "<!here> <!channel> <!everyone> <!subteam^S1|devs>",
            "&lt;!here&gt; &lt;!channel&gt; &lt;!everyone&gt; &lt;!subteam^S1|devs&gt;",
        ),
        ("`a <b> **c**`", "`a &lt;b&gt; **c**`"),
        ("```js\nif (a < b) { x = **y** }\n```", "```\nif (a &lt; b) { x = **y** }\n```"),
        ("---", "───"),
        ("2 * 3 * 4", "2 * 3 * 4"),
        ("***both***", "*_both_*"),
        ("**bold *ital* bold**", "*bold _ital_ bold*"),
        ("[wiki](https://en.wikipedia.org/wiki/Foo_(bar)) end", "<https://en.wikipedia.org/wiki/Foo_(bar)|wiki> end"),
        ("![diagram](https://x.io/d.png)", "<https://x.io/d.png|diagram>"),
        ("use my_var_name here", "use my_var_name here"),
    ],
)
def test_markdown_becomes_mrkdwn(markdown: str, mrkdwn: str) -> None:
    assert to_mrkdwn(markdown) == mrkdwn


def _random_markdown(rng: random.Random) -> str:
    blocks = []
    for _ in range(rng.randint(1, 60)):
        kind = rng.random()
        if kind < 0.2:
            lines = [f"code_{rng.randint(0, 999)} = {'x' * rng.randint(0, 120)}" for _ in range(rng.randint(1, 80))]
            blocks.append("```python\n" + "\n".join(lines) + "\n```")
        elif kind < 0.3:
            blocks.append("- item " + "y" * rng.randint(0, 400))
        else:
            blocks.append(" ".join("word" + str(rng.randint(0, 99)) for _ in range(rng.randint(1, 300))))
    return "\n\n".join(blocks)


@pytest.mark.parametrize("seed", range(40))
def test_splitting_any_answer_any_way_keeps_every_character_within_limits(seed: int) -> None:
    """Random answers, cut into random chunks: every message fits, no code block is left open, nothing is lost."""
    import re

    rng = random.Random(seed)
    text = _random_markdown(rng)
    limit = rng.choice([800, 2000, 12_000])
    chunks = [rng.randint(1, 700) for _ in range(len(text) // 50 + 1)]
    messages = stream(text, MessageSplitter(limit=limit, margin=limit // 5), chunks)
    assert all(len(message) <= limit for message in messages)
    assert all(open_fence(message) is None for message in messages)
    ignorable = re.compile(r"\s+|```(python)?")
    assert ignorable.sub("", "".join(messages)) == ignorable.sub("", text)


@pytest.mark.parametrize(
    ("text", "first"),
    [
        ("Line.\n" * 100 + "\n" + "Line.\n" * 100, "Line.\n" * 99 + "Line."),
        ("Sentence. " * 60 + "\n" + "Sentence. " * 60, "Sentence. " * 60),
        ("word " * 120 + "End. " + "word " * 200, "word " * 120 + "End. "),
        ("word " * 400, "word " * 198),
    ],
    ids=["paragraph_before_line", "line_before_sentence", "sentence_before_words", "words"],
)
def test_a_message_is_cut_at_the_best_break_near_the_limit(text: str, first: str) -> None:
    """A paragraph break, else a line break, else a sentence end, else between words; nothing lost."""
    messages = messages_from(MessageSplitter(limit=1_000, margin=100).feed(text, final=True))
    assert messages[0] == first
    assert all(len(message) <= 1_000 for message in messages)
    assert "".join(messages).replace("\n", "") == text.replace("\n", "")


def test_only_an_unbroken_run_is_cut_hard() -> None:
    """A long URL has no better place to cut; the words around it are kept whole."""
    url = "https://example.com/" + "a" * 1_500
    messages = messages_from(MessageSplitter(limit=1_000, margin=100).feed(f"See {url} for more", final=True))
    assert "".join(messages) == f"See {url} for more"
    assert messages[0] == "See ", "the cut comes before the run, not inside 'See'"
    assert all(len(message) <= 1_000 for message in messages)


def test_a_broadcast_cut_between_pieces_is_defused_before_any_of_it_is_sent() -> None:
    """The model's pieces may end inside `<!channel>` or `@here`: that end waits for the next piece."""
    splitter = MessageSplitter()
    sent = []
    for piece in ["Hi <", "!chan", "nel> and @", "he", "re, mail a@here.com, <@U1>"]:
        sent += [segment.text for segment in splitter.feed(piece)]
    sent += [segment.text for segment in splitter.take(final=True)]
    assert all(not re.search(r"<!|(?<![\w@])@here\b", text) for text in sent)
    assert "".join(sent) == f"Hi <{WORD_JOINER}!channel> and @{WORD_JOINER}here, mail a@here.com, <@U1>"


@pytest.mark.parametrize(
    "markdown",
    [
        "**a " * 10_000,
        "__a " * 10_000,
        "***a " * 8_000,
        "___a " * 8_000,
        "~~a " * 10_000,
        "[a" * 20_000,
        "[a](" * 10_000,
        "<https://" * 5_000,
        "<#C1|" * 8_000,
        "[**a " * 8_000 + "](https://x.io)",
    ],
)
def test_no_answer_makes_the_fallback_text_take_long(markdown: str) -> None:
    """Every answer's fallback text goes through these patterns, in the bot's one thread: linear in the text.
    (A wide bound: each takes milliseconds; the backtracking ones took 1 to 3.8 s on 40 KB.)"""
    started = time.perf_counter()
    to_mrkdwn(markdown)
    assert time.perf_counter() - started < 0.5


def test_the_models_control_characters_do_not_break_the_fallback_text() -> None:
    """A NUL in the model's words (a placeholder's shape) is dropped, never taken for a kept piece."""
    assert to_mrkdwn("a \x000\x00 b `c` \x017\x00") == "a 0 b `c` 7"
    assert to_mrkdwn("**x**\x01") == "*x*"


@pytest.mark.parametrize(
    ("markdown", "mrkdwn"),
    [
        ("**a**b**", "*a*b**"),
        ("** a** and **b **", "** a** and **b **"),
        ("__a__ **b__", "*a* **b__"),
        ("~~a~~b~~ ~~ c~~", "~a~b~~ ~~ c~~"),
        ("***a*** ___b___", "*_a_* *_b_*"),
        ("**\u00a0a**", "**\u00a0a**"),
        ("**é**", "*é*"),
        ("[x **y**](https://x.io)", "<https://x.io|x y>"),
        ("[x](https://x.io/a\u00a0b)", "[x](https://x.io/a\u00a0b)"),
    ],
)
def test_emphasis_is_read_as_before(markdown: str, mrkdwn: str) -> None:
    """The linear patterns read emphasis as the backtracking ones did: the shortest span, no space inside
    its ends (Unicode spaces too), `**` with `**` and `__` with `__`."""
    assert to_mrkdwn(markdown) == mrkdwn
