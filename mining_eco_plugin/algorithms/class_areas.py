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
from ..raster.engine import BandRef, RasterStack, block_pass
from .base import MiningEcoAlgorithm
from .dated_inputs import add_dated_raster_parameters, dated_rasters
from .class_names import add_class_name_parameters, read_class_names, read_classes

UNIT_LABELS = ("km2", "ha", "pixels")

SUMMARY = (
    "Area of every class of several class rasters (one per date: land use, salinity grades, RSEI grades ...), "
    "its share of that date's classified area, and its change: against the previous date and against the first "
    "date, as an area and in % = 100 (A_t - A_s) / A_s. The row of a class at the last date therefore reads "
    "directly as 'the moderate-salinization area changed by +79 % from 2000 to 2024'. Dates are the YEARS "
    "given, or are parsed from the layer names (a Landsat product id's acquisition date, a YYYY-MM-DD date, or a "
    "4-digit year such as salinity_2010); the rows are in date order. Each raster is read block by block on its "
    "own grid (the dates need not share a grid); area is the pixel size for a projected CRS and the exact cell area on "
    "the CRS's ellipsoid for a geographic CRS. Classes absent at some date get area 0 there; nodata pixels are not "
    "counted. Float rasters are refused (reclassify first).")
SOURCE = ("Class areas per year as in the ningdong seed, section 4.2, Tables 6-7 (RSEI grade areas 2000-2024) and "
          "section 4.1 (grade shares); salinity grade shares in the zhundong seed, section 2.3.")


class ClassAreasAlgorithm(MiningEcoAlgorithm):
    ID = "classareas"
    NAME = "Class areas over dates"
    GROUP = "change"
    SUMMARY = SUMMARY
    SOURCE = SOURCE

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
            acc = core.ClassAreaAccumulator()
            with RasterStack({"CLASS": BandRef(ref.path, ref.band, label)}) as stack:
                stack.require_integer("CLASS")
                grid = stack.grid
                span = 100.0 / len(refs)
                for w in block_pass(grid, feedback, n * span, (n + 1) * span):
                    codes, valid = read_classes(stack, "CLASS", w)
                    row_areas = grid.row_areas_m2(w)   # RasterError of its own (a geographic CRS on metres)
                    try:
                        acc.add(codes, valid, row_areas)
                    except ValueError as err:
                        raise ValueError(f"{label}: {err}.") from None
                pixel_area = grid.pixel_area_m2()
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
