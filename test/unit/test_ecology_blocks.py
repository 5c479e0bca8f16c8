"""The per-block functions of egindex, coupling, classareas, transfermatrix and timeseries (issue 12): a pass over
blocks, combined in the executor's fixed tree, equals the whole raster in one block; the partial results and the
zones pickle (a dask worker gets them by value)."""
import pickle
from functools import partial

import numpy as np
import pytest

from mining_eco_plugin.core import coupling, eg, timeseries, transfer
from mining_eco_plugin.raster.engine import Grid, Window
from mining_eco_plugin.raster.executor import BlockContext, add, tree_reduce

UTM = ('PROJCS["WGS 84 / UTM zone 50N",GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],'
       'PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],'
       'PARAMETER["latitude_of_origin",0],PARAMETER["central_meridian",117],PARAMETER["scale_factor",0.9996],'
       'PARAMETER["false_easting",500000],PARAMETER["false_northing",0],UNIT["metre",1]]')
GRID = Grid(23, 17, (500000.0, 30.0, 0.0, 4000000.0, 0.0, -30.0), UTM)


def blocks(grid, rows, cols):
    return [Window(x, y, min(cols, grid.width - x), min(rows, grid.height - y))
            for y in range(0, grid.height, rows) for x in range(0, grid.width, cols)]


def run(compute, combine, arrays, grid=GRID, rows=5, cols=7, halo=0):
    """compute over the blocks of ``grid`` (halo: NaN outside), partials combined by tree_reduce; (blocks, partial)."""
    out, partials = {}, []
    for w in blocks(grid, rows, cols):
        ctx = BlockContext(grid, w, halo)
        data = {}
        for key, a in arrays.items():
            if isinstance(a, tuple):
                data[key] = tuple(x[w.yoff:w.yoff + w.ysize, w.xoff:w.xoff + w.xsize] for x in a)
                continue
            p = np.full((w.ysize + 2 * halo, w.xsize + 2 * halo), np.nan, np.float32)
            y0, x0 = max(w.yoff - halo, 0), max(w.xoff - halo, 0)
            y1, x1 = min(w.yoff + w.ysize + halo, grid.height), min(w.xoff + w.xsize + halo, grid.width)
            p[y0 - w.yoff + halo:y1 - w.yoff + halo, x0 - w.xoff + halo:x1 - w.xoff + halo] = a[y0:y1, x0:x1]
            data[key] = p
        res = compute(data, ctx)
        got, part = res if isinstance(res, tuple) else (res, None)
        for key, b in got.items():
            out.setdefault(key, np.zeros((grid.height, grid.width), b.dtype))[w.yoff:w.yoff + w.ysize,
                                                                            w.xoff:w.xoff + w.xsize] = b
        partials.append(pickle.loads(pickle.dumps(part)))
    return out, tree_reduce(partials, combine) if combine else None


def land_use(seed=1):
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 10, (GRID.height, GRID.width)).astype(np.float32)
    a[rng.random(a.shape) < 0.1] = np.nan
    return a


class Boxes:
    """Zones as pixel boxes (the interface of raster.zones.ZoneMasks: names, masks(window))."""

    def __init__(self, boxes):
        self.boxes = boxes
        self.names = [str(b) for b in boxes]

    def masks(self, w):
        for i, (r0, c0, r1, c1) in enumerate(self.boxes):
            m = np.zeros(w.shape, bool)
            rr = slice(max(r0 - w.yoff, 0), max(min(r1 - w.yoff, w.ysize), 0))
            cc = slice(max(c0 - w.xoff, 0), max(min(c1 - w.xoff, w.xsize), 0))
            m[rr, cc] = True
            if m.any():
                yield i, m


def test_eg_class_areas_and_window_blocks_equal_one_block():
    lu, table = land_use(), eg.grade_table(eg.CLCD_GRADE_TABLE)
    _, whole = run(eg.class_areas_block, eg.combine_class_areas, {"LU": lu}, rows=GRID.height, cols=GRID.width)
    _, split = run(eg.class_areas_block, eg.combine_class_areas, {"LU": lu})
    assert split.area == whole.area and split.pixels == whole.pixels
    zones = Boxes([(0, 0, 9, 12), (4, 3, 17, 23), (30, 30, 40, 40)])
    compute = partial(eg.window_block, table=table, size=5, outputs=("OUTPUT", "OUTPUT_NORMALISED"), zones=zones)
    one, zone_one = run(compute, eg.combine_zone_areas, {"LU": lu}, rows=GRID.height, cols=GRID.width, halo=2)
    many, zone_many = run(compute, eg.combine_zone_areas, {"LU": lu}, halo=2)
    for key in ("OUTPUT", "OUTPUT_NORMALISED"):
        np.testing.assert_array_equal(many[key], one[key])
    np.testing.assert_array_equal(many["OUTPUT"], eg.moving_window_eg(
        table.grades_of(np.pad(lu, 2, constant_values=np.nan)), 900.0, 5))
    assert [z.area for z in zone_many] == [z.area for z in zone_one]
    assert zone_many[2].area == {}          # a zone outside the grid


