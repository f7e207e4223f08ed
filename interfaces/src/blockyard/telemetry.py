"""OpenTelemetry for every component operation, through ``opentelemetry-api`` only.

Blockyard depends on the API, never on the SDK: an application that configures an SDK (a tracer
provider, a meter provider) gets, for every public operation of every component:

- one span named ``<kind>.<operation>`` (``state.get``, ``pubsub.publish``, ``secretstores.get_secret``)
  of kind ``CLIENT`` (``PRODUCER`` for publishing) with the attributes ``blockyard.component``
  (its name), ``blockyard.component.type`` (``state.redis``), ``blockyard.kind`` (``state``),
  ``blockyard.operation`` and ``blockyard.key_count``; pub/sub spans also carry
  ``messaging.destination.name`` (the topic). Keys, values and secret names are never recorded.
  A failed operation sets the span's status to ``ERROR`` with the error's class name and the
  attribute ``error.type``; the error's message is not recorded (it may name a key).
- the metrics ``blockyard.operations`` (counter), ``blockyard.operation.duration`` (histogram,
  seconds) and ``blockyard.errors`` (counter, with ``error.type``), each with the component, its
  type, its kind and the operation as attributes.
- trace context carried through pub/sub: ``publish`` / ``bulk_publish`` inject the publish span's
  context into each message's metadata with the global propagator (W3C ``traceparent`` /
  ``tracestate`` by default), and a subscriber's handler runs in a ``CONSUMER`` span
  ``pubsub.deliver`` whose parent is extracted from the received message.

Instrumentation sits in one place, :meth:`blockyard.component.Component._call_hook`, where every
public method calls its plugin hook; validation errors raised before the hook is called are not
recorded. Global providers are picked up whenever they are set, before or after components start.
With no SDK configured nothing is recorded and an operation pays one attribute read
(``bench/local_bench.py`` prints the difference). ``BLOCKYARD_TELEMETRY=0`` in the environment, or
``configure(enabled=False)``, switches the instrumentation off altogether; :func:`configure` also
takes providers other than the global ones::

    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    trace.set_tracer_provider(provider)

    async with blockyard.open("components/") as yard:
        await yard.state("statestore").get("order-1")    # one span "state.get"
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from opentelemetry.metrics import Counter, Histogram, MeterProvider
    from opentelemetry.trace import Tracer, TracerProvider

    from blockyard.component import Component
    from blockyard.pubsub import Message

__all__ = [
    "ENV_SWITCH",
    "Telemetry",
    "active",
    "enabled",
    "Outgoing",
    "configure",
    "inject",
    "message_carrier",
]

ENV_SWITCH = "BLOCKYARD_TELEMETRY"
"""``0`` / ``false`` / ``off`` in this environment variable switches instrumentation off."""

_T = TypeVar("_T")
_PRODUCING = frozenset({"publish", "bulk_publish"})


class Outgoing(Protocol):
    """Something sent (a publish op); telemetry hands it the trace context to carry."""

    def add_trace_context(self, carrier: Mapping[str, str]) -> None: ...


def message_carrier(message: Message) -> Mapping[str, str]:
    """Where a received message carries its producer's trace context (``traceparent``/``tracestate``):
    its CloudEvent's attributes, else its metadata (see :attr:`Message.traceparent`)."""
    carrier = {"traceparent": message.traceparent, "tracestate": message.tracestate}
    return {k: v for k, v in carrier.items() if v}


