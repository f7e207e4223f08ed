"""Planted defects of a pub/sub, a secret store and a binding, one per suite test or more.

Each broken component subclasses the reference fake of its kind (which passes the whole suite) and
breaks one rule.
"""

from __future__ import annotations

from kit_selftest import Defect

PUBSUB_SUITE = """
class TestBroken(PubSubSuite):
    component_class = Broken
    delivery_timeout = 3.0
    redelivery_message_count = 200
    reliability_messages = 300
    max_concurrent_handlers = 1
    poison_hold_limit = 3.0
    dead_letter_within = 3.0
"""

LIMIT_SUITE = """
class TestBroken(PubSubSuite):
    component_class = Broken
    delivery_timeout = 3.0
    max_concurrent_handlers = 1
    max_redeliveries = 3
    redelivery_backoff = 0.2
"""
"""The redelivery limit and backoff a case declares (the reference fake's ``max_redeliveries`` and ``backoff``)."""

SECRET_SUITE = """
class TestBroken(SecretStoreSuite):
    component_class = Broken
    versions = {"1": {"versioned": "v1"}, "2": {"versioned": "v2"}}
"""

BINDING_SUITE = """
class TestBroken(BindingSuite):
    component_class = Broken
    operations = ["create", "get", "list", "delete"]
    output_metadata = {"key": "k1"}
    read = True
    input_timeout = 3.0
"""


def _pubsub(body: str, test: str) -> Defect:
    return Defect(body, test, PUBSUB_SUITE)


def _secret(body: str, test: str) -> Defect:
    return Defect(body, test, SECRET_SUITE)


def _binding(body: str, test: str) -> Defect:
    return Defect(body, test, BINDING_SUITE)


