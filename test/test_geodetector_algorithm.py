"""miningeco:geodetector end to end on the ningdong coal-mine data (seed Tables 10-13: RSEI, static
factors, temperature, precipitation of 22 mines, 2019-2024), by period; compared with the core and
with py-geodetector 0.2.1 on the same discretised data (not with Table 14: its q values cannot be
reproduced from the published tables)."""
import csv
import os

import numpy as np
import pytest
from qgis.core import QgsVectorLayer

from mining_eco_plugin.core import geodetector as gd
from paths import ROOT

YEARS = ["2019", "2020", "2021", "2022", "2023", "2024"]
# name: (RSEI x6 | Table 10), (production, elevation, slope, aspect | Table 11),
#       (temperature x6 | Table 12), (precipitation x6 | Table 13)
MINES = """\
Lingxin|0.277 0.249 0.410 0.259 0.411 0.275|390 1324.379 3.624 182.211|21.227 21.095 20.864 21.422 21.768 21.927|305.987 252.430 267.449 245.972 310.783 213.756
Shicao Village|0.444 0.308 0.410 0.293 0.486 0.314|600 1401.325 3.213 157.147|21.227 21.095 20.864 21.422 21.768 21.927|305.987 252.430 267.449 245.972 310.783 213.756
Yin Xing No. 2|0.439 0.353 0.509 0.379 0.544 0.571|220 1335.301 2.308 167.537|21.474 21.360 21.135 21.635 22.009 22.166|309.805 308.617 289.496 285.235 316.772 259.292
Maiduo Mountain|0.395 0.337 0.319 0.270 0.461 0.381|800 1437.247 3.210 155.797|20.954 20.831 20.605 21.135 21.479 21.624|319.656 305.967 296.076 286.712 325.953 257.475
Song Xinzhuang|0.414 0.418 0.530 0.352 0.580 0.413|120 1418.064 2.500 186.257|20.899 20.754 20.519 21.069 21.407 21.539|369.703 321.723 339.543 327.273 367.106 290.660
Shuangma No. 1|0.417 0.339 0.393 0.292 0.544 0.465|400 1374.000 3.131 184.354|20.899 20.754 20.519 21.069 21.407 21.539|369.703 321.723 339.543 327.273 367.106 290.660
Hongliu|0.409 0.333 0.359 0.274 0.552 0.384|800 1426.646 3.469 171.474|20.954 20.831 20.605 21.135 21.479 21.624|319.656 305.967 296.076 286.712 325.953 257.475
Yangchangwan|0.346 0.294 0.413 0.302 0.403 0.288|1200 1400.696 2.868 173.383|21.227 21.095 20.864 21.422 21.768 21.927|305.987 252.430 267.449 245.972 310.783 213.756
Zaoquan|0.273 0.28 0.310 0.299 0.377 0.259|500 1357.708 3.285 191.215|20.954 20.831 20.605 21.135 21.479 21.624|319.656 305.967 296.076 286.712 325.953 257.475
Sirenjiazhuang|0.321 0.21 0.332 0.294 0.375 0.245|240 1307.117 4.538 164.704|21.784 21.659 21.438 21.986 22.287 22.476|290.997 215.706 237.198 213.656 294.292 180.770
Jinjiaqu|0.453 0.483 0.455 0.393 0.558 0.470|400 1450.258 3.044 195.070|20.899 20.754 20.519 21.069 21.407 21.539|369.703 321.723 339.543 327.273 367.106 290.660
Maliantai|0.207 0.299 0.378 0.331 0.468 0.326|360 1250.939 2.923 181.623|21.784 21.659 21.438 21.986 22.287 22.476|290.997 215.706 237.198 213.656 294.292 180.770
Xinqiao|0.431 0.436 0.556 0.485 0.622 0.503|240 1385.474 2.285 155.618|20.606 20.437 20.201 20.767 21.056 21.187|406.405 302.819 356.137 341.721 394.160 294.430
Huian|0.511 0.383 0.491 0.359 0.530 0.468|150 1410.438 2.384 175.236|20.606 20.437 20.201 20.767 21.056 21.187|406.405 302.819 356.137 341.721 394.160 294.430
Yong'an|0.350 0.351 0.452 0.399 0.389 0.359|120 1369.074 2.827 190.394|21.146 20.988 20.776 21.298 21.617 21.767|362.083 291.004 316.802 305.687 354.719 267.739
Qingshuiying|0.276 0.288 0.318 0.290 0.456 0.378|1000 1366.480 3.127 167.162|21.227 21.095 20.864 21.422 21.768 21.927|305.987 252.430 267.449 245.972 310.783 213.756
Meihuajing|0.352 0.308 0.366 0.291 0.514 0.324|1200 1363.546 3.066 184.798|21.227 21.095 20.864 21.422 21.768 21.927|305.987 252.430 267.449 245.972 310.783 213.756
Jinfeng|0.438 0.413 0.506 0.362 0.517 0.507|400 1422.189 3.014 184.437|20.899 20.754 20.519 21.069 21.407 21.539|369.703 321.723 339.543 327.273 367.106 290.660
Wei'er|0.415 0.562 0.639 0.563 0.571 0.549|150 1423.622 1.946 170.967|20.309 20.129 19.915 20.467 20.736 20.880|396.360 277.219 331.424 316.447 381.289 268.668
Yin Xing No. 1|0.413 0.333 0.382 0.318 0.414 0.412|400 1354.250 2.425 167.794|21.474 21.360 21.135 21.635 22.009 22.166|309.805 308.617 289.496 285.235 316.772 259.292
Yue'erwan|0.414 0.357 0.509 0.382 0.480 0.545|180 1357.772 2.260 162.098|20.899 20.754 20.519 21.069 21.407 21.539|369.703 321.723 339.543 327.273 367.106 290.660
Shuangma No. 2|0.431 0.403 0.419 0.334 0.485 0.520|400 1342.211 2.816 179.299|20.954 20.831 20.605 21.135 21.479 21.624|319.656 305.967 296.076 286.712 325.953 257.475
"""
FACTORS = ["X1_temp", "X2_prec", "X3_prod", "X4_elev", "X5_slope", "X6_aspect"]


