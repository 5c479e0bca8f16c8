"""miningeco:geodetector in raster mode on real rasters: the North Carolina Landsat 7 ETM+ scene of 2000
(Y = NDVI computed here with numpy from bands 3 and 4; X = bands 1, 5, 7 discretised, land cover strata.tif
used as it is). References: the pixels are read here with GDAL directly (every STEP-th row and column, or
the documented numpy default_rng(SEED).choice of the row-major pixel indices), classified by the equal-interval
formula written out below, and the q / p values computed by py-geodetector 0.2.1 (the R package's formulas);
the sampling module's reads are checked to touch only blocks holding sampled pixels; bad inputs of both
modes fail cleanly naming the input; qgis_process gives the same tables as processing.run."""
import os

import numpy as np
import pytest
from osgeo import gdal, osr
from qgis.core import QgsVectorLayer

from failures import assert_fails_cleanly
from paths import DATA
from mining_eco_plugin.raster import engine, sampling

NC = os.path.join(DATA, "north_carolina")
BAND = {b: os.path.join(NC, f"lsat7_2000_{b}.tif") for b in ("10", "20", "30", "40", "50", "70")}
STRATA = os.path.join(NC, "strata.tif")
CONTINUOUS = ["lsat7_2000_10", "lsat7_2000_50", "lsat7_2000_70"]
FACTORS = CONTINUOUS + ["strata"]


def read(path):
    """Band 1 as float64, NaN where GDAL's own mask band says nodata (plain GDAL, whole raster: test data only)."""
    ds = gdal.Open(str(path))
    band = ds.GetRasterBand(1)
    return np.where(band.GetMaskBand().ReadAsArray() > 0, band.ReadAsArray().astype(np.float64), np.nan)


def osr_wkt(epsg):
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    return srs.ExportToWkt()


def write_like(path, array, template=BAND["40"], nodata=-9999.0, dtype=gdal.GDT_Float32, origin_shift=(0, 0),
               wkt=None):
    """``array`` as a GeoTIFF on the grid of ``template`` (origin moved by whole pixels if asked; its CRS,
    or ``wkt``)."""
    src = gdal.Open(template)
    gt = list(src.GetGeoTransform())
    gt[0] += origin_shift[0] * gt[1]
    gt[3] += origin_shift[1] * gt[5]
    ds = gdal.GetDriverByName("GTiff").Create(str(path), array.shape[1], array.shape[0], 1, dtype)
    ds.SetGeoTransform(gt)
    ds.SetProjection(wkt or src.GetProjection())
    band = ds.GetRasterBand(1)
    band.SetNoDataValue(nodata)
    band.WriteArray(np.where(np.isnan(array), nodata, array) if array.dtype.kind == "f" else array)
    ds = None
    return str(path)


@pytest.fixture(scope="module")
def ndvi(tmp_path_factory):
    """Y: NDVI = (NIR - R) / (NIR + R) of the DN (the DN scale cancels), nodata where a band is nodata."""
    red, nir = read(BAND["30"]), read(BAND["40"])
    return write_like(tmp_path_factory.mktemp("y") / "ndvi.tif", (nir - red) / (nir + red))


def equal_interval(x, k):
    """Hand formula of METHOD 0: edges min + i (max - min) / k; class i holds b_(i-1) < x <= b_i, the first
    class also min."""
    edges = x.min() + np.arange(k + 1) * (x.max() - x.min()) / k
    return np.searchsorted(edges[1:-1], x, side="left")


def features(path):
    layer = QgsVectorLayer(str(path), "t", "ogr")
    assert layer.isValid(), path
    return [dict(zip(layer.fields().names(), f.attributes())) for f in layer.getFeatures()]


def run(tmp_path, tag, y, **extra):
    import processing
    params = {"Y_RASTER": y, "X_RASTERS": [BAND["10"], BAND["50"], BAND["70"]], "CATEGORICAL_RASTERS": [STRATA],
              "RESAMPLING": 1, "METHOD": 0, "K": 5, "SAMPLING": 0, "STEP": 3,
              "OUTPUT_FACTOR": str(tmp_path / f"f_{tag}.gpkg"), "OUTPUT_INTERACTION": str(tmp_path / f"i_{tag}.gpkg")}
    params.update(extra)
    return processing.run("miningeco:geodetector", params)