PUBSUB_DEFECTS: dict[str, Defect] = {
    "message-topic-lost": _pubsub(
        """
        class Broken(RefPubSub):
            async def _publish(self, op):
                await super()._publish(op)
                for group in self.topics.get(op.topic, {}).values():
                    for message, _ in group.queue:
                        message.topic = ""
        """,
        "test_publish_and_subscribe",
    ),
    "bytes-mangled-as-text": _pubsub(
        """
        class Broken(RefPubSub):
            async def _publish(self, op):
                op.data = op.data.decode(errors="replace").encode()
                await super()._publish(op)
        """,
        "test_binary_payload",
    ),
    "envelope-stripped": _pubsub(
        """
        class Broken(RefPubSub):
            async def _publish(self, op):
                if op.content_type == "application/cloudevents+json":
                    op.data = orjson.dumps(orjson.loads(op.data)["data"])
                await super()._publish(op)
        """,
        "test_cloudevent_envelope",
    ),
    "envelope-wrapped-twice": _pubsub(
        """
        class Broken(RefPubSub):
            async def _publish(self, op):
                op.data = wrap(op.data, topic=op.topic, pubsubname=self.name, source=None,
                               content_type=None, is_json=False, metadata={})
                await super()._publish(op)
        """,
        "test_cloudevent_envelope",
    ),
    "worker-stops-after-a-failure": _pubsub(
        """
        class Broken(RefPubSub):
            def on_result(self, group, item, result):
                if result is HandlerResult.RETRY:
                    raise asyncio.CancelledError()
        """,
        "test_handler_failures_do_not_stop_delivery",
    ),
    "topics-match-by-prefix-and-case": _pubsub(
        """
        class Broken(RefPubSub):
            async def _publish(self, op):
                for topic in list(self.topics):
                    a, b = topic.lower(), op.topic.lower()
                    if a.startswith(b) or b.startswith(a):
                        op.topic = topic
                        await super()._publish(op)
        """,
        "test_similar_topic_names_are_distinct",
    ),
    "publish-reaches-every-topic": _pubsub(
        """
        class Broken(RefPubSub):
            async def _publish(self, op):
                for topic in list(self.topics) or [op.topic]:
                    op.topic = topic
                    await super()._publish(op)
        """,
        "test_multiple_topics",
    ),
    "cancel-keeps-delivering": _pubsub(
        """
        class Broken(RefPubSub):
            async def _subscribe(self, req):
                await super()._subscribe(req)
                async def stop():
                    return None
                return stop
        """,
        "test_no_delivery_after_cancel_returns",
    ),
    "cancel-returns-before-the-loop-stops": _pubsub(
        """
        class Broken(RefPubSub):
            def running(self, work):
                task = asyncio.get_running_loop().create_task(work)
                async def stop():  # returns at once; the loop stops a moment later
                    asyncio.get_running_loop().call_later(0.5, task.cancel)
                return stop
        """,
        "test_no_delivery_after_cancel_returns",
    ),
    "close-leaves-a-subscription-task": _pubsub(
        """
        class Broken(RefPubSub):
            async def _subscribe(self, req):
                stop = await super()._subscribe(req)
                async def keepalive():
                    while True:
                        await asyncio.sleep(0.05)
                asyncio.get_running_loop().create_task(keepalive())  # never cancelled
                return stop
        """,
        "test_no_delivery_after_close_returns",
    ),
    "unbounded-dispatch": _pubsub(
        """
        class Broken(RefPubSub):
            async def worker(self, req, group):
                tasks = set()
                try:
                    while True:
                        item = await group.take()
                        task = asyncio.create_task(self.handle(req, group, item))  # a task per message
                        tasks.add(task)
                        task.add_done_callback(tasks.discard)
                finally:
                    for task in tasks:
                        task.cancel()
        """,
        "test_slow_handler_never_exceeds_the_in_flight_bound",
    ),
    "head-of-line-retry-forever": _pubsub(
        """
        class Broken(RefPubSub):
            async def handle(self, req, group, item):
                while await req.deliver(item[0]) is HandlerResult.RETRY:
                    await asyncio.sleep(0.02)  # retried before the next message, with no limit
        """,
        "test_poison_message_does_not_block_the_others",
    ),
    "dead-letter-acked-without-forwarding": _pubsub(
        """
        class Broken(RefPubSub):
            def _dead_letterer(self, topic, dead_letter_topic):
                async def give_up(message, result):
                    return HandlerResult.SUCCESS  # acknowledged, never published
                return give_up
        """,
        "test_poison_message_is_dead_lettered",
    ),
    "dead-lettered-twice": _pubsub(
        """
        class Broken(RefPubSub):
            def _dead_letterer(self, topic, dead_letter_topic):
                forward = super()._dead_letterer(topic, dead_letter_topic)
                async def give_up(message, result):
                    if result is not HandlerResult.SUCCESS:
                        await forward(message, result)
                    return await forward(message, result)
                return give_up
        """,
        "test_poison_message_is_dead_lettered",
    ),
    "dead-lettered-on-success": _pubsub(
        """
        class Broken(RefPubSub):
            def _dead_letterer(self, topic, dead_letter_topic):
                forward = super()._dead_letterer(topic, dead_letter_topic)
                async def give_up(message, result):
                    return await forward(message, HandlerResult.RETRY)  # whatever the outcome
                return give_up
        """,
        "test_poison_message_is_dead_lettered",
    ),
    "dead-lettered-and-redelivered": _pubsub(
        """
        class Broken(RefPubSub):
            def _dead_letterer(self, topic, dead_letter_topic):
                forward = super()._dead_letterer(topic, dead_letter_topic)
                async def give_up(message, result):
                    await forward(message, result)
                    return result  # forwarded, yet not acknowledged
                return give_up
        """,
        "test_poison_message_is_dead_lettered",
    ),
    "cancel-stops-the-whole-topic": _pubsub(
        """
        class Broken(RefPubSub):
            async def _subscribe(self, req):
                stop_one = await super()._subscribe(req)
                self.__dict__.setdefault("stoppers", {}).setdefault(req.topic, []).append(stop_one)
                async def stop():
                    for s in self.stoppers.pop(req.topic, []):
                        await s()
                return stop
        """,
        "test_two_subscriptions_on_one_topic_are_independent",
    ),
    "drop-redelivers": _pubsub(
        """
        class Broken(RefPubSub):
            def on_result(self, group, item, result):
                if result is not HandlerResult.SUCCESS:
                    asyncio.get_running_loop().call_later(0.02, group.put, item)
        """,
        "test_dropped_message_is_not_redelivered",
    ),
    "bulk-subscriber-without-bulk-feature": _pubsub(
        """
        class Broken(RefPubSub):
            features = RefPubSub.features - {"BULK_SUBSCRIBE"}
        """,
        "test_features_both_ways",
    ),
    "unserialisable-payload-stringified": _pubsub(
        """
        import json
        class Broken(RefPubSub):
            async def publish(self, topic, data, **kwargs):
                try:
                    json.dumps(data)
                except TypeError:
                    data = repr(data)
                return await super().publish(topic, data, **kwargs)
        """,
        "test_unserialisable_payload_is_rejected",
    ),
    "no-competing-consumers": _pubsub(
        """
        class Broken(RefPubSub):
            async def _subscribe(self, req):
                req.consumer_group = req.consumer_group + str(id(req))
                return await super()._subscribe(req)
        """,
        "test_consumer_groups_fan_out_and_compete",
    ),
    "retry-acknowledged": _pubsub(
        """
        class Broken(RefPubSub):
            def on_result(self, group, item, result):
                pass  # a RETRY is acknowledged: the message is lost
        """,
        "test_redelivery_loses_no_message",
    ),
    "in-flight-message-lost-on-cancel": _pubsub(
        """
        class Broken(RefPubSub):
            async def _subscribe(self, req):
                stop = await super()._subscribe(req)
                group = self.topics[req.topic][req.consumer_group]
                put = group.put
                def lossy_put(item, front=False):
                    if not front:  # the message in flight at cancel is not put back
                        put(item)
                group.put = lossy_put
                return stop
        """,
        "test_at_least_once_across_subscriber_restart",
    ),
    "newest-first": _pubsub(
        """
        class Broken(RefPubSub):
            async def _publish(self, op):
                expires = time.monotonic() + op.ttl if op.ttl else None
                for group in self.topics.get(op.topic, {}).values():
                    group.put((Message(op.topic, op.data, dict(op.metadata), op.content_type, "x"), expires), True)
        """,
        "test_delivery_in_publish_order",
    ),
    "bulk-publish-stops-after-first-entry": _pubsub(
        """
        class Broken(RefPubSub):
            async def _bulk_publish(self, ops):
                await self._publish(ops[0][1])
                return {}
        """,
        "test_bulk_publish_partial_failure",
    ),
    "bulk-batches-too-large": _pubsub(
        """
        class Broken(RefPubSub):
            async def _bulk_subscribe(self, req):
                group = self.group(req.topic, req.consumer_group)
                async def worker():
                    while True:
                        batch = [await group.take()]
                        await asyncio.sleep(0.2)
                        batch.extend(group.queue)  # everything queued, whatever max_messages says
                        group.queue.clear()
                        await req.deliver_batch([message for message, _ in batch])
                return self.running(worker())
        """,
        "test_bulk_subscribe",
    ),
    "message-ttl-ignored": _pubsub(
        """
        class Broken(RefPubSub):
            async def _publish(self, op):
                op.ttl = None
                await super()._publish(op)
        """,
        "test_message_ttl",
    ),
    "every-message-delivered-twice": _pubsub(
        """
        class Broken(RefPubSub):
            async def _publish(self, op):
                await super()._publish(op)
                await super()._publish(op)
        """,
        "test_exact_delivery_accounting_without_faults",
    ),
    "one-message-in-a-thousand-lost": _pubsub(
        """
        class Broken(RefPubSub):
            published = 0
            async def _publish(self, op):
                type(self).published += 1
                if self.published % 97 != 0:
                    await super()._publish(op)
        """,
        "test_exact_delivery_accounting_without_faults",
    ),
    "large-payload-truncated": _pubsub(
        """
        class Broken(RefPubSub):
            async def _publish(self, op):
                op.data = op.data[: 64 * 1024]
                await super()._publish(op)
        """,
        "test_payloads_are_byte_exact",
    ),
    "non-utf8-payload-replaced": _pubsub(
        """
        class Broken(RefPubSub):
            async def _publish(self, op):
                if len(op.data) < 1024:
                    op.data = op.data.decode(errors="replace").encode()
                await super()._publish(op)
        """,
        "test_payloads_are_byte_exact",
    ),
    "ttl-counted-into-the-past": _pubsub(
        """
        class Broken(RefPubSub):
            async def _publish(self, op):
                expires = time.monotonic() - op.ttl if op.ttl else None  # expired before it is queued
                for group in self.topics.get(op.topic, {}).values():
                    message = Message(op.topic, op.data, dict(op.metadata), op.content_type, str(next(self._ids)))
                    group.put((message, expires))
        """,
        "test_message_ttl",
    ),
    "bulk-handed-over-one-at-a-time": _pubsub(
        """
        class Broken(RefPubSub):
            async def _bulk_subscribe(self, req):
                group = self.group(req.topic, req.consumer_group)
                async def worker():
                    while True:
                        message, _ = await group.take()
                        await req.deliver_batch([message])  # however many messages wait
                return self.running(worker())
        """,
        "test_bulk_subscribe",
    ),
    "one-redelivery-too-many": Defect(
        """
        class Broken(RefPubSub):
            max_redeliveries = 3
            backoff = 0.2
            def on_result(self, group, item, result):
                if result is HandlerResult.RETRY:
                    count = self.redeliveries[item[0].id] = self.redeliveries.get(item[0].id, 0) + 1
                    if count <= self.max_redeliveries + 1:  # counts the first delivery as none
                        asyncio.get_running_loop().call_later(self.backoff, group.put, item)
        """,
        "test_redelivery_limit_and_backoff",
        LIMIT_SUITE,
    ),
    "redelivered-without-backoff": Defect(
        """
        class Broken(RefPubSub):
            max_redeliveries = 3
            backoff = 0.2
            def on_result(self, group, item, result):
                if result is HandlerResult.RETRY:
                    count = self.redeliveries[item[0].id] = self.redeliveries.get(item[0].id, 0) + 1
                    if count <= self.max_redeliveries:
                        group.put(item, front=True)  # at once, whatever the backoff
        """,
        "test_redelivery_limit_and_backoff",
        LIMIT_SUITE,
    ),
    "redeliveries-capped-where-unlimited": Defect(
        """
        class Broken(RefPubSub):
            max_redeliveries = 2  # a cap the configuration does not have
        """,
        "test_redelivery_limit_and_backoff",
        LIMIT_SUITE.replace("max_redeliveries = 3", "max_redeliveries = 0"),
    ),
    "bulk-batch-lost-on-cancel": _pubsub(
        """
        class Broken(RefPubSub):
            async def bulk_worker(self, req, group):
                while True:
                    batch = [await group.take()]
                    while group.queue and len(batch) < req.max_messages:
                        batch.append(group.queue.popleft())
                    await req.deliver_batch([message for message, _ in batch])  # cut short: the batch is gone
        """,
        "test_bulk_subscriber_cancelled_mid_batch_loses_nothing",
    ),
    "bulk-retry-answers-ignored": _pubsub(
        """
        import dataclasses
        class Broken(RefPubSub):
            async def _bulk_subscribe(self, req):
                deliver = req.deliver_batch

                async def acknowledged(messages):
                    await deliver(messages)
                    return {}

                return await super()._bulk_subscribe(dataclasses.replace(req, deliver_batch=acknowledged))
        """,
        "test_bulk_subscribe_redelivers_retried_ids",
    ),
}

