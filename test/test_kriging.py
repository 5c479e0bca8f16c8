"""miningeco:kriging through processing.run (and once through qgis_process), and its core (core/kriging.py).

References, each independent of the tool's code path:
* GSTools itself (Müller et al. 2022, gstools 1.5-1.7) called directly here on the same points: the empirical
  variogram, the weighted least-squares fit, gstools.krige.Ordinary / ExtDrift predictions and variances at the
  pixel centres (computed here from the geotransform read with GDAL);
* the ordinary kriging system of Webster & Oliver (2007, eq. 8.9) written and solved here with numpy on 5 points:
  [Gamma 1; 1' 0] [lambda; psi] = [gamma0; 1], prediction lambda'z, variance lambda'gamma0 + psi;
* leave-one-out: GSTools kriging each point from the n - 1 others (n runs), against the tool's closed form;
* a Gaussian random field of a known spherical variogram (gstools.SRF, seed fixed) with an independent nugget
  noise (numpy): the fitted sill and range within 20 %, the LOO MSDR within 0.8 - 1.2.
Tolerances: float32 rasters to 1e-5 relative; float64 numbers to 1e-9.
"""
from __future__ import annotations

import copy
import os
import site

import numpy as np
import pytest
from osgeo import gdal, ogr, osr

import util  # test/qgis/util.py
from failures import assert_fails_cleanly, recording_feedback

gs = pytest.importorskip("gstools")
from mining_eco_plugin.core import kriging as core  # noqa: E402

gdal.UseExceptions()
ogr.UseExceptions()
EPSG = 32649
X0, Y0, PIXEL, SIZE = 300000.0, 4220000.0, 500.0, 40          # 20 km x 20 km grid of 500 m
TRUE = dict(nugget=0.2, sill=2.2, len_scale=3000.0)             # the GRF's spherical variogram


def run(params, feedback=None):
    import processing
    return processing.run("miningeco:kriging", params, feedback=feedback)


def write_points(path, x, y, values, epsg=EPSG, field="value"):
    """A GeoPackage of points with one Real field, written with OGR."""
    drv = ogr.GetDriverByName("GPKG")
    ds = drv.CreateDataSource(str(path))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    lyr = ds.CreateLayer("samples", srs, ogr.wkbPoint)
    lyr.CreateField(ogr.FieldDefn(field, ogr.OFTReal))
    for xi, yi, v in zip(x, y, values):
        f = ogr.Feature(lyr.GetLayerDefn())
        if v is not None:
            f.SetField(field, float(v))
        g = ogr.Geometry(ogr.wkbPoint)
        g.AddPoint_2D(float(xi), float(yi))
        f.SetGeometry(g)
        lyr.CreateFeature(f)
    ds = None
    return str(path)


def centres(path):
    ds = gdal.Open(str(path))
    g = ds.GetGeoTransform()
    c, r = np.meshgrid(np.arange(ds.RasterXSize) + 0.5, np.arange(ds.RasterYSize) + 0.5)
    return g[0] + g[1] * c + g[2] * r, g[3] + g[4] * c + g[5] * r


def read(path):
    ds = gdal.Open(str(path))
    b = ds.GetRasterBand(1)
    a = b.ReadAsArray().astype(np.float64)
    a[a == b.GetNoDataValue()] = np.nan
    return a


@pytest.fixture(scope="module")
def grf(provider, tmp_path_factory):
    """600 samples of a Gaussian random field (spherical, TRUE) plus nugget noise, the 40 x 40 reference grid
    (with a nodata corner) and a linear drift raster."""
    folder = tmp_path_factory.mktemp("kriging_data")
    rng = np.random.default_rng(20240614)
    n = 600
    x = X0 + rng.uniform(0, SIZE * PIXEL, n)
    y = Y0 - rng.uniform(0, SIZE * PIXEL, n)
    model = gs.Spherical(dim=2, var=TRUE["sill"] - TRUE["nugget"], len_scale=TRUE["len_scale"])
    srf = gs.SRF(model, seed=19970221)
    z = 10.0 + srf((x, y), mesh_type="unstructured") + rng.normal(0, np.sqrt(TRUE["nugget"]), n)
    ref = np.ones((SIZE, SIZE), np.float32)
    ref[:5, :5] = -9999.0
    ref_path = util.write_raster(folder / "ref.tif", [ref], dtype=gdal.GDT_Float32, nodata=-9999.0, epsg=EPSG,
                                 origin=(X0, Y0), pixel=PIXEL)
    # a drift linear in x and y: bilinear sampling at any point inside the outer pixel centres is exact
    cx, cy = np.meshgrid(X0 + (np.arange(SIZE) + 0.5) * PIXEL, Y0 - (np.arange(SIZE) + 0.5) * PIXEL)
    drift = lambda xx, yy: 0.001 * (xx - X0) - 0.0005 * (yy - Y0) + 3.0  # noqa: E731
    drift_path = util.write_raster(folder / "drift.tif", [drift(cx, cy).astype(np.float64)], dtype=gdal.GDT_Float64,
                                   epsg=EPSG, origin=(X0, Y0), pixel=PIXEL)
    return dict(folder=folder, x=x, y=y, z=z, ref=ref_path, drift=drift_path, drift_fn=drift,
                points=write_points(folder / "samples.gpkg", x, y, z))


