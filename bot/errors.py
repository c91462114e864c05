"""The bot's own exceptions.

    BotError
    ├── ConfigurationError       settings missing or malformed; the bot cannot start
    ├── StoreUnavailable         Redis could not be reached (named by the failure's type)
    ├── AccessUndecided          Slack could not say who may read a conversation (too many people to check)
    ├── ToolError                a tool (an MCP server's, Slack search) could not run or failed; the model is told
    └── ModelError               the chat-completions call did not give a usable answer
        ├── ModelTimeout         no answer within the timeout
        ├── ModelUnreachable     the connection could not be made or was dropped
        ├── ModelStreamBroken    the stream ended before the model said it was done
        │   └── ModelAnswerTooLarge  a line of the stream, or a whole answer, past its limit: broken off
        └── ModelHTTPError       the service answered with an error status (or an error event in the stream)
            ├── ContextTooLong   the request was over the model's context window
            └── ModelSetupError  the key, the model id, the account's access or a setting was refused:
                                 only the person who runs the bot can fix it

Only the model client sees httpx's exceptions; it re-raises them as these.
"""

from __future__ import annotations


class BotError(Exception):
    """Base of every error the bot raises on purpose."""


class ConfigurationError(BotError):
    """Every problem found in the settings, each with how to fix it."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(f"- {problem}" for problem in problems))


class StoreUnavailable(BotError):
    """Redis did not answer; the message names the failure's type (`ConnectionError`), never the URL."""


class AccessUndecided(BotError):
    """Who may read a conversation could not be settled (too many members or unknown people); it counts as no."""


class ToolError(BotError):
    """A tool call failed: the message says why in words the model (and a log line) may read, secrets masked."""


class ModelError(BotError):
    """The model service did not produce an answer."""


class ModelTimeout(ModelError):
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(f"timed out after {seconds:g} s")


class ModelUnreachable(ModelError):
    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(f"could not reach the model service ({detail})")


class ModelStreamBroken(ModelError):
    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(f"the answer stream broke off ({detail})")


class ModelAnswerTooLarge(ModelStreamBroken):
    """Far past any real answer (a gateway's loop, a proxy's garbage): not read on, and not asked again."""


class ModelHTTPError(ModelError):
    """`message` is a short summary in whole words, what a notice quotes; `detail` the service's fuller words
    (one line, secrets masked), for the log and `check`. `in_stream`: an error event inside a stream whose
    HTTP status was 200; `status` is then what its code means (500 when it says nothing), never shown."""

    def __init__(
        self,
        status: int,
        message: str,
        retry_after: float | None = None,
        *,
        detail: str | None = None,
        in_stream: bool = False,
    ) -> None:
        self.status = status
        self.message = message
        self.detail = detail or message
        self.retry_after = retry_after
        self.in_stream = in_stream
        where = "error event in the answer stream" if in_stream else f"HTTP {status}"
        super().__init__(f"{where}: {self.detail}")


class ContextTooLong(ModelHTTPError):
    """A 4xx whose message says the input did not fit the model's context window."""


class ModelSetupError(ModelHTTPError):
    """Retrying or rewording cannot help; `settings` names what to check, and so does the log line."""

    def __init__(
        self,
        status: int,
        message: str,
        settings: tuple[str, ...],
        retry_after: float | None = None,
        *,
        detail: str | None = None,
        in_stream: bool = False,
    ) -> None:
        super().__init__(status, message, retry_after, detail=detail, in_stream=in_stream)
        self.settings = settings

    def __str__(self) -> str:
        return f"{super().__str__()} (check {' and '.join(self.settings)})"
