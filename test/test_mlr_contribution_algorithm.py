"""miningeco:mlrcontribution through processing.run: coefficients, p, R2 and contributions per period equal
references computed here (np.linalg.lstsq on z-scores + textbook SE, scipy.stats.t, |beta| shares by hand);
bad inputs raise naming the input."""
import csv
import os

import numpy as np
import pytest
from scipy import stats

FACTORS = ["rain", "pop", "gdp"]


def write_table(tmp_path, n_per_period=(20, 15), const_gdp=False):
    """Samples of two periods in a CSV with a .csvt (so that OGR types the fields as numbers)."""
    rng = np.random.default_rng(7)
    rows = []
    for period, n in zip((2020, 2010), n_per_period):
        x = np.column_stack([rng.normal(200, 40, n), rng.normal(5e4, 1e4, n), rng.uniform(1, 9, n)])
        if const_gdp:
            x[:, 2] = 3.0
        y = 0.02 * x[:, 0] - 1e-4 * x[:, 1] + (0.5 if period == 2010 else 2.0) * x[:, 2] + rng.normal(0, 1, n)
        rows += [(period, yi, *xi) for yi, xi in zip(y, x)]
    path = tmp_path / "samples.csv"
    with open(path, "w") as fh:
        fh.write("year,area," + ",".join(FACTORS) + "\n")
        for r in rows:
            fh.write(",".join(f"{v:.10g}" for v in r) + "\n")
    (tmp_path / "samples.csvt").write_text('"Integer","Real","Real","Real","Real"\n')
    return str(path), np.array(rows, dtype=float)


def reference(rows, period):
    """z-scores, lstsq, textbook SE and t-test p, R2, |beta| shares."""
    sel = rows[rows[:, 0] == period]
    y, x = sel[:, 1], sel[:, 2:]
    n, k = x.shape
    zy = (y - y.mean()) / y.std(ddof=1)
    zx = (x - x.mean(axis=0)) / x.std(axis=0, ddof=1)
    beta = np.linalg.lstsq(zx, zy, rcond=None)[0]
    res = zy - zx @ beta
    se = np.sqrt(res @ res / (n - k - 1) * np.diag(np.linalg.inv(zx.T @ zx)))
    p = 2 * stats.t.sf(np.abs(beta / se), n - k - 1)
    r2 = 1 - res @ res / (zy @ zy)
    return beta, p, r2, 100 * np.abs(beta) / np.abs(beta).sum()


def run(tmp_path, path, **extra):
    import processing
    params = {"INPUT": path, "Y_FIELD": "area", "X_FIELDS": FACTORS, "PERIOD_FIELD": "year",
              "OUTPUT_TABLE": str(tmp_path / "out.csv"), "OUTPUT_HEATMAP": str(tmp_path / "heat.png")}
    params.update(extra)
    return processing.run("miningeco:mlrcontribution", params), params


def test_mlr_contribution_per_period_equals_references(provider, tmp_path):
    path, rows = write_table(tmp_path)
    res, params = run(tmp_path, path)
    with open(params["OUTPUT_TABLE"]) as fh:
        out = list(csv.DictReader(fh))
    assert [(r["period"], r["factor"]) for r in out] == [(p, f) for p in ("2010", "2020") for f in FACTORS]
    for period in (2010, 2020):
        beta, p, r2, pct = reference(rows, period)
        got = [r for r in out if r["period"] == str(period)]
        np.testing.assert_allclose([float(r["beta"]) for r in got], beta, rtol=1e-8)
        np.testing.assert_allclose([float(r["p"]) for r in got], p, rtol=1e-6, atol=1e-300)
        np.testing.assert_allclose([float(r["contribution_pct"]) for r in got], pct, rtol=1e-8)
        assert float(got[0]["r2"]) == pytest.approx(r2, rel=1e-8)
        assert int(got[0]["n"]) == (rows[:, 0] == period).sum()
    assert os.path.getsize(res["OUTPUT_HEATMAP"]) > 5000
    # without a period: one regression "all" over the 35 rows
    res2, params2 = run(tmp_path, path, PERIOD_FIELD=None, OUTPUT_TABLE=str(tmp_path / "all.csv"))
    with open(params2["OUTPUT_TABLE"]) as fh:
        out2 = list(csv.DictReader(fh))
    assert {r["period"] for r in out2} == {"all"} and int(out2[0]["n"]) == 35


@pytest.mark.parametrize("case,match", [
    ("const", "factor 'gdp' is constant"),
    ("few", "period 2010: 4 complete samples for 3 factors"),
    ("missing", "X_FIELDS"),
])
def test_bad_inputs_name_the_input(provider, tmp_path, case, match):
    from qgis.core import QgsProcessingException
    path, _ = write_table(tmp_path, n_per_period=(20, 4) if case == "few" else (20, 15), const_gdp=case == "const")
    extra = {"X_FIELDS": ["rain", "nope"]} if case == "missing" else {}
    with pytest.raises(QgsProcessingException, match=match):
        run(tmp_path, path, **extra)
    assert not os.path.exists(tmp_path / "heat.png")


def test_qgis_process_run_equals_processing_run(provider, qgis_process, tmp_path):
    """The same table through qgis_process (fields repeated as keys) gives the processing.run rows."""
    path, _ = write_table(tmp_path)
    _, params = run(tmp_path, path)
    out = tmp_path / "qp.csv"
    qgis_process("run", "miningeco:mlrcontribution", "--", f"INPUT={path}", "Y_FIELD=area",
                 *[f"X_FIELDS={f}" for f in FACTORS], "PERIOD_FIELD=year", f"OUTPUT_TABLE={out}",
                 f"OUTPUT_HEATMAP={tmp_path / 'qp.png'}")
    with open(params["OUTPUT_TABLE"]) as fh:
        expect = list(csv.DictReader(fh))
    with open(out) as fh:
        got = list(csv.DictReader(fh))
    assert [(r["period"], r["factor"]) for r in got] == [(r["period"], r["factor"]) for r in expect]
    for key in ("beta", "p", "r2", "contribution_pct"):
        np.testing.assert_allclose([float(r[key]) for r in got], [float(r[key]) for r in expect], rtol=1e-9)
    assert os.path.getsize(tmp_path / "qp.png") > 5000
