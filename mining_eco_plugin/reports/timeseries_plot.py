"""PNG plot of a yearly series with its fits (miningeco:timeseries), after ningdong Figure 8:
(a) the data with the quadratic fit, its 95 % confidence band and turning point; (b) the data with
the whole-series line and the two segment lines, each with its 95 % band.

matplotlib Figure + Agg canvas (no pyplot), written atomically like the other report files.
No qgis import.
"""
from __future__ import annotations

from io import BytesIO

import numpy as np

from ..core import timeseries as ts
from .html import _atomic_write_bytes

COLOURS = {"data": "#333333", "quadratic": "#b2182b", "linear": "#777777", "first": "#d6604d", "second": "#2166ac"}


def _band(ax, x, y, degree, colour, label, xs):
    fitted, lo, hi = ts.mean_response_band(x, y, degree, xs)
    ax.fill_between(xs, lo, hi, color=colour, alpha=0.18, linewidth=0)
    ax.plot(xs, fitted, color=colour, linewidth=1.8, label=label)


def series_plot_png(path, summary: ts.SeriesSummary, title: str = "", ylabel: str = "value", level: float = 0.95):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    t, y = summary.years, summary.values
    fig = Figure(figsize=(11.0, 4.4), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2, sharey=True)
    pct = f"{100 * level:g} %"
    xs = np.linspace(t[0], t[-1], 200)

    ax = axes[0]
    q = summary.quadratic
    _band(ax, t, y, 2, COLOURS["quadratic"], f"quadratic, R\u00b2 = {q.r2:.3f} ({pct} band)", xs)
    if np.isfinite(q.turning_point) and t[0] <= q.turning_point <= t[-1]:
        ax.axvline(q.turning_point, color=COLOURS["quadratic"], linestyle=":", linewidth=1)
        ax.annotate(f"turning point {q.turning_point:.1f}", (q.turning_point, q.turning_value),
                    textcoords="offset points", xytext=(6, -14), fontsize=8, color=COLOURS["quadratic"])
    ax.set_title("(a) quadratic fit")

    ax = axes[1]
    lin = summary.linear
    ax.plot(t, lin.intercept + lin.slope * t, color=COLOURS["linear"], linestyle="--", linewidth=1.2,
            label=f"whole series: slope {lin.slope:.4g}/yr, R\u00b2 = {lin.r2:.3f}, p = {lin.p:.3g}")
    seg = summary.segmented
    if seg is not None:
        left = t <= seg.breakpoint
        for part, mask, fit in (("first", left, seg.first), ("second", ~left, seg.second)):
            xs_part = np.linspace(t[mask][0], t[mask][-1], 100)
            _band(ax, t[mask], y[mask], 1, COLOURS[part], f"{fit.first:g}-{fit.last:g}: slope {fit.slope:.4g}/yr, "
                  f"r = {fit.r:.3f}, p = {fit.p:.3g}", xs_part)
        ax.axvline(seg.breakpoint + 0.5 if seg.breakpoint == int(seg.breakpoint) else seg.breakpoint,
                   color="#999999", linestyle=":", linewidth=1)
        ax.set_title(f"(b) two segments, break after {seg.breakpoint:g}"
                     + (" (least squares)" if seg.searched else ""))
    else:
        ax.set_title("(b) linear fit")

    for ax in axes:
        ax.plot(t, y, "o-", color=COLOURS["data"], markersize=4, linewidth=0.8, label="data", zorder=3)
        ax.set_xlabel("year")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    axes[0].set_ylabel(ylabel)
    if title:
        fig.suptitle(title)
    buf = BytesIO()
    fig.savefig(buf, format="png")
    _atomic_write_bytes(path, buf.getvalue())
    return path
