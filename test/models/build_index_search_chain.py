"""Build test/models/index_search_chain.model3 with PyQGIS (the same model the Graphical Modeler would save).

    QT_QPA_PLATFORM=offscreen .venv/bin/python test/models/build_index_search_chain.py [output.model3]

The model chains four Mining Eco steps (issue 15): a new index found by search, computed for the whole scene.

* ``bands``    miningeco:spectralindices on one scene (bands BLUE ... SWIR2, SENSOR, RADIOMETRY, SCALE, OFFSET):
               CUSTOM_EXPRESSIONS "B=B;G=G;R=R;NIR=NIR;SWIR1=SWIR1;SWIR2=SWIR2" -> the six reflectance bands in one
               raster, band descriptions = the roles, after NDVI (a model child given no INDICES gets the
               parameter's default, NDVI; the search leaves it out: its default band fields are the roles)
* ``sample``   miningeco:samplerasters: POINTS, RASTERS = that raster -> fields B ... SWIR2
* ``search``   miningeco:indexsearch: TARGET_FIELD = TARGET, every form, TOP_N = TOP_N; its SELECTED_EXPRESSIONS
               string output (name=expression lines) feeds the next child
* ``indices``  miningeco:spectralindices on the same scene: INDICES SAI, TRSI, SBCI, GOSI (Lan et al. 2025) and
               CUSTOM_EXPRESSIONS = the search's selection -> the four published indices, then one band per
               selected formula named by its name

Give every model parameter on the command line (qgis_process 3.22 does not fill in a left-out model parameter's
default). Model outputs: ``indices:NEW_INDICES`` (the new indices raster) and ``search:FORMULAS`` (the ranked
table), mandatory. Example (North Carolina Landsat 7 2000, DN 0-255)::

    qgis_process.bin run test/models/index_search_chain.model3 -- SENSOR=1 RADIOMETRY=4 \\
      SCALE=0.00392156862745098 OFFSET=0 BLUE=lsat7_2000_10.tif ... SWIR2=lsat7_2000_70.tif \\
      POINTS=samples.gpkg TARGET=ec TOP_N=2 indices:NEW_INDICES=/tmp/new.tif search:FORMULAS=/tmp/formulas.csv
"""
from __future__ import annotations

import os
import sys
from functools import partial

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from modelkit import BAND_ROLES, add_child, add_parameter, finish, save_model  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_PATH = os.path.join(HERE, "index_search_chain.model3")
ROLES = "B=B;G=G;R=R;NIR=NIR;SWIR1=SWIR1;SWIR2=SWIR2"


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
    ids = ("spectralindices", "samplerasters", "indexsearch")
    if any(registry.algorithmById(f"miningeco:{i}") is None for i in ids):
        raise RuntimeError("the miningeco provider is not registered")
    indices_alg = registry.algorithmById("miningeco:spectralindices")
    products = [p.split(":")[0] for p in indices_alg.parameterDefinition("INDICES").options()]
    published = [products.index(k) for k in ("SAI", "TRSI", "SBCI", "GOSI")]

    model = QgsProcessingModelAlgorithm("Index search chain: samples to new index map", "Mining Eco models",
                                        "miningeco_models")
    model.setHelpContent({
        "ALG_DESC": "The reflectance bands of one scene (miningeco:spectralindices, CUSTOM_EXPRESSIONS B=B ...), "
                    "sampled at the points (miningeco:samplerasters), searched for the two- and three-band "
                    "formulas best correlated with the target field (miningeco:indexsearch), and the selected "
                    "formulas computed for the whole scene (miningeco:spectralindices, CUSTOM_EXPRESSIONS = the "
                    "search's SELECTED_EXPRESSIONS).",
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
    roles = [(role, text) for role, text in BAND_ROLES if role != "THERMAL"]
    for i, (role, text) in enumerate(roles):
        add_param(QgsProcessingParameterRasterLayer(role, text), 120, 230 + 50 * i)
    add_param(QgsProcessingParameterFeatureSource("POINTS", "Sample points", [QgsProcessing.TypeVectorPoint]),
              500, 30)
    add_param(QgsProcessingParameterField("TARGET", "Target field (measured value)", parentLayerParameterName="POINTS",
                                          type=QgsProcessingParameterField.Numeric), 500, 80)
    add_param(QgsProcessingParameterNumber("TOP_N", "Formulas passed on", QgsProcessingParameterNumber.Integer,
                                           defaultValue=4, minValue=1, maxValue=100), 500, 130)

    scene = {"SENSOR": [Source.fromModelParameter("SENSOR")],
             "RADIOMETRY": [Source.fromModelParameter("RADIOMETRY")],
             "SCALE": [Source.fromModelParameter("SCALE")],
             "OFFSET": [Source.fromModelParameter("OFFSET")]}
    scene.update({role: [Source.fromModelParameter(role)] for role, _ in roles})
    add_child(model, "miningeco:spectralindices", "bands", "Reflectance bands named by role",
              dict(scene, INDICES=[Source.fromStaticValue([])], CUSTOM_EXPRESSIONS=[Source.fromStaticValue(ROLES)]),
              340, 560)
    add_child(model, "miningeco:samplerasters", "sample", "Sample the bands at the points", {
        "POINTS": [Source.fromModelParameter("POINTS")],
        "RASTERS": [Source.fromChildOutput("bands", "OUTPUT")],
        "METHOD": [Source.fromStaticValue(0)]}, 700, 560)
    add_child(model, "miningeco:indexsearch", "search", "Search two- and three-band formulas", {
        "INPUT": [Source.fromChildOutput("sample", "OUTPUT")],
        "TARGET_FIELD": [Source.fromModelParameter("TARGET")],
        "TOP_N": [Source.fromModelParameter("TOP_N")]}, 700, 660,
        (("FORMULAS", "OUTPUT_TABLE", "Ranked formulas", True),))
    add_child(model, "miningeco:spectralindices", "indices", "The selected formulas on the scene",
              dict(scene, INDICES=[Source.fromStaticValue(published)],
                   CUSTOM_EXPRESSIONS=[Source.fromChildOutput("search", "SELECTED_EXPRESSIONS")]), 500, 760,
              (("NEW_INDICES", "OUTPUT", "SAI, TRSI, SBCI, GOSI and one band per selected formula", True),))
    return finish(model)


if __name__ == "__main__":
    save_model(build_model, sys.argv[1] if len(sys.argv) > 1 else MODEL_PATH)
