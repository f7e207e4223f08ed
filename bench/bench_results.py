"""Machine-readable benchmark results: what a run measured, written as JSON by ``--json PATH``.

The documentation site plots these files (``bench/results/*.json``); nothing else is plotted, so a
page never shows a figure no run produced. One file per run::

    {"schema": 1, "benchmark": "redis", "title": "...", "date": "2026-12-02T01:30:00+00:00",
     "machine": {"platform": "...", "python": "3.11.2", "cpus": 2, "note": "...",
                 "load_average": {"start": 0.4, "end": 1.1}},
     "measurements": [{"scenario": "get, concurrency 1", "unit": "ops/s", "raw": 8058.0,
                       "blockyard": 7678.0, "ratio": 0.95, "target": 0.9, "raw_client": "redis-py"}],
     "latencies": [{"scenario": "publish -> handler", "side": "blockyard", "p50_ms": 0.4, "p99_ms": 1.2}]}

``raw`` and ``blockyard`` are medians of alternating rounds (each benchmark's docstring says how it
measures); ``ratio`` is Blockyard over raw (higher is better for Blockyard): the median of the
per-round ratios where the benchmark pairs its rounds (``side_by_side.compare``), else
``blockyard / raw``. ``raw_cpu_us`` / ``blockyard_cpu_us``, when present: the benchmark process's
CPU time per operation on each side (what the client library itself costs).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from side_by_side import Comparison

SCHEMA = 1


@dataclass(slots=True)
class Measurement:
    """One throughput figure, Blockyard next to the raw client doing the same work."""

    scenario: str
    unit: str
    raw: float
    blockyard: float
    target: float | None = None
    raw_client: str = ""
    ratio: float = 0.0
    """Blockyard over raw; ``blockyard / raw`` unless the benchmark paired its rounds"""
    raw_cpu_us: float | None = None
    blockyard_cpu_us: float | None = None

    def __post_init__(self) -> None:
        if not self.ratio:
            self.ratio = self.blockyard / self.raw

    @property
    def verdict(self) -> str:
        """``ok``, ``BELOW <target>``, or empty without a target."""
        if self.target is None:
            return ""
        return "ok" if self.ratio >= self.target else f"BELOW {self.target:.2f}"


@dataclass(slots=True)
class Latency:
    """Latency percentiles of one scenario on one side (``raw`` or ``blockyard``), in milliseconds."""

    scenario: str
    side: str
    p50_ms: float
    p99_ms: float


@dataclass
class Results:
    """What one benchmark run measured; :meth:`write` it when ``--json`` was given."""

    benchmark: str
    title: str
    note: str = ""
    measurements: list[Measurement] = field(default_factory=list)
    latencies: list[Latency] = field(default_factory=list)
    load_at_start: float = field(default_factory=lambda: os.getloadavg()[0])
    """the machine's 1-minute load average when the run started (what else was running)"""

    def measured(
        self,
        scenario: str,
        unit: str,
        raw: float,
        blockyard: float,
        target: float | None = None,
        raw_client: str = "",
        *,
        cpu_us: tuple[float, float] | None = None,
    ) -> None:
        """Record one figure; ``cpu_us``: client CPU microseconds per operation, raw and Blockyard."""
        raw_cpu, by_cpu = cpu_us if cpu_us else (None, None)
        self.measurements.append(Measurement(scenario, unit, raw, blockyard, target, raw_client, 0.0, raw_cpu, by_cpu))

    def compared(
        self, scenario: str, result: Comparison, unit: str, target: float | None = None, raw_client: str = ""
    ) -> Measurement:
        """Record a :func:`side_by_side.compare` result and print it as a line."""
        m = Measurement(
            scenario,
            unit,
            result.raw,
            result.blockyard,
            target,
            raw_client,
            result.ratio,
            round(result.raw_cpu * 1e6, 1),
            round(result.blockyard_cpu * 1e6, 1),
        )
        self.measurements.append(m)
        print(
            f"  {scenario:<44} raw {m.raw:>10,.1f}  blockyard {m.blockyard:>10,.1f} {unit:<6} ratio {m.ratio:5.2f}"
            f" {m.verdict:<10} CPU/op {m.raw_cpu_us:,.0f} / {m.blockyard_cpu_us:,.0f} µs",
            flush=True,
        )
        return m

    def latency(self, scenario: str, side: str, samples_s: list[float]) -> tuple[float, float]:
        """Record the p50 and p99 of ``samples_s`` (seconds); returns them in milliseconds."""
        ordered = sorted(samples_s)
        p50 = ordered[len(ordered) // 2] * 1e3
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e3
        self.percentiles(scenario, side, p50, p99)
        return p50, p99

    def percentiles(self, scenario: str, side: str, p50_ms: float, p99_ms: float) -> None:
        """Record percentiles a benchmark computed itself (milliseconds)."""
        self.latencies.append(Latency(scenario, side, round(p50_ms, 4), round(p99_ms, 4)))

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "benchmark": self.benchmark,
            "title": self.title,
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": {
                "platform": platform.platform(),
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "note": self.note,
                "load_average": {"start": round(self.load_at_start, 2), "end": round(os.getloadavg()[0], 2)},
            },
            "measurements": [
                {k: v for k, v in {**asdict(m), "ratio": round(m.ratio, 4)}.items() if v is not None or k == "target"}
                for m in self.measurements
            ],
            "latencies": [asdict(x) for x in self.latencies],
        }

    def print_table(self) -> None:
        """Every measurement and latency so far, as a Markdown table."""
        print(f"\n{self.title}\n")
        print("| scenario | raw client | Blockyard | ratio | target | client CPU µs/op, raw / Blockyard |")
        print("|---|---:|---:|---:|---|---:|")
        for m in self.measurements:
            cpu = "" if m.raw_cpu_us is None else f"{m.raw_cpu_us:,.0f} / {m.blockyard_cpu_us:,.0f}"
            print(
                f"| {m.scenario} | {m.raw:,.1f} {m.unit} | {m.blockyard:,.1f} {m.unit} | {m.ratio:.2f} "
                f"| {m.verdict} | {cpu} |"
            )
        for x in self.latencies:
            print(f"| {x.scenario} ({x.side}) | | p50 {x.p50_ms:.2f} ms / p99 {x.p99_ms:.2f} ms | | | |")

    def write(self, path: Path | None) -> None:
        """Write the JSON file (no-op when ``path`` is ``None``)."""
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
        print(f"results written to {path}")


def add_json_option(parser: argparse.ArgumentParser) -> None:
    """``--json PATH`` (write the machine-readable results there) and ``--machine-note TEXT``."""
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="write the results as JSON here")
    parser.add_argument(
        "--machine-note", default="", help="what else ran on the machine (kept with the results, shown on plots)"
    )
