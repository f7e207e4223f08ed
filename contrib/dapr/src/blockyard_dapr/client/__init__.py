"""Blockyard components that reach a pluggable component over its Unix socket.

Any server of Dapr's pluggable-component protocol — Blockyard's own ``blockyard serve``, or one
written in Go, .NET or Java — becomes an ordinary Blockyard component: ``state.dapr-socket``,
``pubsub.dapr-socket``, ``bindings.dapr-socket``, ``secretstores.dapr-socket``. Their metadata is the
socket's path and the metadata to send at ``Init``; their features are the ones the server reports.
That is how the conformance kit runs its suites against a pluggable component in any language::

    blockyard conformance run --socket /tmp/dapr-components-sockets/my-store.sock --kind state
"""

from blockyard_dapr.client.bindings import SocketBinding
from blockyard_dapr.client.pubsub import SocketPubSub
from blockyard_dapr.client.secretstores import SocketSecretStore
from blockyard_dapr.client.state import SocketStateStore

__all__ = ["SocketBinding", "SocketPubSub", "SocketSecretStore", "SocketStateStore"]
