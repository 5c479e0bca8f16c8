"""Class area statistics across several dates: area and share per class per date, and their changes."""
from __future__ import annotations

import os

import numpy as np
from qgis.core import (
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSink,
)

from .. import compat
from ..core import transfer as core
from ..raster.classes import read_classes
from ..raster.engine import BandRef
from ..raster.executor import BlockPass
from .base import MiningEcoAlgorithm
from .dated_inputs import add_dated_raster_parameters, dated_rasters
from .class_names import add_class_name_parameters, read_class_names
from .references import cite

UNIT_LABELS = ("km2", "ha", "pixels")

SUMMARY = (
    "Area of every class of several class rasters, one per date (land use, salinity grades, RSEI grades ...), its "
    "share of the classified area, and its change since the previous date and since the first date, as an area and in "
    "%.\n"
    "Inputs: the class rasters (each on its own grid) or one multi-band raster, the years (typed, or read from the "
    "layer names) and optional class names.\n"
    "Output: one table, one row per class and date, in date order.")
SOURCE = cite("han2025", "he2026")


class ClassAreasAlgorithm(MiningEcoAlgorithm):
    ID = "classareas"
    NAME = "Class areas over dates"
    GROUP = "change"
    SUMMARY = SUMMARY
    SOURCE = SOURCE
    SHORT_DESCRIPTION = (
        "Area and share of every class at every date and its change in % (land use, salinity or RSEI grades)")
    TAGS = ("class areas", "area statistics", "land use", "land cover", "grades", "histogram", "change")

    def initAlgorithm(self, config=None):  # noqa: N802
        add_dated_raster_parameters(self, "LAYERS", "Class rasters (one per date)",
                                    grid_note="categorical integer codes, each on its own grid; nodata not counted")
        add_class_name_parameters(self)
        self.add(QgsProcessingParameterEnum("UNITS", "Area units", list(UNIT_LABELS), defaultValue=0),
                 "0 km2, 1 ha, 2 pixels (shares and changes in % are the same in every unit).")
        self.add_output(QgsProcessingParameterFeatureSink("OUTPUT", "Class areas", compat.ProcessingSourceType.Vector),
                        "Table, one row per class per date (class, name, date, area, share_pct) with the change "
                        "since the previous date (prev_date, change, change_pct) and since the first date "
                        "(first_date, change_first, change_first_pct); NULL where the earlier area is 0.")

    def run_tool(self, parameters, context, feedback):
        refs, years = dated_rasters(self, parameters, context, "LAYERS", 2, sort=True)
        names = read_class_names(self, parameters, context)
        unit = self.parameterAsEnum(parameters, "UNITS", context)
        labels = [f"{y:g}" for y in years]

        per_date = []
        for n, ref in enumerate(refs):
            label = f"LAYERS ({labels[n]}: {os.path.basename(ref.path)})"
            span = 100.0 / len(refs)
            try:
                done = self.run_pass(BlockPass(inputs={"CLASS": BandRef(ref.path, ref.band, label)},
                                               compute=core.class_area_block, combine=core.combine_class_area,
                                               load=read_classes), feedback, n * span, (n + 1) * span)
            except core.TooManyClasses as err:
                raise ValueError(f"{label}: {err}.") from None
            acc, pixel_area = done.partial, done.grid.pixel_area_m2()
            if pixel_area is not None:     # projected CRS: exact area = pixels x pixel area
                for entry in acc.counts.values():
                    entry[1] = entry[0] * pixel_area
            if not acc.counts:
                raise ValueError(f"{label} has no valid pixel (all nodata).")
            per_date.append(acc)

        dates = labels
        codes = sorted(set(names) | {c for acc in per_date for c in acc.counts})
        pixels = np.array([[acc.counts.get(c, [0, 0.0])[0] for c in codes] for acc in per_date], dtype=np.int64)
        area_m2 = np.array([[acc.counts.get(c, [0, 0.0])[1] for c in codes] for acc in per_date])
        values = core.in_units(area_m2, pixels, unit)
        # shares and changes from the exact pixel counts / m2, converted once (no float noise in differences)
        stats = core.class_area_change(pixels if unit == 2 else area_m2)
        for key in ("change", "change_first"):
            stats[key] = stats[key] * (1.0 if unit == 2 else {0: 1e-6, 1: 1e-4}[unit])
        kind = int if unit == 2 else float
        columns = [("class", int), ("name", str), ("date", str), ("area", kind), ("share_pct", float),
                   ("prev_date", str), ("change", kind), ("change_pct", float),
                   ("first_date", str), ("change_first", kind), ("change_first_pct", float)]
        rows = []
        fin = core.finite_or_none
        for j, c in enumerate(codes):
            for t, date in enumerate(dates):
                later = t > 0
                rows.append([c, names.get(c, str(c)), date, values[t, j], float(stats["share"][t, j]),
                             dates[t - 1] if later else None,
                             fin(stats["change"][t, j]) if later else None, fin(stats["change_pct"][t, j]),
                             dates[0] if later else None,
                             fin(stats["change_first"][t, j]) if later else None, fin(stats["change_first_pct"][t, j])])
            pct = fin(stats["change_first_pct"][-1, j])
            feedback.pushInfo(f"{names.get(c, c)}: {values[0, j]:.6g} -> {values[-1, j]:.6g} {UNIT_LABELS[unit]} "
                              f"({dates[0]} -> {dates[-1]}), "
                              + (f"{pct:+.1f} %" if pct is not None else "new class"))
        out = self.write_table(parameters, "OUTPUT", context, columns, rows)
        feedback.setProgress(100)
        return {"OUTPUT": out}
