"""Mutation testing of the reference components with only the conformance kit as the test suite.

``make mutation`` (or ``python scripts/mutation.py [MODULE ...] [--jobs N]``) mutates each module of
``contrib/local`` named below with cosmic-ray and runs the kit's cases for that component against
every mutant. It prints, per module, how many mutants the kit killed, the survivors (line, operator,
code) and the kill rate over the mutants not listed as equivalent in
``tests/conformance_kit/mutation_equivalents.toml`` (each entry gives its reason and is reviewed
like code), next to the rate over all of them; results also go to ``reports/mutation.json``.

How a run stays affordable, without hiding kills:

- ``--jobs`` workers test mutants side by side, each on its own copy of the package and of the kit
  (so the work tree is never touched, and editing it during a run changes nothing in the run);
- the kit runs once on the unmutated code with coverage per test; a mutant is then tested only by
  the tests that execute its statement, stopping at the first failure. Statements run at import
  (class bodies, defaults, ``def`` lines) are tested by every case test of the module;
- the state model's seed is fixed (``MODEL_SEED``), so a mutant is killed the same way every run.

Operators: comparisons (each with its negation and its boundary twin), ``and``/``or``, ``not``,
``True``/``False``, numbers, ``break``/``continue``, exception handlers, zero-iteration loops and
``+``/``-``; the other arithmetic and bitwise swaps are left out (they add hundreds of mutants
with nothing new to say about a store). The exit status is non-zero when a module is below the
target kill rate.
"""

from __future__ import annotations

import argparse
import ast
import compileall
import concurrent.futures
import json
import os
import py_compile
import queue
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import attrs

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "contrib" / "local" / "src"
KIT = ROOT / "conformance" / "src"
EQUIVALENTS = ROOT / "tests" / "conformance_kit" / "mutation_equivalents.toml"
TARGET = 0.95

TIMEOUT = 300
MODEL_SEED_ENV = "BLOCKYARD_MODEL_SEED"
MODEL_SEED = 20210
"""The state model's seed is fixed, so a mutant is killed or not the same way on every run."""

MODULES: dict[str, tuple[str, ...]] = {
    "state_memory": ("state.in-memory",),
    "state_sqlite": ("state.sqlite",),
    "pubsub_memory": ("pubsub.in-memory",),
    "secretstores_file": ("secretstores.local.file",),
    "secretstores_env": ("secretstores.local.env",),
}
"""Module of blockyard_local -> the id prefixes of the conformance cases run against its mutants."""

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

    @property
    def mutated(self) -> str:
        """The mutated line as the diff shows it, stripped ("" when the diff shows none)."""
        added = [ln[1:] for ln in self.diff.splitlines() if ln.startswith("+") and not ln.startswith("+++")]
        return added[0].strip() if added else ""


@dataclass
class ModuleResult:
    module: str
    killed: int = 0
    survived: list[Mutant] = field(default_factory=list)
    equivalent: list[Mutant] = field(default_factory=list)
    broken: list[Mutant] = field(default_factory=list)
    minutes: float = 0.0

    @property
    def raw_rate(self) -> float:
        """Killed over every scored mutant, the equivalent ones included."""
        scored = self.killed + len(self.survived) + len(self.equivalent)
        return self.killed / scored if scored else 1.0

    @property
    def rate(self) -> float:
        scored = self.killed + len(self.survived)
        return self.killed / scored if scored else 1.0


EquivalentKey = tuple[str, str, str, int | None, str | None]


def _equivalents() -> dict[EquivalentKey, str]:
    """(module, operator, stripped source line, column or None, mutated line or None) -> reason. An
    entry names the mutated node's column when the line holds two nodes the operator mutates alike,
    and the mutated line (``mutant``) when the operator makes several mutants of one node and only
    one of them is equivalent."""
    data = tomllib.loads(EQUIVALENTS.read_text()) if EQUIVALENTS.exists() else {}
    return {
        (e["module"], e["operator"], e["code"].strip(), e.get("column"), e.get("mutant")): e["reason"]
        for e in data.get("equivalent", [])
    }


