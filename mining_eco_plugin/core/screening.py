"""Variable screening for salinity inversion: PLS VIP, grey relational grade, Pearson r.

zhundong (sections 1.5.2 and 2.1) screens spectral indices against measured soil salinity with two
methods used SEPARATELY: PLS variable importance in projection (VIP > 1: 8 indices kept) and grey
relational analysis (GRA >= 0.75: 9 indices kept); it then trains models on each set ("VIP-RF",
"GRA-RF", ...) and the VIP set wins. The seed therefore neither intersects nor unites the two sets;
``screen_variables`` offers the four rules (vip, gra, both, either) and reports both memberships.
coastal (section 2, Figure 4) screens by Pearson correlation with EC; r is reported as well.

The seeds give no formula for either method; the formulas below follow the original literature
(each function's docstring). Pure numpy / scikit-learn: no file, no QGIS.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

RULES = ("vip", "gra", "both", "either")
NORMALISATIONS = ("minmax", "mean", "initial")
MIN_SAMPLES = 10


class ScreeningError(ValueError):
    """Bad screening input; ``param`` names the algorithm parameter the message is about."""

    def __init__(self, message: str, param: str = ""):
        super().__init__(message)
        self.param = param


# ----------------------------------------------------------------------------------------- checks
def check_samples(X, y, names, target_name="target"):
    """Float64 copies of ``X`` (n x p) and ``y`` (n) after the checks every screening needs.

    Raises ScreeningError naming the variable: fewer than MIN_SAMPLES samples, a NaN / inf value
    (count given), a constant target, a constant candidate (it has no variance: VIP and GRA are
    undefined for it).
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).ravel()
    if X.ndim != 2 or X.shape[0] != y.size or X.shape[1] != len(names):
        raise ScreeningError(f"X must be n x p ({len(names)} names) with one target value per row.")
    n, p = X.shape
    if p == 0:
        raise ScreeningError("no candidate variable was given.", "FIELDS")
    if n < MIN_SAMPLES:
        raise ScreeningError(f"only {n} sample(s); at least {MIN_SAMPLES} are needed to screen variables.",
                             "INPUT")
    bad = _unusable(y)
    if bad.any():
        raise ScreeningError(f"the target '{target_name}' has {int(bad.sum())} missing / non-finite / too large "
                             f"value(s) (sample {int(np.flatnonzero(bad)[0]) + 1}).", "TARGET_FIELD")
    for j, name in enumerate(names):
        bad = _unusable(X[:, j])
        if bad.any():
            raise ScreeningError(f"the candidate '{name}' has {int(bad.sum())} missing / non-finite / too large "
                                 f"value(s) (sample {int(np.flatnonzero(bad)[0]) + 1}).", "FIELDS")
    if np.ptp(y) == 0:
        raise ScreeningError(f"the target '{target_name}' is constant ({y[0]:g} in all {n} samples): "
                             "nothing can be screened against it.", "TARGET_FIELD")
    for j, name in enumerate(names):
        if np.ptp(X[:, j]) == 0:
            raise ScreeningError(f"the candidate '{name}' is constant ({X[0, j]:g} in all {n} samples); "
                                 "remove it from the candidates.", "FIELDS")
    return X, y


def _unusable(values):
    """NaN, infinite, or beyond checks.MAX_ABS_VALUE (1e300 gave "illegal value in 4th argument of gesdd")."""
    from .checks import MAX_ABS_VALUE
    with np.errstate(invalid="ignore"):
        return ~np.isfinite(values) | (np.abs(values) > MAX_ABS_VALUE)


# ---------------------------------------------------------------------------------------------- PLS
def _pls(n_components):
    from sklearn.cross_decomposition import PLSRegression
    # scale=True: X and y standardised (mean 0, sd with ddof = 1) inside the fit, also inside every CV fold
    return PLSRegression(n_components=n_components, scale=True)


