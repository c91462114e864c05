"""What people and the bot wrote reaches the model as written: code, odd Unicode, and Slack's escapes."""

from __future__ import annotations

import aiohttp
import pytest

from bot.app.runtime import EVENTS_PATH
from tests.conftest import BotFactory, RunningBot
from tests.fakes.events import EventSender
from tests.fakes.model_api import FakeModel, Reply
from tests.fakes.slack_api import BOT_USER_ID, FakeSlack, escaped

MENTION = f"<@{BOT_USER_ID}>"
CODE = (
    "```python\r\ndef f(x):\r\n    if x:\r\n        return 1\r\n\treturn  0   \r\n```\r\n"
    "Makefile:\n```\nall:\n\tcc  -o app  main.c\n```\n"
    "inline `a  =  b` \u200f\u05e9\u05dc\u05d5\u05dd\u200f \U0001f469\U0001f3fd\u200d\U0001f52c zero\u200bwidth"
)


async def test_code_reaches_the_model_exactly_as_typed(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    """Indentation, tabs, trailing spaces, CRLF and Unicode sequences survive; only markup is translated."""
    message = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} why does this fail?\n{escaped(CODE + ' <b>&')}")
    await events.mention(message)
    await fake_slack.wait_for_replies("C1", message["ts"])
    assert fake_model.requests[0]["messages"][-1]["content"] == f"Alice: why does this fail?\n{CODE} <b>&"


async def test_what_a_person_typed_as_an_escape_stays_an_escape(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    """Slack stores a typed `&lt;` as `&amp;lt;`; it is undone once, so the model reads `&lt;`."""
    message = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} what does {escaped('&lt; & <')} mean?")
    await events.mention(message)
    await fake_slack.wait_for_replies("C1", message["ts"])
    assert fake_model.requests[0]["messages"][-1]["content"] == "Alice: what does &lt; & < mean?"


ANSWER = "Write `&lt;` for `<` and `&amp;` for `&`:\n\n```\n<p>a &lt; b</p>\n    <br>\n```"


@pytest.mark.parametrize(
    ("streaming", "markdown_blocks"),
    [(True, True), (False, True), (False, False)],
    ids=["streamed", "markdown-block", "text-fallback-only"],
)
async def test_the_bots_own_answer_comes_back_as_it_wrote_it(
    fake_slack: FakeSlack,
    fake_model: FakeModel,
    events: EventSender,
    bot: RunningBot,
    streaming: bool,
    markdown_blocks: bool,
) -> None:
    """Read back from its `markdown` block (as written) or from Slack's escaped `text` (unescaped once), an
    answer that explained `&lt;` is still `&lt;` in the next turn's history."""
    if not streaming:
        fake_slack.refused_methods.add("chat.startStream")
    fake_slack.returns_markdown_blocks = markdown_blocks
    parent = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} how do I escape HTML?")
    fake_model.script.append(Reply([ANSWER]))
    await events.mention(parent)
    await fake_slack.wait_for_replies("C1", parent["ts"])
    await bot.runtime.tasks.wait()

    follow_up = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} and quotes?", thread_ts=parent["ts"])
    await events.mention(follow_up)
    await fake_slack.wait_for_replies("C1", parent["ts"], count=2)
    history = [(m["role"], m["content"]) for m in fake_model.requests[1]["messages"][1:]]
    assert history == [
        ("user", "Alice: how do I escape HTML?"),
        ("assistant", ANSWER),
        ("user", "Alice: and quotes?"),
    ]


async def test_a_system_prompt_over_the_budget_never_costs_the_question(
    fake_slack: FakeSlack, fake_model: FakeModel, bot_factory: BotFactory, http: aiohttp.ClientSession
) -> None:
    """The question is sent whole beside an oversized system prompt, and no note claims dropped messages."""
    bot = await bot_factory(SYSTEM_PROMPT="Follow the house rules. " * 800, MODEL_INPUT_BUDGET_TOKENS="1000")
    message = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} what is 2 + 2?")
    await EventSender(bot.url + EVENTS_PATH, http).mention(message)
    await fake_slack.wait_for_replies("C1", message["ts"])
    system, question = fake_model.requests[0]["messages"]
    assert question == {"role": "user", "content": "Alice: what is 2 + 2?"}
    assert system["content"].startswith("Follow the house rules.")
    assert "characters left out here" in system["content"]
    assert "earlier messages" not in system["content"]