def ningdong_rows():
    rows = []
    for line in MINES.splitlines():
        name, rsei, static, temp, prec = [p.split() if i else p for i, p in enumerate(line.split("|"))]
        for t, year in enumerate(YEARS):
            rows.append({"mine": name, "year": year, "RSEI": float(rsei[t]), "X1_temp": float(temp[t]),
                         "X2_prec": float(prec[t]), "X3_prod": int(static[0]), "X4_elev": float(static[1]),
                         "X5_slope": float(static[2]), "X6_aspect": float(static[3])})
    return rows


@pytest.fixture
def table(tmp_path):
    path = tmp_path / "ningdong.csv"
    rows = ningdong_rows()
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    # OGR reads the column types from the .csvt sidecar (production is a class code here: Integer)
    (tmp_path / "ningdong.csvt").write_text('"String","String","Real","Real","Real","Integer","Real","Real","Real"\n')
    return path, rows


def _features(path):
    layer = QgsVectorLayer(str(path), "t", "ogr")
    assert layer.isValid(), path
    return [dict(zip(layer.fields().names(), f.attributes())) for f in layer.getFeatures()]


def test_by_period_equals_core_and_py_geodetector(provider, table, tmp_path):
    import processing
    pd = pytest.importorskip("pandas")
    GeoDetector = pytest.importorskip("geodetector").GeoDetector
    path, rows = table
    out = {k: str(tmp_path / f"{k}.gpkg") for k in ("f", "i", "r", "e")}
    res = processing.run("miningeco:geodetector", {
        "INPUT": str(path), "Y_FIELD": "RSEI", "X_FIELDS": FACTORS,
        "PERIOD_FIELD": "year", "METHOD": 2, "K": 4,
        "OUTPUT_FACTOR": out["f"], "OUTPUT_INTERACTION": out["i"], "OUTPUT_RISK": out["r"],
        "OUTPUT_ECOLOGICAL": out["e"], "OUTPUT_HEATMAP": str(tmp_path / "heat.png"),
        "OUTPUT_REPORT": str(tmp_path / "report.html")})
    factor = _features(res["OUTPUT_FACTOR"])
    inter = _features(res["OUTPUT_INTERACTION"])
    assert len(factor) == 6 * 6 + 6 and len(inter) == 6 * 15
    assert (tmp_path / "heat.png").stat().st_size > 1000
    html = (tmp_path / "report.html").read_text()
    assert "Interaction detector" in html and "METHOD natural, K 4, ALPHA 0.05" in html
    qs = {}
    for year in YEARS:
        sub = [r for r in rows if r["year"] == year]
        y = np.array([r["RSEI"] for r in sub])
        strata = {}
        for f in FACTORS:
            x = np.array([r[f] for r in sub])
            # natural breaks, 4 classes, within the year
            strata[f] = gd.discretize(x, "natural", 4)[0]
        ref = GeoDetector(pd.DataFrame({"y": y, **strata}), "y", FACTORS)
        fd = ref.factor_detector()
        for f in FACTORS:
            row = next(r for r in factor if r["period"] == year and r["factor"] == f)
            assert row["q"] == pytest.approx(fd.loc["q statistic", f], abs=1e-9), (year, f)
            assert row["p"] == pytest.approx(fd.loc["p value", f], abs=1e-9), (year, f)
            qs.setdefault(f, []).append(row["q"])
        row = next(r for r in inter if r["period"] == year and r["factor1"] == "X1_temp"
                   and r["factor2"] == "X2_prec")
        assert row["q12"] == pytest.approx(ref.interaction_detector("X1_temp", "X2_prec"), abs=1e-9)
    means = {r["factor"]: (r["q"], r["rank"]) for r in factor if r["period"] == "mean"}
    order = sorted(FACTORS, key=lambda f: -np.mean(qs[f]))
    for f in FACTORS:
        assert means[f][0] == pytest.approx(np.mean(qs[f]), abs=1e-12)
        assert means[f][1] == order.index(f) + 1


