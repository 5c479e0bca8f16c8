"""SHAP explanations of the salinity models (issue 15, part 3). Pure numpy / scikit-learn / shap; no QGIS.

What is explained, and how (``Explainer``):

* Tree models - random forest, scikit-learn's HistGradientBoostingRegressor, XGBoost - with ``shap.TreeExplainer``
  (exact TreeSHAP, path-dependent: no background needed). They are fitted on the raw features and the raw target,
  so the values are in the target's units. XGBoost: when the installed shap cannot read the booster (shap < 0.50
  fails on the vector ``base_score`` that xgboost >= 3.1 writes; shap 0.49 is the newest for numpy 1.x), XGBoost's
  own TreeSHAP is used (``Booster.predict(pred_contribs=True)``, the same algorithm, Lundberg et al. 2020); the
  method string says which.
* SVR, MLP and PLSR (pipelines with a StandardScaler, SVR and MLP inside a TransformedTargetRegressor) with
  ``shap.KernelExplainer`` on the estimator's own ``predict``: the raw features in, the target's units out, so
  the scalers are part of the explained function. Background: the calibration samples, summarised by k-means
  (``shap.kmeans``, weighted centres) when there are more than ``background`` of them. With up to 11 features all
  2^p - 2 coalitions fit in the default number of evaluations (2 p + 2048), so the values are exact Kernel SHAP
  for that background; more features are sampled (seeded).
* Stacking (MLP + RF + boosting -> PLSR): the meta-learner is affine in the base learners' predictions,
  f(x) = b + sum_k w_k g_k(x) (b and w_k read off the fitted meta-learner by evaluating it at 0 and at the unit
  vectors, checked on random points), so by linearity of SHAP values phi(f) = sum_k w_k phi(g_k), each base
  learner explained as above (trees exactly, the MLP by KernelExplainer), and E f = b + sum_k w_k E g_k.

Every explanation satisfies additivity: sum_j phi_j(x) = f(x) - E f (``Explanation.additivity_error``).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

SEED = 42
#: Background of KernelExplainer: at most this many (k-means centres of the) calibration samples.
BACKGROUND = 50
BACKGROUND_MAX = 500
#: KernelExplainer costs (2 p + 2048) x background evaluations per explained sample: at most this many are
#: explained (a seeded subset of the validation samples).
KERNEL_SAMPLES = 200
KERNEL_SAMPLES_MAX = 2000
#: kernel models are explained this many samples at a time (a cancel is seen between chunks)
KERNEL_CHUNK = 8
TREE_TYPES = ("RandomForestRegressor", "ExtraTreesRegressor", "GradientBoostingRegressor",
              "HistGradientBoostingRegressor", "DecisionTreeRegressor", "XGBRegressor")
_KERNEL_LOCK = threading.Lock()          # KernelExplainer samples with numpy's global random state


def shap_version() -> str:
    try:
        import shap
        return str(shap.__version__)
    except Exception:  # noqa: BLE001
        return ""


def _predict(estimator, X):
    return np.asarray(estimator.predict(np.asarray(X, dtype=np.float64)), dtype=np.float64).ravel()


def is_tree(estimator) -> bool:
    return type(estimator).__name__ in TREE_TYPES


def _affine(meta, m: int, seed: int):
    """(b, w) with meta.predict(Z) == b + Z @ w, or None when the meta-learner is not affine."""
    eye = np.vstack([np.zeros((1, m)), np.eye(m)])
    p = _predict(meta, eye)
    b, w = float(p[0]), p[1:] - p[0]
    Z = np.random.default_rng(seed).normal(size=(16, m)) * 10.0
    ref = _predict(meta, Z)
    if not np.allclose(ref, b + Z @ w, rtol=1e-9, atol=1e-9 * (1.0 + np.abs(ref).max())):
        return None
    return b, w


class _Part:
    """One explained estimator: tree (shap.TreeExplainer or XGBoost's pred_contribs) or kernel."""

    def __init__(self, estimator, background, seed, background_size):
        self.estimator, self.seed = estimator, int(seed)
        self.tree = is_tree(estimator)
        self.background = np.asarray(background, dtype=np.float64)
        self.background_size = int(background_size)
        self._shap = None
        self.method = ""

    def __getstate__(self):        # picklable for the raster executor: shap objects are rebuilt where used
        state = dict(self.__dict__)
        state["_shap"] = None
        return state

    def build(self):
        if self._shap is not None:
            return
        import shap
        est = self.estimator
        name = type(est).__name__
        if self.tree:
            try:
                self._shap = shap.TreeExplainer(est)
                self.method = f"TreeExplainer ({name})"
            except Exception:  # noqa: BLE001 - shap < 0.50 cannot read xgboost >= 3.1's base_score
                if name != "XGBRegressor":
                    raise
                self._shap = "xgboost"
                self.method = (f"XGBoost's own TreeSHAP (pred_contribs; shap {shap.__version__} cannot read this "
                               "xgboost model)")
            return
        bg = self.background
        if len(bg) > self.background_size:
            summary = shap.kmeans(bg, self.background_size)
            what = f"k-means summary ({self.background_size} weighted centres) of {len(bg)} calibration samples"
        else:
            summary, what = bg, f"{len(bg)} calibration samples"
        self._shap = shap.KernelExplainer(lambda Z: _predict(est, Z), summary)
        self.method = f"KernelExplainer ({name}; background: {what})"

    def __call__(self, X):
        self.build()
        X = np.asarray(X, dtype=np.float64)
        if isinstance(self._shap, str):              # xgboost pred_contribs
            import xgboost
            contrib = self.estimator.get_booster().predict(xgboost.DMatrix(X), pred_contribs=True)
            contrib = np.asarray(contrib, dtype=np.float64)
            return contrib[:, :-1], contrib[:, -1]
        if self.tree:
            values = np.asarray(self._shap.shap_values(X, check_additivity=False), dtype=np.float64)
            expected = float(np.ravel(self._shap.expected_value)[0])
            return values.reshape(len(X), -1), np.full(len(X), expected)
        with _KERNEL_LOCK:
            state = np.random.get_state()
            np.random.seed(self.seed)
            try:
                values = self._shap.shap_values(X, nsamples=2 * X.shape[1] + 2048, silent=True, l1_reg=False)
            finally:
                np.random.set_state(state)
        expected = float(np.ravel(self._shap.expected_value)[0])
        return np.asarray(values, dtype=np.float64).reshape(len(X), -1), np.full(len(X), expected)


class Explainer:
    """Callable: X (n, p) -> (SHAP values (n, p) in the target's units, expected value per row (n,)).
    Picklable (the shap objects are built on first use). ``background``: the calibration samples."""

    def __init__(self, estimator, background, seed: int = 42, background_size: int = BACKGROUND):
        from sklearn.ensemble import StackingRegressor
        self.estimator = estimator
        self.intercept, self.parts = 0.0, None
        bg = np.asarray(background, dtype=np.float64)
        if isinstance(estimator, StackingRegressor) and not getattr(estimator, "passthrough", False):
            bases = list(estimator.estimators_)
            affine = _affine(estimator.final_estimator_, len(bases), seed)
            if affine is not None:
                self.intercept = affine[0]
                self.parts = [(float(w), _Part(b, bg, seed, background_size)) for w, b in zip(affine[1], bases)]
        if self.parts is None:
            self.parts = [(1.0, _Part(estimator, bg, seed, background_size))]

    @property
    def kernel(self) -> bool:
        return any(not p.tree for _w, p in self.parts)

    def method(self) -> str:
        for _w, p in self.parts:
            p.build()
        if len(self.parts) == 1 and self.intercept == 0.0:
            return self.parts[0][1].method
        terms = "; ".join(f"{w:+.4g} x {p.method}" for w, p in self.parts)
        return (f"stack: affine meta-learner {self.intercept:.4g} + sum of weight x base learner, SHAP values "
                f"summed with the same weights ({terms})")

    def __call__(self, X):
        X = np.asarray(X, dtype=np.float64)
        values = np.zeros(X.shape, dtype=np.float64)
        expected = np.full(len(X), self.intercept, dtype=np.float64)
        if len(X) == 0:
            return values, expected
        for w, part in self.parts:
            v, e = part(X)
            values += w * v
            expected += w * e
        return values, expected


@dataclass
class Explanation:
    features: list
    X: np.ndarray
    values: np.ndarray
    expected: np.ndarray
    prediction: np.ndarray
    method: str = ""
    rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))   # indices of the explained samples

    def mean_abs(self) -> np.ndarray:
        return np.mean(np.abs(self.values), axis=0)

    def additivity_error(self) -> float:
        """max |sum_j phi_j + E f - f(x)| over the samples (target units)."""
        if not len(self.values):
            return 0.0
        return float(np.max(np.abs(self.values.sum(axis=1) + self.expected - self.prediction)))

    def order(self) -> np.ndarray:
        """Feature indices by decreasing mean |SHAP| (ties by name order)."""
        return np.argsort(-self.mean_abs(), kind="stable")

    def table(self) -> list[dict]:
        """rank, feature, mean |SHAP|, mean SHAP, share of the total mean |SHAP| (%)."""
        ma, mean = self.mean_abs(), self.values.mean(axis=0)
        total = float(ma.sum())
        return [{"rank": r + 1, "feature": self.features[j], "mean_abs_shap": float(ma[j]),
                 "mean_shap": float(mean[j]), "share_pct": 100.0 * float(ma[j]) / total if total > 0 else 0.0}
                for r, j in enumerate(self.order())]


