"""Blockyard's conformance kit: one suite per building block, run on any component.

A component author subclasses the suite of the component's kind and names the component;
``pytest`` then runs every test the component's declared features call for::

    # tests/test_my_store.py
    from blockyard_conformance import StateStoreSuite
    from my_plugin.state import MyStateStore

    class TestMyStateStore(StateStoreSuite):
        component_class = MyStateStore
        metadata = {"path": ":memory:"}
        bad_etag = "9999999"              # knobs are class attributes

The same suites run from data: a conformance case (Component YAML + backend + knobs + known
limits, see the repository's ``CONTRIBUTING.md``) needs no Python, and ``blockyard conformance run --component my.yaml``
runs the suites on any component file.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "BindingSuite",
    "Case",
    "ComponentSuite",
    "PubSubSuite",
    "SecretStoreSuite",
    "StateStoreSuite",
    "discover_cases",
    "load_case_file",
]

__version__ = "0.1.0"

_EXPORTS = {
    "BindingSuite": "blockyard_conformance.bindings_suite",
    "ComponentSuite": "blockyard_conformance.base_suite",
    "PubSubSuite": "blockyard_conformance.pubsub_suite",
    "SecretStoreSuite": "blockyard_conformance.secretstore_suite",
    "StateStoreSuite": "blockyard_conformance.state_suite",
    "Case": "blockyard_conformance.cases",
    "discover_cases": "blockyard_conformance.cases",
    "load_case_file": "blockyard_conformance.cases",
}

if TYPE_CHECKING:
    from blockyard_conformance.base_suite import ComponentSuite
    from blockyard_conformance.bindings_suite import BindingSuite
    from blockyard_conformance.cases import Case, discover_cases, load_case_file
    from blockyard_conformance.pubsub_suite import PubSubSuite
    from blockyard_conformance.secretstore_suite import SecretStoreSuite
    from blockyard_conformance.state_suite import StateStoreSuite


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'blockyard_conformance' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
