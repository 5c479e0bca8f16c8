"""Render the manual shipped inside the plugin (mining_eco_plugin/docs/) from one template.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/build_manual.py          (or: make manual)

Every tool page (docs/<id>.html, opened by the tool's Help button through helpUrl()) is built from

* the algorithm's metadata: name, group, SHORT_DESCRIPTION, TAGS, SUMMARY (the short help), every parameter
  (id, label, type, default, enum options, optional / advanced) with its one-line help, and every output with
  its help line (MiningEcoAlgorithm.help_lines);
* a per-tool text, scripts/manual/<id>.html: sections "Method" (formulas), "Defaults and why" and "Worked
  example" (more are allowed), and on its first line the keys of the works it cites
  (``<!-- references: han2025 xu2013 -->``, keys of mining_eco_plugin/algorithms/references.py). Tables kept
  as data in the plugin are filled in where the text says {{indices_table}} (core/indices.py),
  {{search_grids_table}} (core/models.py), {{roy2016_table}}, {{scl_table}} or {{bap_defaults_table}}
  (core/composite.py).

docs/references.html lists the full citations (the four reference studies first) with the tools that cite
each; docs/index.html lists the tools in the order of the workflow. The pages are plain HTML with an inline
style sheet: they read the same in a browser and in Qt's rich-text viewer. test/test_help.py checks that the
committed pages are what this script renders now (run it after changing a tool's parameters or help).
"""
from __future__ import annotations

import html
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TEXTS = os.path.join(HERE, "manual")
REQUIRED_SECTIONS = ("Method", "Defaults and why", "Worked example")

CSS = """body { font-family: sans-serif; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; margin-top: 1.4em; border-bottom: 1px solid #ccc; }
h3 { font-size: 1.05em; }
p.nav { font-size: 0.9em; }
p.meta { color: #555; font-size: 0.9em; margin: 0.2em 0; }
code, pre { font-family: monospace; background: #f4f4f4; }
pre { padding: 0.5em; white-space: pre-wrap; }
table { border-collapse: collapse; margin: 0.5em 0; }
table.wide { width: 100%; }
th, td { border: 1px solid #bbb; padding: 3px 6px; vertical-align: top; text-align: left; }
th { background: #eee; }
td.num { text-align: right; }
.formula { font-family: serif; font-size: 1.05em; margin: 0.4em 0 0.4em 1.5em; }
li.ref { margin-bottom: 0.4em; }
"""

TYPE_NAMES = {
    "raster": "raster layer", "multilayer": "layers", "band": "band", "enum": "choice", "boolean": "yes / no",
    "string": "text", "file": "file", "source": "vector or table layer", "field": "field", "matrix": "table",
    "rasterDestination": "raster (GeoTIFF)", "sink": "table or vector layer", "fileDestination": "file",
    "folderDestination": "folder", "vectorDestination": "vector layer", "crs": "CRS", "extent": "extent",
    "outputNumber": "number", "outputString": "text", "outputMultilayer": "layers", "outputRaster": "raster",
    "outputVector": "table or vector layer", "outputFile": "file", "outputHtml": "HTML file",
    "outputFolder": "folder",
}


def _import_plugin():
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    from mining_eco_plugin.algorithms import base, references
    return base, references


def esc(text) -> str:
    return html.escape(str(text), quote=False)


def _number(v) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def type_name(definition) -> str:
    kind = definition.type()
    if kind == "number":
        from mining_eco_plugin import compat
        integer = definition.dataType() == compat.ProcessingNumberParameterType.Integer
        return "integer" if integer else "number"
    if kind == "enum" and definition.allowMultiple():
        return "choices (several)"
    if kind == "field" and definition.allowMultiple():
        return "fields"
    return TYPE_NAMES.get(kind, kind)


def default_text(definition) -> str:
    """The default of a parameter as plain text ("" for none)."""
    value = definition.defaultValue()
    if value is None or (hasattr(value, "isNull") and value.isNull()) or value == "":
        return ""
    kind = definition.type()
    if kind == "enum":   # the options are listed with the description
        values = value if isinstance(value, (list, tuple)) else [value]
        return ", ".join(str(int(v)) for v in values)
    if kind == "boolean":
        return "yes" if value else "no"
    if kind == "matrix":
        cols = len(definition.headers()) or 1
        cells = ["" if c is None else _number(c) for c in value]
        rows = [" | ".join(cells[i:i + cols]) for i in range(0, len(cells), cols)]
        return "; ".join(rows)
    if isinstance(value, (list, tuple)):
        return ", ".join(_number(v) for v in value)
    return _number(value)


def _flags(definition, compat) -> list[str]:
    flags = definition.flags()
    return [name for name, flag in (("optional", compat.ProcessingParameterFlag.Optional),
                                    ("advanced", compat.ProcessingParameterFlag.Advanced))
            if bool(flags & flag)]          # QFlags' truth value: the idiom of QGIS's own Python code


