"""miningeco:trainmodel's spatial validation (issue 15, part 4) through processing.run.

Synthetic autocorrelated field: a Gaussian random field (GSTools, Gaussian covariance, length scale 1.5 km,
seeded) over 20 km x 20 km, sampled at clustered points (8 clusters of about 500 m); target = field + noise;
predictors = the sample's x and y (km) and an independent smooth field. A random forest on coordinates
interpolates between the neighbours of a cluster: a random split scores well, while blocks, clusters or a buffer
make it predict away from its training samples, where it cannot. References: the fold / buffer splits recomputed
in the test by hand (numpy floor of the coordinates, scikit-learn KMeans, pyproj.Geod distances) and models
fitted on them with scikit-learn directly (RandomForestRegressor(100, random_state=seed), r2_score).
"""
from __future__ import annotations

import csv
import os

import numpy as np
import pytest
from osgeo import ogr, osr
from sklearn.ensemble import RandomForestRegressor
from sklearn.metrics import r2_score

from mining_eco_plugin.core import models as core
from mining_eco_plugin.core import spatialcv

ogr.UseExceptions()
FIELDS = ["xkm", "ykm", "cov"]
SEED = 42


def field_samples(n=160, seed=20):
    import gstools as gs
    rng = np.random.default_rng(seed)
    centres = rng.uniform(2000, 18000, (8, 2))
    xy = centres[rng.integers(0, 8, n)] + rng.normal(0, 500, (n, 2))
    z = gs.SRF(gs.Gaussian(dim=2, var=1.0, len_scale=1500.0), seed=seed)((xy[:, 0], xy[:, 1]))
    cov = gs.SRF(gs.Gaussian(dim=2, var=1.0, len_scale=4000.0), seed=seed + 1)((xy[:, 0], xy[:, 1]))
    y = z + rng.normal(0, 0.1, n)
    X = np.column_stack([xy / 1000.0, cov])
    return xy, X, y


def write_points(path, xy, X, y, epsg=32650, scale=1.0):
    """Point layer (GeoPackage) in ``epsg``; geometry = xy / scale (scale = metres per CRS unit)."""
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    lyr = ds.CreateLayer("samples", srs, ogr.wkbPoint)
    for name in ["salt"] + FIELDS:
        lyr.CreateField(ogr.FieldDefn(name, ogr.OFTReal))
    for i in range(len(y)):
        f = ogr.Feature(lyr.GetLayerDefn())
        f.SetField("salt", float(y[i]))
        for j, name in enumerate(FIELDS):
            f.SetField(name, float(X[i, j]))
        g = ogr.Geometry(ogr.wkbPoint)
        g.AddPoint_2D(float(xy[i, 0] / scale), float(xy[i, 1] / scale))
        f.SetGeometry(g)
        lyr.CreateFeature(f)
    ds = None
    return f"{path}|layername=samples"


def run(src, folder, **params):
    import processing
    os.makedirs(folder, exist_ok=True)
    out = {"OUTPUT_MODEL": os.path.join(folder, "m.model"), "OUTPUT_TABLE": os.path.join(folder, "metrics.csv"),
           "OUTPUT_REPORT": os.path.join(folder, "r.html"), "OUTPUT_SCATTER": os.path.join(folder, "s.png")}
    res = processing.run("miningeco:trainmodel", {"INPUT": src, "TARGET": "salt", "FIELDS": FIELDS, "MODEL": 0,
                                                  "SEED": SEED, **params, **out})
    with open(res["OUTPUT_TABLE"], newline="") as fh:
        rows = {r["set"]: r for r in csv.DictReader(fh)}
    return res, rows, open(out["OUTPUT_REPORT"], encoding="utf-8").read()


def hand_cv_r2(X, y, pairs):
    """R2 of out-of-fold predictions of scikit-learn random forests fitted on each split's training samples."""
    oof = np.full(len(y), np.nan)
    for tr, te in pairs:
        oof[te] = RandomForestRegressor(100, random_state=SEED).fit(X[tr], y[tr]).predict(X[te])
    assert not np.isnan(oof).any()
    return r2_score(y, oof)


def check_random_row(rows, X, y, folds=5):
    ref = core.train("rf", X, y, validation="kfold", folds=folds, seed=SEED)   # = VALIDATION 2
    assert float(rows["random cv"]["r2"]) == pytest.approx(ref.metric("cv"), rel=1e-9)


