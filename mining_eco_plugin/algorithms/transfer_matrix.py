"""Transfer (transition) matrix between two class rasters, with a change map, its legend and a heatmap."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial

import numpy as np

from qgis.core import (
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingParameterBand,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsPalettedRasterRenderer,
)
from qgis.PyQt.QtGui import QColor

from .. import compat
from ..core import transfer as core
from ..raster.classes import read_classes
from ..raster.engine import BandRef
from ..raster.executor import BlockPass, OutputSpec
from ..styles import palettes
from ..styles.qgis_styles import RasterStyle, style_output
from .base import MiningEcoAlgorithm
from .class_names import add_class_name_parameters, read_class_names
from .references import cite

SUMMARY = (
    "Transfer (transition) matrix of a class raster between two dates: the area that was class i at date 1 and is "
    "class j at date 2, with transfer-out, transfer-in and net change per class, in km2, ha, pixels or % of the area.\n"
    "Inputs: two integer class rasters on one grid (land use, salinity grades, RSEI grades ...) and optional class "
    "names.\n"
    "Outputs: the matrix table, a change raster coded from x 10^k + to (e.g. 53: class 5 became class 3) with its "
    "legend table and style, and a heatmap PNG. Pixels that are nodata at either date are left out and counted.")
SOURCE = cite("he2026", "han2025")

UNIT_LABELS = ("km2", "ha", "pixels", "% of total")


@dataclass(frozen=True)
class LegendStyle(RasterStyle):
    """A paletted style from explicit (value, label, colour) items (the change-map legend)."""
    items: tuple = ()

    def renderer(self, provider):
        classes = [QgsPalettedRasterRenderer.Class(v, QColor(c), label) for v, label, c in self.items]
        return QgsPalettedRasterRenderer(provider, self.band, classes)


def _mix_with_white(colour: str, fraction: float) -> str:
    rgb = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(c + (255 - c) * fraction):02x}" for c in rgb)


def transition_colours(legend, codes):
    """Colour of each legend entry: unchanged grey; changed = colour of the destination class (position of
    the "to" code in ``codes``, palettes.QUALITATIVE cycled), lightened by the position of the "from" code."""
    pos = {c: i for i, c in enumerate(codes)}
    n = max(len(codes) - 1, 1)
    out = []
    for row in legend:
        if not row["changed"]:
            out.append(palettes.TRANSITION_UNCHANGED)
            continue
        base = palettes.QUALITATIVE[pos[row["to"]] % len(palettes.QUALITATIVE)]
        out.append(_mix_with_white(base, palettes.TRANSITION_MAX_LIGHTEN * pos[row["from"]] / n))
    return out


def field_slug(name: str, limit: int = 24) -> str:
    slug = re.sub(r"[^0-9A-Za-z]+", "_", name).strip("_").lower()
    return slug[:limit].rstrip("_")


class TransferMatrixAlgorithm(MiningEcoAlgorithm):
    ID = "transfermatrix"
    NAME = "Transfer matrix (class change between two dates)"
    GROUP = "change"
    SUMMARY = SUMMARY
    SOURCE = SOURCE
    SHORT_DESCRIPTION = (
        "Transition matrix and change map of a class raster (land use, salinity or RSEI grades) between two dates")
    TAGS = ("transfer matrix", "transition matrix", "land use change", "land cover change", "change map",
            "cross tabulation", "confusion matrix")

    def initAlgorithm(self, config=None):  # noqa: N802
        for pid, when in (("DATE1", "date 1 (from, the earlier map)"), ("DATE2", "date 2 (to, the later map)")):
            self.add(QgsProcessingParameterRasterLayer(pid, f"Class raster, {when.split(' (')[0]}"),
                     f"Categorical raster of integer class codes at {when}: land use, salinity grades, RSEI grades "
                     "... Its nodata value marks pixels left out. Float rasters are refused (reclassify first).")
            self.add(QgsProcessingParameterBand(f"{pid}_BAND", f"Band of {pid}", 1, pid, optional=True),
                     f"Band of {pid} holding the class codes (default 1).", advanced=True)
        add_class_name_parameters(self)
        self.add(QgsProcessingParameterEnum("UNITS", "Units of the tables", list(UNIT_LABELS), defaultValue=0),
                 "0 km2, 1 ha, 2 pixels, 3 % of the total area counted (pixels valid at both dates).")
        self.add_output(QgsProcessingParameterFeatureSink("OUTPUT_MATRIX", "Transfer matrix",
                                                          compat.ProcessingSourceType.Vector),
                        "Table, one row per date-1 class (class, name) with one column per date-2 class "
                        "(to_CODE or to_CODE_NAME, e.g. to_5_forest) - the matrix as published, read across: where each class went - then "
                        "total_date1 (row sum), unchanged (diagonal), transfer_out, transfer_in, total_date2 "
                        "(column sum of that class), net_change (in - out) and net_change_pct (% of total_date1); "
                        "a last row 'Total' holds the column sums.")
        self.add_output(QgsProcessingParameterRasterDestination("OUTPUT_CHANGE", "Change raster", optional=True,
                                                                createByDefault=True),
                        "Every valid pixel coded from * 10^k + to (k = digits of the largest class code; uint8 for "
                        "codes up to 9, uint16 up to 99, int32 up to 9999); nodata 255 / 65535 / -1. Styled from the "
                        "legend: unchanged grey, changes coloured by the class they changed to.")
        self.add_output(QgsProcessingParameterFeatureSink("OUTPUT_LEGEND", "Change legend",
                                                          compat.ProcessingSourceType.Vector,
                                                          optional=True, createByDefault=True),
                        "Table, one row per transition that occurs: code, from_class, to_class, from_name, to_name, "
                        "meaning ('Forest -> Developed'), changed, pixels, area (in UNITS), colour. It is also the "
                        "matrix in long (tidy) form for further processing.")
        self.add_output(QgsProcessingParameterFileDestination("OUTPUT_HEATMAP", "Matrix heatmap", "PNG files (*.png)",
                                                              optional=True, createByDefault=True),
                        "PNG of the matrix: transferred cells coloured by value, unchanged (diagonal) cells grey, "
                        "every cell annotated.")
        for name, desc in (("TOTAL_AREA_KM2", "Area counted (km2)"), ("CHANGED_AREA_KM2", "Area that changed class (km2)"),
                           ("CHANGED_PERCENT", "Share of the area that changed class (%)"),
                           ("EXCLUDED_PIXELS", "Pixels left out (nodata at either date)"),
                           ("CLASS_DIGITS", "k of the change codes from * 10^k + to")):
            self.addOutput(QgsProcessingOutputNumber(name, desc))

    # ------------------------------------------------------------------------------------------------
    def _refs(self, parameters, context):
        refs = {}
        for pid in ("DATE1", "DATE2"):
            layer = self.parameterAsRasterLayer(parameters, pid, context)
            if layer is None:
                raise QgsProcessingException(f"{self.NAME}: {pid}: give a class raster (a raster layer or file).")
            band = self.parameterAsInt(parameters, f"{pid}_BAND", context) or 1
            refs[pid] = BandRef(layer.source().split("|")[0], band, pid)
        return refs

    def run_tool(self, parameters, context, feedback):
        names = read_class_names(self, parameters, context)
        unit = self.parameterAsEnum(parameters, "UNITS", context)
        change_path = self.parameterAsOutputLayer(parameters, "OUTPUT_CHANGE", context)
        heatmap_path = self.parameterAsFileOutput(parameters, "OUTPUT_HEATMAP", context)
        refs = self._refs(parameters, context)
        feedback.pushInfo("Pass 1: cross-tabulating the two dates")
        try:
            done = self.run_pass(BlockPass(inputs=refs, compute=core.transfer_block, combine=core.combine_transfer,
                                           load=read_classes), feedback, 0, 50 if change_path else 90)
        except core.TooManyClasses as err:
            raise ValueError(f"DATE1 / DATE2: {err}.") from None
        acc = done.partial
        if not acc.pairs:
            raise ValueError("DATE1 and DATE2 have no pixel that is valid (not nodata) at both dates. Check that "
                             "the rasters overlap and their nodata values.")
        codes = acc.codes(names)
        k = core.code_digits(max(abs(c) for c in codes))
        pixels, area_m2 = acc.matrices(codes)
        pixel_area = done.grid.pixel_area_m2()
        if pixel_area is not None:      # projected CRS: exact, independent of the summation order
            area_m2 = pixels * pixel_area
        total_m2 = float(area_m2.sum())
        values = core.in_units(area_m2, pixels, unit, total_m2)
        legend = core.transition_legend(pixels, values, codes, k, names)
        colours = transition_colours(legend, codes)

        outputs = {}
        if change_path:
            outputs["OUTPUT_CHANGE"] = self._write_change(refs, acc, k, legend, colours, change_path, context,
                                                          feedback)
        changed_m2 = total_m2 - float(area_m2.trace())
        excluded = acc.excluded_pixels
        if excluded:
            feedback.pushInfo("Left out (nodata): " + ", ".join(f"{n} px nodata at {key}"
                                                               for key, n in acc.excluded.items() if n))
        feedback.pushInfo(f"Counted {int(pixels.sum())} px = {total_m2 / 1e6:.6g} km2 in {len(codes)} classes; "
                          f"{changed_m2 / 1e6:.6g} km2 ({100 * changed_m2 / total_m2:.3g} %) changed class.")
        outputs["OUTPUT_MATRIX"] = self._write_matrix(parameters, context, codes, names, pixels, area_m2, unit)
        outputs["OUTPUT_LEGEND"] = self.write_table(
            parameters, "OUTPUT_LEGEND", context,
            [("code", int), ("from_class", int), ("to_class", int), ("from_name", str), ("to_name", str),
             ("meaning", str), ("changed", bool), ("pixels", int),
             ("area", int if unit == 2 else float), ("colour", str)],
            [(r["code"], r["from"], r["to"], r["from_name"], r["to_name"], r["meaning"], r["changed"], r["pixels"],
              r["area"], c) for r, c in zip(legend, colours)])
        if heatmap_path:
            from ..reports.heatmap import transfer_heatmap_png
            labels = [f"{c} {names[c]}" if c in names else str(c) for c in codes]
            transfer_heatmap_png(heatmap_path, values, labels, labels, "Transfer matrix (rows: date 1, columns: date 2)",
                                 UNIT_LABELS[unit], integer=unit == 2)
            outputs["OUTPUT_HEATMAP"] = heatmap_path
        outputs.update(TOTAL_AREA_KM2=total_m2 / 1e6, CHANGED_AREA_KM2=changed_m2 / 1e6,
                       CHANGED_PERCENT=100.0 * changed_m2 / total_m2, EXCLUDED_PIXELS=excluded, CLASS_DIGITS=k)
        feedback.setProgress(100)
        return outputs

    def _write_change(self, refs, acc, k, legend, colours, path, context, feedback):
        for pid, present in (("DATE1", acc.from_codes), ("DATE2", acc.to_codes)):
            negative = [c for c in present if c < 0]
            if negative:
                raise ValueError(f"{pid} holds negative class codes ({', '.join(map(str, negative[:5]))}); the change "
                                 "codes from * 10^k + to need codes >= 0. Reclassify, or leave OUTPUT_CHANGE empty.")
        try:
            dtype, nodata = core.change_dtype(k)
        except ValueError as err:
            raise ValueError(f"OUTPUT_CHANGE: {err}. Reclassify the rasters, or leave OUTPUT_CHANGE empty.") from None
        feedback.pushInfo(f"Pass 2: change raster, codes from * 10^{k} + to ({dtype}, nodata {nodata})")
        done = self.run_pass(BlockPass(
            inputs=refs, compute=partial(core.change_block, k=k, nodata=nodata), load=read_classes,
            outputs=(OutputSpec("OUTPUT_CHANGE", path, dtype, nodata, band_names=(f"from*10^{k}+to",)),)),
            feedback, 50, 90)
        path = done.paths["OUTPUT_CHANGE"]
        items = tuple((r["code"], f"{r['code']}: {r['meaning']}", c) for r, c in zip(legend, colours))
        style_output(path, LegendStyle("legend", items=items), context, "Class change")
        return path

    def _write_matrix(self, parameters, context, codes, names, pixels, area_m2, unit):
        """Wide table: the matrix rows plus the per-class summary. Sums and differences are formed on
        pixel counts / m2 and converted to the unit once (no float noise such as 0.39394124999)."""
        kind = int if unit == 2 else float
        total_m2 = float(area_m2.sum())
        s_px, s_m2 = core.transfer_summary(pixels), core.transfer_summary(area_m2)

        def conv(m2, px):
            return core.in_units(m2, np.round(px).astype(np.int64), unit, total_m2)

        values = conv(area_m2, pixels)
        summary = {key: conv(s_m2[key], s_px[key]) for key in ("date1", "unchanged", "out", "in", "date2", "net")}
        to_fields = [f"to_{c}_{field_slug(names[c])}" if field_slug(names.get(c, "")) else f"to_{c}" for c in codes]
        columns = ([("class", int), ("name", str)] + [(f, kind) for f in to_fields]
                   + [("total_date1", kind), ("unchanged", kind), ("transfer_out", kind), ("transfer_in", kind),
                      ("total_date2", kind), ("net_change", kind), ("net_change_pct", float)])
        rows = []
        for i, c in enumerate(codes):
            rows.append([c, names.get(c, str(c))] + [values[i, j] for j in range(len(codes))]
                        + [summary[key][i] for key in ("date1", "unchanged", "out", "in", "date2", "net")]
                        + [core.finite_or_none(s_m2["net_pct"][i])])
        total = conv(np.array(total_m2), pixels.sum())
        rows.append([None, "Total"] + list(conv(area_m2.sum(axis=0), pixels.sum(axis=0)))
                    + [total, conv(np.trace(area_m2), np.trace(pixels)), conv(s_m2["out"].sum(), s_px["out"].sum()),
                       conv(s_m2["in"].sum(), s_px["in"].sum()), total, 0, 0.0])
        return self.write_table(parameters, "OUTPUT_MATRIX", context, columns, rows)