def test_bad_input_names_the_field(provider, table, tmp_path):
    import processing
    from qgis.core import QgsProcessingException
    path, _ = table
    with pytest.raises(QgsProcessingException, match="X3_prod"):
        # production used as categorical: 13 distinct values for 22 mines a year, more than N/2
        processing.run("miningeco:geodetector", {
            "INPUT": str(path), "Y_FIELD": "RSEI", "X_FIELDS": ["X3_prod"], "CATEGORICAL_FIELDS": ["X3_prod"],
            "PERIOD_FIELD": "year", "OUTPUT_FACTOR": str(tmp_path / "f.csv")})


def test_qgis_process_run(qgis_process, table, tmp_path):
    path, _ = table
    out = qgis_process("help", "miningeco:geodetector").stdout
    for word in ("Y_FIELD", "X_FIELDS", "CATEGORICAL_FIELDS", "PERIOD_FIELD", "METHOD", "p-value",
                 "docs/geodetector.html"):
        assert word in out, word
    with open(os.path.join(ROOT, "mining_eco_plugin", "docs", "geodetector.html"), encoding="utf-8") as f:
        assert "noncentral F" in f.read()          # the formulas are in the manual page
    dest = tmp_path / "factor.gpkg"
    qgis_process("run", "miningeco:geodetector", "--", f"INPUT={path}", "Y_FIELD=RSEI", "X_FIELDS=X1_temp",
                 "X_FIELDS=X2_prec", "METHOD=5", f"OUTPUT_FACTOR={dest}")
    feats = _features(dest)
    assert [f["factor"] for f in feats] == ["X1_temp", "X2_prec"]
    y = np.array([r["RSEI"] for r in ningdong_rows()])
    x = np.array([r["X2_prec"] for r in ningdong_rows()])
    best = gd.optimal_discretization(y, x)
    assert feats[1]["q"] == pytest.approx(best["q"], abs=1e-9)


def test_categorical_field_used_as_is(provider, table, tmp_path):
    import processing
    path, rows = table
    res = processing.run("miningeco:geodetector", {
        "INPUT": str(path), "Y_FIELD": "RSEI", "X_FIELDS": ["X3_prod", "X5_slope"], "CATEGORICAL_FIELDS": ["X3_prod"],
        "METHOD": 0, "K": 3, "OUTPUT_FACTOR": str(tmp_path / "f.gpkg"), "OUTPUT_RISK": str(tmp_path / "r.gpkg")})
    factor = {r["factor"]: r for r in _features(res["OUTPUT_FACTOR"])}
    y = np.array([r["RSEI"] for r in rows])
    prod = np.array([r["X3_prod"] for r in rows])
    # 13 production classes of the 132 mine-years, as they are (Table 11)
    assert factor["X3_prod"]["method"] == "categorical" and factor["X3_prod"]["n_classes"] == 13
    assert factor["X3_prod"]["q"] == pytest.approx(gd.factor_detector(y, prod).q, abs=1e-12)
    slope = np.array([r["X5_slope"] for r in rows])
    assert factor["X5_slope"]["q"] == pytest.approx(
        gd.factor_detector(y, gd.discretize(slope, "equal", 3)[0]).q, abs=1e-12)
    risk = _features(res["OUTPUT_RISK"])
    assert len(risk) == 13 * 12 // 2 + 3


