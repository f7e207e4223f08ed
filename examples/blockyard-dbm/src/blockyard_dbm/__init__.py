"""``blockyard-dbm``: an example Blockyard plugin living in its own repository (``state.dbm``)."""
