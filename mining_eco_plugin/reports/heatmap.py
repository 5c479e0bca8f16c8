"""PNG heatmaps: a square matrix whose diagonal is "unchanged" (a transfer / transition matrix), and a matrix of
correlations (the index search's band pairs).

matplotlib Figure + Agg canvas (no pyplot), no qgis import; the file is written atomically.
Colours come from ``styles.palettes`` (HEATMAP_RAMP for the off-diagonal cells, TRANSITION_UNCHANGED
for the diagonal).
"""
from __future__ import annotations

from io import BytesIO

import numpy as np

from ..styles import palettes
from .html import _atomic_write_bytes

__all__ = ["correlation_heatmap_png", "transfer_heatmap_png"]


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
    from matplotlib.colors import LinearSegmentedColormap, Normalize

    m = np.asarray(matrix, dtype=np.float64)
    n_rows, n_cols = m.shape
    off = m.copy()
    if n_rows == n_cols:
        np.fill_diagonal(off, np.nan)
    vmax = np.nanmax(off) if np.isfinite(off).any() else 0.0
    cmap = LinearSegmentedColormap.from_list("transfer", palettes.HEATMAP_RAMP)
    cmap.set_bad(palettes.TRANSITION_UNCHANGED)
    norm = Normalize(0.0, vmax if vmax > 0 else 1.0)
    texts = [[_fmt(m[i, j], integer) for j in range(n_cols)] for i in range(n_rows)]
    dark = [[i != j and vmax > 0 and m[i, j] / vmax > 0.55 for j in range(n_cols)] for i in range(n_rows)]
    _draw(path, off, texts, dark, row_labels, col_labels, title, cmap, norm, xlabel, ylabel,
          f"transferred ({unit}); diagonal = unchanged (grey)", bold_diagonal=True)


def correlation_heatmap_png(path, r, row_labels, col_labels, title: str, xlabel: str, ylabel: str,
                            bar_label: str = "Pearson r") -> None:
    """Write a matrix of correlations (-1 .. 1, NaN = undefined, drawn grey) as a PNG heatmap on the diverging
    RAMPS["correlation"] (negative blue, 0 white, positive red), every defined cell annotated with r."""
    from matplotlib.colors import LinearSegmentedColormap, Normalize

    m = np.asarray(r, dtype=np.float64)
    cmap = LinearSegmentedColormap.from_list("correlation", [(p, c) for p, c in palettes.RAMPS["correlation"]])
    cmap.set_bad(palettes.TRANSITION_UNCHANGED)
    texts = [["" if not np.isfinite(v) else f"{v:.2f}" for v in row] for row in m]
    dark = [[bool(np.isfinite(v) and abs(v) > 0.6) for v in row] for row in m]
    _draw(path, m, texts, dark, row_labels, col_labels, title, cmap, Normalize(-1.0, 1.0), xlabel, ylabel,
          bar_label)


def _draw(path, values, texts, dark, row_labels, col_labels, title, cmap, norm, xlabel, ylabel, bar_label,
          bold_diagonal=False) -> None:
    """The heatmap both writers draw: ``values`` coloured (NaN = the colour map's "bad" colour), ``texts`` in
    the cells (white where ``dark``), grid lines between cells, a colour bar; written atomically."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n_rows, n_cols = values.shape
    side = max(4.8, 0.62 * max(n_rows, n_cols) + 2.6)
    fig = Figure(figsize=(side + 1.2, side), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, norm=norm, aspect="auto")
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
            ax.text(j, i, texts[i][j], ha="center", va="center", fontsize=size,
                    color="white" if dark[i][j] else "#222222",
                    fontweight="bold" if bold_diagonal and i == j else "normal")
    ax.set_xticks(np.arange(-0.5, n_cols, 1), minor=True)
    ax.set_yticks(np.arange(-0.5, n_rows, 1), minor=True)
    ax.grid(which="minor", color="white", linewidth=1.0)
    ax.tick_params(which="minor", length=0)
    bar = fig.colorbar(image, ax=ax, shrink=0.8)
    bar.set_label(bar_label)
    buf = BytesIO()
    fig.savefig(buf, format="png")
    _atomic_write_bytes(path, buf.getvalue())