# ------------------------------------------------------------------------------ table mode: bad / missing values
def memory_table(rows, fields=(("y", "double"), ("x", "double"), ("c", "integer"))):
    """A geometry-less memory layer; None is a NULL attribute, float('nan') a NaN double."""
    from qgis.core import QgsFeature
    layer = QgsVectorLayer("None?" + "&".join(f"field={n}:{t}" for n, t in fields), "t", "memory")
    feats = []
    for row in rows:
        f = QgsFeature(layer.fields())
        f.setAttributes(list(row))
        feats.append(f)
    assert layer.dataProvider().addFeatures(feats)
    return layer


def sample_rows(n=60, seed=5):
    rng = np.random.default_rng(seed)
    c = rng.integers(1, 4, n)
    return [[float(c[i] + rng.normal(0, 0.5)), float(rng.uniform(0, 10)), int(c[i])] for i in range(n)]


def test_null_and_nan_rows_are_left_out_and_counted(provider, tmp_path):
    """Rows with a NULL or NaN in Y or an X (c, x) are dropped (DROPPED_COUNT); q of c on the rest equals
    py-geodetector 0.2.1 on the complete rows (c used as it is)."""
    import processing
    pd = pytest.importorskip("pandas")
    GeoDetector = pytest.importorskip("geodetector").GeoDetector
    rows = sample_rows()
    rows[3][0] = None
    rows[7][0] = float("nan")
    rows[11][1] = float("nan")
    rows[19][2] = None
    res = processing.run("miningeco:geodetector", {
        "INPUT": memory_table(rows), "Y_FIELD": "y", "X_FIELDS": ["c", "x"], "CATEGORICAL_FIELDS": ["c"],
        "OUTPUT_FACTOR": str(tmp_path / "f.gpkg")})
    complete = [r for i, r in enumerate(rows) if i not in (3, 7, 11, 19)]
    assert (res["SAMPLE_COUNT"], res["DROPPED_COUNT"]) == (56, 4)
    ref = GeoDetector(pd.DataFrame({"y": [r[0] for r in complete], "c": [r[2] for r in complete]}), "y", ["c"])
    row = _features(res["OUTPUT_FACTOR"])[0]
    assert row["q"] == pytest.approx(ref.factor_detector().loc["q statistic", "c"], abs=1e-9)


@pytest.mark.parametrize("case", ["one stratum", "constant continuous", "more strata than N/2", "constant Y",
                                  "all NULL or NaN", "no Y field"])
def test_table_mode_bad_inputs_fail_cleanly(provider, tmp_path, case):
    """Each bad table input: a QgsProcessingException naming the parameter and field, no output file."""
    import processing

    from failures import assert_fails_cleanly
    rows = sample_rows()
    params = {"Y_FIELD": "y", "X_FIELDS": ["c"], "CATEGORICAL_FIELDS": ["c"]}
    if case == "one stratum":
        rows = [r[:2] + [7] for r in rows]
        words = ["X_FIELDS c", "single stratum"]
    elif case == "constant continuous":
        rows = [r[:1] + [2.5] + r[2:] for r in rows]
        params.update(X_FIELDS=["x"], CATEGORICAL_FIELDS=[])
        words = ["X_FIELDS x", "constant"]
    elif case == "more strata than N/2":
        params.update(X_FIELDS=["x"], CATEGORICAL_FIELDS=["x"])   # 60 distinct values for 60 rows
        words = ["X_FIELDS x", "more than N/2"]
    elif case == "constant Y":
        rows = [[0.4] + r[1:] for r in rows]
        words = ["Y_FIELD y", "constant"]
    elif case == "all NULL or NaN":
        rows = [[None if i % 2 else float("nan")] + r[1:] for i, r in enumerate(rows)]
        words = ["INPUT", "none of its 60 rows"]
    else:
        params.pop("Y_FIELD")
        words = ["Y_FIELD", "choose"]
    out = tmp_path / "out"
    out.mkdir()
    params.update(INPUT=memory_table(rows), OUTPUT_FACTOR=str(out / "f.gpkg"), OUTPUT_REPORT=str(out / "r.html"))
    assert_fails_cleanly(lambda: processing.run("miningeco:geodetector", params), out, *words)


