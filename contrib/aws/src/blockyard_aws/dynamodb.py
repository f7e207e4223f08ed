"""``state.aws.dynamodb``: a state store on an existing DynamoDB table, every conditional write atomic.

Features: ETAG, FIRST_WRITE, TRANSACTIONAL; TTL and TTL_EXPIRE_TIME only when ``ttlAttributeName``
is set (the table's TTL should then be enabled on that attribute).

- An item is ``{<partitionKey>: key, value: S (UTF-8 text) | B (other bytes), etag: S
  [, contentType: S][, <ttlAttributeName>: N]}`` — Dapr's layout. The table must exist, with a
  string hash key named ``partitionKey`` (default ``key``); ``init()`` checks both and fails with a
  :class:`~blockyard.errors.ComponentConfigError` naming the table otherwise.
- ETags are random strings written with each item and checked by a ``ConditionExpression``; a
  wrong ETag, or an ETag on a missing item, raises :class:`~blockyard.errors.ETagMismatchError`.
  First-write is ``attribute_not_exists`` (an expired item counts as absent).
- TTL is stored as epoch seconds (rounded up) in ``ttlAttributeName``; DynamoDB deletes expired
  items lazily (and emulators never), so reads hide them and conditional writes treat them as
  absent. A write without TTL removes it. ``get`` returns ``ttlExpireTime``.
- ``transact`` is one ``TransactWriteItems`` of at most 100 operations (more is an
  :class:`~blockyard.errors.InvalidRequestError`); several operations on one key are folded into
  one, keeping the first one's condition and the last one's effect, so the result is that of
  applying them in order.
- ``bulk_get`` is ``BatchGetItem`` (100 keys per call), ``bulk_set``/``bulk_delete`` are
  ``BatchWriteItem`` (25 per call) for unconditional items and single conditional writes for the
  others; unprocessed items are retried with backoff. A ``bulk_get`` is isolated per item only: run
  beside a ``transact`` it may see some of its keys before and some after it.
- An item over DynamoDB's 400 KB limit (names and values counted in UTF-8 bytes), or a key over
  its 2,048-byte hash key limit, is refused before it is sent with an
  :class:`~blockyard.errors.InvalidRequestError` naming the key.
- ``consistency="strong"`` reads with ``ConsistentRead``.

Example::

    import asyncio
    from blockyard_aws.dynamodb import DynamoDBStateStore

    async def main() -> None:
        md = {"table": "state", "region": "us-east-1", "ttlAttributeName": "expiresAt"}
        async with DynamoDBStateStore(md, name="statestore") as store:
            etag = await store.set("order-1", {"qty": 1}, ttl=60)
            await store.set("order-1", {"qty": 2}, etag=etag)      # ETagMismatchError if changed
            print((await store.get("order-1")).json())

    asyncio.run(main())

Component YAML::

    apiVersion: dapr.io/v1alpha1
    kind: Component
    metadata: {name: statestore}
    spec:
      type: state.aws.dynamodb
      version: v1
      metadata:
        - {name: table, value: state}
        - {name: region, value: us-east-1}
        - {name: ttlAttributeName, value: expiresAt}
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import Mapping
from typing import Any, ClassVar

from blockyard.errors import (
    BlockyardError,
    ComponentConfigError,
    ETagMismatchError,
    InvalidRequestError,
)
from blockyard.metadata import meta
from blockyard.state import (
    TTL_EXPIRE_TIME,
    Consistency,
    DeleteOp,
    SetOp,
    StateFeature,
    StateItem,
    TransactionalStateStore,
    format_expire_time,
)
from blockyard_aws.client import AwsClientMixin, AwsMetadata, aws_error_code

__all__ = ["MAX_ITEM_BYTES", "DynamoDBMetadata", "DynamoDBStateStore"]

MAX_ITEM_BYTES = 400 * 1024
MAX_HASH_KEY_BYTES = 2048
"""DynamoDB's limit on a partition (hash) key's value, in UTF-8 bytes."""
"""DynamoDB's item size limit (names and values of every attribute)."""

_MISMATCH = "the ETag does not match the stored item (or the item does not exist)"
_EXISTS = "first-write: an item with this key already exists"
_BATCH_GET = 100
_BATCH_WRITE = 25
_UNPROCESSED_TRIES = 8


