"""Every text people read in Slack from the bot itself (not the model), so tone and wording stay one."""

from __future__ import annotations

from bot.errors import (
    ContextTooLong,
    ModelError,
    ModelHTTPError,
    ModelSetupError,
    ModelStreamBroken,
    ModelTimeout,
    ModelUnreachable,
)

EMPTY_MENTION = "Hi! Ask me anything: mention me with your question, or write to me in a DM."
TRY_AGAIN = "Please try again in a moment."
RESTARTING = ":arrows_counterclockwise: I'm restarting and couldn't finish this answer. Please ask again in a minute."
WAITING_STATUS = "is waiting for its turn…"
THINKING_STATUS = "is thinking…"
FILES_NOT_READ = "_(I can't read attached files, so I answered from the message text only.)_"
EMPTY_ANSWER = "_The model returned an empty answer. Try rephrasing your question._"


SETUP_NEEDS_ATTENTION = (
    "This is not about your question, so asking again won't help: the bot's setup needs attention. "
    "Please tell the person who runs it (`python -m bot check` shows them what to fix)."
)


def model_failed(error: ModelError) -> str:
    """Names the failure and what will help: waiting, changing the message, or fixing the bot's setup."""
    if isinstance(error, ModelTimeout):
        said, advice = f"the model service timed out after {error.seconds:g} s", TRY_AGAIN
    elif isinstance(error, ModelUnreachable):
        said, advice = "I could not reach the model service", f"{TRY_AGAIN} {IF_IT_PERSISTS}"
    elif isinstance(error, ModelStreamBroken):
        said, advice = f"the model service broke off its answer ({error.detail})", TRY_AGAIN
    elif isinstance(error, ModelSetupError):
        said = f"the model service refused this bot's settings: HTTP {error.status}: {error.message}"
        advice = SETUP_NEEDS_ATTENTION
    elif isinstance(error, ContextTooLong):
        said = f"this conversation is too long for the model, even shortened: HTTP {error.status}: {error.message}"
        advice = "Please start a new thread, or send a shorter message."
    elif isinstance(error, ModelHTTPError):
        said, advice = f"the model service answered HTTP {error.status}: {error.message}", _advice_for(error.status)
    else:
        said, advice = f"the model service failed ({error})", TRY_AGAIN
    return ":warning: " + sentences(f"Sorry, {said}", advice)


IF_IT_PERSISTS = "If it keeps happening, please tell the person who runs this bot."


def _advice_for(status: int) -> str:
    if status == 429:
        return "It is busy right now; please try again in a minute."
    if status >= 500:
        return TRY_AGAIN
    # A refusal that names no setting: it may be about the message (a filter in front of the service,
    # content the model will not take) or about the request the bot built.
    return f"If that is about your message, changing it may help. {IF_IT_PERSISTS}"


def sentences(*parts: str) -> str:
    """Joins parts as sentences, each ending in exactly one stop (a service's message may bring its own)."""
    ended = []
    for part in parts:
        text = part.strip()
        if text:
            ended.append(text if text.endswith((".", "!", "?", "…")) else text + ".")
    return " ".join(ended)


LENGTH_LIMIT = "_(The answer stops here: it reached the length limit. Ask me to continue.)_"
CONTENT_FILTER = "_(The answer stops here: the model's content filter ended it.)_"


def ending_note(finish_reason: str | None) -> str | None:
    """A short note when the model stopped for a reason other than being done."""
    if finish_reason == "length":
        return LENGTH_LIMIT
    if finish_reason == "content_filter":
        return CONTENT_FILTER
    return None


def interrupted(error: ModelError) -> str:
    """Marks a partly shown answer as incomplete, so nobody takes it for the whole answer."""
    advice = SETUP_NEEDS_ATTENTION if isinstance(error, ModelSetupError) else "Please ask again."
    return f":warning: _{sentences(f'The answer was interrupted ({error})', advice)}_"


def channel_not_allowed(allowed_channels: list[str]) -> str:
    """An ephemeral note, seen only by the person who asked."""
    where = ", ".join(f"<#{channel}>" for channel in sorted(allowed_channels))
    return f"I only answer in {where} and in DMs here. Ask me there, or in a DM!"
