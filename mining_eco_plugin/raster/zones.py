"""Polygon zones (mines, districts) as pixel masks on a grid, one block at a time.

Each zone is rasterised separately (GDAL, pixel-centre rule: a pixel belongs to a zone when its
centre is inside the polygon), only over the part of a block its bounding box covers, into a small
in-memory raster: memory stays bounded, overlapping zones each keep all their pixels, and no
temporary file is written. Geometries must already be in the grid's CRS (the algorithm transforms
them). No QGIS import.

A ZoneMasks goes into a block pass (raster/executor.py): it pickles as its grid, WKB geometries and names (a
worker process rebuilds its layers), and every thread rasterises with layers of its own (OGR layers are not
shared between threads).
"""
from __future__ import annotations

import math
import threading

import numpy as np
from osgeo import gdal, ogr, osr

from .engine import Grid, RasterError, Window

gdal.UseExceptions()
ogr.UseExceptions()


class ZoneMasks:
    """Zones given as WKB geometries (in the CRS of ``grid``) with their names."""

    def __init__(self, grid: Grid, geometries_wkb, names):
        gt = grid.geotransform
        if gt[2] != 0 or gt[4] != 0 or gt[1] <= 0 or gt[5] >= 0:
            raise RasterError("zones: the raster grid is rotated or not north-up; warp it to a north-up grid first.")
        self.grid = grid
        self.names = list(names)
        self.wkbs = [bytes(wkb) if wkb else None for wkb in geometries_wkb]
        self.bounds = [self._pixel_bounds(ogr.CreateGeometryFromWkb(wkb) if wkb else None) for wkb in self.wkbs]
        self._local = threading.local()

    def __getstate__(self):
        return {"grid": self.grid, "names": self.names, "wkbs": self.wkbs, "bounds": self.bounds}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._local = threading.local()

    def _layers(self):
        """This thread's in-memory layers, one per zone (built on first use)."""
        layers = getattr(self._local, "layers", None)
        if layers is None:
            ds = ogr.GetDriverByName("Memory").CreateDataSource("zones")
            srs = osr.SpatialReference()
            if self.grid.wkt:
                srs.ImportFromWkt(self.grid.wkt)
            layers = []
            for i, wkb in enumerate(self.wkbs):
                layer = ds.CreateLayer(f"z{i}", srs if self.grid.wkt else None, ogr.wkbUnknown)
                feature = ogr.Feature(layer.GetLayerDefn())
                geom = ogr.CreateGeometryFromWkb(wkb) if wkb else None
                if geom is not None:
                    feature.SetGeometry(geom)
                layer.CreateFeature(feature)
                layers.append(layer)
            self._local.ds, self._local.layers = ds, layers
        return layers

    def _pixel_bounds(self, geom):
        """(col0, row0, col1, row1) of the pixels the geometry's envelope touches, clipped to the grid;
        None when the envelope misses the grid (or the geometry is empty)."""
        if geom is None or geom.IsEmpty():
            return None
        minx, maxx, miny, maxy = geom.GetEnvelope()
        gt, g = self.grid.geotransform, self.grid
        c0 = max(int(math.floor((minx - gt[0]) / gt[1])), 0)
        c1 = min(int(math.ceil((maxx - gt[0]) / gt[1])), g.width)
        r0 = max(int(math.floor((maxy - gt[3]) / gt[5])), 0)
        r1 = min(int(math.ceil((miny - gt[3]) / gt[5])), g.height)
        if c0 >= c1 or r0 >= r1:
            return None
        return c0, r0, c1, r1

    def inside_extent(self) -> list[int]:
        """Indices of the zones whose envelope overlaps the grid."""
        return [i for i, b in enumerate(self.bounds) if b is not None]

    def masks(self, w: Window):
        """Yields ``(zone index, mask)`` for every zone overlapping window ``w``; ``mask`` is a bool
        array of the window's shape (True = pixel centre inside the zone)."""
        gt = self.grid.geotransform
        for i, b in enumerate(self.bounds):
            if b is None:
                continue
            c0, r0 = max(b[0], w.xoff), max(b[1], w.yoff)
            c1, r1 = min(b[2], w.xoff + w.xsize), min(b[3], w.yoff + w.ysize)
            if c0 >= c1 or r0 >= r1:
                continue
            mem = gdal.GetDriverByName("MEM").Create("", c1 - c0, r1 - r0, 1, gdal.GDT_Byte)
            mem.SetGeoTransform((gt[0] + c0 * gt[1], gt[1], 0.0, gt[3] + r0 * gt[5], 0.0, gt[5]))
            if self.grid.wkt:
                mem.SetProjection(self.grid.wkt)
            gdal.RasterizeLayer(mem, [1], self._layers()[i], burn_values=[1])
            part = mem.GetRasterBand(1).ReadAsArray().astype(bool)
            mem = None
            if not part.any():
                continue
            mask = np.zeros(w.shape, dtype=bool)
            mask[r0 - w.yoff:r1 - w.yoff, c0 - w.xoff:c1 - w.xoff] = part
            yield i, mask
