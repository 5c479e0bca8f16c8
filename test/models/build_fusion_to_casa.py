"""Build test/models/fusion_to_casa.model3 with PyQGIS (the same model the Graphical Modeler would save).

    QT_QPA_PLATFORM=offscreen .venv/bin/python test/models/build_fusion_to_casa.py [output.model3]

The model chains two Mining Eco algorithms:

* ``fusion``  miningeco:estarfm: fine NDVI (e.g. Landsat) at tm and tn with the coarse NDVI (e.g. MODIS) of the same
              dates, and the coarse NDVI of each month to predict (in month order): one fused NDVI per month
              (estarfm_YYYY-MM-DD.tif), valid range -1 .. 1 (DN_MIN / DN_MAX of NDVI)
* ``casa``    miningeco:casanpp: the fused months (FUSED_FILES, in the order of COARSE_TP) as the monthly NDVI;
              climate as typed monthly values (one per fused month); land cover

Model inputs: FINE_TM, COARSE_TM, FINE_TN, COARSE_TN, COARSE_TP (several rasters), DATES, HALF_WINDOW,
TEMPERATURE_VALUES, PRECIPITATION_VALUES, SOLAR_RADIATION_VALUES, LANDCOVER. Model outputs: the fused NDVI folder,
the annual NPP, the monthly NPP stack and the per-class table (``fusion:FUSED``, ``casa:NPP``, ``casa:NPP_MONTHLY``,
``casa:NPP_TABLE`` on the command line).
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from modelkit import add_child, add_parameter, finish, save_model  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_PATH = os.path.join(HERE, "fusion_to_casa.model3")
CLIMATE = ("TEMPERATURE", "PRECIPITATION", "SOLAR_RADIATION")
PAIRS = ("FINE_TM", "COARSE_TM", "FINE_TN", "COARSE_TN")


def build_model():
    """The model as a QgsProcessingModelAlgorithm (needs the miningeco provider registered)."""
    from qgis.core import (
        QgsApplication,
        QgsProcessingModelAlgorithm,
        QgsProcessingModelChildParameterSource as Source,
        QgsProcessingParameterMultipleLayers,
        QgsProcessingParameterNumber,
        QgsProcessingParameterRasterLayer,
        QgsProcessingParameterString,
    )

    from mining_eco_plugin import compat
    registry = QgsApplication.processingRegistry()
    fusion_alg = registry.algorithmById("miningeco:estarfm")
    casa_alg = registry.algorithmById("miningeco:casanpp")
    if fusion_alg is None or casa_alg is None:
        raise RuntimeError("the miningeco provider is not registered")

    model = QgsProcessingModelAlgorithm("Fused monthly NDVI to CASA NPP", "Mining Eco models", "miningeco_models")
    model.setHelpContent({
        "ALG_DESC": "Monthly NDVI by ESTARFM (Zhu et al. 2010, Remote Sensing of Environment) from two fine / coarse "
                    "NDVI pairs and the coarse NDVI of each month, straight into CASA NPP (Potter et al. 1993, "
                    "Global Biogeochemical Cycles) with monthly climate values and a land-cover raster. Give the "
                    "coarse NDVI in month order, one per month, and one climate value per month.",
        "ALG_CREATOR": "Mining Eco",
    })

    def add_param(definition, y):
        add_parameter(model, definition, 120, y)

    for i, pid in enumerate(PAIRS):
        add_param(QgsProcessingParameterRasterLayer(pid, fusion_alg.parameterDefinition(pid).description()
                                                    .replace("image", "NDVI")), 40 + 50 * i)
    add_param(QgsProcessingParameterMultipleLayers("COARSE_TP", "Coarse NDVI of each month (in month order)",
                                                   compat.ProcessingSourceType.Raster), 240)
    add_param(QgsProcessingParameterString("DATES", fusion_alg.parameterDefinition("DATES").description(),
                                           optional=True, defaultValue=""), 290)
    half = fusion_alg.parameterDefinition("HALF_WINDOW")
    add_param(QgsProcessingParameterNumber("HALF_WINDOW", half.description(), compat.ProcessingNumberParameterType.Integer,
                                           defaultValue=half.defaultValue(), minValue=half.minimum(),
                                           maxValue=half.maximum()), 340)
    for i, pid in enumerate(CLIMATE):
        definition = casa_alg.parameterDefinition(f"{pid}_VALUES")
        add_param(QgsProcessingParameterString(f"{pid}_VALUES", definition.description()), 390 + 50 * i)
    add_param(QgsProcessingParameterRasterLayer("LANDCOVER", "Land-cover raster (integer codes)"), 540)

    add_child(model, "miningeco:estarfm", "fusion", "ESTARFM monthly NDVI", dict(
        DN_MIN=[Source.fromStaticValue(-1.0)], DN_MAX=[Source.fromStaticValue(1.0)],
        **{name: [Source.fromModelParameter(name)] for name in PAIRS + ("COARSE_TP", "DATES", "HALF_WINDOW")}),
        480, 160, (("FUSED", "OUTPUT_FOLDER", "Fused monthly NDVI", False),))
    add_child(model, "miningeco:casanpp", "casa", "CASA NPP", dict(
        NDVI=[Source.fromChildOutput("fusion", "FUSED_FILES")],
        LANDCOVER=[Source.fromModelParameter("LANDCOVER")],
        **{f"{pid}_VALUES": [Source.fromModelParameter(f"{pid}_VALUES")] for pid in CLIMATE}), 820, 300,
        (("NPP", "OUTPUT", "Annual NPP", True), ("NPP_MONTHLY", "OUTPUT_MONTHLY", "Monthly NPP", False),
         ("NPP_TABLE", "OUTPUT_TABLE", "NPP per land-cover class", False)))
    return finish(model)


if __name__ == "__main__":
    save_model(build_model, sys.argv[1] if len(sys.argv) > 1 else MODEL_PATH)