def small_points(grf, folder, count=80, values=None, name="small.gpkg"):
    x, y = grf["x"][:count], grf["y"][:count]
    return write_points(folder / name, x, y, grf["z"][:count] if values is None else values)


def bounded(model, gamma, max_lag):
    """The fit's upper bounds as the manual states them, written here: nugget <= max gamma*, partial sill <=
    10 max gamma* (PyKrige's automatic fit, pykrige/core.py _calculate_variogram_model), length scale <= 3 x the
    largest lag."""
    top = float(np.max(gamma))
    model.set_arg_bounds(check_args=False, var=[0.0, 10.0 * top, "cc"], len_scale=[0.0, 3.0 * max_lag, "oc"],
                         nugget=[0.0, top, "cc"])


# ------------------------------------------------------------------------------------------- against the library
def test_ordinary_kriging_equals_gstools_direct(grf, tmp_path):
    """Spherical WLS fit, prediction and variance: the tool against GSTools called here on the same 80 points."""
    pts = small_points(grf, tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    res = run({"POINTS": pts, "FIELD": "value", "REFERENCE": grf["ref"], "MODEL": 0,
               "OUTPUT": str(out / "pred.tif"), "OUTPUT_VARIANCE": str(out / "var.tif"),
               "OUTPUT_REPORT": str(out / "report.html"), "OUTPUT_CV": str(out / "cv.csv"),
               "OUTPUT_RESIDUALS": str(out / "residuals.gpkg")})
    x, y, z = grf["x"][:80], grf["y"][:80], grf["z"][:80]
    # the library, directly: Matheron bins 0 .. diagonal / 3 (15), WLS with pairs as weights, linear loss
    edges = np.linspace(0, np.hypot(np.ptp(x), np.ptp(y)) / 3, 16)
    c, g, cnt = gs.vario_estimate((x, y), z, edges, return_counts=True)
    m = gs.Spherical(dim=2)
    bounded(m, g[cnt > 0], edges[-1])
    m.fit_variogram(c[cnt > 0], g[cnt > 0], nugget=True, weights=cnt[cnt > 0].astype(float), loss="linear")
    assert res["NUGGET_USED"] == pytest.approx(m.nugget, rel=1e-9, abs=1e-12)
    assert res["SILL_USED"] == pytest.approx(m.sill, rel=1e-9)
    assert res["RANGE_USED"] == pytest.approx(m.len_scale, rel=1e-9)
    krig = gs.krige.Ordinary(m, (x, y), z, exact=True, pseudo_inv=False)
    cx, cy = centres(grf["ref"])
    f, v = krig((cx.ravel(), cy.ravel()), mesh_type="unstructured", return_var=True)
    pred, var = read(res["OUTPUT"]), read(res["OUTPUT_VARIANCE"])
    mask = np.zeros((SIZE, SIZE), bool)
    mask[:5, :5] = True                                   # the reference's nodata corner stays nodata
    assert np.isnan(pred[mask]).all() and np.isnan(var[mask]).all()
    np.testing.assert_allclose(pred[~mask], f.reshape(SIZE, SIZE)[~mask], rtol=1e-5)
    np.testing.assert_allclose(var[~mask], v.reshape(SIZE, SIZE)[~mask], rtol=1e-5, atol=1e-6)
    html = open(res["OUTPUT_REPORT"], encoding="utf-8").read()
    assert "data:image/png;base64" in html and "Leave-one-out" in html
    assert os.path.exists(str(out / "pred.qml"))          # styled


def test_external_drift_equals_gstools_direct(grf, tmp_path):
    """Kriging with an external drift raster (exact drift at the points: linear in x, y) against
    gstools.krige.ExtDrift, with the exponential model fitted to the OLS residuals."""
    inner = ((grf["x"] > X0 + PIXEL) & (grf["x"] < X0 + (SIZE - 1) * PIXEL) &
             (grf["y"] < Y0 - PIXEL) & (grf["y"] > Y0 - (SIZE - 1) * PIXEL))
    x, y = grf["x"][inner][:120], grf["y"][inner][:120]
    d = grf["drift_fn"](x, y)
    z = grf["z"][inner][:120] + 2.0 * d
    pts = write_points(tmp_path / "drift_pts.gpkg", x, y, z)
    out = tmp_path / "out"
    out.mkdir()
    res = run({"POINTS": pts, "FIELD": "value", "REFERENCE": grf["ref"], "DRIFTS": [grf["drift"]], "MODEL": 1,
               "OUTPUT": str(out / "pred.tif"), "OUTPUT_VARIANCE": str(out / "var.tif"),
               "OUTPUT_REPORT": str(out / "r.html"), "OUTPUT_CV": "TEMPORARY_OUTPUT",
               "OUTPUT_RESIDUALS": "TEMPORARY_OUTPUT"})
    f_mat = np.column_stack([np.ones_like(z), d])
    resid = z - f_mat @ np.linalg.lstsq(f_mat, z, rcond=None)[0]
    edges = np.linspace(0, np.hypot(np.ptp(x), np.ptp(y)) / 3, 16)
    c, g, cnt = gs.vario_estimate((x, y), resid, edges, return_counts=True)
    m = gs.Exponential(dim=2)
    bounded(m, g[cnt > 0], edges[-1])
    m.fit_variogram(c[cnt > 0], g[cnt > 0], nugget=True, weights=cnt[cnt > 0].astype(float), loss="linear")
    # 1e-6: the drift read bilinearly from the raster differs from the formula by rounding (1e-16), which the
    # least-squares fit amplifies to about 1e-8
    assert res["RANGE_USED"] == pytest.approx(m.len_scale, rel=1e-6)
    assert res["SILL_USED"] == pytest.approx(m.sill, rel=1e-6)
    krig = gs.krige.ExtDrift(m, (x, y), z, ext_drift=d, exact=True, pseudo_inv=False)
    cx, cy = centres(grf["ref"])
    f, v = krig((cx.ravel(), cy.ravel()), mesh_type="unstructured", return_var=True,
                ext_drift=grf["drift_fn"](cx.ravel(), cy.ravel()))
    pred, var = read(res["OUTPUT"]), read(res["OUTPUT_VARIANCE"])
    ok = ~np.isnan(pred)
    assert ok.sum() == SIZE * SIZE - 25
    np.testing.assert_allclose(pred[ok], f.reshape(SIZE, SIZE)[ok], rtol=1e-5)
    np.testing.assert_allclose(var[ok], v.reshape(SIZE, SIZE)[ok], rtol=1e-5, atol=1e-6)


def test_leave_one_out_equals_n_library_runs(grf):
    """The closed form (Dubrule 1983) against GSTools kriging each of 40 points from the 39 others, with and
    without an external drift."""
    x, y = grf["x"][:40], grf["y"][:40]
    d = np.array([grf["drift_fn"](x, y) + np.sin(x / 900.0)])
    z = grf["z"][:40] + d[0]
    m = gs.Exponential(dim=2, var=1.5, len_scale=2500.0, nugget=0.3)
    for drifts in (None, d):
        s = core.Samples(x, y, z, drifts)
        loo = core.leave_one_out(m, s)
        for i in range(x.size):
            o = np.arange(x.size) != i
            if drifts is None:
                k = gs.krige.Ordinary(m, (x[o], y[o]), z[o], exact=True, pseudo_inv=False)
                f, v = k((x[i:i + 1], y[i:i + 1]), mesh_type="unstructured", return_var=True)
            else:
                k = gs.krige.ExtDrift(m, (x[o], y[o]), z[o], ext_drift=drifts[:, o], exact=True, pseudo_inv=False)
                f, v = k((x[i:i + 1], y[i:i + 1]), mesh_type="unstructured", return_var=True,
                         ext_drift=drifts[:, i:i + 1])
            assert loo.predicted[i] == pytest.approx(f[0], rel=1e-9, abs=1e-9)
            assert loo.variance[i] == pytest.approx(v[0], rel=1e-9, abs=1e-9)


# ------------------------------------------------------------------------------------------- by hand
def test_ordinary_kriging_system_by_hand_on_five_points():
    """Webster & Oliver (2007) eq. 8.9 solved with numpy: weights, Lagrange multiplier, prediction, variance."""
    x = np.array([0.0, 100.0, 0.0, 100.0, 40.0])
    y = np.array([0.0, 0.0, 100.0, 100.0, 70.0])
    z = np.array([3.1, 4.0, 2.2, 5.3, 3.7])
    x0, y0 = 60.0, 30.0
    nugget, sill, a = 0.1, 1.1, 150.0

    def gamma(h):   # spherical variogram with nugget, gamma(0) = 0
        h = np.asarray(h, float)
        s = np.where(h < a, 1.5 * h / a - 0.5 * (h / a) ** 3, 1.0)
        return np.where(h > 0, nugget + (sill - nugget) * s, 0.0)

    h = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    a_mat = np.ones((6, 6))
    a_mat[:5, :5] = gamma(h)
    a_mat[5, 5] = 0.0
    b = np.append(gamma(np.hypot(x - x0, y - y0)), 1.0)
    sol = np.linalg.solve(a_mat, b)
    lam, psi = sol[:5], sol[5]
    pred_hand = lam @ z
    var_hand = lam @ b[:5] + psi
    assert lam.sum() == pytest.approx(1.0, abs=1e-12)
    model = core.make_model("spherical", nugget, sill, a)
    krig = core.kriger(model, core.Samples(x, y, z))
    p, v = core.predict(krig, [x0], [y0])
    assert p[0] == pytest.approx(pred_hand, abs=1e-10)
    assert v[0] == pytest.approx(var_hand, abs=1e-10)
    # and at a sample: exact interpolation, variance 0
    p, v = core.predict(krig, x[:1], y[:1])
    assert p[0] == pytest.approx(z[0], abs=1e-10) and v[0] == pytest.approx(0.0, abs=1e-10)


def test_prediction_memory_is_bounded_by_chunks():
    """core.predict hands GSTools chunks of CHUNK_VALUES right-hand values: the peak memory (tracemalloc, which
    numpy reports to) for 200 000 target points is far below the 160 MB that one right-hand side of 100 samples
    x 200 000 points would take, and grows by less than 100 bytes per point (the outputs and coordinates) from
    20 000 to 200 000 points: memory does not grow with the samples x pixels product."""
    import tracemalloc
    rng = np.random.default_rng(0)
    n = 100
    x, y, z = rng.uniform(0, 1e4, n), rng.uniform(0, 1e4, n), rng.normal(size=n)
    krig = core.kriger(core.make_model("exponential", 0.1, 1.1, 2000.0), core.Samples(x, y, z))
    peaks = {}
    for m in (20_000, 200_000):
        px, py = rng.uniform(0, 1e4, m), rng.uniform(0, 1e4, m)
        tracemalloc.start()
        core.predict(krig, px, py)
        peaks[m] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    print("peak MB of predict, 100 samples:", {m: round(p / 1e6, 1) for m, p in peaks.items()})
    assert peaks[200_000] < 0.75 * (n + 1) * 200_000 * 8
    assert (peaks[200_000] - peaks[20_000]) / 180_000 < 100


def test_duplicates_merged_to_the_mean():
    x = np.array([0.0, 1.0, 0.0, 2.0, 1.0])
    y = np.array([0.0, 1.0, 0.0, 2.0, 1.0])
    z = np.array([1.0, 2.0, 3.0, 4.0, 6.0])
    s = core.merge_duplicates(x, y, z)
    np.testing.assert_array_equal(s.x, [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(s.z, [2.0, 4.0, 4.0])
    assert (s.merged_groups, s.merged_points) == (2, 4)


# ------------------------------------------------------------------------------------------- known variogram
def test_random_field_of_known_variogram(grf, tmp_path):
    """600 samples of a GRF with a spherical variogram (nugget 0.2, sill 2.2, range 3000 m): the fitted sill and
    range within 20 %, the leave-one-out MSDR within 0.8 - 1.2, residual points written."""
    out = tmp_path / "out"
    out.mkdir()
    res = run({"POINTS": grf["points"], "FIELD": "value", "REFERENCE": grf["ref"], "MODEL": 0,
               "MAX_LAG": 8000.0, "OUTPUT": str(out / "pred.tif"), "OUTPUT_RESIDUALS": str(out / "res.gpkg"),
               "OUTPUT_CV": str(out / "cv.csv"), "OUTPUT_REPORT": str(out / "r.html")})
    print("GRF fit:", res["NUGGET_USED"], res["SILL_USED"], res["RANGE_USED"], "MSDR", res["MSDR"], "RMSE", res["RMSE"])
    assert res["SILL_USED"] == pytest.approx(TRUE["sill"], rel=0.2)
    assert res["RANGE_USED"] == pytest.approx(TRUE["len_scale"], rel=0.2)
    assert 0.8 <= res["MSDR"] <= 1.2
    assert res["POINTS_USED"] == 600
    ds = ogr.Open(res["OUTPUT_RESIDUALS"])
    lyr = ds.GetLayer(0)
    assert lyr.GetFeatureCount() == 600
    sq = [f.GetField("residual") ** 2 / f.GetField("variance") for f in lyr]
    assert np.mean(sq) == pytest.approx(res["MSDR"], rel=1e-9)


def test_points_in_another_crs_are_transformed(grf, tmp_path):
    """The 80 points given in WGS 84 (transformed here with OSR) give the same kriging as in the grid CRS."""
    src = osr.SpatialReference()
    src.ImportFromEPSG(EPSG)
    dst = osr.SpatialReference()
    dst.ImportFromEPSG(4326)
    for s in (src, dst):
        s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    tr = osr.CoordinateTransformation(src, dst)
    x, y = grf["x"][:80], grf["y"][:80]
    lonlat = np.array([tr.TransformPoint(float(a), float(b))[:2] for a, b in zip(x, y)])
    pts = write_points(tmp_path / "wgs84.gpkg", lonlat[:, 0], lonlat[:, 1], grf["z"][:80], epsg=4326)
    ref = run({"POINTS": small_points(grf, tmp_path), "FIELD": "value", "REFERENCE": grf["ref"],
               "VARIOGRAM": 1, "NUGGET": 0.2, "SILL": 2.2, "RANGE": 3000.0, "OUTPUT": str(tmp_path / "a.tif"),
               "OUTPUT_VARIANCE": None, "OUTPUT_REPORT": None, "OUTPUT_CV": None, "OUTPUT_RESIDUALS": None})
    got = run({"POINTS": pts, "FIELD": "value", "REFERENCE": grf["ref"],
               "VARIOGRAM": 1, "NUGGET": 0.2, "SILL": 2.2, "RANGE": 3000.0, "OUTPUT": str(tmp_path / "b.tif"),
               "OUTPUT_VARIANCE": None, "OUTPUT_REPORT": None, "OUTPUT_CV": None, "OUTPUT_RESIDUALS": None})
    np.testing.assert_allclose(read(got["OUTPUT"]), read(ref["OUTPUT"]), rtol=1e-5, atol=1e-5)
    assert got["RMSE"] == pytest.approx(ref["RMSE"], rel=1e-6)


# ------------------------------------------------------------------------------------------- bad inputs
def _bad(grf, tmp_path, params, *words, points=None):
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    base = {"POINTS": points or small_points(grf, tmp_path), "FIELD": "value", "REFERENCE": grf["ref"],
            "OUTPUT": str(out / "pred.tif"), "OUTPUT_VARIANCE": str(out / "var.tif"),
            "OUTPUT_REPORT": str(out / "r.html"), "OUTPUT_CV": str(out / "cv.csv"),
            "OUTPUT_RESIDUALS": str(out / "res.gpkg")}
    base.update(params)
    return assert_fails_cleanly(lambda: run(base), out, *words)


def test_fewer_than_ten_points(grf, tmp_path):
    _bad(grf, tmp_path, {}, "POINTS", "9", "at least 10", points=small_points(grf, tmp_path, 9))


def test_constant_field(grf, tmp_path):
    _bad(grf, tmp_path, {}, "FIELD", "same value", points=small_points(grf, tmp_path, 30, values=[5.0] * 30))


def test_duplicates_refused_or_merged(grf, tmp_path):
    x = np.concatenate([grf["x"][:30], grf["x"][:3]])
    y = np.concatenate([grf["y"][:30], grf["y"][:3]])
    z = np.concatenate([grf["z"][:30], grf["z"][:3] + 1.0])
    pts = write_points(tmp_path / "dup.gpkg", x, y, z)
    _bad(grf, tmp_path, {"DUPLICATES": 1}, "POINTS", "6 points share 3 location", "DUPLICATES", points=pts)
    fb = recording_feedback()
    res = run({"POINTS": pts, "FIELD": "value", "REFERENCE": grf["ref"], "OUTPUT": str(tmp_path / "p.tif"),
               "OUTPUT_VARIANCE": None, "OUTPUT_REPORT": None, "OUTPUT_CV": None,
               "OUTPUT_RESIDUALS": "TEMPORARY_OUTPUT"}, feedback=fb)
    assert res["POINTS_USED"] == 30
    assert any("mean value" in w for w in fb.warnings)
    lyr = res["OUTPUT_RESIDUALS"]
    lyr = lyr if hasattr(lyr, "getFeatures") else None
    if lyr is not None:
        obs = sorted(f["observed"] for f in lyr.getFeatures())
        expect = sorted(list(grf["z"][3:30]) + list(grf["z"][:3] + 0.5))
        np.testing.assert_allclose(obs, expect, rtol=1e-12)


def test_singular_system(grf, tmp_path):
    """A gaussian model without nugget and a range far beyond the samples' spacing: singular to working
    precision; the message says to add a nugget."""
    _bad(grf, tmp_path, {"MODEL": 2, "VARIOGRAM": 1, "NUGGET": 0.0, "SILL": 1.0, "RANGE": 200000.0},
         "singular", "nugget")


def test_given_variogram_needs_sill_and_range(grf, tmp_path):
    _bad(grf, tmp_path, {"VARIOGRAM": 1}, "SILL", "RANGE")
    _bad(grf, tmp_path, {"VARIOGRAM": 1, "NUGGET": 2.0, "SILL": 1.0, "RANGE": 100.0}, "SILL", "nugget")


def test_constant_drift(grf, tmp_path):
    const = util.write_raster(tmp_path / "const.tif", [np.full((SIZE, SIZE), 7.0)], dtype=gdal.GDT_Float32,
                              epsg=EPSG, origin=(X0, Y0), pixel=PIXEL)
    _bad(grf, tmp_path, {"DRIFTS": [const]}, "DRIFTS", "same value")


def test_too_many_points(grf, tmp_path):
    n = core.MAX_POINTS + 1
    rng = np.random.default_rng(1)
    pts = write_points(tmp_path / "many.gpkg", X0 + rng.uniform(0, 20000, n), Y0 - rng.uniform(0, 20000, n),
                       rng.normal(size=n))
    _bad(grf, tmp_path, {}, "POINTS", str(core.MAX_POINTS), points=pts)


def test_geographic_reference_refused(grf, tmp_path):
    geo = util.write_raster(tmp_path / "geo.tif", [np.ones((10, 10), np.float32)], dtype=gdal.GDT_Float32,
                            epsg=4326, origin=(111.0, 38.0), pixel=0.01)
    _bad(grf, tmp_path, {"REFERENCE": geo}, "REFERENCE", "projected")


# ------------------------------------------------------------------------------------------- qgis_process
def test_qgis_process(qgis_process, grf, tmp_path):
    """The venv's GSTools on PYTHONPATH: a run; without it (the system Python) the tool names the installer."""
    qp = copy.copy(qgis_process)
    qp.env = dict(qgis_process.env, PYTHONPATH=site.getsitepackages()[0])
    pts = small_points(grf, tmp_path)
    res = qp.results("miningeco:kriging", "--", f"POINTS={pts}", "FIELD=value", f"REFERENCE={grf['ref']}",
                     f"OUTPUT={tmp_path / 'p.tif'}", f"OUTPUT_VARIANCE={tmp_path / 'v.tif'}",
                     f"OUTPUT_REPORT={tmp_path / 'r.html'}", f"OUTPUT_CV={tmp_path / 'cv.csv'}",
                     f"OUTPUT_RESIDUALS={tmp_path / 'res.gpkg'}")
    assert os.path.exists(res["OUTPUT"]) and float(res["POINTS_USED"]) == 80
    import subprocess
    has = subprocess.run(["/usr/bin/python3", "-c", "import gstools"], capture_output=True).returncode == 0
    if not has:
        proc = qgis_process("run", "miningeco:kriging", "--", f"POINTS={pts}", "FIELD=value",
                            f"REFERENCE={grf['ref']}", f"OUTPUT={tmp_path / 'q.tif'}", check=False)
        assert proc.returncode != 0
        assert "installdependencies" in proc.stdout + proc.stderr
        assert not os.path.exists(tmp_path / "q.tif")


def test_points_elsewhere_are_refused(grf, tmp_path):
    """Longitude / latitude degrees labelled with the grid's CRS (a CSV read without its CRS): a cluster a few map
    units wide far from the raster; kriging it would give a constant raster."""
    lon = 111.0 + grf["x"][:40] / 1e6
    lat = 38.0 + grf["y"][:40] / 1e7
    pts = write_points(tmp_path / "degrees.gpkg", lon, lat, grf["z"][:40])
    _bad(grf, tmp_path, {}, "POINTS", "sample locations lies inside the REFERENCE", "CRS", points=pts)


def test_hours_of_kriging_are_refused_before_any_work(grf, tmp_path):
    """Global kriging costs samples^2 per pixel: 3000 samples on a 1500 x 1500 grid (2e13) is refused with the
    numbers (the limit, kriging.KRIGE_COST_MAX = 2e12, is about 30 minutes here)."""
    from mining_eco_plugin.algorithms.kriging import KRIGE_COST_MAX
    n, size = core.MAX_POINTS, 1500
    assert float(n) ** 2 * size * size > KRIGE_COST_MAX
    big = tmp_path / "big.tif"
    ds = gdal.GetDriverByName("GTiff").Create(str(big), size, size, 1, gdal.GDT_Byte, ["SPARSE_OK=TRUE"])
    ds.SetGeoTransform((X0, 20000.0 / size, 0, Y0, 0, -20000.0 / size))
    from osgeo import osr
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(EPSG)
    ds.SetProjection(srs.ExportToWkt())
    ds = None
    rng = np.random.default_rng(3)
    pts = write_points(tmp_path / "many.gpkg", X0 + rng.uniform(0, 20000, n), Y0 - rng.uniform(0, 20000, n),
                       rng.normal(size=n))
    _bad(grf, tmp_path, {"REFERENCE": str(big)}, "POINTS / REFERENCE", "operations", points=pts)


def test_a_trend_without_drift_is_bounded_and_warned(grf, tmp_path):
    """Samples of a plane (z = 0.001 x, no spatial correlation around it): the semivariance rises without a sill.
    Without bounds GSTools' fit runs the spherical range to about 4e6 m (checked here: beyond 100 x the largest lag);
    the tool's range stops at its bound, 3 x the largest lag (the samples' diagonal with the default cut-off), the
    same as GSTools given that bound, and the run warns, naming the bound and DRIFTS."""
    x, y = grf["x"][:120], grf["y"][:120]
    z = 0.001 * (x - X0) + 0.05 * np.sin(y / 37.0)
    pts = write_points(tmp_path / "plane.gpkg", x, y, z)
    fb = recording_feedback()
    res = run({"POINTS": pts, "FIELD": "value", "REFERENCE": grf["ref"], "OUTPUT": str(tmp_path / "p.tif"),
               "OUTPUT_VARIANCE": None, "OUTPUT_REPORT": None, "OUTPUT_CV": None, "OUTPUT_RESIDUALS": None},
              feedback=fb)
    diagonal = np.hypot(np.ptp(x), np.ptp(y))
    edges = np.linspace(0, diagonal / 3, 16)
    c, g, cnt = gs.vario_estimate((x, y), z, edges, return_counts=True)
    free = gs.Spherical(dim=2)
    free.fit_variogram(c[cnt > 0], g[cnt > 0], nugget=True, weights=cnt[cnt > 0].astype(float), loss="linear")
    m = gs.Spherical(dim=2)
    bounded(m, g[cnt > 0], edges[-1])
    m.fit_variogram(c[cnt > 0], g[cnt > 0], nugget=True, weights=cnt[cnt > 0].astype(float), loss="linear")
    print("plane fit, unbounded: nugget", free.nugget, "sill", free.sill, "range", free.len_scale,
          "; bounded (tool):", res["NUGGET_USED"], res["SILL_USED"], res["RANGE_USED"], "MSDR", res["MSDR"])
    assert free.len_scale > 100 * edges[-1]
    assert res["RANGE_USED"] <= diagonal * (1 + 1e-9)
    assert res["RANGE_USED"] == pytest.approx(diagonal, rel=1e-3)       # at its bound
    assert res["RANGE_USED"] == pytest.approx(m.len_scale, rel=1e-9)
    assert res["SILL_USED"] == pytest.approx(m.sill, rel=1e-9)
    assert any("bound" in w and "range" in w and "DRIFTS" in w and "trend" in w for w in fb.warnings), fb.warnings


def test_bounds_are_not_hit_on_the_random_field(grf):
    """The GRF of known variogram (80 .. 600 samples): no bound is reached, so no warning (the fit is GSTools'
    unbounded one)."""
    x, y, z = grf["x"], grf["y"], grf["z"]
    emp = core.empirical_variogram(x, y, z, 15, 8000.0)
    m = core.fit_model(emp, "spherical")
    assert core.bounds_hit(m, core.fit_bounds(emp)) == []


# ------------------------------------------------------------------------------------------- extent and pixel size
def _geotransform(path):
    ds = gdal.Open(str(path))
    return ds.GetGeoTransform(), (ds.RasterXSize, ds.RasterYSize)


def test_extent_and_pixel_size_equal_the_reference_grid(grf, tmp_path):
    """EXTENT (the reference raster's extent, in its CRS) and PIXEL_SIZE 500 give the reference's grid: the same
    geotransform and, with the same drift raster, the same prediction and variance, bit for bit, except in the
    reference's nodata corner, which the extent run kriges."""
    inner = ((grf["x"] > X0 + PIXEL) & (grf["x"] < X0 + (SIZE - 1) * PIXEL) &
             (grf["y"] < Y0 - PIXEL) & (grf["y"] > Y0 - (SIZE - 1) * PIXEL))
    x, y = grf["x"][inner][:100], grf["y"][inner][:100]
    pts = write_points(tmp_path / "pts.gpkg", x, y, grf["z"][inner][:100] + grf["drift_fn"](x, y))
    common = {"POINTS": pts, "FIELD": "value", "DRIFTS": [grf["drift"]], "MODEL": 1, "OUTPUT_REPORT": None,
              "OUTPUT_CV": None, "OUTPUT_RESIDUALS": None}
    a = run(dict(common, REFERENCE=grf["ref"], OUTPUT=str(tmp_path / "a.tif"), OUTPUT_VARIANCE=str(tmp_path / "av.tif")))
    extent = f"{X0},{X0 + SIZE * PIXEL},{Y0 - SIZE * PIXEL},{Y0} [EPSG:{EPSG}]"
    b = run(dict(common, EXTENT=extent, PIXEL_SIZE=PIXEL, OUTPUT=str(tmp_path / "b.tif"),
                 OUTPUT_VARIANCE=str(tmp_path / "bv.tif")))
    assert _geotransform(b["OUTPUT"]) == _geotransform(grf["ref"])
    for key in ("OUTPUT", "OUTPUT_VARIANCE"):
        pa, pb = read(a[key]), read(b[key])
        corner = np.zeros_like(pa, bool)
        corner[:5, :5] = True
        assert np.isnan(pa[corner]).all() and np.isfinite(pb).all()
        np.testing.assert_array_equal(pa[~corner], pb[~corner])
    assert (a["RANGE_USED"], a["SILL_USED"], a["RMSE"]) == (b["RANGE_USED"], b["SILL_USED"], b["RMSE"])
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]          # the scratch grid is gone


def test_extent_in_wgs84_grid_in_utm(grf, tmp_path):
    """An EXTENT in EPSG:4326 with TARGET_CRS EPSG:32649: the grid is the extent's bounding box in UTM (GDAL's
    OSR TransformBounds, 21 points per edge, computed here) widened to multiples of 500 m; the prediction (with the
    drift raster warped onto it) equals the run on a reference raster of that grid written here."""
    utm, geo = osr.SpatialReference(), osr.SpatialReference()
    utm.ImportFromEPSG(EPSG)
    geo.ImportFromEPSG(4326)
    for s in (utm, geo):
        s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    to_geo = osr.CoordinateTransformation(utm, geo)
    lon0, lat0, lon1, lat1 = to_geo.TransformBounds(X0 + 3100.0, Y0 - 17300.0, X0 + 16900.0, Y0 - 2700.0, 21)
    xmin, ymin, xmax, ymax = osr.CoordinateTransformation(geo, utm).TransformBounds(lon0, lat0, lon1, lat1, 21)
    gx0, gy1 = np.floor(xmin / PIXEL) * PIXEL, np.ceil(ymax / PIXEL) * PIXEL
    cols, rows = int(np.ceil((xmax - gx0) / PIXEL)), int(np.ceil((gy1 - ymin) / PIXEL))
    ref = util.write_raster(tmp_path / "grid.tif", [np.ones((rows, cols), np.float32)], dtype=gdal.GDT_Float32,
                            epsg=EPSG, origin=(gx0, gy1), pixel=PIXEL)
    pts = small_points(grf, tmp_path, 150)
    common = {"POINTS": pts, "FIELD": "value", "DRIFTS": [grf["drift"]], "VARIOGRAM": 1, "NUGGET": 0.2,
              "SILL": 2.2, "RANGE": 3000.0, "OUTPUT_REPORT": None, "OUTPUT_CV": None, "OUTPUT_RESIDUALS": None}
    a = run(dict(common, REFERENCE=ref, OUTPUT=str(tmp_path / "a.tif"), OUTPUT_VARIANCE=str(tmp_path / "av.tif")))
    fb = recording_feedback()
    b = run(dict(common, EXTENT=f"{lon0},{lon1},{lat0},{lat1} [EPSG:4326]", TARGET_CRS=f"EPSG:{EPSG}",
                 PIXEL_SIZE=PIXEL, OUTPUT=str(tmp_path / "b.tif"), OUTPUT_VARIANCE=str(tmp_path / "bv.tif")),
            feedback=fb)
    print("WGS 84 extent", (lon0, lat0, lon1, lat1), "-> UTM grid", cols, "x", rows, "at", (gx0, gy1))
    assert _geotransform(b["OUTPUT"]) == _geotransform(ref)
    ds = gdal.Open(b["OUTPUT"])
    assert osr.SpatialReference(wkt=ds.GetProjection()).GetAuthorityCode(None) == str(EPSG)
    for key in ("OUTPUT", "OUTPUT_VARIANCE"):
        np.testing.assert_array_equal(read(a[key]), read(b[key]))
    assert np.isfinite(read(b["OUTPUT"])).all()


def test_grid_given_twice_or_not_at_all(grf, tmp_path):
    extent = f"{X0},{X0 + 5000},{Y0 - 5000},{Y0} [EPSG:{EPSG}]"
    _bad(grf, tmp_path, {"EXTENT": extent, "PIXEL_SIZE": 100.0}, "REFERENCE / EXTENT", "once")
    _bad(grf, tmp_path, {"REFERENCE": None}, "REFERENCE / EXTENT", "PIXEL_SIZE")
    _bad(grf, tmp_path, {"REFERENCE": None, "EXTENT": extent}, "PIXEL_SIZE")
    _bad(grf, tmp_path, {"REFERENCE": None, "EXTENT": "111,112,38,39 [EPSG:4326]", "PIXEL_SIZE": 0.01},
         "TARGET_CRS", "geographic")
    _bad(grf, tmp_path, {"REFERENCE": None, "EXTENT": extent, "PIXEL_SIZE": 0.1}, "EXTENT / PIXEL_SIZE", "pixels")
