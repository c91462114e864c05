"""Every text people read in Slack from the bot itself (not the model), so tone and wording stay one."""

from __future__ import annotations

from bot.errors import ModelError, ModelHTTPError, ModelStreamBroken, ModelTimeout, ModelUnreachable

EMPTY_MENTION = "Hi! Ask me anything: mention me with your question, or write to me in a DM."
TRY_AGAIN = "Please try again in a moment."
RESTARTING = ":arrows_counterclockwise: I'm restarting and couldn't finish this answer. Please ask again in a minute."
WAITING_STATUS = "is waiting for its turn…"
THINKING_STATUS = "is thinking…"
FILES_NOT_READ = "_(I can't read attached files, so I answered from the message text only.)_"
EMPTY_ANSWER = "_The model returned an empty answer. Try rephrasing your question._"


def model_failed(error: ModelError) -> str:
    """Names the failure so people know whether to retry, rephrase or tell an admin."""
    if isinstance(error, ModelTimeout):
        return f":warning: Sorry, the model service timed out after {error.seconds:g} s. {TRY_AGAIN}"
    if isinstance(error, ModelUnreachable):
        return f":warning: Sorry, I could not reach the model service. {TRY_AGAIN}"
    if isinstance(error, ModelStreamBroken):
        return f":warning: Sorry, the model service broke off its answer ({error.detail}). {TRY_AGAIN}"
    if isinstance(error, ModelHTTPError):
        advice = _advice_for_status(error.status)
        return f":warning: Sorry, the model service answered HTTP {error.status}: {error.message}. {advice}"
    return f":warning: Sorry, the model service failed ({error}). {TRY_AGAIN}"


def _advice_for_status(status: int) -> str:
    if status in (401, 403):
        return "Please ask the person who runs this bot to check its model settings."
    if status == 429:
        return "It is busy right now; please try again in a minute."
    if status >= 500:
        return TRY_AGAIN
    return "Rephrasing or shortening the question may help."


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
    return f":warning: _The answer was interrupted ({error}). Please ask again._"


def channel_not_allowed(allowed_channels: list[str]) -> str:
    """An ephemeral note, seen only by the person who asked."""
    where = ", ".join(f"<#{channel}>" for channel in sorted(allowed_channels))
    return f"I only answer in {where} and in DMs here. Ask me there, or in a DM!"