def test_block_cv_lower_than_random_and_report_says_so(provider, tmp_path):
    xy, X, y = field_samples()
    src = write_points(tmp_path / "p.gpkg", xy, X, y)
    res, rows, html = run(src, tmp_path / "o", VALIDATION=3, BLOCK_SIZE=4000.0, FOLDS=5)
    assert list(rows) == ["calibration", "block cv", "random cv"]
    # the folds by hand: 4 km blocks from the smallest x and y; no block split across folds
    cells = np.floor((xy - xy.min(axis=0)) / 4000.0)
    labels = spatialcv.block_folds(xy, 4000.0, 5, SEED)[0]
    for cell in np.unique(cells, axis=0):
        assert len(set(labels[(cells == cell).all(axis=1)])) == 1
    pairs = [(np.flatnonzero(labels != j), np.flatnonzero(labels == j)) for j in range(5)]
    spatial, random_ = float(rows["block cv"]["r2"]), float(rows["random cv"]["r2"])
    assert spatial == pytest.approx(hand_cv_r2(X, y, pairs), abs=1e-9)
    check_random_row(rows, X, y)
    assert res["VALIDATION_R2"] == pytest.approx(spatial, rel=1e-9)
    print(f"synthetic field, RF: random 5-fold R2 {random_:.3f}, block 5-fold R2 {spatial:.3f}")
    assert random_ > 0.7 and spatial < random_ - 0.3
    assert "Random against spatial validation" in html and "Optimism of a random split" in html
    assert f"{random_ - spatial:.4f} higher than the spatial" in html


def test_cluster_cv_equals_kmeans_folds(provider, tmp_path):
    from sklearn.cluster import KMeans
    xy, X, y = field_samples()
    src = write_points(tmp_path / "p.gpkg", xy, X, y)
    res, rows, html = run(src, tmp_path / "o", VALIDATION=4, FOLDS=4)
    labels = KMeans(n_clusters=4, n_init=10, random_state=SEED).fit(xy).labels_
    pairs = [(np.flatnonzero(labels != j), np.flatnonzero(labels == j)) for j in range(4)]
    spatial, random_ = float(rows["cluster cv"]["r2"]), float(rows["random cv"]["r2"])
    assert spatial == pytest.approx(hand_cv_r2(X, y, pairs), abs=1e-9)
    check_random_row(rows, X, y, folds=4)
    print(f"synthetic field, RF: random 4-fold R2 {random_:.3f}, k-means 4-fold R2 {spatial:.3f}")
    assert spatial < random_ - 0.3 and "Optimism of a random split" in html


def test_buffered_loo_projected_and_in_feet(provider, tmp_path):
    """Buffered LOO on metres and on the same points in US survey feet (EPSG:2264 coordinates, scaled): the
    same splits, the same R2; no training sample within the buffer of its validation sample."""
    xy, X, y = field_samples(100)
    buffer = 1000.0
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    pairs = [(np.flatnonzero(d[i] > buffer), np.array([i])) for i in range(len(y))]
    ref = hand_cv_r2(X, y, pairs)
    r2 = []
    for name, epsg, scale in (("m", 32650, 1.0), ("ft", 2264, 1200.0 / 3937.0)):
        src = write_points(tmp_path / f"{name}.gpkg", xy, X, y, epsg, scale)
        res, rows, html = run(src, tmp_path / name, VALIDATION=5, BUFFER=buffer)
        assert list(rows) == ["calibration", "buffered loo", "random cv"] and int(rows["buffered loo"]["n"]) == 100
        r2.append(float(rows["buffered loo"]["r2"]))
        assert r2[-1] == pytest.approx(ref, abs=1e-9) and res["VALIDATION_R2"] == pytest.approx(r2[-1], rel=1e-9)
    assert "US survey foot" in html or "Foot_US" in html or "foot" in html.lower()
    print(f"synthetic field, RF: random 5-fold R2 {float(rows['random cv']['r2']):.3f}, buffered LOO (1 km) R2 "
          f"{r2[0]:.3f}")
    assert r2[0] < float(rows["random cv"]["r2"]) - 0.3


def _to_lonlat(xy, epsg=32650):
    src, dst = osr.SpatialReference(), osr.SpatialReference()
    src.ImportFromEPSG(epsg)
    dst.ImportFromEPSG(4326)
    for s in (src, dst):
        s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    pts = osr.CoordinateTransformation(src, dst).TransformPoints([(float(a), float(b)) for a, b in xy])
    return np.array([(p[0], p[1]) for p in pts])