def vip_from_pls(weights, scores, y_loadings):
    """VIP of each of the p variables from a fitted PLS model.

    VIP_j = sqrt( p * sum_a SS_a * (w_ja / ||w_a||)^2 / sum_a SS_a ),  SS_a = q_a^2 * t_a' t_a

    with w_a the X weights (p), t_a the X scores (n) and q_a the y loading of component a
    (a = 1..A). Wold, Johansson & Cocchi 1993 ("PLS - partial least squares projections to latent
    structures", in 3D QSAR in Drug Design) and Chong & Jun 2005 (Chemometr. Intell. Lab. Syst. 78,
    103-112, eq. 1). sum_j VIP_j^2 = p, so the mean VIP^2 is 1: hence the usual threshold VIP > 1
    (zhundong 2.1).

    ``weights`` p x A (sklearn ``x_weights_``), ``scores`` n x A (``x_scores_``), ``y_loadings``
    A or 1 x A (``y_loadings_``).
    """
    w = np.asarray(weights, dtype=np.float64)
    t = np.asarray(scores, dtype=np.float64)
    q = np.asarray(y_loadings, dtype=np.float64).reshape(-1)
    p = w.shape[0]
    ss = q ** 2 * np.einsum("na,na->a", t, t)
    wn = w / np.linalg.norm(w, axis=0)
    return np.sqrt(p * (wn ** 2 @ ss) / ss.sum())


def pls_vip(X, y, n_components):
    """(VIP per column of X, fitted PLSRegression) for a PLS of standardised y on standardised X."""
    model = _pls(n_components).fit(X, y)
    return vip_from_pls(model.x_weights_, model.x_scores_, model.y_loadings_), model


def max_pls_components(n, p, folds, limit=10):
    """Largest number of components a k-fold CV can try: <= p, <= limit and < the smallest training fold."""
    smallest_train = n - int(np.ceil(n / folds))
    return int(max(1, min(p, limit, smallest_train - 1)))


def cv_pls_rmse(X, y, max_components, folds=5, seed=42):
    """Cross-validated RMSE (units of y) of PLS with 1..max_components components.

    k-fold CV (scikit-learn KFold, shuffled with ``seed``): every sample is predicted once by the
    model fitted on the other folds; RMSE = sqrt(mean((y - y_cv)^2)).
    """
    from sklearn.model_selection import KFold, cross_val_predict

    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).ravel()
    if folds < 2 or folds > y.size:
        raise ScreeningError(f"{folds} folds for {y.size} samples: use between 2 and {y.size} folds.", "CV_FOLDS")
    kfold = KFold(n_splits=folds, shuffle=True, random_state=seed)
    rmse = []
    for a in range(1, max_components + 1):
        pred = cross_val_predict(_pls(a), X, y, cv=kfold).ravel()
        rmse.append(float(np.sqrt(np.mean((y - pred) ** 2))))
    return np.array(rmse)


# ---------------------------------------------------------------------------------------------- GRA
def grey_normalise(values, method="minmax"):
    """Dimensionless sequences (columns of ``values``) for grey relational analysis.

    * "minmax" (range): (x - min) / (max - min), in [0, 1]. The default: the seed does not say
      which normalisation it used; spectral indices can be negative or have a mean near 0 (NDVI,
      S2, GOSI), which breaks the ratio forms below, and samples in space have no natural
      "first" element.
    * "mean" (average value): x / mean(x), Deng's averaging operator for positive data.
    * "initial" (initial value): x / x(1), Deng's initialing operator, meant for time series.
    """
    v = np.asarray(values, dtype=np.float64)
    if method == "minmax":
        lo, hi = v.min(axis=0), v.max(axis=0)
        return (v - lo) / (hi - lo)
    if method == "mean":
        ref = v.mean(axis=0)
        label = "mean"
    elif method == "initial":
        ref = v[0]
        label = "first value"
    else:
        raise ScreeningError(f"unknown normalisation {method!r}; use one of {', '.join(NORMALISATIONS)}.",
                             "NORMALISATION")
    if np.any(ref == 0):
        raise ScreeningError(f"a {label} of 0 cannot divide a sequence (normalisation '{method}'); "
                             "use min-max normalisation.", "NORMALISATION")
    return v / ref


