"""Plugin contract versions (an incompatible plugin is a clear error at load), install hints, --version."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest
from click.testing import CliRunner

from blockyard.cli import cli
from blockyard.contract import (
    CONTRACT_VERSION,
    IncompatiblePluginError,
    check_plugin_contract,
    install_hint,
    installed_distributions,
)
from blockyard.errors import ComponentNotFoundError
from blockyard.registry import Registry

PLUGIN = """
from blockyard.hookspecs import hookimpl
from blockyard.registry import ComponentSpec
{declaration}

@hookimpl
def blockyard_components():
    return [ComponentSpec("state", "{name}", "blockyard_local.state_memory:InMemoryStateStore")]
"""


def _plugin_dist(root: Path, name: str, declaration: str) -> None:
    """A throwaway distribution ``by-<name>`` whose entry-point module declares ``declaration``."""
    (root / f"by_{name}_plugin.py").write_text(PLUGIN.format(declaration=declaration, name=name))
    info = root / f"by_{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: by-{name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[blockyard]\n{name} = by_{name}_plugin\n")


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    cases = {
        "same": 'BLOCKYARD_CONTRACT = "1.1"',
        "olderminor": 'BLOCKYARD_CONTRACT = "1.0"',
        "silent": "",
        "newerminor": 'BLOCKYARD_CONTRACT = "1.2"',
        "newermajor": 'BLOCKYARD_CONTRACT = "2.0"',
        "oldermajor": 'BLOCKYARD_CONTRACT = "0.9"',
        "malformed": "BLOCKYARD_CONTRACT = 1.0",
    }
    for name, declaration in cases.items():
        _plugin_dist(tmp_path, name, declaration)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("BLOCKYARD_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    yield tmp_path
    for name in cases:
        sys.modules.pop(f"by_{name}_plugin", None)


def test_the_core_provides_contract_1_1() -> None:
    assert CONTRACT_VERSION == "1.1"


def test_an_incompatible_plugin_is_a_clear_error_at_load_and_the_others_work(plugins: Path) -> None:
    registry = Registry()
    types = {s.type for s in registry.specs()}
    assert {"state.same", "state.olderminor", "state.silent"} <= types  # same contract, an older minor, or none (1.0)
    assert not {"state.newerminor", "state.newermajor", "state.oldermajor", "state.malformed"} & types
    failures = {
        f.distribution: f.error for f in registry.failures if f.distribution and f.distribution.startswith("by-")
    }
    assert failures["by-newermajor"] == (
        "IncompatiblePluginError: by-newermajor implements Blockyard contract 2.0, but the installed blockyard "
        f"{version('blockyard')} provides contract 1.1; upgrade the core: pip install --upgrade blockyard by-newermajor"
    )
    assert "implements Blockyard contract 1.2" in failures["by-newerminor"]
    assert failures["by-oldermajor"].endswith(
        "provides contract 1.1; install a release of by-oldermajor built for contract 1.x: "
        "pip install --upgrade by-oldermajor"
    )
    assert failures["by-malformed"] == (
        "IncompatiblePluginError: BLOCKYARD_CONTRACT of by-malformed must be a 'MAJOR.MINOR' string "
        "such as '1.0', not 1.0"
    )
    assert "state.redis" in types  # the real plugins still load
    registry.resolve("state.same")


def test_blockyard_list_shows_the_incompatible_plugin(plugins: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import blockyard.registry

    monkeypatch.setattr(blockyard.registry, "_default", None)
    result = CliRunner().invoke(cli, ["list", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert "by-newermajor implements Blockyard contract 2.0" in result.output
    assert "state.same" in result.output


def test_check_plugin_contract_directly() -> None:
    module = types.ModuleType("some_plugin")
    module.BLOCKYARD_CONTRACT = "1.0"  # type: ignore[attr-defined]
    check_plugin_contract(module, "blockyard-x")
    module.BLOCKYARD_CONTRACT = "1"  # type: ignore[attr-defined]
    check_plugin_contract(module, None)  # "1" is "1.0"
    module.BLOCKYARD_CONTRACT = "3.2"  # type: ignore[attr-defined]
    with pytest.raises(IncompatiblePluginError, match=r"^some_plugin implements Blockyard contract 3\.2"):
        check_plugin_contract(module, None)


def test_install_hints_name_the_core_extra() -> None:
    assert install_hint("blockyard-redis") == 'pip install "blockyard[redis]"'
    assert install_hint("blockyard-aws") == 'pip install "blockyard[aws]"'
    assert install_hint("blockyard-conformance") == 'pip install "blockyard[conformance]"'
    assert install_hint("blockyard-notanextra") == "pip install blockyard-notanextra"
    assert install_hint("someone-elses-plugin") == "pip install someone-elses-plugin"
    registry = Registry(autoload=False)
    with pytest.raises(ComponentNotFoundError, match=r'state\.redis needs: pip install "blockyard\[redis\]"'):
        registry.resolve("state.redis")


def test_version_lists_the_installed_distributions() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"blockyard {version('blockyard')} (contract {CONTRACT_VERSION})"
    listed = dict(line.split() for line in lines[1:])
    for name in (
        "blockyard-conformance",
        "blockyard-local",
        "blockyard-redis",
        "blockyard-rabbitmq",
        "blockyard-vault",
    ):
        assert listed[name] == version(name)
    assert dict(installed_distributions()) == listed
    assert "blockyard" not in listed
