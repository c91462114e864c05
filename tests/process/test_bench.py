"""A tiny run of the benchmark harness: the three processes work together (figures come from `python -m bench`)."""

from __future__ import annotations

from bench.__main__ import run_once


async def test_a_small_burst_is_answered_once_each() -> None:
    result = await run_once(count=6, rate=0, latency=0.2, chunks=3)
    assert (result["answered"], result["duplicates"], result["refused_deliveries"]) == (6, 0, 0)
    assert result["answers_with_wrong_text"] == 0
    assert result["slack_calls_per_answer"] > 0
    assert result["peak_rss_mb"] > 0


def test_the_durability_bench_judges_what_the_threads_show() -> None:
    """Counted from the final messages: whole answers once and twice, a stream left cut off, a notice telling
    someone to ask again (for the question before it); a thread is in order only with each answer once, written
    by a model request that saw the answer before it."""
    from bench.durability import Asked, Options, judge, whole_answer
    from tests.fakes.model_api import FakeModel
    from tests.fakes.slack_api import BOT_USER_ID, FakeSlack

    options = Options(pieces=3)
    slack, model = FakeSlack(), FakeModel()
    asked: list[Asked] = []
    for thread in (1, 2, 3):
        first = slack.post_as_person("C1", "UALICE", f"question q{thread}-1")
        second = slack.post_as_person("C1", "UALICE", f"question q{thread}-2", thread_ts=first["ts"])
        asked += [
            Asked(f"q{thread}-1", "C1", first["ts"], first["ts"]),
            Asked(f"q{thread}-2", "C1", first["ts"], second["ts"]),
        ]

    def bot_says(thread_ts: str, text: str, streaming: bool = False) -> None:
        slack.messages["C1"].append(
            {
                "user": BOT_USER_ID,
                "ts": slack.next_ts(),
                "thread_ts": thread_ts,
                "visible": text,
                "streaming": streaming,
            }
        )

    one, two, three = (asked[index].thread_ts for index in (0, 2, 4))
    model.requests += [
        {"messages": [{"role": "user", "content": "question q1-1"}]},
        {"messages": [{"role": "assistant", "content": whole_answer("q1-1", 1, options)}]},
        {"messages": [{"role": "user", "content": "question q2-1"}]},
        {"messages": [{"role": "user", "content": "no earlier answer"}]},
    ]
    bot_says(one, whole_answer("q1-1", 1, options))
    bot_says(one, whole_answer("q1-2", 2, options))
    bot_says(two, whole_answer("q2-1", 3, options))
    bot_says(two, whole_answer("q2-2", 4, options))
    bot_says(two, whole_answer("q2-2", 4, options))
    bot_says(three, "ANSWER-q3-1 r5: w0 ", streaming=True)
    bot_says(three, "I'm restarting. Please ask again in a minute.")
    result = judge(slack, model, asked, options)
    assert result["asked"] == 6
    assert (result["answered_once"], result["answered_twice"], result["cut_off"]) == (3, 1, 1)
    assert (result["ask_again"], result["silent"], result["order_held"]) == (1, 0, 1)
    assert result["streams_left_open"] == 1
