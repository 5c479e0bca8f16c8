"""miningeco:trend and miningeco:timeseries through processing.run (and qgis_process once each).

References: the core functions applied to the pixel values read back with GDAL (the wiring: reading,
dates, nodata, block walking, writing), scipy.stats.theilslopes per pixel (irregular years), numpy means
of the rasters read whole with GDAL, scipy.stats.linregress / numpy.polyfit and the ningdong seed's
Table 5 (segment slopes, quadratic R2, net change) for the time-series summary. The core itself is
checked against pymannkendall in test/unit/test_trend.py.
"""
from __future__ import annotations

import csv
import os

import numpy as np
import pytest
from osgeo import gdal, osr
from qgis.core import QgsProcessingException
from scipy import stats


from mining_eco_plugin.core import trend as core
from mining_eco_plugin.raster import engine

gdal.UseExceptions()


YEARS = list(range(2000, 2009))          # 9 dates
WIDTH, HEIGHT = 37, 23
GT = (500000.0, 30.0, 0.0, 4200000.0, 0.0, -30.0)
NODATA = -9999.0
OUTPUT_IDS = ("OUTPUT_SLOPE", "OUTPUT_CLASS", "OUTPUT_Z", "OUTPUT_P", "OUTPUT_S", "OUTPUT_COUNT")
# ningdong seed, Table 5, RSEI 2000-2024
TABLE5 = [0.372, 0.412, 0.328, 0.319, 0.328, 0.372, 0.358, 0.383, 0.382, 0.316, 0.286, 0.279, 0.308,
          0.345, 0.413, 0.231, 0.288, 0.417, 0.391, 0.385, 0.456, 0.372, 0.511, 0.429, 0.428]


def _wkt(epsg=32648):
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    return srs.ExportToWkt()


def write_raster(path, bands, gt=GT, names=(), nodata=NODATA):
    bands = np.asarray(bands, dtype=np.float32)
    if bands.ndim == 2:
        bands = bands[None]
    ds = gdal.GetDriverByName("GTiff").Create(str(path), bands.shape[2], bands.shape[1], bands.shape[0],
                                              gdal.GDT_Float32)
    ds.SetGeoTransform(gt)
    ds.SetProjection(_wkt())
    for k, arr in enumerate(bands):
        band = ds.GetRasterBand(k + 1)
        band.SetNoDataValue(nodata)
        band.WriteArray(arr.astype(np.float32))
        if k < len(names):
            band.SetDescription(names[k])
    ds = None
    return str(path)


def synthetic_stack(seed=0, n=len(YEARS)):
    """(n, HEIGHT, WIDTH) float32: increasing trend on the left, decreasing on the right, noise, ties
    (values rounded to 0.01 in a stripe), nodata in scattered pixels / dates and a pixel with 2 dates."""
    rng = np.random.default_rng(seed)
    k = np.arange(n)[:, None, None]
    direction = np.linspace(1, -1, WIDTH)[None, None, :]
    stack = 0.4 + 0.02 * direction * k + rng.normal(0, 0.03, (n, HEIGHT, WIDTH))
    stack[:, :5] = np.round(stack[:, :5], 2)
    stack[rng.random(stack.shape) < 0.12] = NODATA
    stack[: n - 2, 10, 10] = NODATA
    stack[n - 2:, 10, 10] = (0.5, 0.6)
    return stack.astype(np.float32)


@pytest.fixture(scope="module")
def stack_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("trend_stack")
    stack = synthetic_stack()
    files = [write_raster(d / f"rsei_{y}.tif", stack[k]) for k, y in enumerate(YEARS)]
    multi = write_raster(d / "stack.tif", stack, names=[str(y) for y in YEARS])
    return d, stack, files, multi


def read(path):
    ds = gdal.Open(str(path))
    return ds.GetRasterBand(1).ReadAsArray(), ds.GetRasterBand(1).GetNoDataValue()


def run_trend(out_dir, inputs, tag="run", **extra):
    import processing
    params = {"INPUTS": inputs, "OUTPUT_TABLE": str(out_dir / f"{tag}_table.csv")}
    params.update({pid: str(out_dir / f"{tag}_{pid.lower()}.tif") for pid in OUTPUT_IDS})
    params.update(extra)
    return processing.run("miningeco:trend", params)


def outputs(res):
    return {pid: read(res[pid])[0] for pid in OUTPUT_IDS}