def _keys(m: Mutant) -> list[EquivalentKey]:
    """The equivalents keys that may name ``m``, the most specific first."""
    return [(m.module, m.operator, m.code, c, t) for c in (m.column, None) for t in (m.mutated, None)]


def _config(source: Path) -> str:
    excluded = ", ".join(json.dumps(e) for e in EXCLUDED_OPERATORS)
    return f"""[cosmic-ray]
module-path = "{source}"
timeout = {TIMEOUT}
excluded-modules = []
test-command = "unused: scripts/mutation.py runs the tests itself"

[cosmic-ray.distributor]
name = "local"

[cosmic-ray.filters.operators-filter]
exclude-operators = [{excluded}]
"""


CASES_MODULE = """from blockyard_conformance.cases import discover_cases
from blockyard_conformance.generate import install_case_classes

install_case_classes(globals(), [c for c in discover_cases() if c.id.startswith({prefixes!r})])
"""


def _run(cmd: list[str], cwd: Path) -> None:
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL)


@dataclass
class Slot:
    """A worker's private copy of the package, of the kit and its test modules: mutants never share a
    file, and editing the work tree during a run changes nothing in it."""

    root: Path

    @property
    def package(self) -> Path:
        return self.root / "src"

    @property
    def kit(self) -> Path:
        return self.root / "kit"

    def tests(self, module: str) -> Path:
        return self.root / f"test_mutation_{module}.py"

    def pytest(self, module: str, *args: str, tests: list[str] | None = None) -> str:
        """The command running the module's kit cases (or only ``tests``, ids within its test module)."""
        file = self.tests(module)
        selected = " ".join(f"{file}::{t}" for t in tests) if tests else str(file)
        return (
            f"env PYTHONPATH={self.package}:{self.kit} {MODEL_SEED_ENV}={MODEL_SEED} {sys.executable} -m pytest -q "
            f"-p no:cacheprovider -p no:randomly --timeout {TIMEOUT} --rootdir {ROOT} -c {ROOT / 'pyproject.toml'} "
            f"{' '.join(args)} {selected}"
        )


def _make_slot(root: Path) -> Slot:
    slot = Slot(root)
    ignored = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(PACKAGE, slot.package, ignore=ignored)
    shutil.copytree(KIT, slot.kit, ignore=ignored)
    # Mutant runs write no bytecode; hash-checked .pyc files compiled once spare every run the
    # compiling of the kit, and can never stand in for a mutated source.
    for folder in (slot.package, slot.kit):
        compileall.compile_dir(
            folder, quiet=1, rx=re.compile(r"templates"), invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH
        )
    for module, prefixes in MODULES.items():
        (root / f"test_mutation_{module}.py").write_text(CASES_MODULE.format(prefixes=prefixes))
    return slot


class Coverage:
    """Which kit tests execute each statement of a module, measured once on the unmutated code.

    A mutant is tested only by the tests that execute its statement (a test that never runs the
    mutated code cannot tell the mutant from the original); statements run while importing (class
    bodies, defaults) or by no recorded test are tested by the whole selection.
    """

    def __init__(self, module: str, slot: Slot, workdir: Path) -> None:
        from coverage import CoverageData

        data_file = workdir / module / ".coverage"
        target = slot.package / "blockyard_local" / f"{module}.py"
        command = slot.pytest(module, f"--cov={target.parent}", "--cov-context=test", "--cov-report=")
        env = {**os.environ, "COVERAGE_FILE": str(data_file)}
        done = subprocess.run(shlex.split(command), cwd=slot.root, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"the kit fails on the unmutated {module}.py; fix that first:\n{done.stdout[-3000:]}")
        data = CoverageData(basename=str(data_file))
        data.read()
        self.tests: dict[int, set[str]] = {}
        for line, contexts in data.contexts_by_lineno(str(target)).items():
            self.tests[line] = {c.split("::", 1)[1].rsplit("|", 1)[0] if "::" in c else "" for c in contexts}
        self.statements = sorted(_statements(ast.parse(target.read_text()), False), key=lambda s: s[1] - s[0])

    def tests_for(self, line: int) -> list[str] | None:
        """Ids of the tests executing the statement holding ``line``; ``None``: run them all."""
        start, _, in_function = next((s for s in self.statements if s[0] <= line <= s[1]), (line, line, False))
        tests = self.tests.get(start, set())
        return sorted(tests) if in_function and tests and "" not in tests else None


