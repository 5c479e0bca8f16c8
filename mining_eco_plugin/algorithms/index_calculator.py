"""Spectral index calculator: any of the seed indices, LST and a custom band expression."""
from __future__ import annotations

import os
import re

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingOutputMultipleLayers,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterString,
    QgsProcessingUtils,
)

from ..core import indices as ix
from ..core.expression import BandExpression, ExpressionError, named_expressions
from ..core.scene import REFLECTIVE, product_bands
from ..raster.executor import OutputSpec
from ..raster.outputs import final_path
from ..styles.palettes import ramp_for
from ..styles.qgis_styles import RasterStyle, style_output
from .references import cite
from .scene_algorithm import SceneAlgorithm
from .scene_params import (add_lst_parameters, add_scene_parameters, radiometry_mode, resampling_choice,
                           resolve_scene)

PRODUCTS = list(ix.INDICES) + ["LST"]


def product_title(key):
    if key == "LST":
        return "LST: land surface temperature, deg C (needs the thermal band)"
    spec = ix.INDICES[key]
    return f"{key}: {spec.title} = {spec.formula}"


class SpectralIndexAlgorithm(SceneAlgorithm):
    ID = "spectralindices"
    NAME = "Spectral index calculator"
    GROUP = "indices"
    SUMMARY = (
        "Spectral indices of a Landsat 5/7/8/9 or Sentinel-2 scene: vegetation (NDVI, EVI, ARVI ...), wetness "
        "(tasseled-cap WET), dryness (NDBSI, IBI), water (MNDWI), soil salinity (SI, S1-S9, SSSI, CRSI, SAI, TRSI, "
        "SBCI, GOSI ...) and LST, plus custom band expressions such as (NIR-R)/(NIR+R).\n"
        "Inputs: give PRODUCT (a Landsat MTL or .tar, a Sentinel-2 L2A .zip or MTD_MSIL2A.xml: bands, constants and "
        "cloud mask come from it), or SCENE, or the band layers with the sensor, the radiometry (Level-2 scale "
        "factors, Level-1 DN with the scene's MTL file, Sentinel-2 L2A, reflectance or custom) and optionally a "
        "quality band for the cloud mask. Indices are computed on reflectance 0-1, never on raw DN.\n"
        "Outputs: one multi-band GeoTIFF (band descriptions = index keys) and/or one GeoTIFF per index in a folder. "
        "Pixels where an index is undefined (zero denominator) or clouded are nodata.")
    SOURCE = ("the source of each index is in the manual; the set follows " + cite("han2025", "he2026", "lan2025"))
    SHORT_DESCRIPTION = (
        "Vegetation, salinity, wetness, dryness and water indices (NDVI, WET, NDBSI, SI, MNDWI ...) of a scene")
    TAGS = ("ndvi", "evi", "arvi", "vegetation index", "salinity index", "soil salt", "salt", "wetness",
            "tasseled cap", "ndbsi", "ibi", "mndwi", "water index", "band math", "raster calculator", "lst")

    def initAlgorithm(self, config=None):  # noqa: N802
        add_scene_parameters(self)       # PRODUCT first: what the tool reads, then what it computes
        self.add(QgsProcessingParameterEnum("INDICES", "Indices", [product_title(k) for k in PRODUCTS],
                                            allowMultiple=True, defaultValue=[0], optional=True),
                 "One or more indices; each becomes a band (or a file) named by its key.")
        self.add(QgsProcessingParameterString("CUSTOM_EXPRESSION", "Custom index expression", optional=True,
                                              defaultValue=""),
                 "A band expression such as (NIR-R)/(NIR+R) or sqrt(G*R); parsed, never executed as code.")
        self.add(QgsProcessingParameterString("CUSTOM_NAME", "Custom index name", defaultValue="CUSTOM"),
                 "Band description / file name of the custom index.", advanced=True)
        self.add(QgsProcessingParameterString("CUSTOM_EXPRESSIONS", "Named custom expressions (name=expression, "
                                              "one per line)", optional=True, defaultValue="", multiLine=True),
                 "Several custom indices, each a band (or a file) named by its name, e.g. 'ND1=(NIR-R)/(NIR+R)' on "
                 "one line and 'TR=(SWIR1-NIR+B)/(SWIR1+NIR-B)' on the next (or separated by ;). Spectral index "
                 "search's SELECTED_EXPRESSIONS chains here.")
        self.add_wet_parameter()
        add_lst_parameters(self)
        self.add_output(QgsProcessingParameterRasterDestination("OUTPUT", "Indices (multi-band)", optional=True,
                                                                createByDefault=True),
                        "All indices in one GeoTIFF, one band each, band description = index key.")
        self.add_output(QgsProcessingParameterFolderDestination("OUTPUT_FOLDER", "Folder for one file per index",
                                                                optional=True, createByDefault=False),
                        "If set, also writes one GeoTIFF per index into this folder, named by its key (e.g. NDVI.tif), "
                        "each styled.")
        self.addOutput(QgsProcessingOutputMultipleLayers("INDEX_FILES", "One file per index"))

    def output_claims(self, name, kind, path, parameters, context):
        if name != "OUTPUT_FOLDER" or not path or path == "TEMPORARY_OUTPUT":
            return super().output_claims(name, kind, path, parameters, context)
        # the files of the folder output: one GeoTIFF (with its .qml and .aux.xml) per index
        keys = [PRODUCTS[i] for i in self.parameterAsEnums(parameters, "INDICES", context)]
        if (self.parameterAsString(parameters, "CUSTOM_EXPRESSION", context) or "").strip():
            keys.append((self.parameterAsString(parameters, "CUSTOM_NAME", context) or "").strip() or "CUSTOM")
        try:
            keys += [n for n, _e in named_expressions(self.parameterAsString(parameters, "CUSTOM_EXPRESSIONS",
                                                                             context))]
        except ExpressionError:
            pass        # the run says what is wrong
        claims = []
        for key in dict.fromkeys(keys):
            claims += super().output_claims(name, "rasterDestination", os.path.join(path, f"{key}.tif"), parameters,
                                            context)
        return claims

    def run_tool(self, parameters, context, feedback):
        keys = [PRODUCTS[i] for i in self.parameterAsEnums(parameters, "INDICES", context)]
        text = self.parameterAsString(parameters, "CUSTOM_EXPRESSION", context).strip()
        exprs = []
        products = list(keys)
        customs = []        # (parameter, name, expression text)
        if text:
            customs.append(("CUSTOM_EXPRESSION",
                            self.parameterAsString(parameters, "CUSTOM_NAME", context).strip() or "CUSTOM", text))
        try:
            customs += [("CUSTOM_EXPRESSIONS", n, e) for n, e in
                        named_expressions(self.parameterAsString(parameters, "CUSTOM_EXPRESSIONS", context))]
        except ExpressionError as err:
            raise ValueError(f"CUSTOM_EXPRESSIONS: {err}") from None
        for param, name, expr in customs:
            what = "CUSTOM_NAME" if param == "CUSTOM_EXPRESSION" else param
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
                raise ValueError(f"{what}: {name!r} is not a valid name; use letters, digits and _.")
            try:
                exprs.append(BandExpression(expr, list(REFLECTIVE) + PRODUCTS))
            except ExpressionError as err:
                raise ValueError(f"{param}: {err}" + (f" (expression {name})" if param != "CUSTOM_EXPRESSION"
                                                      else "")) from None
            if name.upper() in (k.upper() for k in products):
                raise ValueError(f"{what}: {name!r} is also one of the chosen INDICES or another custom name, so two "
                                 f"bands (and two files {name}.tif in OUTPUT_FOLDER) would carry that name. Give the "
                                 "custom index another name.")
            if not exprs[-1].names:     # else "No raster input was given" (issue 11)
                raise ValueError(f"{param}: {expr!r} references no band, so it is the same number in "
                                 "every pixel. Use band roles (B, G, R, NIR, SWIR1, SWIR2) or index keys, e.g. "
                                 "(NIR-R)/(NIR+R).")
            products.append(name)
        if not products:
            raise ValueError("INDICES: choose at least one index or type a CUSTOM_EXPRESSION (or CUSTOM_EXPRESSIONS).")
        out_path = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        folder = self.parameterAsString(parameters, "OUTPUT_FOLDER", context)
        if not out_path and not folder:
            raise ValueError("OUTPUT / OUTPUT_FOLDER: give a multi-band output file, an output folder, or both.")
        roles = product_bands(keys + [n for e in exprs for n in e.names], radiometry_mode(self, parameters, context))
        scene = resolve_scene(self, parameters, context, roles)
        outputs = []
        if out_path:
            outputs.append((OutputSpec("OUTPUT", out_path, bands=len(products), band_names=tuple(products),
                                       label="OUTPUT"), range(len(products))))
        if folder:   # a staged folder (base.run_committed): it appears at OUTPUT_FOLDER only if the run succeeds
            os.makedirs(folder, exist_ok=True)
            outputs += [(OutputSpec(f"OUTPUT_FOLDER:{name}", os.path.join(folder, f"{name}.tif"), band_names=(name,),
                                    label="OUTPUT_FOLDER"), (i,)) for i, name in enumerate(products)]
        done = self.compute_products(scene, keys + exprs, outputs, feedback, 0, 95,
                                     resampling_choice(self, parameters, context))
        results = {"OUTPUT": None, "OUTPUT_FOLDER": folder or None, "INDEX_FILES": []}
        if out_path:
            stats = done.stats["OUTPUT"][0]
            style_output(done.paths["OUTPUT"], RasterStyle("ramp", ramp_for(products[0]), stats.minimum,
                                                           stats.maximum), context)
            results["OUTPUT"] = done.paths["OUTPUT"]
        # the files of a folder the user chose are loaded like the other outputs (not those of a temporary folder,
        # e.g. inside a model)
        load = bool(folder) and context.project() is not None and \
            not final_path(folder).startswith(QgsProcessingUtils.tempFolder())
        for name in (products if folder else ()):
            path, st = done.paths[f"OUTPUT_FOLDER:{name}"], done.stats[f"OUTPUT_FOLDER:{name}"][0]
            if load:
                context.addLayerToLoadOnCompletion(final_path(path), QgsProcessingContext.LayerDetails(
                    name, context.project(), "INDEX_FILES"))
            style_output(path, RasterStyle("ramp", ramp_for(name), st.minimum, st.maximum), context)
            results["INDEX_FILES"].append(path)
        feedback.setProgress(100)
        return results
