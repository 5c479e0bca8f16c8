"""Build test/models/kriging_to_rfcontribution.model3 with PyQGIS (the same model the Graphical Modeler would save).

    QT_QPA_PLATFORM=offscreen .venv/bin/python test/models/build_kriging_to_rfcontribution.py [output.model3]

The model goes from soil samples to the random-forest contributions of driver categories (the Changhe Basin study,
Remote Sensing 14: 4177, 2022, sections 2.3.1 and 2.4: soil samples kriged onto the NPP grid as driver rasters):

* ``krige_a``, ``krige_b``  miningeco:kriging: two numeric fields of the samples (e.g. SOC and pH) onto the grid of
                             the target raster (ordinary kriging, spherical model fitted); each kriged raster's band
                             is named by its field
* ``sample``                miningeco:samplerasters: the target raster and the other driver rasters (e.g. a DEM) at
                             the samples (nearest), beside the samples' own fields
* ``rf``                    miningeco:rfcontribution: the forest is trained on the samples (Y = the target's field,
                             drivers = the two measured fields and the other drivers) and mapped per pixel with the
                             kriged rasters and the other driver rasters

Model inputs: SAMPLES, FIELD_A, FIELD_B, TARGET (also the kriging grid), OTHER_DRIVERS (on the target's grid),
Y_FIELD (the target's layer name, the field samplerasters writes), CATEGORIES (driver field, category). Model
outputs: the two kriged rasters and their variances, the category and driver tables, the RGB and dominant-category
rasters and the report (``krige_a:KRIGED_A`` ... ``rf:CATEGORY_TABLE`` on the command line).
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from modelkit import add_child, add_parameter, finish, save_model  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_PATH = os.path.join(HERE, "kriging_to_rfcontribution.model3")


def build_model():
    """The model as a QgsProcessingModelAlgorithm (needs the miningeco provider registered)."""
    from qgis.core import (
        QgsApplication,
        QgsProcessing,
        QgsProcessingModelAlgorithm,
        QgsProcessingModelChildParameterSource as Source,
        QgsProcessingParameterFeatureSource,
        QgsProcessingParameterField,
        QgsProcessingParameterMatrix,
        QgsProcessingParameterMultipleLayers,
        QgsProcessingParameterRasterLayer,
        QgsProcessingParameterString,
    )

    registry = QgsApplication.processingRegistry()
    if any(registry.algorithmById(f"miningeco:{a}") is None for a in ("kriging", "samplerasters", "rfcontribution")):
        raise RuntimeError("the miningeco provider is not registered")

    model = QgsProcessingModelAlgorithm("Soil samples to random-forest contributions", "Mining Eco models",
                                        "miningeco_models")
    model.setHelpContent({
        "ALG_DESC": "Two fields of soil samples kriged onto the target raster's grid (ordinary kriging, GSTools), "
                    "then the random-forest contributions of driver categories (factorial experiment, Remote "
                    "Sensing 14: 4177, 2022): trained on the samples, mapped per pixel with the kriged rasters.",
        "ALG_CREATOR": "Mining Eco",
    })

    def add_param(definition, y):
        add_parameter(model, definition, 120, y)

    add_param(QgsProcessingParameterFeatureSource("SAMPLES", "Soil samples (points)", [QgsProcessing.TypeVectorPoint]),
              40)
    for i, (pid, text) in enumerate((("FIELD_A", "First field to krige (e.g. SOC)"),
                                     ("FIELD_B", "Second field to krige (e.g. pH)"))):
        add_param(QgsProcessingParameterField(pid, text, parentLayerParameterName="SAMPLES",
                                              type=QgsProcessingParameterField.Numeric), 90 + 50 * i)
    add_param(QgsProcessingParameterRasterLayer("TARGET", "Target raster (e.g. NPP; also the kriging grid)"), 190)
    add_param(QgsProcessingParameterMultipleLayers("OTHER_DRIVERS", "Other driver rasters on the target's grid "
                                                   "(e.g. DEM)", QgsProcessing.TypeRaster), 240)
    add_param(QgsProcessingParameterString("Y_FIELD", "Target's field (its layer name)", defaultValue="npp"), 290)
    add_param(QgsProcessingParameterMatrix("CATEGORIES", "Driver categories (field, category)", numberRows=3,
                                           hasFixedNumberRows=False, headers=["Driver field", "Category"],
                                           defaultValue=["soc", "soil", "ph", "soil", "dem", "terrain"]), 340)

    for child_id, field, x, y, names in (
            ("krige_a", "FIELD_A", 480, 80, ("KRIGED_A", "VARIANCE_A")),
            ("krige_b", "FIELD_B", 480, 200, ("KRIGED_B", "VARIANCE_B"))):
        add_child(model, "miningeco:kriging", child_id, f"Kriging of {field}", dict(
            POINTS=[Source.fromModelParameter("SAMPLES")], FIELD=[Source.fromModelParameter(field)],
            REFERENCE=[Source.fromModelParameter("TARGET")]), x, y,
            ((names[0], "OUTPUT", f"Kriged {field}", True), (names[1], "OUTPUT_VARIANCE", f"Kriging variance of "
                                                                                        f"{field}", False)))
    add_child(model, "miningeco:samplerasters", "sample", "Target and other drivers at the samples", dict(
        POINTS=[Source.fromModelParameter("SAMPLES")],
        RASTERS=[Source.fromModelParameter("TARGET"), Source.fromModelParameter("OTHER_DRIVERS")]), 480, 320)
    add_child(model, "miningeco:rfcontribution", "rf", "Random-forest contributions", dict(
        INPUT=[Source.fromChildOutput("sample", "OUTPUT")], Y_FIELD=[Source.fromModelParameter("Y_FIELD")],
        CATEGORIES=[Source.fromModelParameter("CATEGORIES")],
        DRIVER_RASTERS=[Source.fromChildOutput("krige_a", "OUTPUT"), Source.fromChildOutput("krige_b", "OUTPUT"),
                        Source.fromModelParameter("OTHER_DRIVERS")]), 820, 200,
        (("CATEGORY_TABLE", "OUTPUT_CATEGORIES", "Category contributions", True),
         ("DRIVER_TABLE", "OUTPUT_DRIVERS", "Driver importances", False),
         ("RGB", "OUTPUT_RGB", "Relative contributions (RGB)", False),
         ("DOMINANT", "OUTPUT_DOMINANT", "Dominant category", False),
         ("REPORT", "OUTPUT_REPORT", "Report (HTML)", False)))
    return finish(model)


if __name__ == "__main__":
    save_model(build_model, sys.argv[1] if len(sys.argv) > 1 else MODEL_PATH)
