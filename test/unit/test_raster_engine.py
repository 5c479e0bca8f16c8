"""The block-wise raster engine: windows, grid checks, nodata as NaN, atomic tiled writing,
progress/cancel, and block-size invariance of the scene products on the real Landsat 8 scene."""
import os

import numpy as np
import pytest
from osgeo import gdal, osr

from mining_eco_plugin.core import radiometry as rad
from mining_eco_plugin.core.scene import BlockProducts, build_radiometry
from mining_eco_plugin.raster import engine
from mining_eco_plugin.raster.engine import (BandRef, Canceled, GeoTiffWriter, Grid, RasterError, RasterStack,
                                             Window, windows)

from paths import L8

L8_BANDS = {"B": "2", "G": "3", "R": "4", "NIR": "5", "SWIR1": "6", "SWIR2": "7", "T": "10"}


def make_raster(path, data, gt=(500000.0, 30.0, 0.0, 4000000.0, 0.0, -30.0), epsg=32632, nodata=None,
                dtype=gdal.GDT_Float32):
    data = np.atleast_3d(data) if data.ndim == 3 else data[None]
    ds = gdal.GetDriverByName("GTiff").Create(str(path), data.shape[2], data.shape[1], data.shape[0], dtype)
    ds.SetGeoTransform(gt)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    ds.SetProjection(srs.ExportToWkt())
    for i in range(data.shape[0]):
        b = ds.GetRasterBand(i + 1)
        if nodata is not None:
            b.SetNoDataValue(nodata)
        b.WriteArray(data[i])
    ds = None
    return str(path)


class FakeFeedback:
    """The engine's progress protocol (setProgress / isCanceled); cancels after ``cancel_after`` steps."""

    def __init__(self, cancel_after=None):
        self.progress = []
        self.cancel_after = cancel_after

    def setProgress(self, value):  # noqa: N802
        self.progress.append(value)

    def isCanceled(self):  # noqa: N802
        return self.cancel_after is not None and len(self.progress) >= self.cancel_after


def test_windows_cover_the_grid_exactly_once():
    grid = Grid(103, 57, (0, 1, 0, 0, 0, -1), "")
    for rows, cols in [(1, None), (10, 7), (256, None), (57, 103), (1000, 1000)]:
        cover = np.zeros((57, 103), dtype=int)
        for w in windows(grid, rows, cols):
            cover[w.yoff:w.yoff + w.ysize, w.xoff:w.xoff + w.xsize] += 1
        assert (cover == 1).all()


def test_read_turns_nodata_into_nan(tmp_path):
    data = np.arange(20, dtype=np.float32).reshape(4, 5)
    data[1, 2] = -32768
    path = make_raster(tmp_path / "a.tif", data, nodata=-32768, dtype=gdal.GDT_Int16)
    with RasterStack({"A": BandRef(path)}) as st:
        block = st.read("A", Window(0, 0, 5, 4))
    assert block.dtype == np.float32
    assert np.isnan(block[1, 2]) and np.isnan(block).sum() == 1
    assert block[3, 4] == 19


def test_grid_mismatch_names_the_input(tmp_path):
    a = make_raster(tmp_path / "a.tif", np.ones((10, 10), np.float32))
    shifted = make_raster(tmp_path / "b.tif", np.ones((10, 10), np.float32),
                          gt=(500015.0, 30.0, 0.0, 4000000.0, 0.0, -30.0))
    coarse = make_raster(tmp_path / "c.tif", np.ones((5, 5), np.float32),
                         gt=(500000.0, 60.0, 0.0, 4000000.0, 0.0, -60.0))
    other_crs = make_raster(tmp_path / "d.tif", np.ones((10, 10), np.float32), epsg=32633)
    for path, words in [(shifted, "extent"), (coarse, "pixel size"), (other_crs, "CRS")]:
        with pytest.raises(RasterError) as err:
            RasterStack({"A": BandRef(a, 1, "RED"), "B": BandRef(path, 1, "NIR")})
        assert "NIR" in str(err.value) and words in str(err.value) and "resampling" in str(err.value)


