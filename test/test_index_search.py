"""miningeco:indexsearch and the named custom expressions of miningeco:spectralindices through processing.run and
qgis_process on real data.

Data: the North Carolina Landsat 7 ETM+ scene of 2000 (test/data/north_carolina/lsat7_2000_{10,20,30,40,50,70}.tif
= B, G, R, NIR, SWIR1, SWIR2, DN 0-255) and its 1000 real points landsat96_points.shp (see
test/test_sampling_screening.py). spectralindices (RADIOMETRY 4 custom, scale 1/255: DN as a 0-1 "reflectance", a
technical test) writes the six bands named by their roles (CUSTOM_EXPRESSIONS "B=B;G=G;...") and the four indices
of Lan et al. 2025 (SAI, TRSI, SBCI, GOSI) into one stack; samplerasters samples it at the points. The points
carry no salinity: their land-cover code (field ``id``) and a synthetic target built from a known formula serve
as targets.

References: the published indices' values = the SAI / TRSI / SBCI / GOSI bands spectralindices wrote, sampled at
the same points; their r = numpy.corrcoef of those sampled values with the target; the chained index = the
formula computed here by hand with numpy on the DN rasters read with GDAL.
"""
from __future__ import annotations

import csv
import os
import shutil

import numpy as np
import pytest
from osgeo import gdal, ogr

from paths import DATA
from mining_eco_plugin.core import indices as ix
from mining_eco_plugin.core.expression import BandExpression

gdal.UseExceptions()
ogr.UseExceptions()

NC = os.path.join(DATA, "north_carolina")
BAND = {role: os.path.join(NC, f"lsat7_2000_{b}.tif") for role, b in
        (("BLUE", 10), ("GREEN", 20), ("RED", 30), ("NIR", 40), ("SWIR1", 50), ("SWIR2", 70))}
ROLES = ["B", "G", "R", "NIR", "SWIR1", "SWIR2"]
FILE_OF = dict(zip(ROLES, BAND.values()))
POINTS = os.path.join(NC, "landsat96_points.shp")
PUBLISHED = {"SAI": "SAI_G_NIR_SWIR1", "TRSI": "TRSI_SWIR1_NIR_B", "SBCI": "SBCI_SWIR1_G_R",
             "GOSI": "GOSI_R_NIR_SWIR1"}
SCENE = dict(SENSOR=1, RADIOMETRY=4, SCALE=1 / 255, OFFSET=0, **BAND)


def run(alg, params):
    import processing
    return processing.run(f"miningeco:{alg}", params)


def read_layer(path):
    ds = ogr.Open(str(path))
    rows = [{k: f.GetField(k) for k in f.keys()} for f in ds.GetLayer(0)]
    return {k: np.array([r[k] for r in rows], dtype=np.float64) for k in rows[0]
            if all(isinstance(r[k], (int, float)) for r in rows)}


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def sampled(provider, tmp_path_factory):
    out = tmp_path_factory.mktemp("index_search")
    keys = list(ix.INDICES)
    res = run("spectralindices", dict(SCENE, INDICES=[keys.index(k) for k in PUBLISHED],
                                      CUSTOM_EXPRESSIONS=";".join(f"{r}={r}" for r in ROLES),
                                      OUTPUT=str(out / "stack.tif")))
    ds = gdal.Open(res["OUTPUT"])
    assert [ds.GetRasterBand(b + 1).GetDescription() for b in range(ds.RasterCount)] == list(PUBLISHED) + ROLES
    ds = None
    res = run("samplerasters", dict(POINTS=POINTS, RASTERS=[str(out / "stack.tif")], OUTPUT=str(out / "s.gpkg")))
    assert res["SAMPLED_COUNT"] > 500     # points on nodata of an index (DN 0: zero denominators) are rejected
    return out, str(out / "s.gpkg")


