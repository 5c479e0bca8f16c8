"""The Processing provider: id "miningeco", icon, and the list of algorithms (grouped)."""
import os

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from .algorithms.composite import CompositeAlgorithm
from .algorithms.estarfm import EstarfmAlgorithm
from .algorithms.index_calculator import SpectralIndexAlgorithm
from .algorithms.lst import LandSurfaceTemperatureAlgorithm
from .algorithms.rsei import RseiAlgorithm, RseiFromComponentsAlgorithm
from .algorithms.rsei_series import RseiSeriesAlgorithm
from .algorithms.eg_index import EgIndexAlgorithm
from .algorithms.coupling import CouplingAlgorithm
from .algorithms.class_areas import ClassAreasAlgorithm
from .algorithms.transfer_matrix import TransferMatrixAlgorithm
from .algorithms.trend import TrendAlgorithm
from .algorithms.timeseries import TimeSeriesAlgorithm
from .algorithms.sample_rasters import SampleRastersAlgorithm
from .algorithms.vip_screening import VipScreeningAlgorithm
from .algorithms.index_search import IndexSearchAlgorithm
from .algorithms.train_model import TrainModelAlgorithm
from .algorithms.apply_model import ApplyModelAlgorithm
from .algorithms.geodetector import GeodetectorAlgorithm
from .algorithms.local_correlation import LocalCorrelationAlgorithm
from .algorithms.mlr_contribution import MlrContributionAlgorithm
from .algorithms.rf_contribution import RfContributionAlgorithm
from .algorithms.casa_npp import CasaNppAlgorithm
from .algorithms.install_dependencies import InstallDependenciesAlgorithm
from .algorithms.kriging import KrigingAlgorithm

ALGORITHMS = (
    # Indices
    CompositeAlgorithm,
    EstarfmAlgorithm,
    SpectralIndexAlgorithm,
    LandSurfaceTemperatureAlgorithm,
    # Ecology
    RseiAlgorithm,
    RseiFromComponentsAlgorithm,
    RseiSeriesAlgorithm,
    EgIndexAlgorithm,
    CouplingAlgorithm,
    # Change
    TransferMatrixAlgorithm,
    ClassAreasAlgorithm,
    TrendAlgorithm,
    TimeSeriesAlgorithm,
    # Salinity
    SampleRastersAlgorithm,
    IndexSearchAlgorithm,
    VipScreeningAlgorithm,
    TrainModelAlgorithm,
    ApplyModelAlgorithm,
    # Productivity
    CasaNppAlgorithm,
    # Drivers
    KrigingAlgorithm,
    GeodetectorAlgorithm,
    LocalCorrelationAlgorithm,
    MlrContributionAlgorithm,
    RfContributionAlgorithm,
    # Set-up
    InstallDependenciesAlgorithm,
)


class MiningEcoProvider(QgsProcessingProvider):
    def id(self):
        return "miningeco"

    def name(self):
        return "Mining Eco"

    def longName(self):  # noqa: N802
        from .metadata import plugin_version
        return f"Mining Eco {plugin_version()}"

    def icon(self):
        return QIcon(os.path.join(os.path.dirname(__file__), "icon.svg"))

    def svgIconPath(self):  # noqa: N802
        return os.path.join(os.path.dirname(__file__), "icon.svg")

    def load(self):
        from .algorithms import execution
        execution.add_settings(self)
        self.refreshAlgorithms()
        return True

    def unload(self):
        from .algorithms import execution
        from .raster.executor import close_clusters
        execution.remove_settings()
        close_clusters()

    def loadAlgorithms(self):  # noqa: N802
        for cls in ALGORITHMS:
            self.addAlgorithm(cls())
