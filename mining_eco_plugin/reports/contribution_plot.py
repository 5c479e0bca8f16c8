"""PNG heatmap of relative contribution rates: factors (rows) x periods (columns), every cell annotated
with its percentage and the sign of the standardised coefficient (miningeco:mlrcontribution).

matplotlib Figure + Agg canvas (no pyplot), no qgis import; colours from styles.palettes.HEATMAP_RAMP.
"""
from __future__ import annotations

from io import BytesIO

import numpy as np

from ..styles import palettes
from .html import _atomic_write_bytes

__all__ = ["contribution_heatmap_png"]


def contribution_heatmap_png(path, pct, beta, factors, periods, title: str) -> None:
    """``pct`` and ``beta``: arrays (factors, periods); cells coloured by pct (0 .. 100 %), text
    "+12.3" / "-12.3" = the contribution with the sign of beta (direction of the effect)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import LinearSegmentedColormap, Normalize
    from matplotlib.figure import Figure

    pct = np.asarray(pct, dtype=np.float64)
    beta = np.asarray(beta, dtype=np.float64)
    n_rows, n_cols = pct.shape
    cmap = LinearSegmentedColormap.from_list("contribution", palettes.HEATMAP_RAMP)
    vmax = max(float(np.nanmax(pct)) if np.isfinite(pct).any() else 0.0, 1e-9)
    fig = Figure(figsize=(max(4.5, 1.1 * n_cols + 3.2), max(3.2, 0.45 * n_rows + 1.8)), dpi=100,
                 layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(pct, cmap=cmap, norm=Normalize(0.0, vmax), aspect="auto")
    ax.set_xticks(range(n_cols))
    ax.set_yticks(range(n_rows))
    ax.set_xticklabels([str(p) for p in periods], rotation=40 if n_cols > 6 else 0, ha="right" if n_cols > 6
                       else "center")
    ax.set_yticklabels([str(f) for f in factors])
    ax.set_xlabel("Period (cell: contribution % with the sign of beta)")
    ax.set_title(title)
    for i in range(n_rows):
        for j in range(n_cols):
            sign = "-" if beta[i, j] < 0 else "+"
            ax.text(j, i, f"{sign}{pct[i, j]:.1f}", ha="center", va="center", fontsize=8,
                    color="white" if pct[i, j] / vmax > 0.55 else "#222222")
    bar = fig.colorbar(image, ax=ax, shrink=0.8)
    bar.set_label("relative contribution (%)")
    buf = BytesIO()
    fig.savefig(buf, format="png")
    _atomic_write_bytes(path, buf.getvalue())
