"""One SQS queue consumed at least once: long polling off the event loop, delete after success.

Shared by ``pubsub.aws.snssqs`` and ``bindings.aws.sqs``. The poller receives up to
``max_messages`` messages per long poll (``ReceiveMessage`` with ``WaitTimeSeconds``), hands each
to ``deliver`` (concurrently, or one after another when ``ordered``), then:

- SUCCESS or DROP: the message is deleted (one ``DeleteMessageBatch`` per poll);
- RETRY (or a handler error): its visibility timeout is set to 0, so SQS delivers it again
  (and, with a redrive policy, moves it to the dead-letter queue after ``maxReceiveCount``);
- a poller stopped while messages are in flight still deletes those whose handler had finished and
  makes the others visible again at once; a process that dies leaves them to reappear after the
  queue's visibility timeout.

A poll of a FIFO queue carries a ``ReceiveRequestAttemptId`` of its own, which botocore's retries
of that call repeat: SQS then answers a retried receive with the same messages.

Errors of the background loop are logged (without payloads) and retried with backoff. When the
queue itself is gone (deleted, or an emulator restarted empty) and the owner can recreate it
(``recreate``), the poller asks for it again and carries on with the new queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import uuid
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from blockyard.subscription import HandlerResult
from blockyard_aws.client import aws_error_code

__all__ = ["QueuePoller"]

_BACKOFF_START = 0.1
_BACKOFF_CAP = 5.0

Deliver = Callable[[Mapping[str, Any]], Awaitable[HandlerResult]]
Recreate = Callable[[], Awaitable[str]]
_MISSING_QUEUE = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"})


def _attempt_id(url: str) -> dict[str, str]:
    """A fresh ``ReceiveRequestAttemptId`` for a FIFO queue's poll. botocore resends it when it
    retries the call, so SQS answers a retry with the messages the lost answer held instead of
    hiding them (and holding their group back) for the visibility timeout."""
    return {"ReceiveRequestAttemptId": uuid.uuid4().hex} if url.endswith(".fifo") else {}


class QueuePoller:
    """Consumes one queue until :meth:`stop`; see the module docstring for the guarantees."""

    def __init__(
        self,
        owner: Any,
        queue_url: str,
        deliver: Deliver,
        *,
        wait_seconds: int,
        max_messages: int,
        ordered: bool = False,
        what: str = "",
        recreate: Recreate | None = None,
    ) -> None:
        self._owner = owner
        self._url = queue_url
        self._deliver = deliver
        self._wait = wait_seconds
        self._max = max_messages
        self._ordered = ordered
        self._what = what or queue_url
        self._recreate = recreate
        self._task: asyncio.Task[None] | None = None
        self._receiving: asyncio.Future[Any] | None = None
        # Keyed by receipt handle (unique per receive; a message id need not be, across redeliveries).
        self._in_flight: set[str] = set()  # received and not yet settled
        self._outcomes: dict[str, HandlerResult] = {}  # what the handler returned
        self._settling: set[asyncio.Task[None]] = set()
        # Long polls block a thread for up to WaitTimeSeconds: a thread of their own, so they never
        # wait behind (or hold up) the component's other calls on its shared pool.
        self._thread = ThreadPoolExecutor(1, thread_name_prefix=f"blockyard-sqs-poll-{owner.name}")

    def start(self) -> None:
        """Start the background loop."""
        self._task = asyncio.get_running_loop().create_task(self._loop(), name=f"sqs-poll:{self._what}")

    async def stop(self) -> None:
        """Stop at once: interrupted and unhandled messages become visible again."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        receiving, self._receiving = self._receiving, None
        if receiving is not None:
            with contextlib.suppress(Exception):
                for m in (await receiving).get("Messages", []):
                    self._in_flight.add(m["ReceiptHandle"])
        if self._settling:
            await asyncio.gather(*self._settling, return_exceptions=True)
        await self._settle(release_unhandled=True)  # handled ones deleted, the others visible again
        self._thread.shutdown(wait=False)

    async def _loop(self) -> None:
        backoff = _BACKOFF_START
        log = self._owner.log
        while True:
            try:
                receive = functools.partial(
                    self._owner._clients["sqs"].receive_message,
                    QueueUrl=self._url,
                    MaxNumberOfMessages=self._max,
                    WaitTimeSeconds=self._wait,
                    MessageAttributeNames=["All"],
                    AttributeNames=["ApproximateReceiveCount"],
                    **_attempt_id(self._url),
                )
                self._receiving = asyncio.get_running_loop().run_in_executor(self._thread, receive)
                resp = await asyncio.shield(self._receiving)
                self._receiving = None
                backoff = _BACKOFF_START
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._receiving = None
                if self._recreate is not None and aws_error_code(exc) in _MISSING_QUEUE:
                    with contextlib.suppress(Exception):
                        self._url = await self._recreate()
                        log.warning("component %r: %s was gone; recreated it", self._owner.name, self._what)
                        continue
                log.warning(
                    "component %r: receiving from %s failed (%s); retrying in %.1fs",
                    self._owner.name, self._what, type(exc).__name__, backoff,
                )  # fmt: skip
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _BACKOFF_CAP)
                continue
            messages = resp.get("Messages", [])
            if messages:
                await self._handle(messages)

    async def _handle(self, messages: list[Mapping[str, Any]]) -> None:
        for m in messages:
            self._in_flight.add(m["ReceiptHandle"])

        async def one(m: Mapping[str, Any]) -> HandlerResult:
            result = await self._deliver(m)
            self._outcomes[m["ReceiptHandle"]] = result
            return result

        if self._ordered:
            for m in messages:
                if await one(m) is HandlerResult.RETRY:
                    break  # keep the order: the rest is released and comes back behind it
        else:
            await asyncio.gather(*(one(m) for m in messages))
        await self._settle(release_unhandled=self._ordered)

    async def _settle(self, *, release_unhandled: bool) -> None:
        """Delete the handled messages, release the retried ones (and, if asked, the unhandled ones)."""
        done: list[str] = []
        retry: list[str] = []
        for receipt in list(self._in_flight):
            outcome = self._outcomes.pop(receipt, None)
            if outcome is None and not release_unhandled:
                continue
            self._in_flight.discard(receipt)
            (retry if outcome in (None, HandlerResult.RETRY) else done).append(receipt)
        if done or retry:
            # Shielded: a cancel must not drop a delete or release that is queued for a thread.
            task = asyncio.ensure_future(self._apply(done, retry))
            self._settling.add(task)
            task.add_done_callback(self._settling.discard)
            await asyncio.shield(task)

    async def _apply(self, done: list[str], retry: list[str]) -> None:
        if done:
            await self._delete(done)
        if retry:
            await self._release(retry)

    async def _delete(self, receipts: list[str]) -> None:
        entries = [{"Id": str(i), "ReceiptHandle": r} for i, r in enumerate(receipts)]
        try:
            resp = await self._owner._call("sqs", "delete_message_batch", QueueUrl=self._url, Entries=entries)
            failed = resp.get("Failed", [])
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failed = entries
            self._owner.log.warning(
                "component %r: deleting %d handled message(s) from %s failed (%s); they will be redelivered",
                self._owner.name, len(entries), self._what, type(exc).__name__,
            )  # fmt: skip
        if failed:
            self._owner.log.warning(
                "component %r: %d handled message(s) could not be deleted from %s; they will be redelivered",
                self._owner.name, len(failed), self._what,
            )  # fmt: skip

    async def _release(self, receipts: list[str]) -> None:
        """Make messages visible again now (best effort: else they return after the visibility timeout)."""
        for start in range(0, len(receipts), 10):
            entries = [
                {"Id": str(i), "ReceiptHandle": r, "VisibilityTimeout": 0}
                for i, r in enumerate(receipts[start : start + 10])
            ]
            try:
                await self._owner._call("sqs", "change_message_visibility_batch", QueueUrl=self._url, Entries=entries)
            except Exception as exc:
                self._owner.log.debug(
                    "component %r: could not release messages on %s (%s)", self._owner.name, self._what,
                    type(exc).__name__,
                )  # fmt: skip