class DynamoDBMetadata(AwsMetadata):
    """Metadata of ``state.aws.dynamodb``: the AWS profile plus the table."""

    unsupported: ClassVar[dict[str, str]] = {
        **AwsMetadata.unsupported,
        "actorStateStore": "actor state is served by the Dapr runtime, not by Blockyard",
    }

    table: str = meta(description="name of an existing table with a string hash key", example="state")
    partition_key: str = meta("key", description="name of the table's hash key attribute", example="key")
    ttl_attribute_name: str | None = meta(
        None, description="attribute holding the expiry (epoch seconds); enables TTL", example="expiresAt"
    )


def _now() -> float:
    return time.time()


class DynamoDBStateStore(AwsClientMixin, TransactionalStateStore):
    """State store on one DynamoDB table; see the module docstring for layout and guarantees."""

    type: ClassVar[str] = "state.aws.dynamodb"
    Metadata = DynamoDBMetadata
    features: ClassVar[frozenset[StateFeature]] = frozenset(
        {
            StateFeature.ETAG,
            StateFeature.FIRST_WRITE,
            StateFeature.TRANSACTIONAL,
            StateFeature.TTL,
            StateFeature.TTL_EXPIRE_TIME,
        }
    )
    aws_services: ClassVar[tuple[str, ...]] = ("dynamodb",)
    max_transaction_size: ClassVar[int | None] = 100

    def __init__(self, metadata: Any = None, *, name: str | None = None) -> None:
        super().__init__(metadata, name=name)
        md: DynamoDBMetadata = self.meta
        self._table = md.table
        self._pk = md.partition_key
        self._names_bytes = len(self._pk.encode()) + len("value") + len("etag")  # of every item's attributes
        self._ttl_attr = md.ttl_attribute_name
        if not self._ttl_attr:
            self._narrow_features(type(self).features - {StateFeature.TTL, StateFeature.TTL_EXPIRE_TIME})

    async def _check_resources(self) -> None:
        try:
            desc = await self._call("dynamodb", "describe_table", TableName=self._table)
        except Exception as exc:
            if aws_error_code(exc) == "ResourceNotFoundException":
                raise ComponentConfigError(
                    f"table {self._table!r} does not exist (create it first)", component=self.name, field="table"
                ) from None
            raise
        hash_keys = [k["AttributeName"] for k in desc["Table"]["KeySchema"] if k["KeyType"] == "HASH"]
        if hash_keys != [self._pk]:
            raise ComponentConfigError(
                f"table {self._table!r} has hash key {hash_keys[0] if hash_keys else None!r}, "
                f"but partitionKey is {self._pk!r}",
                component=self.name,
                field="partitionKey",
            )

    async def _ping(self) -> None:
        await self._call("dynamodb", "describe_table", TableName=self._table)

    # -- item encoding -------------------------------------------------------------------------

    def _key(self, key: str) -> dict[str, Any]:
        """The item's key attribute; a key over DynamoDB's hash key limit is refused before it is sent."""
        self._key_bytes(key)
        return {self._pk: {"S": key}}

    def _key_bytes(self, key: str) -> int:
        """The key's size in bytes; :class:`InvalidRequestError` above DynamoDB's hash key limit."""
        size = len(key.encode("utf-8", "surrogatepass"))
        if size > MAX_HASH_KEY_BYTES:
            raise InvalidRequestError(
                f"the key is {size} bytes; DynamoDB keys hold at most {MAX_HASH_KEY_BYTES} bytes", key=key
            )
        return size

    def _item(self, op: SetOp, etag: str) -> dict[str, Any]:
        """The item of ``op``; one over 400 KB (attribute names and values in UTF-8 bytes, as DynamoDB
        counts) is refused before it is sent."""
        try:
            value: dict[str, Any] = {"S": op.value.decode("utf-8")}
        except UnicodeDecodeError:
            value = {"B": op.value}
        # op.value is the value's UTF-8 (or binary) form: its length is what DynamoDB counts.
        size = self._names_bytes + self._key_bytes(op.key) + len(op.value) + len(etag)
        item: dict[str, Any] = {self._pk: {"S": op.key}, "value": value, "etag": {"S": etag}}
        if op.content_type:
            item["contentType"] = {"S": op.content_type}
            size += len("contentType") + len(op.content_type.encode("utf-8", "surrogatepass"))
        if op.ttl and self._ttl_attr:
            expires = str(math.ceil(_now() + op.ttl))
            item[self._ttl_attr] = {"N": expires}
            size += len(self._ttl_attr.encode()) + len(expires)
        if size > MAX_ITEM_BYTES:
            raise InvalidRequestError(
                f"the item is {size} bytes; DynamoDB stores at most {MAX_ITEM_BYTES} bytes (400 KB) per item",
                key=op.key,
            )
        return item

    def _state_item(self, key: str, item: Mapping[str, Any] | None) -> StateItem:
        if not item:
            return StateItem(key)
        metadata: dict[str, str] = {}
        if self._ttl_attr and self._ttl_attr in item:
            expires = float(item[self._ttl_attr]["N"])
            if expires <= _now():
                return StateItem(key)  # expired, not yet deleted by DynamoDB
            metadata[TTL_EXPIRE_TIME] = format_expire_time(expires)
        raw = item.get("value", {})
        value = raw["S"].encode("utf-8") if "S" in raw else bytes(raw.get("B", b""))
        etag = item.get("etag", {}).get("S")
        ct = item.get("contentType", {}).get("S")
        return StateItem(key, value, etag, metadata, ct)

    def _condition(self, etag: str | None, first_write: bool) -> dict[str, Any]:
        """ConditionExpression arguments: ETag match or absence, an expired item counting as absent."""
        names: dict[str, str] = {"#k": self._pk}
        values: dict[str, Any] = {}
        if etag is None and not first_write:
            return {}
        if self._ttl_attr:
            names["#t"] = self._ttl_attr
            values[":now"] = {"N": str(int(_now()))}
        if etag is not None:
            names["#e"] = "etag"
            values[":e"] = {"S": etag}
            expr = "#e = :e"
            if self._ttl_attr:
                expr += " AND (attribute_not_exists(#t) OR #t > :now)"
        else:
            expr = "attribute_not_exists(#k)"
            if self._ttl_attr:
                expr += " OR #t <= :now"
        out: dict[str, Any] = {"ConditionExpression": expr, "ExpressionAttributeNames": names}
        if values:
            out["ExpressionAttributeValues"] = values
        if "#k" not in expr:
            names.pop("#k")
        return out

    # -- single-key operations -----------------------------------------------------------------

    async def _get(self, key: str, consistency: Consistency | None, metadata: Mapping[str, str]) -> StateItem:
        resp = await self._call(
            "dynamodb",
            "get_item",
            TableName=self._table,
            Key=self._key(key),
            ConsistentRead=consistency is Consistency.STRONG,
        )
        return self._state_item(key, resp.get("Item"))

    async def _set(self, op: SetOp) -> str | None:
        etag = uuid.uuid4().hex
        item = self._item(op, etag)
        try:
            await self._call(
                "dynamodb", "put_item", TableName=self._table, Item=item, **self._condition(op.etag, op.first_write)
            )
        except Exception as exc:
            if aws_error_code(exc) == "ConditionalCheckFailedException":
                raise ETagMismatchError(_EXISTS if op.first_write else _MISMATCH) from None
            raise
        return etag

    async def _delete(self, op: DeleteOp) -> None:
        try:
            await self._call(
                "dynamodb",
                "delete_item",
                TableName=self._table,
                Key=self._key(op.key),
                **self._condition(op.etag, False),
            )
        except Exception as exc:
            if aws_error_code(exc) == "ConditionalCheckFailedException":
                raise ETagMismatchError(_MISMATCH) from None
            raise

    # -- bulk ----------------------------------------------------------------------------------

    async def _bulk_get(
        self, keys: list[str], consistency: Consistency | None, metadata: Mapping[str, str]
    ) -> list[StateItem]:
        unique = list(dict.fromkeys(keys))
        found: dict[str, Mapping[str, Any]] = {}
        for start in range(0, len(unique), _BATCH_GET):
            request: dict[str, Any] = {
                self._table: {
                    "Keys": [self._key(k) for k in unique[start : start + _BATCH_GET]],
                    "ConsistentRead": consistency is Consistency.STRONG,
                }
            }
            for attempt in range(_UNPROCESSED_TRIES):
                resp = await self._call("dynamodb", "batch_get_item", RequestItems=request)
                for item in resp.get("Responses", {}).get(self._table, []):
                    found[item[self._pk]["S"]] = item
                request = resp.get("UnprocessedKeys") or {}
                if not request:
                    break
                await asyncio.sleep(min(0.05 * 2**attempt, 2.0))
            else:
                from blockyard.errors import BackendUnavailableError

                raise BackendUnavailableError("DynamoDB left keys unprocessed after every retry")
        return [self._state_item(k, found.get(k)) for k in keys]

    async def _batch_write(self, requests: list[dict[str, Any]]) -> None:
        """``BatchWriteItem`` in chunks of 25, retrying unprocessed items with backoff."""
        for start in range(0, len(requests), _BATCH_WRITE):
            pending: dict[str, Any] = {self._table: requests[start : start + _BATCH_WRITE]}
            for attempt in range(_UNPROCESSED_TRIES):
                resp = await self._call("dynamodb", "batch_write_item", RequestItems=pending)
                pending = resp.get("UnprocessedItems") or {}
                if not pending:
                    break
                await asyncio.sleep(min(0.05 * 2**attempt, 2.0))
            else:
                from blockyard.errors import BackendUnavailableError

                raise BackendUnavailableError("DynamoDB left items unprocessed after every retry")

    async def _bulk_set(self, ops: list[SetOp]) -> dict[str, BlockyardError]:
        keys = [op.key for op in ops]
        plain = [op for op in ops if op.etag is None and not op.first_write and keys.count(op.key) == 1]
        others = [op for op in ops if op not in plain]
        errors: dict[str, BlockyardError] = {}
        requests: list[dict[str, Any]] = []
        for op in plain:
            try:
                requests.append({"PutRequest": {"Item": self._item(op, uuid.uuid4().hex)}})
            except BlockyardError as exc:
                errors[op.key] = exc.fill(self.name, "bulk_set", op.key)
        if requests:
            await self._batch_write(requests)
        for op in others:  # conditional or repeated keys: one by one, in order
            try:
                await self._set(op)
            except Exception as exc:
                errors[op.key] = self._wrap(exc, "bulk_set", op.key)
        return errors

    async def _bulk_delete(self, ops: list[DeleteOp]) -> dict[str, BlockyardError]:
        keys = [op.key for op in ops]
        plain = [op for op in ops if op.etag is None and keys.count(op.key) == 1]
        others = [op for op in ops if op not in plain]
        if plain:
            await self._batch_write([{"DeleteRequest": {"Key": self._key(op.key)}} for op in plain])
        errors: dict[str, BlockyardError] = {}
        for op in others:
            try:
                await self._delete(op)
            except Exception as exc:
                errors[op.key] = self._wrap(exc, "bulk_delete", op.key)
        return errors

    # -- transactions --------------------------------------------------------------------------

    async def _transact(self, ops: list[SetOp | DeleteOp], metadata: Mapping[str, str]) -> None:
        if not ops:
            return
        # Fold the operations per key: the first one's condition (checked against the stored item),
        # the last one's effect; a later ETag must be the one an earlier write in this transaction made.
        folded: dict[str, tuple[SetOp | DeleteOp, SetOp | DeleteOp, str | None]] = {}
        for op in ops:
            etag = uuid.uuid4().hex if isinstance(op, SetOp) else None
            if op.key not in folded:
                folded[op.key] = (op, op, etag)
                continue
            first, last, last_etag = folded[op.key]
            first_write = isinstance(op, SetOp) and op.first_write
            if op.etag is not None and op.etag != last_etag:
                raise ETagMismatchError(f"{_MISMATCH}; nothing was applied", key=op.key)
            if first_write and isinstance(last, SetOp):
                raise ETagMismatchError(f"{_EXISTS}; nothing was applied", key=op.key)
            folded[op.key] = (first, op, etag)
        items: list[dict[str, Any]] = []
        for key, (first, last, etag) in folded.items():
            cond = self._condition(first.etag, isinstance(first, SetOp) and first.first_write)
            if isinstance(last, SetOp):
                assert etag is not None
                items.append({"Put": {"TableName": self._table, "Item": self._item(last, etag), **cond}})
            else:
                items.append({"Delete": {"TableName": self._table, "Key": self._key(key), **cond}})
        try:
            await self._call("dynamodb", "transact_write_items", TransactItems=items)
        except Exception as exc:
            if aws_error_code(exc) != "TransactionCanceledException":
                raise
            reasons = getattr(exc, "response", {}).get("CancellationReasons") or []
            keys = list(folded)
            for i, reason in enumerate(reasons):
                if reason.get("Code") == "ConditionalCheckFailed":
                    first = folded[keys[i]][0]
                    fw = isinstance(first, SetOp) and first.first_write
                    raise ETagMismatchError(
                        f"{_EXISTS if fw else _MISMATCH}; nothing was applied", key=keys[i]
                    ) from None
            if "ConditionalCheckFailed" in str(exc):
                raise ETagMismatchError(f"{_MISMATCH}; nothing was applied") from None
            raise
