"""`python -m bot`: start the bot with settings from the environment and `.env`."""

from __future__ import annotations

import asyncio
import os
import sys

from dotenv import load_dotenv

from bot.errors import ConfigurationError
from bot.logs import configure_logging
from bot.server import serve
from bot.settings import Settings

EXIT_CONFIGURATION = 2


def main() -> int:
    load_dotenv()
    try:
        settings = Settings.from_env(os.environ)
    except ConfigurationError as error:
        print(f"The bot cannot start; fix these settings and start it again:\n{error}", file=sys.stderr)
        return EXIT_CONFIGURATION
    configure_logging(settings.log_level, settings.secrets)
    asyncio.run(serve(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
