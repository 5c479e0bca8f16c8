"""Relative contribution of driving factors by multiple linear regression on standardised data
(miningeco:mlrcontribution; zhundong seed section 1.5.4).

The seed standardises the dependent variable Y and the factors X_i, fits Z_Y = sum a_i X_i and defines the
relative contribution rate P_i = a_i / sum a_i x 100 %. With coefficients of both signs that ratio can be
negative or exceed 100 % (and is undefined when the a_i cancel out), so here P_i = |a_i| / sum |a_j| x 100 %:
the share of the summed absolute standardised effects (the sign of a_i, the direction of the effect, is
reported separately as beta). When every a_i is positive both definitions agree.

Pure numpy / scipy (no qgis, no file I/O).
"""
from __future__ import annotations

import numpy as np
from scipy import stats


def zscore(values, what: str) -> np.ndarray:
    """(v - mean) / sd with the sample standard deviation (ddof = 1); ValueError naming ``what`` if the
    values are constant (no variation to standardise)."""
    v = np.asarray(values, dtype=np.float64)
    sd = v.std(ddof=1) if v.size > 1 else 0.0
    if not sd > 0 or not np.isfinite(sd):
        raise ValueError(f"{what} is constant (standard deviation 0): it cannot be standardised; "
                         "leave it out.")
    return (v - v.mean()) / sd


def mlr_standardised(y, x, names, what: str = "") -> dict:
    """Multiple linear regression of z(y) on z(x_1) .. z(x_k) (columns of ``x``), no intercept (the
    z-scores have mean 0, so the intercept of the full model is exactly 0).

    beta = lstsq(Zx, Zy); residual variance s^2 = RSS / (n - k - 1) (the -1 for the means estimated by the
    standardisation: the same t statistics as the regression with an intercept on the raw data);
    SE(beta_i) = sqrt(s^2 [(Zx'Zx)^-1]_ii), t_i = beta_i / SE_i, two-sided p_i from Student's t with
    n - k - 1 degrees of freedom; R^2 = 1 - RSS / sum Zy^2; contribution_pct by ``contributions``.
    Rows with a NaN in y or any x are dropped first. ValueError (naming ``what``, e.g. the period) for
    fewer than k + 2 complete rows, a constant variable or perfectly collinear factors."""
    y = np.asarray(y, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    prefix = f"{what}: " if what else ""
    from .checks import MAX_ABS_VALUE
    with np.errstate(invalid="ignore"):
        for label, column in [("Y", y)] + [(f"factor '{names[i]}'", x[:, i]) for i in range(x.shape[1])]:
            huge = np.isfinite(column) & (np.abs(column) > MAX_ABS_VALUE)
            if huge.any():
                raise ValueError(f"{prefix}{label} has a value too large to compute with "
                                 f"({column[huge][0]:g} in sample {int(np.flatnonzero(huge)[0]) + 1}; at most "
                                 f"+-{MAX_ABS_VALUE:g}); fix or remove it.")
    ok = np.isfinite(y) & np.isfinite(x).all(axis=1)
    y, x = y[ok], x[ok]
    n, k = x.shape
    if n < k + 2:
        raise ValueError(f"{prefix}{n} complete samples for {k} factors: the regression needs at least "
                         f"k + 2 = {k + 2} (one degree of freedom for the residuals).")
    zy = zscore(y, f"{prefix}Y")
    zx = np.column_stack([zscore(x[:, i], f"{prefix}factor '{names[i]}'") for i in range(k)])
    beta, _res, rank, _sv = np.linalg.lstsq(zx, zy, rcond=None)
    if rank < k:
        raise ValueError(f"{prefix}the factors are perfectly collinear (rank {rank} < {k}); leave out a "
                         "factor that is a combination of others.")
    resid = zy - zx @ beta
    rss = float(resid @ resid)
    df = n - k - 1
    s2 = rss / df
    cov = s2 * np.linalg.inv(zx.T @ zx)
    se = np.sqrt(np.diag(cov))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(se > 0, beta / se, np.sign(beta) * np.inf)
    p = 2.0 * stats.t.sf(np.abs(t), df)
    r2 = 1.0 - rss / float(zy @ zy)
    return {"names": list(names), "beta": beta, "se": se, "t": t, "p": p, "r2": r2, "n": n, "df": df,
            "contribution_pct": contributions(beta)}


def contributions(beta) -> np.ndarray:
    """Relative contribution rate P_i = |beta_i| / sum_j |beta_j| x 100 (see the module docstring for why
    the absolute values: the seed's a_i / sum a_i); all zeros when every beta is 0."""
    b = np.abs(np.asarray(beta, dtype=np.float64))
    total = b.sum()
    return 100.0 * b / total if total > 0 else np.zeros_like(b)


def mlr_by_period(y, x, names, periods=None) -> list[tuple[str, dict]]:
    """``mlr_standardised`` per period (each distinct value of ``periods``, in sorted order; one fit
    labelled "all" without periods). Periods are standardised separately."""
    y = np.asarray(y, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    if periods is None:
        return [("all", mlr_standardised(y, x, names))]
    periods = np.asarray([str(p) for p in periods])
    out = []
    for period in sorted(set(periods.tolist()), key=_period_key):
        sel = periods == period
        out.append((period, mlr_standardised(y[sel], x[sel], names, what=f"period {period}")))
    return out


def _period_key(p: str):
    try:
        return (0, float(p), p)
    except ValueError:
        return (1, 0.0, p)