def _statements(node: ast.AST, in_function: bool) -> list[tuple[int, int, bool]]:
    """(first line, last line, inside a function body) of every statement under ``node``; a ``def`` line
    itself (decorators, defaults) runs at import, so it counts as outside."""
    found: list[tuple[int, int, bool]] = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.stmt):
            found.append((child.lineno, child.end_lineno or child.lineno, in_function))
        body = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        found.extend(_statements(child, body))
    return found


def _mutate_in(slot: Slot, module: str, item: Any, coverage: Coverage) -> Any:
    """Apply one work item's mutation to the slot's copy, run the kit tests reaching it, restore the copy."""
    from cosmic_ray.mutating import mutate_and_test

    target = slot.package / "blockyard_local" / f"{module}.py"
    mutations = [attrs.evolve(m, module_path=target) for m in item.mutations]
    tests = coverage.tests_for(item.mutations[0].start_pos[0])
    return mutate_and_test(mutations, slot.pytest(module, "-x", tests=tests), TIMEOUT)


def _init_session(module: str, workdir: Path) -> Path:
    """A cosmic-ray session holding the module's mutants (after the operator filter)."""
    here = workdir / module
    here.mkdir(parents=True)
    config = here / "cosmic-ray.toml"
    config.write_text(_config(PACKAGE / "blockyard_local" / f"{module}.py"))
    session = here / "session.sqlite"
    bindir = Path(sys.executable).parent
    _run([str(bindir / "cosmic-ray"), "init", str(config), str(session)], ROOT)
    _run([str(bindir / "cr-filter-operators"), str(session), str(config)], ROOT)
    return session


def run_modules(
    modules: list[str], workdir: Path, jobs: int, only: set[tuple[str, int, int, str]] | None = None
) -> list[ModuleResult]:
    """Mutate every module; ``jobs`` workers, each on its own copy, test the mutants in parallel
    (only those in ``only``, as (module, line, column, operator), when given)."""
    from cosmic_ray.work_db import WorkDB, use_db

    started = {m: time.monotonic() for m in modules}
    sessions = {m: _init_session(m, workdir) for m in modules}
    slots: queue.Queue[Slot] = queue.Queue()
    for n in range(jobs):
        slots.put(_make_slot(workdir / f"worker-{n}"))

    first = slots.get()
    coverages = {m: Coverage(m, first, workdir) for m in modules}
    slots.put(first)

    def work(module: str, item: Any) -> Any:
        slot = slots.get()
        try:
            return _mutate_in(slot, module, item, coverages[module])
        finally:
            slots.put(slot)

    pending: dict[str, list[Any]] = {}
    for m, session in sessions.items():
        with use_db(str(session), WorkDB.Mode.open) as db:
            pending[m] = [i for i in db.pending_work_items if only is None or _place(m, i) in only]
    total = sum(len(v) for v in pending.values())
    print(f"{total} mutants ({', '.join(f'{m}: {len(v)}' for m, v in pending.items())}), {jobs} workers", flush=True)
    outcomes: dict[str, list[tuple[Any, Any]]] = {m: [] for m in modules}
    finished: dict[str, float] = {}
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        futures = {pool.submit(work, m, item): (m, item) for m in modules for item in pending[m]}
        for done, future in enumerate(concurrent.futures.as_completed(futures), 1):
            m, item = futures[future]
            outcomes[m].append((item, future.result()))
            line = item.mutations[0].start_pos[0]
            what = f"{m}.py:{line} {item.mutations[0].operator_name}"
            print(f"[{done}/{total}] {what}: {future.result().test_outcome.value}", flush=True)
            if len(outcomes[m]) == len(pending[m]):
                finished[m] = time.monotonic()
    return [_score(m, outcomes[m], round((finished.get(m, started[m]) - started[m]) / 60, 1)) for m in modules]


