"""blockyard-dapr: every Blockyard component, served to the real Dapr runtime as a pluggable component.

daprd (Dapr's sidecar) loads out-of-process "pluggable components" over gRPC on Unix sockets. This
package serves Blockyard's state stores, pub/sub brokers, bindings and secret stores on such
sockets, so apps in any language — through any Dapr SDK — use them, while daprd stays the engine
(no sidecar of our own). The protocol is Dapr 1.18's ``dapr.proto.components.v1``.

Serve one type, configured by the metadata in daprd's Component files::

    blockyard serve --type state.redis --type pubsub.redis
    # serving pubsub.blockyard-redis, state.blockyard-redis on /tmp/dapr-components-sockets/blockyard-redis.sock

then, for daprd (``--resources-path components/``)::

    apiVersion: dapr.io/v1alpha1
    kind: Component
    metadata:
      name: statestore
    spec:
      type: state.blockyard-redis      # <kind>.<socket name>
      version: v1
      metadata:
        - name: redisHost
          value: 127.0.0.1:6379

Or serve a folder of Blockyard Component files (``secretKeyRef`` resolved by Blockyard); daprd's
Component with the same name and type ``<kind>.blockyard-<type>`` attaches to each, and sets no
metadata of its own::

    blockyard serve components/

Every instance daprd creates is one component: several Components of one type share a socket and
stay independent. ETag errors reach daprd as it expects (a mismatch is ``FAILED_PRECONDITION``, an
invalid ETag ``INVALID_ARGUMENT``, both naming the ``etag`` field), so apps see Dapr's own errors.
Sockets are created with mode 600 (``--socket-mode``), a stale socket file is replaced, a live one
is never taken over, and a server removes only the socket file it created. SIGTERM stops serving
gracefully.

``blockyard_dapr.daprd`` builds daprd itself from the Go module proxy (Dapr 1.18.2, cached) and
runs it on loopback, for tests, examples and benchmarks.
"""

__all__: list[str] = []

__version__ = "0.1.0"