def test_geographic_points_geodesic_buffer_and_blocks(provider, tmp_path):
    """Points in EPSG:4326 (the synthetic points of UTM 50N, transformed): the buffered LOO uses pyproj.Geod's
    geodesic distances on WGS 84 (reference splits built from them); blocks and clusters run in the local
    azimuthal equidistant projection and score below the random split."""
    import pyproj
    xy, X, y = field_samples(100)
    ll = _to_lonlat(xy + np.array([400000.0, 4400000.0]))
    src = write_points(tmp_path / "ll.gpkg", ll, X, y, epsg=4326)
    n = len(y)
    geod = pyproj.Geod(ellps="WGS84")
    s = geod.inv(np.repeat(ll[:, 0], n), np.repeat(ll[:, 1], n), np.tile(ll[:, 0], n), np.tile(ll[:, 1], n))[2]
    s = s.reshape(n, n)
    buffer = 1000.0
    pairs = [(np.flatnonzero(s[i] > buffer), np.array([i])) for i in range(n)]
    for tr, te in pairs:
        assert s[te[0], tr].min() > buffer
    res, rows, html = run(src, tmp_path / "b", VALIDATION=5, BUFFER=buffer)
    assert float(rows["buffered loo"]["r2"]) == pytest.approx(hand_cv_r2(X, y, pairs), abs=1e-9)
    assert "geodesic distances" in html and "EPSG:4326" in html
    res, rows, html = run(src, tmp_path / "k", VALIDATION=3, BLOCK_SIZE=4000.0)
    assert "azimuthal equidistant" in html
    assert float(rows["block cv"]["r2"]) < float(rows["random cv"]["r2"]) - 0.3


def test_qgis_process_cluster_cv(qgis_process, tmp_path):
    """Headless: qgis_process with VALIDATION=4 (k-means folds), PLSR; the table equals core.train on the
    folds of scikit-learn's KMeans (same seed) and on a random 4-fold cross-validation."""
    import copy
    import site
    from sklearn.cluster import KMeans
    xy, X, y = field_samples(80)
    src = write_points(tmp_path / "p.gpkg", xy, X, y)
    qp = copy.copy(qgis_process)
    qp.env = dict(qgis_process.env, PYTHONPATH=site.getsitepackages()[0])
    table = tmp_path / "m.csv"
    proc = qp("run", "miningeco:trainmodel", "--", f"INPUT={src}", "TARGET=salt", "SELECTED_FIELDS=xkm,ykm,cov",
              "MODEL=4", "VALIDATION=4", "FOLDS=4", f"SEED={SEED}", f"OUTPUT_MODEL={tmp_path / 'q.model'}",
              f"OUTPUT_TABLE={table}")
    assert "Traceback" not in proc.stderr
    with open(table, newline="") as fh:
        rows = {r["set"]: r for r in csv.DictReader(fh)}
    labels = KMeans(n_clusters=4, n_init=10, random_state=SEED).fit(xy).labels_
    splits = spatialcv.Splits([(np.flatnonzero(labels != j), np.flatnonzero(labels == j)) for j in range(4)])
    ref = core.train("plsr", X, y, validation="kfold", folds=splits, seed=SEED)
    assert float(rows["cluster cv"]["r2"]) == pytest.approx(ref.metric("cv"), rel=1e-9)
    rnd = core.train("plsr", X, y, validation="kfold", folds=4, seed=SEED)
    assert float(rows["random cv"]["r2"]) == pytest.approx(rnd.metric("cv"), rel=1e-9)


def test_compare_models_on_the_spatial_folds(provider, tmp_path):
    """COMPARE_MODELS with VALIDATION=3: every model on the same block folds; r2_v is each model's block cv R2
    (core.train on the same splits) and best marks the highest."""
    xy, X, y = field_samples(80)
    src = write_points(tmp_path / "p.gpkg", xy, X, y)
    res, rows, _html = run(src, tmp_path / "o", VALIDATION=3, BLOCK_SIZE=4000.0, FOLDS=4, MODEL=4,
                           COMPARE_MODELS=True, OUTPUT_COMPARISON=str(tmp_path / "o" / "cmp.csv"))
    with open(res["OUTPUT_COMPARISON"], newline="") as fh:
        comp = list(csv.DictReader(fh))
    splits = spatialcv.folds_to_splits(spatialcv.block_folds(xy, 4000.0, 4, SEED)[0])
    by_label = {r["model"]: r for r in comp}
    for kind, label in (("plsr", "PLSR"), ("rf", "Random forest")):
        ref = core.train(kind, X, y, validation="kfold", folds=splits, seed=SEED)
        assert float(by_label[label]["r2_v"]) == pytest.approx(ref.metric("cv"), rel=1e-9)
    r2v = [float(r["r2_v"]) for r in comp]
    best = [r for r in comp if r["best"].lower() in ("1", "true")]
    assert len(best) == 1 and float(best[0]["r2_v"]) == max(r2v)
    assert float(by_label["PLSR"]["r2_v"]) == pytest.approx(float(rows["block cv"]["r2"]), rel=1e-12)
