"""The plugin entry point stays light and matches the component classes."""

from __future__ import annotations

import subprocess
import sys

from blockyard_azure.binding import CosmosDBBinding
from blockyard_azure.plugin import SPECS
from blockyard_azure.state import CosmosDBStateStore


def test_listing_imports_no_azure_sdk() -> None:
    code = "import sys, blockyard_azure.plugin; assert not [m for m in sys.modules if m.startswith('azure')]"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_specs_match_the_classes() -> None:
    state, binding = SPECS
    assert set(state.features) == {str(f) for f in CosmosDBStateStore.features}
    assert set(binding.operations) == set(CosmosDBBinding.operations)
