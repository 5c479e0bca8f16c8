"""SHAP summary plot (PNG): mean |SHAP| bars and a beeswarm-like strip per feature (matplotlib Figure + Agg, no
pyplot, no qgis)."""
from __future__ import annotations

from io import BytesIO

import numpy as np

from .html import _atomic_write_bytes

__all__ = ["shap_summary_png"]

#: at most this many features are drawn (by decreasing mean |SHAP|)
MAX_FEATURES = 20


def shap_summary_png(path, values, X, features, title: str, units: str = "", seed: int = 0) -> None:
    """Left: mean |SHAP| per feature (bars). Right: each sample's SHAP value (x) per feature (rows, jittered),
    coloured by the feature's value (low blue -> high red, by rank within the feature)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    values = np.asarray(values, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    mean_abs = np.mean(np.abs(values), axis=0) if len(values) else np.zeros(len(features))
    order = np.argsort(-mean_abs, kind="stable")[:MAX_FEATURES]
    k = len(order)
    fig = Figure(figsize=(9.0, 1.2 + 0.42 * max(k, 2)), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax_bar, ax_swarm = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.6]}, sharey=True)
    ypos = np.arange(k)[::-1]
    ax_bar.barh(ypos, mean_abs[order], color="#4a7fb5")
    ax_bar.set_yticks(ypos, [str(features[j]) for j in order])
    suffix = f" ({units})" if units else ""
    ax_bar.set_xlabel("mean |SHAP value|" + suffix)
    ax_bar.grid(axis="x", alpha=0.3)
    rng = np.random.default_rng(seed)
    cmap = None
    for y, j in zip(ypos, order):
        v = values[:, j]
        if not v.size:
            continue
        ranks = np.argsort(np.argsort(X[:, j], kind="stable"), kind="stable") / max(len(v) - 1, 1)
        cmap = ax_swarm.scatter(v, y + rng.uniform(-0.28, 0.28, v.size), c=ranks, cmap="coolwarm", vmin=0, vmax=1,
                                s=12, alpha=0.8, edgecolors="none")
    ax_swarm.axvline(0.0, color="#333333", linewidth=0.8)
    ax_swarm.set_xlabel("SHAP value (effect on the prediction)" + suffix)
    ax_swarm.grid(axis="x", alpha=0.3)
    if cmap is not None:
        bar = fig.colorbar(cmap, ax=ax_swarm, ticks=[0, 1], aspect=30)
        bar.ax.set_yticklabels(["low", "high"])
        bar.set_label("feature value")
    fig.suptitle(str(title))
    buf = BytesIO()
    fig.savefig(buf, format="png")
    _atomic_write_bytes(path, buf.getvalue())
