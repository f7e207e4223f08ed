"""bindings.cron: schedules, firing, no overlap, prompt cancellation."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from local_wait import eventually

from blockyard.bindings import BindingEvent
from blockyard.errors import ComponentConfigError
from blockyard_local.bindings_cron import CronBinding, Schedule


@pytest.mark.parametrize(
    "bad", ["", "* * * *", "* * * * * * *", "61 * * * *", "@every", "@every soon", "@every -5s", "@often", "a b c d e"]
)
def test_bad_schedules(bad: str) -> None:
    with pytest.raises(ComponentConfigError, match="schedule") as info:
        CronBinding({"schedule": bad}, name="cron")
    assert info.value.field == "schedule"


def test_schedule_is_required() -> None:
    with pytest.raises(ComponentConfigError, match="'schedule' is required"):
        CronBinding({})


def test_schedule_forms() -> None:
    at = datetime(2024, 5, 1, 12, 0, 3, tzinfo=UTC)
    assert Schedule("*/10 * * * * *").next_after(at) == at.replace(second=10)
    assert Schedule("30 12 * * *").next_after(at) == at.replace(minute=30, second=0)
    assert Schedule("@daily").next_after(at) == datetime(2024, 5, 2, tzinfo=UTC)
    assert Schedule("@hourly").next_after(at) == at.replace(hour=13, second=0)
    assert Schedule("@every 1h30m").next_after(at) == at + timedelta(minutes=90)
    assert Schedule("@EVERY  15s").next_after(at) == at + timedelta(seconds=15)


async def test_fires_with_metadata_and_stops_promptly() -> None:
    events: list[BindingEvent] = []
    async with CronBinding({"schedule": "@every 50ms"}, name="tick") as cron:
        sub = await cron.read(lambda e: _record(events, e))
        await eventually(lambda: not (len(events) < 3), 5)
        async with asyncio.timeout(1):
            await sub.cancel()
        count = len(events)
        await asyncio.sleep(0.2)
        assert len(events) == count
    event = events[0]
    assert event.data is None
    assert event.metadata["timeZone"]
    fired = datetime.fromisoformat(event.metadata["readTimeUTC"].replace("Z", "+00:00"))
    assert abs((datetime.now(UTC) - fired).total_seconds()) < 10
    assert len({e.id for e in events}) == len(events)


async def _record(events: list[BindingEvent], event: BindingEvent) -> None:
    events.append(event)


async def test_never_overlaps_itself() -> None:
    running = 0
    peak = 0
    calls = 0

    async def slow(event: BindingEvent) -> None:
        nonlocal running, peak, calls
        running += 1
        calls += 1
        peak = max(peak, running)
        await asyncio.sleep(0.15)
        running -= 1

    async with CronBinding({"schedule": "@every 20ms"}) as cron:
        await cron.read(slow)
        await eventually(lambda: not (calls < 3), 5)
    assert peak == 1


async def test_close_stops_every_reader() -> None:
    events: list[BindingEvent] = []
    cron = CronBinding({"schedule": "@every 30ms"})
    await cron.init()
    sub = await cron.read(lambda e: _record(events, e))
    await asyncio.sleep(0.1)
    await cron.close()
    assert not sub.active
    count = len(events)
    await asyncio.sleep(0.1)
    assert len(events) == count
