"""``bindings.cron``: an input binding that fires on a schedule.

``schedule`` (required) is one of:

- a cron expression of 5 fields (``minute hour day-of-month month day-of-week``) or 6 fields with
  seconds first (``*/10 * * * * *``), as Dapr's parser takes them;
- a descriptor: ``@yearly`` (``@annually``), ``@monthly``, ``@weekly``, ``@daily`` (``@midnight``),
  ``@hourly``;
- ``@every <duration>`` with a Go duration (``@every 15s``, ``@every 1h30m``; sub-second
  durations are allowed).

Expressions are evaluated in the machine's local time zone. Each firing calls the handler with
``data=None`` and metadata ``timeZone`` (the zone's name) and ``readTimeUTC`` (RFC 3339). Firings
never overlap: a firing that comes due while the handler still runs is skipped, and the next one
is computed when the handler returns. The handler's result is ignored (there is nothing to
redeliver). Cancelling the subscription (or closing the component) stops it at once.

A bad schedule raises :class:`~blockyard.errors.ComponentConfigError` naming ``schedule`` when the
component is constructed.

Example::

    import asyncio
    from blockyard_local.bindings_cron import CronBinding

    async def main() -> None:
        async with CronBinding({"schedule": "@every 1s"}) as cron:
            fired = asyncio.Event()

            async def tick(event):
                print(event.metadata["readTimeUTC"])
                fired.set()

            await cron.read(tick)
            await fired.wait()

    asyncio.run(main())
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from croniter import croniter
from pydantic import field_validator

from blockyard.bindings import BindingEvent, DeliverEvent, InputBinding
from blockyard.metadata import ComponentMetadata, meta, parse_duration
from blockyard.subscription import Stopper

__all__ = ["CronBinding", "CronMetadata", "Schedule"]

_DESCRIPTORS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


class Schedule:
    """A parsed schedule: ``next_after(t)`` gives the next firing strictly after ``t``."""

    def __init__(self, text: str) -> None:
        """:raises ValueError: with the accepted forms (never echoing the input)."""
        spec = " ".join(text.split())
        self.text = spec
        self.every: timedelta | None = None
        self.expression: str | None = None
        self.with_seconds = False
        if spec.lower().startswith("@every"):
            try:
                every = parse_duration(spec[len("@every") :].strip())
            except ValueError:
                raise ValueError("'@every' needs a positive duration such as '@every 15s' or '@every 1h30m'") from None
            if every <= timedelta(0):
                raise ValueError("'@every' needs a positive duration such as '@every 15s' or '@every 1h30m'")
            self.every = every
            return
        expression = _DESCRIPTORS.get(spec.lower(), spec)
        fields = expression.split(" ")
        if spec.startswith("@") and spec.lower() not in _DESCRIPTORS:
            raise ValueError(f"unknown descriptor; expected '@every <duration>' or one of {', '.join(_DESCRIPTORS)}")
        if len(fields) not in (5, 6):
            raise ValueError(
                "expected a cron expression of 5 fields, or 6 with seconds first, "
                "or a descriptor such as '@daily' or '@every 15s'"
            )
        self.with_seconds = len(fields) == 6
        try:
            croniter(expression, datetime.now().astimezone(), second_at_beginning=self.with_seconds)
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"invalid cron expression ({type(exc).__name__})") from None
        self.expression = expression

    def next_after(self, now: datetime) -> datetime:
        """The next firing time after ``now`` (an aware datetime)."""
        if self.every is not None:
            return now + self.every
        assert self.expression is not None
        nxt: datetime = croniter(self.expression, now, second_at_beginning=self.with_seconds).get_next(datetime)
        return nxt


class CronMetadata(ComponentMetadata):
    """Metadata of ``bindings.cron``."""

    schedule: str = meta(
        description="When to fire: a cron expression (5 fields, or 6 with seconds first), "
        "'@every <duration>' or a descriptor such as '@daily'.",
        example="@every 15m",
    )

    @field_validator("schedule")
    @classmethod
    def _check_schedule(cls, value: str) -> str:
        Schedule(value)
        return value


class CronBinding(InputBinding):
    """The ``bindings.cron`` input binding. See the module docstring."""

    type: ClassVar[str] = "bindings.cron"
    Metadata = CronMetadata

    def __init__(
        self, metadata: Mapping[str, Any] | ComponentMetadata | None = None, *, name: str | None = None
    ) -> None:
        super().__init__(metadata, name=name)
        self.schedule = Schedule(self.meta.schedule)

    async def _read(self, deliver: DeliverEvent) -> Stopper:
        task = asyncio.get_running_loop().create_task(self._fire_forever(deliver))

        async def stop() -> None:
            if task is asyncio.current_task():
                return
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        return stop

    async def _fire_forever(self, deliver: DeliverEvent) -> None:
        ids = itertools.count(1)
        due = self.schedule.next_after(datetime.now().astimezone())
        while True:
            await asyncio.sleep(max(0.0, (due - datetime.now().astimezone()).total_seconds()))
            fired = datetime.now().astimezone()
            metadata = {
                "timeZone": fired.tzname() or time.tzname[0],
                "readTimeUTC": fired.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            }
            await deliver(BindingEvent(None, metadata, None, f"{self.name}-{next(ids)}"))
            now = datetime.now().astimezone()
            nxt = self.schedule.next_after(due)
            due = nxt if nxt > now else self.schedule.next_after(now)  # never overlap; skip missed firings
