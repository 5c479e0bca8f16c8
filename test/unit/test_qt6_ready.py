"""QGIS 4 (Qt 6) readiness of the plugin code, checked by parsing it (issue 10).

Qt 6 bindings (PyQt6, and QGIS 4 built on them) only know scoped enums: ``Qt.AlignmentFlag.AlignLeft``,
not ``Qt.AlignLeft``. `make qt6-check` runs QGIS's own migration script for the Qt enums, but without a
Qt 6 QGIS it cannot see QGIS's enums; this test does that part:

* no unscoped QGIS enum value such as ``QgsProcessing.TypeVector`` or ``QgsFeatureSink.FastInsert``:
  the scoped form instead, from ``Qgis`` (``Qgis.ProcessingSourceType.Vector``) or from the class
  (``QgsFeatureSink.Flag.FastInsert``);
* where QGIS 3.22 lacks the scoped enum, the name of ``mining_eco_plugin/compat.py``
  (``compat.ProcessingSourceType.Vector``), which picks the scoped enum when QGIS has it;
* no ``QVariant.Int``-style field types (Qt 6 has ``QMetaType.Type`` only): ``compat.FieldType``.

The first tests need no QGIS (they read the source); the last ones resolve every scoped name that the
plugin uses in the QGIS that runs the tests (3.22 here, 3.40 / 3.44 in `make test-matrix`).
"""
import ast
import pathlib

import pytest

PLUGIN = pathlib.Path(__file__).resolve().parents[2] / "mining_eco_plugin"
COMPAT = PLUGIN / "compat.py"
FILES = sorted(p for p in PLUGIN.rglob("*.py") if p != COMPAT)

# Unscoped enum value -> (scoped enum, its member, QGIS version that added the scoped enum).
# The Qgis.* names and versions are those of QGIS's python/core/auto_additions/*.py (the monkey patches
# that keep the old names working on QGIS 3) and of the enums' documentation ("Prior to QGIS 3.36 this
# was available as QgsProcessing.SourceType"); class enums (QgsFeatureSink.Flag) are scoped through
# their class, which QGIS 3.22's bindings accept already. Listed: what the plugin uses, plus the
# neighbours a Processing tool reaches for. A value missing here is still caught (see below).
SCOPED = {
    ("QgsProcessing", "TypeVector"): ("Qgis.ProcessingSourceType", "Vector", (3, 36)),
    ("QgsProcessing", "TypeVectorAnyGeometry"): ("Qgis.ProcessingSourceType", "VectorAnyGeometry", (3, 36)),
    ("QgsProcessing", "TypeVectorPoint"): ("Qgis.ProcessingSourceType", "VectorPoint", (3, 36)),
    ("QgsProcessing", "TypeVectorLine"): ("Qgis.ProcessingSourceType", "VectorLine", (3, 36)),
    ("QgsProcessing", "TypeVectorPolygon"): ("Qgis.ProcessingSourceType", "VectorPolygon", (3, 36)),
    ("QgsProcessing", "TypeRaster"): ("Qgis.ProcessingSourceType", "Raster", (3, 36)),
    ("QgsProcessing", "TypeFile"): ("Qgis.ProcessingSourceType", "File", (3, 36)),
    ("QgsProcessing", "TypeMapLayer"): ("Qgis.ProcessingSourceType", "MapLayer", (3, 36)),
    ("QgsProcessingParameterNumber", "Integer"): ("Qgis.ProcessingNumberParameterType", "Integer", (3, 36)),
    ("QgsProcessingParameterNumber", "Double"): ("Qgis.ProcessingNumberParameterType", "Double", (3, 36)),
    ("QgsProcessingParameterField", "Any"): ("Qgis.ProcessingFieldParameterDataType", "Any", (3, 36)),
    ("QgsProcessingParameterField", "Numeric"): ("Qgis.ProcessingFieldParameterDataType", "Numeric", (3, 36)),
    ("QgsProcessingParameterField", "String"): ("Qgis.ProcessingFieldParameterDataType", "String", (3, 36)),
    ("QgsProcessingParameterField", "DateTime"): ("Qgis.ProcessingFieldParameterDataType", "DateTime", (3, 36)),
    ("QgsProcessingParameterFile", "File"): ("Qgis.ProcessingFileParameterBehavior", "File", (3, 36)),
    ("QgsProcessingParameterFile", "Folder"): ("Qgis.ProcessingFileParameterBehavior", "Folder", (3, 36)),
    ("QgsProcessingParameterDefinition", "FlagAdvanced"): ("Qgis.ProcessingParameterFlag", "Advanced", (3, 36)),
    ("QgsProcessingParameterDefinition", "FlagHidden"): ("Qgis.ProcessingParameterFlag", "Hidden", (3, 36)),
    ("QgsProcessingParameterDefinition", "FlagOptional"): ("Qgis.ProcessingParameterFlag", "Optional", (3, 36)),
    ("QgsProcessingAlgorithm", "FlagNoThreading"): ("Qgis.ProcessingAlgorithmFlag", "NoThreading", (3, 36)),
    ("QgsRasterBandStats", "All"): ("Qgis.RasterBandStatistic", "All", (3, 36)),
    ("QgsRasterBandStats", "Min"): ("Qgis.RasterBandStatistic", "Min", (3, 36)),
    ("QgsRasterBandStats", "Max"): ("Qgis.RasterBandStatistic", "Max", (3, 36)),
    ("QgsRasterBandStats", "Mean"): ("Qgis.RasterBandStatistic", "Mean", (3, 36)),
    ("QgsColorRampShader", "Interpolated"): ("Qgis.ShaderInterpolationMethod", "Linear", (3, 38)),
    ("QgsColorRampShader", "Discrete"): ("Qgis.ShaderInterpolationMethod", "Discrete", (3, 38)),
    ("QgsColorRampShader", "Exact"): ("Qgis.ShaderInterpolationMethod", "Exact", (3, 38)),
    ("QgsWkbTypes", "NoGeometry"): ("Qgis.WkbType", "NoGeometry", (3, 30)),
    ("QgsWkbTypes", "Point"): ("Qgis.WkbType", "Point", (3, 30)),
    ("QgsWkbTypes", "Polygon"): ("Qgis.WkbType", "Polygon", (3, 30)),
    ("QgsFeatureSink", "FastInsert"): ("QgsFeatureSink.Flag", "FastInsert", (3, 0)),
    ("QgsContrastEnhancement", "StretchToMinimumMaximum"):
        ("QgsContrastEnhancement.ContrastEnhancementAlgorithm", "StretchToMinimumMaximum", (3, 0)),
}
OLDEST = (3, 22)  # qgisMinimumVersion: a scoped enum added after it goes through compat

