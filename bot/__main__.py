"""The Slack thread assistant: answer in Slack (serve), check the setup, try the model (chat), or show token usage.

`python -m bot` starts the bot; `python -m bot worker` answers the questions web processes queue in Redis (with
WEB_ANSWERS=false there); `python -m bot check` checks the setup; `python -m bot chat` talks to the model in
the terminal; `python -m bot usage` shows who used how many tokens, today and in the last 7 days.

Settings come from the environment and from `.env`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from dotenv import load_dotenv

from bot.app.chat import Screen, chat, stdin_lines
from bot.app.check import run_checks
from bot.app.server import serve, work
from bot.errors import ConfigurationError
from bot.features.usage_view import print_usage
from bot.logs import configure_logging
from bot.settings import Part, Settings

EXIT_CONFIGURATION = 2
# The shell's code for a command ended by Ctrl-C (128 + SIGINT).
EXIT_INTERRUPTED = 130


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__.split("\n")[0])
    parser.add_argument(
        "command",
        nargs="?",
        default="serve",
        choices=("serve", "worker", "check", "chat", "usage"),
        help="serve (default): answer in Slack; worker: answer the questions queued in Redis; check: test every "
        "setting and connection; chat: talk in the terminal; usage: tokens used, today and in the last 7 days",
    )
    command = parser.parse_args().command
    # Only the working directory's .env: python-dotenv would otherwise search upwards from this file.
    load_dotenv(".env")
    if command == "check":
        return asyncio.run(run_checks(os.environ, sys.stdout))
    try:
        # `chat` talks to the model only: it needs no Slack settings; `usage` reads Redis only.
        parts: tuple[Part, ...] = ("model",) if command == "chat" else () if command == "usage" else ("slack", "model")
        settings = Settings.from_env(os.environ, parts)
        if command == "worker" and not settings.redis_url:
            raise ConfigurationError(["A worker answers the questions web processes queue in Redis: set REDIS_URL."])
    except ConfigurationError as error:
        print(f"The bot cannot start; fix these settings and start it again:\n{error}", file=sys.stderr)
        return EXIT_CONFIGURATION
    if command == "chat":
        # The conversation owns stdout; log lines (retries, say) go to stderr, each on a line of its own.
        screen = Screen(sys.stdout, sys.stderr)
        configure_logging(settings.log_level, settings.secrets, screen.log_stream)
        try:
            return asyncio.run(chat(settings, stdin_lines(screen), screen))
        except KeyboardInterrupt:
            # Ctrl-C: asyncio cancelled the chat, which closed its model connection; no traceback for that.
            print(file=sys.stdout)
            return EXIT_INTERRUPTED
    if command == "usage":
        configure_logging(settings.log_level, settings.secrets, sys.stderr)
        return asyncio.run(print_usage(settings, sys.stdout))
    configure_logging(settings.log_level, settings.secrets)
    asyncio.run(work(settings) if command == "worker" else serve(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
