"""Shutdown's time budget: Heroku sends SIGKILL 30 s after SIGTERM, and every step must fit before it.

stop taking events      LISTENER_CLOSE_SECONDS   (answers are acknowledged at once, so this is short)
queued answers          NOTICE_SECONDS           (with REDIS_URL: handed back to the queue, taken off the grace)
answers in flight       SHUTDOWN_GRACE_SECONDS   (the setting, at most MAX_GRACE_SECONDS)
cancelled answers       NOTICE_SECONDS           (Slack calls in flight land, restart notices go out)
close connections       CLOSE_SECONDS
"""

from __future__ import annotations

HEROKU_KILL_SECONDS = 30.0
LISTENER_CLOSE_SECONDS = 2.0
NOTICE_SECONDS = 6.0
CLOSE_SECONDS = 1.0
MAX_GRACE_SECONDS = HEROKU_KILL_SECONDS - LISTENER_CLOSE_SECONDS - NOTICE_SECONDS - CLOSE_SECONDS
# Within NOTICE_SECONDS: a Slack call in flight lands (bot.slack.reply.LANDING_SECONDS), the progress
# reaction is taken back (bot.slack.status.DECORATION_SECONDS), then the notice goes out.
RESTART_NOTICE_SECONDS = 3.0
