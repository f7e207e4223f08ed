"""Ordering components so that every secret store comes before the components that read from it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from blockyard.errors import ComponentConfigError
from blockyard.kinds import ComponentKind
from blockyard.problems import Problem
from blockyard.resources.loading import names
from blockyard.resources.model import ComponentResource

__all__ = ["dependency_chain", "order_resources", "ordering_problems"]

_STORES = ComponentKind.SECRETSTORES.value


def order_resources(resources: Sequence[ComponentResource], *, external: Iterable[str] = ()) -> list[ComponentResource]:
    """Order ``resources`` so every secret store comes before the components that reference it.

    ``external`` names secret stores provided from outside the set.

    :raises ComponentConfigError: a referenced store missing from the set (and not external), a
        reference to a component that is not a secret store, or a cycle of references.
    """
    order, problems = ordering_problems(resources, external=external)
    if problems:
        raise ComponentConfigError.from_problems(problems)
    return order


def ordering_problems(
    resources: Sequence[ComponentResource], *, external: Iterable[str] = ()
) -> tuple[list[ComponentResource], list[Problem]]:
    """The dependency order of ``resources`` and every problem of their references (never raises)."""
    by_name = {r.name: r for r in resources}
    outside = set(external)
    problems: list[Problem] = []
    order: list[ComponentResource] = []
    done: set[str] = set()
    reported: set[str] = set()

    def problem(r: ComponentResource, text: str) -> Problem:
        return Problem(f"auth.secretStore: {text}", r.path, r.line_of("auth.secretStore"), r.name, "auth.secretStore")

    def visit(r: ComponentResource, stack: list[str]) -> None:
        if r.name in done:
            return
        if r.name in stack:
            cycle = [*stack[stack.index(r.name) :], r.name]
            key = "->".join(sorted(cycle))
            if key not in reported:
                reported.add(key)
                problems.append(problem(r, f"secret stores reference each other in a cycle: {' -> '.join(cycle)}"))
            return
        dep_name = r.secret_store
        if dep_name is not None and dep_name not in outside:
            dep = by_name.get(dep_name)
            if dep is None:
                defined = names(x for x in resources if x.kind == _STORES)
                problems.append(
                    problem(r, f"no secret store named {dep_name!r} is defined; secret stores defined: {defined}")
                )
            elif dep.kind != _STORES:
                problems.append(problem(r, f"{dep_name!r} is a {dep.type} component, not a secret store"))
            else:
                visit(dep, [*stack, r.name])
        if r.name not in done:
            done.add(r.name)
            order.append(r)

    for r in resources:
        visit(r, [])
    return order, problems


def dependency_chain(
    chosen: ComponentResource, resources: Sequence[ComponentResource], external: set[str]
) -> list[ComponentResource]:
    """The secret stores ``chosen`` needs opened first (recursively), in order; not ``chosen`` itself.

    :raises ComponentConfigError: a missing store, a non-store or a cycle along the chain.
    """
    if chosen.secret_store is None or chosen.secret_store in external:
        return []
    by_name = {r.name: r for r in resources}
    chain = [chosen]
    store: str | None = chosen.secret_store
    while store is not None and store not in external and store in by_name and by_name[store] not in chain:
        chain.append(by_name[store])
        store = by_name[store].secret_store
    # Ordering just the chain reports a missing store, a non-store or a cycle.
    return [r for r in order_resources(chain, external=external) if r is not chosen]
