"""PNG plots of the benchmark figures: the latency distribution, and cost against arrival rate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # after choosing the backend


def plot_results(sweep: list[dict[str, Any]], burst: dict[str, Any], folder: Path) -> None:
    _latency_distribution(sweep, burst, folder / "latency.png")
    _cost_by_rate(sweep, folder / "cost_by_rate.png")


def _latency_distribution(sweep: list[dict[str, Any]], burst: dict[str, Any], path: Path) -> None:
    figure, (acks, added) = plt.subplots(1, 2, figsize=(12, 4.5))
    for result in [*sweep, burst]:
        label = f"{result['arrival_rate_per_s']}/s" if result["arrival_rate_per_s"] != "burst" else "burst of 500"
        for axis, key in ((acks, "ack_samples_ms"), (added, "added_samples_ms")):
            values = sorted(result[key])
            if values:
                fraction = [index / len(values) for index in range(1, len(values) + 1)]
                axis.plot(values, fraction, label=label)
    acks.set(title="Event acknowledgement latency", xlabel="ms (log)", ylabel="fraction of deliveries", xscale="log")
    added.set(
        title="Added time beyond the model's own",
        xlabel="ms (log)",
        ylabel="fraction of conversations",
        xscale="log",
    )
    for axis in (acks, added):
        axis.grid(True, which="both", alpha=0.3)
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _cost_by_rate(sweep: list[dict[str, Any]], path: Path) -> None:
    rates = [result["arrival_rate_per_s"] for result in sweep]
    figure, (added, cpu) = plt.subplots(1, 2, figsize=(12, 4.5))
    added.plot(rates, [result["added_ms"]["p50"] for result in sweep], marker="o", label="p50")
    added.plot(rates, [result["added_ms"]["p99"] for result in sweep], marker="o", label="p99")
    added.set(title="Added time by arrival rate", xlabel="conversations per second", ylabel="ms", yscale="log")
    cpu.plot(rates, [result["cpu_ms_per_answer"] for result in sweep], marker="o", label="CPU per answer")
    cpu.set(title="Bot CPU time per answer", xlabel="conversations per second", ylabel="ms")
    for axis in (added, cpu):
        axis.grid(True, alpha=0.3)
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_lengths(results: list[dict[str, Any]], folder: Path) -> None:
    """CPU per answer and per streamed piece, by answer length."""
    pieces = [result["pieces_per_answer"] for result in results]
    figure, (per_answer, per_piece) = plt.subplots(1, 2, figsize=(12, 4.5))
    per_answer.plot(pieces, [result["cpu_ms_per_answer"] for result in results], marker="o", label="CPU per answer")
    per_answer.set(title="Bot CPU per answer, by length", xlabel="streamed pieces per answer", ylabel="ms")
    extra = [(result["pieces_per_answer"], result["cpu_us_per_extra_piece"]) for result in results[1:]]
    per_piece.plot([p for p, _ in extra], [cost for _, cost in extra], marker="o", label="beyond the short answer")
    per_piece.plot(pieces, [result["cpu_us_per_piece"] for result in results], marker="o", label="all CPU / pieces")
    per_piece.axhline(50, color="grey", linestyle="--", label="target 50 µs")
    per_piece.set(title="Bot CPU per streamed piece", xlabel="streamed pieces per answer", ylabel="µs")
    for axis in (per_answer, per_piece):
        axis.set_xscale("log")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend()
    figure.tight_layout()
    figure.savefig(folder / "lengths.png", dpi=110)
    plt.close(figure)


def plot_capacity(found: dict[str, Any], folder: Path) -> None:
    """Ack and added p99 by arrival rate, the limits, the capacity point and the overload run."""
    runs = sorted(found["runs"], key=lambda result: result["arrival_rate_per_s"])
    if found["overload"] is not None:
        runs.append(found["overload"])
    rates = [result["arrival_rate_per_s"] for result in runs]
    figure, (acks, added) = plt.subplots(1, 2, figsize=(12, 4.5))
    acks.plot(rates, [result["ack_ms"]["p99"] for result in runs], marker="o", label="ack p99")
    acks.axhline(100, color="grey", linestyle="--", label="limit 100 ms")
    acks.axhline(3000, color="red", linestyle=":", label="Slack's 3 s")
    added.plot(rates, [result["added_ms"]["p99"] for result in runs], marker="o", label="added p99")
    added.axhline(500, color="grey", linestyle="--", label="limit 500 ms")
    for axis in (acks, added):
        axis.axvline(found["capacity_per_s"], color="green", label=f"capacity {found['capacity_per_s']}/s")
        axis.set(xlabel="conversations per second", ylabel="ms (log)", yscale="log")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend()
    acks.set_title(f"{found['pieces_per_answer']}-piece answers: acknowledgement p99")
    added.set_title(f"{found['pieces_per_answer']}-piece answers: added time p99")
    figure.tight_layout()
    figure.savefig(folder / f"capacity_{found['pieces_per_answer']}.png", dpi=110)
    plt.close(figure)