def expected_from_core(stack, years, confidence=95, min_valid=3):
    values = np.where(stack == NODATA, np.nan, stack).reshape(stack.shape[0], -1)
    r = core.trend_statistics(values, years, min_valid)
    cls = core.trend_class(r.z, r.slope, confidence)
    shape = stack.shape[1:]
    as32 = {k: np.where(np.isfinite(v), v, NODATA).astype(np.float32).reshape(shape)
            for k, v in (("OUTPUT_SLOPE", r.slope), ("OUTPUT_Z", r.z), ("OUTPUT_P", r.p))}
    return dict(as32, OUTPUT_CLASS=cls.reshape(shape),
                OUTPUT_S=np.where(np.isfinite(r.s), r.s, -2147483648).astype(np.int64).reshape(shape),
                OUTPUT_COUNT=r.n_valid.reshape(shape))


def assert_same(got, expected):
    for pid in OUTPUT_IDS:
        np.testing.assert_array_equal(got[pid], expected[pid], err_msg=pid)


def test_trend_from_layers_equals_the_core_per_pixel(provider, stack_files, tmp_path):
    _d, stack, files, _multi = stack_files
    res = run_trend(tmp_path, files)           # years from the layer names rsei_2000 ...
    got = outputs(res)
    expected = expected_from_core(stack, YEARS)
    assert_same(got, expected)
    cls = got["OUTPUT_CLASS"]
    # the synthetic stack has all three classes and a nodata pixel (2 valid dates < MIN_VALID 3)
    assert {1, 2, 3} <= set(np.unique(cls)) and cls[10, 10] == 0 and got["OUTPUT_COUNT"][10, 10] == 2
    assert read(res["OUTPUT_SLOPE"])[1] == NODATA and read(res["OUTPUT_CLASS"])[1] == 0
    for pid in OUTPUT_IDS:
        assert os.path.exists(os.path.splitext(res[pid])[0] + ".qml"), pid
    with open(res["OUTPUT_TABLE"]) as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["pixels"]) for r in rows] == [int((cls == c).sum()) for c in (1, 2, 3)]
    assert float(rows[0]["area_km2"]) == pytest.approx((cls == 1).sum() * 900 / 1e6)


def test_trend_from_one_multiband_raster_equals_the_layer_list(provider, stack_files, tmp_path):
    _d, stack, _files, multi = stack_files
    got = outputs(run_trend(tmp_path, [multi]))    # years from the band descriptions "2000" ...
    assert_same(got, expected_from_core(stack, YEARS))


def test_trend_irregular_years_match_scipy_theilslopes(provider, stack_files, tmp_path):
    _d, stack, _files, multi = stack_files
    years = [1990, 1994, 1995, 2000, 2003, 2004, 2010, 2015, 2020]
    got = outputs(run_trend(tmp_path, [multi], YEARS=",".join(map(str, years)), CONFIDENCE=2, MIN_VALID=5))
    assert_same(got, expected_from_core(stack, years, confidence=99, min_valid=5))
    t = np.array(years, float)
    checked = 0
    for r, c in [(0, 0), (3, 30), (12, 18), (22, 36), (7, 2)]:
        v = stack[:, r, c].astype(np.float64)
        ok = v != NODATA
        if ok.sum() < 5:
            continue
        assert got["OUTPUT_SLOPE"][r, c] == pytest.approx(stats.theilslopes(v[ok], t[ok])[0], rel=1e-5, abs=1e-7)
        checked += 1
    assert checked >= 4


def test_trend_does_not_depend_on_the_block_size(provider, stack_files, tmp_path, monkeypatch):
    _d, _stack, files, _multi = stack_files
    ref = outputs(run_trend(tmp_path, files, "ref"))
    for rows, cols in [(1, None), (7, 5), (4, 16)]:
        monkeypatch.setattr(engine, "DEFAULT_BLOCK_ROWS", rows)
        monkeypatch.setattr(engine, "DEFAULT_BLOCK_COLS", cols)
        assert_same(outputs(run_trend(tmp_path, files, f"b{rows}x{cols}")), ref)


def _bad_run(tmp_path, inputs, **extra):
    with pytest.raises(QgsProcessingException) as err:
        run_trend(tmp_path, inputs, "bad", **extra)
    assert not any(name.startswith("bad_") and name.endswith(".tif") for name in os.listdir(tmp_path))
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".part.tif")]
    return str(err.value)


