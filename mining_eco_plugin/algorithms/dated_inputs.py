"""Inputs of the tools that read one raster band per date (trend, time series, class areas, EG series):
the rasters, their BAND and YEARS, with years read from layer or band names when YEARS is empty."""
from __future__ import annotations

import os

from qgis.core import QgsProcessingParameterMultipleLayers, QgsProcessingParameterNumber, QgsProcessingParameterString

from .. import compat
from ..core import trend as core
from ..raster.engine import BandRef, raster_info
from . import limits


def add_dated_raster_parameters(alg, name: str, description: str, optional: bool = False,
                                grid_note: str = "all on one grid"):
    """The parameters ``name`` (rasters), BAND and YEARS of a tool that reads one raster band per date."""
    alg.add(QgsProcessingParameterMultipleLayers(name, description, compat.ProcessingSourceType.Raster,
                                                 optional=optional),
            f"Several rasters, one per date (band BAND of each, {grid_note}), or one multi-band raster with one "
            "band per date. Order them from the earliest to the latest date. With qgis_process, repeat the key: "
            f"{name}=a.tif {name}=b.tif ...")
    alg.add(QgsProcessingParameterString("YEARS", "Years (one per date)", optional=True, defaultValue=""),
            "The date of each layer (or band) in the same order: 2000,2001,2003 or a range 2000-2024; decimals "
            "allowed. Empty: the year written in each layer name (e.g. rsei_2005.tif, or the acquisition date of "
            "a Landsat product id) or band description (e.g. '2005').")
    alg.add(QgsProcessingParameterNumber("BAND", "Band of each raster", compat.ProcessingNumberParameterType.Integer,
                                         defaultValue=1, minValue=1, maxValue=limits.BAND_MAX),
            "With several rasters: the band of each that holds the variable (1 = first). Ignored for one "
            "multi-band raster, whose bands are the dates.", advanced=True)


def dated_rasters(alg, parameters, context, name: str, minimum: int, sort: bool = False):
    """(BandRefs, years float64) of the dates given in parameter ``name`` with YEARS and BAND.

    ``sort``: put the dates in time order instead of refusing layers given out of order.

    One layer with several bands: its bands are the dates (years from YEARS or the band descriptions);
    several layers: band BAND of each (years from YEARS or the layer / file names). ValueError naming
    the input when there are fewer than ``minimum`` dates, years are missing, repeated or not increasing,
    or YEARS does not have one date per layer."""
    layers = alg.parameterAsLayerList(parameters, name, context)
    if not layers:
        raise ValueError(f"{name}: give the rasters (one per date), or one multi-band raster with one band per date.")
    paths = [layer.source().split("|")[0] for layer in layers]
    if len(layers) == 1:
        _grid, count, descriptions = raster_info(paths[0], name)
        if count < 2:
            raise ValueError(f"{name}: only one raster with one band was given, i.e. one date; at least "
                             f"{minimum} dates are needed. Give one raster per date or one multi-band raster.")
        base = os.path.basename(paths[0])
        entries = [(paths[0], b + 1, descriptions[b] or "", f"band {b + 1} of {base}") for b in range(count)]
        what = "band descriptions"
    else:
        band = alg.parameterAsInt(parameters, "BAND", context) or 1
        entries = [(p, band, layer.name(), os.path.basename(p)) for layer, p in zip(layers, paths)]
        what = "layer names"
    if len(entries) < minimum:
        raise ValueError(f"{name}: {len(entries)} dates given; at least {minimum} are needed. Add rasters "
                         "(one per date) or use a multi-band raster with one band per date.")
    text = alg.parameterAsString(parameters, "YEARS", context).strip()
    if text:
        years = core.parse_years(text)
        if len(years) != len(entries):
            raise ValueError(f"YEARS: {len(years)} date(s) for {len(entries)} "
                             f"{'bands' if len(layers) == 1 else 'layers'}; give one date per "
                             f"{'band' if len(layers) == 1 else 'layer'}, in the same order.")
        label = "YEARS"
    else:
        years = []
        for path, _band, title, where in entries:
            year = core.year_from_name(title)
            if year is None and len(layers) > 1:
                year = core.year_from_name(os.path.basename(path))
            if year is None:
                raise ValueError(f"{name}: no year found in the {what[:-1]} of {where} ({title!r}). Give YEARS, "
                                 "one per date, e.g. 2000,2001,2002 or 2000-2024.")
            years.append(year)
        label = f"{name} (years read from the {what}: {', '.join(f'{y:g}' for y in years)})"
    if sort:
        order = sorted(range(len(years)), key=lambda i: years[i])
        entries, years = [entries[i] for i in order], [years[i] for i in order]
    years = core.check_years(years, label, minimum)
    refs = [BandRef(path, band, f"{name}, date {y:g}") for (path, band, _t, _w), y in zip(entries, years)]
    return refs, years
