"""core.contribution (zhundong 1.5.4): standardised MLR coefficients, p-values, R2 and contribution rates
against references computed here: np.linalg.lstsq on z-scores with the textbook SE formula, the same
regression on the raw data with an intercept (the slopes' t statistics and R2 must agree), scipy.stats.t,
and contributions by hand."""
import numpy as np
import pytest
from scipy import stats

from mining_eco_plugin.core import contribution as core


def sample(n=40, seed=1):
    rng = np.random.default_rng(seed)
    x = np.column_stack([rng.normal(10, 2, n), rng.normal(0, 5, n), rng.uniform(0, 1, n)])
    y = 3.0 * x[:, 0] - 0.8 * x[:, 1] + 0.5 * x[:, 2] + rng.normal(0, 3, n)
    return y, x


def test_coefficients_p_r2_equal_textbook_references():
    y, x = sample()
    res = core.mlr_standardised(y, x, ["a", "b", "c"])
    n, k = x.shape
    zy = (y - y.mean()) / y.std(ddof=1)
    zx = (x - x.mean(axis=0)) / x.std(axis=0, ddof=1)
    beta = np.linalg.lstsq(zx, zy, rcond=None)[0]
    resid = zy - zx @ beta
    s2 = resid @ resid / (n - k - 1)
    se = np.sqrt(s2 * np.diag(np.linalg.inv(zx.T @ zx)))          # textbook SE
    p = 2 * stats.t.sf(np.abs(beta / se), n - k - 1)
    np.testing.assert_allclose(res["beta"], beta, rtol=1e-12)
    np.testing.assert_allclose(res["se"], se, rtol=1e-12)
    np.testing.assert_allclose(res["p"], p, rtol=1e-9)
    assert res["r2"] == pytest.approx(1 - resid @ resid / (zy @ zy), rel=1e-12)
    # independent: OLS on the raw data with an intercept gives the same t of the slopes and the same R2,
    # and beta_i = b_i sd(x_i) / sd(y)
    design = np.column_stack([np.ones(n), x])
    b = np.linalg.lstsq(design, y, rcond=None)[0]
    r = y - design @ b
    se_raw = np.sqrt(r @ r / (n - k - 1) * np.diag(np.linalg.inv(design.T @ design)))
    np.testing.assert_allclose(res["t"], b[1:] / se_raw[1:], rtol=1e-9)
    np.testing.assert_allclose(res["beta"], b[1:] * x.std(axis=0, ddof=1) / y.std(ddof=1), rtol=1e-9)
    assert res["r2"] == pytest.approx(1 - r @ r / ((y - y.mean()) @ (y - y.mean())), rel=1e-9)
    assert res["df"] == n - k - 1 and res["n"] == n
    assert res["beta"][0] > 0.5 and res["beta"][1] < 0 and res["p"][0] < 1e-6   # the simulated effects


def test_contributions_by_hand_use_absolute_coefficients():
    # beta 0.6, -0.3, 0.1: |.| sum 1.0 -> 60, 30, 10 % (the seed's signed a_i / sum a_i would give 150, -75, 25)
    np.testing.assert_allclose(core.contributions([0.6, -0.3, 0.1]), [60.0, 30.0, 10.0])
    np.testing.assert_allclose(core.contributions([0.0, 0.0]), [0.0, 0.0])
    y, x = sample()
    res = core.mlr_standardised(y, x, ["a", "b", "c"])
    assert res["contribution_pct"].sum() == pytest.approx(100.0)
    np.testing.assert_allclose(res["contribution_pct"], 100 * np.abs(res["beta"]) / np.abs(res["beta"]).sum())


def test_by_period_fits_each_period_separately_and_drops_nan_rows():
    y1, x1 = sample(30, 2)
    y2, x2 = sample(25, 3)
    y = np.concatenate([y1, y2, [np.nan]])
    x = np.vstack([x1, x2, [[1, 2, 3]]])
    periods = ["2010"] * 30 + ["2005"] * 25 + ["2010"]
    out = core.mlr_by_period(y, x, ["a", "b", "c"], periods)
    assert [p for p, _ in out] == ["2005", "2010"]
    np.testing.assert_allclose(out[1][1]["beta"], core.mlr_standardised(y1, x1, "abc")["beta"], rtol=1e-12)
    np.testing.assert_allclose(out[0][1]["beta"], core.mlr_standardised(y2, x2, "abc")["beta"], rtol=1e-12)
    assert out[1][1]["n"] == 30
    assert core.mlr_by_period(y1, x1, "abc")[0][0] == "all"


def test_bad_inputs():
    y, x = sample(10)
    x_const = x.copy()
    x_const[:, 1] = 7.0
    with pytest.raises(ValueError, match="factor 'b' is constant"):
        core.mlr_standardised(y, x_const, ["a", "b", "c"])
    with pytest.raises(ValueError, match="Y is constant"):
        core.mlr_standardised(np.ones(10), x, ["a", "b", "c"])
    with pytest.raises(ValueError, match="period 1999: 4 complete samples for 3 factors"):
        core.mlr_standardised(y[:4], x[:4], ["a", "b", "c"], what="period 1999")
    core.mlr_standardised(y[:5], x[:5], ["a", "b", "c"])          # k + 2 = 5 is enough
    x_col = np.column_stack([x, x[:, 0] * 2 + x[:, 1]])
    with pytest.raises(ValueError, match="collinear"):
        core.mlr_standardised(y, x_col, ["a", "b", "c", "d"])