def test_x_and_y_of_different_lengths():
    """Table mode cannot give them (Y and X are fields of the same rows; the raster equivalent, an X raster on
    another grid, is in test_geodetector_raster.py); the core refuses them naming the factor."""
    y = np.arange(10.0)
    with pytest.raises(ValueError, match="X_FIELDS x"):
        gd.factor_detector(y, np.arange(9) % 3, name="X_FIELDS x")
    with pytest.raises(ValueError, match="X_FIELDS x"):
        gd.optimal_discretization(y, np.arange(9.0), name="X_FIELDS x")


def test_optimal_without_a_significant_result_reports_the_best_q(provider, tmp_path):
    """A factor of pure noise (x uniform, independent of y) with METHOD optimal: no discretisation is
    significant; the run does not stop, the factor row says so, p >= ALPHA, and q is at least the q that
    py-geodetector 0.2.1 gives for equal-interval and quantile classes (k 3..7, cut with numpy here): the
    optimal search keeps the highest q of all its candidates."""
    import processing
    pd = pytest.importorskip("pandas")
    GeoDetector = pytest.importorskip("geodetector").GeoDetector
    rows = sample_rows()
    y, x = np.array([r[0] for r in rows]), np.array([r[1] for r in rows])
    res = processing.run("miningeco:geodetector", {
        "INPUT": memory_table(rows), "Y_FIELD": "y", "X_FIELDS": ["x", "c"], "CATEGORICAL_FIELDS": ["c"],
        "METHOD": 5, "OUTPUT_FACTOR": str(tmp_path / "f.gpkg")})
    row = next(r for r in _features(res["OUTPUT_FACTOR"]) if r["factor"] == "x")
    assert "none significant" in row["method"] and row["p"] >= 0.05
    qs = []
    for k in range(3, 8):
        equal = np.minimum(((x - x.min()) / (x.max() - x.min()) * k).astype(int), k - 1)
        quant = np.searchsorted(np.quantile(x, np.linspace(0, 1, k + 1))[1:-1], x, side="left")
        for codes in (equal, quant):
            ref = GeoDetector(pd.DataFrame({"y": y, "x": codes}), "y", ["x"])
            qs.append(ref.factor_detector().loc["q statistic", "x"])
    assert row["q"] >= max(qs) - 1e-12


def test_breaks_and_interval_strata_of_a_continuous_factor(provider, tmp_path):
    """Equal-interval classes of x (K 4): the factor table lists the edges min + i (max - min) / 4 (numpy here);
    the risk table names the strata by their ranges '[e0, e1]', '(e1, e2]', ... and its means equal numpy means
    of y over the x in those ranges; periods 9 and 10 come out in numeric order."""
    import processing
    rng = np.random.default_rng(3)
    rows = []
    for period in (10, 9):
        x = rng.uniform(0, 8, 60)
        rows += [[float(xi + rng.normal(0, 0.3)), float(xi), period] for xi in x]
    res = processing.run("miningeco:geodetector", {
        "INPUT": memory_table(rows, (("y", "double"), ("x", "double"), ("year", "integer"))), "Y_FIELD": "y",
        "X_FIELDS": ["x"], "PERIOD_FIELD": "year", "METHOD": 0, "K": 4,
        "OUTPUT_FACTOR": str(tmp_path / "f.gpkg"), "OUTPUT_RISK": str(tmp_path / "r.gpkg")})
    factor = _features(res["OUTPUT_FACTOR"])
    assert [r["period"] for r in factor] == ["9", "10", "mean"]
    risk = _features(res["OUTPUT_RISK"])
    for period in (9, 10):
        y = np.array([r[0] for r in rows if r[2] == period])
        x = np.array([r[1] for r in rows if r[2] == period])
        edges = np.linspace(x.min(), x.max(), 5)
        row = next(r for r in factor if r["period"] == str(period))
        np.testing.assert_allclose([float(v) for v in row["breaks"].split(",")], edges, rtol=1e-5)
        got = [r for r in risk if r["period"] == str(period)]
        assert len(got) == 6
        names = [("[" if i == 0 else "(") + f"{edges[i]:.6g}, {edges[i + 1]:.6g}]" for i in range(4)]
        for r in got:
            for label, mean in ((r["stratum_a"], r["mean_a"]), (r["stratum_b"], r["mean_b"])):
                i = names.index(label)
                inside = (x >= edges[0]) & (x <= edges[1]) if i == 0 else (x > edges[i]) & (x <= edges[i + 1])
                assert mean == pytest.approx(y[inside].mean(), rel=1e-6), (period, label)