def _place(module: str, item: Any) -> tuple[str, int, int, str]:
    mutation = item.mutations[0]
    return (module, mutation.start_pos[0], mutation.start_pos[1], mutation.operator_name)


def _survivors(report: Path) -> set[tuple[str, int, int, str]]:
    """The survivors listed in a report this script wrote."""
    found = json.loads(report.read_text())
    return {(m["module"], m["line"], m["column"], m["operator"]) for r in found for m in r["survived"]}


def _score(module: str, outcomes: list[tuple[Any, Any]], minutes: float) -> ModuleResult:
    source = (PACKAGE / "blockyard_local" / f"{module}.py").read_text().splitlines()
    equivalents = _equivalents()
    result = ModuleResult(module, minutes=minutes)
    for item, outcome in sorted(outcomes, key=lambda o: o[0].mutations[0].start_pos):
        if outcome.worker_outcome == "no-test":
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
            result.broken.append(found)
        else:
            reason = next((equivalents[k] for k in _keys(found) if k in equivalents), None)
            if reason is None:
                result.survived.append(found)
            else:
                found.reason = reason
                result.equivalent.append(found)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help=f"modules (default: all of {', '.join(MODULES)})")
    parser.add_argument("--jobs", type=int, default=3, help="mutants tested at once, each in its own copy (default 3)")
    parser.add_argument(
        "--survivors-of",
        type=Path,
        metavar="REPORT",
        help="test only the mutants that survived in REPORT (a reports/mutation.json), e.g. after new kit tests",
    )
    parser.add_argument("--report", type=Path, default=ROOT / "reports" / "mutation.json", help="where to write")
    args = parser.parse_args()
    modules = args.modules or list(MODULES)
    unknown = sorted(set(modules) - set(MODULES))
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}; choose from {', '.join(MODULES)}")
    print(f"kit cases run with {MODEL_SEED_ENV}={MODEL_SEED}", flush=True)
    with tempfile.TemporaryDirectory(prefix="blockyard-mutation-") as tmp:
        only = _survivors(args.survivors_of) if args.survivors_of else None
        results = run_modules(modules, Path(tmp), args.jobs, only)
    if args.survivors_of:
        print(f"\nonly the survivors of {args.survivors_of} were tested: the figures below count them alone")
    below = False
    for r in results:
        print(
            f"\n== {r.module}: {r.killed} killed, {len(r.survived)} survived, {len(r.equivalent)} equivalent, "
            f"{len(r.broken)} incompetent; kill rate {r.rate:.1%} of non-equivalent, "
            f"{r.raw_rate:.1%} of all ({r.minutes} min)"
        )
        for m in r.survived:
            print(f"  survived {r.module}.py:{m.line}:{m.column} {m.operator}: {m.code}")
        for m in r.broken:
            print(f"  incompetent {r.module}.py:{m.line}:{m.column} {m.operator}: {m.code}")
        for m in r.equivalent:
            print(f"  equivalent {r.module}.py:{m.line} {m.operator}: {m.code} -- {m.reason}")
        below = below or r.rate < TARGET
    matched = {k for r in results for m in r.equivalent for k in _keys(m)}
    for module, operator, code, column, _ in sorted(set(_equivalents()) - matched, key=str):
        if module in modules and not args.survivors_of:
            print(f"  stale equivalent entry (no surviving mutant matches it): {module} {operator} {column}: {code}")
    report = args.report.resolve()
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps([{**asdict(r), "rate": r.rate, "raw_rate": r.raw_rate} for r in results], indent=2))
    print(f"\nwrote {report}; target: {TARGET:.0%} of non-equivalent mutants killed")
    return 1 if below else 0


if __name__ == "__main__":
    sys.exit(main())
