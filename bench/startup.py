"""Startup cost of the ``blockyard`` command and of ``import blockyard``.

Prints the median wall time of several runs of each, next to a bare ``python -c pass`` measured in
the same run (the interpreter's own start-up), and the difference. Targets: ``blockyard list``
under 150 ms with every installed first-party plugin; ``import blockyard`` under 40 ms.

    python bench/startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGETS_MS = {"import blockyard": 40.0, "blockyard list": 150.0}


def _medians_ms(cases: dict[str, list[str]], runs: int) -> dict[str, float]:
    """Run the cases interleaved (one of each per round), so machine load hits them alike."""
    for cmd in cases.values():
        subprocess.run(cmd, capture_output=True, check=True)  # warm the file cache
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, cmd in cases.items():
            start = time.perf_counter()
            subprocess.run(cmd, capture_output=True, check=True)
            times[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    py = sys.executable
    script = shutil.which("blockyard", path=str(Path(py).parent)) or shutil.which("blockyard")
    list_cmd = [script, "list"] if script else [py, "-m", "blockyard", "list"]
    plugins = subprocess.run(
        [
            py,
            "-c",
            "from blockyard.registry import get_registry as g; r = g(); print(len(r.specs()), "
            "len(r.plugin_manager.get_plugins()), len(r.failures))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    cases = {
        "python -c pass": [py, "-c", "pass"],
        "import blockyard": [py, "-c", "import blockyard"],
        "blockyard list": list_cmd,
    }
    results = _medians_ms(cases, args.runs)
    base = results["python -c pass"]
    print(
        f"startup, median of {args.runs} runs ({plugins[1]} plugins, {plugins[0]} component types, "
        f"{plugins[2]} plugin failures)"
    )
    print(f"{'case':<20} {'median ms':>10} {'over bare python':>17} {'target':>8}  ok")
    for name, ms in results.items():
        target = TARGETS_MS.get(name)
        verdict = "" if target is None else ("yes" if ms < target else "NO")
        target_text = f"< {target:.0f}" if target else ""
        print(f"{name:<20} {ms:>10.1f} {ms - base:>+17.1f} {target_text:>8}  {verdict}")


if __name__ == "__main__":
    main()
