"""Bar chart of variable screening (PLS VIP and grey relational grade) with both thresholds.

matplotlib Figure + Agg canvas (no pyplot), no qgis import; written atomically. Colours come from
``styles.palettes.SCREENING_COLOURS``.
"""
from __future__ import annotations

from io import BytesIO

import numpy as np

from ..styles import palettes
from .html import _atomic_write_bytes

__all__ = ["screening_png"]


def screening_png(path, names, vip, gra, vip_threshold, gra_threshold, title="Variable screening"):
    """Two bar panels over the same variables: VIP (line at ``vip_threshold``, bars above it coloured
    "pass") and GRA (line at ``gra_threshold``, bars at or above it "pass")."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    colours = palettes.SCREENING_COLOURS
    names = [str(n) for n in names]
    x = np.arange(len(names))
    width = max(6.4, 0.45 * len(names) + 2.0)
    fig = Figure(figsize=(width, 6.4), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    panels = (("VIP (PLS)", np.asarray(vip, float), vip_threshold, np.asarray(vip) > vip_threshold, "VIP > {:g}"),
              ("Grey relational grade", np.asarray(gra, float), gra_threshold, np.asarray(gra) >= gra_threshold,
               "GRA \u2265 {:g}"))
    for i, (label, values, threshold, passed, rule) in enumerate(panels):
        ax = fig.add_subplot(2, 1, i + 1)
        ax.bar(x, values, color=[colours["pass"] if p else colours["fail"] for p in passed],
               edgecolor="#333333", linewidth=0.5)
        ax.axhline(threshold, color=colours["threshold"], linestyle="--", linewidth=1.2,
                   label=rule.format(threshold) + f": {int(passed.sum())} of {len(names)}")
        ax.set_ylabel(label)
        ax.set_xticks(x)
        ax.set_xticklabels(names, rotation=45, ha="right")
        ax.set_xlim(-0.6, len(names) - 0.4)
        top = max(float(np.nanmax(values)) if values.size else 0.0, threshold)
        ax.set_ylim(0, top * 1.15)
        ax.legend(loc="upper right", fontsize=8)
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
        if i == 0:
            ax.set_title(title)
    buf = BytesIO()
    fig.savefig(buf, format="png")
    _atomic_write_bytes(path, buf.getvalue())