def reference(y_path, rows, cols):
    """py-geodetector on the given pixels read with GDAL; None-free samples only. Returns (GeoDetector, n, dropped)."""
    pd = pytest.importorskip("pandas")
    GeoDetector = pytest.importorskip("geodetector").GeoDetector
    cols_ = {"y": read(y_path)[rows, cols]}
    for name in CONTINUOUS:
        cols_[name] = read(os.path.join(NC, name + ".tif"))[rows, cols]
    cols_["strata"] = read(STRATA)[rows, cols]
    ok = np.logical_and.reduce([np.isfinite(v) for v in cols_.values()])
    df = {"y": cols_["y"][ok], "strata": cols_["strata"][ok].astype(int)}
    for name in CONTINUOUS:
        df[name] = equal_interval(cols_[name][ok], 5)
    return GeoDetector(pd.DataFrame(df), "y", FACTORS), int(ok.sum()), int((~ok).sum())


def check_against_reference(res, ref):
    factor = {r["factor"]: r for r in features(res["OUTPUT_FACTOR"])}
    fd = ref.factor_detector()
    assert list(factor) == FACTORS
    assert factor["strata"]["method"] == "categorical" and factor["strata"]["n_classes"] == 7
    for name in FACTORS:
        assert factor[name]["q"] == pytest.approx(fd.loc["q statistic", name], abs=1e-9), name
        assert factor[name]["p"] == pytest.approx(fd.loc["p value", name], abs=1e-9), name
    inter = {(r["factor1"], r["factor2"]): r["q12"] for r in features(res["OUTPUT_INTERACTION"])}
    assert len(inter) == 6
    for (a, b), q12 in inter.items():
        assert q12 == pytest.approx(ref.interaction_detector(a, b), abs=1e-9), (a, b)
    return factor


def test_regular_grid_equals_py_geodetector_on_the_pixels_read_with_gdal(provider, ndvi, tmp_path):
    """Every 3rd row and column: q, p and interaction q equal py-geodetector 0.2.1 on those pixels; the
    dropped count is the pixels that are nodata in any raster (the scene footprint, counted here)."""
    res = run(tmp_path, "grid", ndvi, OUTPUT_REPORT=str(tmp_path / "report.html"),
              OUTPUT_RISK=str(tmp_path / "risk.gpkg"), OUTPUT_ECOLOGICAL=str(tmp_path / "eco.gpkg"))
    h, w = read(ndvi).shape
    rr, cc = np.meshgrid(np.arange(0, h, 3), np.arange(0, w, 3), indexing="ij")
    ref, n, dropped = reference(ndvi, rr.ravel(), cc.ravel())
    assert (res["SAMPLE_COUNT"], res["DROPPED_COUNT"]) == (n, dropped)
    assert n > 15000 and dropped > 1000   # real data with a nodata footprint
    check_against_reference(res, ref)
    risk = features(res["OUTPUT_RISK"])
    assert {r["stratum_a"] for r in risk if r["factor"] == "strata"} == {"1", "2", "3", "4", "5", "6"}   # codes
    assert len(features(res["OUTPUT_ECOLOGICAL"])) == 6
    text = (tmp_path / "report.html").read_text()
    assert f"{n} used, {dropped} left out" in text and "rows and columns 0, 3, 6, ..." in text