def test_bad_inputs_raise_an_error_naming_the_input(provider, stack_files, tmp_path):
    d, stack, files, multi = stack_files
    msg = _bad_run(tmp_path, files[:2])
    assert "INPUTS: 2 dates given; at least 3" in msg
    msg = _bad_run(tmp_path, files[:4], YEARS="2000,2001,2001,2002")
    assert "YEARS: duplicate date(s) 2001" in msg
    msg = _bad_run(tmp_path, files[:4], YEARS="2000,2002,2001,2003")
    assert "YEARS: the dates are not in time order" in msg
    msg = _bad_run(tmp_path, files[:4], YEARS="2000,2001,2002")
    assert "YEARS: 3 date(s) for 4 layers" in msg
    msg = _bad_run(tmp_path, [files[2], files[0], files[1]])     # years from names, out of order
    assert "INPUTS (years read from the layer names: 2002, 2000, 2001)" in msg and "not in time order" in msg
    shifted = write_raster(d / "rsei_2009.tif", stack[0], gt=(500030.0,) + GT[1:])
    msg = _bad_run(tmp_path, files[:3] + [shifted])
    assert "INPUTS, date 2009 (rsei_2009.tif, band 1) is not on the grid" in msg and "extent differs" in msg
    unnamed = write_raster(d / "slope.tif", stack[0])
    msg = _bad_run(tmp_path, files[:3] + [unnamed])
    assert "INPUTS: no year found in the layer name of slope.tif" in msg and "Give YEARS" in msg
    msg = _bad_run(tmp_path, files[:3], MIN_VALID=4)
    assert "MIN_VALID: 4 is more than the 3 dates" in msg


def test_cancelled_trend_leaves_no_output(provider, stack_files, tmp_path, monkeypatch):
    from qgis.core import QgsProcessingFeedback
    _d, _stack, files, _multi = stack_files
    monkeypatch.setattr(engine, "DEFAULT_BLOCK_ROWS", 4)      # several blocks; cancel after the first
    fb = QgsProcessingFeedback()
    fb.progressChanged.connect(lambda p: fb.cancel() if p > 0 else None)
    out = tmp_path / "cancel"
    out.mkdir()
    with pytest.raises(QgsProcessingException, match="[Cc]ancel"):
        import processing
        params = {"INPUTS": files, "OUTPUT_TABLE": str(out / "t.csv")}
        params.update({pid: str(out / f"{pid}.tif") for pid in OUTPUT_IDS})
        processing.run("miningeco:trend", params, feedback=fb)
    assert fb.isCanceled() and os.listdir(out) == []


# ------------------------------------------------------------------------------ time series
def run_timeseries(out_dir, tag="ts", **params):
    import processing
    params.update({"OUTPUT_TABLE": str(out_dir / f"{tag}.csv"), "OUTPUT_PLOT": str(out_dir / f"{tag}.png"),
                   "OUTPUT_REPORT": str(out_dir / f"{tag}.html")})
    return processing.run("miningeco:timeseries", params)


