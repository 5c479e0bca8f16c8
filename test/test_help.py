"""Help a newcomer can read (issue 11, defects 15 and 16).

Two layers: a short help of at most 1,500 characters of plain text per tool (what it does, its inputs and
outputs, one citation line), which QGIS's help panel shows paragraph by paragraph and ``qgis_process help``
prints as it is; and a manual page per tool shipped in the plugin (docs/<id>.html, opened by helpUrl(): the
dialog's Help button) with the formulas, the defaults and why, a worked example and full references, plus one
References page. Each parameter's one-line help is the parameter's own (tooltip, qgis_process's argument list)
and is not repeated in the short help. The studies are cited by author, year and journal, never by the
project's nicknames for them. The Toolbox search finds the tools by the words of their field (tags(),
shortDescription()); every group has its own icon."""
from __future__ import annotations

import html
import importlib.util
import os
import re

import pytest

from paths import ROOT

PKG = os.path.join(ROOT, "mining_eco_plugin")
DOCS = os.path.join(PKG, "docs")
LIMIT = 1500
# the project's internal names of the four reference studies, and pointers to files users do not have. A place
# name is fine where it names the place ("the Zhundong mining area", "the Changhe Basin").
NICKNAMES = re.compile(r"\b(ningdong|zhundong|coastal|changhe)\b(?!\s+(mining|basin))|\bseed\b(?!s? (?:\d|of the|"
                       r"the same))|\bseed's\b|\bthe seeds?\b", re.IGNORECASE)
UNSHIPPED = re.compile(r"INDICES\.md|DESIGN\.md|core/|\.py\b|SEARCH_GRIDS")
TAG = re.compile(r"</?[a-zA-Z][^>]*>")    # a markup tag (Qt's rich text would swallow it); "p < 0.05" is text


def _algorithms(provider):
    algs = sorted(provider.algorithms(), key=lambda a: a.id())
    assert len(algs) >= 20
    return algs


def _described(alg):
    """What qgis_process prints under "Description": the short description, then the short help."""
    return "\n".join(t for t in (alg.shortDescription(), alg.shortHelpString()) if t)


def _nicknames(text):
    # "random seed", "Sampling seed", the SEED parameter, "seeded" are about random numbers, not the studies
    cleaned = re.sub(r"(random|sampling|same|fixed|a|the CV folds'?|with|for the same)\s+seed\b", "", text,
                     flags=re.IGNORECASE)
    cleaned = re.sub(r"\bSEED\b", "", cleaned)
    cleaned = re.sub(r"\bseeded\b", "", cleaned, flags=re.IGNORECASE)
    return NICKNAMES.findall(cleaned)


# ------------------------------------------------------------------------------------------------- short help
def test_short_help_is_plain_text_within_the_limit(provider):
    lengths = {}
    for alg in _algorithms(provider):
        text = _described(alg)
        lengths[alg.id()] = len(text)
        assert len(text) <= LIMIT, (alg.id(), len(text))
        assert not TAG.search(text) and "&" not in text and "<" not in text, alg.id()
        assert alg.SOURCE and f"{alg.SOURCE_LABEL}: " in text, alg.id()   # one citation line
        assert f"docs/{alg.name()}.html" in text, alg.id()   # where the manual is, also for qgis_process users
        assert len(alg.SUMMARY.split("\n")) >= 2, alg.id()  # paragraphs, not a wall of text
    assert max(lengths.values()) <= LIMIT and min(lengths.values()) > 300, lengths


def test_each_parameter_is_documented_once_in_its_own_help(provider):
    for alg in _algorithms(provider):
        text = alg.shortHelpString()
        for d in alg.parameterDefinitions():
            assert d.help().strip(), (alg.id(), d.name())          # its tooltip and qgis_process's argument line
            assert not TAG.search(d.help() + d.description()), (alg.id(), d.name())   # the tooltip is rich text
            assert d.help() not in text, (alg.id(), d.name())      # not repeated in the description
        assert text.count("\n") <= 8, alg.id()                      # a few paragraphs, no line per parameter


def test_help_cites_studies_by_author_not_nickname_and_points_to_no_unshipped_file(provider):
    for alg in _algorithms(provider):
        texts = [_described(alg), alg.SOURCE]
        for d in alg.parameterDefinitions():
            texts += [d.description(), d.help()]
            if d.type() == "enum":
                texts += list(d.options())
        texts += [help_text for _name, _label, help_text in alg.help_lines()]
        texts += [o.description() for o in alg.outputDefinitions()]
        for t in texts:
            assert not _nicknames(t), (alg.id(), t)
            assert not UNSHIPPED.search(t), (alg.id(), t)


def test_the_nickname_check_is_not_vacuous():
    assert _nicknames("as in the ningdong study") and _nicknames("zhundong seed, section 2")
    assert _nicknames("(coastal Table 5)") and _nicknames("changhe 2.2.2") and _nicknames("the seed's choice")
    assert not _nicknames("Han et al. 2025, the Zhundong mining area, the Changhe Basin, Random seed, SEED")


