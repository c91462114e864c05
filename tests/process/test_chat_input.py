"""`python -m bot chat` fed what a terminal or a pipe may really send."""

from __future__ import annotations

import asyncio

from tests.bot_process import BotProcess
from tests.fakes.model_api import FakeModel


async def test_undecodable_input_ends_the_chat_instead_of_hanging(
    environ: dict[str, str], fake_model: FakeModel
) -> None:
    """A file in Latin-1 piped into a UTF-8 terminal: the line cannot be read, and the chat says so and
    ends, as it did before lines were read in a thread of their own (it waited forever)."""
    process = await BotProcess.start({**environ, "PYTHONIOENCODING": "utf-8:strict"}, "chat", typed=True)
    try:
        async with asyncio.timeout(20):
            output, _ = await process.process.communicate("café\n".encode("latin-1"))
    finally:
        process.kill()
    assert process.process.returncode not in (None, 0)
    assert "UnicodeDecodeError" in output.decode()
    assert fake_model.requests == []