def test_transfer_and_class_area_blocks_equal_one_block():
    rng = np.random.default_rng(3)
    a, b = (rng.integers(0, 6, (GRID.height, GRID.width)) for _ in range(2))
    data = {"DATE1": (a, a != 0), "DATE2": (b, b != 0)}
    _, one = run(transfer.transfer_block, transfer.combine_transfer, data, rows=GRID.height, cols=GRID.width)
    _, many = run(transfer.transfer_block, transfer.combine_transfer, data)
    assert many.pairs == one.pairs and many.excluded == one.excluded
    assert many.from_codes == one.from_codes and many.to_codes == one.to_codes
    codes, _ = run(partial(transfer.change_block, k=1, nodata=255), None, data)
    np.testing.assert_array_equal(codes["OUTPUT_CHANGE"], np.where((a != 0) & (b != 0), a * 10 + b, 255))
    _, one = run(transfer.class_area_block, transfer.combine_class_area, {"CLASS": (a, a != 0)},
                 rows=GRID.height, cols=GRID.width)
    _, many = run(transfer.class_area_block, transfer.combine_class_area, {"CLASS": (a, a != 0)})
    assert many.counts == one.counts and many.nodata_pixels == one.nodata_pixels == int((a == 0).sum())


def test_too_many_classes_is_found_when_blocks_are_combined():
    codes = np.arange(GRID.height * GRID.width).reshape(GRID.height, GRID.width)
    with pytest.raises(transfer.TooManyClasses, match="more than 40 distinct codes"):
        run(partial(transfer.class_area_block, max_classes=40), transfer.combine_class_area,
            {"CLASS": (codes, np.ones(codes.shape, bool))}, rows=2, cols=GRID.width)
    with pytest.raises(transfer.TooManyClasses, match="date 1 holds more than 40"):
        run(partial(transfer.transfer_block, max_classes=40), transfer.combine_transfer,
            {"DATE1": (codes, codes >= 0), "DATE2": (codes * 0, codes >= 0)}, rows=2, cols=GRID.width)


def test_coupling_statistics_and_codes_equal_one_block():
    rng = np.random.default_rng(5)
    rsei, egv = (rng.random((GRID.height, GRID.width)).astype(np.float32) for _ in range(2))
    rsei[0, :5] = np.nan
    compute = partial(coupling.statistics_block, sample_size=100, seed=9)
    _, one = run(compute, coupling.combine_statistics, {"RSEI": rsei, "EG": egv}, rows=GRID.height, cols=GRID.width)
    _, many = run(compute, coupling.combine_statistics, {"RSEI": rsei, "EG": egv}, rows=3, cols=4)
    np.testing.assert_array_equal(many[0].minimum, one[0].minimum)
    np.testing.assert_array_equal(many[0].count, one[0].count)
    np.testing.assert_array_equal(coupling.sample_of(many), coupling.sample_of(one))
    assert 0 < len(coupling.sample_of(one)) < rsei.size
    breaks = {"RSEI": (0.3, 0.6), "EG": (0.2, 0.9)}
    got, (pixels, areas) = run(partial(coupling.codes_block, breaks=breaks), add, {"RSEI": rsei, "EG": egv})
    want = coupling.coupling_codes(coupling.levels(egv, breaks["EG"]), coupling.levels(rsei, breaks["RSEI"]))
    np.testing.assert_array_equal(got["OUTPUT"], want)
    np.testing.assert_array_equal(pixels, np.bincount(want.ravel(), minlength=34))
    np.testing.assert_array_equal(areas, 900.0 * pixels)


def test_timeseries_sum_block_gives_the_mean():
    a = land_use(7)
    _, (total, count) = run(timeseries.sum_block, add, {0: a})
    assert count == int(np.isfinite(a).sum())
    assert total / count == pytest.approx(float(np.nanmean(a.astype(np.float64))), rel=1e-12)


def test_zone_masks_pickle_and_rasterise_in_threads():
    from concurrent.futures import ThreadPoolExecutor
    from osgeo import ogr
    from mining_eco_plugin.raster.zones import ZoneMasks
    ring = "POLYGON((500030 3999970,500300 3999970,500300 3999700,500030 3999700,500030 3999970))"
    zones = ZoneMasks(GRID, [ogr.CreateGeometryFromWkt(ring).ExportToWkb(), None], ["a", "empty"])
    ws = blocks(GRID, 4, 5)
    want = [list(zones.masks(w)) for w in ws]
    copy = pickle.loads(pickle.dumps(zones))
    assert copy.names == ["a", "empty"] and copy.bounds == zones.bounds
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda w: list(copy.masks(w)), ws * 3))
    for g, w in zip(got, want * 3):
        assert [i for i, _ in g] == [i for i, _ in w]
        for (_, m), (_, n) in zip(g, w):
            np.testing.assert_array_equal(m, n)
    assert sum(int(m.sum()) for blk in want for _, m in blk) == 9 * 9