class Telemetry:
    """The tracer, the instruments and the per-call recording for one pair of providers.

    :attr:`live` is true once either provider is a real one (not the API's proxy or no-op); only
    then is it :data:`active`. It is re-read by :meth:`refresh`, which the module calls when the
    instrumentation is armed and whenever the API sets a global provider.
    """

    def __init__(
        self, tracer_provider: TracerProvider | None = None, meter_provider: MeterProvider | None = None
    ) -> None:
        self._tracer_provider = tracer_provider
        self._meter_provider = meter_provider
        self._tracer: Tracer | None = None
        self._operations: Counter | None = None
        self._errors: Counter | None = None
        self._duration: Histogram | None = None
        self._tracing = False
        self._metering = False
        self.live = False
        """True once a real tracer or meter provider is in use: only then is anything recorded."""

    def refresh(self) -> bool:
        """Look at the providers again; set up the instruments the first time one is real. Returns :attr:`live`."""
        from opentelemetry import metrics, trace

        tp = self._tracer_provider if self._tracer_provider is not None else trace.get_tracer_provider()
        mp = self._meter_provider if self._meter_provider is not None else metrics.get_meter_provider()
        off = _placeholder_providers()
        self._tracing, self._metering = not isinstance(tp, off), not isinstance(mp, off)
        if (self._tracing or self._metering) and self._tracer is None:
            self._setup()
        self.live = self._tracing or self._metering
        return self.live

    def _setup(self) -> None:
        from opentelemetry import metrics, trace

        from blockyard import __version__

        self._tracer = trace.get_tracer("blockyard", __version__, tracer_provider=self._tracer_provider)
        meter = metrics.get_meter("blockyard", __version__, meter_provider=self._meter_provider)
        self._operations = meter.create_counter(
            "blockyard.operations", unit="{operation}", description="Component operations called"
        )
        self._errors = meter.create_counter(
            "blockyard.errors", unit="{error}", description="Component operations that failed, by error type"
        )
        self._duration = meter.create_histogram(
            "blockyard.operation.duration", unit="s", description="Duration of component operations"
        )

    def attributes(self, component: Component) -> dict[str, str]:
        """The metric attributes naming ``component`` (cached on it)."""
        attrs: dict[str, str] | None = component.__dict__.get("_telemetry_attributes")
        if attrs is None:
            attrs = {
                "blockyard.component": component.name,
                "blockyard.component.type": component.type or type(component).__name__,
                "blockyard.kind": str(component.kind),
            }
            component.__dict__["_telemetry_attributes"] = attrs
        return attrs

    async def run(
        self,
        component: Component,
        operation: str,
        key: str | None,
        call: Awaitable[_T],
        count: int,
        outgoing: Iterable[Outgoing],
    ) -> _T:
        """Await ``call`` (a plugin hook) in a span, recording the metrics; errors are wrapped as by
        :meth:`Component._wrap` and re-raised. Call it only when :attr:`live`."""
        tracing = self._tracing
        assert self._operations is not None
        assert self._errors is not None
        assert self._duration is not None
        base = self.attributes(component)
        attrs = {**base, "blockyard.operation": operation}
        token = None
        span = None
        if tracing:
            from opentelemetry import context, trace

            assert self._tracer is not None
            span_attrs: dict[str, str | int] = {**attrs, "blockyard.key_count": count}
            if base["blockyard.kind"] == "pubsub" and key is not None:
                span_attrs["messaging.destination.name"] = key
            kind = trace.SpanKind.PRODUCER if operation in _PRODUCING else trace.SpanKind.CLIENT
            span = self._tracer.start_span(f"{base['blockyard.kind']}.{operation}", kind=kind, attributes=span_attrs)
            token = context.attach(trace.set_span_in_context(span))
            carrier = inject({})
            for op in outgoing:
                op.add_trace_context(carrier)
        start = time.perf_counter()
        try:
            return await call
        except Exception as exc:
            err = component._wrap(exc, operation, key)
            error_type = type(err).__name__
            self._errors.add(1, {**attrs, "error.type": error_type})
            if span is not None:
                from opentelemetry.trace import Status, StatusCode

                span.set_attribute("error.type", error_type)
                span.set_status(Status(StatusCode.ERROR, error_type))
            raise err
        finally:
            self._duration.record(time.perf_counter() - start, attrs)
            self._operations.add(1, attrs)
            if span is not None:
                from opentelemetry import context

                span.end()
                context.detach(token)  # type: ignore[arg-type]

    def traced_handler(
        self, component: Component, topic: str, handler: Callable[[Message], Awaitable[_T]]
    ) -> Callable[[Message], Awaitable[_T]]:
        """``handler`` run in a ``CONSUMER`` span whose parent is the trace context the message carries."""

        async def run(message: Message) -> _T:
            if not self._tracing:
                return await handler(message)
            from opentelemetry import context, propagate, trace

            assert self._tracer is not None
            parent = propagate.extract(message_carrier(message))
            attrs: dict[str, str | int] = {
                **self.attributes(component),
                "blockyard.operation": "deliver",
                "blockyard.key_count": 1,
                "messaging.destination.name": topic,
            }
            span = self._tracer.start_span(
                "pubsub.deliver", context=parent, kind=trace.SpanKind.CONSUMER, attributes=attrs
            )
            token = context.attach(trace.set_span_in_context(span, parent))
            try:
                result = await handler(message)
            except Exception as exc:
                from opentelemetry.trace import Status, StatusCode

                span.set_attribute("error.type", type(exc).__name__)
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                raise
            finally:
                span.end()
                context.detach(token)
            return result

        return run


