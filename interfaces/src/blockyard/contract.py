"""The plugin contract: which plugins this core can load.

The contract is what a plugin relies on: the ABCs, the hooks, :class:`~blockyard.registry.ComponentSpec`
and the errors. Its version is ``MAJOR.MINOR``, independent of the distribution versions. A plugin's
entry-point module declares the contract it implements::

    # blockyard_redis/plugin.py
    BLOCKYARD_CONTRACT = "1.0"

A plugin is loaded when its major equals the core's and its minor is not above the core's (a newer
minor may use additions this core lacks). Otherwise loading it records a failure (``blockyard
list`` shows it, and using one of its components raises
:class:`~blockyard.errors.ComponentNotFoundError` with this message); the other plugins keep working.
A module that declares nothing is taken to implement ``1.0``, the first contract.

Contract history: ``1.0`` (blockyard 0.1.0); ``1.1`` adds the dead-letter hand-off a plugin that
retries a message itself calls (``SubscribeRequest.attempt`` / ``give_up`` / ``dead_letter_topic``
and their bulk twins).
"""

from __future__ import annotations

from typing import Any

from blockyard.errors import BlockyardError

__all__ = [
    "CONTRACT_VERSION",
    "IncompatiblePluginError",
    "check_plugin_contract",
    "install_hint",
    "installed_distributions",
]

#: The contract this core provides.
CONTRACT_VERSION = "1.1"


class IncompatiblePluginError(BlockyardError):
    """A plugin implements a contract this core cannot provide, or declares it malformed."""


def _parse(version: object, where: str) -> tuple[int, int]:
    major, dot, minor = str(version).strip().partition(".")
    if not (isinstance(version, str) and major.isdigit() and (not dot or minor.isdigit())):
        raise IncompatiblePluginError(f"{where} must be a 'MAJOR.MINOR' string such as '1.0', not {version!r}")
    return int(major), int(minor or 0)


def install_hint(distribution: str) -> str:
    """The ``pip install`` line for a distribution, through the core's extra when it has one.

    ``blockyard-redis`` gives ``pip install "blockyard[redis]"`` (the installed core declares the extra
    ``redis``); any other name is installed by name.
    """
    from importlib.metadata import PackageNotFoundError, metadata

    extra = distribution.removeprefix("blockyard-")
    try:
        extras = metadata("blockyard").get_all("Provides-Extra") or []
    except PackageNotFoundError:  # the core used from a source tree, not installed
        extras = []
    if extra != distribution and extra in extras:
        return f'pip install "blockyard[{extra}]"'
    return f"pip install {distribution}"


def check_plugin_contract(plugin: Any, distribution: str | None) -> None:
    """Check the ``BLOCKYARD_CONTRACT`` a loaded plugin module declares against :data:`CONTRACT_VERSION`.

    :raises IncompatiblePluginError: naming the distribution, both contract versions and what to install.
    """
    from blockyard import __version__

    name = distribution or getattr(plugin, "__name__", "a plugin")
    declared = getattr(plugin, "BLOCKYARD_CONTRACT", "1.0")
    want = _parse(declared, f"BLOCKYARD_CONTRACT of {name}")
    have = _parse(CONTRACT_VERSION, "CONTRACT_VERSION")
    if want[0] == have[0] and want[1] <= have[1]:
        return
    if want > have:
        fix = f"upgrade the core: pip install --upgrade blockyard {name}"
    else:
        fix = f"install a release of {name} built for contract {have[0]}.x: pip install --upgrade {name}"
    raise IncompatiblePluginError(
        f"{name} implements Blockyard contract {declared}, but the installed blockyard {__version__} "
        f"provides contract {CONTRACT_VERSION}; {fix}"
    )


def installed_distributions() -> list[tuple[str, str]]:
    """``(name, version)`` of every installed distribution named ``blockyard-*`` or providing a plugin.

    Sorted by name, the core ``blockyard`` excluded (it is reported as the program's own version).
    """
    from importlib.metadata import distributions

    found: dict[str, str] = {}
    for dist in distributions():
        name = dist.metadata["Name"] or ""
        if name == "blockyard" or name in found:
            continue
        if name.startswith("blockyard-") or any(ep.group == "blockyard" for ep in dist.entry_points):
            found[name] = dist.version
    return sorted(found.items())
