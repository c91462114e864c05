"""Splitting long Markdown answers into Slack-sized messages."""

from __future__ import annotations

from bot.rendering import split_markdown


def test_short_text_is_one_piece() -> None:
    assert split_markdown("Hello **world**") == ["Hello **world**"]


def test_long_text_splits_between_paragraphs_and_loses_nothing() -> None:
    paragraphs = [f"Paragraph {index} " + "word " * 200 for index in range(40)]
    text = "\n\n".join(paragraph.strip() for paragraph in paragraphs)
    pieces = split_markdown(text, limit=3000)
    assert all(len(piece) <= 3000 for piece in pieces)
    assert "\n\n".join(pieces) == text


def test_code_blocks_are_not_cut_between_fences() -> None:
    code = "```python\n" + "\n".join(f"print({index})" for index in range(50)) + "\n```"
    text = "Intro\n\n" + code + "\n\nOutro"
    pieces = split_markdown(text, limit=len(code) + 5)
    assert code in pieces


def test_an_oversized_code_block_is_reopened_in_each_piece() -> None:
    code = "```\n" + "\n".join(f"line {index}" for index in range(400)) + "\n```"
    pieces = split_markdown(code, limit=500)
    assert len(pieces) > 1
    assert all(piece.startswith("```") and piece.endswith("```") and len(piece) <= 500 for piece in pieces)
    lines = [line for piece in pieces for line in piece.split("\n") if line != "```"]
    assert lines == [f"line {index}" for index in range(400)]


def test_a_single_huge_line_is_cut_to_the_limit() -> None:
    pieces = split_markdown("x" * 25_000, limit=12_000)
    assert [len(piece) for piece in pieces] == [12_000, 12_000, 1_000]
