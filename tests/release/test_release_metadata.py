"""Publishable metadata, version ranges, extras and the release workflow, checked from the files on disk."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from release_kit import (
    CORE,
    ROOT,
    Dist,
    distributions,
    extras_problems,
    metadata_problems,
    range_problems,
    workflow_problems,
)

DISTS = distributions()
WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"


def _core() -> Dist:
    [core] = [d for d in DISTS if d.name == CORE]
    return core


def _with(dist: Dist, **project: object) -> Dist:
    data = copy.deepcopy(dist.pyproject)
    data["project"].update(project)
    return Dist(dist.path, data)


def test_every_distribution_on_disk_is_found() -> None:
    names = [d.name for d in DISTS]
    assert names[:2] == ["blockyard", "blockyard-conformance"]
    assert {"blockyard-local", "blockyard-redis", "blockyard-rabbitmq", "blockyard-vault"} <= set(names)
    assert len(names) == len(set(names)) == len(list(ROOT.glob("contrib/*/pyproject.toml"))) + 2


@pytest.mark.parametrize("dist", DISTS, ids=lambda d: d.name)
def test_metadata_is_complete(dist: Dist) -> None:
    assert metadata_problems(dist) == []


def test_the_metadata_check_catches_each_defect() -> None:
    redis = next(d for d in DISTS if d.name == "blockyard-redis")
    assert metadata_problems(_with(redis, license={"text": "Apache-2.0"})) == [
        "blockyard-redis: license must be 'Apache-2.0' with license-files = ['LICENSE']"
    ]
    assert (
        "classifiers lack ['Typing :: Typed']"
        in metadata_problems(
            _with(redis, classifiers=[c for c in redis.pyproject["project"]["classifiers"] if c != "Typing :: Typed"])
        )[0]
    )
    assert "readme" in metadata_problems(_with(redis, readme=None))[0]
    assert "project URLs" in metadata_problems(_with(redis, urls={}))[0]
    two_versions = metadata_problems(_with(redis, version="0.1.0"))
    assert two_versions == [
        "blockyard-redis: the version must be written in exactly one place, "
        "found ['redis/pyproject.toml', 'src/blockyard_redis/__init__.py']"
    ]


def test_versions_are_in_lockstep_and_ranges_admit_them() -> None:
    assert range_problems(DISTS) == []
    versions = {d.version for d in DISTS}
    assert len(versions) == 1
    import blockyard

    assert versions == {blockyard.__version__}


def test_the_range_check_catches_an_open_or_wrong_range() -> None:
    redis = next(d for d in DISTS if d.name == "blockyard-redis")
    others = [d for d in DISTS if d is not redis]
    open_range = _with(redis, dependencies=["blockyard", "redis>=5.0.1"])
    assert range_problems([*others, open_range]) == [
        "blockyard-redis dependencies: blockyard must admit blockyard 0.1.0 and exclude 0.2"
    ]
    too_new = _with(redis, dependencies=["blockyard>=0.2"])
    assert range_problems([*others, too_new]) == [
        "blockyard-redis dependencies: blockyard>=0.2 must admit blockyard 0.1.0 and exclude 0.2"
    ]


def test_the_core_has_an_extra_per_plugin_and_all() -> None:
    assert extras_problems(_core(), DISTS) == []
    extras = _core().pyproject["project"]["optional-dependencies"]
    for name in ("kafka", "aws", "azure", "cassandra", "twilio", "dapr", "redis", "local", "rabbitmq", "vault"):
        assert extras[name] == [f"blockyard-{name}>=0.1.0,<0.2"]
    assert extras["conformance"] == ["blockyard-conformance>=0.1.0,<0.2"]


def test_the_extras_check_catches_a_plugin_left_out() -> None:
    core = _core()
    extras = dict(core.pyproject["project"]["optional-dependencies"])
    del extras["redis"]
    problems = extras_problems(_with(core, **{"optional-dependencies": extras}), DISTS)
    assert problems[0] == "blockyard[redis] must install exactly blockyard-redis, not []"
    extras = dict(core.pyproject["project"]["optional-dependencies"])
    extras["all"] = ["blockyard[local,redis]"]
    [problem] = extras_problems(_with(core, **{"optional-dependencies": extras}), DISTS)
    assert problem.startswith("blockyard[all] must be blockyard[aws,azure,")


def test_every_plugin_declares_the_contract_it_implements() -> None:
    from importlib import import_module

    from blockyard.contract import check_plugin_contract

    for dist in DISTS:
        for value in dist.pyproject["project"].get("entry-points", {}).get("blockyard", {}).values():
            module = import_module(value)
            assert isinstance(getattr(module, "BLOCKYARD_CONTRACT", None), str), f"{value} declares no contract"
            check_plugin_contract(module, dist.name)


def test_release_workflow_parses_and_builds_and_publishes_every_distribution() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert workflow_problems(workflow, DISTS) == []


def test_the_workflow_check_catches_a_missing_distribution_and_a_token() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    include = workflow["jobs"]["build"]["strategy"]["matrix"]["include"]
    include[:] = [row for row in include if row["name"] != "blockyard-redis"]
    publish = next(s for s in workflow["jobs"]["publish"]["steps"] if "pypi-publish" in s.get("uses", ""))
    publish["with"]["password"] = "${{ secrets.PYPI_TOKEN }}"
    del workflow["jobs"]["publish"]["permissions"]
    assert workflow_problems(workflow, DISTS) == [
        "release.yml build matrix lacks { name: blockyard-redis, path: contrib/redis }",
        "the publish job needs permissions: id-token: write (trusted publishing)",
        "publish with pypa/gh-action-pypi-publish and no password (trusted publishing)",
    ]


def test_the_changelog_has_the_current_version_and_every_distribution() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    import blockyard

    assert f"## [{blockyard.__version__}]" in text
    for dist in DISTS:
        assert f"### {dist.name}\n" in text, f"CHANGELOG.md has no section for {dist.name}"


def test_make_dist_lists_every_distribution() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "dist.py"), "--list"], check=True, capture_output=True, text=True
    ).stdout
    assert out.splitlines() == [f"{d.name} {d.path.relative_to(ROOT)}" for d in DISTS]
    assert "scripts/dist.py" in (ROOT / "Makefile").read_text()
    assert Path(ROOT / "LICENSE").read_text().lstrip().startswith("Apache License")