def explain(estimator, X, background, features, seed: int = 42, background_size: int = BACKGROUND,
            kernel_samples: int = KERNEL_SAMPLES, rows=None, cancel=None) -> Explanation:
    """SHAP values of ``estimator`` on the rows of ``X`` (the validation samples); ``background``: calibration
    samples (for the kernel). Kernel models explain at most ``kernel_samples`` rows (a seeded subset, in order),
    ``KERNEL_CHUNK`` at a time: ``cancel()`` True between chunks raises cancel.Cancelled."""
    from threadpoolctl import threadpool_limits
    X = np.asarray(X, dtype=np.float64)
    rows = np.arange(len(X)) if rows is None else np.asarray(rows)
    ex = Explainer(estimator, background, seed, background_size)
    if ex.kernel and len(X) > kernel_samples:
        keep = np.sort(np.random.default_rng(seed).choice(len(X), int(kernel_samples), replace=False))
        X, rows = X[keep], rows[keep]
    with threadpool_limits(limits=1):     # as models.train: OpenMP / BLAS threads cost more than they save here
        step = KERNEL_CHUNK if ex.kernel else max(len(X), 1)
        parts = []
        for start in range(0, len(X), step):
            if cancel is not None and cancel():
                from .cancel import Cancelled
                raise Cancelled()
            parts.append(ex(X[start:start + step]))
        values = np.vstack([v for v, _e in parts]) if parts else np.zeros(X.shape)
        expected = np.concatenate([e for _v, e in parts]) if parts else np.zeros(len(X))
        prediction = _predict(estimator, X)
    return Explanation(list(features), X, values, expected, prediction, ex.method(), rows)


