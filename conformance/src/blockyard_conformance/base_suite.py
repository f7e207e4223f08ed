"""The base of every suite: how a component is made, knobs, and the lifecycle tests.

A suite gets its component from, in order: the ``case`` it was generated for (Component YAML,
backend from the launcher), else ``component_class(metadata)``; override
:meth:`ComponentSuite.create_component` for anything else. Every test gets a freshly created
and initialised component (fixture ``component``) and closes it afterwards.

Tests every kind shares: ``ping``; init with a missing required field fails naming it;
sensitive values stay out of reprs, errors and logs; ``close()`` twice is fine and use after
close raises :class:`~blockyard.errors.ComponentClosedError`; the registered spec declares the
class's features. With knob ``network_faults`` the component is also run through the kit's fault
proxy (:mod:`blockyard_conformance.faults`): during a verified cut every operation fails within
``operation_timeout`` (+1 s) with a typed, retryable error, and it recovers within
``recovery_within`` seconds after it, with no new component; latency and stalls slow it, nothing
more. Backends the proxy cannot reach (an embedded database file) may supply a stall of their own
instead (knob ``stall_backend``, see :meth:`ComponentSuite.stalled_backend`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pytest
import pytest_asyncio
from pydantic.alias_generators import to_camel

from blockyard.component import Component
from blockyard.errors import (
    BackendUnavailableError,
    ComponentClosedError,
    ComponentConfigError,
    ComponentNotFoundError,
    NotSupportedError,
)
from blockyard_conformance.accounting import RELIABILITY_PROPERTY
from blockyard_conformance.cases import Case, run_case_setup, substitute, substitute_knobs
from blockyard_conformance.components import build_component, given_properties, secret_values
from blockyard_conformance.faults import PROXY_PORT_PARAM, FaultProxy, proxied, proxy_ports
from blockyard_conformance.leaks import threads_left
from blockyard_conformance.marks import FEATURE_MARK, NOT_DECLARED, NOT_RUN, capability
from blockyard_conformance.private_backend import RestartTarget, restartable_target
from blockyard_conformance.support import fresh_id, import_named

if TYPE_CHECKING:
    from blockyard_conformance.backends.recipe import Endpoint

__all__ = ["ComponentSuite", "SuiteEnv"]

CASE_PROPERTY = "blockyard_case"
BACKEND_PROPERTY = "blockyard_backend"
NOTE_PROPERTY = "blockyard_note"


@dataclass(slots=True)
class SuiteEnv:
    """What one run of a suite class shares: run id, temp folder, backend, resolved YAML and knobs."""

    run_id: str
    tmpdir: Path
    case: Case | None = None
    endpoint: Endpoint | None = None
    component_yaml: str | None = None
    knobs: dict[str, Any] = field(default_factory=dict)

    @property
    def flavour(self) -> str:
        """The backend flavour for reports (``"embedded"`` without a backend)."""
        return self.endpoint.flavour if self.endpoint is not None else "embedded"


def _resolve_backend(case: Case) -> Endpoint | None:
    if case.backend is None:
        return None
    from blockyard_conformance.real_backends import require_backend

    return require_backend(case.backend)


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set ``values`` in ``os.environ``; afterwards every variable is as it was (unset if it was)."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in before.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


class ComponentSuite:
    """Base of the per-kind suites. Subclass a kind's suite, not this one.

    Class attributes a subclass (or a case's knobs) sets:

    - ``component_class`` and ``metadata`` (raw Dapr properties), or override
      :meth:`create_component`;
    - ``component_name``: the name given to the component (default: its type);
    - ``backend``: the launcher backend the component needs (``None`` = embedded).
    """

    kind: ClassVar[str] = ""
    component_class: ClassVar[type[Component] | None] = None
    metadata: ClassVar[Mapping[str, Any]] = {}
    component_name: ClassVar[str | None] = None
    backend: ClassVar[str | None] = None
    case: ClassVar[Case | None] = None
    invalid_metadata: ClassVar[list[dict[str, Any]]] = []
    """Knob: metadata changes (property -> value), each of which the component must refuse with a
    ComponentConfigError naming that property, at construction or ``init()``."""
    restart_backend: bool = False
    """Knob: the backend keeps its data across a restart, so the fault tests may restart it."""
    restart_timeout: float = 60.0
    kill_backend: bool = False
    """Knob: acknowledged writes survive a SIGKILL of the backend as the launcher configures it
    (durable as configured), so the crash scenarios may kill it."""
    network_faults: bool = False
    """Knob: the case's component reaches its backend only through ``${backend.*}``, so the kit may
    route it through its fault proxy. Where the backend's endpoint names a proxy address it
    advertises (param ``faultProxyPort``), the proxy listens there (see :func:`.faults.proxy_ports`)."""
    advertised_address: bool = False
    """Knob: the component's client follows the address its backend advertises (Kafka's advertised
    listeners), so the kit's proxy stands in its path only at a proxy address the backend advertises:
    without param ``faultProxyPort`` on the endpoint, the network-fault tests are not run."""
    operation_timeout: float = 10.0
    """Knob: the longest one operation may take to fail while the backend is unreachable, given the
    timeouts and retries the case configures."""
    recovery_within: float = 10.0
    """Knob: seconds within which the component works again after a network fault ends."""
    fault_operations: int = 3
    """Knob: concurrent operations started during a cut (each must fail in time)."""
    stall_backend: str = ""
    """Knob: ``"module:function"`` stalling the backend for backends the fault proxy cannot reach
    (an embedded database file): ``function(component, endpoint)`` returns an async context manager
    in which the backend accepts no work from ``component`` (e.g. another connection holds the
    database's write lock); on exit the backend is as before. Without it the stall test is not run."""
    stall_metadata: ClassVar[dict[str, Any]] = {}
    """Knob: metadata (Dapr names) given over the case's to the stall test's own component only, e.g.
    a shorter lock wait so the test stays short; no other test sees it."""

    # -- how the component is made -------------------------------------------------------------

    def component_metadata(self, env: SuiteEnv) -> Mapping[str, Any]:
        """Raw metadata for ``component_class``; override to use ``env.tmpdir`` or the backend."""
        return self.metadata

    async def create_component(self, env: SuiteEnv) -> Component:
        """A new, not yet initialised component for one test."""
        if env.component_yaml is not None:
            source = self.case.source if self.case is not None else "<component>"
            try:
                return await build_component(env.component_yaml, source=source)
            except ComponentNotFoundError as exc:
                pytest.skip(f"{NOT_RUN}{exc}")
        if self.component_class is None:
            raise TypeError(f"{type(self).__name__}: set component_class, or override create_component()")
        return self.component_class(self.component_metadata(env), name=self.component_name)

    async def exercise(self, component: Component) -> None:
        """One basic operation of the kind (used for the lifecycle tests)."""
        raise NotImplementedError

    async def fault_probe(self, component: Component) -> None:
        """One operation that must reach the backend (the network-fault scenarios' probe); default
        :meth:`exercise`."""
        await self.exercise(component)

    def declared(self, component: Component) -> set[str]:
        """The feature names the (initialised) component declares."""
        return {str(f) for f in component.features}

    def note(self, text: str) -> None:
        """Add ``text`` to this test's report: ``conformance run`` and pytest's summary print it."""
        node = getattr(self, "_blockyard_node", None)
        if node is not None and (NOTE_PROPERTY, text) not in node.user_properties:
            node.user_properties.append((NOTE_PROPERTY, text))

    def restartable_backend(self, env: SuiteEnv) -> str:
        """The name of the backend the fault tests may restart; skips with the reason otherwise.

        Only when the case says it keeps its data across a restart (knob ``restart_backend``).
        """
        if env.endpoint is None:
            pytest.skip("an embedded component has no backend to restart")
        if not self.restart_backend:
            pytest.skip("the case does not let the kit restart its backend (knob 'restart_backend')")
        return env.endpoint.backend

    @contextlib.asynccontextmanager
    async def restartable(self, env: SuiteEnv, component: Component) -> AsyncIterator[RestartTarget]:
        """What a fault test drives: ``component`` when the launcher started the suite's backend, else
        a component of the case on a private server of that backend (see :mod:`.private_backend`)."""
        self.restartable_backend(env)
        async with restartable_target(env, component, self.create_component) as target:
            if target.private:
                self.note(f"restarted a private {target.backend} at {target.endpoint.address}, not the suite's")
            yield target

    async def restart(self, backend: str, *, kill: bool = False) -> None:
        """Stop and start ``backend`` through the launcher (same port, same data folder); ``kill``:
        stop it with SIGKILL, as a crash does."""
        from blockyard_conformance.backends.launcher import get_launcher

        await asyncio.to_thread(get_launcher().restart, backend, kill=kill)

    def killable_backend(self, env: SuiteEnv) -> str:
        """The backend the crash scenarios may SIGKILL (knob ``kill_backend``); skips otherwise."""
        if env.endpoint is None:
            pytest.skip("an embedded component has no backend to kill")
        if not self.kill_backend:
            pytest.skip("the case does not declare its backend durable across a SIGKILL (knob 'kill_backend')")
        if env.endpoint.source not in ("native", "docker"):
            pytest.skip(f"the launcher did not start this backend ({env.endpoint.source}); it kills only its own")
        return env.endpoint.backend

    def record_reliability(self, scenario: str, figures: Mapping[str, Any]) -> None:
        """Put a scenario's figures (messages sent/delivered/duplicated/lost, recovery seconds, ...)
        into the report's ``reliability`` section, and note them in the run's output."""
        node = getattr(self, "_blockyard_node", None)
        if node is not None:
            node.user_properties.append((RELIABILITY_PROPERTY, {"scenario": scenario, **figures}))
        self.note(f"{scenario}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))

    @contextlib.asynccontextmanager
    async def through_fault_proxy(self, env: SuiteEnv) -> AsyncIterator[tuple[FaultProxy, Component]]:
        """A fault proxy in front of the backend and an initialised component routed through it
        (the case's YAML substituted with the proxied endpoint); skips without knob ``network_faults``.

        The proxy's probe is :meth:`fault_probe` on that component.
        """
        if env.endpoint is None:
            pytest.skip("an embedded component has no network path to break")
        if not self.network_faults:
            pytest.skip(
                "the case does not let the kit route its component through the fault proxy (knob 'network_faults')"
            )
        ports = proxy_ports(env.endpoint)
        if ports is None and self.advertised_address:
            pytest.skip(
                f"{NOT_RUN}the client follows the address {env.endpoint.backend!r} advertises, and this backend "
                f"advertises no address for the kit's proxy (param {PROXY_PORT_PARAM!r}; knob 'advertised_address')"
            )
        listen, upstream = ports if ports is not None else (0, env.endpoint.port)
        async with FaultProxy(upstream, port=listen, probe_timeout=self.operation_timeout + 1) as proxy:
            endpoint = proxied(env.endpoint, proxy)
            text = None
            if self.case is not None:
                where = {"run_id": env.run_id, "tmpdir": str(env.tmpdir), "case_dir": self.case.case_dir}
                text = substitute(self.case.component, endpoint=endpoint, source=self.case.source, **where)
            comp = await self.create_component(dataclasses.replace(env, endpoint=endpoint, component_yaml=text))
            await comp.init()
            proxy.probe = lambda: self.fault_probe(comp)
            try:
                yield proxy, comp
            finally:
                if proxy.is_cut:
                    await proxy.restore(within=None)
                await comp.close()

    @contextlib.asynccontextmanager
    async def stall_target(self, component: Component) -> AsyncIterator[Component]:
        """What the stall test drives: ``component``, or with knob ``stall_metadata`` an initialised
        component of its class given that metadata over its own (closed afterwards). Skips without
        knob ``stall_backend``."""
        if not self.stall_backend:
            pytest.skip("the case supplies no way to stall its backend (knob 'stall_backend')")
        if not self.stall_metadata:
            yield component
            return
        own = type(component)({**given_properties(component), **self.stall_metadata}, name=component.name)
        await own.init()
        try:
            yield own
        finally:
            await own.close()

    @contextlib.asynccontextmanager
    async def stalled_backend(self, env: SuiteEnv, component: Component) -> AsyncIterator[None]:
        """The backend stalled for ``component`` while the context lasts, by the function knob
        ``stall_backend`` names; skips without the knob, fails when it names nothing importable."""
        if not self.stall_backend:
            pytest.skip("the case supplies no way to stall its backend (knob 'stall_backend')")
        try:
            stall = import_named(self.stall_backend)
        except (ImportError, AttributeError, ValueError) as exc:
            pytest.fail(f"knob stall_backend: cannot import {self.stall_backend!r} ({exc})", pytrace=False)
        async with stall(component, env.endpoint):
            yield

    async def timed_failure(
        self, operation: Awaitable[Any], *, during: str = "a network cut"
    ) -> tuple[float, BaseException | None]:
        """Run ``operation`` (bounded by ``operation_timeout`` + 5 s): (seconds taken, the error or None).

        :raises AssertionError: the operation hung past the bound (``during`` names the fault).
        """
        started = time.monotonic()
        try:
            await asyncio.wait_for(operation, self.operation_timeout + 5)
        except TimeoutError:
            raise AssertionError(
                f"an operation hung for {self.operation_timeout + 5:g}s during {during} "
                f"(operation_timeout is {self.operation_timeout:g}s): it must fail, not hang"
            ) from None
        except Exception as exc:  # the caller judges the error
            return time.monotonic() - started, exc
        return time.monotonic() - started, None

    async def recovery_seconds(self, comp: Component) -> float:
        """Seconds until :meth:`fault_probe` succeeds again, retrying; fails after ``recovery_within``."""
        started = time.monotonic()
        last: BaseException | None = None
        while time.monotonic() - started < self.recovery_within:
            try:
                await asyncio.wait_for(self.fault_probe(comp), max(0.1, self.recovery_within))
                return time.monotonic() - started
            except Exception as exc:  # retried until the deadline
                last = exc
                await asyncio.sleep(0.1)
        raise AssertionError(
            f"no recovery within {self.recovery_within:g}s after the fault ended (last error: "
            f"{type(last).__name__}: {last})"
        )

    # -- fixtures ----------------------------------------------------------------------------

    @pytest.fixture(scope="class")
    @classmethod
    def suite_env(cls, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SuiteEnv]:
        """Resolve the backend once per suite class; a missing backend skips as "not run".

        The case's ``env`` is set for the suite class's tests and put back as it was afterwards;
        its ``setup`` runs before them and the cleanup it returns after them.
        """
        case = cls.case
        run_id = fresh_id()
        tmpdir = Path(tempfile.mkdtemp(prefix=f"blockyard-{run_id}-", dir=tmp_path_factory.getbasetemp()))
        if case is None:
            endpoint = None
            if cls.backend is not None:
                endpoint = _resolve_backend(Case("subclass", "", "x.y", backend=cls.backend))
            yield SuiteEnv(run_id, tmpdir, None, endpoint)
            return
        endpoint = _resolve_backend(case)
        where = {"run_id": run_id, "tmpdir": str(tmpdir), "source": case.source, "case_dir": case.case_dir}
        text = substitute(case.component, endpoint=endpoint, **where)
        knobs = substitute_knobs(case.knobs, endpoint=endpoint, **where)
        with _environment(substitute_knobs(case.env, endpoint=endpoint, **where)):
            cleanup = run_case_setup(case, endpoint, run_id)
            try:
                yield SuiteEnv(run_id, tmpdir, case, endpoint, text, knobs)
            finally:
                if cleanup is not None:
                    cleanup()

    @pytest.fixture(autouse=True)
    def _suite_setup(self, request: pytest.FixtureRequest, suite_env: SuiteEnv) -> None:
        for name, value in suite_env.knobs.items():
            setattr(self, name, value)
        self._blockyard_node = request.node
        request.node.user_properties.append((CASE_PROPERTY, self.case.id if self.case else type(self).__name__))
        request.node.user_properties.append((BACKEND_PROPERTY, suite_env.flavour))

    @pytest_asyncio.fixture
    async def component(self, request: pytest.FixtureRequest, suite_env: SuiteEnv) -> AsyncIterator[Component]:
        """A freshly created and initialised component, closed after the test.

        A test marked with features the component does not declare is skipped as "not declared".
        """
        comp = await self.create_component(suite_env)
        await comp.init()
        try:
            mark = request.node.get_closest_marker(FEATURE_MARK)
            missing = [f for f in (mark.args if mark else ()) if f not in self.declared(comp)]
            if missing:
                pytest.skip(f"{NOT_DECLARED}{comp.type or type(comp).__name__} does not declare {', '.join(missing)}")
            yield comp
        finally:
            await comp.close()

    # -- network faults ----------------------------------------------------------------------

    @capability("fault")
    async def test_fails_fast_during_a_network_cut_and_recovers(self, suite_env: SuiteEnv) -> None:
        """During a verified cut (connections black-holed, nothing reset) every operation fails within
        ``operation_timeout`` + 1 s with BackendUnavailableError (typed, retryable), never hangs; after
        the cut the same component works again within ``recovery_within`` seconds (knob ``network_faults``)."""
        async with self.through_fault_proxy(suite_env) as (proxy, comp):
            await self.fault_probe(comp)
            await proxy.cut()
            outcomes = await asyncio.gather(
                *(self.timed_failure(self.fault_probe(comp)) for _ in range(self.fault_operations))
            )
            for took, error in outcomes:
                assert error is not None, "an operation succeeded through a verified network cut"
                assert isinstance(error, BackendUnavailableError), (
                    f"during a network cut an operation raised {type(error).__name__}: {error}; "
                    "expected BackendUnavailableError (typed, retryable)"
                )
                assert took <= self.operation_timeout + 1, (
                    f"an operation took {took:.1f}s to fail during a network cut; operation_timeout is "
                    f"{self.operation_timeout:g}s"
                )
            await proxy.restore(within=None)
            recovered = await self.recovery_seconds(comp)
        self.record_reliability(
            "network cut",
            {
                "operations": len(outcomes),
                "slowest_failure_s": round(max(t for t, _ in outcomes), 2),
                "recovery_s": round(recovered, 2),
            },
        )

    @capability("fault")
    async def test_latency_and_stalls_slow_operations_only(self, suite_env: SuiteEnv) -> None:
        """With 200 ms of added latency (verified) and a fifth of the packets stalled 300 ms, every
        operation still succeeds within ``operation_timeout`` (knob ``network_faults``)."""
        async with self.through_fault_proxy(suite_env) as (proxy, comp):
            await self.fault_probe(comp)
            await proxy.delay(0.2, verify=False)  # verified below: no operation is faster than the latency
            proxy.stalls(0.2, 0.3)
            times = []
            for _ in range(10):
                took, error = await self.timed_failure(self.fault_probe(comp))
                assert error is None, f"an operation failed under latency and stalls: {type(error).__name__}: {error}"
                assert took <= self.operation_timeout, f"an operation took {took:.1f}s under 200 ms latency"
                times.append(took)
            proxy.stalls(0)
            await proxy.delay(0)
        assert min(times) >= 0.2, f"the added latency did not take effect: an operation took {min(times):.3f}s"
        times.sort()
        self.record_reliability(
            "latency 200ms + 20% stalls",
            {
                "operations": len(times),
                "p50_ms": round(times[len(times) // 2] * 1000),
                "max_ms": round(times[-1] * 1000),
            },
        )

    # -- lifecycle tests ----------------------------------------------------------------------

    @capability("lifecycle")
    async def test_ping(self, component: Component) -> None:
        """``ping()`` of an initialised component succeeds, or raises NotSupportedError (no health check)."""
        try:
            await component.ping()
        except NotSupportedError:
            return
        except Exception as exc:
            raise AssertionError(f"ping() of an initialised component failed: {type(exc).__name__}: {exc}") from exc

    @capability("lifecycle")
    async def test_close_twice_then_use_raises_closed(self, suite_env: SuiteEnv) -> None:
        """``close()`` twice is fine; an operation after close raises ComponentClosedError."""
        comp = await self.create_component(suite_env)
        await comp.init()
        await self.exercise(comp)
        await comp.close()
        await comp.close()
        assert comp.closed
        with pytest.raises(ComponentClosedError):
            await self.exercise(comp)
        with pytest.raises(ComponentClosedError):
            await comp.init()

    @capability("lifecycle")
    async def test_use_before_init_raises_closed(self, suite_env: SuiteEnv) -> None:
        """An operation before ``init()`` raises ComponentClosedError; close before init is fine."""
        comp = await self.create_component(suite_env)
        with pytest.raises(ComponentClosedError):
            await self.exercise(comp)
        await comp.close()

    @capability("lifecycle")
    async def test_missing_required_field_is_named(self, component: Component) -> None:
        """Leaving out each required metadata field fails construction, naming that field."""
        cls = type(component)
        model = type(component.meta)
        required = {n: i for n, i in model.model_fields.items() if i.is_required()}
        if not required:
            pytest.skip(f"{model.__name__} has no required field")
        given = given_properties(component)
        for name, info in required.items():
            label = info.alias or to_camel(name)
            props = {k: v for k, v in given.items() if k.lower() not in {label.lower(), name.lower()}}
            with pytest.raises(ComponentConfigError) as raised:
                cls(props, name=component.name)
            text = str(raised.value)
            assert label.lower() in text.lower() or name in text, f"error does not name {label!r}: {text}"

    @capability("lifecycle")
    async def test_invalid_metadata_is_named(self, component: Component) -> None:
        """Each change in ``invalid_metadata``, applied to the given metadata, fails construction or
        ``init()`` with a ComponentConfigError naming the changed property (never another error), and
        the refused component leaves no thread of its own running."""
        if not self.invalid_metadata:
            pytest.skip("the case names no invalid_metadata")
        cls, given = type(component), given_properties(component)
        for change in self.invalid_metadata:
            threads = set(threading.enumerate())
            try:
                other = cls({**given, **change}, name=component.name)
                try:
                    await other.init()
                finally:
                    await other.close()
            except ComponentConfigError as exc:
                text = str(exc).lower()
            except Exception as exc:
                raise AssertionError(
                    f"metadata {sorted(change)} refused with {type(exc).__name__}, not a ComponentConfigError"
                ) from None
            else:
                raise AssertionError(f"invalid metadata {sorted(change)} was accepted")
            assert any(name.lower() in text for name in change), f"the error names none of {sorted(change)}: {text}"
            left = await threads_left(threads, within=5.0)
            assert not left, f"metadata {sorted(change)} was refused, but the component left threads running: {left}"

    @capability("lifecycle")
    async def test_sensitive_values_hidden(
        self, component: Component, suite_env: SuiteEnv, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Sensitive (SecretStr) metadata values never appear in reprs, errors or logs."""
        secrets = [s for s in secret_values(component) if len(s) >= 4]
        if not secrets:
            pytest.skip("no sensitive metadata value (of 4+ characters) is set for this component")
        caplog.set_level(logging.DEBUG)
        texts = [repr(component), str(component), repr(component.meta), str(component.meta)]
        given = given_properties(component)
        cls = type(component)
        probes: list[dict[str, Any]] = [{**given, "blockyardUnknownField": "x"}]
        model = type(component.meta)
        for name, info in model.model_fields.items():
            label = info.alias or to_camel(name)
            if info.is_required():
                probes.append({k: v for k, v in given.items() if k != label})
            elif label not in given:
                probes.append({**given, label: {"not": ["a", "valid", "value"]}})
        for props in probes:
            try:
                other = cls(props, name=component.name)
                texts.append(repr(other.meta))
            except ComponentConfigError as exc:
                texts.append(str(exc))
        second = await self.create_component(suite_env)
        await second.init()
        await self.exercise(second)
        await second.close()
        texts.append(caplog.text)
        for secret in secrets:
            for text in texts:
                assert secret not in text, "a sensitive metadata value leaked into a repr, an error or the log"

    @capability("lifecycle")
    async def test_registered_spec_matches_class(self, component: Component) -> None:
        """The plugin's ComponentSpec declares exactly the class's features (and operations)."""
        from blockyard.registry import get_registry

        cls = type(component)
        try:
            spec = get_registry().spec(cls.type)
        except ComponentConfigError:
            pytest.skip(f"{cls.type or cls.__name__} is not registered through an entry point")
        if get_registry().resolve(cls.type) is not cls:
            pytest.skip(f"{cls.__name__} is not the registered class for {cls.type}")
        assert set(spec.features) == {str(f) for f in cls.features}, "ComponentSpec.features differ from the class"
        operations = getattr(cls, "operations", None)
        if operations is not None and spec.operations:
            assert set(spec.operations) == set(operations), "ComponentSpec.operations differ from the class"
