"""Build test/models/rsei_transfer.model3 with PyQGIS (the same model the Graphical Modeler would save).

    QT_QPA_PLATFORM=offscreen .venv/bin/python test/models/build_rsei_transfer.py [output.model3]

The model chains three Mining Eco algorithms:

* ``rsei1``     miningeco:rsei on the date-1 scene (bands DATE1_BLUE ... DATE1_THERMAL, DATE1_SENSOR, DATE1_MTL)
* ``rsei2``     miningeco:rsei on the date-2 scene (DATE2_...)
* ``transfer``  miningeco:transfermatrix: DATE1 = rsei1 grades, DATE2 = rsei2 grades, class names
                1=Worst,2=Poor,3=Moderate,4=Good,5=Excellent (static: the RSEI grades are fixed; a model
                parameter's default is not applied by qgis_process 3.22 when the parameter is left out),
                areas in km2

Both scenes share RADIOMETRY (1 = Level-1 DN with the MTL file; give every model parameter on the command
line: qgis_process 3.22 does not fill in a left-out model parameter's default). Model outputs, on the command
line: ``rsei1:DATE1_GRADES``, ``rsei2:DATE2_GRADES`` (the two grade rasters, mandatory), ``transfer:MATRIX``
(the matrix table, mandatory), ``transfer:CHANGE`` (change raster from * 10 + to), ``transfer:LEGEND`` and
``transfer:HEATMAP`` (PNG). Example (Landsat 7 2001 -> Landsat 8 2013, test/data/marburg)::

    qgis_process.bin run test/models/rsei_transfer.model3 -- RADIOMETRY=1 \\
      DATE1_SENSOR=1 DATE1_MTL=${L7}_MTL.txt DATE1_BLUE=${L7}_B1.TIF ... DATE1_THERMAL=${L7}_B6_VCID_1.TIF \\
      DATE2_SENSOR=2 DATE2_MTL=${L8}_MTL.txt DATE2_BLUE=${L8}_B2.TIF ... DATE2_THERMAL=${L8}_B10.TIF \\
      rsei1:DATE1_GRADES=/tmp/g1.tif rsei2:DATE2_GRADES=/tmp/g2.tif \\
      transfer:MATRIX=/tmp/matrix.csv transfer:CHANGE=/tmp/change.tif
"""
from __future__ import annotations

import os
import sys
from functools import partial

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from modelkit import BAND_ROLES, add_child, add_parameter, finish, save_model  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MODEL_PATH = os.path.join(HERE, "rsei_transfer.model3")
DATES = (("DATE1", "rsei1", "date 1", 1), ("DATE2", "rsei2", "date 2", 2))   # prefix, child id, label, default sensor
GRADE_NAMES = "1=Worst,2=Poor,3=Moderate,4=Good,5=Excellent"


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
    rsei_alg = registry.algorithmById("miningeco:rsei")
    if rsei_alg is None or registry.algorithmById("miningeco:transfermatrix") is None:
        raise RuntimeError("the miningeco provider is not registered")

    model = QgsProcessingModelAlgorithm("RSEI transfer between two dates", "Mining Eco models", "miningeco_models")
    model.setHelpContent({
        "ALG_DESC": "RSEI of two Landsat scenes of the same grid (miningeco:rsei, five grades each), then the "
                    "transfer matrix of the grades from date 1 to date 2 (miningeco:transfermatrix): matrix in km2, "
                    "change raster (from * 10 + to), legend and heatmap.",
        "ALG_CREATOR": "Mining Eco",
    })

    add_param = partial(add_parameter, model)

    radiometry = rsei_alg.parameterDefinition("RADIOMETRY")
    sensors = rsei_alg.parameterDefinition("SENSOR").options()
    # the inputs in the order a user fills them in (modelkit.finish keeps it): the sensors and the radiometry,
    # then each date's MTL file and bands
    for d, (prefix, child_id, label, sensor) in enumerate(DATES):
        add_param(QgsProcessingParameterEnum(f"{prefix}_SENSOR", f"Sensor, {label}", sensors, defaultValue=sensor),
                  120 + 380 * d, 140)
    add_param(QgsProcessingParameterEnum("RADIOMETRY", "Input product / radiometry (both dates)",
                                         radiometry.options(), defaultValue=1), 120, 30)
    for d, (prefix, child_id, label, sensor) in enumerate(DATES):
        x, y0 = 120 + 380 * d, 140
        add_param(QgsProcessingParameterFile(f"{prefix}_MTL", f"Landsat MTL file (*_MTL.txt), {label}",
                                             extension="txt", optional=True), x, y0 + 50)
        for i, (role, text) in enumerate(BAND_ROLES):
            add_param(QgsProcessingParameterRasterLayer(f"{prefix}_{role}", f"{text}, {label}"), x, y0 + 100 + 50 * i)

        sources = {"SENSOR": [Source.fromModelParameter(f"{prefix}_SENSOR")],
                   "RADIOMETRY": [Source.fromModelParameter("RADIOMETRY")],
                   "MTL_FILE": [Source.fromModelParameter(f"{prefix}_MTL")]}
        sources.update({role: [Source.fromModelParameter(f"{prefix}_{role}")] for role, _ in BAND_ROLES})
        # the rsei child's grades output is not optional: a model output must name it
        add_child(model, "miningeco:rsei", child_id, f"RSEI, {label}", sources, x + 200, 560,
                  ((f"{prefix}_GRADES", "OUTPUT_GRADES", f"RSEI grades, {label}", True),))

    add_child(model, "miningeco:transfermatrix", "transfer", "Transfer matrix of the RSEI grades", {
        "DATE1": [Source.fromChildOutput("rsei1", "OUTPUT_GRADES")],
        "DATE2": [Source.fromChildOutput("rsei2", "OUTPUT_GRADES")],
        "CLASS_NAMES": [Source.fromStaticValue(GRADE_NAMES)],
        "UNITS": [Source.fromStaticValue(0)],
    }, 500, 720, (
        ("MATRIX", "OUTPUT_MATRIX", "Transfer matrix of the RSEI grades (km2)", True),
        ("CHANGE", "OUTPUT_CHANGE", "RSEI grade change (from * 10 + to)", False),
        ("LEGEND", "OUTPUT_LEGEND", "Legend of the grade change codes", False),
        ("HEATMAP", "OUTPUT_HEATMAP", "Transfer matrix heatmap (PNG)", False)))
    return finish(model)


if __name__ == "__main__":
    save_model(build_model, sys.argv[1] if len(sys.argv) > 1 else MODEL_PATH)
