"""Build test/models/salinity_chain.model3 with PyQGIS (the same model the Graphical Modeler would save).

    QT_QPA_PLATFORM=offscreen .venv/bin/python test/models/build_salinity_chain.py [output.model3]

The model chains five Mining Eco algorithms (issue 4):

* ``indices``    miningeco:spectralindices on one scene (bands BLUE ... SWIR2, SENSOR, RADIOMETRY, SCALE, OFFSET)
                 -> the indices of INDEX_KEYS in one multi-band raster (band description = index key)
* ``sample``     miningeco:samplerasters: POINTS, RASTERS = the indices raster (nearest pixel)
* ``screening``  miningeco:vipscreening: TARGET_FIELD = TARGET, candidates = INDEX_KEYS (static: the point
                 layer may carry other numeric fields the indices raster does not have); its SELECTED_FIELDS
                 string output feeds the training
* ``train``      miningeco:trainmodel: INPUT = the samples, TARGET, SELECTED_FIELDS = the screening's selection,
                 MODEL random forest, systematic 1-in-5 validation
* ``apply``      miningeco:applymodel: MODEL_FILE = the trained model file, RASTERS = the indices raster

Give every model parameter on the command line (qgis_process 3.22 does not fill in a left-out model
parameter's default). Model outputs: ``apply:PREDICTED`` (predicted raster), ``apply:GRADES`` (grade raster),
``train:METRICS`` (metrics table), all mandatory; optional ``indices:INDICES`` (the indices raster) and
``train:MODEL_FILE`` (the trained model file), temporary files when left out. Example (North Carolina Landsat 7 2000, DN 0-255)::

    qgis_process.bin run test/models/salinity_chain.model3 -- SENSOR=1 RADIOMETRY=4 SCALE=0.00392156862745098 \\
      OFFSET=0 BLUE=lsat7_2000_10.tif ... SWIR2=lsat7_2000_70.tif POINTS=landsat96_points.shp TARGET=id \\
      apply:PREDICTED=/tmp/pred.tif apply:GRADES=/tmp/grades.tif train:METRICS=/tmp/metrics.csv

(skops must be importable by the Python QGIS runs: the model file is written with it.)
"""
from __future__ import annotations

import os
import sys
from functools import partial

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from modelkit import BAND_ROLES, add_child, add_parameter, finish, save_model  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_PATH = os.path.join(HERE, "salinity_chain.model3")
INDEX_KEYS = ("NDVI", "DVI", "RVI", "ARVI", "SI_BR", "SI1", "SI2", "S1", "S2", "S5", "NDMI", "MNDWI", "SI4")


