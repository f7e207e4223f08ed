"""One consumer-group member with at-least-once delivery; used by subscriptions and input bindings.

:class:`GroupMember` wraps an ``AIOKafkaConsumer`` (auto-commit off) and one task that fetches with
``getmany`` and hands records to a :class:`Dispatch`. Guarantees:

- **Commit after success, per partition in order.** A partition's records are handled one after
  the other; its offset is committed only up to the last record whose handler succeeded or
  dropped it. Partitions are handled concurrently. Commits run in the background after each
  fetched batch (one in flight, the next batch is handled meanwhile); a rebalance or ``stop()``
  waits for them.
- **Retry before moving on, up to a limit.** A failed record (``RETRY`` or an exception) is
  delivered again after ``consumeRetryInterval``, doubling up to 10x, until it succeeds or
  ``backOffMaxRetries`` retries are spent (-1: no limit; ``consumeRetryEnabled: false``: none).
  Then its final outcome goes to the subscription's dead-letter hand-off, if any (a ``DROP`` too),
  which is retried with the same backoff until the dead-letter topic has it; without one, the
  record is logged (topic, partition, offset; never the payload) and skipped.
- **Rebalances hand over the rest.** When partitions are revoked, their handling stops after the
  record in hand, what is done is committed, and the new owner starts from there.
- **A stable start.** When a partition is assigned with no committed offset, its start position
  (``initialOffset``) is resolved and committed at once, so ``start()`` returns only when a message
  published afterwards is sure to be delivered, and a later owner starts from the same place.
- ``stop()`` cancels the handler in hand (its record is not committed), commits what is done
  and leaves the group.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka import errors as kerr
from aiokafka.structs import ConsumerRecord

from blockyard.errors import BackendUnavailableError
from blockyard.subscription import HandlerResult

__all__ = ["BatchDispatch", "Dispatch", "GroupMember", "RetryPolicy", "SingleDispatch"]

Batch = list[ConsumerRecord[bytes, bytes]]
Records = dict[TopicPartition, Batch]
Deliver = Callable[[ConsumerRecord[bytes, bytes]], Awaitable[HandlerResult]]
GiveUp = Callable[[ConsumerRecord[bytes, bytes], HandlerResult], Awaitable[HandlerResult]]
DeliverBatch = Callable[[list[ConsumerRecord[bytes, bytes]]], Awaitable[dict[int, HandlerResult]]]

_ERROR_PAUSE = 0.5


class _Revoked(Exception):
    """The partition was revoked (or the member is stopping) while its record was retried."""


class RetryPolicy:
    """Backoff of failed records: ``interval`` doubling up to ``10 * interval``, at most
    ``max_retries`` times (-1: no limit); ``enabled`` off: no retry."""

    __slots__ = ("enabled", "interval", "max_retries")

    def __init__(self, enabled: bool, interval: float, max_retries: int = -1) -> None:
        self.enabled = enabled
        self.interval = interval
        self.max_retries = max_retries

    def spent(self, retries: int) -> bool:
        """True when a record retried ``retries`` times is not to be retried again."""
        return not self.enabled or 0 <= self.max_retries <= retries

    def limited(self) -> RetryPolicy:
        """This policy with a limit: no limit becomes no retry (a dead-letter topic takes the record
        at its first failure, as in Dapr)."""
        return self if self.max_retries >= 0 else RetryPolicy(self.enabled, self.interval, 0)

    def delays(self) -> Any:
        delay = self.interval
        while True:
            yield delay
            delay = min(delay * 2, self.interval * 10)


class Dispatch(abc.ABC):
    """How fetched records reach the handler; returns the next offset to commit per partition.

    ``give_up`` is the dead-letter hand-off of a record's final outcome (``None``: none); a
    ``RETRY`` it returns (the dead-letter topic did not take it) is handed off again after a backoff.
    """

    def __init__(self, retry: RetryPolicy, log: logging.Logger, name: str, give_up: GiveUp | None = None) -> None:
        self.retry = retry
        self.log = log
        self.name = name
        self.give_up = give_up

    @abc.abstractmethod
    async def handle(self, records: Records, member: GroupMember) -> None:
        """Handle ``records``; record progress with ``member.done(tp, next_offset)``."""

    async def backoff(self, delay: float, tps: Sequence[TopicPartition], member: GroupMember) -> None:
        """Sleep ``delay`` unless one of ``tps`` is revoked meanwhile (then raise :class:`_Revoked`)."""
        await asyncio.sleep(delay)
        if any(member.revoked(tp) for tp in tps):
            raise _Revoked

    async def finish(
        self,
        record: ConsumerRecord[bytes, bytes],
        result: HandlerResult,
        retries: int,
        delays: Any,
        member: GroupMember,
    ) -> None:
        """Hand a record's final ``result`` (after ``retries`` retries) to the dead-letter topic, again
        after each backoff until it takes it; without one, log a failed record as skipped."""
        if result is HandlerResult.SUCCESS:
            return
        if self.give_up is None:
            if result is HandlerResult.RETRY:
                self.log.warning(
                    "component %r: message %s/%s of %r failed after %d retries and is skipped "
                    "(backOffMaxRetries, consumeRetryEnabled)",
                    self.name, record.partition, record.offset, record.topic, retries,
                )  # fmt: skip
            return
        tp = TopicPartition(record.topic, record.partition)
        while await self.give_up(record, result) is HandlerResult.RETRY:
            await self.backoff(next(delays), (tp,), member)


class SingleDispatch(Dispatch):
    """One record at a time per partition; partitions concurrently."""

    def __init__(
        self, deliver: Deliver, retry: RetryPolicy, log: logging.Logger, name: str, give_up: GiveUp | None = None
    ) -> None:
        super().__init__(retry, log, name, give_up)
        self.deliver = deliver

    async def handle(self, records: Records, member: GroupMember) -> None:
        if len(records) == 1:
            ((tp, recs),) = records.items()
            await self._partition(tp, recs, member)
        else:
            await asyncio.gather(*(self._partition(tp, recs, member) for tp, recs in records.items()))

    async def _partition(self, tp: TopicPartition, recs: Batch, member: GroupMember) -> None:
        deliver = self.deliver
        for record in recs:
            if member.revoked(tp):
                return
            result = await deliver(record)
            if result is not HandlerResult.SUCCESS:
                try:
                    await self._retry(tp, record, result, member)
                except _Revoked:
                    return
            member.done(tp, record.offset + 1)

    async def _retry(
        self, tp: TopicPartition, record: ConsumerRecord[bytes, bytes], result: HandlerResult, member: GroupMember
    ) -> None:
        retries, delays = 0, self.retry.delays()
        while result is HandlerResult.RETRY and not self.retry.spent(retries):
            await self.backoff(next(delays), (tp,), member)
            retries += 1
            result = await self.deliver(record)
        await self.finish(record, result, retries, delays, member)


class BatchDispatch(Dispatch):
    """The whole fetch as one batch; failed records are retried together, up to the retry limit."""

    def __init__(
        self, deliver: DeliverBatch, retry: RetryPolicy, log: logging.Logger, name: str, give_up: GiveUp | None = None
    ) -> None:
        super().__init__(retry, log, name, give_up)
        self.deliver = deliver

    async def handle(self, records: Records, member: GroupMember) -> None:
        batch = [r for recs in records.values() for r in recs]
        results = await self.deliver(batch)
        final: dict[int, HandlerResult] = {i: res for i, res in results.items() if res is HandlerResult.DROP}
        failed = [i for i in range(len(batch)) if results.get(i) is HandlerResult.RETRY]
        retries, delays = 0, self.retry.delays()
        try:
            while failed and not self.retry.spent(retries):
                await self.backoff(next(delays), list(records), member)
                retries += 1
                results = await self.deliver([batch[i] for i in failed])
                final.update(
                    {i: HandlerResult.DROP for n, i in enumerate(failed) if results.get(n) is HandlerResult.DROP}
                )
                failed = [i for n, i in enumerate(failed) if results.get(n) is HandlerResult.RETRY]
            final.update(dict.fromkeys(failed, HandlerResult.RETRY))
            for i in sorted(final):
                await self.finish(batch[i], final[i], retries, delays, member)
                del final[i]
        except _Revoked:
            self._done_before(records, [batch[i] for i in final], member)
            return
        for tp, recs in records.items():
            member.done(tp, recs[-1].offset + 1)

    @staticmethod
    def _done_before(records: Records, unfinished: Sequence[ConsumerRecord[bytes, bytes]], member: GroupMember) -> None:
        """Commit each partition up to its first record not finished (a revoked batch)."""
        first: dict[TopicPartition, int] = {}
        for r in unfinished:
            tp = TopicPartition(r.topic, r.partition)
            first[tp] = min(first.get(tp, r.offset), r.offset)
        for tp, recs in records.items():
            stop = first.get(tp)
            done = [r.offset for r in recs if stop is None or r.offset < stop]
            if done:
                member.done(tp, done[-1] + 1)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, member: GroupMember) -> None:
        self.member = member

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.member._on_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.member._on_assigned(assigned)


class GroupMember:
    """One member of a consumer group on ``topics``; see the module docstring for the guarantees."""

    def __init__(
        self,
        *,
        topics: Sequence[str],
        group: str,
        options: dict[str, Any],
        dispatch: Dispatch,
        max_records: int | None,
        poll_timeout: float,
        join_timeout: float,
        log: logging.Logger,
        name: str,
    ) -> None:
        self.topics = list(topics)
        self.group = group
        self._consumer = AIOKafkaConsumer(**options, group_id=group, enable_auto_commit=False)
        self._dispatch = dispatch
        self._max_records = max_records
        self._poll_ms = max(1, int(poll_timeout * 1000))
        self._join_timeout = join_timeout
        self.log = log
        self.name = name
        self._done: dict[TopicPartition, int] = {}
        self._revoked: set[TopicPartition] = set()
        self._to_pin: set[TopicPartition] | None = None
        self._joined = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._committing: asyncio.Task[None] | None = None

    # -- progress, called by the dispatch ----------------------------------------------------

    def done(self, tp: TopicPartition, next_offset: int) -> None:
        """Records of ``tp`` before ``next_offset`` are handled: commit up to there."""
        self._done[tp] = next_offset

    def revoked(self, tp: TopicPartition) -> bool:
        """True when ``tp`` is being handed over (or the member stops): stop handling it."""
        return self._stopping or tp in self._revoked

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Join the group and pin the start positions; return when a new message will be delivered.

        :raises BackendUnavailableError: the group did not assign partitions within the join timeout.
        """
        consumer = self._consumer
        try:
            await consumer.start()
            consumer.subscribe(self.topics, listener=_Listener(self))
            self._task = asyncio.create_task(self._run(), name=f"blockyard-kafka-{self.name}-{self.group}")
            async with asyncio.timeout(self._join_timeout):
                await self._joined.wait()
        except BaseException as exc:
            await self.stop()
            if isinstance(exc, TimeoutError):
                raise BackendUnavailableError(
                    f"consumer group {self.group!r} did not assign partitions of {', '.join(self.topics)} "
                    f"within {self._join_timeout:g} s"
                ) from None
            raise

    async def stop(self) -> None:
        """Stop handling (the record in hand is not committed), commit what is done, leave the group."""
        self._stopping = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._idle.set()
        with contextlib.suppress(Exception):
            await self._consumer.stop()

    # -- the loop ----------------------------------------------------------------------------

    async def _run(self) -> None:
        consumer = self._consumer
        try:
            while True:
                try:
                    if self._to_pin is not None:
                        await self._pin()
                    records = await consumer.getmany(timeout_ms=self._poll_ms, max_records=self._max_records)
                    if not records:
                        continue
                    self._idle.clear()
                    try:
                        await self._dispatch.handle(records, self)
                    finally:
                        self._idle.set()
                    self._commit_soon()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the loop must outlive broker hiccups
                    self.log.warning(
                        "component %r: consumer of %s (group %r) failed (%s: %s); continuing",
                        self.name, ", ".join(self.topics), self.group, type(exc).__name__, exc,
                    )  # fmt: skip
                    await asyncio.sleep(_ERROR_PAUSE)
        finally:
            with contextlib.suppress(BaseException):
                await asyncio.shield(self._flush())

    def _commit_soon(self) -> None:
        """Commit what is done in the background (one commit in flight; the next batch is handled
        meanwhile, so a commit's round trip does not stall delivery)."""
        if self._committing is None and self._done:
            self._committing = asyncio.create_task(self._commit_while_done())

    async def _commit_while_done(self) -> None:
        try:
            while self._done:
                await self._commit()
        except Exception as exc:  # kept in _done: committed with the next batch
            self.log.warning("component %r: commit failed (%s: %s); retrying later", self.name, type(exc).__name__, exc)
        finally:
            self._committing = None

    async def _flush(self) -> None:
        """Wait for the commit in flight, then commit whatever is still done but not committed."""
        if self._committing is not None:
            await asyncio.wait({self._committing})
        await self._commit()

    async def _commit(self) -> None:
        if not self._done:
            return
        offsets, self._done = self._done, {}
        self.log.debug("component %r: group %r commits %s", self.name, self.group, offsets)
        try:
            await self._consumer.commit(offsets)
        except (kerr.CommitFailedError, kerr.IllegalStateError) as exc:
            # the partitions moved to another member, which starts after its last commit
            self.log.info("component %r: commit skipped after a rebalance (%s)", self.name, type(exc).__name__)
        except Exception:
            for tp, offset in offsets.items():  # try again with the next batch
                self._done.setdefault(tp, offset)
            raise

    async def _pin(self) -> None:
        """Resolve and commit the start position of newly assigned partitions with no commit."""
        assigned = self._to_pin
        consumer = self._consumer
        pins: dict[TopicPartition, int] = {}
        for tp in assigned or ():
            if await consumer.committed(tp) is None:
                pins[tp] = await consumer.position(tp)
        if pins:
            self.log.debug("component %r: group %r starts at %s", self.name, self.group, pins)
            await consumer.commit(pins)
        if self._to_pin is assigned:  # else a newer assignment came meanwhile: pin that one next
            self._to_pin = None
            self._joined.set()

    # -- rebalance callbacks (run by the group coordinator) -----------------------------------

    async def _on_revoked(self, revoked: set[TopicPartition]) -> None:
        self.log.debug("component %r: group %r revoked %s", self.name, self.group, sorted(revoked))
        self._revoked |= revoked
        if not self._stopping:
            await self._idle.wait()  # the batch in hand stops at its next record
            try:
                await self._flush()  # the next owner starts after what was handled here
            except Exception as exc:  # the next owner delivers those messages again
                self.log.warning("component %r: commit before a rebalance failed (%s)", self.name, type(exc).__name__)

    def _on_assigned(self, assigned: set[TopicPartition]) -> None:
        self.log.debug("component %r: group %r assigned %s", self.name, self.group, sorted(assigned))
        self._revoked -= assigned
        self._to_pin = set(assigned)
