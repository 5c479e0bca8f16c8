"""Kriging of point samples with GSTools (Müller et al. 2022): variogram, checks, leave-one-out, block prediction.

The library does the geostatistics: the empirical variogram (``gstools.vario_estimate``), the model fit
(``CovModel.fit_variogram``, here plain weighted least squares: ``loss="linear"``, the weight of a bin is its
number of pairs, as gstat's ``fit.method = 1``), and ordinary / external-drift kriging (``gstools.krige.Ordinary``,
``gstools.krige.ExtDrift``) in the classical form: ``exact=True`` (the nugget is micro-scale variance, the data are
reproduced at their locations), ``pseudo_inv=False`` (a real inverse: a singular system is refused here before
the library would average it away).

This module adds what the library lacks: duplicate locations merged, the clear refusals (too few points, a
constant field, a singular system, a drift that is constant or collinear at the points), leave-one-out
cross-validation in closed form (Dubrule 1983: with Q the inverse of the kriging matrix and b = [z, 0],
the leave-one-out error of point i is (Q b)_i / Q_ii and its kriging variance 1 / Q_ii), and the block function
of the raster executor. No QGIS; GSTools is imported only when a function needs it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.distance import cdist

#: at least this many distinct sample locations (a variogram of fewer points has too few pairs per lag)
MIN_POINTS = 10
#: global kriging: one (n + drifts + 1)^2 system inverted once (float64, about 72 MB at 3000 points) and
#: O(n^2) work per pixel for the variance; more points need a local neighbourhood, which GSTools does not offer
MAX_POINTS = 3000
#: right-hand sides computed at once: (n + k) x CHUNK_VALUES float64 (8 MB), whatever the block size
CHUNK_VALUES = 1_000_000
#: a covariance matrix whose smallest / largest eigenvalue falls below this is singular for our purpose
RCOND_MIN = 1e-12
#: a drift matrix (columns scaled to unit length) whose smallest / largest singular value falls below this
DRIFT_RCOND_MIN = 1e-8
#: upper bounds of the automatic fit. Nugget <= max(gamma*) and partial sill <= 10 max(gamma*) as PyKrige's
#: automatic fit (pykrige/core.py, _calculate_variogram_model); length scale <= RANGE_LAGS x the largest lag: over
#: lags 0 .. L a spherical model of length scale a >= 3 L is within 4 % of a straight line (1.5 h - 0.5 h^3 with
#: h = r / a <= 1/3), so the bins fix only its slope 1.5 sill / a, not the sill and the range apart (the other
#: models likewise lose their curvature as a grows), and an unbounded fit runs off to millions of metres (a trend).
#: With the default cut-off (a third of the samples' diagonal) the bound on the length scale is the diagonal.
RANGE_LAGS = 3.0
SILL_GAMMAS = 10.0
#: a fitted parameter within this relative distance of its upper bound has hit it
BOUND_HIT_RTOL = 1e-3
MODELS = ("spherical", "exponential", "gaussian", "matern")
MODEL_CLASSES = {"spherical": "Spherical", "exponential": "Exponential", "gaussian": "Gaussian",
                 "matern": "Matern"}
#: the correlation functions as GSTools defines them (h = r / range); the manual prints the same
FORMULAS = {
    "spherical": "1 - 1.5 h + 0.5 h^3 for h < 1, else 0",
    "exponential": "exp(-h)",
    "gaussian": "exp(-(pi / 4) h^2)",
    "matern": "2^(1 - nu) / Gamma(nu) (sqrt(2 nu) h)^nu K_nu(sqrt(2 nu) h)",
}


class KrigingError(ValueError):
    """A user-facing refusal; the text names the input and the fix."""


def library():
    """The gstools module; ImportError when it is not installed."""
    import gstools
    return gstools


def library_version() -> str:
    try:
        return str(library().__version__)
    except ImportError:
        return ""


# ----------------------------------------------------------------------------------------------- points
@dataclass
class Samples:
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    drifts: np.ndarray | None = None     # k x n drift values at the points (None: ordinary kriging)
    merged_groups: int = 0               # locations that held several points
    merged_points: int = 0               # points in those groups


def merge_duplicates(x, y, z, drifts=None, tolerance: float = 0.0) -> Samples:
    """Points at one location (coordinates equal after rounding to ``tolerance``; exact equality when 0) become
    one point with the mean value (and the mean drift values). Order: first occurrence."""
    x, y, z = (np.asarray(a, dtype=np.float64) for a in (x, y, z))
    if tolerance > 0:
        kx, ky = np.round(x / tolerance), np.round(y / tolerance)
    else:
        kx, ky = x, y
    keys = np.stack([kx, ky], axis=1)
    _uniq, first, inverse, counts = np.unique(keys, axis=0, return_index=True, return_inverse=True,
                                              return_counts=True)
    inverse = inverse.ravel()
    if counts.max(initial=1) == 1:
        return Samples(x, y, z, None if drifts is None else np.asarray(drifts, np.float64))
    order = np.argsort(first)                       # groups in the order of their first point
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    group = rank[inverse]
    n = order.size
    cnt = np.bincount(group, minlength=n).astype(np.float64)

    def mean(v):
        return np.bincount(group, weights=v, minlength=n) / cnt

    d = None
    if drifts is not None:
        d = np.array([mean(row) for row in np.asarray(drifts, np.float64)])
    many = counts > 1
    return Samples(x[first[order]], y[first[order]], mean(z), d, int(many.sum()), int(counts[many].sum()))


def check_samples(s: Samples, field: str = "FIELD", drift_names=()):
    """Refuse what kriging cannot use, naming the input and the fix."""
    n = s.z.size
    if n < MIN_POINTS:
        raise KrigingError(f"POINTS: only {n} distinct sample location(s) with a value of {field}; kriging needs at "
                           f"least {MIN_POINTS} (a variogram needs pairs at several distances). Add samples.")
    if n > MAX_POINTS:
        raise KrigingError(f"POINTS: {n} sample locations; global kriging is limited to {MAX_POINTS} points (one "
                           f"system of {MAX_POINTS} equations, inverted once, and O(n^2) work per pixel). Thin the "
                           "samples (e.g. Vector > Research Tools > Random selection) or krige parts of the area "
                           "separately.")
    if np.ptp(s.z) == 0 or not np.std(s.z) > 1e-12 * max(1.0, float(np.abs(s.z).max())):
        raise KrigingError(f"FIELD: {field} has the same value ({s.z[0]:g}) at every sample: there is nothing to "
                           "interpolate (its variogram is zero). Choose another field.")
    if np.ptp(s.x) == 0 and np.ptp(s.y) == 0:
        raise KrigingError("POINTS: every sample is at one location.")
    if s.drifts is not None:
        for name, row in zip(drift_names or [f"drift {i + 1}" for i in range(len(s.drifts))], s.drifts):
            if np.ptp(row) <= 1e-12 * max(1.0, float(np.abs(row).max())):
                raise KrigingError(f"DRIFTS: {name} has the same value ({row[0]:g}) at every sample, so it cannot "
                                   "be told apart from the mean. Leave it out (ordinary kriging) or choose another "
                                   "drift raster.")


# ----------------------------------------------------------------------------------------------- variogram
@dataclass
class Empirical:
    centers: np.ndarray
    gamma: np.ndarray
    counts: np.ndarray
    max_lag: float


def default_max_lag(x, y) -> float:
    """gstat's default cutoff: one third of the diagonal of the samples' bounding box."""
    return float(np.hypot(np.ptp(x), np.ptp(y)) / 3.0)


def ols_residuals(z, drifts):
    """Residuals of z on [1, drifts] by least squares: the variogram of universal kriging is that of the
    residuals (gstat's variogram(z ~ drift))."""
    if drifts is None:
        return z
    f = np.column_stack([np.ones_like(z)] + list(drifts))
    coef, *_ = np.linalg.lstsq(f, z, rcond=None)
    return z - f @ coef


def empirical_variogram(x, y, values, n_bins: int, max_lag: float) -> Empirical:
    """Matheron's estimator in ``n_bins`` equal bins from 0 to ``max_lag`` (gstools.vario_estimate)."""
    gs = library()
    edges = np.linspace(0.0, max_lag, n_bins + 1)
    centers, gamma, counts = gs.vario_estimate((x, y), values, edges, return_counts=True)
    return Empirical(np.asarray(centers, np.float64), np.asarray(gamma, np.float64),
                     np.asarray(counts, np.int64), float(max_lag))


def make_model(kind: str, nugget=0.0, sill=1.0, length=1.0, nu=1.0):
    """A 2-D GSTools model; ``sill`` is the total sill (nugget + partial sill), ``length`` the length scale."""
    gs = library()
    cls = getattr(gs, MODEL_CLASSES[kind])
    extra = {"nu": nu} if kind == "matern" else {}
    return cls(dim=2, var=max(sill - nugget, 0.0), len_scale=length, nugget=nugget, **extra)


def fit_bounds(emp: Empirical) -> dict:
    """Upper bounds of the automatic fit (see RANGE_LAGS, SILL_GAMMAS), as ``CovModel.set_arg_bounds`` takes them."""
    gmax = float(emp.gamma[emp.counts > 0].max(initial=0.0))
    gmax = gmax if gmax > 0 else 1.0
    return {"var": [0.0, SILL_GAMMAS * gmax, "cc"], "len_scale": [0.0, RANGE_LAGS * emp.max_lag, "oc"],
            "nugget": [0.0, gmax, "cc"]}


def bounds_hit(model, bounds) -> list:
    """The names of the fitted parameters (var, len_scale, nugget) that ended at their upper bound."""
    return [name for name, (_low, top, _kind) in bounds.items()
            if float(getattr(model, name)) >= top * (1.0 - BOUND_HIT_RTOL)]


def fit_arguments(emp: Empirical, kind: str):
    """The arguments of ``CovModel.fit_variogram`` used by the tool (and by a test calling the library); the bounds
    are set on the model before (``fit_bounds``)."""
    keep = emp.counts > 0
    para = {"nu": False} if kind == "matern" else {}
    return (emp.centers[keep], emp.gamma[keep]), dict(nugget=True, weights=emp.counts[keep].astype(np.float64),
                                                       loss="linear", **para)


def fit_model(emp: Empirical, kind: str, nu=1.0):
    """Weighted least squares fit (weights: pairs per bin) of nugget, partial sill and length scale within
    ``fit_bounds``."""
    keep = emp.counts > 0
    if keep.sum() < 3:
        raise KrigingError(f"N_BINS / MAX_LAG: only {int(keep.sum())} lag bin(s) hold pairs of points; a variogram "
                           "fit needs at least 3. Raise MAX_LAG or the number of bins.")
    model = make_model(kind, 0.0, 1.0, 1.0, nu)
    model.set_arg_bounds(check_args=False, **fit_bounds(emp))
    args, kwargs = fit_arguments(emp, kind)
    try:
        model.fit_variogram(*args, **kwargs)
    except (RuntimeError, ValueError) as err:
        raise KrigingError(f"VARIOGRAM: the {kind} model could not be fitted to the empirical variogram ({err}). "
                           "Try another model, other bins, or give nugget, sill and range.") from None
    return model


def model_parameters(model) -> dict:
    return {"nugget": float(model.nugget), "sill": float(model.sill), "partial_sill": float(model.var),
            "range": float(model.len_scale), "nu": float(getattr(model, "nu", np.nan))}


def practical_range(model) -> float:
    """Distance at which the structured part reaches 95 % of the partial sill (the range itself for spherical)."""
    if model.var <= 0:
        return 0.0
    r = np.linspace(0.0, 20.0 * model.len_scale, 20001)
    cor = model.correlation(r)
    hit = np.flatnonzero(cor <= 0.05)
    return float(r[hit[0]]) if hit.size else float("inf")


# ----------------------------------------------------------------------------------------------- the system
def kriging_matrix(model, x, y, drifts=None) -> np.ndarray:
    """The kriging matrix as GSTools builds it (exact=True, cond_err = nugget): covariances with the sill on the
    diagonal, bordered by ones (the unbiasedness condition) and the drift values at the points."""
    n = x.size
    k = 1 + (0 if drifts is None else len(drifts))
    mat = np.zeros((n + k, n + k))
    pos = np.column_stack([x, y])
    mat[:n, :n] = model.covariance(cdist(pos, pos))
    mat[np.diag_indices(n)] += model.nugget
    mat[n, :n] = mat[:n, n] = 1.0
    if drifts is not None:
        mat[n + 1:, :n] = drifts
        mat[:n, n + 1:] = np.asarray(drifts).T
    return mat


def check_system(model, s: Samples, drift_names=()):
    """Refuse a singular kriging system before solving it: a covariance matrix that is not positive definite to
    working precision (points too close for a model without nugget, e.g. gaussian) or drifts that are constant or
    collinear at the points. Both checks are scale-free."""
    n = s.z.size
    mat = kriging_matrix(model, s.x, s.y, s.drifts)
    eig = np.linalg.eigvalsh(mat[:n, :n])
    if not eig[-1] > 0 or eig[0] <= RCOND_MIN * eig[-1]:
        raise KrigingError(
            f"VARIOGRAM: the kriging system is singular (smallest / largest eigenvalue of the covariance matrix "
            f"{max(eig[0], 0.0) / eig[-1] if eig[-1] > 0 else 0.0:.1e}): samples are too close together for a "
            f"{type(model).__name__} model with a nugget of {model.nugget:g} and a range of {model.len_scale:g}. "
            "Add a nugget (e.g. 1 % of the sill), choose the spherical or exponential model, or merge close samples.")
    if s.drifts is not None:
        f = np.column_stack([np.ones(n)] + list(s.drifts))
        f = f / np.linalg.norm(f, axis=0)
        sv = np.linalg.svd(f, compute_uv=False)
        if sv[-1] <= DRIFT_RCOND_MIN * sv[0]:
            names = ", ".join(drift_names) or "the drifts"
            raise KrigingError(f"DRIFTS: the drift values at the samples are collinear ({names} and the constant "
                               "mean cannot be told apart), so the kriging system is singular. Leave out one of "
                               "the drift rasters.")
    return mat


def kriger(model, s: Samples):
    """The GSTools kriging object: ordinary kriging, or external drift kriging when ``s.drifts`` is given."""
    gs = library()
    opts = dict(exact=True, pseudo_inv=False)
    if s.drifts is None:
        return gs.krige.Ordinary(model, (s.x, s.y), s.z, **opts)
    return gs.krige.ExtDrift(model, (s.x, s.y), s.z, ext_drift=s.drifts, **opts)


def predict(krig, x, y, drifts=None):
    """Prediction and kriging variance at points (memory bounded: chunks of CHUNK_VALUES right-hand values)."""
    x = np.asarray(x, np.float64)
    if x.size == 0:
        return np.empty(0), np.empty(0)
    chunk = max(1, CHUNK_VALUES // (krig.krige_size))
    kwargs = {} if drifts is None else {"ext_drift": np.asarray(drifts, np.float64)}
    field, var = krig((x, np.asarray(y, np.float64)), mesh_type="unstructured", return_var=True, store=False,
                      chunk_size=chunk, **kwargs)
    return np.asarray(field, np.float64), np.asarray(var, np.float64)


# ----------------------------------------------------------------------------------------------- cross-validation
@dataclass
class LeaveOneOut:
    predicted: np.ndarray
    variance: np.ndarray
    residual: np.ndarray        # observed - predicted
    me: float
    rmse: float
    msdr: float                 # mean of residual^2 / variance (close to 1 when the variogram fits)


def leave_one_out(model, s: Samples, mat=None) -> LeaveOneOut:
    """Every point predicted from all the others (Dubrule 1983, closed form from the inverse kriging matrix)."""
    n = s.z.size
    mat = kriging_matrix(model, s.x, s.y, s.drifts) if mat is None else mat
    q = np.linalg.inv(mat)
    b = np.zeros(mat.shape[0])
    b[:n] = s.z
    qd = np.diag(q)[:n]
    residual = (q @ b)[:n] / qd
    variance = 1.0 / qd
    return cv_statistics(s.z, s.z - residual, variance)


def cv_statistics(observed, predicted, variance) -> LeaveOneOut:
    residual = observed - predicted
    with np.errstate(divide="ignore", invalid="ignore"):
        sdr = residual ** 2 / variance
    return LeaveOneOut(predicted, variance, residual, float(residual.mean()), float(np.sqrt((residual ** 2).mean())),
                       float(np.mean(sdr[np.isfinite(sdr)])) if np.isfinite(sdr).any() else float("nan"))


# ----------------------------------------------------------------------------------------------- raster blocks
def pixel_centres(geotransform, window):
    """Map coordinates of the pixel centres of ``window`` (rows x cols each)."""
    g = geotransform
    cols = window.xoff + np.arange(window.xsize) + 0.5
    rows = window.yoff + np.arange(window.ysize) + 0.5
    c, r = np.meshgrid(cols, rows)
    return g[0] + g[1] * c + g[2] * r, g[3] + g[4] * c + g[5] * r


def krige_block(data, ctx, krig=None, drift_keys=(), mask_key=None):
    """Block function of the raster executor: prediction and variance at the centre of every pixel that is not
    nodata in the reference (``mask_key``) nor in a drift raster; NaN elsewhere."""
    x, y = pixel_centres(ctx.grid.geotransform, ctx.window)
    valid = np.ones(ctx.window.shape, dtype=bool)
    if mask_key is not None:
        valid &= np.isfinite(data[mask_key])
    for key in drift_keys:
        valid &= np.isfinite(data[key])
    pred = np.full(ctx.window.shape, np.nan, dtype=np.float32)
    var = np.full(ctx.window.shape, np.nan, dtype=np.float32)
    if valid.any():
        drifts = np.array([data[k][valid] for k in drift_keys], np.float64) if drift_keys else None
        p, v = predict(krig, x[valid], y[valid], drifts)
        pred[valid], var[valid] = p, v
    return {"prediction": pred, "variance": var}, None
