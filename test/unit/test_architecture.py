"""Guardrails of the design card: core/ is pure (no QGIS, GDAL or Qt), algorithms never
touch the project or dialogs, and no user text is ever eval'd (checked by parsing the code)."""
import ast
import pathlib

import pytest

PLUGIN = pathlib.Path(__file__).resolve().parents[2] / "mining_eco_plugin"
FORBIDDEN_IN_CORE = {"qgis", "osgeo", "PyQt5", "processing", "gdal"}


def imported_roots(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0]


@pytest.mark.parametrize("path", sorted((PLUGIN / "core").glob("*.py")), ids=lambda p: p.name)
def test_core_imports_no_qgis_gdal_or_qt(path):
    assert not set(imported_roots(path)) & FORBIDDEN_IN_CORE


def test_core_modules_exist():
    # the guard above must not pass vacuously
    assert len(list((PLUGIN / "core").glob("*.py"))) >= 6


@pytest.mark.parametrize("path", sorted(PLUGIN.rglob("*.py")), ids=lambda p: str(p.relative_to(PLUGIN)))
def test_no_eval_exec_or_project_access(path):
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert not calls & {"eval", "exec", "compile"}
    if "algorithms" in path.parts:
        assert "QgsProject.instance" not in text and "QMessageBox" not in text


REPO = PLUGIN.parent
PYTHON_FILES = sorted(p for d in ("mining_eco_plugin", "test", "bench", "scripts") for p in (REPO / d).rglob("*.py"))


def band_of_temporary_dataset(tree):
    """Lines of ``<call>(...).GetRasterBand(...)``: the dataset returned by the call is not held by any
    name, so Python may collect it while its band is still in use. GDAL >= 3.8 (Debian 13) then raises
    ``TypeError ... GDALRasterBandShadow``; GDAL 3.6 (Debian 12) let it pass, so only this check catches it
    on every platform (issue 10, failure 2: raster/sampling.py read a block size this way)."""
    return [n.lineno for n in ast.walk(tree)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "GetRasterBand"
            and isinstance(n.func.value, ast.Call)]


def test_band_of_temporary_dataset_is_found():
    # the check must not pass vacuously: the pattern of the landed 0.5.0 is found, the held form is not
    assert band_of_temporary_dataset(ast.parse("b = gdal.Open(p).GetRasterBand(1).GetBlockSize()")) == [1]
    assert band_of_temporary_dataset(ast.parse("ds = gdal.Open(p)\nb = ds.GetRasterBand(1).GetBlockSize()")) == []


@pytest.mark.parametrize("path", PYTHON_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_no_band_of_a_temporary_dataset(path):
    assert band_of_temporary_dataset(ast.parse(path.read_text(encoding="utf-8"))) == [], \
        "hold the dataset in a variable while its band is used"
