"""Random-forest factorial contributions of driver categories (changhe 2.4.2, eqs. 6-7), on a sample table."""
from __future__ import annotations

import os
from functools import partial
from io import BytesIO

import numpy as np
from qgis.core import (
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterMatrix,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
)

from .. import compat
from ..core import rf_contribution as rc
from ..core.cancel import cancel_flag
from ..raster.engine import BandRef, Canceled, RasterStack
from ..raster.executor import BlockPass, OutputSpec, add
from ..styles import palettes
from ..styles.qgis_styles import RasterStyle, style_output
from .apply_model import PREDICT_CHUNK_ROWS, band_names, find_bands
from .base import MiningEcoAlgorithm
from . import limits
from .references import cite
from .samples import numeric_field, read_columns, sample_source
from .scene_params import RESAMPLING_OPTIONS
from .transfer_matrix import LegendStyle

SCORE_TITLES = ("Out-of-bag R2 (R randomForest '% Var explained')", "R2 on the training samples")
CATEGORY_COLUMNS = [("category", str), ("drivers", str), ("r2_all", float), ("r2_without", float),
                    ("act_con", float), ("rel_con_pct", float)]
DRIVER_COLUMNS = [("driver", str), ("category", str), ("importance", float), ("importance_pct", float)]


class RfContributionAlgorithm(MiningEcoAlgorithm):
    ID = "rfcontribution"
    NAME = "Random-forest contributions of driver categories"
    GROUP = "drivers"
    SUMMARY = (
        "Relative contributions of categories of drivers (e.g. climate, soil, mining) by a factorial random-forest "
        "experiment: a forest on all drivers and one without each category; the actual contribution of a category is "
        "the drop of R2 (out-of-bag by default), its relative contribution its share of the total in %. Also the "
        "permutation importance of every driver.\n"
        "Inputs: a sample table with Y and the driver fields, and a table of driver field and category. With one "
        "raster per driver: per-pixel maps, an RGB raster of the relative contributions of up to three categories and "
        "the dominant category (above 60 %, else the pair of the two largest).\n"
        "Outputs: tables of category contributions and driver importances, an HTML report and the two rasters.")
    SOURCE = cite("rs2022npp", "breiman2001", "liaw2002")
    SHORT_DESCRIPTION = (
        "Random-forest factorial experiment: relative contributions of driver categories, maps of the dominant one")
    TAGS = ("random forest", "variable importance", "permutation importance", "contribution", "driving factors",
            "factorial experiment", "dominant factor")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.add(QgsProcessingParameterFeatureSource("INPUT", "Samples", [compat.ProcessingSourceType.Vector]),
                 "Table or point layer, one row per sample (e.g. 1000 random points, as in the Changhe Basin study, "
                 "Remote Sensing 2022), with Y and the driver fields.")
        self.add(QgsProcessingParameterField("Y_FIELD", "Y field (response, e.g. NPP)", parentLayerParameterName="INPUT",
                                             type=compat.ProcessingFieldParameterDataType.Numeric),
                 "Numeric field explained by the drivers.")
        self.add(QgsProcessingParameterMatrix("CATEGORIES", "Driver categories (field, category)", numberRows=3,
                                              hasFixedNumberRows=False, headers=["Driver field", "Category"]),
                 "One row per driver field with its category (e.g. prec | climate, temp | climate, som | soil, "
                 "dist_mine | mining); categories in the order of their first row (that order gives the RGB "
                 "channels). At least two categories; only these fields are used as drivers. In qgis_process: "
                 "CATEGORIES=prec,climate,temp,climate,som,soil,dist_mine,mining (cells row by row); the text "
                 "form 'prec=climate, temp=climate, ...' is also accepted.")
        self.add(QgsProcessingParameterNumber("N_TREES", "Number of trees",
                                              compat.ProcessingNumberParameterType.Integer,
                                              defaultValue=rc.DEFAULT_TREES, minValue=10, maxValue=limits.TREES_MAX),
                 "Trees per forest (500: R randomForest's default; the Changhe Basin study used that package and "
                 "states no value). The per-pixel mode predicts every pixel with 1 + k forests: its time grows with "
                 "pixels x trees (e.g. 100 trees for a first look at a large scene).")
        self.add(QgsProcessingParameterEnum("SCORE", "Model score used as RF in eq. 6", list(SCORE_TITLES),
                                            defaultValue=0),
                 "0 out-of-bag R2 (default: honest, what R randomForest reports), 1 R2 on the training samples.")
        self.add(QgsProcessingParameterMultipleLayers("DRIVER_RASTERS", "Driver rasters (per-pixel maps)",
                                                      compat.ProcessingSourceType.Raster, optional=True),
                 "Optional: one raster per driver field, all on one grid, for the per-pixel maps. A single-band "
                 "raster is matched to the field by its layer name, file name or band description; a multi-band "
                 "raster by its band descriptions (ignoring case). Missing drivers are listed in the error. "
                 "In qgis_process repeat the key: DRIVER_RASTERS=prec.tif DRIVER_RASTERS=temp.tif.")
        self.add(QgsProcessingParameterEnum("RESAMPLING", "Resample driver rasters onto the grid of the first driver",
                                            [t for _, t in RESAMPLING_OPTIONS], defaultValue=0),
                 "By default every driver raster must share CRS, pixel size and extent; choose a method to warp "
                 "them onto the grid of the first driver of the category table instead.", advanced=True)
        self.add(QgsProcessingParameterNumber("DOMINANT_THRESHOLD", "Single dominant category above (%)",
                                              compat.ProcessingNumberParameterType.Double,
                                              defaultValue=rc.DOMINANT_THRESHOLD, minValue=0.0, maxValue=100.0),
                 "A pixel's dominant category is the one whose RelCon is greater than this (60 % in the Changhe Basin "
                 "study); otherwise the pair of the two categories with the largest RelCon.")
        self.add(QgsProcessingParameterNumber("SEED", "Random seed", compat.ProcessingNumberParameterType.Integer,
                                              defaultValue=42, minValue=limits.SEED_MIN, maxValue=limits.SEED_MAX),
                 "Seed of the forests and of the permutations (fixed seed: identical results twice).", advanced=True)
        self.add(QgsProcessingParameterNumber("N_REPEATS", "Permutation repeats",
                                              compat.ProcessingNumberParameterType.Integer,
                                              defaultValue=10, minValue=1, maxValue=limits.REPEATS_MAX),
                 "Shuffles per driver for the permutation importance.", advanced=True)
        self.add_output(QgsProcessingParameterFeatureSink("OUTPUT_CATEGORIES", "Category contributions",
                                                          compat.ProcessingSourceType.Vector),
                        "One row per category: category, drivers, r2_all, r2_without, act_con (eq. 6), "
                        "rel_con_pct (eq. 7).")
        self.add_output(QgsProcessingParameterFeatureSink("OUTPUT_DRIVERS", "Driver importances",
                                                          compat.ProcessingSourceType.Vector),
                        "One row per driver: driver, category, importance (mean R2 drop), importance_pct (sums to 100).")
        self.add_output(QgsProcessingParameterFileDestination("OUTPUT_REPORT", "Report (HTML)", "HTML files (*.html)",
                                                              optional=True),
                        "Settings, both tables, a bar chart of the contributions and importances, the formulas.")
        self.add_output(QgsProcessingParameterRasterDestination("OUTPUT_RGB", "Relative contributions (RGB)",
                                                                optional=True, createByDefault=True),
                        "With DRIVER_RASTERS: 3 bands float32, RelCon (%) of categories 1, 2, 3 (red, green, blue; "
                        "nodata -9999), styled as an RGB composite stretched 0-100 %. Two categories: the blue band "
                        "is 0. More than three: not possible (group the drivers into at most 3 categories or skip "
                        "this output).")
        self.add_output(QgsProcessingParameterRasterDestination("OUTPUT_DOMINANT", "Dominant category",
                                                                optional=True, createByDefault=True),
                        "With DRIVER_RASTERS: codes (uint8, 0 = nodata) 1..k = a single category (RelCon > "
                        "threshold), then one code per pair (for 3 categories: 4 = 1 + 2, 5 = 1 + 3, 6 = 2 + 3), "
                        "paletted with the category names.")

    def _read(self, parameters, context, feedback):
        source, fields, y_name = sample_source(self, parameters, context, "Y_FIELD")
        try:
            mapping = rc.parse_categories(self.parameterAsMatrix(parameters, "CATEGORIES", context), fields.names())
        except rc.ContributionError as err:
            raise ValueError(f"CATEGORIES: {err}") from None
        if y_name in mapping:
            raise ValueError(f"CATEGORIES: the Y field '{y_name}' cannot also be a driver.")
        for name in mapping:
            numeric_field(fields, name, "CATEGORIES")
        data = read_columns(source, [y_name] + list(mapping), feedback)
        return data[:, 0], data[:, 1:], y_name, mapping

    def _pixel_setup(self, parameters, context, drivers, cats):
        """The per-pixel inputs and outputs, checked before any forest is fitted: (refs, rgb path, dominant
        path), or None without DRIVER_RASTERS."""
        layers = self.parameterAsLayerList(parameters, "DRIVER_RASTERS", context)
        if not layers:
            return None
        refs = match_driver_rasters(drivers, layers)
        rgb = self.parameterAsOutputLayer(parameters, "OUTPUT_RGB", context) or None
        dominant = self.parameterAsOutputLayer(parameters, "OUTPUT_DOMINANT", context) or None
        if rgb and len(cats) > 3:
            raise ValueError(f"OUTPUT_RGB: the RGB composite shows at most three categories (red, green, blue), but "
                             f"the category table has {len(cats)} ({', '.join(cats)}). Group the drivers into 2 or 3 "
                             "categories in CATEGORIES, or skip OUTPUT_RGB (the dominant-category map takes any "
                             "number).")
        if not (rgb or dominant):
            raise ValueError("OUTPUT_RGB / OUTPUT_DOMINANT: DRIVER_RASTERS were given but both per-pixel outputs are "
                             "skipped. Give a path for at least one of them, or leave DRIVER_RASTERS empty.")
        return refs, rgb, dominant

    def run_tool(self, parameters, context, feedback):
        y, X, y_name, mapping = self._read(parameters, context, feedback)
        report = self.parameterAsFileOutput(parameters, "OUTPUT_REPORT", context)
        drivers, cats = list(mapping), rc.category_order(mapping)
        threshold = self.parameterAsDouble(parameters, "DOMINANT_THRESHOLD", context)
        pixels = self._pixel_setup(parameters, context, drivers, cats)
        resampling = RESAMPLING_OPTIONS[self.parameterAsEnum(parameters, "RESAMPLING", context)][0]
        if pixels:   # the driver rasters checked (one grid, or warped onto it) before any forest is fitted
            with RasterStack(self._driver_inputs(pixels), resampling=resampling):
                pass
        fit_end = 50 if pixels else 90
        feedback.setProgress(5)

        def progress(fraction):
            if feedback.isCanceled():
                raise Canceled()
            feedback.setProgress(5 + (fit_end - 5) * fraction)
        try:
            res = rc.rf_contributions(X, y, drivers, mapping,
                                      n_estimators=self.parameterAsInt(parameters, "N_TREES", context),
                                      random_state=self.parameterAsInt(parameters, "SEED", context),
                                      score=rc.SCORES[self.parameterAsEnum(parameters, "SCORE", context)],
                                      n_repeats=self.parameterAsInt(parameters, "N_REPEATS", context),
                                      target_name=y_name, progress=progress, cancel=feedback.isCanceled)
        except rc.ContributionError as err:
            raise ValueError(f"{err.param + ': ' if err.param else ''}{err}") from None
        maps = self._pixel_maps(res, pixels, resampling, threshold, feedback) if pixels else None
        cat_rows = [[r["category"], r["drivers"], res.score_all, r["score_without"], r["act_con"], r["rel_con_pct"]]
                    for r in res.category_rows()]
        drv_rows = [[r[c] for c, _k in DRIVER_COLUMNS] for r in res.driver_rows()]
        cats_id = self.write_table(parameters, "OUTPUT_CATEGORIES", context, CATEGORY_COLUMNS, cat_rows)
        drivers_id = self.write_table(parameters, "OUTPUT_DRIVERS", context, DRIVER_COLUMNS, drv_rows)
        for c, r in zip(res.categories, res.rel_con):
            feedback.pushInfo(f"RelCon {c}: {r:.2f} %")
        feedback.pushInfo(f"RF_all {res.score}-R2 = {res.score_all:.4f} ({res.n_samples} samples).")
        for c, a in zip(res.categories, res.act_con):
            if a < 0:
                feedback.pushWarning(f"ActCon {c} = {a:.4f} < 0: the model is better WITHOUT this category (its "
                                     "drivers act as noise); eq. 7 counts |ActCon| as "
                                     f"{cite('rs2022npp')} defines it.")
        outputs = {"OUTPUT_CATEGORIES": cats_id, "OUTPUT_DRIVERS": drivers_id, "OUTPUT_RGB": None,
                   "OUTPUT_DOMINANT": None}
        if maps:
            outputs.update(self._style_maps(maps, res, threshold, context, feedback))
        if report:
            self._report(report, res, y_name, maps)
        outputs["OUTPUT_REPORT"] = report or None
        feedback.setProgress(100)
        return outputs

    @staticmethod
    def _driver_inputs(pixels):
        return {f"d{j}": ref for j, ref in enumerate(pixels[0])}

    def _pixel_maps(self, res, pixels, resampling, threshold, feedback):
        """Predict every pixel with the 1 + k forests, block by block; RelCon (RGB) and dominant codes."""
        _refs, rgb_path, dom_path = pixels
        k = len(res.categories)
        codes = rc.dominant_codes(k)
        outputs = []
        if rgb_path:
            outputs.append(OutputSpec("OUTPUT_RGB", rgb_path, bands=3, label="OUTPUT_RGB", band_names=tuple(
                [f"RelCon {c} (%)" for c in res.categories] + ["(no category)"] * (3 - k))))
        if dom_path:
            outputs.append(OutputSpec("OUTPUT_DOMINANT", dom_path, "uint8" if codes[-1][0] <= 255 else "int16", 0,
                                      band_names=("dominant category",), label="OUTPUT_DOMINANT"))
        # rows x trees per predict call bounded (about 2.5 s of work): cancel is checked between the calls
        chunk = int(min(PREDICT_CHUNK_ROWS, max(1000, 25_000_000 // max(res.n_estimators, 1))))
        with cancel_flag(feedback.isCanceled) as cancel:
            done = self.run_pass(BlockPass(
                inputs=self._driver_inputs(pixels), outputs=tuple(outputs), resampling=resampling, combine=add,
                compute=partial(rc.contribution_block, result=res, threshold=threshold, chunk_rows=chunk,
                                cancel=cancel)), feedback, 50, 98)
        return {"rgb": done.paths.get("OUTPUT_RGB"), "dominant": done.paths.get("OUTPUT_DOMINANT"),
                "counts": done.partial, "codes": codes}

    def _style_maps(self, maps, res, threshold, context, feedback):
        counts, codes = maps["counts"], maps["codes"]
        labels = [" + ".join(res.categories[i] for i in members) for _code, members in codes]
        total = int(counts[1:].sum())
        if total == 0:
            feedback.pushWarning("No pixel has every driver valid: the per-pixel maps are all nodata.")
        for (code, _members), label in zip(codes, labels):
            if counts[code]:
                feedback.pushInfo(f"Dominant {label}: {counts[code]} px ({100.0 * counts[code] / total:.2f} %)")
        out = {"VALID_PIXELS": total}
        if maps["rgb"]:
            style_output(maps["rgb"], RasterStyle("rgb", vmin=0.0, vmax=100.0, bands=tuple(
                b + 1 if b < len(res.categories) else -1 for b in range(3))), context,
                "Relative contributions (RGB = " + ", ".join(res.categories[:3]) + ")")
            out["OUTPUT_RGB"] = maps["rgb"]
        if maps["dominant"]:
            items = tuple((code, label, dominant_colour(members)) for (code, members), label in zip(codes, labels))
            style_output(maps["dominant"], LegendStyle("legend", items=items), context,
                         f"Dominant category (> {threshold:g} %)")
            out["OUTPUT_DOMINANT"] = maps["dominant"]
        return out

    def _report(self, path, res, y_name, maps=None):
        import tempfile

        from ..reports.html import write_html_report
        settings = {"Y": y_name, "samples": res.n_samples, "trees": res.n_estimators, "mtry": "floor(p/3), at least 1",
                    "seed": res.random_state, "score (RF in eq. 6)": f"{res.score} R2",
                    f"RF_all {res.score} R2": res.score_all}
        if maps:
            total = int(maps["counts"][1:].sum())
            settings["per-pixel maps"] = ", ".join(self.destination(p) for p in (maps["rgb"], maps["dominant"]) if p)
            for code, members in maps["codes"]:
                if maps["counts"][code]:
                    label = " + ".join(res.categories[i] for i in members)
                    settings[f"dominant {label} (% of pixels)"] = round(100.0 * maps["counts"][code] / total, 2)
        with tempfile.TemporaryDirectory() as tmp:
            chart = os.path.join(tmp, "rf_contributions.png")
            with open(chart, "wb") as fh:
                fh.write(_bar_chart_png(res))
            write_html_report(path, f"Random-forest contributions to {y_name}", [
                ("Settings", settings),
                ("Relative contributions and driver importances", chart),
                (f"Category contributions ({cite('rs2022npp')}, eqs. 6-7)", res.category_rows()),
                ("Driver permutation importance", res.driver_rows()),
                ("Formulas", (
                    "ActCon_i = RF_all - RF_i (eq. 6), RF = the model's R2 (out-of-bag: the R2 of each sample "
                    "predicted by the trees that did not see it; or on the training samples), RF_i fitted without "
                    "the drivers of category i (a category holding every driver: RF_i predicts mean(Y), R2 = 0).\n\n"
                    "RelCon_i = |ActCon_i| / sum_i |ActCon_i| x 100 % (eq. 7).\n\n"
                    "Importance: mean drop of R2 of RF_all on the samples when one driver is shuffled "
                    "(scikit-learn permutation_importance; the Remote Sensing 2022 study used R's MDA on out-of-bag samples), "
                    "negative values set to 0, normalised to sum 100 %.")),
            ])


def dominant_colour(members):
    """A single category: its colour (palettes.RF_CATEGORY_COLOURS); a pair: palettes.RF_PAIR_COLOURS (the
    first three categories), else palettes.QUALITATIVE cycled."""
    if len(members) == 1:
        return palettes.RF_CATEGORY_COLOURS[members[0] % len(palettes.RF_CATEGORY_COLOURS)]
    if members in palettes.RF_PAIR_COLOURS:
        return palettes.RF_PAIR_COLOURS[members]
    return palettes.QUALITATIVE[(members[0] * 7 + members[1]) % len(palettes.QUALITATIVE)]


def match_driver_rasters(drivers, layers):
    """The BandRef of each driver field (in ``drivers`` order), matched by name as the apply-model tool does;
    ValueError naming every driver without a raster."""
    by_name, shown = band_names(layers, "DRIVER_RASTERS")
    missing, several, refs = find_bands(drivers, by_name)
    if missing:
        raise ValueError(f"DRIVER_RASTERS: no raster for the driver(s) {', '.join(missing)}. Give one raster per "
                         "driver field, named like the field (single-band: layer or file name or band description; "
                         "multi-band: band descriptions; case ignored). Given: " + ("; ".join(shown) or "none") + ".")
    for d, cands in several.items():
        raise ValueError(f"DRIVER_RASTERS: the driver {d} matches several bands "
                         f"({', '.join(c.describe() for c in cands)}). Give each driver once.")
    return [BandRef(r.path, r.band, f"DRIVER_RASTERS '{d}'") for d, r in zip(drivers, refs)]


def _bar_chart_png(res) -> bytes:
    """Two bar panels: RelCon per category, importance % per driver (coloured by category)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from ..styles.palettes import RF_CATEGORY_COLOURS as colours
    colour = {c: colours[i % len(colours)] for i, c in enumerate(res.categories)}
    fig = Figure(figsize=(max(6.4, 0.5 * len(res.drivers) + 3), 6.4), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(2, 1, 1)
    ax.bar(res.categories, res.rel_con, color=[colour[c] for c in res.categories], edgecolor="#333333")
    for i, v in enumerate(res.rel_con):
        ax.text(i, v, f"{v:.1f} %", ha="center", va="bottom")
    ax.set_ylabel("Relative contribution (%)")
    ax.set_ylim(0, 110)
    ax.set_title(f"RelCon (eq. 7), RF_all {res.score} R2 = {res.score_all:.3f}")
    ax = fig.add_subplot(2, 1, 2)
    order = np.argsort(-res.importance_pct, kind="stable")
    ax.bar([res.drivers[j] for j in order], res.importance_pct[order],
           color=[colour[res.mapping[res.drivers[j]]] for j in order], edgecolor="#333333")
    ax.set_ylabel("Permutation importance (%)")
    ax.tick_params(axis="x", rotation=45)
    buf = BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
