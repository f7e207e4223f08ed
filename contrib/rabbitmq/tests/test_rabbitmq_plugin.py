"""The plugin module: specs match the classes, the case file is well formed, no pika import."""

from __future__ import annotations

import subprocess
import sys

import yaml

from blockyard.registry import get_registry
from blockyard_rabbitmq import plugin


def test_specs_match_the_classes() -> None:
    registry = get_registry()
    for spec in plugin.blockyard_components():
        cls = registry.resolve(spec.type)
        assert set(spec.features) == {f.value for f in cls.features}
        assert cls.type == spec.type
        assert set(spec.operations) == set(getattr(cls, "operations", ()))


def test_plugin_module_does_not_import_pika() -> None:
    code = "import sys, blockyard_rabbitmq.plugin as p; p.blockyard_components(); print('pika' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_conformance_cases() -> None:
    (path,) = plugin.blockyard_conformance_cases()
    cases = yaml.safe_load(path.read_text())["cases"]
    assert {c["id"] for c in cases} == {"pubsub.rabbitmq", "bindings.rabbitmq"}
    for case in cases:
        assert case["backend"] == "rabbitmq"
        component = yaml.safe_load(case["component"])
        assert component["spec"]["type"] == case["id"]
        names = {m["name"] for m in component["spec"]["metadata"]}
        assert {"connectionString", "host"} & names
        cls = get_registry().resolve(case["id"])
        props = {
            m["name"]: m["value"].replace("${backend.url}", "amqp://g:g@127.0.0.1:1/")
            for m in component["spec"]["metadata"]
        }
        cls(props)  # the metadata parses