def test_published_indices_are_candidates_with_the_calculators_values(sampled):
    out, samples = sampled
    res = run("indexsearch", dict(INPUT=samples, TARGET_FIELD="id", OUTPUT_TABLE=str(out / "by_id.csv"),
                                  OUTPUT_REPORT=str(out / "by_id.html")))
    table = {r["name"]: r for r in read_csv(out / "by_id.csv")}
    assert res["N_CANDIDATES"] == len(table) and res["N_CANDIDATES"] + res["N_SKIPPED"] <= 600
    data = read_layer(samples)
    bands = {r: data[r] for r in ROLES}
    for key, name in PUBLISHED.items():
        row = table[name]
        # the candidate's formula, evaluated by the calculator's evaluator on the sampled bands = the index the
        # calculator wrote, sampled at the same points (float32 rasters: 1e-5)
        values = BandExpression(row["expression"], ROLES).evaluate(bands)
        np.testing.assert_allclose(values, data[key], rtol=1e-5, atol=1e-6, err_msg=key)
        r = np.corrcoef(data[key], data["id"])[0, 1]
        assert abs(float(row["r"]) - r) < 1e-5, (key, row["r"], r)
    report = (out / "by_id.html").read_text(encoding="utf-8")
    assert report.count("data:image/png;base64") == 3         # DIFF, RATIO, ND heatmaps
    assert "Cross-validated selection" in report


@pytest.fixture(scope="module")
def synthetic(sampled):
    """The samples with a target ``ec`` = NIR/(R+SWIR1) (form RS) + Gaussian noise of 0.3 of its spread."""
    out, samples = sampled
    path = str(out / "synthetic.gpkg")
    shutil.copy(samples, path)
    ds = ogr.Open(path, 1)
    layer = ds.GetLayer(0)
    layer.CreateField(ogr.FieldDefn("ec", ogr.OFTReal))
    feats = list(layer)
    v = np.array([f.GetField("NIR") / (f.GetField("R") + f.GetField("SWIR1")) for f in feats])
    y = v + np.random.default_rng(15).normal(0.0, 0.3 * v.std(), v.size)
    for f, value in zip(feats, y):
        f.SetField("ec", float(value))
        layer.SetFeature(f)
    ds = None
    return out, path


def test_known_form_ranks_first_and_chains_into_the_calculator(synthetic):
    out, samples = synthetic
    res = run("indexsearch", dict(INPUT=samples, TARGET_FIELD="ec", BAND_FIELDS=ROLES, TRANSFORMS=[0, 1, 2],
                                  TOP_N=3, OUTPUT_TABLE=str(out / "ec.csv"), OUTPUT_REPORT=str(out / "ec.html")))
    rows = read_csv(out / "ec.csv")
    assert rows[0]["name"] == "RS_NIR_R_SWIR1" and rows[0]["expression"] == "NIR/(R+SWIR1)"
    assert float(rows[0]["selection_frequency"]) == 1.0 and rows[0]["significant"].lower() in ("true", "1")
    lines = res["SELECTED_EXPRESSIONS"].split("\n")
    assert len(lines) == 3 and lines[0] == "RS_NIR_R_SWIR1=NIR/(R+SWIR1)"
    assert res["BEST_EXPRESSION"] == "NIR/(R+SWIR1)" and res["CV_R"] > 0.9
    assert (out / "ec.html").read_text(encoding="utf-8").count("data:image/png;base64") == 12    # 3 forms x 4
    # the selection chains into the calculator: each line a band named by its name
    chained = run("spectralindices", dict(SCENE, INDICES=[], CUSTOM_EXPRESSIONS=res["SELECTED_EXPRESSIONS"],
                                          OUTPUT=str(out / "chained.tif")))
    ds = gdal.Open(chained["OUTPUT"])
    assert [ds.GetRasterBand(b + 1).GetDescription() for b in range(ds.RasterCount)] == \
        [line.split("=")[0] for line in lines]
    got = ds.GetRasterBand(1).ReadAsArray().astype(np.float64)
    nodata = ds.GetRasterBand(1).GetNoDataValue()
    ds = None
    got[got == nodata] = np.nan
    want = hand_rs()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    ok = np.isfinite(want)
    np.testing.assert_allclose(got[ok], want[ok], rtol=2e-6)


