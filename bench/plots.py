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
