"""The benchmarks page: plots and tables from the JSON results of ``bench/*.py --json PATH``.

Only results files are plotted (``bench/results/*.json``, each labelled with its date and machine);
a benchmark without one is listed as such, so the page never shows an invented figure.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docsite.tables import table

__all__ = ["BenchmarkResults", "benchmarks_page", "load_results"]

PAGE = "benchmarks.md"


@dataclass(frozen=True, slots=True)
class BenchmarkResults:
    """One results file."""

    source: Path
    data: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.data["benchmark"])


def load_results(folder: Path) -> list[BenchmarkResults]:
    """Every ``*.json`` results file in ``folder``, by benchmark name.

    :raises ValueError: naming the file when it is not a benchmark result (schema 1).
    """
    found = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("schema") != 1 or not isinstance(data.get("measurements"), list):
                raise ValueError("schema 1 with a list of measurements expected")
            for m in data["measurements"]:
                float(m["raw"]), float(m["blockyard"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{path}: not a benchmark results file ({exc})") from exc
        found.append(BenchmarkResults(path, data))
    return sorted(found, key=lambda r: r.name)


def _load_text(load: dict[str, float]) -> str:
    """The machine's load average during the run (start, and end when recorded)."""
    when = [f"{load[k]} at the {k}" for k in ("start", "end") if k in load]
    return f" Load average {', '.join(when)}." if when else ""


def ratio(measurement: dict[str, Any]) -> float:
    """The run's ratio (paired rounds' median when it wrote one), else ``blockyard / raw``."""
    return float(measurement.get("ratio") or measurement["blockyard"] / measurement["raw"])


def _svg(figure: Any) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    return buffer.getvalue()


def ratio_plot(results: BenchmarkResults) -> str:
    """SVG: Blockyard / raw client per scenario, with each scenario's target."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "blockyard"
    rows = results.data["measurements"]
    labels = [f"{m['scenario']} ({m['unit']})" for m in rows]
    ratios = [ratio(m) for m in rows]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 1.2))
    y = list(range(len(rows)))
    met = [m.get("target") is None or r >= m["target"] for m, r in zip(rows, ratios, strict=True)]
    colours = ["#2e7d32" if ok else "#c62828" for ok in met]
    ax.barh(y, ratios, color=colours)
    for i, m in enumerate(rows):
        if m.get("target") is not None:
            ax.plot([m["target"]] * 2, [i - 0.4, i + 0.4], color="black", linewidth=1.5)
        ax.text(ratios[i], i, f" {ratios[i]:.2f}", va="center", fontsize=8)
    ax.axvline(1.0, color="grey", linestyle="--", linewidth=1)
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("Blockyard / raw client (higher is better; black mark: target, dashed: parity)")
    ax.set_title(results.data["title"], fontsize=10)
    svg = _svg(fig)
    plt.close(fig)
    return svg


def latency_plot(results: BenchmarkResults) -> str | None:
    """SVG: p50 and p99 latency per scenario and side, or ``None`` when the run measured none."""
    latencies = results.data.get("latencies") or []
    if not latencies:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{x['scenario']} ({x['side']})" for x in latencies]
    fig, ax = plt.subplots(figsize=(8, 0.6 * len(latencies) + 1.2))
    y = list(range(len(latencies)))
    ax.barh([i - 0.2 for i in y], [x["p50_ms"] for x in latencies], height=0.4, label="p50", color="#1565c0")
    ax.barh([i + 0.2 for i in y], [x["p99_ms"] for x in latencies], height=0.4, label="p99", color="#90caf9")
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("latency (ms, lower is better)")
    ax.legend(fontsize=8)
    ax.set_title(f"{results.data['title']}: latency", fontsize=10)
    svg = _svg(fig)
    plt.close(fig)
    return svg


def benchmarks_page(results: list[BenchmarkResults], scripts: list[str]) -> tuple[str, dict[str, str]]:
    """The page and its SVG files (path -> content). ``scripts``: every ``bench/*.py`` benchmark."""
    files: dict[str, str] = {}
    lines = [
        "# Benchmarks",
        "",
        "Every benchmark measures Blockyard next to the raw client doing the same work, in the same run",
        "(rounds alternate; each script's docstring says how it aggregates them). The ratio is what to read:",
        "absolute numbers move with the machine, and each run below names its machine and its load.",
        "Plotted here: the JSON results of `python bench/NAME.py --json bench/results/NAME.json`.",
        "",
    ]
    if not results:
        lines += ['!!! warning "No benchmark results in this build"', "    No results file in `bench/results/`.", ""]
    for r in results:
        machine = r.data.get("machine", {})
        lines += [f"## {r.data['title']}", ""]
        lines += [
            f"Run {r.data.get('date', '?')} on {machine.get('platform', '?')}, {machine.get('cpus', '?')} CPUs, "
            f"Python {machine.get('python', '?')}"
            + (f" ({machine['note']})" if machine.get("note") else "")
            + "."
            + (_load_text(machine["load_average"]) if "load_average" in machine else ""),
            f"Source: `bench/{r.name}_bench.py`, results `{r.source.name}`.",
            "",
        ]
        files[f"benchmarks/{r.name}-ratios.svg"] = ratio_plot(r)
        lines += [f"![{r.name}: Blockyard / raw client](benchmarks/{r.name}-ratios.svg)", ""]
        latency = latency_plot(r)
        if latency is not None:
            files[f"benchmarks/{r.name}-latency.svg"] = latency
            lines += [f"![{r.name}: latency percentiles](benchmarks/{r.name}-latency.svg)", ""]
        rows = [
            (
                m["scenario"],
                f"{m['raw']:,.0f} {m['unit']}",
                f"{m['blockyard']:,.0f} {m['unit']}",
                f"{ratio(m):.2f}",
                "—" if m.get("target") is None else f"≥ {m['target']:.2f}",
                m.get("raw_client", ""),
            )
            for m in r.data["measurements"]
        ]
        lines += [*table(("scenario", "raw client", "Blockyard", "ratio", "target", "raw client is"), rows), ""]
    have = {f"{r.name}_bench.py" for r in results}
    missing = [s for s in scripts if s not in have]
    if missing:
        lines += ["## Not plotted", "", "No results file in this build for:", ""]
        lines += [f"- `bench/{s}`" for s in missing]
        lines += ["", "Run one with `--json bench/results/NAME.json` to plot it here."]
    return "\n".join(lines).rstrip() + "\n", files