def test_random_pixels_seeded_and_equal_to_py_geodetector(provider, ndvi, tmp_path):
    """N_SAMPLES random pixels: the documented draw numpy default_rng(SEED).choice(W * H, N, replace=False)
    recomputed here gives the same q as py-geodetector; same seed -> same tables, other seed -> other q;
    used + dropped = N."""
    n_samples = 4000
    res = run(tmp_path, "r7", ndvi, SAMPLING=1, N_SAMPLES=n_samples, SEED=7)
    again = run(tmp_path, "r7b", ndvi, SAMPLING=1, N_SAMPLES=n_samples, SEED=7)
    other = run(tmp_path, "r8", ndvi, SAMPLING=1, N_SAMPLES=n_samples, SEED=8)
    h, w = read(ndvi).shape
    flat = np.random.default_rng(7).choice(h * w, n_samples, replace=False)
    ref, n, dropped = reference(ndvi, flat // w, flat % w)
    assert res["SAMPLE_COUNT"] + res["DROPPED_COUNT"] == n_samples
    assert (res["SAMPLE_COUNT"], res["DROPPED_COUNT"]) == (n, dropped)
    factor = check_against_reference(res, ref)
    assert features(again["OUTPUT_FACTOR"]) == list(factor.values())
    q_other = {r["factor"]: r["q"] for r in features(other["OUTPUT_FACTOR"])}
    assert all(q_other[f] != factor[f]["q"] for f in FACTORS)
    assert other["SAMPLE_COUNT"] + other["DROPPED_COUNT"] == n_samples


def test_block_size_does_not_change_the_result(provider, ndvi, tmp_path, monkeypatch):
    """Small odd blocks (7 x 11, one row x 100 columns): identical factor and interaction tables, both modes."""
    base = {mode: run(tmp_path, f"b{mode}", ndvi, SAMPLING=mode, N_SAMPLES=3000, STEP=4) for mode in (0, 1)}
    for rows, cols in [(7, 11), (1, 100)]:
        monkeypatch.setattr(engine, "DEFAULT_BLOCK_ROWS", rows)
        monkeypatch.setattr(engine, "DEFAULT_BLOCK_COLS", cols)
        for mode in (0, 1):
            res = run(tmp_path, f"b{mode}_{rows}x{cols}", ndvi, SAMPLING=mode, N_SAMPLES=3000, STEP=4)
            assert features(res["OUTPUT_FACTOR"]) == features(base[mode]["OUTPUT_FACTOR"])
            assert features(res["OUTPUT_INTERACTION"]) == features(base[mode]["OUTPUT_INTERACTION"])
            assert res["SAMPLE_COUNT"] == base[mode]["SAMPLE_COUNT"]


@pytest.fixture
def reads(monkeypatch):
    """The windows every RasterStack.read_raw call reads (the sampling module's only way to pixels)."""
    seen = []
    original = engine.RasterStack.read_raw

    def spy(self, key, w):
        seen.append(w)
        return original(self, key, w)
    monkeypatch.setattr(engine.RasterStack, "read_raw", spy)
    return seen


def test_sampling_reads_only_blocks_that_hold_sampled_pixels(monkeypatch, reads):
    """raster/sampling.py: with 16 x 32 blocks, 50 random pixels read only windows around them (each read
    window holds a sampled pixel; far less than the raster is read) and give the values GDAL reads there;
    the regular grid gives the rows / columns 0, STEP, 2 STEP, ... in row-major order, reading only those rows."""
    monkeypatch.setattr(engine, "DEFAULT_BLOCK_ROWS", 16)
    monkeypatch.setattr(engine, "DEFAULT_BLOCK_COLS", 32)
    refs = {"b50": engine.BandRef(BAND["50"], 1, "b50"), "b70": engine.BandRef(BAND["70"], 1, "b70")}
    with engine.RasterStack(refs) as stack:
        h, w = stack.grid.height, stack.grid.width
        flat = sampling.random_pixels(stack.grid, 50, seed=3)
        got = sampling.sample_stack(stack, scheme="random", n=50, seed=3)
        assert len(reads) <= 2 * 50
        for win in reads:
            inside = ((flat // w >= win.yoff) & (flat // w < win.yoff + win.ysize)
                      & (flat % w >= win.xoff) & (flat % w < win.xoff + win.xsize))
            assert inside.any(), win
        assert sum(win.xsize * win.ysize for win in reads) < 0.05 * 2 * h * w
        a50, a70 = read(BAND["50"]), read(BAND["70"])
        ok = np.isfinite(a50.ravel()[flat]) & np.isfinite(a70.ravel()[flat])
        np.testing.assert_array_equal(got.rows * w + got.cols, flat[ok])
        np.testing.assert_array_equal(got.values["b70"], a70.ravel()[flat[ok]])
        assert got.drawn == 50 and got.dropped == (~ok).sum()
        assert got.nodata == {"b50": int(np.isnan(a50.ravel()[flat]).sum()),
                              "b70": int(np.isnan(a70.ravel()[flat]).sum())}
        reads.clear()
        reg = sampling.sample_stack(stack, scheme="grid", step=25)
        # rows 25 apart in files of 4- and 8-row strips: one read per sampled row, no row in between is read
        assert {win.ysize for win in reads} == {1} and {win.yoff % 25 for win in reads} == {0}
        rr, cc = np.meshgrid(np.arange(0, h, 25), np.arange(0, w, 25), indexing="ij")
        ok = np.isfinite(a50[rr, cc]) & np.isfinite(a70[rr, cc])
        np.testing.assert_array_equal(reg.rows, rr[ok])
        np.testing.assert_array_equal(reg.cols, cc[ok])
        np.testing.assert_array_equal(reg.values["b50"], a50[rr, cc][ok])


def test_multi_band_raster_gives_one_factor_per_band(provider, ndvi, tmp_path):
    """A two-band stack of bands 1 and 7 (descriptions "blue", "swir2"): two factors named by the descriptions,
    with the q of the single-band files (same pixels, same values); Y_BAND picks a band of a stack as Y."""
    a10, a70 = read(BAND["10"]), read(BAND["70"])
    src = gdal.Open(BAND["40"])
    ds = gdal.GetDriverByName("GTiff").Create(str(tmp_path / "stack.tif"), a10.shape[1], a10.shape[0], 2,
                                              gdal.GDT_Float32)
    ds.SetGeoTransform(src.GetGeoTransform())
    ds.SetProjection(src.GetProjection())
    for i, (name, a) in enumerate((("blue", a10), ("swir2", a70)), start=1):
        band = ds.GetRasterBand(i)
        band.SetNoDataValue(-9999)
        band.SetDescription(name)
        band.WriteArray(np.where(np.isnan(a), -9999, a))
    ds = None
    stack = str(tmp_path / "stack.tif")
    single = run(tmp_path, "single", ndvi, X_RASTERS=[BAND["10"], BAND["70"]], CATEGORICAL_RASTERS=[])
    multi = run(tmp_path, "multi", ndvi, X_RASTERS=[stack], CATEGORICAL_RASTERS=[])
    q_single = [r["q"] for r in features(single["OUTPUT_FACTOR"])]
    assert [(r["factor"], r["q"]) for r in features(multi["OUTPUT_FACTOR"])] == list(zip(["blue", "swir2"], q_single))
    as_y = run(tmp_path, "yband", stack, Y_BAND=2, X_RASTERS=[BAND["10"]], CATEGORICAL_RASTERS=[STRATA])
    plain = run(tmp_path, "yplain", BAND["70"], X_RASTERS=[BAND["10"]], CATEGORICAL_RASTERS=[STRATA])
    assert features(as_y["OUTPUT_FACTOR"]) == features(plain["OUTPUT_FACTOR"])


def test_sparse_random_pixels_read_only_their_rows(reads):
    """raster/sampling.py, default blocks (256-row windows) on files of 4- and 8-row strips: 20 random pixels
    are read row by row (windows one pixel high, only rows holding a pixel) and equal what GDAL reads there."""
    refs = {"b10": engine.BandRef(BAND["10"], 1, "b10"), "b70": engine.BandRef(BAND["70"], 1, "b70")}
    with engine.RasterStack(refs) as stack:
        w = stack.grid.width
        got = sampling.sample_stack(stack, scheme="random", n=20, seed=5)
    flat = np.random.default_rng(5).choice(stack.grid.height * w, 20, replace=False)
    assert {win.ysize for win in reads} == {1} and {win.yoff for win in reads} == set((flat // w).tolist())
    a10, a70 = read(BAND["10"]).ravel(), read(BAND["70"]).ravel()
    flat = np.sort(flat)
    ok = np.isfinite(a10[flat]) & np.isfinite(a70[flat])
    np.testing.assert_array_equal(got.values["b10"], a10[flat[ok]])
    np.testing.assert_array_equal(got.values["b70"], a70[flat[ok]])
    assert got.size == ok.sum() > 5


def test_class_codes_given_as_continuous_are_flagged(provider, ndvi, tmp_path):
    """strata.tif (7 land-cover codes) in X_RASTERS: the run works (the codes cut into K equal intervals, as
    asked) and the log tells to give it as CATEGORICAL_RASTERS; the Landsat bands (DN, > 150 values) are not
    flagged."""
    import processing

    from failures import recording_feedback
    log = recording_feedback()
    res = processing.run("miningeco:geodetector", {
        "Y_RASTER": ndvi, "X_RASTERS": [BAND["10"], STRATA], "RESAMPLING": 1, "METHOD": 0, "K": 3, "STEP": 4,
        "OUTPUT_FACTOR": str(tmp_path / "f.gpkg")}, feedback=log)
    flagged = [w for w in log.warnings if "CATEGORICAL_RASTERS" in w]
    assert len(flagged) == 1 and "X_RASTERS strata holds only 7 distinct" in flagged[0]
    assert [r["method"] for r in features(res["OUTPUT_FACTOR"])] == ["equal", "equal"]


# ------------------------------------------------------------------------------------------------ bad inputs
@pytest.fixture(scope="module")
def bad_rasters(tmp_path_factory, ndvi):
    """Rasters on the Landsat grid (unless said): constant, pixel-id, all-nodata, and band 5 on a shifted extent."""
    d = tmp_path_factory.mktemp("bad")
    shape = read(BAND["40"]).shape
    return {
        "const": write_like(d / "const.tif", np.full(shape, 3, np.int16), nodata=-1, dtype=gdal.GDT_Int16),
        "ids": write_like(d / "ids.tif", np.arange(shape[0] * shape[1], dtype=np.int32).reshape(shape),
                          nodata=-1, dtype=gdal.GDT_Int32),
        "empty": write_like(d / "empty.tif", np.full(shape, np.nan)),
        "shifted": write_like(d / "shifted.tif", read(BAND["50"]), origin_shift=(5, 0)),
        # same pixels and coordinates, labelled UTM 17N: a CRS that differs for every GDAL (strata.tif's
        # NAD83(HARN) / North Carolina is the same projection as the bands' unnamed LCC on GRS80, which
        # GDAL 3.6 calls different and GDAL 3.10 calls the same)
        "utm": write_like(d / "utm.tif", np.full(shape, 2, np.int16), nodata=-1, dtype=gdal.GDT_Int16,
                          wkt=osr_wkt(32617)),
    }


def _fails(tmp_path, words, **params):
    import processing
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    params.setdefault("OUTPUT_FACTOR", str(out / "f.gpkg"))
    params.setdefault("OUTPUT_REPORT", str(out / "r.html"))
    return assert_fails_cleanly(lambda: processing.run("miningeco:geodetector", params), out, *words)


@pytest.mark.parametrize("case", ["one stratum", "constant continuous", "more strata than N/2", "constant Y",
                                  "all nodata", "other extent", "other CRS", "N too large", "no X", "no Y"])
def test_raster_mode_bad_inputs_fail_cleanly(provider, ndvi, bad_rasters, tmp_path, case):
    """Each bad raster input: a QgsProcessingException naming the parameter and the layer, no output file."""
    b = bad_rasters
    params, words = {
        "one stratum": ({"CATEGORICAL_RASTERS": [b["const"]]}, ["CATEGORICAL_RASTERS const", "single stratum"]),
        "constant continuous": ({"X_RASTERS": [b["const"]]}, ["X_RASTERS const", "constant"]),
        "more strata than N/2": ({"CATEGORICAL_RASTERS": [b["ids"]], "STEP": 20}, ["CATEGORICAL_RASTERS ids",
                                                                                  "more than N/2"]),
        "constant Y": ({"Y_RASTER": b["const"], "X_RASTERS": [BAND["50"]]}, ["Y_RASTER const", "constant"]),
        "all nodata": ({"Y_RASTER": b["empty"], "X_RASTERS": [BAND["50"]]}, ["none of the", "Y_RASTER empty: "]),
        "other extent": ({"X_RASTERS": [BAND["50"], b["shifted"]]}, ["X_RASTERS shifted", "extent"]),
        "other CRS": ({"CATEGORICAL_RASTERS": [b["utm"]]}, ["CATEGORICAL_RASTERS utm", "CRS", "EPSG:32617",
                                                             "RESAMPLING"]),
        "N too large": ({"SAMPLING": 1, "N_SAMPLES": 10 ** 6}, ["N_SAMPLES", "216627"]),
        "no X": ({"X_RASTERS": [], "CATEGORICAL_RASTERS": []}, ["X_RASTERS", "at least one"]),
        "no Y": ({"Y_RASTER": None}, ["Y_RASTER"]),
    }[case]
    full = {"Y_RASTER": ndvi, "X_RASTERS": [BAND["10"]], "STEP": 5}
    full.update(params)
    _fails(tmp_path, words, **full)


def test_neither_or_both_modes_fail_cleanly(provider, ndvi, tmp_path):
    """No input at all, or a table and rasters at once: the message names both modes' parameters."""
    table = os.path.join(NC, "landsat96_points.shp")
    msg = _fails(tmp_path, ["no input", "INPUT", "Y_RASTER"])
    assert "X_RASTERS" in msg
    _fails(tmp_path, ["not both", "INPUT", "Y_RASTER"], INPUT=table, Y_FIELD="b1", X_FIELDS=["b2"],
           Y_RASTER=ndvi, X_RASTERS=[BAND["10"]])
    _fails(tmp_path, ["not both", "Y_FIELD", "X_RASTERS"], Y_FIELD="b1", X_RASTERS=[BAND["10"]])


def test_cancel_during_sampling_writes_nothing(provider, ndvi, tmp_path):
    """Cancelling at the first progress report of the sampling pass: a clean QgsProcessingException, no table,
    no report left in the output folder."""
    import processing
    from qgis.core import QgsProcessingFeedback
    out = tmp_path / "out"
    out.mkdir()
    feedback = QgsProcessingFeedback()
    feedback.progressChanged.connect(lambda _p: feedback.cancel())
    params = {"Y_RASTER": ndvi, "X_RASTERS": [BAND["10"]], "STEP": 2, "OUTPUT_FACTOR": str(out / "f.gpkg"),
              "OUTPUT_REPORT": str(out / "r.html")}
    assert_fails_cleanly(lambda: processing.run("miningeco:geodetector", params, feedback=feedback), out, "Cancel")


# ---------------------------------------------------------------------------------------------- qgis_process
def test_raster_mode_through_qgis_process(qgis_process, provider, ndvi, tmp_path):
    """qgis_process help explains both modes; a raster-mode run gives the same factor table as processing.run."""
    text = qgis_process("help", "miningeco:geodetector").stdout
    for word in ("a table (Y field", "or rasters (a Y raster", "Y_RASTER", "X_RASTERS", "CATEGORICAL_RASTERS", "STEP", "N_SAMPLES",
                 "SEED", "nodata"):
        assert word in text, word
    dest = tmp_path / "qp_factor.gpkg"
    qgis_process("run", "miningeco:geodetector", "--", f"Y_RASTER={ndvi}", f"X_RASTERS={BAND['10']}",
                 f"X_RASTERS={BAND['50']}", f"X_RASTERS={BAND['70']}", f"CATEGORICAL_RASTERS={STRATA}",
                 "RESAMPLING=1", "METHOD=0", "K=5", "SAMPLING=1", "N_SAMPLES=2500", "SEED=11",
                 f"OUTPUT_FACTOR={dest}")
    res = run(tmp_path, "pr", ndvi, SAMPLING=1, N_SAMPLES=2500, SEED=11)
    assert features(dest) == features(res["OUTPUT_FACTOR"])


def test_the_sample_pass_reads_only_blocks_that_hold_sampled_pixels(monkeypatch, reads):
    """raster/sampling.sample_pass on the block executor (what the tool runs): with 16 x 32 blocks, 50 random
    pixels are read only in windows around them, and the sample equals sample_stack's on the open stack."""
    from mining_eco_plugin.raster import executor
    monkeypatch.setattr(engine, "DEFAULT_BLOCK_ROWS", 16)
    monkeypatch.setattr(engine, "DEFAULT_BLOCK_COLS", 32)
    refs = {"b50": engine.BandRef(BAND["50"], 1, "b50"), "b70": engine.BandRef(BAND["70"], 1, "b70")}
    with engine.RasterStack(refs) as stack:
        grid = stack.grid
        want = sampling.sample_stack(stack, scheme="random", n=50, seed=3)
    reads.clear()
    rule = sampling.pick_rule(grid, "random", n=50, seed=3)
    done = executor.LocalExecutor(2).run(sampling.sample_pass(refs, list(refs), rule))
    got = sampling.gather(grid, list(refs), done.partial)
    h, w, flat = grid.height, grid.width, rule["flat"]
    assert 0 < len(reads) <= 2 * 50
    for win in reads:
        assert ((flat // w >= win.yoff) & (flat // w < win.yoff + win.ysize)
                & (flat % w >= win.xoff) & (flat % w < win.xoff + win.xsize)).any(), win
    assert sum(win.xsize * win.ysize for win in reads) < 0.05 * 2 * h * w
    np.testing.assert_array_equal(got.rows, want.rows)
    np.testing.assert_array_equal(got.cols, want.cols)
    assert got.drawn == want.drawn and got.nodata == want.nodata
    for key in refs:
        np.testing.assert_array_equal(got.values[key], want.values[key])