def shap_block(data, ctx=None, explainer=None):
    """Raster block (executor ``compute``): ``data`` {feature index: (rows, cols) float32, NaN = nodata} ->
    ({"OUTPUT_SHAP": (p, rows, cols) float32 SHAP values, NaN where a feature is nodata (the writer writes NaN as
    the output's nodata and leaves it out of the band statistics)},
    (sum |SHAP| per feature, count of pixels)) - the partial sums give the mean |SHAP| that ranks the features."""
    keys = sorted(data)
    stack = np.stack([np.asarray(data[k], dtype=np.float64) for k in keys])
    p, shape = len(keys), stack.shape[1:]
    flat = stack.reshape(p, -1).T
    ok = np.all(np.isfinite(flat), axis=1)
    out = np.full((p, flat.shape[0]), np.nan, dtype=np.float32)
    sums = np.zeros(p, dtype=np.float64)
    if ok.any():
        values, _expected = explainer(flat[ok])
        out[:, ok] = values.T.astype(np.float32)
        sums = np.abs(values).sum(axis=0)
    return {"OUTPUT_SHAP": out.reshape((p,) + shape)}, (sums, int(ok.sum()))


def validation_rows(validation: str, n: int, fraction: float = 0.2, seed: int = 42):
    """(rows explained, background rows, what they are): the validation samples of a split and the calibration
    samples the model was fitted on; k-fold (and any validation without one held-out set) refits the model on
    every sample, so every sample is explained against all of them."""
    from . import models
    if validation == "systematic":
        ic, iv = models.systematic_split(n)
    elif validation == "random":
        ic, iv = models.random_split(n, fraction, seed)
    else:
        rows = np.arange(n)
        return rows, rows, "all samples (the model file's model is fitted on all of them; no held-out set)"
    return iv, ic, "the validation samples"


