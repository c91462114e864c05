"""Settings, read once at start from the environment (and `.env`), every problem reported at once."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import re
from collections.abc import Callable, Collection, Mapping
from typing import Literal, TypeVar
from urllib.parse import unquote_plus, urlsplit, urlunsplit

from bot import linear_regex
from bot.errors import ConfigurationError
from bot.shutdown import MAX_GRACE_SECONDS
from bot.suggested_prompts import (
    DEFAULT_SUGGESTED_PROMPTS,
    FORMAT_HINT,
    PromptsMalformed,
    SuggestedPrompt,
    parse_suggested_prompts,
)

DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful assistant in a Slack workspace. People talk to you in Slack threads; "
    "several people may take part in one thread, and each of their messages starts with their name. "
    "Answer the latest message, concisely and accurately, using standard Markdown."
)

DEFAULT_SUMMARY_PROMPT = (
    "You summarize Slack conversations for someone catching up on them. Each message starts with its "
    "author's name. Write standard Markdown, shorter than the conversation: first the gist in one or two "
    "sentences; then the main points, saying who said what; then a **Decisions** list (what was agreed, "
    "and by whom) and an **Open questions** list (what is still unanswered or waiting on someone, and on "
    'whom), writing "None" under a list that has nothing. Only report what the messages say.'
)

# Where Slack shows each credential; the settings' hints, the warning on a failed signature and `check` say it.
# Connections one process opens to Redis at most: the wake-up listener and the queue's blocking read hold one
# each, every other call borrows one for its round trip.
DEFAULT_REDIS_MAX_CONNECTIONS = 20
MIN_REDIS_CONNECTIONS = 4
SIGNING_SECRET_WHERE = "Basic Information → App Credentials → Signing Secret"
HEROKU_HINT = "On Heroku: `heroku config:set -a $APP_NAME {name}=...`; locally: put it in .env."
INFERENCE_HINT = (
    "On Heroku, attach a model with `heroku ai:models:create -a $APP_NAME claude-4-5-haiku --as INFERENCE`; "
    "locally, copy it into .env from `heroku config:get -a $APP_NAME {name}`."
)

MCP_HINT = (
    'MCP_SERVERS must be a JSON object of servers, e.g. {"orders": {"url": "https://orders.example.com/mcp", '
    '"headers": {"Authorization": "Bearer ..."}, "approval": "writes"}} (a whole {"mcpServers": {...}} is taken too)'
)
APPROVALS = ("writes", "always", "never")
SERVER_NAME = re.compile(r"[A-Za-z0-9_-]{1,30}")

Number = TypeVar("Number", int, float)
# The parts whose settings can be required: the server needs both; `python -m bot chat` only the model.
Part = Literal["slack", "model"]
SERVER_PARTS: frozenset[Part] = frozenset(("slack", "model"))
CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{6,}")
USER_ID = re.compile(r"[UW][A-Z0-9]{4,}")
# Whom ESCALATE_TO may name: a user group (S…) or a person (U…, W…).
ESCALATION_ID = re.compile(r"S[A-Z0-9]{4,}|[UW][A-Z0-9]{4,}")
# A model id as a service names it: letters, digits and . _ - : / (no spaces).
MODEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]*")
REPLY_MODES = ("mention", "thread", "help")
REPLY_CHOICES = tuple(mode.upper() for mode in REPLY_MODES)
# What examples put where a credential goes (`xoxb-...` and `...` in .env.example, `your-token`, `<key>`,
# `changeme`): such a value is refused as if it were missing, since Slack or the model would refuse it later.
PLACEHOLDER = re.compile(
    r"\.\.\.|…|^<.*>$|^your[-_ ]|^(?:change[-_ ]?me|replace[-_ ]?me|placeholder|todo|x{3,})$", re.IGNORECASE
)


@dataclasses.dataclass(frozen=True)
class McpServer:
    """One MCP server the bot's answers may use, spoken to over Streamable HTTP.

    `approval`: which of its tools wait for the asker's Approve: `writes` (those not marked read-only),
    `always` or `never`. Header values are secrets, and so is what a URL may carry (`url_secrets`): the
    URL is shown only as `shown_url`."""

    name: str
    url: str = dataclasses.field(repr=False)
    headers: tuple[tuple[str, str], ...] = dataclasses.field(default=(), repr=False)
    approval: str = "writes"

    @property
    def secrets(self) -> list[str]:
        return [*(value for _, value in self.headers), *url_secrets(self.url)]

    @property
    def shown_url(self) -> str:
        return shown_url(self.url)


# A bare value is hunted for in every text only from this length on (shorter ones, `?format=json`, would
# mask ordinary words); a `name=value` pair and a `user@` are masked whole at any length.
URL_VALUE_CHARS = 8


def url_secrets(url: str) -> list[str]:
    """What a URL may carry that is a key: its password, a user name with no password
    (`https://KEY@host`), and every query value (`?key=…`), each as written and decoded."""
    try:
        parts = urlsplit(url)
        password, username = parts.password, parts.username
    except ValueError:
        return [url]
    found: list[str] = []
    if password:
        found.append(password)
    elif username:
        found += [f"{username}@", username if len(username) >= URL_VALUE_CHARS else ""]
    for pair in filter(None, parts.query.split("&")):
        value = pair.partition("=")[2]
        found += [pair, *(text for text in (value, unquote_plus(value)) if len(text) >= URL_VALUE_CHARS)]
    return [secret for secret in dict.fromkeys(found) if secret]


def shown_url(url: str) -> str:
    """The URL as logs, `check` and notices show it: user name, password and every query value masked."""
    try:
        parts = urlsplit(url)
        host = parts.netloc.rpartition("@")[2]
    except ValueError:
        return "(a URL that cannot be read)"
    netloc = f"[redacted]@{host}" if "@" in parts.netloc else host
    # A pair's name is shown, its value masked; a pair with no `=` (`?KEY`) is all value.
    query = "&".join(
        f"{pair.partition('=')[0]}=[redacted]" if "=" in pair else "[redacted]"
        for pair in filter(None, parts.query.split("&"))
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


@dataclasses.dataclass(frozen=True)
class Settings:
    slack_bot_token: str = dataclasses.field(repr=False)
    slack_signing_secret: str = dataclasses.field(repr=False)
    slack_app_token: str | None = dataclasses.field(repr=False)
    slack_api_url: str
    inference_url: str
    inference_key: str = dataclasses.field(repr=False)
    inference_model_id: str
    port: int = 3000
    redis_url: str | None = dataclasses.field(default=None, repr=False)
    redis_max_connections: int = DEFAULT_REDIS_MAX_CONNECTIONS
    # False: the web process only records questions; `python -m bot worker` processes answer them.
    web_answers: bool = True
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    temperature: float = 0.5
    max_tokens: int = 2048
    model_timeout_seconds: float = 120.0
    model_connect_timeout_seconds: float = 10.0
    model_read_timeout_seconds: float = 60.0
    model_max_attempts: int = 3
    max_concurrent_model_calls: int = 500
    shutdown_grace_seconds: float = 20.0
    input_budget_tokens: int = 50_000
    thread_cache_max_entries: int = 1000
    thread_cache_max_bytes: int = 32 * 1024 * 1024
    slack_streaming: bool = True
    slack_update_interval_seconds: float = 1.0
    log_level: str = "INFO"
    log_message_content: bool = False
    allowed_channels: frozenset[str] = frozenset()
    summary_prompt: str = DEFAULT_SUMMARY_PROMPT
    admin_user_ids: frozenset[str] = frozenset()
    daily_tokens_per_person: int | None = None
    daily_tokens_per_channel: int | None = None
    redact: str = "default"
    redact_patterns: tuple[str, ...] = ()
    model_accepts_images: str = "auto"
    file_max_bytes: int = 20 * 1024 * 1024
    model_max_images: int = 5
    pdf_max_pages: int = 100
    suggested_prompts: tuple[SuggestedPrompt, ...] = DEFAULT_SUGGESTED_PROMPTS
    default_reply_mode: str = "thread"
    channel_modes: Mapping[str, str] = dataclasses.field(default_factory=dict)
    escalate_to: Mapping[str, str] = dataclasses.field(default_factory=dict)
    channel_models: Mapping[str, str] = dataclasses.field(default_factory=dict)
    mcp_servers: tuple[McpServer, ...] = ()
    max_tool_steps: int = 8

    def answers_in(self, channel: str, *, direct: bool) -> bool:
        """ALLOWED_CHANNELS, when set, names the channels the bot answers in; a DM with it always is."""
        return not self.allowed_channels or direct or channel in self.allowed_channels

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def secrets(self) -> list[str]:
        """Values that must never appear in a log line or a message."""
        candidates = [self.slack_bot_token, self.slack_signing_secret, self.slack_app_token, self.inference_key]
        if self.redis_url:
            password = urlsplit(self.redis_url).password
            candidates.append(password)
        candidates.extend(secret for server in self.mcp_servers for secret in server.secrets)
        return [value for value in candidates if value]

    @staticmethod
    def names() -> list[str]:
        """Every setting the bot reads, in the order it reads them."""
        reader = _Reader({})
        Settings._read(reader)
        return reader.names_read

    @classmethod
    def from_env(cls, environ: Mapping[str, str], parts: Collection[Part] = SERVER_PARTS) -> Settings:
        """Checks every setting given; those of a part not in `parts` may be missing (then empty)."""
        reader = _Reader(environ)
        settings = cls._read(reader, frozenset(parts))
        if reader.problems:
            raise ConfigurationError(reader.problems)
        return settings

    @classmethod
    def _read(cls, reader: _Reader, parts: frozenset[Part] = SERVER_PARTS) -> Settings:
        slack, model = "slack" in parts, "model" in parts
        app_token = reader.optional("SLACK_APP_TOKEN")
        if app_token is not None and PLACEHOLDER.search(app_token):
            if slack:
                reader.problem(
                    "SLACK_APP_TOKEN is a placeholder, not a real token: copy the app-level token (xapp-...) from "
                    "Basic Information → App-Level Tokens, or unset it to run in HTTP mode."
                )
            app_token = None
        if slack and app_token is not None and not app_token.startswith("xapp-"):
            reader.problem(
                "SLACK_APP_TOKEN must be an app-level token starting with `xapp-` (Basic Information → "
                "App-Level Tokens, scope connections:write). Leave it unset to run in HTTP mode."
            )
        bot_token = reader.required(
            "SLACK_BOT_TOKEN",
            "Copy the Bot User OAuth Token (xoxb-...) from your Slack app's OAuth & Permissions page. "
            + HEROKU_HINT.format(name="SLACK_BOT_TOKEN"),
            needed=slack,
        )
        if slack and bot_token and not bot_token.startswith("xoxb-"):
            reader.problem("SLACK_BOT_TOKEN must be a bot token starting with `xoxb-` (OAuth & Permissions page).")
        signing_secret = ""
        if app_token is None:
            signing_secret = reader.required(
                "SLACK_SIGNING_SECRET",
                f"Copy it from your Slack app's {SIGNING_SECRET_WHERE}. "
                + HEROKU_HINT.format(name="SLACK_SIGNING_SECRET"),
                needed=slack,
            )
        settings = cls(
            slack_bot_token=bot_token,
            slack_signing_secret=signing_secret,
            slack_app_token=app_token,
            slack_api_url=reader.url("SLACK_API_URL", "https://slack.com/api/", trailing_slash=True),
            inference_url=reader.model_base_url("INFERENCE_URL", needed=model),
            inference_key=reader.required("INFERENCE_KEY", INFERENCE_HINT.format(name="INFERENCE_KEY"), needed=model),
            inference_model_id=reader.required(
                "INFERENCE_MODEL_ID", INFERENCE_HINT.format(name="INFERENCE_MODEL_ID"), needed=model
            ),
            port=reader.number("PORT", int, 3000, minimum=1, maximum=65535),
            redis_url=reader.optional("REDIS_URL"),
            redis_max_connections=reader.number(
                "REDIS_MAX_CONNECTIONS",
                int,
                DEFAULT_REDIS_MAX_CONNECTIONS,
                minimum=MIN_REDIS_CONNECTIONS,
                maximum=65_000,
            ),
            web_answers=reader.flag("WEB_ANSWERS", True),
            system_prompt=reader.optional("SYSTEM_PROMPT") or DEFAULT_SYSTEM_PROMPT,
            temperature=reader.number("MODEL_TEMPERATURE", float, 0.5, minimum=0, maximum=2),
            max_tokens=reader.number("MODEL_MAX_TOKENS", int, 2048, minimum=1, maximum=200_000),
            model_timeout_seconds=reader.number("MODEL_TIMEOUT_SECONDS", float, 120.0, minimum=1, maximum=3600),
            model_connect_timeout_seconds=reader.number(
                "MODEL_CONNECT_TIMEOUT_SECONDS", float, 10.0, minimum=0.1, maximum=300
            ),
            model_read_timeout_seconds=reader.number(
                "MODEL_READ_TIMEOUT_SECONDS", float, 60.0, minimum=0.1, maximum=3600
            ),
            model_max_attempts=reader.number("MODEL_MAX_ATTEMPTS", int, 3, minimum=1, maximum=10),
            max_concurrent_model_calls=reader.number(
                "MAX_CONCURRENT_MODEL_CALLS", int, 500, minimum=1, maximum=100_000
            ),
            shutdown_grace_seconds=reader.number(
                "SHUTDOWN_GRACE_SECONDS", float, 20.0, minimum=0, maximum=MAX_GRACE_SECONDS
            ),
            input_budget_tokens=reader.number(
                "MODEL_INPUT_BUDGET_TOKENS", int, 50_000, minimum=1000, maximum=2_000_000
            ),
            thread_cache_max_entries=reader.number("THREAD_CACHE_MAX_ENTRIES", int, 1000, minimum=0, maximum=1_000_000),
            thread_cache_max_bytes=reader.number("THREAD_CACHE_MAX_MB", int, 32, minimum=0, maximum=4096) * 1024 * 1024,
            slack_streaming=reader.flag("SLACK_STREAMING", True),
            slack_update_interval_seconds=reader.number(
                "SLACK_UPDATE_INTERVAL_SECONDS", float, 1.0, minimum=0.05, maximum=30
            ),
            log_level=reader.choice("LOG_LEVEL", ("DEBUG", "INFO", "WARNING", "ERROR"), "INFO"),
            log_message_content=reader.flag("LOG_MESSAGE_CONTENT", False),
            allowed_channels=reader.channel_ids("ALLOWED_CHANNELS"),
            summary_prompt=reader.optional("SUMMARY_PROMPT") or DEFAULT_SUMMARY_PROMPT,
            admin_user_ids=reader.user_ids("ADMIN_USER_IDS"),
            daily_tokens_per_person=reader.limit("DAILY_TOKENS_PER_PERSON"),
            daily_tokens_per_channel=reader.limit("DAILY_TOKENS_PER_CHANNEL"),
            redact=reader.choice("REDACT", ("OFF", "DEFAULT", "STRICT"), "DEFAULT").lower(),
            redact_patterns=reader.patterns("REDACT_PATTERNS"),
            model_accepts_images=reader.choice("MODEL_ACCEPTS_IMAGES", ("AUTO", "TRUE", "FALSE"), "AUTO").lower(),
            file_max_bytes=reader.number("FILE_MAX_MB", int, 20, minimum=1, maximum=1024) * 1024 * 1024,
            model_max_images=reader.number("MODEL_MAX_IMAGES", int, 5, minimum=0, maximum=100),
            pdf_max_pages=reader.number("PDF_MAX_PAGES", int, 100, minimum=1, maximum=10_000),
            suggested_prompts=reader.suggested_prompts("SUGGESTED_PROMPTS"),
            default_reply_mode=reader.choice(
                "DEFAULT_REPLY_MODE", tuple(mode.upper() for mode in REPLY_MODES), "THREAD"
            ).lower(),
            channel_modes=reader.per_channel(
                "CHANNEL_MODES", lambda value: value.lower() in REPLY_MODES, "one of mention, thread or help", str.lower
            ),
            escalate_to=reader.per_channel(
                "ESCALATE_TO", ESCALATION_ID.fullmatch, "a user group id (S0ABC123) or a person's id (U0AAA111)"
            ),
            channel_models=reader.per_channel(
                "CHANNEL_MODELS", MODEL_ID.fullmatch, "a model id such as claude-4-5-sonnet"
            ),
            mcp_servers=reader.mcp_servers("MCP_SERVERS"),
            max_tool_steps=reader.number("MAX_TOOL_STEPS", int, 8, minimum=1, maximum=50),
        )
        if not settings.web_answers and not settings.redis_url:
            reader.problem(
                "WEB_ANSWERS=false needs REDIS_URL: the web process queues questions there for `python -m bot worker` "
                "to answer. Set REDIS_URL, or unset WEB_ANSWERS."
            )
        if settings.redact_patterns and settings.redact != "strict":
            reader.problem(
                "REDACT_PATTERNS is only used with REDACT=strict: set REDACT=strict, or unset REDACT_PATTERNS."
            )
        return settings


CHAT_COMPLETIONS = "/chat/completions"


def _on_this_machine(address: str) -> bool:
    """`localhost:11434`, `127.0.0.1:8000`, `[::1]:8000`: a server on this machine, which speaks plain HTTP
    (Ollama, vLLM, a fake); tried as https it would fail with a TLS error that names nothing."""
    host = urlsplit("//" + address).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Reader:
    """Reads and checks values, collecting every problem instead of stopping at the first."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.problems: list[str] = []
        self.names_read: list[str] = []

    def problem(self, text: str) -> None:
        self.problems.append(text)

    def optional(self, name: str) -> str | None:
        self.names_read.append(name)
        value = self.environ.get(name, "").strip()
        return value or None

    def channel_ids(self, name: str) -> frozenset[str]:
        return self._ids(
            name, CHANNEL_ID, "channel ids such as C0123ABCD", "open the channel's details: the id is at the bottom."
        )

    def user_ids(self, name: str) -> frozenset[str]:
        return self._ids(
            name, USER_ID, "Slack user ids such as U0123ABCD", "open the person's profile, ⋮ → Copy member ID."
        )

    def _ids(self, name: str, pattern: re.Pattern[str], what: str, where: str) -> frozenset[str]:
        """A list of Slack ids separated by commas or spaces; each one that is not an id is named."""
        raw = self.optional(name) or ""
        ids = frozenset(part.strip() for part in raw.replace(" ", ",").split(",") if part.strip())
        malformed = sorted(value for value in ids if not pattern.fullmatch(value))
        if malformed:
            self.problem(f"{name} must list {what}, separated by commas, not {', '.join(malformed)}. In Slack, {where}")
        return ids

    def required(self, name: str, hint: str, *, needed: bool = True) -> str:
        """`needed=False`: the value's part is not asked for; missing, it is empty, not a problem.
        A placeholder counts as missing."""
        value = self.optional(name)
        if value is None or PLACEHOLDER.search(value):
            if needed:
                state = "is not set" if value is None else "still holds a placeholder, not a real value"
                self.problem(f"{name} {state}. {hint}")
            return ""
        return value

    def url(self, name: str, default: str | None, *, trailing_slash: bool, needed: bool = True) -> str:
        value = self.optional(name) or default
        if value is None:
            if needed:
                self.problem(f"{name} is not set. {INFERENCE_HINT.format(name=name)}")
            return ""
        if "://" not in value:
            value = ("http://" if _on_this_machine(value) else "https://") + value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            self.problem(f"{name} must be an http(s) URL such as https://us.inference.heroku.com, not {value!r}.")
            return ""
        value = value.rstrip("/")
        return value + "/" if trailing_slash else value

    def model_base_url(self, name: str, *, needed: bool) -> str:
        """The base the bot adds `/v1/chat/completions` to. The whole endpoint, as a curl example shows it,
        names its base unambiguously: it is taken for it (`…/v1`, which the model client completes), so the
        bot calls exactly the URL given. Any other path ending in /chat/completions cannot be called."""
        value = self.url(name, None, trailing_slash=False, needed=needed)
        if not value.endswith(CHAT_COMPLETIONS):
            return value
        base = value.removesuffix(CHAT_COMPLETIONS)
        if base.endswith("/v1"):
            return base
        self.problem(
            f"{name} must be the service's base URL, e.g. https://us.inference.heroku.com (the bot adds "
            f"/v1{CHAT_COMPLETIONS} itself), not {value!r}."
        )
        return ""

    def number(
        self, name: str, kind: Callable[[str], Number], default: Number, *, minimum: Number, maximum: Number
    ) -> Number:
        raw = self.optional(name)
        if raw is None:
            return default
        try:
            value = kind(raw)
        except ValueError:
            self.problem(f"{name} must be a number between {minimum} and {maximum}, not {raw!r}.")
            return default
        if not minimum <= value <= maximum:
            self.problem(f"{name} must be between {minimum} and {maximum}, not {raw}.")
            return default
        return value

    def choice(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        raw = self.optional(name)
        if raw is None:
            return default
        if raw.upper() not in allowed:
            self.problem(f"{name} must be one of {', '.join(allowed)}, not {raw!r}.")
            return default
        return raw.upper()

    def flag(self, name: str, default: bool) -> bool:
        raw = self.optional(name)
        if raw is None:
            return default
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        self.problem(f"{name} must be true or false, not {raw!r}.")
        return default

    def limit(self, name: str) -> int | None:
        """A positive whole number, or None (no limit) when unset."""
        raw = self.optional(name)
        if raw is None:
            return None
        try:
            value = int(raw.replace("_", "").replace(",", ""))
        except ValueError:
            value = 0
        if value < 1:
            self.problem(
                f"{name} must be a whole number of tokens above 0, such as 200000, not {raw!r}; unset it for no limit."
            )
            return None
        return value

    def patterns(self, name: str) -> tuple[str, ...]:
        """Regular expressions, one per line, as RE2 runs them (in time linear in the text, so no message can
        stall the bot); each must compile and must not match empty text."""
        raw = self.optional(name) or ""
        patterns = tuple(line.strip() for line in raw.splitlines() if line.strip())
        for pattern in patterns:
            try:
                compiled = linear_regex.compile(linear_regex.with_python_classes(pattern))
            except linear_regex.PatternError as error:
                self.problem(
                    f"{name}: {pattern!r} is not a valid regular expression ({linear_regex.error_text(error)}); "
                    "write it in RE2 syntax: no lookbehind, lookahead or backreferences."
                )
                continue
            if linear_regex.matches_empty(compiled):
                self.problem(
                    f"{name}: {pattern!r} matches empty text, so it would mask everywhere; "
                    "make it stricter (+ instead of *, no lone \\b or ^)."
                )
        return patterns

    def per_channel(
        self,
        name: str,
        valid: Callable[[str], object],
        what: str,
        normalize: Callable[[str], str] = str,
    ) -> dict[str, str]:
        """`C123=value,C456=value`: a value per channel id; each malformed entry is named."""
        raw = self.optional(name) or ""
        values: dict[str, str] = {}
        for entry in (part.strip() for part in raw.replace(" ", ",").split(",")):
            if not entry:
                continue
            channel, _, value = entry.partition("=")
            if not CHANNEL_ID.fullmatch(channel.strip()) or not value.strip() or not valid(value.strip()):
                self.problem(
                    f"{name} must list channel=value pairs such as C0123ABCD=…, each value {what}, "
                    f"separated by commas; {entry!r} is not one."
                )
                continue
            values[channel.strip()] = normalize(value.strip())
        return values

    def mcp_servers(self, name: str) -> tuple[McpServer, ...]:
        """`{"name": {"url", "headers"?, "approval"?}}`, or the same under `mcpServers` as other clients keep it."""
        raw = self.optional(name)
        if raw is None:
            return ()
        try:
            data = json.loads(raw)
        except json.JSONDecodeError:
            self.problem(f"{MCP_HINT}; it is not valid JSON.")
            return ()
        if isinstance(data, dict) and isinstance(data.get("mcpServers"), dict):
            data = data["mcpServers"]
        if not isinstance(data, dict):
            self.problem(f"{MCP_HINT}.")
            return ()
        servers = []
        for server_name, entry in data.items():
            server = self._mcp_server(str(server_name), entry)
            if server is not None:
                servers.append(server)
        return tuple(servers)

    def _mcp_server(self, name: str, entry: object) -> McpServer | None:
        where = f"MCP_SERVERS: server {name!r}"
        if not SERVER_NAME.fullmatch(name):
            self.problem(f"{where}: a name is 1 to 30 letters, digits, _ or - (it prefixes the server's tools).")
            return None
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            self.problem(f'{where} needs a "url" (its Streamable HTTP endpoint, such as https://…/mcp).')
            return None
        url = entry["url"].strip()
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            self.problem(f"{where}: url must be an http(s) URL, not {shown_url(url)!r}.")
            return None
        headers = entry.get("headers") or {}
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            self.problem(f'{where}: "headers" must be an object of text values ({{"Authorization": "Bearer …"}}).')
            return None
        approval = entry.get("approval", "writes")
        if approval not in APPROVALS:
            self.problem(f'{where}: "approval" must be one of {", ".join(APPROVALS)}, not {approval!r}.')
            return None
        pairs = tuple((str(key), value) for key, value in headers.items())
        return McpServer(name, url, pairs, approval)

    def suggested_prompts(self, name: str) -> tuple[SuggestedPrompt, ...]:
        raw = self.optional(name)
        if raw is None:
            return DEFAULT_SUGGESTED_PROMPTS
        try:
            return parse_suggested_prompts(raw)
        except PromptsMalformed as error:
            self.problem(f"{name} {error}. {FORMAT_HINT}")
            return DEFAULT_SUGGESTED_PROMPTS
