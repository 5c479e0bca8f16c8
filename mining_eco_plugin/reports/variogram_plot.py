"""Empirical variogram (points sized by pairs) with the fitted or given model (PNG; matplotlib Figure + Agg, no
pyplot, no qgis)."""
from __future__ import annotations

from io import BytesIO

import numpy as np

from .html import _atomic_write_bytes

__all__ = ["variogram_png"]


def variogram_png(path, centers, gamma, counts, model_lags, model_gamma, title: str, model_label: str,
                  nugget: float, sill: float) -> None:
    """Write the empirical semivariance of each bin (marker area ~ pairs, count printed) and the model curve
    (``model_lags``, ``model_gamma``), with the nugget and sill as dotted lines."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.4), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    centers, gamma, counts = (np.asarray(a, dtype=np.float64) for a in (centers, gamma, counts))
    keep = counts > 0
    if keep.any():
        size = 12 + 80 * counts[keep] / counts[keep].max()
        ax.scatter(centers[keep], gamma[keep], s=size, color="#4a7fb5", zorder=3, label="empirical (pairs per bin)")
        for c, g, n in zip(centers[keep], gamma[keep], counts[keep]):
            ax.annotate(f"{int(n)}", (c, g), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=7,
                        color="#555555")
    ax.plot(model_lags, model_gamma, "-", color="#d95f02", linewidth=1.8, label=model_label, zorder=2)
    ax.axhline(sill, linestyle=":", color="#333333", linewidth=1, label=f"sill {sill:.4g}")
    if nugget > 0:
        ax.axhline(nugget, linestyle=":", color="#888888", linewidth=1, label=f"nugget {nugget:.4g}")
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("Lag distance (map units of the grid CRS)")
    ax.set_ylabel("Semivariance")
    ax.set_title(str(title))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    buf = BytesIO()
    fig.savefig(buf, format="png")
    _atomic_write_bytes(path, buf.getvalue())