def test_resampling_warps_onto_the_first_grid(tmp_path):
    a = make_raster(tmp_path / "a.tif", np.ones((10, 10), np.float32))
    coarse = np.arange(25, dtype=np.float32).reshape(5, 5)
    c = make_raster(tmp_path / "c.tif", coarse, gt=(500000.0, 60.0, 0.0, 4000000.0, 0.0, -60.0))
    with RasterStack({"A": BandRef(a), "C": BandRef(c)}, resampling="nearest") as st:
        block = st.read("C", Window(0, 0, 10, 10))
    # nearest neighbour of a 2x coarser grid = each coarse value repeated in a 2x2 square
    assert np.array_equal(block, np.kron(coarse, np.ones((2, 2), np.float32)))


def test_categorical_band_is_warped_by_nearest_neighbour_whatever_the_resampling(tmp_path):
    """A QA band (bits / classes) interpolated would be other bits: categorical refs always use nearest
    neighbour; the reflectance of the same stack uses the chosen method (here bilinear, compared with gdalwarp)."""
    a = make_raster(tmp_path / "a.tif", np.ones((10, 10), np.float32))
    codes = np.array([[4, 9, 4, 3, 4]] * 5, np.uint8)                  # SCL classes: vegetation, cloud, shadow
    qa = make_raster(tmp_path / "qa.tif", codes, gt=(500000.0, 60.0, 0.0, 4000000.0, 0.0, -60.0), dtype=gdal.GDT_Byte)
    refl = make_raster(tmp_path / "r.tif", np.arange(25, dtype=np.float32).reshape(5, 5),
                       gt=(500000.0, 60.0, 0.0, 4000000.0, 0.0, -60.0))
    with RasterStack({"A": BandRef(a), "R": BandRef(refl), "QA": BandRef(qa, 1, "QA", categorical=True)},
                     resampling="bilinear") as st:
        got_qa = st.read_raw("QA", Window(0, 0, 10, 10))
        got_r = st.read("R", Window(0, 0, 10, 10))
    assert np.array_equal(got_qa, np.kron(codes, np.ones((2, 2), np.uint8)))
    want = gdal.Warp("", refl, format="MEM", outputBounds=(500000.0, 3999700.0, 500300.0, 4000000.0), width=10,
                     height=10, resampleAlg="bilinear").ReadAsArray()
    np.testing.assert_array_equal(got_r, want)
    assert not np.array_equal(got_r, np.kron(np.arange(25, dtype=np.float32).reshape(5, 5), np.ones((2, 2))))


def test_missing_band_number_is_a_clear_error(tmp_path):
    a = make_raster(tmp_path / "a.tif", np.ones((2, 4, 4), np.float32))
    with pytest.raises(RasterError, match="band 3 does not exist"):
        RasterStack({"A": BandRef(a, 3, "NIR")})


def test_writer_is_atomic_tiled_and_compressed(tmp_path):
    grid = Grid(300, 270, (500000.0, 30.0, 0.0, 4000000.0, 0.0, -30.0), "")
    out = tmp_path / "out.tif"
    data = np.random.default_rng(1).random((270, 300)).astype(np.float32)
    data[0, 0] = np.nan
    with GeoTiffWriter(str(out), grid, 1, band_names=["NDVI"]) as wr:
        for w in windows(grid, 100):
            wr.write(1, w, data[w.yoff:w.yoff + w.ysize, w.xoff:w.xoff + w.xsize])
            assert not out.exists()          # nothing at the target until commit
        wr.commit()
    assert sorted(os.listdir(tmp_path)) == ["out.tif"]
    ds = gdal.Open(str(out))
    band = ds.GetRasterBand(1)
    assert band.GetBlockSize() == [256, 256]
    assert ds.GetMetadata("IMAGE_STRUCTURE")["COMPRESSION"] == "DEFLATE"
    assert band.GetDescription() == "NDVI" and band.GetNoDataValue() == -9999.0
    back = band.ReadAsArray()
    assert back[0, 0] == -9999.0
    assert np.array_equal(back[1:], data[1:])
    assert band.GetMetadataItem("STATISTICS_MAXIMUM") is not None


