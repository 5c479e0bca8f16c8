"""Build test/models/index_to_rsei.model3 with PyQGIS (the same model the Graphical Modeler would save).

    QT_QPA_PLATFORM=offscreen .venv/bin/python test/models/build_index_to_rsei.py [output.model3]

The model chains three Mining Eco algorithms:

* ``indices``  miningeco:spectralindices: NDVI, WET, NDBSI, MNDWI in one 4-band raster
* ``lst``      miningeco:lst: land surface temperature (deg C)
* ``rsei``     miningeco:rseicomponents: GREENNESS = indices band 1, WETNESS = band 2, DRYNESS = band 3,
               HEAT = lst, MNDWI = indices band 4 (water mask)

Model inputs: SENSOR, RADIOMETRY, MTL_FILE and the band layers BLUE ... THERMAL. Model outputs: the RSEI
raster, the grades, the statistics table and the HTML report (parameters ``rsei:RSEI``,
``rsei:RSEI_GRADES``, ``rsei:RSEI_TABLE``, ``rsei:RSEI_REPORT`` on the command line).
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from modelkit import BAND_ROLES, add_child, add_parameter, finish, save_model  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MODEL_PATH = os.path.join(HERE, "index_to_rsei.model3")
INDEX_KEYS = ("NDVI", "WET", "NDBSI", "MNDWI")   # bands 1..4 of the indices output


def build_model():
    """The model as a QgsProcessingModelAlgorithm (needs the miningeco provider registered)."""
    from qgis.core import (
        QgsApplication,
        QgsProcessingModelAlgorithm,
        QgsProcessingModelChildParameterSource as Source,
        QgsProcessingParameterEnum,
        QgsProcessingParameterFile,
        QgsProcessingParameterRasterLayer,
    )

    registry = QgsApplication.processingRegistry()
    indices_alg = registry.algorithmById("miningeco:spectralindices")
    if indices_alg is None:
        raise RuntimeError("the miningeco provider is not registered")
    options = indices_alg.parameterDefinition("INDICES").options()
    index_values = [next(i for i, o in enumerate(options) if o.split(":")[0] == key) for key in INDEX_KEYS]

    model = QgsProcessingModelAlgorithm("Index to RSEI", "Mining Eco models", "miningeco_models")
    model.setHelpContent({
        "ALG_DESC": "Spectral indices (NDVI, WET, NDBSI, MNDWI) and LST of a Landsat scene, then RSEI from the "
                    "component rasters (water masked with MNDWI > 0).",
        "ALG_CREATOR": "Mining Eco",
    })

    def add_param(definition, y):
        add_parameter(model, definition, 120, y)

    sensor = indices_alg.parameterDefinition("SENSOR")
    radiometry = indices_alg.parameterDefinition("RADIOMETRY")
    add_param(QgsProcessingParameterEnum("SENSOR", "Sensor", sensor.options(), defaultValue=2), 40)
    add_param(QgsProcessingParameterEnum("RADIOMETRY", "Input product / radiometry", radiometry.options(),
                                         defaultValue=1), 90)
    add_param(QgsProcessingParameterFile("MTL_FILE", "Landsat MTL metadata file (*_MTL.txt)", extension="txt",
                                         optional=True), 140)
    for i, (role, label) in enumerate(BAND_ROLES):
        add_param(QgsProcessingParameterRasterLayer(role, label), 190 + 50 * i)

    scene = {name: [Source.fromModelParameter(name)] for name in ("SENSOR", "RADIOMETRY", "MTL_FILE")}

    add_child(model, "miningeco:spectralindices", "indices", "Spectral indices NDVI, WET, NDBSI, MNDWI",
              dict(scene, INDICES=[Source.fromStaticValue(index_values)],
                   **{role: [Source.fromModelParameter(role)] for role, _ in BAND_ROLES if role != "THERMAL"}),
              480, 160)
    add_child(model, "miningeco:lst", "lst", "Land surface temperature",
              dict(scene, **{role: [Source.fromModelParameter(role)] for role in ("RED", "NIR", "THERMAL")}), 480, 360)
    add_child(model, "miningeco:rseicomponents", "rsei", "RSEI from the component rasters", {
        "GREENNESS": [Source.fromChildOutput("indices", "OUTPUT")], "GREENNESS_BAND": [Source.fromStaticValue(1)],
        "WETNESS": [Source.fromChildOutput("indices", "OUTPUT")], "WETNESS_BAND": [Source.fromStaticValue(2)],
        "DRYNESS": [Source.fromChildOutput("indices", "OUTPUT")], "DRYNESS_BAND": [Source.fromStaticValue(3)],
        "HEAT": [Source.fromChildOutput("lst", "OUTPUT")], "HEAT_BAND": [Source.fromStaticValue(1)],
        "MNDWI": [Source.fromChildOutput("indices", "OUTPUT")], "MNDWI_BAND": [Source.fromStaticValue(4)],
    }, 820, 260, (("RSEI", "OUTPUT", "RSEI", True), ("RSEI_GRADES", "OUTPUT_GRADES", "RSEI grades", True),
                  ("RSEI_TABLE", "OUTPUT_TABLE", "RSEI statistics", False),
                  ("RSEI_REPORT", "OUTPUT_REPORT", "RSEI report", False)))
    return finish(model)


if __name__ == "__main__":
    save_model(build_model, sys.argv[1] if len(sys.argv) > 1 else MODEL_PATH)
