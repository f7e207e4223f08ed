"""Blockyard's embedded components: no server needed.

=========================  =====================================================
``state.in-memory``        :class:`blockyard_local.state_memory.InMemoryStateStore`
``state.sqlite``           :class:`blockyard_local.state_sqlite.SQLiteStateStore`
``pubsub.in-memory``       :class:`blockyard_local.pubsub_memory.InMemoryPubSub`
``secretstores.local.file`` :class:`blockyard_local.secretstores_file.LocalFileSecretStore`
``secretstores.local.env``  :class:`blockyard_local.secretstores_env.LocalEnvSecretStore`
``bindings.localstorage``  :class:`blockyard_local.bindings_localstorage.LocalStorageBinding`
``bindings.cron``          :class:`blockyard_local.bindings_cron.CronBinding`
``bindings.http``          :class:`blockyard_local.bindings_http.HttpBinding`
=========================  =====================================================

Importing this package imports none of them; each module is imported when its component is used.
"""

__version__ = "0.1.0"