def explain_result(estimator, X, validation, features, fraction=0.2, seed=42, background_size=BACKGROUND,
                   kernel_samples=KERNEL_SAMPLES, cancel=None):
    """(Explanation of ``estimator`` on the validation samples of ``validation``, text naming them)."""
    X = np.asarray(X, dtype=np.float64)
    rows, bg, what = validation_rows(validation, len(X), fraction, seed)
    ex = explain(estimator, X[rows], X[bg], features, seed, background_size, kernel_samples, rows=rows,
                 cancel=cancel)
    if len(ex.rows) < len(rows):
        what += f" ({len(ex.rows)} of {len(rows)}, a seeded subset: KernelExplainer is costly)"
    return ex, what


# --------------------------------------------------------------------------- per-pixel SHAP on a sample grid
TOP_K_MAX = 20
STEP_MAX = 1000
#: default maximum cells of the sample grid: TreeSHAP of a 100-tree random forest takes about 4 ms per cell
#: (8 features, one core), so 50,000 cells are a few minutes
MAX_PIXELS = 50_000
MAX_PIXELS_MAX = 4_000_000
#: KernelExplainer (SVR, MLP, PLSR, the MLP of a stack) takes about 0.1 s per cell: at most this many cells
KERNEL_MAX_CELLS = 2_000
#: candidates of the KernelExplainer background on the sample grid (a regular sub-grid of about this many cells)
BACKGROUND_CANDIDATES = 2000


def sample_grid(width: int, height: int, step: int, max_pixels: int = MAX_PIXELS):
    """The sample grid of a width x height raster: every ``step``-th pixel in both directions, starting at pixel
    ``step // 2`` (at most the last pixel), so each cell of the sample grid, ``step`` pixels wide, is centred on
    the pixel it samples. ``step`` grows until the grid has at most ``max_pixels`` cells.
    (step, first column, first row, columns, rows)."""
    step = max(1, int(step))
    if width * height > max_pixels:
        step = max(step, int(np.floor(np.sqrt(width * height / max_pixels))))

    def size(s):
        fx, fy = min(s // 2, width - 1), min(s // 2, height - 1)
        return fx, fy, (width - 1 - fx) // s + 1, (height - 1 - fy) // s + 1
    fx, fy, cols, rows = size(step)
    while cols * rows > max_pixels:
        step += 1
        fx, fy, cols, rows = size(step)
    return step, fx, fy, cols, rows


def background_block(data, ctx=None, every: int = 1):
    """Executor ``compute`` of the background pre-pass: ({}, feature rows of the valid cells whose sample-grid row
    and column are multiples of ``every``) - a regular sub-grid, the same whatever the blocks."""
    keys = sorted(data)
    stack = np.stack([np.asarray(data[k], dtype=np.float64) for k in keys])
    r0, c0 = (ctx.window.yoff, ctx.window.xoff) if ctx is not None else (0, 0)
    rr = np.arange(stack.shape[1]) + r0
    cc = np.arange(stack.shape[2]) + c0
    sub = stack[:, (rr % every) == 0][:, :, (cc % every) == 0]
    flat = sub.reshape(len(keys), -1).T
    return {}, flat[np.all(np.isfinite(flat), axis=1)]


def stack_rows(a, b):
    """``combine`` of background_block: rows of both, in block order."""
    return np.vstack([a, b])