def test_qgis_process_runs_headless(qgis_process, synthetic, tmp_path):
    _out, samples = synthetic
    help_text = qgis_process("help", "miningeco:indexsearch").stdout
    assert "SELECTED_EXPRESSIONS" in help_text and "Holm" in help_text
    results = qgis_process.results("miningeco:indexsearch", "--", f"INPUT={samples}", "TARGET_FIELD=ec",
                                   "FORMS=0", "FORMS=1", "FORMS=2", "FORMS=10", "TOP_N=2",
                                   f"OUTPUT_TABLE={tmp_path / 't.csv'}")
    assert results["SELECTED_EXPRESSIONS"].split("\n")[0] == "RS_NIR_R_SWIR1=NIR/(R+SWIR1)"
    assert results["N_CANDIDATES"] == len(read_csv(tmp_path / "t.csv")) > 0


# --------------------------------------------------------------------------------------- Graphical Modeler
MODEL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "models", "index_search_chain.model3")


def hand_rs(roles=("NIR", "R", "SWIR1")):
    """NIR / (R + SWIR1) of the scene by hand: DN / 255 (nodata -> NaN), numpy float64."""
    dn = {}
    for r in roles:
        src = gdal.Open(FILE_OF[r])         # kept open while its band is read
        band = src.GetRasterBand(1)
        a = band.ReadAsArray().astype(np.float64)
        if band.GetNoDataValue() is not None:
            a[a == band.GetNoDataValue()] = np.nan
        dn[r] = a / 255.0
        src = band = None
    with np.errstate(all="ignore"):
        want = dn["NIR"] / (dn["R"] + dn["SWIR1"])
    want[~np.isfinite(want)] = np.nan
    return want


def test_saved_model_is_what_the_script_builds(provider, tmp_path):
    from modelkit import saved_model_as_built
    model = saved_model_as_built("build_index_search_chain.py", MODEL, tmp_path)
    assert set(model.childAlgorithms()) == {"bands", "sample", "search", "indices"}
    [source] = model.childAlgorithm("indices").parameterSources()["CUSTOM_EXPRESSIONS"]
    assert (source.outputChildId(), source.outputName()) == ("search", "SELECTED_EXPRESSIONS")


def test_model_chain_runs_headless(qgis_process, synthetic, tmp_path):
    """samples -> bands -> index search -> the selected formulas on the scene, through qgis_process."""
    _out, samples = synthetic
    points = str(tmp_path / "ec_points.gpkg")            # the points with their target only
    src = ogr.Open(samples)
    dst = ogr.GetDriverByName("GPKG").CreateDataSource(points)
    layer_in = src.GetLayer(0)
    layer = dst.CreateLayer("ec", layer_in.GetSpatialRef(), ogr.wkbPoint)
    layer.CreateField(ogr.FieldDefn("ec", ogr.OFTReal))
    for f in layer_in:
        g = ogr.Feature(layer.GetLayerDefn())
        g.SetGeometry(f.GetGeometryRef().Clone())
        g.SetField("ec", f.GetField("ec"))
        layer.CreateFeature(g)
    dst = src = layer = layer_in = None
    args = ["SENSOR=1", "RADIOMETRY=4", f"SCALE={1 / 255!r}", "OFFSET=0",
            *(f"{role}={path}" for role, path in BAND.items()), f"POINTS={points}", "TARGET=ec", "TOP_N=2",
            f"indices:NEW_INDICES={tmp_path / 'new.tif'}", f"search:FORMULAS={tmp_path / 'formulas.csv'}"]
    qgis_process("run", MODEL, "--", *args, timeout=600)
    rows = read_csv(tmp_path / "formulas.csv")
    assert rows[0]["name"] == "RS_NIR_R_SWIR1"
    ds = gdal.Open(str(tmp_path / "new.tif"))
    assert [ds.GetRasterBand(b + 1).GetDescription() for b in range(ds.RasterCount)] == \
        list(PUBLISHED) + [rows[0]["name"], rows[1]["name"]]
    got = ds.GetRasterBand(5).ReadAsArray().astype(np.float64)
    nodata = ds.GetRasterBand(5).GetNoDataValue()
    ds = None
    got[got == nodata] = np.nan
    want = hand_rs()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    ok = np.isfinite(want)
    np.testing.assert_allclose(got[ok], want[ok], rtol=2e-6)
