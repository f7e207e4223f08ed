"""The benchmarks' shared runner and results files: how rounds pair up, what a results file holds,
and that every benchmark script still imports (they run outside the test suite)."""

from __future__ import annotations

import asyncio
import importlib
import json
from pathlib import Path

import pytest
from bench_results import Results
from side_by_side import Round, compare, run_ops

from docsite.benchmarks import load_results, ratio

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(p.stem for p in (ROOT / "bench").glob("*.py"))


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_benchmark_imports(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__doc__, f"bench/{name}.py says what it measures in its docstring"


async def test_run_ops_numbers_every_call_and_counts_them() -> None:
    seen: list[int] = []

    async def op(i: int) -> None:
        seen.append(i)
        await asyncio.sleep(0)

    done = await run_ops(op, 10, 3)  # 3 callers x 3 calls: the rate counts the 9 made
    assert sorted(seen) == [0, 1, 2, 3, 4, 5, 6, 7, 8]
    assert done.rate > 0
    assert done.cpu_per_op >= 0
    seen.clear()
    await run_ops(op, 6, 3, own_key=True)
    assert sorted(seen) == [0, 0, 1, 1, 2, 2], "with own_key each caller passes its own number"


async def test_compare_warms_up_then_pairs_rounds_alternating_which_side_goes_first() -> None:
    order: list[str] = []
    raw_rates = iter([1.0, 100.0, 100.0, 50.0])  # the first is the warm-up
    our_rates = iter([1.0, 90.0, 110.0, 60.0])

    async def raw() -> Round:
        order.append("raw")
        return Round(next(raw_rates), 2e-6)

    async def ours() -> Round:
        order.append("ours")
        return Round(next(our_rates), 3e-6)

    result = await compare(3, raw, ours)
    assert order == ["raw", "ours"] * 2 + ["ours", "raw"] + ["raw", "ours"], "warm-up, then raw first every other pair"
    assert (result.raw, result.blockyard) == (100.0, 90.0)
    assert result.ratio == pytest.approx(1.1), "the ratio is the median of the per-round ratios (0.9, 1.1, 1.2)"
    assert (result.raw_cpu, result.blockyard_cpu) == (2e-6, 3e-6)


async def test_a_results_file_is_what_the_documentation_plots(tmp_path: Path) -> None:
    async def raw() -> Round:
        return Round(100.0, 1e-5)

    async def ours() -> Round:
        return Round(95.0, 1.2e-5)

    results = Results("sample", "sample vs raw", note="test")
    results.compared("get", await compare(2, raw, ours), "ops/s", 0.9, "raw-client")
    results.measured("set", "ops/s", 200.0, 150.0, 0.9, "raw-client", cpu_us=(5.0, 6.0))
    results.latency("publish -> handle", "blockyard", [0.001, 0.002, 0.003])
    results.write(tmp_path / "sample.json")
    data = json.loads((tmp_path / "sample.json").read_text())
    assert set(data["machine"]["load_average"]) == {"start", "end"}
    [loaded] = load_results(tmp_path)
    get, set_ = loaded.data["measurements"]
    assert (ratio(get), get["raw_cpu_us"], get["blockyard_cpu_us"]) == (0.95, 10.0, 12.0)
    assert (ratio(set_), set_["target"]) == (0.75, 0.9)
    assert results.measurements[1].verdict == "BELOW 0.90"
    assert results.measurements[0].verdict == "ok"
    assert loaded.data["latencies"] == [
        {"scenario": "publish -> handle", "side": "blockyard", "p50_ms": 2.0, "p99_ms": 3.0}
    ]
