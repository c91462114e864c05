"""The prompts offered in the agent tab (`SUGGESTED_PROMPTS`): their defaults and how a deployer writes them.

Two forms, so that the usual case fits in a Heroku config var and any text still can:

    Title=Message;Title=Message                        (neither may contain `=` or `;`)
    [{"title": "...", "message": "..."}, ...]          (JSON, for anything else)

`none` turns them off. Slack shows at most four; a title must be short enough to fit on a button.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

MAX_PROMPTS = 4
MAX_TITLE_CHARS = 75
MAX_MESSAGE_CHARS = 1000
OFF = "none"


@dataclass(frozen=True)
class SuggestedPrompt:
    title: str
    message: str

    def as_json(self) -> dict[str, str]:
        return {"title": self.title, "message": self.message}


DEFAULT_SUGGESTED_PROMPTS = (
    SuggestedPrompt("What can you do?", "What can you help me with, and how do I ask you in channels?"),
    SuggestedPrompt("Explain an error", "I'll paste an error message: explain what it means and how to fix it."),
    SuggestedPrompt("Write a message", "Help me write a short, friendly message to my team. Ask me what it's about."),
    SuggestedPrompt("Brainstorm", "Let's brainstorm: ask me what I'm working on, then suggest five ideas."),
)

FORMAT_HINT = (
    "Write them as `Title=Message;Title=Message` (at most 4), or as JSON: "
    '`[{"title": "...", "message": "..."}]`; `none` turns them off.'
)


class PromptsMalformed(ValueError):
    """What is wrong with a `SUGGESTED_PROMPTS` value, in words a deployer can act on."""


def parse_suggested_prompts(raw: str) -> tuple[SuggestedPrompt, ...]:
    """The prompts `raw` describes; raises `PromptsMalformed` naming the problem."""
    text = raw.strip()
    if text.lower() == OFF:
        return ()
    pairs = _json_pairs(text) if text.startswith("[") else _plain_pairs(text)
    prompts = tuple(SuggestedPrompt(title.strip(), message.strip()) for title, message in pairs)
    if not prompts:
        raise PromptsMalformed("lists no prompt")
    if len(prompts) > MAX_PROMPTS:
        raise PromptsMalformed(f"lists {len(prompts)} prompts; Slack shows at most {MAX_PROMPTS}")
    for prompt in prompts:
        if not prompt.title or not prompt.message:
            raise PromptsMalformed(f"has a prompt without a title or a message ({prompt.title or prompt.message!r})")
        if len(prompt.title) > MAX_TITLE_CHARS:
            raise PromptsMalformed(f"has a title longer than {MAX_TITLE_CHARS} characters ({prompt.title[:20]!r}…)")
        if len(prompt.message) > MAX_MESSAGE_CHARS:
            raise PromptsMalformed(f"has a message longer than {MAX_MESSAGE_CHARS} characters")
    return prompts


def _plain_pairs(text: str) -> list[tuple[str, str]]:
    pairs = []
    for item in filter(str.strip, text.split(";")):
        title, equals, message = item.partition("=")
        if not equals or "=" in message:
            raise PromptsMalformed(f"has {item.strip()!r}, which is not one `Title=Message` pair")
        pairs.append((title, message))
    return pairs


def _json_pairs(text: str) -> list[tuple[str, str]]:
    try:
        items = json.loads(text)
    except json.JSONDecodeError as error:
        raise PromptsMalformed(f"is not valid JSON ({error.msg} at character {error.pos})") from error
    if not isinstance(items, list) or not all(
        isinstance(item, dict) and isinstance(item.get("title"), str) and isinstance(item.get("message"), str)
        for item in items
    ):
        raise PromptsMalformed('must be a JSON list of {"title": "...", "message": "..."} objects')
    return [(item["title"], item["message"]) for item in items]
