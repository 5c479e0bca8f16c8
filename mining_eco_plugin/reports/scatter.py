"""Predicted-vs-measured scatter plot (PNG) with the 1:1 line (matplotlib Figure + Agg, no pyplot, no qgis)."""
from __future__ import annotations

from io import BytesIO

import numpy as np

from .html import _atomic_write_bytes

__all__ = ["scatter_png"]

SET_COLOURS = {"calibration": "#4a7fb5", "validation": "#d95f02", "cv": "#1b9e77"}


def scatter_png(path, groups, title: str, units: str = "") -> None:
    """Write a scatter of predicted (y axis) against measured (x axis) values.

    ``groups``: [(label, measured, predicted)], e.g. calibration and validation sets; each label gets its
    colour from SET_COLOURS (grey otherwise) and its R2 in the legend. The dashed 1:1 line spans the common
    range of both axes, which have the same limits so that points on the line are exact predictions."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from ..core.models import metrics

    fig = Figure(figsize=(5.6, 5.2), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    lo, hi = np.inf, -np.inf
    for label, measured, predicted in groups:
        m = np.asarray(measured, dtype=np.float64).ravel()
        p = np.asarray(predicted, dtype=np.float64).ravel()
        if m.size == 0:
            continue
        lo, hi = min(lo, m.min(), p.min()), max(hi, m.max(), p.max())
        r2 = metrics(m, p)["r2"]
        ax.scatter(m, p, s=18, alpha=0.75, color=SET_COLOURS.get(label, "#777777"), edgecolors="none",
                   label=f"{label} (n = {m.size}, R² = {r2:.3f})")
    if np.isfinite(lo):
        pad = 0.04 * (hi - lo or 1.0)
        lo, hi = lo - pad, hi + pad
        ax.plot([lo, hi], [lo, hi], "--", color="#333333", linewidth=1, label="1:1 line")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
    ax.set_aspect("equal", adjustable="box")
    suffix = f" ({units})" if units else ""
    ax.set_xlabel("Measured" + suffix)
    ax.set_ylabel("Predicted" + suffix)
    ax.set_title(str(title))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    buf = BytesIO()
    fig.savefig(buf, format="png")
    _atomic_write_bytes(path, buf.getvalue())
