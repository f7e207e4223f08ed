"""Turn conformance cases into pytest classes: one subclass of the kind's suite per case."""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, MutableMapping
from typing import Any

from blockyard_conformance.base_suite import ComponentSuite
from blockyard_conformance.cases import Case, CaseError
from blockyard_conformance.knobs import KnobError, check_knobs

__all__ = ["SUITES", "case_class", "class_name", "install_case_classes", "suite_for"]

SUITES = {
    "state": "blockyard_conformance.state_suite:StateStoreSuite",
    "pubsub": "blockyard_conformance.pubsub_suite:PubSubSuite",
    "bindings": "blockyard_conformance.bindings_suite:BindingSuite",
    "secretstores": "blockyard_conformance.secretstore_suite:SecretStoreSuite",
}


def suite_for(kind: str) -> type[ComponentSuite]:
    """The suite class of a building block (``state``, ``pubsub``, ``bindings``, ``secretstores``)."""
    module, _, name = SUITES[kind].partition(":")
    cls = getattr(importlib.import_module(module), name)
    assert isinstance(cls, type)
    assert issubclass(cls, ComponentSuite)
    return cls


def class_name(case_id: str) -> str:
    """The pytest class name of a case: ``state.in-memory`` -> ``TestCase_state_in_memory``."""
    return "TestCase_" + re.sub(r"\W", "_", case_id)


def case_class(case: Case, module: str = __name__) -> type[ComponentSuite]:
    """A subclass of the case's suite carrying the case (knobs are applied per run).

    :raises CaseError: a knob names no attribute of the suite.
    """
    base = suite_for(case.kind)
    try:
        check_knobs(base, case.knobs)
    except KnobError as exc:
        raise CaseError(f"case {case.id!r}: {exc.message}", source=case.source, field="knobs") from None
    name = class_name(case.id)
    attrs: dict[str, Any] = {
        "case": case,
        "backend": case.backend,
        "blockyard_limits": case.limits,
        "__module__": module,
        "__qualname__": name,
        "__doc__": f"Conformance case {case.id} ({case.type}, backend {case.backend or 'embedded'}).",
    }
    return type(name, (base,), attrs)


def install_case_classes(namespace: MutableMapping[str, Any], cases: Iterable[Case]) -> list[str]:
    """Add one test class per case to a test module's ``namespace``; return the class names."""
    names = []
    module = str(namespace.get("__name__", __name__))
    for case in cases:
        try:
            cls = case_class(case, module)
        except CaseError as exc:
            cls = _invalid_case_class(case, exc, module)
        namespace[cls.__name__] = cls
        names.append(cls.__name__)
    return names


def _invalid_case_class(case: Case, error: CaseError, module: str) -> type:
    """A class whose one test fails with the case's error, so one bad case does not hide the others."""

    def test_case_is_valid(self: Any) -> None:
        raise error

    name = class_name(case.id)
    return type(
        name, (), {"case": case, "__module__": module, "__qualname__": name, "test_case_is_valid": test_case_is_valid}
    )
