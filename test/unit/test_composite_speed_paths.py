"""The faster paths of the composite (bench (j), issue 13) give the very values of the paths they replace.

Independent references: numpy's own ``np.nanmedian`` (its masked-array median for fewer than 600 values), the
medoid written out as its definition with ``np.nanmedian`` and ``np.sum`` over the bands, GDAL's
nearest-neighbour ``gdal.Warp`` VRT (what warp_to_grid built for every product before), and ``RasterStack.read``
(float32, nodata NaN). Every comparison is bit for bit (no tolerance), NaN included.
"""
import warnings

import numpy as np
import pytest
from osgeo import gdal, osr

from mining_eco_plugin.core import composite as c
from mining_eco_plugin.raster import composite as rc
from mining_eco_plugin.raster.engine import BandRef, Grid, RasterStack, Window

gdal.UseExceptions()


def random_stacks(seed, count):
    """Random (n, ...) float32 / float64 stacks with NaN, ties, signed zeros and infinities."""
    rng = np.random.default_rng(seed)
    for t in range(count):
        n = int(rng.integers(1, 30))
        shape = (n,) + tuple(int(x) for x in rng.integers(1, 9, size=int(rng.integers(1, 4))))
        a = rng.normal(size=shape).astype(np.float32 if t % 3 else np.float64)
        if t % 4 == 0:
            a = np.round(a * 3) / 3                       # ties and -0.0 next to 0.0
        if t % 7 == 0:
            a[rng.random(shape) < 0.1] = np.inf
            a[rng.random(shape) < 0.1] = -np.inf
        a[rng.random(shape) < rng.random()] = np.nan      # from none to all-NaN pixels
        yield a


def same_bits(x, y):
    x, y = np.asarray(x), np.asarray(y)
    return x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes()


def test_nanmedian_equals_numpy_bit_for_bit():
    for a in random_stacks(1, 600):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            expected = np.nanmedian(a, axis=0)
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)     # no warning for all-NaN pixels or inf - inf
            got = c._nanmedian(a, 0)
        assert same_bits(got, expected), a.shape


def medoid_by_definition(obs, doy, date):
    """The medoid as first written: masked copy, np.nanmedian over the stack, np.sum over the bands."""
    valid = c.valid_observations(obs)
    masked = np.where(valid[:, None], obs, np.float32(np.nan))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(masked, axis=0)
    dist = np.sum((masked - med[None]) ** 2, axis=1)
    values, index, chosen = c._pick(obs, valid, dist, "min", date, doy)
    return {"values": values, "index": index, "doy": chosen, "count": valid.sum(axis=0).astype(np.int16)}


def test_medoid_equals_its_definition_bit_for_bit():
    rng = np.random.default_rng(2)
    for t in range(300):
        n, bands = int(rng.integers(1, 15)), int(rng.integers(1, 8))
        shape = (n, bands, int(rng.integers(1, 20)), int(rng.integers(1, 20)))
        obs = rng.random(shape).astype(np.float32 if t % 4 else np.float64)
        if t % 3 == 0:
            obs = np.round(obs * 4) / 4
        gone = rng.random((n,) + shape[2:]) < rng.random()
        obs[np.broadcast_to(gone[:, None], shape)] = np.nan          # masked dates (all bands)
        if t % 2 == 0:
            obs[rng.random(shape) < 0.05] = np.nan                   # one band's own nodata
        doy, date = np.arange(n) + 150, rng.permutation(n)
        got, expected = c.medoid_composite(obs, doy, date), medoid_by_definition(obs, doy, date)
        for key in expected:
            assert same_bits(got[key], expected[key]), (t, key)


def write_band(path, array, gt, nodata, epsg=32648):
    ds = gdal.GetDriverByName("GTiff").Create(str(path), array.shape[1], array.shape[0], 1, gdal.GDT_UInt16,
                                              ["TILED=YES", "BLOCKXSIZE=16", "BLOCKYSIZE=16"])
    ds.SetGeoTransform(gt)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    ds.SetProjection(srs.ExportToWkt())
    ds.GetRasterBand(1).SetNoDataValue(nodata)
    ds.GetRasterBand(1).WriteArray(array)
    ds = None
    return str(path)


@pytest.mark.parametrize("dc, dr, width, height", [(0, 0, 40, 30), (-7, -3, 60, 45), (5, 9, 20, 10),
                                                   (33, 25, 20, 20), (-15, -12, 20, 20)])