def _placeholder_providers() -> tuple[type, ...]:
    """The API's stand-in provider classes: in use, nothing is configured to record to."""
    from opentelemetry import metrics, trace

    internal = sys.modules.get("opentelemetry.metrics._internal")
    proxy_meter = getattr(internal, "_ProxyMeterProvider", None)
    off: tuple[type, ...] = (trace.ProxyTracerProvider, trace.NoOpTracerProvider, metrics.NoOpMeterProvider)
    return (*off, proxy_meter) if isinstance(proxy_meter, type) else off


def _watch_global_providers(changed: Callable[[], None]) -> None:
    """Call ``changed`` whenever the API sets a global tracer or meter provider.

    The API sets each global provider once, through a ``Once`` guard (``set_tracer_provider``,
    ``set_meter_provider`` and the ``OTEL_PYTHON_*_PROVIDER`` environment variables all go through
    it) and offers no notification; the guards' ``do_once`` is wrapped to report a provider set.

    :raises LookupError: the guards are not where this API version keeps them.
    """
    from opentelemetry import trace

    internal = sys.modules.get("opentelemetry.metrics._internal")
    guards = [getattr(trace, "_TRACER_PROVIDER_SET_ONCE", None), getattr(internal, "_METER_PROVIDER_SET_ONCE", None)]
    if not all(callable(getattr(g, "do_once", None)) for g in guards):
        raise LookupError("the OpenTelemetry API's provider guards were not found")
    for guard in guards:
        do_once = guard.do_once  # type: ignore[union-attr]

        def reporting(func: Callable[[], None], do_once: Callable[[Callable[[], None]], bool] = do_once) -> bool:
            ran = do_once(func)
            if ran:
                changed()
            return ran

        guard.do_once = reporting  # type: ignore[union-attr]


def inject(metadata: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``metadata`` with the current trace context added (``traceparent``, ``tracestate``)."""
    from opentelemetry import propagate

    carrier: MutableMapping[str, str] = dict(metadata)
    propagate.inject(carrier)
    return dict(carrier)


def _from_env() -> bool:
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in ("0", "false", "off", "no")


active: Telemetry | None = None
"""The instrumentation recording now, read by every component call: ``None`` while it is switched
off or while no provider is configured, so that an unconfigured process pays one attribute read."""

_standing_by: Telemetry | None = Telemetry() if _from_env() else None
"""The instrumentation that is on, recording or not."""

_armed = False
_watching = False


def arm() -> None:
    """Make :data:`active` follow the providers: look at them now, and again whenever one is set.

    Called when a component starts, so that importing Blockyard does not import OpenTelemetry;
    cheap after the first call. Should the API's guards not be found (see
    :func:`_watch_global_providers`), every call looks again: a provider set later is then picked up
    by the components started after it.
    """
    global _armed, _watching
    if not _armed:
        _armed = True
        try:
            _watch_global_providers(_providers_changed)
            _watching = True
        except LookupError:
            _watching = False
    elif _watching:
        return
    _providers_changed()


def _providers_changed() -> None:
    global active
    observer = _standing_by
    active = observer if observer is not None and observer.refresh() else None


def configure(
    *, enabled: bool = True, tracer_provider: TracerProvider | None = None, meter_provider: MeterProvider | None = None
) -> None:
    """Switch instrumentation on or off for the whole process, and choose its providers.

    By default it is on (unless ``BLOCKYARD_TELEMETRY=0``) and uses the global providers of
    ``opentelemetry.trace`` / ``opentelemetry.metrics``, including ones set later; pass providers to
    use others. Subscriptions started before the call keep the instrumentation they started with.
    """
    global active, _standing_by
    _standing_by = Telemetry(tracer_provider, meter_provider) if enabled else None
    active = None
    if _armed or tracer_provider is not None or meter_provider is not None:
        _providers_changed()


def enabled() -> bool:
    """True when instrumentation is on (recording once a provider is configured)."""
    return _standing_by is not None


def standing_by() -> Telemetry | None:
    """The instrumentation that is on, recording or not (for wrapping long-lived handlers)."""
    return _standing_by
