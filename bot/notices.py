"""Every text people read in Slack from the bot itself (not the model), so tone and wording stay one."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

from bot.errors import (
    ContextTooLong,
    ModelAnswerTooLarge,
    ModelError,
    ModelHTTPError,
    ModelSetupError,
    ModelStreamBroken,
    ModelTimeout,
    ModelUnreachable,
)
from bot.safe_text import inert_in_slack, inert_markup

EMPTY_MENTION = "Hi! Ask me anything: mention me with your question, or write to me in a DM."
TRY_AGAIN = "Please try again in a moment."
RESTARTING = ":arrows_counterclockwise: I'm restarting and couldn't finish this answer. Please ask again in a minute."
# Under an answer cut short by a restart while another process takes it over and rewrites this message.
CONTINUING = "_Continuing in a moment…_"


# In place of an answer that failed every time it was tried (bot/work/consumer.py MAX_ATTEMPTS).
def could_not_answer(tries: int) -> str:
    return f":warning: Sorry, I couldn't answer this: it failed all {tries} times I tried. {IF_IT_PERSISTS}"


WAITING_STATUS = "is waiting for its turn…"
THINKING_STATUS = "is thinking…"
EMPTY_ANSWER = "_The model returned an empty answer. Try rephrasing your question._"


SETUP_NEEDS_ATTENTION = (
    "This is not about your question, so asking again won't help: the bot's setup needs attention. "
    "Please tell the person who runs it (`python -m bot check` shows them what to fix)."
)


def model_failed(error: ModelError) -> str:
    """Names the failure and what will help: waiting, changing the message, or fixing the bot's setup. The
    service's own words are quoted as a short summary (its internals go to the log, not to the channel)."""
    if isinstance(error, ModelTimeout):
        said, advice = f"the model service timed out after {error.seconds:g} s", TRY_AGAIN
    elif isinstance(error, ModelUnreachable):
        said, advice = "I could not reach the model service", f"{TRY_AGAIN} {IF_IT_PERSISTS}"
    elif isinstance(error, ModelAnswerTooLarge):
        said = f"the model service sent {error.detail}, more than any real answer, so I stopped reading it"
        advice = f"{TRY_AGAIN} {IF_IT_PERSISTS}"
    elif isinstance(error, ModelStreamBroken):
        said, advice = f"the model service broke off its answer ({inert_markup(error.detail)})", TRY_AGAIN
    elif isinstance(error, ModelSetupError):
        said, advice = f"the model service refused this bot's settings: {_quoted(error)}", SETUP_NEEDS_ATTENTION
    elif isinstance(error, ContextTooLong):
        said = f"this conversation is too long for the model, even shortened: {_quoted(error)}"
        advice = "Please start a new thread, or send a shorter message."
    elif isinstance(error, ModelHTTPError):
        said, advice = _service_said(error), _advice_for(error.status)
    else:
        said, advice = f"the model service failed ({inert_markup(str(error))})", TRY_AGAIN
    return ":warning: " + sentences(f"Sorry, {said}", advice)


def _quoted(error: ModelHTTPError) -> str:
    """The service's summary, with the HTTP status it came with; an error event in a stream came with none."""
    message = inert_markup(error.message)
    return message if error.in_stream else f"HTTP {error.status}: {message}"


def _service_said(error: ModelHTTPError) -> str:
    if error.in_stream:
        return f"the model service reported an error mid-answer: {inert_markup(error.message)}"
    return f"the model service answered HTTP {error.status}: {inert_markup(error.message)}"


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
    said = _service_said(error) if isinstance(error, ModelHTTPError) else inert_markup(str(error))
    return f":warning: _{sentences(f'The answer was interrupted ({said})', advice)}_"


def channel_not_allowed(allowed_channels: list[str]) -> str:
    """An ephemeral note, seen only by the person who asked."""
    where = ", ".join(f"<#{channel}>" for channel in sorted(allowed_channels))
    return f"I only answer in {where} and in DMs here. Ask me there, or in a DM!"


# Catch-up (the "Summarize thread" shortcut and `/catchup`): private notes, and the DM thread's first message.
CATCH_UP_USAGE = (
    "Type `/catchup` for a private summary of this channel's last 24 hours, or give a time span: "
    "`/catchup 8h`, `/catchup 3d`, `/catchup 90m` (up to 30 days). The summary comes to our DM."
)
CANT_READ_DM = (
    "I can only read channels I'm a member of and our own DM, so I can't summarize this conversation. "
    "Try it in a channel I'm in."
)
CATCH_UP_NOT_YOURS = "I can only summarize a conversation you can read yourself, so I didn't summarize this one."
CATCH_UP_UNDELIVERED = f":warning: Sorry, I couldn't send you the summary in our DM. {TRY_AGAIN}"