@pytest.mark.parametrize("nodata", [0, 1])
def test_product_on_the_grid_equals_nearest_warp(tmp_path, dc, dr, width, height, nodata):
    """A product on the target grid (whole-pixel offset, inside, around, across an edge) gets a plain VRT window
    whose pixels, nodata, grid and type equal the nearest-neighbour gdal.Warp VRT's."""
    rng = np.random.default_rng(abs(dc * 100 + dr))
    dn = rng.integers(0, 4, (30, 40)).astype(np.uint16) * 7000     # nodata pixels inside too
    gt = (571785.0, 30.0, 0.0, 4264215.0, 0.0, -30.0)
    src = write_band(tmp_path / "b.tif", dn, gt, nodata)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32648)
    grid = Grid(width, height, (gt[0] + 30.0 * dc, 30.0, 0.0, gt[3] - 30.0 * dr, 0.0, -30.0), srs.ExportToWkt())
    fast = rc.warp_to_grid(src, grid, str(tmp_path / "fast.vrt"), "nearest")
    assert "VRTWarpedDataset" not in open(fast).read()
    g = grid.geotransform
    gdal.Warp(str(tmp_path / "warp.vrt"), src, format="VRT", width=width, height=height, dstSRS=grid.wkt,
              outputBounds=(g[0], g[3] - 30.0 * height, g[0] + 30.0 * width, g[3]), srcNodata=nodata,
              dstNodata=nodata, resampleAlg=gdal.GRA_NearestNeighbour)
    a, b = gdal.Open(fast), gdal.Open(str(tmp_path / "warp.vrt"))
    assert a.GetGeoTransform() == b.GetGeoTransform()
    ba, bb = a.GetRasterBand(1), b.GetRasterBand(1)
    assert (ba.DataType, ba.GetNoDataValue()) == (bb.DataType, bb.GetNoDataValue())
    assert same_bits(ba.ReadAsArray(), bb.ReadAsArray())


def test_product_off_the_grid_is_still_warped(tmp_path):
    dn = np.full((30, 40), 9000, dtype=np.uint16)
    src = write_band(tmp_path / "b.tif", dn, (571785.0, 30.0, 0.0, 4264215.0, 0.0, -30.0), 0)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32648)
    for gt in ((571800.0, 30.0, 0.0, 4264215.0, 0.0, -30.0),       # half a pixel off
               (571785.0, 20.0, 0.0, 4264215.0, 0.0, -20.0)):      # another resolution
        vrt = rc.warp_to_grid(src, Grid(30, 30, gt, srs.ExportToWkt()), str(tmp_path / "w.vrt"), "nearest")
        assert "VRTWarpedDataset" in open(vrt).read()
    vrt = rc.warp_to_grid(src, Grid(30, 30, (571785.0, 30.0, 0.0, 4264215.0, 0.0, -30.0), srs.ExportToWkt()),
                          str(tmp_path / "b.vrt"), "bilinear")
    assert "VRTWarpedDataset" in open(vrt).read()


@pytest.mark.parametrize("nodata", [0, 1, 65535, None])
def test_compact_blocks_read_as_stack_read(tmp_path, nodata):
    """read_observations' integer blocks, once _floats converts them, equal RasterStack.read (float32, nodata
    NaN)."""
    rng = np.random.default_rng(3)
    dn = rng.integers(0, 4, (32, 32)).astype(np.uint16)
    dn[dn == 3] = 65535
    path = write_band(tmp_path / "b.tif", dn, (0.0, 30.0, 0.0, 960.0, 0.0, -30.0), 0)
    if nodata is None:
        ds = gdal.Open(path, gdal.GA_Update)
        ds.GetRasterBand(1).DeleteNoDataValue()
        ds = None
    elif nodata:
        ds = gdal.Open(path, gdal.GA_Update)
        ds.GetRasterBand(1).SetNoDataValue(nodata)
        ds = None
    with RasterStack({"k": BandRef(path, 1, "k")}) as stack:
        for w in (Window(0, 0, 32, 32), Window(5, 7, 16, 9)):
            compact = c._read_compact(stack, "k", w)
            assert isinstance(compact, c._Compact) and compact.array.dtype == np.uint16
            assert same_bits(c._floats(compact), stack.read("k", w))
