"""A backend the fault tests may restart: the suite's own when the launcher started it, else a
private server of the same backend, started for the test alone.

A suite whose backend came from ``BLOCKYARD_<NAME>_URL`` or from a server already listening must
never restart it (it belongs to someone else). :func:`restartable_target` then starts a second
instance natively, on a free loopback port, under a state folder of its own (so no other
launcher's ``status``/``down`` sees it), runs the case's ``setup`` against it, makes and
initialises a component of the case for it, and stops everything afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from blockyard.component import Component
from blockyard_conformance.backends.launcher import BackendStartError, Launcher, get_launcher
from blockyard_conformance.backends.recipe import BackendUnavailable
from blockyard_conformance.cases import run_case_setup, substitute
from blockyard_conformance.marks import NOT_RUN

if TYPE_CHECKING:
    from blockyard_conformance.backends.recipe import Endpoint
    from blockyard_conformance.base_suite import SuiteEnv

__all__ = ["OWN_SOURCES", "RestartTarget", "restartable_target"]

OWN_SOURCES = ("native", "docker")
"""Endpoint sources of servers the launcher started itself, which it may restart."""


@dataclass(frozen=True, slots=True)
class RestartTarget:
    """The component a fault test drives and the launcher that owns its backend."""

    component: Component
    backend: str
    launcher: Launcher
    endpoint: Endpoint
    private: bool

    async def restart(self) -> None:
        """Stop and start the backend (same port, same data folder); the component must reconnect."""
        await asyncio.to_thread(self.launcher.restart, self.backend)


@contextlib.asynccontextmanager
async def restartable_target(
    env: SuiteEnv, component: Component, make: Callable[[SuiteEnv], Awaitable[Component]]
) -> AsyncIterator[RestartTarget]:
    """``component`` on the suite's backend when the launcher owns it, else a component made by
    ``make`` for a private server (skipped as not run when that server cannot be had here).

    :raises BackendStartError: the private server did not start.
    """
    assert env.endpoint is not None
    backend = env.endpoint.backend
    if env.endpoint.source in OWN_SOURCES:
        yield RestartTarget(component, backend, get_launcher(), env.endpoint, private=False)
        return
    launcher = Launcher(Path(env.tmpdir) / f"private-{backend}")
    try:
        endpoint = await asyncio.to_thread(launcher.up, backend, reuse=False)
    except BackendStartError:  # a start that failed is a failure, never "not run"
        raise
    except BackendUnavailable as exc:
        pytest.skip(f"{NOT_RUN}no private {backend} can be started for the fault test: {exc}")
    try:
        private_env = _env_for(env, endpoint)
        cleanup = None
        if env.case is not None:
            cleanup = await asyncio.to_thread(run_case_setup, env.case, endpoint, env.run_id)
        try:
            comp = await make(private_env)
            await comp.init()
            try:
                yield RestartTarget(comp, backend, launcher, endpoint, private=True)
            finally:
                await comp.close()
        finally:
            if cleanup is not None:
                await asyncio.to_thread(cleanup)
    finally:
        await asyncio.to_thread(launcher.down, backend)


def _env_for(env: SuiteEnv, endpoint: Endpoint) -> SuiteEnv:
    """``env`` with the case's Component YAML substituted for ``endpoint`` instead of the suite's."""
    text = env.component_yaml
    if env.case is not None:
        case = env.case
        where = {"run_id": env.run_id, "tmpdir": str(env.tmpdir), "case_dir": case.case_dir}
        text = substitute(case.component, endpoint=endpoint, source=case.source, **where)
    return dataclasses.replace(env, endpoint=endpoint, component_yaml=text)
