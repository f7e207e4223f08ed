"""The conformance cases of blockyard-local (``cases.yaml``) and the hooks they name."""