SECRET_DEFECTS: dict[str, Defect] = {
    "value-upper-cased": _secret(
        """
        class Broken(RefSecretStore):
            async def _get_secret(self, name, metadata):
                return {k: v.upper() for k, v in (await super()._get_secret(name, metadata)).items()}
        """,
        "test_get_secret",
    ),
    "missing-secret-is-empty": _secret(
        """
        class Broken(RefSecretStore):
            async def _get_secret(self, name, metadata):
                if name not in self.SECRETS:
                    return {name: ""}
                return await super()._get_secret(name, metadata)
        """,
        "test_missing_secret_raises",
    ),
    "bulk-get-returns-nothing": _secret(
        """
        class Broken(RefSecretStore):
            async def _bulk_get_secrets(self, metadata):
                return {}
        """,
        "test_bulk_get_contains_seeded_secrets",
    ),
    "bulk-get-lists-an-unreadable-secret": _secret(
        """
        class Broken(RefSecretStore):
            async def _bulk_get_secrets(self, metadata):
                return {**(await super()._bulk_get_secrets(metadata)), "stray": {"stray": "x"}}
        """,
        "test_bulk_get_agrees_with_get",
    ),
    "bulk-get-changes-a-value": _secret(
        """
        class Broken(RefSecretStore):
            async def _bulk_get_secrets(self, metadata):
                out = await super()._bulk_get_secrets(metadata)
                out["versioned"] = {"versioned": "v1"}
                return out
        """,
        "test_bulk_get_agrees_with_get",
    ),
    "hidden-secret-exposed": Defect(
        """
        class Broken(RefSecretStore):
            SECRETS = {**RefSecretStore.SECRETS, "internal": [{"internal": "token"}]}
        """,
        "test_hidden_secrets_stay_hidden",
        SECRET_SUITE + '    hidden_secrets = ["internal"]\n',
    ),
    "hidden-secret-only-left-out-of-bulk": Defect(
        """
        class Broken(RefSecretStore):
            SECRETS = {**RefSecretStore.SECRETS, "internal": [{"internal": "token"}]}

            async def _bulk_get_secrets(self, metadata):
                out = await super()._bulk_get_secrets(metadata)
                del out["internal"]
                return out
        """,
        "test_hidden_secrets_stay_hidden",
        SECRET_SUITE + '    hidden_secrets = ["internal"]\n',
    ),
    "secret-value-logged": _secret(
        """
        class Broken(RefSecretStore):
            async def _get_secret(self, name, metadata):
                value = await super()._get_secret(name, metadata)
                self.log.debug("read secret %s: %s", name, value)
                return value
        """,
        "test_secret_values_stay_out_of_logs",
    ),
    "version-id-ignored": _secret(
        """
        class Broken(RefSecretStore):
            async def _get_secret(self, name, metadata):
                return await super()._get_secret(name, {})
        """,
        "test_features_both_ways",
    ),
    "multi-key-secret-keeps-first-key": _secret(
        """
        class Broken(RefSecretStore):
            async def _get_secret(self, name, metadata):
                return dict(list((await super()._get_secret(name, metadata)).items())[:1])
        """,
        "test_multiple_key_values",
    ),
    "bulk-get-splits-multi-key-secrets": _secret(
        """
        class Broken(RefSecretStore):
            async def _bulk_get_secrets(self, metadata):
                out = {}
                for name, value in (await super()._bulk_get_secrets(metadata)).items():
                    for key, text in value.items():
                        out[key] = {key: text}
                return out
        """,
        "test_bulk_get_keeps_multi_key_secrets_whole",
    ),
    "missing-version-reads-latest": _secret(
        """
        class Broken(RefSecretStore):
            async def _get_secret(self, name, metadata):
                try:
                    return await super()._get_secret(name, metadata)
                except SecretNotFoundError:
                    return await super()._get_secret(name, {})
        """,
        "test_versions",
    ),
}