def read_text(alg_id: str):
    """(reference keys, HTML body) of scripts/manual/<alg_id>.html."""
    path = os.path.join(TEXTS, f"{alg_id}.html")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    first, _, body = text.partition("\n")
    m = re.fullmatch(r"<!-- references: ([a-z0-9_ ]+) -->", first.strip())
    if not m:
        raise SystemExit(f"{path}: the first line must be <!-- references: key key ... -->")
    return m.group(1).split(), body.strip()


def sections(body: str) -> list[str]:
    return re.findall(r"<h2>(.*?)</h2>", body)


def _page(title: str, body: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{esc(title)}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")


NAV = ('<p class="nav"><a href="index.html">Mining Eco manual</a> | <a href="references.html">References</a></p>')


def parameter_table(alg, compat) -> str:
    helps = {name: text for name, _label, text in alg.help_lines()}
    rows = []
    for d in alg.parameterDefinitions():
        if d.isDestination():
            continue
        flags = _flags(d, compat)
        label = esc(d.description()) + (f" <i>({', '.join(flags)})</i>" if flags else "")
        help_text = esc(helps.get(d.name(), d.help()))
        if d.type() == "enum":
            help_text += "<br>" + "<br>".join(f"{i}: {esc(o)}" for i, o in enumerate(d.options()))
        rows.append(f"<tr><td><code>{esc(d.name())}</code></td><td>{label}</td><td>{esc(type_name(d))}</td>"
                    f"<td>{esc(default_text(d))}</td><td>{help_text}</td></tr>")
    if not rows:
        return "<p>None.</p>"
    return ('<table class="wide" width="100%">\n<tr><th>Id</th><th>Label</th><th>Type</th><th>Default</th>'
            '<th width="50%">Description</th></tr>\n'
            + "\n".join(rows) + "\n</table>")


def output_table(alg, compat) -> str:
    helps = {name: text for name, _label, text in alg.help_lines()}
    rows = []
    for d in alg.parameterDefinitions():
        if d.isDestination():
            flags = [f for f in _flags(d, compat) if f != "advanced"]
            label = esc(d.description()) + (f" <i>({', '.join(flags)})</i>" if flags else "")
            rows.append(f"<tr><td><code>{esc(d.name())}</code></td><td>{label}</td><td>{esc(type_name(d))}</td>"
                        f"<td>{esc(helps.get(d.name(), d.help()))}</td></tr>")
    destinations = {d.name() for d in alg.parameterDefinitions() if d.isDestination()}
    for o in alg.outputDefinitions():
        if o.name() in destinations:
            continue
        rows.append(f"<tr><td><code>{esc(o.name())}</code></td><td>{esc(o.description())}</td>"
                    f"<td>{esc(TYPE_NAMES.get(o.type(), o.type()))}</td><td>{esc(helps.get(o.name(), ''))}</td></tr>")
    return ('<table class="wide" width="100%">\n<tr><th>Id</th><th>Label</th><th>Type</th>'
            '<th width="55%">Description</th></tr>\n' + "\n".join(rows) + "\n</table>")


def reference_item(key, ref, link=True) -> str:
    text = esc(ref.full)
    if ref.doi:
        text += f' <a href="https://doi.org/{esc(ref.doi)}">doi:{esc(ref.doi)}</a>'
    elif ref.url:
        text += f' <a href="{esc(ref.url)}">{esc(ref.url)}</a>'
    more = f' <a href="references.html#{key}">[all references]</a>' if link else ""
    return f'<li class="ref" id="{key}">{text}{more}</li>'


def indices_table() -> str:
    """Every index of the calculator: key, name, formula (on reflectance) and source (core.indices)."""
    from mining_eco_plugin.core import indices
    rows = [f"<tr><td><code>{esc(k)}</code></td><td>{esc(i.title)}</td><td><code>{esc(i.formula)}</code></td>"
            f"<td>{esc(i.source)}</td></tr>" for k, i in indices.INDICES.items()]
    return ("<table>\n<tr><th>Key</th><th>Index</th><th>Formula</th><th>Source</th></tr>\n" + "\n".join(rows)
            + "\n</table>")


def search_grids_table() -> str:
    """The hyperparameter search spaces of Train model (core.models.SEARCH_GRIDS)."""
    from mining_eco_plugin.core import models, tuning
    rows = []
    for kind, grid in models.SEARCH_GRIDS.items():
        for i, (name, values) in enumerate(grid.items()):
            model = esc(kind) if i == 0 else ""
            rows.append(f"<tr><td>{model}</td><td><code>{esc(name)}</code></td>"
                        f"<td>{esc(', '.join(repr(v) for v in values))}</td>"
                        f"<td>{esc(tuning.describe(values))}</td></tr>")
    return ("<table>\n<tr><th>Model</th><th>Parameter (scikit-learn)</th><th>Values tried (randomized search)</th>"
            "<th>Optuna's space</th></tr>\n" + "\n".join(rows) + "\n</table>")


def roy2016_table() -> str:
    """The harmonisation coefficients of the Scene composite (core.composite.ROY2016_ETM_TO_OLI)."""
    from mining_eco_plugin.core import composite
    names = composite.BAND_NAMES
    rows = [f'<tr><td>{esc(names[band])}</td><td class="num">{a:.4f}</td><td class="num">{b:.4f}</td></tr>'
            for band, (a, b) in composite.ROY2016_ETM_TO_OLI.items()]
    return ("<table>\n<tr><th>Band</th><th>Intercept a</th><th>Slope b</th></tr>\n" + "\n".join(rows)
            + "\n</table>")


def scl_table() -> str:
    """The Sentinel-2 SCL classes and which of them the Scene composite masks (core.composite.SCL_CLASSES,
    core.radiometry.SCL_MASKED)."""
    from mining_eco_plugin.core import composite, radiometry
    rows = [f'<tr><td class="num">{k}</td><td>{esc(name)}</td><td>{"masked" if k in radiometry.SCL_MASKED else "kept"}'
            "</td></tr>" for k, name in composite.SCL_CLASSES.items()]
    return "<table>\n<tr><th>SCL</th><th>Class</th><th>Composite</th></tr>\n" + "\n".join(rows) + "\n</table>"


def bap_defaults_table() -> str:
    """The best-available-pixel defaults of the Scene composite (core.composite.BAP_DEFAULTS)."""
    from mining_eco_plugin.core import composite
    what = {"w_doy": "weight of the day-of-year score", "w_cloud": "weight of the cloud-distance score",
            "w_sensor": "weight of a sensor score (off)", "doy_sigma": "width of the day-of-year Gaussian (days)",
            "cloud_required": "cloud distance scoring about 1 (pixels at 30 m; the tool uses 3000 m / pixel size)",
            "days_in_year": "days of the circular day distance (windows across New Year)"}
    rows = [f'<tr><td><code>{esc(k)}</code></td><td class="num">{_number(round(v, 4))}</td><td>{esc(what[k])}</td>'
            "</tr>" for k, v in composite.BAP_DEFAULTS.items()]
    return ("<table>\n<tr><th>Setting</th><th>Default</th><th>Meaning</th></tr>\n" + "\n".join(rows)
            + "\n</table>")


PLACEHOLDERS = {"{{indices_table}}": indices_table, "{{search_grids_table}}": search_grids_table,
                "{{roy2016_table}}": roy2016_table, "{{scl_table}}": scl_table,
                "{{bap_defaults_table}}": bap_defaults_table}


def tool_page(alg, base, references, compat) -> str:
    keys, body = read_text(alg.ID)
    for mark, make in PLACEHOLDERS.items():
        if mark in body:
            body = body.replace(mark, make())
    missing = [s for s in REQUIRED_SECTIONS if s not in sections(body)]
    if missing:
        raise SystemExit(f"scripts/manual/{alg.ID}.html lacks the sections {missing}")
    unknown = [k for k in keys if k not in references.REFERENCES]
    if unknown:
        raise SystemExit(f"scripts/manual/{alg.ID}.html cites unknown references {unknown}")
    summary = "\n".join(f"<p>{esc(p.strip())}</p>" for p in alg.SUMMARY.split("\n") if p.strip())
    tags = ", ".join(alg.tags())
    parts = [
        NAV,
        f"<h1>{esc(alg.displayName())}</h1>",
        f'<p class="meta">Processing Toolbox: Mining Eco &gt; {esc(alg.group())} | algorithm id '
        f"<code>miningeco:{esc(alg.ID)}</code></p>",
        f'<p class="meta">{esc(alg.shortDescription())}. Search words: {esc(tags)}.</p>',
        "<h2>In short</h2>", summary,
        body,
        "<h2>Parameters</h2>",
        "<p>Each parameter's description is also its tooltip in the dialog and its line in "
        "<code>qgis_process help miningeco:" + esc(alg.ID) + "</code>. Enum parameters take the number of the "
        "option on the command line.</p>",
        parameter_table(alg, compat),
        "<h2>Outputs</h2>",
        output_table(alg, compat),
        "<h2>References</h2>",
        "<ol>\n" + "\n".join(reference_item(k, references.REFERENCES[k]) for k in keys) + "\n</ol>",
        '<p>All works cited by the tools, with the four reference studies of the plugin: '
        '<a href="references.html">References</a>.</p>',
    ]
    return _page(f"{alg.displayName()} - Mining Eco manual", "\n".join(parts))


def index_page(algs, base) -> str:
    parts = [NAV, "<h1>Mining Eco manual</h1>",
             "<p>Processing tools for the ecology and soil salinity of mining areas from Landsat and Sentinel-2 "
             "imagery. Every tool runs from the Processing Toolbox (group <i>Mining Eco</i>), in the Graphical "
             "Modeler and headless with <code>qgis_process run miningeco:&lt;id&gt; -- ...</code>. The dialog's "
             "<i>Help</i> button opens the tool's page below; <code>qgis_process help miningeco:&lt;id&gt;</code> "
             "prints its short help and parameters.</p>",
             "<p>The groups are listed here in the order of a study: indices of the scenes, ecology (RSEI, "
             "ecological grade), change over the years, soil salinity, productivity, and the drivers of what was "
             "found. The Processing Toolbox lists them alphabetically: QGIS sorts groups by name and offers "
             "no way to order them.</p>"]
    for group, title in base.GROUPS.items():
        members = [a for a in algs if a.GROUP == group]
        if not members:
            continue
        parts.append(f"<h2>{esc(title)}</h2>\n<ul>")
        parts += [f'<li><a href="{a.ID}.html">{esc(a.displayName())}</a> (<code>miningeco:{a.ID}</code>): '
                  f"{esc(a.shortDescription())}.</li>" for a in members]
        parts.append("</ul>")
    parts.append('<p>Full citations of the reference studies and the literature: '
                 '<a href="references.html">References</a>. Where the raster blocks are computed (local threads, '
                 'worker processes, a dask cluster): <a href="executors.html">Raster executors</a>.</p>')
    return _page("Mining Eco manual", "\n".join(parts))


def references_page(algs, references) -> str:
    cited = {}
    for a in algs:
        for key in read_text(a.ID)[0]:
            cited.setdefault(key, []).append(a)
    unused = [k for k in references.REFERENCES if k not in cited and k not in references.STUDIES]
    if unused:
        raise SystemExit(f"references.py holds works no tool cites: {unused}")

    def item(key):
        ref = references.REFERENCES[key]
        users = ", ".join(f'<a href="{a.ID}.html">{esc(a.displayName())}</a>' for a in cited.get(key, []))
        text = reference_item(key, ref, link=False)[:-len("</li>")]
        return text + (f"<br><small>Cited by: {users}</small>" if users else "") + "</li>"

    others = sorted((k for k in references.REFERENCES if k not in references.STUDIES),
                    key=lambda k: references.REFERENCES[k].full.lower())
    parts = [NAV, "<h1>References</h1>",
             "<h2>The four reference studies</h2>",
             "<p>The tools implement the methods of these studies; their formulas, defaults and tables are the "
             "plugin's defaults. Where a study is ambiguous or has a slip, the tool follows the original "
             "literature and its manual page says so.</p>",
             "<ol>\n" + "\n".join(item(k) for k in references.STUDIES) + "\n</ol>",
             "<h2>Literature</h2>",
             "<ul>\n" + "\n".join(item(k) for k in others) + "\n</ul>"]
    return _page("References - Mining Eco manual", "\n".join(parts))


def render(provider) -> dict[str, str]:
    """{file name: HTML} of every page of the manual, for the algorithms of ``provider``."""
    base, references = _import_plugin()
    from mining_eco_plugin import compat
    from mining_eco_plugin.provider import ALGORITHMS
    order = {cls: i for i, cls in enumerate(ALGORITHMS)}
    algs = sorted(provider.algorithms(), key=lambda a: (list(base.GROUPS).index(a.GROUP), order[type(a)]))
    pages = {f"{a.ID}.html": tool_page(a, base, references, compat) for a in algs}
    pages["index.html"] = index_page(algs, base)
    pages["references.html"] = references_page(algs, references)
    with open(os.path.join(TEXTS, "_executors.html"), encoding="utf-8") as f:
        pages["executors.html"] = _page("Raster executors - Mining Eco manual", NAV + "\n" + f.read().strip())
    return pages


def main(argv=None):
    base, _references = _import_plugin()
    from qgis.core import QgsApplication
    app = QgsApplication([], False)
    app.initQgis()
    from mining_eco_plugin.provider import MiningEcoProvider
    provider = MiningEcoProvider()
    QgsApplication.processingRegistry().addProvider(provider)
    pages = render(provider)
    os.makedirs(base.DOCS, exist_ok=True)
    for name in os.listdir(base.DOCS):               # no stale page of a removed tool
        if name.endswith(".html") and name not in pages:
            os.remove(os.path.join(base.DOCS, name))
    for name, text in pages.items():
        with open(os.path.join(base.DOCS, name), "w", encoding="utf-8") as f:
            f.write(text)
    print(f"{len(pages)} pages in {base.DOCS}")
    QgsApplication.processingRegistry().removeProvider(provider)


if __name__ == "__main__":
    main()
