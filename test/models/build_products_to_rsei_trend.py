"""Build test/models/products_to_rsei_trend.model3 with PyQGIS (the same model the Graphical Modeler would save).

    QT_QPA_PLATFORM=offscreen .venv/bin/python test/models/build_products_to_rsei_trend.py [output.model3]

From a folder of Landsat / Sentinel-2 products to 25 years of RSEI, their trend and the time-series report
(issue 13, item 4). The model chains two Mining Eco algorithms:

* ``composite``  miningeco:composite: the products of PRODUCT_FOLDER (searched recursively) composited per year
                 (medoid; the season MONTH_FIRST - MONTH_LAST), on the STUDY_AREA when one is given;
* ``series``     miningeco:rseiseries on the composites (COMPOSITES = composite:COMPOSITES): RSEI per year, the
                 per-pixel trend (trend_class.tif, trend_slope.tif ...) and the time-series summary
                 (timeseries.html) in SERIES_FOLDER.

Inputs (give every one on the command line: qgis_process 3.22 does not fill in a left-out model parameter's
default): PRODUCT_FOLDER, STUDY_AREA (may be empty), MONTH_FIRST / MONTH_LAST (0 = January), TOA_OK (true for
Level-1 products). Model outputs: ``composite:COMPOSITE_TABLE`` (the composites' statistics),
``series:SERIES_FOLDER`` (the yearly RSEI, grades, trend and summary), ``series:YEARS_TABLE`` (a row per year)
and ``series:SERIES_REPORT``. Example::

    qgis_process.bin run test/models/products_to_rsei_trend.model3 -- PRODUCT_FOLDER=/data/landsat \\
      STUDY_AREA= MONTH_FIRST=5 MONTH_LAST=8 TOA_OK=false composite:COMPOSITE_TABLE=/tmp/composites.csv \\
      series:SERIES_FOLDER=/tmp/series series:YEARS_TABLE=/tmp/years.csv series:SERIES_REPORT=/tmp/series.html
"""
from __future__ import annotations

import os
import sys
from functools import partial

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from modelkit import add_child, add_parameter, finish, save_model  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_PATH = os.path.join(HERE, "products_to_rsei_trend.model3")


def build_model():
    """The model as a QgsProcessingModelAlgorithm (needs the miningeco provider registered)."""
    from qgis.core import (
        QgsApplication,
        QgsProcessingModelAlgorithm,
        QgsProcessingModelChildParameterSource as Source,
        QgsProcessingParameterBoolean,
        QgsProcessingParameterEnum,
        QgsProcessingParameterFeatureSource,
        QgsProcessingParameterFile,
    )

    from mining_eco_plugin import compat

    registry = QgsApplication.processingRegistry()
    composite = registry.algorithmById("miningeco:composite")
    if composite is None or registry.algorithmById("miningeco:rseiseries") is None:
        raise RuntimeError("the miningeco provider is not registered")

    model = QgsProcessingModelAlgorithm("Products to RSEI trend", "Mining Eco models", "miningeco_models")
    model.setHelpContent({
        "ALG_DESC": "A folder of Landsat / Sentinel-2 products as downloaded, composited per year over the chosen "
                    "season (miningeco:composite, medoid, clipped to the study area), then RSEI of every year with "
                    "grades, the per-pixel Theil-Sen / Mann-Kendall trend and the time-series summary of the yearly "
                    "mean RSEI (miningeco:rseiseries).",
        "ALG_CREATOR": "Mining Eco",
    })
    add_param = partial(add_parameter, model)
    months = composite.parameterDefinition("MONTH_FIRST").options()
    add_param(QgsProcessingParameterFile("PRODUCT_FOLDER", "Folder of products (searched recursively)",
                                         QgsProcessingParameterFile.Behavior.Folder), 120, 30)
    add_param(QgsProcessingParameterFeatureSource("STUDY_AREA", "Study area",
                                                  [compat.ProcessingSourceType.VectorPolygon], optional=True), 120, 80)
    add_param(QgsProcessingParameterEnum("MONTH_FIRST", "Season: first month", months, defaultValue=5), 120, 130)
    add_param(QgsProcessingParameterEnum("MONTH_LAST", "Season: last month", months, defaultValue=8), 120, 180)
    add_param(QgsProcessingParameterBoolean("TOA_OK", "Level-1 top-of-atmosphere reflectance is fine",
                                            defaultValue=False), 120, 230)

    add_child(model, "miningeco:composite", "composite", "Yearly composites of the products", {
        "PRODUCT_FOLDER": [Source.fromModelParameter("PRODUCT_FOLDER")],
        "STUDY_AREA": [Source.fromModelParameter("STUDY_AREA")],
        "MONTH_FIRST": [Source.fromModelParameter("MONTH_FIRST")],
        "MONTH_LAST": [Source.fromModelParameter("MONTH_LAST")],
        "TOA_OK": [Source.fromModelParameter("TOA_OK")],
    }, 420, 130, (("COMPOSITE_TABLE", "OUTPUT_TABLE", "Composite statistics", True),))
    add_child(model, "miningeco:rseiseries", "series", "RSEI per year, trend and time-series summary", {
        "COMPOSITES": [Source.fromChildOutput("composite", "COMPOSITES")],
        "TREND": [Source.fromStaticValue(True)],
        "TIMESERIES": [Source.fromStaticValue(True)],
    }, 420, 330, (("SERIES_FOLDER", "OUTPUT_FOLDER", "RSEI series folder (yearly RSEI, trend, summary)", True),
                  ("YEARS_TABLE", "OUTPUT_TABLE", "RSEI per year", True),
                  ("SERIES_REPORT", "OUTPUT_REPORT", "RSEI series report", False)))
    return finish(model)


if __name__ == "__main__":
    save_model(build_model, sys.argv[1] if len(sys.argv) > 1 else MODEL_PATH)
