"""Dapr Component YAML: load, check, and turn into components.

One job a module: :mod:`~blockyard.resources.document` (the document as a typed model),
:mod:`~blockyard.resources.loading` (files and folders), :mod:`~blockyard.resources.ordering`
(secret stores first), :mod:`~blockyard.resources.creating` (components from resources) and
:mod:`~blockyard.resources.validation` (offline checks).

A resource file holds one or more YAML documents; a folder is every ``*.yaml`` / ``*.yml`` file
in it (sorted by name, not recursive). Documents of other Dapr kinds (``Subscription``,
``Configuration``, ...) are skipped; ``Resiliency`` documents are read by
:mod:`blockyard.resiliency`. Each ``Component`` is checked against Dapr's schema::

    apiVersion: dapr.io/v1alpha1
    kind: Component
    metadata:
      name: statestore                 # required, unique across the set
    spec:
      type: state.redis                # <building block>.<name>
      version: v1                      # v<N>; v1 when omitted
      initTimeout: 10s                 # optional: bound on init() (Go duration)
      ignoreErrors: false              # optional: blockyard.open() skips it if init fails
      metadata:
        - {name: redisHost, value: "localhost:6379"}
        - {name: redisPassword, secretKeyRef: {name: redis, key: password}}   # key defaults to name
        - {name: keyPrefix, envRef: KEY_PREFIX}
        - {name: queueName, value: "jobs-{uuid}"}     # {uuid}: a fresh uuid4 per created component
    auth:
      secretStore: localsecrets        # the store secretKeyRef reads from

::

    from blockyard.resources import load_component

    async with await load_component("components/statestore.yaml") as store:
        await store.set("k", b"v")

Every problem raises :class:`~blockyard.errors.ComponentConfigError` whose ``details`` hold a
:class:`~blockyard.problems.Problem` for each — the file and line, the component and the field,
and what was expected — all the problems of all the files at once. Values never appear in
errors, reprs or logs.

Decisions where Dapr is loose: ``spec.version`` may be omitted (``v1``); a ``metadata[]`` entry
must have exactly one of ``value`` / ``secretKeyRef`` / ``envRef``; an ``envRef`` to an unset
variable is an error (Dapr passes an empty string); ``spec.initTimeout`` is applied only when
given.
"""

from blockyard.resources.creating import create_component, init_component, load_component, start_component
from blockyard.resources.document import ComponentDocument
from blockyard.resources.loading import check_unique_names, load_resources, parse_resources
from blockyard.resources.model import API_VERSION, OTHER_KINDS, ComponentResource, MetadataItem, SecretKeyRef
from blockyard.resources.ordering import order_resources
from blockyard.resources.validation import ValidationReport, validate_resources

__all__ = [
    "API_VERSION",
    "OTHER_KINDS",
    "ComponentDocument",
    "ComponentResource",
    "MetadataItem",
    "SecretKeyRef",
    "ValidationReport",
    "check_unique_names",
    "create_component",
    "init_component",
    "load_component",
    "load_resources",
    "order_resources",
    "parse_resources",
    "start_component",
    "validate_resources",
]
