"""Shared test set-up: the plugin importable from the repo, real test data paths, the provider registered."""
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "test", "data")
MARBURG = os.path.join(DATA, "marburg")
L8 = os.path.join(MARBURG, "LC08_L1TP_195025_20130707_20170503_01_T1")
L7 = os.path.join(MARBURG, "LE07_L1TP_195025_20010730_20170204_01_T1")
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