def test_failed_or_cancelled_write_leaves_nothing(tmp_path):
    grid = Grid(50, 600, (0.0, 1.0, 0.0, 0.0, 0.0, -1.0), "")
    out = tmp_path / "out.tif"
    with pytest.raises(Canceled):
        with GeoTiffWriter(str(out), grid, 1) as wr:
            progress = engine.Progress(FakeFeedback(cancel_after=1), 0, 100, 3)
            for w in windows(grid, 256):
                wr.write(1, w, np.zeros(w.shape, np.float32))
                progress.step()
            wr.commit()
    assert os.listdir(tmp_path) == []


def test_progress_reaches_the_end_of_its_range():
    grid = Grid(10, 1000, (0.0, 1.0, 0.0, 0.0, 0.0, -1.0), "")
    fb = FakeFeedback()
    ws = list(windows(grid, 100))
    progress = engine.Progress(fb, 20, 60, len(ws))
    for _ in ws:
        progress.step()
    n = len(ws)
    assert n == 10 and fb.progress[-1] == pytest.approx(60) and fb.progress[0] == pytest.approx(24)


def test_unwritable_output_is_a_clear_error(tmp_path):
    grid = Grid(5, 5, (0.0, 1.0, 0.0, 0.0, 0.0, -1.0), "")
    with pytest.raises(RasterError, match="does not exist"):
        GeoTiffWriter(str(tmp_path / "missing" / "x.tif"), grid, label="OUTPUT")
    # /proc refuses new files even to root
    with pytest.raises(RasterError, match="OUTPUT: cannot write into /proc"):
        GeoTiffWriter("/proc/mining_eco_test.tif", grid, label="OUTPUT")


def test_geographic_row_areas_on_a_spherical_crs_match_the_sphere_formula():
    # a lat/lon CRS on a sphere (flattening 0): one 1 x 1 degree cell at the equator is R^2 * (pi/180) * sin(1 deg);
    # ellipsoidal CRSs (EPSG:4326 ...) are checked against pyproj in test_geodesy.py
    srs = osr.SpatialReference()
    srs.ImportFromProj4("+proj=longlat +R=6371007.2 +no_defs")
    grid = Grid(1, 1, (0.0, 1.0, 0.0, 1.0, 0.0, -1.0), srs.ExportToWkt())
    r = 6371007.2
    assert grid.row_areas_m2(Window(0, 0, 1, 1))[0, 0] == pytest.approx(r * r * np.pi / 180 * np.sin(np.pi / 180),
                                                                         rel=1e-12)
    assert grid.pixel_area_m2() is None


def _l8_products(block_rows, block_cols, names):
    mtl = rad.parse_mtl(open(L8 + "_MTL.txt").read())
    roles = tuple(L8_BANDS)
    radio = build_radiometry("L8", "L1_MTL", roles, mtl=mtl, qa_kind="BQA")
    refs = {r: BandRef(f"{L8}_B{b}.TIF", 1, r) for r, b in L8_BANDS.items()}
    refs["QA"] = BandRef(f"{L8}_BQA.TIF", 1, "QA")
    out = {n: np.full((41, 41), np.nan, np.float32) for n in names}
    with RasterStack(refs) as st:
        for w in windows(st.grid, block_rows, block_cols):
            raw = {r: st.read(r, w) for r in roles}
            bp = BlockProducts(raw, radio, st.read_raw("QA", w))
            for n in names:
                out[n][w.yoff:w.yoff + w.ysize, w.xoff:w.xoff + w.xsize] = bp.get(n)
    return out


def test_scene_products_do_not_depend_on_the_block_size():
    names = ["NDVI", "WET", "NDBSI", "MNDWI", "LST", "CRSI"]
    whole = _l8_products(41, 41, names)
    for rows, cols in [(1, None), (7, 5), (16, 16), (40, 3)]:
        other = _l8_products(rows, cols, names)
        for n in names:
            np.testing.assert_array_equal(other[n], whole[n], err_msg=f"{n} with blocks {rows}x{cols}")
    assert np.isfinite(whole["NDVI"]).sum() > 1000


