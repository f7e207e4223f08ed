"""Blockyard state store on Apache Cassandra: ``state.cassandra``.

Install ``blockyard-cassandra`` and load a Dapr Component YAML of type ``state.cassandra``, or import
:class:`blockyard_cassandra.state.CassandraStateStore`. This package imports no Cassandra driver until
a component is used.
"""

__version__ = "0.1.0"
