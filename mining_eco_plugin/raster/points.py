"""Raster values at points: nearest (the pixel containing the point) or bilinear, read tile by tile.

Points are grouped by the TILE x TILE tile of the raster they fall in and each group reads only the
small window that spans its points (plus one pixel for bilinear), so the cost follows the number of
points, never the size of the raster. Coordinates must already be in the raster's CRS. No QGIS.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from osgeo import gdal

from .engine import RasterError, read_array
from .engine import open_raster as engine_open

gdal.UseExceptions()

TILE = 256
METHODS = ("nearest", "bilinear")


@dataclass
class PointSample:
    """``values`` n x bands (float64, NaN where nodata); ``outside`` n booleans (outside the raster)."""
    values: np.ndarray
    outside: np.ndarray
    band_names: list


def open_raster(path, label="RASTERS"):
    return engine_open(path, label)


def pixel_coordinates(geotransform, xs, ys):
    """Fractional (column, row) of map coordinates (any affine geotransform, rotation included)."""
    inv = gdal.InvGeoTransform(tuple(geotransform))
    if inv is None:
        raise RasterError("the raster's geotransform cannot be inverted.")
    xs, ys = np.asarray(xs, np.float64), np.asarray(ys, np.float64)
    col = inv[0] + inv[1] * xs + inv[2] * ys
    row = inv[3] + inv[4] * xs + inv[5] * ys
    return col, row


def _read(ds, bands, xoff, yoff, xsize, ysize, label="RASTERS"):
    """Window of every band as float64 with each band's nodata value (and NaN, +-inf) as NaN: bands x rows x
    cols."""
    out = np.empty((len(bands), ysize, xsize))
    for i, b in enumerate(bands):
        band = ds.GetRasterBand(b)
        a = read_array(band, ds.GetDescription(), label, xoff, yoff, xsize, ysize, buf_type=gdal.GDT_Float64)
        nd = band.GetNoDataValue()
        if nd is not None and not math.isnan(nd):
            a[a == nd] = np.nan
        a[np.isinf(a)] = np.nan         # an infinite value is no measurement (nodata), never a sample
        out[i] = a
    return out


def sample_points(path, xs, ys, method="nearest", bands=None, progress=None, label="RASTERS"):
    """Values of ``bands`` (1-based; all by default) of raster ``path`` at the points (xs, ys).

    nearest: the pixel that contains the point (col = floor(c), row = floor(r) of the fractional pixel
    coordinates; a point on the right / bottom edge of the raster is outside).
    bilinear: weights of the 2 x 2 pixel centres around the point, u = c - 0.5, v = r - 0.5,
    value = sum (1-du or du)(1-dv or dv) * pixel; at the border the outer row / column is repeated
    (the same as scipy.ndimage.map_coordinates(order=1, mode="nearest")); a neighbour with a weight > 0
    on nodata makes the value NaN. A point outside the raster extent is ``outside`` with NaN values.
    ``progress`` (optional) is called after each tile group.
    """
    if method not in METHODS:
        raise RasterError(f"unknown sampling method {method!r}; use one of {', '.join(METHODS)}.")
    ds = open_raster(path, label)
    bands = list(bands or range(1, ds.RasterCount + 1))
    width, height = ds.RasterXSize, ds.RasterYSize
    col, row = pixel_coordinates(ds.GetGeoTransform(), xs, ys)
    n = col.size
    values = np.full((n, len(bands)), np.nan)
    with np.errstate(invalid="ignore"):
        outside = ~((col >= 0) & (col < width) & (row >= 0) & (row < height))
    inside = np.flatnonzero(~outside)
    if inside.size:
        c, r = col[inside], row[inside]
        if method == "nearest":
            c0 = np.floor(c).astype(np.int64)
            r0 = np.floor(r).astype(np.int64)
            c1, r1 = c0, r0
            du = dv = None
        else:
            u, v = c - 0.5, r - 0.5
            fu, fv = np.floor(u), np.floor(v)
            du, dv = u - fu, v - fv
            c0 = np.clip(fu.astype(np.int64), 0, width - 1)
            r0 = np.clip(fv.astype(np.int64), 0, height - 1)
            c1 = np.clip(fu.astype(np.int64) + 1, 0, width - 1)
            r1 = np.clip(fv.astype(np.int64) + 1, 0, height - 1)
        tile_key = (r0 // TILE) * ((width + TILE - 1) // TILE) + (c0 // TILE)
        order = np.argsort(tile_key, kind="stable")
        keys, starts = np.unique(tile_key[order], return_index=True)
        bounds = list(starts) + [order.size]
        for g in range(keys.size):
            idx = order[bounds[g]:bounds[g + 1]]
            x0, y0 = int(c0[idx].min()), int(r0[idx].min())
            x1, y1 = int(c1[idx].max()), int(r1[idx].max())
            win = _read(ds, bands, x0, y0, x1 - x0 + 1, y1 - y0 + 1, label)
            a00 = win[:, r0[idx] - y0, c0[idx] - x0]
            if method == "nearest":
                vals = a00
            else:
                a01 = win[:, r0[idx] - y0, c1[idx] - x0]
                a10 = win[:, r1[idx] - y0, c0[idx] - x0]
                a11 = win[:, r1[idx] - y0, c1[idx] - x0]
                wu, wv = du[idx], dv[idx]
                vals = 0.0
                for a, w in ((a00, (1 - wu) * (1 - wv)), (a01, wu * (1 - wv)), (a10, (1 - wu) * wv), (a11, wu * wv)):
                    vals = vals + np.where(w > 0, w * a, 0.0)   # NaN (nodata) counts only where it has a weight
            values[inside[idx]] = vals.T
            if progress is not None:
                progress((g + 1) / keys.size)
    names = [ds.GetRasterBand(b).GetDescription() for b in bands]
    ds = None
    return PointSample(values, outside, names)
