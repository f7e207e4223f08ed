"""Plugin discovery: entry points, lazy imports, failures reported, install hints."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from core_testkit import SPECS, make_plugin_dists, make_registry

from blockyard.errors import ComponentNotFoundError
from blockyard.registry import ComponentSpec, Registry


@pytest.fixture
def plugin_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    make_plugin_dists(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("BLOCKYARD_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    yield tmp_path
    for mod in ("by_good_plugin", "by_good_impl", "by_broken_plugin"):
        sys.modules.pop(mod, None)


def test_entry_point_plugins_are_lazy_and_a_broken_one_is_reported(plugin_path: Path) -> None:
    registry = Registry()
    specs = {s.type: s for s in registry.specs()}
    assert specs["state.tmpgood"].distribution == "by-good"
    assert specs["state.tmpgood"].features == ("ETAG",)
    assert "by_good_impl" not in sys.modules  # listing imports no component module
    [failure] = [f for f in registry.failures if f.distribution == "by-broken"]
    assert failure.entry_point == "broken"
    assert "ModuleNotFoundError" in failure.error
    assert "blockyard_sdk_that_is_not_installed" in failure.error
    cls = registry.resolve("STATE.TMPGOOD")  # types match case-insensitively
    assert cls.__name__ == "TmpStore"
    assert "by_good_impl" in sys.modules
    assert registry.resolve("state.tmpgood2", "v1") is cls  # alias
    assert registry.resolve("state.tmpgood", "") is cls  # "" / v0 / v1 are alike
    assert {f.value for f in cls.features} == set(specs["state.tmpgood"].features)


def test_unknown_type_names_what_to_install_and_close_matches() -> None:
    registry = make_registry()
    with pytest.raises(ComponentNotFoundError) as ei:
        registry.resolve("state.redis")
    assert 'state.redis needs: pip install "blockyard[redis]"' in str(ei.value)
    with pytest.raises(ComponentNotFoundError, match=r"did you mean state\.mem"):
        registry.resolve("state.mme")
    with pytest.raises(ComponentNotFoundError, match="has no version 'v2'; available: v1"):
        registry.resolve("state.mem", "v2")


def test_install_hints_name_exactly_the_distributions_that_exist() -> None:
    """KNOWN_DISTRIBUTIONS is what the contrib/* distributions' plugins declare: no more, no less."""
    import importlib
    import tomllib

    from blockyard.registry import KNOWN_DISTRIBUTIONS

    declared: dict[str, str] = {}
    for pyproject in sorted((Path(__file__).parents[2] / "contrib").glob("*/pyproject.toml")):
        project = tomllib.loads(pyproject.read_text())["project"]
        for target in project.get("entry-points", {}).get("blockyard", {}).values():
            plugin = importlib.import_module(target)
            declared.update(dict.fromkeys((s.type for s in plugin.blockyard_components()), project["name"]))
    assert declared, "no contrib distribution found"
    assert dict(KNOWN_DISTRIBUTIONS) == declared


def test_a_target_that_fails_to_import_is_a_clear_error() -> None:
    registry = make_registry()
    with pytest.raises(ComponentNotFoundError, match="failed to import: ModuleNotFoundError"):
        registry.resolve("state.broken")
    registry.register(ComponentSpec("pubsub", "wrongkind", "core_testkit:MemState"))
    with pytest.raises(ComponentNotFoundError, match="is not a pubsub component"):
        registry.resolve("pubsub.wrongkind")


def test_register_refuses_duplicates_unless_replacing() -> None:
    registry = make_registry()
    with pytest.raises(ValueError, match="already registered"):
        registry.register(ComponentSpec("state", "mem", "core_testkit:PlainState"))
    registry.register(ComponentSpec("state", "mem", "core_testkit:PlainState"), replace_existing=True)
    assert registry.resolve("state.mem").__name__ == "PlainState"


def test_spec_validation() -> None:
    with pytest.raises(ValueError, match="kind must be one of"):
        ComponentSpec("lock", "redis", "m:C")
    with pytest.raises(ValueError, match="'module:Class'"):
        ComponentSpec("state", "redis", "m.C")


def test_testkit_specs_declare_the_class_features() -> None:
    registry = make_registry()
    for spec in SPECS:
        if spec.name == "broken":
            continue
        cls = registry.resolve(spec.type)
        assert {f.value for f in cls.features} == set(spec.features), spec.type
        if spec.operations:
            assert set(spec.operations) == set(cls.operations)  # type: ignore[attr-defined]


def test_listing_imports_no_component_module_and_no_sdk() -> None:
    """In a fresh interpreter with every installed plugin: specs() imports neither SDKs nor pydantic."""
    import subprocess

    code = textwrap.dedent(
        """
        import json, sys
        from blockyard.registry import get_registry
        specs = get_registry().specs()
        print(json.dumps({"targets": [s.target.partition(":")[0] for s in specs], "modules": sorted(sys.modules)}))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    import json

    data = json.loads(out)
    modules = set(data["modules"])
    for sdk in ("boto3", "botocore", "azure", "cassandra", "aiokafka", "pika", "hvac", "twilio", "redis", "pydantic"):
        assert sdk not in modules, f"listing imported {sdk}"
    imported_targets = [t for t in data["targets"] if t in modules]
    assert imported_targets == [], "listing imported component modules"


def test_import_blockyard_is_light() -> None:
    """``import blockyard`` loads only the package: its names are imported on first use."""
    import json
    import subprocess

    code = "import json, sys, blockyard; print(json.dumps(sorted(sys.modules)))"
    modules = set(json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, check=True).stdout))
    assert {m for m in modules if m.startswith("blockyard")} == {"blockyard"}
    for heavy in ("pydantic", "yaml", "click", "rich", "pluggy", "typing"):
        assert heavy not in modules, heavy


def test_kit_hooks_are_optional_and_defined_by_the_kit(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A plugin implementing the kit's hook loads without the kit; with it, the hook is called."""
    import blockyard.registry as registry_module

    (tmp_path / "by_kit_user.py").write_text(
        textwrap.dedent(
            """
            from blockyard.hookspecs import hookimpl
            from blockyard.registry import ComponentSpec

            @hookimpl
            def blockyard_components():
                return [ComponentSpec("state", "kituser", "core_testkit:MemState")]

            @hookimpl(optionalhook=True)
            def blockyard_conformance_cases():
                return ["cases.yaml"]
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("BLOCKYARD_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    groups = {
        registry_module.ENTRY_POINT_GROUP: [registry_module._EntryPoint("kituser", "by_kit_user", "by-kit-user")],
        registry_module.HOOKSPEC_GROUP: [],
    }
    monkeypatch.setattr(registry_module, "_entry_points", lambda *names: {g: groups[g] for g in names})
    without_kit = Registry()
    assert [s.type for s in without_kit.specs()] == ["state.kituser"]
    assert without_kit.failures == []
    assert "blockyard_conformance_cases" not in {
        name for name, caller in vars(without_kit.plugin_manager.hook).items() if caller.has_spec()
    }
    groups[registry_module.HOOKSPEC_GROUP] = [
        registry_module._EntryPoint("conformance", "blockyard_conformance.hookspecs", "blockyard-conformance")
    ]
    with_kit = Registry()
    assert list(with_kit.iter_hook("blockyard_conformance_cases")) == ["cases.yaml"]
    assert with_kit.plugin_manager.hook.blockyard_conformance_cases.has_spec()
    sys.modules.pop("by_kit_user", None)