def catch_up_usage(given: str) -> str:
    """The reply to a `/catchup` argument that is not a time span."""
    return f"I didn't understand `{_code_safe(given.strip(), 40)}` as a time span. {CATCH_UP_USAGE}"


def cant_read(channel: str, bot_name: str) -> str:
    """Where the bot is not a member (or the channel is private to it): how to let it in."""
    if not channel.startswith(("C", "G")):
        return CANT_READ_DM
    return (
        f"I can't read <#{channel}>: I'm not a member of it. Add me by typing `/invite @{bot_name}` in that "
        "channel, then try again."
    )


def catch_up_failed(channel: str) -> str:
    return f":warning: Sorry, I couldn't read <#{channel}> just now. {TRY_AGAIN}"


def window_phrase(window: timedelta) -> str:
    """`the last 24 hours`, `the last 3 days`, `the last 90 minutes`."""
    minutes = int(window.total_seconds() // 60)
    if minutes % (24 * 60) == 0 and minutes > 24 * 60:
        count, unit = minutes // (24 * 60), "day"
    elif minutes % 60 == 0:
        count, unit = minutes // 60, "hour"
    else:
        count, unit = minutes, "minute"
    return f"the last {unit}" if count == 1 else f"the last {count} {unit}s"


def nothing_to_catch_up_on(channel: str, window: timedelta | None) -> str:
    """A channel quiet over the span asked for, or a thread with nothing but joins and deletions."""
    if window is None:
        return "There's nothing in this thread I can summarize."
    return f"Nothing was said in <#{channel}> in {window_phrase(window)}: you're all caught up."


def summary_on_its_way(kind: str) -> str:
    """The private confirmation where the person asked: the summary itself is in the DM."""
    what = "this thread" if kind == "thread" else "this channel"
    return f"I'm sending you a summary of {what} in our DM (my Messages tab)."


def thread_summary_header(channel: str, permalink: str | None, reaches_back_to: str | None = None) -> str:
    """The first message of the DM thread a thread's summary streams into (Slack mrkdwn); says which replies
    it covers when the thread is longer than fits."""
    thread = f"<{permalink}|this thread>" if permalink else "a thread"
    header = f":memo: Summary of {thread} in <#{channel}>, just for you. Reply here to ask me more about it."
    if reaches_back_to is None:
        return header
    since = _slack_date(reaches_back_to)
    return (
        f"{header}\n_The thread is longer than fits in one summary: it covers its start and the replies since {since}._"
    )


def channel_summary_header(channel: str, window: timedelta, reaches_back_to: str | None) -> str:
    """The first message of a `/catchup` DM thread; says how far back the summary reaches when cut short."""
    header = f":memo: Catching you up on <#{channel}>, {window_phrase(window)}. Reply here to ask me more about it."
    if reaches_back_to is None:
        return header
    return f"{header}\n_There was more than fits in one summary: it reaches back to {_slack_date(reaches_back_to)}._"


def _slack_date(ts: str) -> str:
    """A message time that Slack shows in each reader's own time zone (UTC where it cannot)."""
    stamp = int(float(ts))
    fallback = datetime.fromtimestamp(stamp, UTC).strftime("%d %b %H:%M UTC")
    return f"<!date^{stamp}^{{date_short_pretty}} at {{time}}|{fallback}>"


def budget_spent(budget: str, limit: int, resets_in: timedelta) -> str:
    """Says whose daily token budget is spent and when it starts anew; the model was not asked."""
    minutes = max(1, math.ceil(resets_in.total_seconds() / 60))
    hours, minutes = divmod(minutes, 60)
    wait = f"{hours} h {minutes} min" if hours else f"{minutes} min"
    if budget == "channel":
        whose = "This channel has used its"
        elsewhere = " You can still ask me in a DM."
    else:
        whose, elsewhere = "You've used your", ""
    return (
        f":hourglass_flowing_sand: {whose} daily budget of {limit:,} tokens, so I didn't ask the model this time. "
        f"It resets at midnight UTC, in {wait}.{elsewhere}"
    )


IMAGES_REFUSED = "_The model would not take the images here, so I answered from the text alone._"


# Why a file was not read (bot/files/reading.py's reasons), in the words of the answer's note.
FILE_REASONS = {
    "too_large": "it is larger than the {max_mb} MB limit",
    "unsupported": "I can't read this kind of file",
    "text_only_model": "the model I use can't take images",
    "too_many_images": "I send at most {max_images} images per question, the newest first",
    "too_many_files": "I read at most {max_files} files per question, the newest first",
    "refused": "Slack would not let me download it (the app needs the `files:read` scope)",
    "failed": "the download failed; ask again to retry",
    "other_organisation": "it was shared from another organisation",
    "not_in_slack": "it is not stored in Slack (or was deleted)",
    "binary": "it is not text",
    "unreadable": "it could not be read ({detail})",
    "no_room": "it did not fit in the model's input limit next to newer content",
    "too_complex": "it is too complex for me to read ({detail})",
    "image_too_large": "the image is too large for me to read ({detail})",
    "busy": "I was reading too many files at once; ask again in a minute",
}


def file_not_read(name: str, reason: str, detail: str = "", **limits: int) -> str:
    """One line per file in the answer's note, so nobody takes an answer for one that read the file."""
    why = FILE_REASONS.get(reason, "it could not be read").format(
        detail=inert_markup(detail) if detail else "unknown problem", **limits
    )
    return f"_I did not read `{_code_safe(name)}`: {why}._"


def more_files_not_read(count: int) -> str:
    return f"_…and {count} more files I did not read._"


def more_links_not_followed(count: int, max_links: int) -> str:
    return f"_…and {count} more Slack links I did not open: I follow at most {max_links} in a question._"


def link_not_for_everyone_here(url: str) -> str:
    """The asker may read the linked conversation, but someone who reads this one may not (a private
    conversation, or a channel shared with guests or another organisation)."""
    return (
        f"_I did not open {inert_markup(url)} here: not everyone in this conversation may be able to see it. "
        "Ask me about it in a DM with me, or in that conversation._"
    )


def link_not_followed(url: str) -> str:
    """Says nothing about what the link points to: the asker may not be allowed to know."""
    return f"_I could not open {inert_markup(url)}: I only follow links to conversations that both you and I can see._"


def link_unchecked(url: str) -> str:
    """Slack could not say who may see the linked conversation, so it was not opened."""
    return f"_I did not open {inert_markup(url)}: Slack could not tell me who may see it. {TRY_AGAIN}_"


def _code_safe(text: str, limit: int = 200) -> str:
    """Outside text inside a code span, where Markdown and mrkdwn make no links: it cannot close the span, and
    Slack's own sequences (`<!channel>`, `<@U…>`), which Slack may read even in a code span, ping no one."""
    return inert_in_slack(text.replace("`", "'").replace("\n", " ")[:limit])


# The agent tab and feedback on answers (bot/features/agent_tab.py, bot/answer/feedback.py).
SUGGESTED_PROMPTS_TITLE = "Try asking me:"
# Shown in turn under the thread status while the model thinks (Slack rotates them).
LOADING_MESSAGES = (
    "Reading the thread…",
    "Thinking it through…",
    "Drafting an answer…",
)
FEEDBACK_UP = "👍"
FEEDBACK_DOWN = "👎"
FEEDBACK_UP_LABEL = "This answer was helpful"
FEEDBACK_DOWN_LABEL = "This answer was not helpful"
FEEDBACK_THANKS_UP = "Thanks for the feedback! Glad it helped."
FEEDBACK_THANKS_DOWN = (
    "Thanks for the feedback: it helps the people who run me see which answers miss. "
    "Tell me in this thread what was wrong, and I'll try again."
)

MUTED = "Okay, I'll stay out of this thread until someone mentions me again."
STOP_FOLLOWING = "Stop following"
GET_A_HUMAN = "Get a human"
ESCALATION_ONLY_ASKER = "Only the person who asked can call someone in here. Mention a teammate if you need one."
ALREADY_ESCALATED = "Someone has already been called in to this thread."
ESCALATION_UNDELIVERED = f":warning: Sorry, I couldn't call anyone in. {TRY_AGAIN}"


def escalation(who: str, asker: str, summary: str) -> str:
    """`who` is Slack's mention of the group or person (`<!subteam^S…>`, `<@U…>`); `summary` is the asker's
    own question, made inert before it is quoted."""
    still_open = f": “{summary}”" if summary else "."
    return f"{who}, <@{asker}> could use a hand here; I couldn't fully help. Still open{still_open}"


# Slack's markup in the texts above, for `python -m bot chat`: the terminal shows none of it.
EMOJI_CODE = re.compile(r"(?<![\w:]):[a-z0-9_+-]+:(?![\w:]) ?")
EMPHASIS = re.compile(r"(?<![\w*_~])([_*~])(?=\S)(.+?)(?<=\S)\1(?![\w*_~])")
SLACK_LINK = re.compile(r"<([^<>|]+)\|([^<>]+)>")
SLACK_REFERENCE = re.compile(r"<[!]?([#@]?[^<>|]+)>")


def plain_text(text: str) -> str:
    """A notice written in Slack's mrkdwn as plain text, so the terminal chat says the same words: no emoji
    codes, no _italic_, *bold* or ~strike~ markers, a link as its label and address, a date as its fallback."""
    plain = EMOJI_CODE.sub("", text)
    plain = SLACK_LINK.sub(_link, plain)
    plain = SLACK_REFERENCE.sub(r"\1", plain)
    previous = None
    while previous != plain:  # _*nested*_ markers
        previous, plain = plain, EMPHASIS.sub(r"\2", plain)
    return plain


def _link(match: re.Match[str]) -> str:
    target, label = match.group(1), match.group(2)
    return f"{label} ({target})" if target.startswith(("http://", "https://")) else label


# Tools (bot/tools/, bot/answer/tool_loop.py).
TOOL_STEPS_SPENT = (
    "_I stopped looking things up here: the model kept calling tools past the limit of {steps} rounds, "
    "so this answer may be incomplete. Try a narrower question._"
)
TOOL_DEADLINE = "_I ran out of time while looking things up, so this answer may be incomplete._"
TOOL_CALLS_CAPPED = "_The model asked for {asked} tool calls at once; I ran only the first {ran}._"
TOOLS_REFUSED = "_The model would not take tools, so I answered without looking anything up._"
TOOL_STATUS_WORDS = {
    "complete": ":white_check_mark: Used",
    "error": ":warning: Could not use",
    "denied": ":no_entry_sign: Not run (refused):",
    "expired": ":hourglass: Not run (approval expired):",
}
APPROVE = "Approve"
DENY = "Deny"
APPROVAL_NOT_YOURS = "Only the person who asked can approve or deny this action."
APPROVAL_ALREADY_DECIDED = "This action was already decided."
APPROVAL_EXPIRED_MINUTES = 10
APPROVAL_ARGUMENT_CHARS = 1500


def tool_line(status: str, title: str) -> str:
    """The line an answer shows for each tool call (where Slack's task cards are not used)."""
    return f"_{TOOL_STATUS_WORDS.get(status, TOOL_STATUS_WORDS['error'])} {inert_markup(title)}_"


# A task card's output for a call the answer stopped before it ended (a failure, a restart).
TOOL_CARD_UNFINISHED = "Stopped before it finished."
# A task card's output for a call that did not run.
TOOL_CARD_NOT_RUN = {
    "denied": "Not run: the person who asked refused it.",
    "expired": "Not run: nobody approved it in time.",
}


def search_found(count: int) -> str:
    """A search's task card output."""
    return f"Found {count} message{'' if count == 1 else 's'} everyone here may see."


LABEL_BRACKETS = str.maketrans("[]", "()")
# An answer lists this many sources at most (a few searches find dozens): the rest are counted.
FOOTER_SOURCES = 10


def sources_footer(sources: list[tuple[str, str]]) -> str:
    """The end of an answer that used search: each source as a link, so people can check."""
    # Markdown, as the answer is: Slack renders it streamed, and the bot turns it into mrkdwn when posted.
    links = []
    for url, title in sources[:FOOTER_SOURCES]:
        label = inert_markup(title.translate(LABEL_BRACKETS))[:80] or "message"
        links.append(f"- [{label}]({url.replace(')', '%29')})")
    if len(sources) > FOOTER_SOURCES:
        links.append(f"- _and {len(sources) - FOOTER_SOURCES} more_")
    return "**Sources**\n" + "\n".join(links)


def approval_request(asker: str, tool: str, server: str, arguments: str) -> str:
    return (
        f"<@{asker}>, I'd like to run *{inert_markup(tool)}* on *{inert_markup(server)}* with:\n"
        f"```{_code_safe(arguments, APPROVAL_ARGUMENT_CHARS)}```\n"
        "It may change something, so it runs only if you approve. "
        f"This request expires in {APPROVAL_EXPIRED_MINUTES} minutes."
    )


def approval_decided(tool: str, decision: str, who: str) -> str:
    words = {"approved": ":white_check_mark: Approved", "denied": ":no_entry_sign: Denied"}
    return f"{words.get(decision, ':hourglass: Expired')}: *{inert_markup(tool)}*" + (f" by <@{who}>" if who else "")