# ``QgsClass.Name`` that is not an enum value: nested classes.
NESTED_CLASSES = {
    ("QgsPalettedRasterRenderer", "Class"),
    ("QgsColorRampShader", "ColorRampItem"),
    ("QgsProcessingContext", "LayerDetails"),
}


def _parents(tree):
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _dotted(node):
    """``a.b.c`` of an Attribute / Name chain, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id] + parts[::-1])
    return None


def _outermost(node, parents):
    """The longest ``a.b.c`` chain that ``node`` starts."""
    while isinstance(parents.get(node), ast.Attribute) and parents[node].value is node:
        node = parents[node]
    return node


def _is_constant_name(name):
    return name.upper() == name  # QGIS_VERSION_INT and friends are constants, not enums


def _wanted(cls, attr):
    scoped, member, since = SCOPED[(cls, attr)]
    if since > OLDEST:
        return f"compat.{scoped.split('.', 1)[1]}.{member} (Qgis since QGIS {since[0]}.{since[1]})"
    return f"{scoped}.{member}"


def unscoped_accesses(path):
    """[(line, text, what to write instead)] of one file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    parents = _parents(tree)
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)):
            continue
        cls, attr = node.value.id, node.attr
        chained = isinstance(parents.get(node), ast.Attribute) and parents[node].value is node
        if not attr[:1].isupper() or _is_constant_name(attr):
            continue  # methods, QGIS_VERSION_INT
        if cls == "QVariant":
            found.append((node.lineno, f"{cls}.{attr}", "compat.FieldType.* (QMetaType.Type on QGIS >= 3.38)"))
        elif (cls.startswith("Qgs") or cls == "Qgis") and not chained and (cls, attr) not in NESTED_CLASSES:
            hint = _wanted(cls, attr) if (cls, attr) in SCOPED else (
                "its scoped form (QGIS's python/core/auto_additions names it); add the pair to SCOPED, "
                "or to NESTED_CLASSES if it is a class")
            found.append((node.lineno, f"{cls}.{attr}", hint))
        elif cls == "Qgis" and chained and any(s == f"Qgis.{attr}" and since > OLDEST
                                               for s, _m, since in SCOPED.values()):
            found.append((node.lineno, f"Qgis.{attr}", f"compat.{attr} (not in QGIS {OLDEST[0]}.{OLDEST[1]})"))
    return sorted(found)


def test_files_found():
    assert len(FILES) > 30


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(PLUGIN)))
def test_no_unscoped_qgis_enums_or_qvariant_types(path):
    found = unscoped_accesses(path)
    assert not found, f"{path.relative_to(PLUGIN.parent)}: unscoped enum values (Qt 6 has scoped enums only):\n" + \
        "\n".join(f"  line {line}: {text} -> {hint}" for line, text, hint in found)


