"""The usage report shown to admins: blocks for the Home tab, and a table for `python -m bot usage`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from bot.answer.usage import DIRECT_MESSAGES, Totals, Usage, UsageReport
from bot.features.home_tab import AdminPart, Block
from bot.settings import Settings
from bot.store.redis_store import RedisStore

UNAVAILABLE = "Usage can't be read right now (the store did not answer). Try again in a moment."
PER_PROCESS = (
    "REDIS_URL is not set: usage is counted by each running process on its own, and only visible in the "
    "bot's Home tab (for ADMIN_USER_IDS). Set REDIS_URL to share it and to read it here."
)


def usage_part(usage: Usage) -> AdminPart:
    """The admin Home tab's usage section, read when an admin opens the tab."""

    async def blocks() -> list[Block]:
        return usage_blocks(await usage.report(), shared=usage.settings.redis_url is not None)

    return blocks


def usage_blocks(report: UsageReport | None, *, shared: bool) -> list[Block]:
    def section(text: str) -> Block:
        return {"type": "section", "text": {"type": "mrkdwn", "text": text}}

    def field(text: str) -> Block:
        return {"type": "mrkdwn", "text": text}

    title = section("*Usage* (UTC days)")
    if report is None:
        return [title, section(UNAVAILABLE)]
    blocks = [title]
    for name, period in (("Today", report.today), ("Last 7 days", report.week)):
        blocks.append(section(f"*{name}*: {_summary(period.totals)}"))
        blocks.append(
            {
                "type": "section",
                "fields": [
                    field("*Top channels*\n" + _ranking(period.top_channels, _channel_mention)),
                    field("*Top people*\n" + _ranking(period.top_people, lambda user: f"<@{user}>")),
                ],
            }
        )
    scope = "all processes (Redis)" if shared else "this process only (set REDIS_URL to count across processes)"
    blocks.append({"type": "context", "elements": [field(f"Tokens are input + output. Counted by {scope}.")]})
    return blocks


def print_usage_table(report: UsageReport, out: TextIO) -> None:
    today, week = report.today.totals, report.week.totals
    rows = [
        ("questions", today.questions, week.questions),
        ("tokens in", today.tokens_in, week.tokens_in),
        ("tokens out", today.tokens_out, week.tokens_out),
        ("errors", today.errors, week.errors),
        ("refused by a budget", today.refused, week.refused),
    ]
    print(f"{'usage (UTC days)':<22}{'today':>26}{'last 7 days':>26}", file=out)
    for label, on_the_day, in_the_week in rows:
        print(f"{label:<22}{on_the_day:>26,}{in_the_week:>26,}", file=out)
    tops = [
        ("top channels", report.today.top_channels, report.week.top_channels),
        ("top people", report.today.top_people, report.week.top_people),
    ]
    for title, top_today, top_week in tops:
        print(f"\n{title + ' (tokens)':<22}{'today':>26}{'last 7 days':>26}", file=out)
        for rank in range(max(len(top_today), len(top_week))):
            print(f"{rank + 1:<22}{_cell(top_today, rank):>26}{_cell(top_week, rank):>26}", file=out)
        if not top_today and not top_week:
            print("(none)", file=out)


async def print_usage(settings: Settings, out: TextIO) -> int:
    """`python -m bot usage`: exit code 0 when the report was printed."""
    if not settings.redis_url:
        print(PER_PROCESS, file=out)
        return 0
    store = RedisStore.from_settings(settings)
    try:
        report = await Usage(store, settings).report()
    finally:
        await store.close()
    if report is None:
        print(UNAVAILABLE + " Check REDIS_URL with `python -m bot check`.", file=out)
        return 1
    print_usage_table(report, out)
    return 0


def _summary(totals: Totals) -> str:
    return (
        f"{_count(totals.questions, 'question')} · {totals.tokens_in:,} tokens in · {totals.tokens_out:,} tokens out"
        f" · {_count(totals.errors, 'error')} · {totals.refused:,} refused by a budget"
    )


def _count(number: int, thing: str) -> str:
    return f"{number:,} {thing}" + ("" if number == 1 else "s")


def _ranking(ranked: list[tuple[str, int]], show: Callable[[str], str]) -> str:
    if not ranked:
        return "_none yet_"
    return "\n".join(f"{rank}. {show(name)}: {tokens:,}" for rank, (name, tokens) in enumerate(ranked, 1))


def _channel_mention(channel: str) -> str:
    return "DMs" if channel == DIRECT_MESSAGES else f"<#{channel}>"


def _cell(ranked: list[tuple[str, int]], rank: int) -> str:
    if rank >= len(ranked):
        return ""
    name, tokens = ranked[rank]
    return f"{'DMs' if name == DIRECT_MESSAGES else name} {tokens:,}"
