"""PNG heatmap of a square matrix whose diagonal is "unchanged" (a transfer / transition matrix).

matplotlib Figure + Agg canvas (no pyplot), no qgis import; the file is written atomically.
Colours come from ``styles.palettes`` (HEATMAP_RAMP for the off-diagonal cells, TRANSITION_UNCHANGED
for the diagonal).
"""
from __future__ import annotations

from io import BytesIO

import numpy as np

from ..styles import palettes
from .html import _atomic_write_bytes

__all__ = ["transfer_heatmap_png"]


def _fmt(v, integer):
    if integer:
        return f"{int(round(v))}"
    if v == 0:
        return "0"
    return f"{v:.0f}" if abs(v) >= 100 else f"{v:.3g}"     # 3 significant digits: 0.0576, 8.72, 52.5


def transfer_heatmap_png(path, matrix, row_labels, col_labels, title: str, unit: str,
                         xlabel: str = "Date 2 (to)", ylabel: str = "Date 1 (from)", integer: bool = False) -> None:
    """Write the matrix as a PNG heatmap: rows = from (date 1), columns = to (date 2), every cell
    annotated with its value; off-diagonal cells coloured by value (HEATMAP_RAMP, 0 .. largest
    off-diagonal value), diagonal (unchanged) cells grey."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import LinearSegmentedColormap, Normalize
    from matplotlib.figure import Figure

    m = np.asarray(matrix, dtype=np.float64)
    n_rows, n_cols = m.shape
    off = m.copy()
    if n_rows == n_cols:
        np.fill_diagonal(off, np.nan)
    vmax = np.nanmax(off) if np.isfinite(off).any() else 0.0
    cmap = LinearSegmentedColormap.from_list("transfer", palettes.HEATMAP_RAMP)
    cmap.set_bad(palettes.TRANSITION_UNCHANGED)
    norm = Normalize(0.0, vmax if vmax > 0 else 1.0)

    side = max(4.8, 0.62 * max(n_rows, n_cols) + 2.6)
    fig = Figure(figsize=(side + 1.2, side), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(np.ma.masked_invalid(off), cmap=cmap, norm=norm, aspect="auto")
    ax.set_xticks(range(n_cols))
    ax.set_yticks(range(n_rows))
    ax.set_xticklabels([str(c) for c in col_labels], rotation=40, ha="right")
    ax.set_yticklabels([str(r) for r in row_labels])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    size = max(5.0, min(9.0, 80.0 / max(n_rows, n_cols, 1)))
    for i in range(n_rows):
        for j in range(n_cols):
            v = m[i, j]
            dark = i != j and vmax > 0 and v / vmax > 0.55
            ax.text(j, i, _fmt(v, integer), ha="center", va="center", fontsize=size,
                    color="white" if dark else "#222222", fontweight="bold" if i == j else "normal")
    ax.set_xticks(np.arange(-0.5, n_cols, 1), minor=True)
    ax.set_yticks(np.arange(-0.5, n_rows, 1), minor=True)
    ax.grid(which="minor", color="white", linewidth=1.0)
    ax.tick_params(which="minor", length=0)
    bar = fig.colorbar(image, ax=ax, shrink=0.8)
    bar.set_label(f"transferred ({unit}); diagonal = unchanged (grey)")
    buf = BytesIO()
    fig.savefig(buf, format="png")
    _atomic_write_bytes(path, buf.getvalue())