def table_rows(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def table5_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("table5") / "ningdong_table5.csv"
    with open(path, "w") as fh:
        fh.write("year,rsei\n")
        # rows shuffled: the tool sorts by year
        for y, v in sorted(zip(range(2000, 2025), TABLE5), key=lambda p: (p[0] * 7) % 25):
            fh.write(f"{y},{v}\n")
    return str(path)


def test_timeseries_from_a_table_reproduces_the_seed(provider, table5_csv, tmp_path):
    res = run_timeseries(tmp_path, INPUT_TABLE=table5_csv, YEAR_FIELD="year", VALUE_FIELD="rsei", BREAKPOINT=2012)
    t, y = np.arange(2000, 2025), np.array(TABLE5)
    whole, first, second = (stats.linregress(t[m], y[m]) for m in (t > 0, t <= 2012, t > 2012))
    assert res["SLOPE"] == pytest.approx(whole.slope, rel=1e-9)
    assert res["P_VALUE"] == pytest.approx(whole.pvalue, rel=1e-9)
    assert res["SLOPE_FIRST"] == pytest.approx(first.slope, rel=1e-9)
    assert res["SLOPE_SECOND"] == pytest.approx(second.slope, rel=1e-9)
    # seed (section 4.1): slopes -0.00605 / 0.01239 (from unrounded data), R2 0.41, net change 15.2 %
    assert res["SLOPE_FIRST"] == pytest.approx(-0.00605, abs=1.2e-4)
    assert res["SLOPE_SECOND"] == pytest.approx(0.01239, abs=1.3e-4)
    assert round(res["QUADRATIC_R2"], 2) == 0.41
    a, b, _c = np.polyfit(t, y, 2)
    assert res["TURNING_POINT"] == pytest.approx(-b / (2 * a), abs=1e-6)
    assert 15.05 <= res["NET_CHANGE_PCT"] <= 15.2
    assert res["BREAKPOINT_YEAR"] == 2012
    # every number out is a plain Python number (issue 10, failure 3: NET_CHANGE_PCT was a numpy.float64)
    for key in ("SLOPE", "P_VALUE", "SLOPE_FIRST", "SLOPE_SECOND", "QUADRATIC_R2", "TURNING_POINT", "NET_CHANGE_PCT",
                "BREAKPOINT_YEAR"):
        assert type(res[key]) in (float, int), (key, type(res[key]))
    rows = table_rows(res["OUTPUT_TABLE"])
    annual = [(float(r["year"]), float(r["value"])) for r in rows if r["section"] == "annual"]
    assert annual == list(zip(map(float, t), TABLE5))
    lookup = {(r["section"], r["statistic"]): float(r["value"]) for r in rows if r["value"]}
    assert lookup[("first segment", "r")] == pytest.approx(first.rvalue, rel=1e-9)
    assert lookup[("second segment", "first year")] == 2013
    assert lookup[("quadratic", "r2")] == pytest.approx(res["QUADRATIC_R2"])
    with open(res["OUTPUT_PLOT"], "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    html = open(res["OUTPUT_REPORT"], encoding="utf-8").read()
    assert "data:image/png;base64" in html and "2000-2012" in html


def test_timeseries_searches_the_breakpoint_without_one(provider, table5_csv, tmp_path):
    res = run_timeseries(tmp_path, INPUT_TABLE=table5_csv, YEAR_FIELD="year", VALUE_FIELD="rsei")
    assert res["BREAKPOINT_YEAR"] == 2016       # least squares on Table 5 (see test/unit/test_timeseries.py)


def test_timeseries_from_rasters_uses_numpy_means(provider, stack_files, tmp_path):
    _d, _stack, files, _multi = stack_files
    res = run_timeseries(tmp_path, RASTERS=files)
    means = []
    for f in files:
        a = gdal.Open(f).ReadAsArray().astype(np.float64)
        means.append(a[a != NODATA].mean())
    rows = table_rows(res["OUTPUT_TABLE"])
    annual = [(float(r["year"]), float(r["value"])) for r in rows if r["section"] == "annual"]
    assert [a[0] for a in annual] == YEARS
    np.testing.assert_allclose([a[1] for a in annual], means, rtol=1e-12)
    assert res["SLOPE"] == pytest.approx(stats.linregress(YEARS, means).slope, rel=1e-9)


def test_timeseries_needs_exactly_one_source(provider, table5_csv, stack_files, tmp_path):
    _d, _stack, files, _multi = stack_files
    for params in ({}, {"INPUT_TABLE": table5_csv, "YEAR_FIELD": "year", "VALUE_FIELD": "rsei", "RASTERS": files}):
        with pytest.raises(QgsProcessingException, match="INPUT_TABLE / RASTERS: give either a table"):
            run_timeseries(tmp_path, **params)
    with pytest.raises(QgsProcessingException, match="BREAKPOINT: 2022 leaves 23 year"):
        run_timeseries(tmp_path, INPUT_TABLE=table5_csv, YEAR_FIELD="year", VALUE_FIELD="rsei", BREAKPOINT=2022)


# ------------------------------------------------------------------------------ qgis_process
def test_trend_and_timeseries_through_qgis_process(qgis_process, provider, stack_files, table5_csv, tmp_path):
    _d, stack, files, _multi = stack_files
    help_text = qgis_process("help", "miningeco:trend").stdout
    for word in ("INPUTS", "YEARS", "CONFIDENCE", "MIN_VALID", "OUTPUT_CLASS", "Han C.", "Mann H.B. (1945)"):
        assert word in help_text
    outs = {pid: str(tmp_path / f"cli_{pid.lower()}.tif") for pid in OUTPUT_IDS}
    qgis_process("run", "miningeco:trend", "--", *[f"INPUTS={f}" for f in files], "CONFIDENCE=0",
                 *[f"{k}={v}" for k, v in outs.items()], f"OUTPUT_TABLE={tmp_path / 'cli.csv'}")
    assert_same({pid: read(p)[0] for pid, p in outs.items()}, expected_from_core(stack, YEARS, confidence=90))
    proc = qgis_process("run", "miningeco:timeseries", "--", f"INPUT_TABLE={table5_csv}", "YEAR_FIELD=year",
                        "VALUE_FIELD=rsei", "BREAKPOINT=2012", f"OUTPUT_TABLE={tmp_path / 'ts.csv'}",
                        f"OUTPUT_PLOT={tmp_path / 'ts.png'}", f"OUTPUT_REPORT={tmp_path / 'ts.html'}")
    assert "SLOPE_FIRST:" in proc.stdout and "-0.00608" in proc.stdout
    assert (tmp_path / "ts.png").stat().st_size > 10000


def test_timeseries_numbers_in_qgis_process_json(qgis_process, table5_csv, tmp_path):
    """qgis_process --json prints every number output as a JSON number: it printed NET_CHANGE_PCT, a
    numpy.float64, as empty (issue 10, failure 3). Reference: the same run through processing.run."""
    import json
    params = {"INPUT_TABLE": table5_csv, "YEAR_FIELD": "year", "VALUE_FIELD": "rsei", "BREAKPOINT": 2012,
              "OUTPUT_TABLE": tmp_path / "ts.csv", "OUTPUT_PLOT": tmp_path / "ts.png", "OUTPUT_REPORT": tmp_path / "ts.html"}
    proc = qgis_process("--json", "run", "miningeco:timeseries", "--", *[f"{k}={v}" for k, v in params.items()])
    results = json.loads(proc.stdout[proc.stdout.index("{"):])["results"]
    reference = run_timeseries(tmp_path, tag="ref", INPUT_TABLE=table5_csv, YEAR_FIELD="year", VALUE_FIELD="rsei",
                               BREAKPOINT=2012)
    for key in ("NET_CHANGE_PCT", "SLOPE", "TURNING_POINT", "QUADRATIC_R2"):
        assert isinstance(results[key], (int, float)), (key, results[key])
        assert results[key] == pytest.approx(reference[key], rel=1e-12)


def test_no_pixel_with_min_valid_dates_is_an_error_not_an_all_nodata_file(provider, stack_files, tmp_path):
    # issue 11: every pixel below MIN_VALID gave six all-nodata rasters and a table of zeros without a word.
    # By hand: 5 dates, each pixel valid at exactly 3 of them (the others nodata) -> MIN_VALID 4 leaves nothing
    d, stack, _files, _multi = stack_files
    sparse = (0.4 + 0.02 * np.arange(5)[:, None, None] + np.zeros((5, HEIGHT, WIDTH))).astype(np.float32)
    rows = np.arange(HEIGHT)[:, None] + np.arange(WIDTH)[None, :]
    for k in range(5):
        sparse[k][(rows + k) % 5 < 2] = NODATA                 # 2 of the 5 dates nodata at every pixel
    assert ((sparse != NODATA).sum(axis=0) == 3).all()
    files = [write_raster(d / f"sparse_{y}.tif", sparse[k]) for k, y in enumerate(YEARS[:5])]
    msg = _bad_run(tmp_path, files, YEARS=",".join(map(str, YEARS[:5])), MIN_VALID=4)
    assert "MIN_VALID: no pixel has 4 valid dates (the most at any pixel is 3 of 5)" in msg
    assert "Lower MIN_VALID to 3" in msg
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".csv")]
    # MIN_VALID 3: every pixel has its trend (the hand count above), and the run succeeds
    res = run_trend(tmp_path, files, "ok", YEARS=",".join(map(str, YEARS[:5])), MIN_VALID=3)
    assert (read(res["OUTPUT_CLASS"])[0] > 0).all()
    empty = [write_raster(d / f"empty_{y}.tif", np.full_like(stack[0], NODATA)) for y in YEARS[:3]]
    msg = _bad_run(tmp_path, empty, YEARS=",".join(map(str, YEARS[:3])))
    assert "INPUTS: every pixel is nodata at every date" in msg