def test_the_check_sees_unscoped_enums(tmp_path):
    # the guard above must not pass vacuously
    sample = tmp_path / "sample.py"
    sample.write_text(
        "a = QgsProcessingParameterNumber.Integer\n"
        "b = [QgsProcessing.TypeVectorPoint]\n"
        "c = QgsFeatureSink.FastInsert\n"
        "d = QgsProcessingParameterFile.Folder\n"
        "e = QgsRasterBandStats.All\n"
        "f = QgsField('x', QVariant.Double)\n"
        "g = QgsSomethingNew.SomeValue\n"
        "h = Qgis.ProcessingSourceType.Vector\n"
        "ok = [QgsFeatureSink.Flag.FastInsert, compat.ProcessingSourceType.Vector, Qgis.QGIS_VERSION_INT,\n"
        "      QgsPalettedRasterRenderer.Class(1, None, 'a'), QgsWkbTypes.isCurvedType(1), Qgis.DataType.Float32]\n",
        encoding="utf-8")
    found = unscoped_accesses(sample)
    assert [line for line, _t, _h in found] == [1, 2, 3, 4, 5, 6, 7, 8]
    hints = dict((text, hint) for _l, text, hint in found)
    assert hints["QgsProcessingParameterNumber.Integer"].startswith("compat.ProcessingNumberParameterType.Integer")
    assert hints["QgsProcessing.TypeVectorPoint"].startswith("compat.ProcessingSourceType.VectorPoint")
    assert hints["QgsFeatureSink.FastInsert"] == "QgsFeatureSink.Flag.FastInsert"
    assert hints["QgsProcessingParameterFile.Folder"].startswith("compat.ProcessingFileParameterBehavior.Folder")
    assert hints["QgsRasterBandStats.All"].startswith("compat.RasterBandStatistic.All")


def test_compat_list_is_short_and_dated():
    """Every name of compat.py says which QGIS added its scoped form; none is older than 3.22's."""
    tree = ast.parse(COMPAT.read_text(encoding="utf-8"))
    since = None
    for node in tree.body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["SCOPED_SINCE"]:
            since = ast.literal_eval(node.value)
    assert since, "compat.py: SCOPED_SINCE = {name: (major, minor)} lists its names"
    assert len(since) <= 10
    assert all(v > OLDEST for v in since.values())
    scoped_in_table = {s.split(".", 1)[1] for s, _m, v in SCOPED.values() if v > OLDEST and s.startswith("Qgis.")}
    # each compat name that stands for a Qgis enum carries that enum's version from the table above
    for name, version in since.items():
        if name in scoped_in_table:
            assert {v for s, _m, v in SCOPED.values() if s == f"Qgis.{name}"} == {version}, name


# -- in the QGIS that runs the tests: every scoped name the plugin uses exists --------------------------

def _used_scoped_names():
    names = set()
    for path in FILES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        parents = _parents(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and (node.id == "Qgis" or node.id.startswith("Qgs") or node.id == "compat"):
                dotted = _dotted(_outermost(node, parents))
                if dotted and dotted.count(".") >= 2 and dotted.split(".")[2][:1].isupper():
                    names.add(".".join(dotted.split(".")[:3]))
    return sorted(names)


def test_scoped_names_resolve_in_this_qgis():
    core = pytest.importorskip("qgis.core")
    from mining_eco_plugin import compat
    names = _used_scoped_names()
    assert "compat.ProcessingSourceType.Vector" in names and "QgsFeatureSink.Flag.FastInsert" in names
    missing = []
    for dotted in names:
        head, *rest = dotted.split(".")
        obj = compat if head == "compat" else getattr(core, head)
        try:
            for part in rest:
                obj = getattr(obj, part)
        except AttributeError:
            missing.append(dotted)
    assert not missing, f"not in QGIS {core.Qgis.QGIS_VERSION}: {missing}"


def test_compat_picks_the_scoped_enum_when_qgis_has_it():
    core = pytest.importorskip("qgis.core")
    from mining_eco_plugin import compat
    for name in compat.SCOPED_SINCE:
        if name == "FieldType":
            continue
        if hasattr(core.Qgis, name):
            assert getattr(compat, name) is getattr(core.Qgis, name), name
    # the old values on 3.22, the new ones later: the same numbers either way (ids, defaults unchanged)
    assert int(compat.ProcessingSourceType.Vector) == 5 and int(compat.ProcessingSourceType.Raster) == 3
    assert int(compat.ProcessingNumberParameterType.Double) == 1
    assert int(compat.ShaderInterpolationMethod.Linear) == 0
    assert int(compat.WkbType.NoGeometry) == 100
