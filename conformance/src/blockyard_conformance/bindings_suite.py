"""The bindings suite: operation-driven, as in Dapr, with get/delete semantics checked.

Knobs: ``operations`` (the operations to exercise, e.g. ``[create, get, list, delete]``; each
must be declared by the binding), ``output_metadata`` / ``output_data`` (sent with every
invocation), ``list_metadata`` (sent with ``list`` instead, when listing takes other metadata),
``read`` (exercise the input side), ``roundtrip`` (an event read must carry the data ``create``
wrote, for brokers), ``input_timeout``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import pytest

from blockyard.bindings import BindingEvent, BindingResponse, InputBinding, OutputBinding, encode_binding_data
from blockyard.component import Component
from blockyard.errors import NotSupportedError
from blockyard_conformance.base_suite import ComponentSuite, SuiteEnv
from blockyard_conformance.marks import capability
from blockyard_conformance.support import Inbox

__all__ = ["BindingSuite"]

_UNDECLARED = "blockyard-undeclared-operation"


class BindingSuite(ComponentSuite):
    """Conformance tests of an :class:`~blockyard.bindings.OutputBinding` and/or :class:`InputBinding`."""

    kind: ClassVar[str] = "bindings"
    operations: ClassVar[list[str]] = []
    output_metadata: ClassVar[dict[str, str]] = {}
    output_data: Any = '{"id": 1, "message": "blockyard conformance"}'
    list_metadata: ClassVar[dict[str, str] | None] = None
    read: bool = False
    roundtrip: bool = True
    input_timeout: float = 30.0

    async def exercise(self, component: Component) -> None:
        if isinstance(component, OutputBinding):
            try:
                await component.invoke(_UNDECLARED)
            except NotSupportedError:
                pass
        elif isinstance(component, InputBinding):

            async def ignore(event: BindingEvent) -> None:
                return None

            await (await component.read(ignore)).cancel()
        else:  # pragma: no cover - not a binding
            raise AssertionError(f"{type(component).__name__} is neither an input nor an output binding")

    def exercised(self) -> set[str]:
        """The operations this case exercises (lower-case)."""
        return {op.lower() for op in self.operations} - {"operations", "read"}

    def output(self, component: Component) -> OutputBinding:
        """The component as an output binding, or skip when the case exercises no operation."""
        if not self.exercised():
            pytest.skip("no output operation is exercised by this case (knob 'operations')")
        assert isinstance(component, OutputBinding), f"{type(component).__name__} is not an OutputBinding"
        return component

    def needs(self, *ops: str) -> None:
        """Skip unless the case exercises every one of ``ops``."""
        missing = [op for op in ops if op not in self.exercised()]
        if missing:
            pytest.skip(f"the case does not exercise {', '.join(missing)} (knob 'operations')")

    async def fault_probe(self, component: Component) -> None:
        """The first of ``operations`` (with ``output_data``), which reaches the backend; ``ping`` for
        a binding with none."""
        if isinstance(component, OutputBinding) and self.operations:
            await self.invoke(component, self.operations[0], self.output_data)
        else:
            await component.ping()

    async def invoke(self, binding: OutputBinding, operation: str, data: Any = None) -> Any:
        """Invoke ``operation`` with the case's output metadata."""
        return await binding.invoke(operation, data, metadata=dict(self.output_metadata))

    @capability("operations")
    async def test_exercised_operations_are_declared(self, component: Component) -> None:
        """Every operation the case exercises is declared by the binding; undeclared ones raise."""
        binding = self.output(component)
        missing = self.exercised() - set(binding.operations)
        assert not missing, f"exercised but not declared: {', '.join(sorted(missing))}"
        with pytest.raises(NotSupportedError):
            await binding.invoke(_UNDECLARED)

    @capability("operations")
    async def test_create(self, component: Component) -> None:
        """``create`` with the case's data and metadata returns a response; with ``get`` exercised, what
        it wrote is readable at once."""
        binding = self.output(component)
        self.needs("create")
        response = await self.invoke(binding, "create", self.output_data)
        assert isinstance(response, BindingResponse), (
            f"create returned {type(response).__name__}, not a BindingResponse"
        )
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in response.metadata.items()), (
            "response metadata must map strings to strings"
        )
        if "get" in self.exercised():
            expected = encode_binding_data(self.output_data, component=binding.name, operation="create")
            assert (await self.invoke(binding, "get")).data == expected, "create did not store the data it was given"

    @capability("operations")
    async def test_get_returns_created_data(self, component: Component) -> None:
        """``get`` after ``create`` returns the data written."""
        binding = self.output(component)
        self.needs("create", "get")
        await self.invoke(binding, "create", self.output_data)
        response = await self.invoke(binding, "get")
        expected = encode_binding_data(self.output_data, component=binding.name, operation="get")
        assert response.data == expected, "get must return what create wrote"

    @capability("operations")
    async def test_list(self, component: Component) -> None:
        """``list`` returns data; with ``create`` exercised, the listing names what was created (one of
        the case's output metadata values, e.g. its ``fileName``, appears in it)."""
        binding = self.output(component)
        self.needs("list")
        if "create" in self.exercised():
            await self.invoke(binding, "create", self.output_data)
        metadata = dict(self.output_metadata if self.list_metadata is None else self.list_metadata)
        response = await binding.invoke("list", metadata=metadata)
        assert response.data is not None, "list returned no data"
        if "create" in self.exercised() and self.output_metadata:
            listing = response.data.decode(errors="replace")
            names = sorted(self.output_metadata.values())
            assert any(name in listing for name in names), f"the listing names none of {names}: {listing[:200]!r}"

    @capability("operations")
    async def test_delete(self, component: Component) -> None:
        """``delete`` succeeds; a ``get`` afterwards returns no data."""
        binding = self.output(component)
        self.needs("delete")
        if "create" in self.exercised():
            await self.invoke(binding, "create", self.output_data)
        await self.invoke(binding, "delete")
        if {"create", "get"} <= self.exercised():
            response = await self.invoke(binding, "get")
            assert response.data is None, "get after delete must return no data"

    @capability("input")
    async def test_read_delivers_events(self, component: Component, suite_env: SuiteEnv) -> None:
        """The input side delivers an event; with ``create`` exercised, the data written comes back.

        After ``cancel()`` the handler is not called again: a second reader, still reading, proves
        that events went on (two more of them) while the cancelled one stayed silent.
        """
        if not self.read:
            pytest.skip("the case does not read (knob 'read')")
        reader = await self.create_component(suite_env)
        control = await self.create_component(suite_env)
        assert isinstance(reader, InputBinding), f"{type(reader).__name__} is not an InputBinding"
        assert isinstance(control, InputBinding)
        await reader.init()
        await control.init()
        inbox, later = Inbox(), Inbox()

        async def handler(event: BindingEvent) -> None:
            inbox.add(event)

        async def control_handler(event: BindingEvent) -> None:
            later.add(event)

        roundtrip = self.roundtrip and "create" in self.exercised()
        expected = encode_binding_data(self.output_data, component=reader.name, operation="create")

        def arrived(box: Inbox, count: int) -> Callable[[], bool]:
            if not roundtrip:
                return lambda: len(box.items) >= count
            return lambda: sum(e.data == expected for e in box.items) >= count

        try:
            sub = await reader.read(handler)
            if roundtrip:
                await self.invoke(self.output(component), "create", self.output_data)
            await inbox.wait_for(arrived(inbox, 1), within=self.input_timeout, what="an input event")
            control_sub = await control.read(control_handler)
            await sub.cancel()
            count = len(inbox.items)
            later.items.clear()
            for _ in range(2):
                if roundtrip:
                    await self.invoke(self.output(component), "create", self.output_data)
            await later.wait_for(arrived(later, 2), within=self.input_timeout * 2, what="events after the cancel")
            await control_sub.cancel()
            assert len(inbox.items) == count, "the handler was called after the reader was cancelled"
        finally:
            await reader.close()
            await control.close()