def test_engine_bounds_the_gdal_cache():
    gdal.SetCacheMax(2 * 1024 ** 3)
    engine._bound_gdal_cache()
    assert gdal.GetCacheMax() <= engine.MAX_GDAL_CACHE


def test_padded_read_equals_a_nan_padded_whole_read(tmp_path):
    data = np.arange(11 * 13, dtype=np.float32).reshape(11, 13)
    path = make_raster(tmp_path / "a.tif", data)
    padded_whole = np.pad(data, 2, constant_values=np.nan)
    with RasterStack({"A": BandRef(path)}) as st:
        for w in windows(st.grid, 4, 5):
            block = st.read_padded("A", w, 2)
            expected = padded_whole[w.yoff:w.yoff + w.ysize + 4, w.xoff:w.xoff + w.xsize + 4]
            np.testing.assert_array_equal(block, expected)


def test_float_class_raster_is_refused(tmp_path):
    path = make_raster(tmp_path / "f.tif", np.ones((3, 3), np.float32))
    ok = make_raster(tmp_path / "i.tif", np.ones((3, 3), np.float32), dtype=gdal.GDT_Byte)
    with RasterStack({"LANDUSE": BandRef(path, 1, "LANDUSE"), "B": BandRef(ok)}) as st:
        st.require_integer("B")
        with pytest.raises(RasterError, match="LANDUSE.*floating-point"):
            st.require_integer("LANDUSE")


def test_prefetched_keeps_order_loads_each_once_and_propagates_cancel():
    loaded = []

    def load(w):
        loaded.append(w)
        return w * 10

    assert list(engine.prefetched(range(5), load)) == [(i, i * 10) for i in range(5)]
    assert loaded == list(range(5))
    assert list(engine.prefetched([], load)) == []
    grid = Grid(10, 1000, (0.0, 1.0, 0.0, 0.0, 0.0, -1.0), "")
    seen = []
    progress = engine.Progress(FakeFeedback(cancel_after=3), 0, 100, 10)

    def stepped():
        for w in windows(grid, 100):
            yield w
            progress.step()
    with pytest.raises(Canceled):
        for w, _ in engine.prefetched(stepped(), lambda w: w):
            seen.append(w)
    assert 1 <= len(seen) <= 3


def test_dense_random_pixels_are_distinct_uniform_and_chunked(monkeypatch):
    """raster.sampling.random_pixels, dense case (n > pixels / 50 on a grid larger than DENSE_CHUNK, made small
    here): n distinct sorted indices in range, the same for a seed, another seed another draw; uniform: the
    number of samples per equal part of the grid agrees with the hypergeometric expectation (chi-square test,
    scipy.stats.chisquare, p > 0.001), also across chunk borders; the sparse case keeps numpy's documented
    default_rng(seed).choice draw."""
    from scipy import stats

    from mining_eco_plugin.raster import sampling
    from mining_eco_plugin.raster.engine import Grid
    monkeypatch.setattr(sampling, "DENSE_CHUNK", 10_000)
    grid = Grid(300, 200, (0.0, 1.0, 0.0, 0.0, 0.0, -1.0), "")
    total, n = 60_000, 15_000
    a = sampling.random_pixels(grid, n, seed=4)
    assert a.size == n and np.unique(a).size == n and np.all(np.diff(a) > 0)
    assert a.min() >= 0 and a.max() < total
    np.testing.assert_array_equal(a, sampling.random_pixels(grid, n, seed=4))
    assert not np.array_equal(a, sampling.random_pixels(grid, n, seed=5))
    counts = np.bincount(a // 3_000, minlength=20)     # 20 parts of 3000 px, chunk borders fall inside parts
    assert stats.chisquare(counts).pvalue > 0.001
    sparse = sampling.random_pixels(grid, 1_000, seed=4)
    np.testing.assert_array_equal(sparse, np.sort(np.random.default_rng(4).choice(total, 1_000, replace=False)))
