"""Small self-contained HTML reports and PNG charts (matplotlib, Agg, no pyplot).

No qgis import.  Files are written to a temporary file next to the target and moved
into place when complete, so a failed run never leaves a half-written report.
"""
from __future__ import annotations

import base64
import html
import math
import numbers
import os
from typing import Iterable, Sequence

import numpy as np

from ..raster.outputs import create_file

__all__ = ["histogram_png", "write_html_report"]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------- file helpers
def _atomic_write_bytes(path, data: bytes) -> None:
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = create_file(directory, ".tmp-", os.path.splitext(path)[1])   # the user's umask, not 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# --------------------------------------------------------------------------- PNG chart
def histogram_png(
    path,
    counts: Sequence[float],
    edges: Sequence[float],
    title: str,
    xlabel: str,
    colors: Sequence | str | None = None,
    ylabel: str = "Pixels",
) -> None:
    """Write a bar chart of a histogram (``counts`` per bin between ``edges``) as PNG.

    ``colors`` is one matplotlib colour, or one colour per bar (e.g. grade palette).
    Uses ``matplotlib.figure.Figure`` with the Agg canvas: no pyplot global state, safe
    in worker threads and headless runs.
    """
    from io import BytesIO

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    c = np.asarray(counts, dtype=np.float64).ravel()
    e = np.asarray(edges, dtype=np.float64).ravel()
    if e.size != c.size + 1:
        raise ValueError(f"histogram needs len(edges) == len(counts) + 1, got {e.size} and {c.size}")
    if colors is None:
        color = "#4a7fb5"
    elif isinstance(colors, str):
        color = colors
    else:
        color = list(colors)
        if len(color) != c.size:
            raise ValueError(f"{len(color)} colours given for {c.size} bars")

    fig = Figure(figsize=(6.4, 4.0), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.bar(e[:-1], c, width=np.diff(e), align="edge", color=color,
           edgecolor="#333333", linewidth=0.5)
    ax.set_title(str(title))
    ax.set_xlabel(str(xlabel))
    ax.set_ylabel(str(ylabel))
    ax.set_xlim(e[0], e[-1])
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    buf = BytesIO()
    fig.savefig(buf, format="png")
    _atomic_write_bytes(path, buf.getvalue())


# --------------------------------------------------------------------------- HTML
_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
margin:2em auto;max-width:60em;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;border-bottom:2px solid #4a7fb5;padding-bottom:.2em}
h2{font-size:1.2em;margin-top:1.6em;color:#2c4f73}
table{border-collapse:collapse;margin:.5em 0;font-size:.92em}
th,td{border:1px solid #bbb;padding:.25em .6em}
th{background:#e8eef5;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}
img{max-width:100%;height:auto}
footer{margin-top:3em;font-size:.8em;color:#777}
""".strip()


def _format_value(v) -> tuple[str, bool]:
    """Cell text (not yet escaped) and whether it is numeric."""
    if v is None:
        return "", False
    if isinstance(v, (bool, np.bool_)):
        return ("yes" if v else "no"), False
    if isinstance(v, numbers.Integral):
        return str(int(v)), True
    if isinstance(v, numbers.Real):
        x = float(v)
        if math.isnan(x):
            return "NaN", True
        if math.isinf(x):
            return ("∞" if x > 0 else "−∞"), True
        if x == 0.0:
            return "0", True
        a = abs(x)
        if a >= 1e6 or a < 1e-3:
            return f"{x:.4g}", True
        if a >= 1000:
            return f"{x:.1f}", True
        return f"{x:.4f}".rstrip("0").rstrip("."), True
    return str(v), False


def _table_html(rows: list[dict]) -> str:
    if not rows:
        return "<p><em>No rows.</em></p>"
    columns: list = []
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    out = ["<table>", "<thead><tr>"]
    out += [f"<th>{html.escape(str(c))}</th>" for c in columns]
    out.append("</tr></thead>")
    out.append("<tbody>")
    for row in rows:
        out.append("<tr>")
        for c in columns:
            text, numeric = _format_value(row.get(c))
            cls = ' class="num"' if numeric else ""
            out.append(f"<td{cls}>{html.escape(text)}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _paragraphs_html(text: str) -> str:
    parts = [p.strip() for p in str(text).replace("\r\n", "\n").split("\n\n")]
    return "\n".join(
        "<p>" + html.escape(p).replace("\n", "<br>") + "</p>" for p in parts if p
    )


def _image_html(path, alt: str) -> str:
    with open(path, "rb") as fh:
        data = fh.read()
    if not data.startswith(_PNG_SIGNATURE):
        raise ValueError(f"{os.fspath(path)} is not a PNG file")
    b64 = base64.b64encode(data).decode("ascii")
    return f'<img src="data:image/png;base64,{b64}" alt="{html.escape(alt)}">'


def _is_png_path(content) -> bool:
    """True for a PathLike, or a str that looks like a PNG file path (no whitespace).

    A path-looking string whose file is missing raises FileNotFoundError rather than
    being shown as text.
    """
    if isinstance(content, os.PathLike):
        return True
    if not isinstance(content, str) or not content.lower().endswith(".png"):
        return False
    if os.path.isfile(content):
        return True
    if not any(ch.isspace() for ch in content):
        raise FileNotFoundError(f"report image not found: {content}")
    return False


def _section_html(heading: str, content) -> str:
    parts = []
    if heading:
        parts.append(f"<h2>{html.escape(str(heading))}</h2>")
    if content is None:
        pass
    elif _is_png_path(content):
        parts.append(_image_html(content, str(heading or "figure")))
    elif isinstance(content, str):
        parts.append(_paragraphs_html(content))
    elif isinstance(content, dict):
        parts.append(_table_html([{"name": k, "value": v} for k, v in content.items()]))
    elif isinstance(content, Iterable) and not isinstance(content, (bytes, bytearray)):
        rows = list(content)
        if not all(isinstance(r, dict) for r in rows):
            raise TypeError(f"section {heading!r}: a table must be a list of dicts")
        parts.append(_table_html(rows))
    else:
        raise TypeError(
            f"section {heading!r}: unsupported content type {type(content).__name__}"
        )
    return "<section>\n" + "\n".join(parts) + "\n</section>"


def write_html_report(path, title: str, sections: list[tuple[str, object]]) -> None:
    """Write a small self-contained UTF-8 HTML report.

    Each section is ``(heading, content)``; content is

    * a ``str``: paragraph text (escaped; blank lines separate paragraphs), unless it
      is the path of an existing ``.png`` file, which is embedded;
    * an ``os.PathLike`` to a PNG: embedded as a base64 ``data:`` ``<img>``;
    * a ``list[dict]``: a table (columns in first-seen key order, numbers formatted);
    * a ``dict``: a two-column name / value table;
    * ``None``: heading only.

    All user-provided text is HTML-escaped.  Images are inlined, so the file can be
    moved or e-mailed on its own.
    """
    body = "\n".join(_section_html(h, c) for h, c in sections)
    t = html.escape(str(title))
    doc = (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{t}</title>\n<style>\n{_CSS}\n</style>\n</head>\n<body>\n"
        f"<h1>{t}</h1>\n{body}\n"
        "<footer>Generated by the Mining Eco QGIS plugin.</footer>\n"
        "</body>\n</html>\n"
    )
    _atomic_write_bytes(path, doc.encode("utf-8"))
