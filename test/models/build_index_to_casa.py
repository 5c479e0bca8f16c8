"""Build test/models/index_to_casa.model3 with PyQGIS (the same model the Graphical Modeler would save).

    QT_QPA_PLATFORM=offscreen .venv/bin/python test/models/build_index_to_casa.py [output.model3]

The model chains two Mining Eco algorithms:

* ``indices``  miningeco:spectralindices: NDVI of one Landsat scene (the month the scene was taken)
* ``casa``     miningeco:casanpp: monthly NDVI = NDVI_BEFORE (rasters of the earlier months, in order), then the
               scene's NDVI, then NDVI_AFTER (the later months); climate as typed monthly values; land cover

Model inputs: SENSOR, RADIOMETRY, MTL_FILE, RED, NIR (the scene), NDVI_BEFORE, NDVI_AFTER (several rasters each),
TEMPERATURE_VALUES, PRECIPITATION_VALUES, SOLAR_RADIATION_VALUES, LANDCOVER. Model outputs: the annual NPP, the
monthly NPP stack and the per-class table (``casa:NPP``, ``casa:NPP_MONTHLY``, ``casa:NPP_TABLE`` on the command
line).
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from modelkit import add_child, add_parameter, finish, save_model  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_PATH = os.path.join(HERE, "index_to_casa.model3")
CLIMATE = ("TEMPERATURE", "PRECIPITATION", "SOLAR_RADIATION")


def build_model():
    """The model as a QgsProcessingModelAlgorithm (needs the miningeco provider registered)."""
    from qgis.core import (
        QgsApplication,
        QgsProcessing,
        QgsProcessingModelAlgorithm,
        QgsProcessingModelChildParameterSource as Source,
        QgsProcessingParameterEnum,
        QgsProcessingParameterFile,
        QgsProcessingParameterMultipleLayers,
        QgsProcessingParameterRasterLayer,
        QgsProcessingParameterString,
    )

    registry = QgsApplication.processingRegistry()
    indices_alg = registry.algorithmById("miningeco:spectralindices")
    casa_alg = registry.algorithmById("miningeco:casanpp")
    if indices_alg is None or casa_alg is None:
        raise RuntimeError("the miningeco provider is not registered")
    options = indices_alg.parameterDefinition("INDICES").options()
    ndvi_index = next(i for i, o in enumerate(options) if o.split(":")[0] == "NDVI")

    model = QgsProcessingModelAlgorithm("Index to CASA NPP", "Mining Eco models", "miningeco_models")
    model.setHelpContent({
        "ALG_DESC": "NDVI of a Landsat scene with the spectral index calculator, placed between the NDVI rasters "
                    "of the months before and after it, then CASA NPP (Potter et al. 1993, Global Biogeochemical "
                    "Cycles) with monthly climate values and a land-cover raster.",
        "ALG_CREATOR": "Mining Eco",
    })

    def add_param(definition, y):
        add_parameter(model, definition, 120, y)

    add_param(QgsProcessingParameterEnum("SENSOR", "Sensor", indices_alg.parameterDefinition("SENSOR").options(),
                                         defaultValue=2), 40)
    add_param(QgsProcessingParameterEnum("RADIOMETRY", "Input product / radiometry",
                                         indices_alg.parameterDefinition("RADIOMETRY").options(), defaultValue=1), 90)
    add_param(QgsProcessingParameterFile("MTL_FILE", "Landsat MTL metadata file (*_MTL.txt)", extension="txt",
                                         optional=True), 140)
    add_param(QgsProcessingParameterRasterLayer("RED", "Red band"), 190)
    add_param(QgsProcessingParameterRasterLayer("NIR", "Near-infrared band"), 240)
    add_param(QgsProcessingParameterMultipleLayers("NDVI_BEFORE", "NDVI of the months before the scene (in order)",
                                                   QgsProcessing.TypeRaster), 290)
    add_param(QgsProcessingParameterMultipleLayers("NDVI_AFTER", "NDVI of the months after the scene (in order)",
                                                   QgsProcessing.TypeRaster), 340)
    for i, pid in enumerate(CLIMATE):
        definition = casa_alg.parameterDefinition(f"{pid}_VALUES")
        add_param(QgsProcessingParameterString(f"{pid}_VALUES", definition.description()), 390 + 50 * i)
    add_param(QgsProcessingParameterRasterLayer("LANDCOVER", "Land-cover raster (integer codes)"), 540)

    add_child(model, "miningeco:spectralindices", "indices", "NDVI of the scene",
              dict(INDICES=[Source.fromStaticValue([ndvi_index])],
                   **{name: [Source.fromModelParameter(name)] for name in ("SENSOR", "RADIOMETRY", "MTL_FILE", "RED",
                                                                          "NIR")}), 480, 160)
    add_child(model, "miningeco:casanpp", "casa", "CASA NPP", dict(
        NDVI=[Source.fromModelParameter("NDVI_BEFORE"), Source.fromChildOutput("indices", "OUTPUT"),
              Source.fromModelParameter("NDVI_AFTER")],
        LANDCOVER=[Source.fromModelParameter("LANDCOVER")],
        **{f"{pid}_VALUES": [Source.fromModelParameter(f"{pid}_VALUES")] for pid in CLIMATE}), 820, 300,
        (("NPP", "OUTPUT", "Annual NPP", True), ("NPP_MONTHLY", "OUTPUT_MONTHLY", "Monthly NPP", False),
         ("NPP_TABLE", "OUTPUT_TABLE", "NPP per land-cover class", False)))
    return finish(model)


if __name__ == "__main__":
    save_model(build_model, sys.argv[1] if len(sys.argv) > 1 else MODEL_PATH)
