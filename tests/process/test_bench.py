"""A tiny run of the benchmark harness: the three processes work together (figures come from `python -m bench`)."""

from __future__ import annotations

from bench.__main__ import run_once


async def test_a_small_burst_is_answered_once_each() -> None:
    result = await run_once(count=6, rate=0, latency=0.2, chunks=3)
    assert (result["answered"], result["duplicates"], result["refused_deliveries"]) == (6, 0, 0)
    assert result["answers_with_wrong_text"] == 0
    assert result["slack_calls_per_answer"] > 0
    assert result["peak_rss_mb"] > 0
