"""Loading blocks of class rasters (integer codes: land use, grades) for a block pass (raster/executor.BlockPass
``load``). Only methods of the RasterStack are used, so the same functions run on dask workers. No QGIS import."""
from __future__ import annotations

import numpy as np

from .executor import read_floats


def require_integers(stack):
    """RasterError naming the first input of ``stack`` that is not an integer raster (a class map is needed)."""
    for key in stack.refs:
        stack.require_integer(key)


def read_classes(stack, ctx) -> dict:
    """Every input of ``stack`` (integer rasters, else RasterError) as (int64 codes, valid mask): nodata (the
    band's nodata value) invalid."""
    require_integers(stack)
    out = {}
    for key in stack.refs:
        raw = stack.read_raw(key, ctx.window)
        nodata = stack.nodata(key)
        valid = np.ones(raw.shape, bool) if nodata is None or nodata != nodata else raw != nodata
        out[key] = (raw.astype(np.int64), valid)
    return out


def read_integer_floats(stack, ctx) -> dict:
    """Every input of ``stack`` (integer rasters, else RasterError) as float32 with nodata as NaN (executor.
    read_floats), grown by the pass's halo."""
    require_integers(stack)
    return read_floats(stack, ctx)
