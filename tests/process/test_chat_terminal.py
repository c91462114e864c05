"""`python -m bot chat` in a (pseudo-)terminal, as a person sees it: the log shares the screen with the
conversation, yet a log line never lands on a line of the conversation, and notices read as plain text."""

from __future__ import annotations

from tests.bot_process import TerminalProcess
from tests.fakes.model_api import FakeModel, Reply, WholeReply

BUSY = WholeReply(503, '{"error": {"message": "overloaded"}}')


async def chat_in_terminal(environ: dict[str, str], questions: list[str]) -> list[str]:
    """Types each question at the prompt, waits for its answer's end (the next prompt), then an empty line."""
    terminal = await TerminalProcess.start(environ, "chat")
    try:
        await terminal.wait_for("you> ")
        for number, question in enumerate(questions, start=1):
            terminal.type(question + "\r")  # Enter, as a keyboard sends it
            await terminal.wait_for_count("you> ", number + 1)
        terminal.type("\r")
        assert await terminal.finish() == 0
    finally:
        terminal.kill()
    return terminal.lines()


async def test_a_retry_logged_mid_turn_gets_a_line_of_its_own(environ: dict[str, str], fake_model: FakeModel) -> None:
    """The model is busy once: the retry's warning is on a line of its own, the answer on the assistant's line."""
    fake_model.script += [BUSY, Reply(["Hello ", "there."])]
    lines = await chat_in_terminal(environ, ["hi"])
    [log_line] = [line for line in lines if "model call failed, retrying" in line]
    assert log_line.startswith("time=")
    assert "assistant> Hello there." in lines
    mixed = [line for line in lines if "level=" in line and ("assistant>" in line or "you>" in line)]
    assert mixed == [], "\n".join(lines)


async def test_notices_read_as_plain_text(environ: dict[str, str], fake_model: FakeModel) -> None:
    """The notices Slack shows with :warning: and _italics_ read in the terminal without the markup."""
    fake_model.script += [
        WholeReply(400, '{"error": {"message": "bad request"}}'),
        Reply(["fine"], finish_reason="length"),
    ]
    lines = await chat_in_terminal(environ, ["one", "two"])
    screen = "\n".join(lines)
    assert "Sorry, the model service answered HTTP 400: bad request." in screen
    assert "(The answer stops here: it reached the length limit. Ask me to continue.)" in lines
    assert ":warning:" not in screen
    assert "_(" not in screen
