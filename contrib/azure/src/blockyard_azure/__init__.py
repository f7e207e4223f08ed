"""Blockyard components on Azure Cosmos DB (``azure.cosmos.aio``).

- ``state.azure.cosmosdb``: :class:`blockyard_azure.state.CosmosDBStateStore`
- ``bindings.azure.cosmosdb``: :class:`blockyard_azure.binding.CosmosDBBinding`

Importing this package imports no Azure SDK; the component modules do.
"""

__version__ = "0.1.0"
