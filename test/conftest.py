"""Shared test set-up: the plugin importable from the repo, real test data paths, the provider registered."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from paths import ROOT  # noqa: E402

if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


@pytest.fixture(scope="session")
def provider(qgis_processing):
    """The Mining Eco provider, registered in the test QGIS application."""
    from qgis.core import QgsApplication

    from mining_eco_plugin.provider import MiningEcoProvider
    registry = QgsApplication.processingRegistry()
    prov = registry.providerById("miningeco")
    if prov is None:
        prov = MiningEcoProvider()
        registry.addProvider(prov)
    return prov