BINDING_DEFECTS: dict[str, Defect] = {
    "exercised-operation-undeclared": _binding(
        """
        class Broken(RefBinding):
            operations = frozenset({"create", "get", "delete"})
        """,
        "test_exercised_operations_are_declared",
    ),
    "create-stores-nothing": _binding(
        """
        class Broken(RefBinding):
            async def _invoke(self, req):
                if req.operation == "create":
                    return BindingResponse()
                return await super()._invoke(req)
        """,
        "test_create",
    ),
    "get-returns-other-data": _binding(
        """
        class Broken(RefBinding):
            async def _invoke(self, req):
                resp = await super()._invoke(req)
                if req.operation == "get":
                    resp.data = b"something else"
                return resp
        """,
        "test_get_returns_created_data",
    ),
    "list-returns-garbage": _binding(
        """
        class Broken(RefBinding):
            async def _invoke(self, req):
                if req.operation == "list":
                    return BindingResponse(b"[]")
                return await super()._invoke(req)
        """,
        "test_list",
    ),
    "delete-does-nothing": _binding(
        """
        class Broken(RefBinding):
            async def _invoke(self, req):
                if req.operation == "delete":
                    return BindingResponse()
                return await super()._invoke(req)
        """,
        "test_delete",
    ),
    "cancel-does-nothing": _binding(
        """
        class Broken(RefBinding):
            async def _read(self, deliver):
                await super()._read(deliver)
                async def stop():
                    return None
                return stop
        """,
        "test_read_delivers_events",
    ),
    "no-input-events": _binding(
        """
        class Broken(RefBinding):
            async def _read(self, deliver):
                async def stop():
                    return None
                return stop
        """,
        "test_read_delivers_events",
    ),
}