def grey_relational_grade(X, y, rho=0.5, normalisation="minmax"):
    """Deng's grey relational grade of each column of X (comparison sequences) to y (reference).

    After normalising y and every column (``grey_normalise``):
      delta_i(k) = |y'(k) - x_i'(k)|,  delta_min = min_i min_k delta_i(k),  delta_max = max_i max_k delta_i(k)
      xi_i(k)    = (delta_min + rho * delta_max) / (delta_i(k) + rho * delta_max)     (relational coefficient)
      r_i        = (1/n) sum_k xi_i(k)                                                (relational grade)
    with the resolution coefficient rho = 0.5 (Deng Julong 1989, "Introduction to grey system theory",
    J. Grey System 1, 1-24). delta_min / delta_max are taken over all candidates together (Deng's
    two-level min / max), so a grade depends on which other candidates are screened with it.
    GRA measures similarity of shape: an index that falls as salinity rises gets a LOW grade.
    """
    if not 0 < rho <= 1:
        raise ScreeningError(f"the resolution coefficient must be in (0, 1], got {rho:g}.", "RHO")
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).ravel()
    ref = grey_normalise(y[:, None], normalisation)
    delta = np.abs(grey_normalise(X, normalisation) - ref)
    dmin, dmax = delta.min(), delta.max()
    if dmax == 0:
        return np.ones(X.shape[1])
    xi = (dmin + rho * dmax) / (delta + rho * dmax)
    return xi.mean(axis=0)


# ---------------------------------------------------------------------------------------- screening
@dataclass
class ScreeningResult:
    names: list
    vip: np.ndarray
    gra: np.ndarray
    pearson_r: np.ndarray
    vip_pass: np.ndarray
    gra_pass: np.ndarray
    selected: np.ndarray
    n_components: int
    cv_rmse: np.ndarray = field(default_factory=lambda: np.array([]))   # RMSE for 1..k components if chosen by CV
    rule: str = "vip"

    def selected_names(self, which="selected"):
        mask = {"selected": self.selected, "vip": self.vip_pass, "gra": self.gra_pass}[which]
        return [n for n, s in zip(self.names, mask) if s]

    def rows(self):
        """One dict per variable (table / report order = input order)."""
        return [{"variable": n, "vip": float(v), "gra": float(g), "pearson_r": float(r),
                 "vip_pass": bool(a), "gra_pass": bool(b), "selected": bool(s)}
                for n, v, g, r, a, b, s in zip(self.names, self.vip, self.gra, self.pearson_r,
                                               self.vip_pass, self.gra_pass, self.selected)]


def select(vip_pass, gra_pass, rule="vip"):
    """Combine the two tests: "vip" (zhundong's VIP set), "gra" (its GRA set), "both" (and), "either" (or)."""
    if rule == "vip":
        return np.asarray(vip_pass, bool).copy()
    if rule == "gra":
        return np.asarray(gra_pass, bool).copy()
    if rule == "both":
        return np.logical_and(vip_pass, gra_pass)
    if rule == "either":
        return np.logical_or(vip_pass, gra_pass)
    raise ScreeningError(f"unknown rule {rule!r}; use one of {', '.join(RULES)}.", "RULE")


def screen_variables(X, y, names, target_name="target", n_components=None, max_components=10, folds=5, seed=42,
                     vip_threshold=1.0, gra_threshold=0.75, rho=0.5, normalisation="minmax", rule="vip"):
    """VIP (PLS with ``n_components``, or the number in 1..max_components with the lowest k-fold CV
    RMSE), grey relational grade and Pearson r of every candidate; selection VIP > vip_threshold,
    GRA >= gra_threshold (zhundong 2.1), combined by ``rule``."""
    names = [str(n) for n in names]
    X, y = check_samples(X, y, names, target_name)
    n, p = X.shape
    cv_rmse = np.array([])
    if n_components:
        limit = min(p, n - 1)
        if not 1 <= n_components <= limit:
            raise ScreeningError(f"{n_components} PLS components requested, but {p} candidate(s) and {n} samples "
                                 f"allow 1 to {limit}.", "N_COMPONENTS")
        chosen = int(n_components)
    else:
        if folds < 2 or folds > n:
            raise ScreeningError(f"{folds} folds for {n} samples: use between 2 and {n} folds.", "CV_FOLDS")
        cv_rmse = cv_pls_rmse(X, y, max_pls_components(n, p, folds, max_components), folds, seed)
        chosen = int(np.argmin(cv_rmse)) + 1
    vip, _model = pls_vip(X, y, chosen)
    gra = grey_relational_grade(X, y, rho, normalisation)
    xc, yc = X - X.mean(axis=0), y - y.mean()
    r = (xc.T @ yc) / np.sqrt((xc ** 2).sum(axis=0) * (yc ** 2).sum())
    vip_pass = vip > vip_threshold
    gra_pass = gra >= gra_threshold
    return ScreeningResult(names, vip, gra, r, vip_pass, gra_pass, select(vip_pass, gra_pass, rule), chosen,
                           cv_rmse, rule)
