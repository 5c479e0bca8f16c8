"""Trials of a hyperparameter search (PNG): each trial's cross-validated RMSE, the best so far, the defaults' score.

matplotlib Figure + Agg canvas (no pyplot), no qgis import; written atomically.
"""
from __future__ import annotations

import math
from io import BytesIO

import numpy as np

from .html import _atomic_write_bytes

__all__ = ["tuning_png"]

COLOURS = {"trial": "#4a7fb5", "best": "#d95f02", "default": "#555555", "failed": "#bdbdbd"}


def tuning_png(path, trials, default_rmse=math.nan, title="Hyperparameter search", units=""):
    """``trials``: dicts with "trial", "state", "value" (CV RMSE, NaN when failed) and "best" (best so far).
    Dots: completed trials; step line: best so far; dashed line: the defaults' CV RMSE; failed trials as grey
    ticks on the x axis."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n = np.array([t["trial"] for t in trials], dtype=float)
    value = np.array([t["value"] for t in trials], dtype=float)
    best = np.array([t["best"] for t in trials], dtype=float)
    ok = np.isfinite(value)
    fig = Figure(figsize=(6.4, 4.2), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.scatter(n[ok], value[ok], s=18, color=COLOURS["trial"], alpha=0.8, edgecolors="none",
               label=f"trial ({int(ok.sum())} scored)")
    if (~ok).any():
        ax.plot(n[~ok], np.full((~ok).sum(), np.nanmin(value) if ok.any() else 0.0), "|", color=COLOURS["failed"],
                markersize=10, label=f"failed ({int((~ok).sum())})")
    if np.isfinite(best).any():
        ax.step(n, best, where="post", color=COLOURS["best"], linewidth=1.6,
                label=f"best so far ({np.nanmin(best):.4g})")
    if math.isfinite(default_rmse):
        ax.axhline(default_rmse, color=COLOURS["default"], linestyle="--", linewidth=1.1,
                   label=f"default parameters ({default_rmse:.4g})")
    ax.set_xlabel("trial")
    ax.set_ylabel("cross-validated RMSE" + (f" ({units})" if units else ""))
    ax.set_title(title)
    if n.size:
        ax.set_xlim(n.min() - 0.5, n.max() + 0.5)
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3)
    ax.set_axisbelow(True)
    buf = BytesIO()
    fig.savefig(buf, format="png")
    _atomic_write_bytes(path, buf.getvalue())
