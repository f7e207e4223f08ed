"""Mutation testing of the reference components with only the conformance kit as the test suite.

``make mutation`` (or ``python scripts/mutation.py [MODULE ...] [--jobs N]``) runs cosmic-ray over
each module of ``contrib/local`` named below, in a scratch copy of the package (so the work tree is
never touched), with the kit's cases for that component as the only tests. It prints, per module,
how many mutants the kit killed, the survivors (line, operator, diff) and the kill rate over the
mutants not listed as equivalent in ``tests/conformance_kit/mutation_equivalents.toml`` (each entry
there gives its reason, and is reviewed like code). Results are also written to
``reports/mutation.json``.

Operators: comparisons (each with its negation and its boundary twin), ``and``/``or``, ``not``,
``True``/``False``, numbers, ``break``/``continue``, exception handlers, zero-iteration loops and
``+``/``-``; the other arithmetic and bitwise swaps are left out (they add hundreds of mutants
with nothing new to say about a store). The exit status is non-zero when a module is below the
target kill rate.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "contrib" / "local" / "src"
EQUIVALENTS = ROOT / "tests" / "conformance_kit" / "mutation_equivalents.toml"
TARGET = 0.95

MODULES: dict[str, str] = {
    "state_memory": "state_in_memory",
    "state_sqlite": "state_sqlite",
    "pubsub_memory": "pubsub_in_memory",
    "secretstores_file": "secretstores_local_file",
    "secretstores_env": "secretstores_local_env",
}
"""Module of blockyard_local -> the ``-k`` expression selecting its conformance cases."""

KEPT_COMPARISONS = (
    "Eq_NotEq|NotEq_Eq|Lt_GtE|Lt_LtE|LtE_Gt|LtE_Lt|Gt_LtE|Gt_GtE|GtE_Lt|GtE_Gt|In_NotIn|NotIn_In|Is_IsNot|IsNot_Is"
)
EXCLUDED_OPERATORS = [
    r"core/ReplaceBinaryOperator_(?!Add_Sub$|Sub_Add$).*",
    rf"core/ReplaceComparisonOperator_(?!({KEPT_COMPARISONS})$).*",
    r"core/ReplaceUnaryOperator_.*",
    r"core/VariableInserter",
    r"core/VariableReplacer",
    r"core/RemoveDecorator",
]


@dataclass
class Mutant:
    module: str
    line: int
    column: int
    operator: str
    code: str
    outcome: str
    diff: str
    reason: str | None = None


@dataclass
class ModuleResult:
    module: str
    killed: int = 0
    survived: list[Mutant] = field(default_factory=list)
    equivalent: list[Mutant] = field(default_factory=list)
    incompetent: int = 0
    minutes: float = 0.0

    @property
    def rate(self) -> float:
        scored = self.killed + len(self.survived)
        return self.killed / scored if scored else 1.0


def _equivalents() -> dict[tuple[str, str, str], str]:
    data = tomllib.loads(EQUIVALENTS.read_text()) if EQUIVALENTS.exists() else {}
    return {(e["module"], e["operator"], e["code"].strip()): e["reason"] for e in data.get("equivalent", [])}


def _config(scratch: Path, module: str, selector: str) -> str:
    python = sys.executable
    test = f"{python} -m pytest -x -q -p no:cacheprovider --timeout 120 tests/test_cases.py -k {selector}"
    excluded = ", ".join(json.dumps(e) for e in EXCLUDED_OPERATORS)
    return f"""[cosmic-ray]
module-path = "{scratch / "blockyard_local" / f"{module}.py"}"
timeout = 300.0
excluded-modules = []
test-command = "env PYTHONPATH={scratch} {test}"

[cosmic-ray.distributor]
name = "local"

[cosmic-ray.filters.operators-filter]
exclude-operators = [{excluded}]
"""


def _run(cmd: list[str], cwd: Path) -> None:
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL)


def run_module(module: str, workdir: Path) -> ModuleResult:
    """Mutate one module in a scratch copy of the package and run its kit cases against each mutant."""
    from cosmic_ray.work_db import WorkDB, use_db

    started = time.monotonic()
    scratch = workdir / module / "src"
    shutil.copytree(PACKAGE, scratch, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    config = workdir / module / "cosmic-ray.toml"
    config.write_text(_config(scratch, module, MODULES[module]))
    session = workdir / module / "session.sqlite"
    bindir = Path(sys.executable).parent
    _run([str(bindir / "cosmic-ray"), "init", str(config), str(session)], ROOT)
    _run([str(bindir / "cr-filter-operators"), str(session), str(config)], ROOT)
    _run([str(bindir / "cosmic-ray"), "exec", str(config), str(session)], ROOT)
    source = (scratch / "blockyard_local" / f"{module}.py").read_text().splitlines()
    equivalents = _equivalents()
    result = ModuleResult(module)
    with use_db(str(session), WorkDB.Mode.open) as db:
        for item, outcome in db.completed_work_items:
            if outcome.worker_outcome == "skipped":
                continue
            mutation = item.mutations[0]
            line, column = mutation.start_pos
            code = source[line - 1].strip()
            found = Mutant(
                module, line, column, mutation.operator_name, code, str(outcome.test_outcome), outcome.diff or ""
            )
            if outcome.test_outcome == "killed":
                result.killed += 1
            elif outcome.test_outcome == "incompetent":
                result.incompetent += 1
            else:
                reason = equivalents.get((module, found.operator, code))
                if reason is None:
                    result.survived.append(found)
                else:
                    found.reason = reason
                    result.equivalent.append(found)
    result.minutes = round((time.monotonic() - started) / 60, 1)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help=f"modules (default: all of {', '.join(MODULES)})")
    parser.add_argument("--jobs", type=int, default=2, help="modules mutated at once (default 2)")
    args = parser.parse_args()
    modules = args.modules or list(MODULES)
    unknown = sorted(set(modules) - set(MODULES))
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}; choose from {', '.join(MODULES)}")
    with (
        tempfile.TemporaryDirectory(prefix="blockyard-mutation-") as tmp,
        concurrent.futures.ThreadPoolExecutor(args.jobs) as pool,
    ):
        results = list(pool.map(lambda m: run_module(m, Path(tmp)), modules))
    below = False
    for r in results:
        print(
            f"\n== {r.module}: {r.killed} killed, {len(r.survived)} survived, {len(r.equivalent)} equivalent, "
            f"{r.incompetent} incompetent; kill rate {r.rate:.1%} ({r.minutes} min)"
        )
        for m in r.survived:
            print(f"  survived {r.module}.py:{m.line}:{m.column} {m.operator}: {m.code}")
        below = below or r.rate < TARGET
    report = ROOT / "reports" / "mutation.json"
    report.parent.mkdir(exist_ok=True)
    report.write_text(json.dumps([{**asdict(r), "rate": r.rate} for r in results], indent=2))
    print(f"\nwrote {report.relative_to(ROOT)}; target: {TARGET:.0%} of non-equivalent mutants killed")
    return 1 if below else 0


if __name__ == "__main__":
    sys.exit(main())