def build_model():
    """The model as a QgsProcessingModelAlgorithm (needs the miningeco provider registered)."""
    from qgis.core import (
        QgsApplication,
        QgsProcessing,
        QgsProcessingModelAlgorithm,
        QgsProcessingModelChildParameterSource as Source,
        QgsProcessingParameterEnum,
        QgsProcessingParameterFeatureSource,
        QgsProcessingParameterField,
        QgsProcessingParameterNumber,
        QgsProcessingParameterRasterLayer,
    )

    registry = QgsApplication.processingRegistry()
    ids = ("spectralindices", "samplerasters", "vipscreening", "trainmodel", "applymodel")
    if any(registry.algorithmById(f"miningeco:{i}") is None for i in ids):
        raise RuntimeError("the miningeco provider is not registered")
    indices_alg = registry.algorithmById("miningeco:spectralindices")
    products = indices_alg.parameterDefinition("INDICES").options()
    index_numbers = [[p.split(":")[0] for p in products].index(k) for k in INDEX_KEYS]
    train_alg = registry.algorithmById("miningeco:trainmodel")
    rf = train_alg.parameterDefinition("MODEL").options().index("Random forest")

    model = QgsProcessingModelAlgorithm("Salinity chain: indices to predicted map", "Mining Eco models",
                                        "miningeco_models")
    model.setHelpContent({
        "ALG_DESC": "Spectral indices of one scene (miningeco:spectralindices, one multi-band raster), sampled at "
                    "the points (miningeco:samplerasters), screened against the target field by VIP and grey "
                    "relational analysis (miningeco:vipscreening), a random forest trained on the selected "
                    "indices (miningeco:trainmodel) and applied to the indices raster (miningeco:applymodel): "
                    "predicted raster, grades and the training metrics table.",
        "ALG_CREATOR": "Mining Eco",
    })

    add_param = partial(add_parameter, model)
    add_param(QgsProcessingParameterEnum("SENSOR", "Sensor", indices_alg.parameterDefinition("SENSOR").options(),
                                         defaultValue=1), 120, 30)
    add_param(QgsProcessingParameterEnum("RADIOMETRY", "Input product / radiometry",
                                         indices_alg.parameterDefinition("RADIOMETRY").options(), defaultValue=4),
              120, 80)
    add_param(QgsProcessingParameterNumber("SCALE", "Custom scale (reflectance = DN x scale + offset)",
                                           QgsProcessingParameterNumber.Double, defaultValue=1.0), 120, 130)
    add_param(QgsProcessingParameterNumber("OFFSET", "Custom offset", QgsProcessingParameterNumber.Double,
                                           defaultValue=0.0), 120, 180)
    roles = [(role, text) for role, text in BAND_ROLES if role != "THERMAL"]   # no LST in INDEX_KEYS
    for i, (role, text) in enumerate(roles):
        add_param(QgsProcessingParameterRasterLayer(role, text), 120, 230 + 50 * i)
    add_param(QgsProcessingParameterFeatureSource("POINTS", "Sample points", [QgsProcessing.TypeVectorPoint]),
              500, 30)
    add_param(QgsProcessingParameterField("TARGET", "Target field (measured value)", parentLayerParameterName="POINTS",
                                          type=QgsProcessingParameterField.Numeric), 500, 80)

    indices_sources = {"INDICES": [Source.fromStaticValue(index_numbers)],
                       "SENSOR": [Source.fromModelParameter("SENSOR")],
                       "RADIOMETRY": [Source.fromModelParameter("RADIOMETRY")],
                       "SCALE": [Source.fromModelParameter("SCALE")],
                       "OFFSET": [Source.fromModelParameter("OFFSET")]}
    indices_sources.update({role: [Source.fromModelParameter(role)] for role, _ in roles})
    add_child(model, "miningeco:spectralindices", "indices", "Spectral indices", indices_sources, 340, 560,
              (("INDICES", "OUTPUT", "Indices (multi-band)", False),))
    add_child(model, "miningeco:samplerasters", "sample", "Sample the indices at the points", {
        "POINTS": [Source.fromModelParameter("POINTS")],
        "RASTERS": [Source.fromChildOutput("indices", "OUTPUT")],
        "METHOD": [Source.fromStaticValue(0)]}, 700, 560)
    add_child(model, "miningeco:vipscreening", "screening", "VIP / grey relational screening", {
        "INPUT": [Source.fromChildOutput("sample", "OUTPUT")],
        "TARGET_FIELD": [Source.fromModelParameter("TARGET")],
        "FIELDS": [Source.fromStaticValue(list(INDEX_KEYS))]}, 700, 660)
    add_child(model, "miningeco:trainmodel", "train", "Train a random forest on the selected indices", {
        "INPUT": [Source.fromChildOutput("sample", "OUTPUT")],
        "TARGET": [Source.fromModelParameter("TARGET")],
        "SELECTED_FIELDS": [Source.fromChildOutput("screening", "SELECTED_FIELDS")],
        "MODEL": [Source.fromStaticValue(rf)]}, 700, 760,
        (("METRICS", "OUTPUT_TABLE", "Training metrics", True),
         ("MODEL_FILE", "OUTPUT_MODEL", "Trained model file (*.model)", False)))
    add_child(model, "miningeco:applymodel", "apply", "Apply the model to the indices", {
        "MODEL_FILE": [Source.fromChildOutput("train", "OUTPUT_MODEL")],
        "RASTERS": [Source.fromChildOutput("indices", "OUTPUT")]}, 500, 860,
        (("PREDICTED", "OUTPUT", "Predicted raster", True),
         ("GRADES", "OUTPUT_GRADES", "Predicted grades", True)))
    return finish(model)


if __name__ == "__main__":
    save_model(build_model, sys.argv[1] if len(sys.argv) > 1 else MODEL_PATH)
