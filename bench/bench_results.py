"""Machine-readable benchmark results: what a run measured, written as JSON by ``--json PATH``.

The documentation site plots these files (``bench/results/*.json``); nothing else is plotted, so a
page never shows a figure no run produced. One file per run::

    {"schema": 1, "benchmark": "redis", "title": "...", "date": "2026-12-02T01:30:00+00:00",
     "machine": {"platform": "...", "python": "3.11.2", "cpus": 2, "note": "..."},
     "measurements": [{"scenario": "get, concurrency 1", "unit": "ops/s", "raw": 8058.0,
                       "blockyard": 7678.0, "ratio": 0.95, "target": 0.9, "raw_client": "redis-py"}],
     "latencies": [{"scenario": "publish -> handler", "side": "blockyard", "p50_ms": 0.4, "p99_ms": 1.2}]}

``raw`` and ``blockyard`` are medians of alternating rounds (each benchmark's docstring says how it
measures); ``ratio`` is ``blockyard / raw`` (higher is better for Blockyard).
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

    @property
    def ratio(self) -> float:
        return self.blockyard / self.raw


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

    def measured(
        self, scenario: str, unit: str, raw: float, blockyard: float, target: float | None = None, raw_client: str = ""
    ) -> None:
        self.measurements.append(Measurement(scenario, unit, raw, blockyard, target, raw_client))

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
            },
            "measurements": [{**asdict(m), "ratio": round(m.ratio, 4)} for m in self.measurements],
            "latencies": [asdict(x) for x in self.latencies],
        }

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
