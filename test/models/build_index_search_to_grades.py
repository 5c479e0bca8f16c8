"""Build test/models/index_search_to_grades.model3 with PyQGIS (the same model the Graphical Modeler would save).

    QT_QPA_PLATFORM=offscreen .venv/bin/python test/models/build_index_search_to_grades.py [output.model3]

The whole chain of issue 15 in one model: samples, then index search, then indices, then screening, then
Optuna-tuned stacking, then apply with grades. Its first four children are test/models/index_search_chain.model3
(built by build_index_search_chain.build_model, not copied):

* ``bands``           miningeco:spectralindices: the six reflectance bands of the scene named by role
* ``sample``          miningeco:samplerasters: the bands at POINTS
* ``search``          miningeco:indexsearch: TARGET, TOP_N -> SELECTED_EXPRESSIONS
* ``indices``         miningeco:spectralindices: SAI, TRSI, SBCI, GOSI and CUSTOM_EXPRESSIONS = the selection

then:

* ``sample_indices``  miningeco:samplerasters: POINTS, RASTERS = the indices raster; its SAMPLED_FIELDS (the
                      indices raster's band names, comma-separated) are the screening's candidates
* ``screening``       miningeco:vipscreening: TARGET_FIELD = TARGET, FIELDS = the expression
                      ``string_to_array(@Sample_the_indices_at_the_points_SAMPLED_FIELDS, ',')``: the sampled
                      fields as a list (the point layer may carry other numeric fields, which must not become
                      candidates; a field parameter takes a list of names, a comma-separated string is one name).
                      QGIS names a child's results in expressions by the child's description (spaces and
                      punctuation as underscores), not by its id: renaming "Sample the indices at the points" in
                      the Modeler needs the expression renamed too.
* ``train``           miningeco:trainmodel: SELECTED_FIELDS = the screening's selection, MODEL stacking
                      (MLP + RF + boosting -> PLSR), SEARCH on, SEARCH_METHOD Optuna TPE (seed 42, the default
                      parameters as trial 0), SEARCH_BUDGET trials, systematic 1-in-5 validation, EXPLAIN on
                      (SHAP: the stack's trees by TreeExplainer, its MLP by KernelExplainer, tool defaults)
* ``apply``           miningeco:applymodel: MODEL_FILE = the trained model, RASTERS = the indices raster, the
                      default grade table (upper bounds 1, 2, 4, 6)

Every seed is the tools' default, 42. Give every model parameter on the command line (qgis_process 3.22 does not
fill in a left-out model parameter's default). Model outputs: mandatory ``search:FORMULAS`` (ranked formulas),
``indices:NEW_INDICES`` (indices raster), ``train:METRICS``, ``train:TRIALS`` (one row per Optuna trial),
``apply:PREDICTED``, ``apply:GRADES``; optional ``train:SHAP`` (mean |SHAP| per feature), ``train:MODEL_FILE``,
``train:REPORT`` (HTML: metrics, trials plot with the defaults' score, SHAP summary). Example (North Carolina
Landsat 7 2000, DN 0-255)::

    qgis_process.bin run test/models/index_search_to_grades.model3 -- SENSOR=1 RADIOMETRY=4 \\
      SCALE=0.00392156862745098 OFFSET=0 BLUE=lsat7_2000_10.tif ... SWIR2=lsat7_2000_70.tif \\
      POINTS=samples.gpkg TARGET=ec TOP_N=2 SEARCH_BUDGET=20 search:FORMULAS=/tmp/formulas.csv \\
      indices:NEW_INDICES=/tmp/indices.tif train:METRICS=/tmp/metrics.csv train:TRIALS=/tmp/trials.csv \\
      apply:PREDICTED=/tmp/pred.tif apply:GRADES=/tmp/grades.tif

(skops must be importable by the Python QGIS runs: the model file is written with it; Optuna and shap too, or
the training falls back to the randomized search and the report says why there are no explanations.)
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from modelkit import add_child, add_parameter, finish, load_builder, save_model  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_PATH = os.path.join(HERE, "index_search_to_grades.model3")
STACKING = "Stacking (MLP + RF + boosting -> PLSR)"
SAMPLE_INDICES = "Sample the indices at the points"
#: the screening's candidates: the sampled fields as a list; the variable is named after the child's description
#: (QgsProcessingModelAlgorithm::safeName, not exposed to Python: spaces -> underscores here)
SCREENED_FIELDS = f"string_to_array(@{SAMPLE_INDICES.replace(' ', '_')}_SAMPLED_FIELDS, ',')"


def build_model():
    """The model as a QgsProcessingModelAlgorithm (needs the miningeco provider registered)."""
    from qgis.core import (
        QgsApplication,
        QgsProcessingModelChildParameterSource as Source,
        QgsProcessingParameterNumber,
    )

    registry = QgsApplication.processingRegistry()
    for i in ("vipscreening", "trainmodel", "applymodel"):
        if registry.algorithmById(f"miningeco:{i}") is None:
            raise RuntimeError("the miningeco provider is not registered")
    train_alg = registry.algorithmById("miningeco:trainmodel")
    stacking = train_alg.parameterDefinition("MODEL").options().index(STACKING)
    optuna = [o.split(" ")[0] for o in train_alg.parameterDefinition("SEARCH_METHOD").options()].index("Optuna")

    model = load_builder("build_index_search_chain.py").build_model()
    model.setName("Index search to salinity grades: samples to graded map")
    model.setHelpContent({
        "ALG_DESC": "The whole chain of issue 15: the reflectance bands of one scene sampled at the points, "
                    "searched for the two- and three-band formulas best correlated with the target "
                    "(miningeco:indexsearch), the selected formulas and SAI, TRSI, SBCI, GOSI computed for the scene "
                    "(miningeco:spectralindices), sampled again, screened by VIP (miningeco:vipscreening), a "
                    "stacking model tuned by Optuna's TPE search and explained by SHAP (miningeco:trainmodel) and "
                    "applied to the indices with salinity grades (miningeco:applymodel).",
        "ALG_CREATOR": "Mining Eco",
    })
    add_parameter(model, QgsProcessingParameterNumber(
        "SEARCH_BUDGET", "Search budget (Optuna trials)", QgsProcessingParameterNumber.Integer, defaultValue=20,
        minValue=1, maxValue=train_alg.parameterDefinition("SEARCH_BUDGET").maximum()), 500, 180)

    add_child(model, "miningeco:samplerasters", "sample_indices", SAMPLE_INDICES, {
        "POINTS": [Source.fromModelParameter("POINTS")],
        "RASTERS": [Source.fromChildOutput("indices", "OUTPUT")],
        "METHOD": [Source.fromStaticValue(0)]}, 900, 760)
    add_child(model, "miningeco:vipscreening", "screening", "VIP screening of the indices", {
        "INPUT": [Source.fromChildOutput("sample_indices", "OUTPUT")],
        "TARGET_FIELD": [Source.fromModelParameter("TARGET")],
        "FIELDS": [Source.fromExpression(SCREENED_FIELDS)]}, 900, 860)
    add_child(model, "miningeco:trainmodel", "train", "Optuna-tuned stacking on the selected indices", {
        "INPUT": [Source.fromChildOutput("sample_indices", "OUTPUT")],
        "TARGET": [Source.fromModelParameter("TARGET")],
        "SELECTED_FIELDS": [Source.fromChildOutput("screening", "SELECTED_FIELDS")],
        "MODEL": [Source.fromStaticValue(stacking)],
        "SEARCH": [Source.fromStaticValue(True)],
        "SEARCH_METHOD": [Source.fromStaticValue(optuna)],
        "SEARCH_BUDGET": [Source.fromModelParameter("SEARCH_BUDGET")],
        "EXPLAIN": [Source.fromStaticValue(True)]}, 900, 960,
        (("METRICS", "OUTPUT_TABLE", "Training metrics", True),
         ("TRIALS", "OUTPUT_TRIALS", "Optuna trials", True),
         ("SHAP", "OUTPUT_SHAP", "Mean |SHAP| per feature", False),
         ("MODEL_FILE", "OUTPUT_MODEL", "Trained model file (*.model)", False),
         ("REPORT", "OUTPUT_REPORT", "Training report", False)))
    add_child(model, "miningeco:applymodel", "apply", "Apply the model to the indices, with grades", {
        "MODEL_FILE": [Source.fromChildOutput("train", "OUTPUT_MODEL")],
        "RASTERS": [Source.fromChildOutput("indices", "OUTPUT")]}, 700, 1060,
        (("PREDICTED", "OUTPUT", "Predicted raster", True),
         ("GRADES", "OUTPUT_GRADES", "Predicted grades", True)))
    return finish(model)


if __name__ == "__main__":
    save_model(build_model, sys.argv[1] if len(sys.argv) > 1 else MODEL_PATH)