# ------------------------------------------------------------------------------------------------- manual
def _load_generator():
    spec = importlib.util.spec_from_file_location("build_manual", os.path.join(ROOT, "scripts", "build_manual.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _page_text(name):
    with open(os.path.join(DOCS, name), encoding="utf-8") as f:
        return f.read()


def test_help_url_opens_the_shipped_manual_page(provider):
    from qgis.PyQt.QtCore import QUrl
    for alg in _algorithms(provider):
        url = QUrl(alg.helpUrl())
        assert url.isLocalFile(), (alg.id(), alg.helpUrl())
        path = url.toLocalFile()
        assert os.path.samefile(os.path.dirname(path), DOCS) and os.path.isfile(path), path
        assert os.path.basename(path) == f"{alg.name()}.html"


def test_every_manual_page_has_method_defaults_example_parameters_and_links_references(provider):
    from mining_eco_plugin.algorithms.references import REFERENCES, STUDIES
    index = _page_text("index.html")
    for alg in _algorithms(provider):
        page = _page_text(f"{alg.name()}.html")
        for section in ("In short", "Method", "Defaults and why", "Worked example", "Parameters", "Outputs",
                        "References"):
            assert f"<h2>{section}</h2>" in page, (alg.id(), section)
        assert 'href="references.html"' in page and 'href="index.html"' in page, alg.id()
        assert f'href="{alg.name()}.html"' in index, alg.id()
        for d in alg.parameterDefinitions():                 # every parameter with its help, from the metadata
            assert f"<code>{d.name()}</code>" in page and html.escape(d.help(), quote=False) in page, \
                (alg.id(), d.name())
        for o in alg.outputDefinitions():
            assert f"<code>{o.name()}</code>" in page, (alg.id(), o.name())
        assert re.search(r'<li class="ref" id="[a-z0-9_]+">', page), alg.id()   # full references of the page
    refs = _page_text("references.html")
    for key in STUDIES:                                        # the four studies with full citations, first
        assert f'id="{key}"' in refs
    assert refs.index(f'id="{STUDIES[-1]}"') < min(refs.index(f'id="{k}"') for k in REFERENCES if k not in STUDIES)
    assert "Sustainability 17(20): 9075" in refs and "Remote Sensing 14(17): 4177" in refs
    assert "He Y., Du H., Bi Y., Liu Y. (2026)" in refs and "46th Asian Conference on Remote Sensing" in refs


def test_manual_names_no_nickname_and_no_unshipped_file():
    for name in sorted(os.listdir(DOCS)):
        text = re.sub(r"<[^>]+>", " ", _page_text(name))      # the text a reader sees
        text = html.unescape(text)
        assert not _nicknames(text), (name, _nicknames(text)[:3])
        assert not re.search(r"INDICES\.md|DESIGN\.md|SEARCH_GRIDS", text), name


def test_committed_manual_is_what_the_generator_renders(provider):
    """The pages are rendered from one template (scripts/build_manual.py) from the tools' metadata and the texts of
    scripts/manual/: a change to a parameter or its help must be followed by `make manual`."""
    pages = _load_generator().render(provider)
    assert sorted(pages) == sorted(n for n in os.listdir(DOCS) if n.endswith(".html")), "run make manual"
    stale = [name for name, text in pages.items() if _page_text(name) != text]
    assert not stale, f"the committed manual differs from what scripts/build_manual.py renders: {stale}; run make manual"


def test_manual_page_renders_in_qt(provider, tmp_path):
    """QGIS shows HTML through Qt's rich-text engine; the page lays out there (tables, formulas) at a sane size."""
    from qgis.PyQt.QtCore import QRectF, QUrl
    from qgis.PyQt.QtGui import QColor, QImage, QPainter, QTextDocument
    path = os.path.join(DOCS, "rsei.html")
    img = QImage(1000, 1400, QImage.Format_ARGB32)
    img.fill(QColor("white"))
    doc = QTextDocument()
    doc.documentLayout().setPaintDevice(img)
    doc.setBaseUrl(QUrl.fromLocalFile(path))
    doc.setHtml(_page_text("rsei.html"))
    doc.setTextWidth(1000)
    painter = QPainter(img)
    doc.drawContents(painter, QRectF(0, 0, 1000, 1400))
    painter.end()
    assert img.save(str(tmp_path / "rsei.png"))
    assert 3000 < doc.size().height() < 20000
    assert "Worked example" in doc.toPlainText() and "RSEI = (PC1" in doc.toPlainText()


# ------------------------------------------------------------------------------------------------- qgis_process
def test_qgis_process_help_is_plain_text_under_the_limit(qgis_process, provider):
    """What `qgis_process help` prints for every tool: a plain description of at most 1,500 characters, and every
    parameter's help exactly once (in the argument list)."""
    for alg in _algorithms(provider):
        out = qgis_process("help", alg.id()).stdout
        m = re.search(r"-+\nDescription\n-+\n(.*?)\n\n-+\nArguments\n", out, re.DOTALL)
        assert m, (alg.id(), out[:500])
        description = m.group(1).strip()
        assert len(description) <= LIMIT, (alg.id(), len(description))
        listing = out.split("\n----------------\nOutputs\n")[0]   # qgis_process marks output types as <outputRaster>
        assert not TAG.search(listing), (alg.id(), TAG.search(listing).group(0))
        for d in alg.parameterDefinitions():
            same = sum(1 for e in alg.parameterDefinitions() if e.help() == d.help())   # e.g. INPUT_X and INPUT_Y
            assert out.count(d.help()) == same, (alg.id(), d.name(), out.count(d.help()))
            assert re.search(rf"^{d.name()}: ", out, re.MULTILINE), (alg.id(), d.name())


# ------------------------------------------------------------------------------------------------- toolbox
@pytest.mark.parametrize("search, expected", [
    ("ndvi", {"spectralindices", "rsei", "rseicomponents", "casanpp"}),
    ("salt", {"spectralindices", "samplerasters", "vipscreening", "trainmodel", "applymodel"}),
    ("soil salt", {"spectralindices", "samplerasters", "vipscreening", "trainmodel", "applymodel"}),
    ("remote sensing ecological", {"rsei", "rseicomponents", "coupling"}),
    ("rsei", {"rsei", "rseicomponents", "coupling"}),
    ("npp", {"casanpp"}),
    ("trend", {"trend"}),
    ("salinity", {"applymodel", "trainmodel", "vipscreening", "samplerasters"}),
    ("geodetector", {"geodetector"}),
    ("land surface temperature", {"lst"}),
    ("transfer matrix", {"transfermatrix"}),
])
def test_toolbox_search_finds_tools_by_the_words_of_their_field(provider, search, expected):
    """QGIS's own Toolbox filter (QgsProcessingToolboxProxyModel: every word of the search must be found in the
    name, a tag or the short description) finds the tools."""
    from qgis.core import QgsApplication
    from qgis.gui import QgsProcessingToolboxProxyModel
    from qgis.PyQt.QtCore import QModelIndex
    proxy = QgsProcessingToolboxProxyModel(None, QgsApplication.processingRegistry())
    proxy.setFilterString(search)
    found = set()

    def walk(parent):
        for row in range(proxy.rowCount(parent)):
            index = proxy.index(row, 0, parent)
            alg = proxy.toolboxModel().algorithmForIndex(proxy.mapToSource(index))
            if alg is not None and alg.provider() is not None and alg.provider().id() == "miningeco":
                found.add(alg.name())
            walk(index)
    walk(QModelIndex())
    assert expected <= found, (search, sorted(found))


def test_every_tool_has_tags_a_short_description_and_its_group_icon(provider):
    from qgis.PyQt.QtSvg import QSvgRenderer
    from mining_eco_plugin.algorithms.base import GROUPS, group_icon
    icons = {}
    for alg in _algorithms(provider):
        assert len(alg.tags()) >= 5 and alg.shortDescription(), alg.id()
        assert len(alg.shortDescription()) <= 120 and "\n" not in alg.shortDescription(), alg.id()
        assert alg.svgIconPath() == group_icon(alg.groupId()) and not alg.icon().isNull(), alg.id()
        icons.setdefault(alg.groupId(), set()).add(alg.svgIconPath())
    assert set(icons) == set(GROUPS) and all(len(v) == 1 for v in icons.values())   # one icon per group ...
    paths = [next(iter(v)) for v in icons.values()]
    assert len(set(paths)) == len(GROUPS)                                          # ... and a different one each
    contents = set()
    for path in paths:
        assert QSvgRenderer(path).isValid(), path
        with open(path, encoding="utf-8") as f:
            contents.add(f.read())
    assert len(contents) == len(GROUPS)


def test_toolbox_lists_groups_alphabetically_so_the_manual_gives_the_workflow_order(provider):
    """QGIS sorts the Toolbox's groups by name and has no API to order them (documented in base.GROUPS and the
    manual's index, which lists the groups in the order of a study)."""
    from qgis.core import QgsApplication
    from qgis.gui import QgsProcessingToolboxProxyModel
    from qgis.PyQt.QtCore import QModelIndex
    from mining_eco_plugin.algorithms.base import GROUPS
    proxy = QgsProcessingToolboxProxyModel(None, QgsApplication.processingRegistry())
    names = None
    for row in range(proxy.rowCount(QModelIndex())):
        index = proxy.index(row, 0, QModelIndex())
        if proxy.data(index) == provider.name():
            names = [proxy.data(proxy.index(r, 0, index)) for r in range(proxy.rowCount(index))]
    assert names is not None
    groups = [n for n in names if n in GROUPS.values()]
    assert groups == sorted(GROUPS.values(), key=str.lower) and len(groups) == len(GROUPS)
    index = _page_text("index.html")
    positions = [index.index(f"<h2>{name}</h2>") for name in GROUPS.values()]
    assert positions == sorted(positions)                  # the manual follows the workflow
