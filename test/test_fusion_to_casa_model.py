"""test/models/fusion_to_casa.model3 (built by test/models/build_fusion_to_casa.py): fused monthly NDVI of
miningeco:estarfm straight into miningeco:casanpp. The saved model is what the script builds, it validates as the
Modeler checks it, and it runs headless (qgis_process run of the .model3, and processing.run of the model) on NDVI
derived from the real North Carolina ETM+ scene (test/data/north_carolina): a 160 x 160 pixel clip of the red and
NIR bands of 2000, changed per land-cover class of strata.tif as in test/test_estarfm_algorithm.py (CHANGE, with a
share of it reached each month), NDVI = (NIR - red) / (NIR + red) at 2000-04-01 (tm), 05-01, 06-01, 07-01 (the
months fused) and 08-01 (tn), each degraded to 480 m (GDAL average of the fine NDVI) as the coarse NDVI.

Reference: the two tools run one after the other through processing.run (estarfm, then casanpp on its FUSED_FILES
in date order): the model gives the same NPP, monthly NPP and fused NDVI. The land cover is strata.tif (codes 1-7
read with casanpp's default table, a TECHNICAL land cover, not a CLCD map).
"""
from __future__ import annotations

import csv
import os

import numpy as np
import pytest
from osgeo import gdal

from paths import DATA, ROOT
from test_estarfm_algorithm import CHANGE

gdal.UseExceptions()
NC = os.path.join(DATA, "north_carolina")
MODEL = os.path.join(ROOT, "test", "models", "fusion_to_casa.model3")
CLIP = (150, 150, 160, 160)                       # xoff, yoff, columns, rows of the NC scene
TM, TN = "2000-04-01", "2000-08-01"
MONTHS = ("2000-05-01", "2000-06-01", "2000-07-01")
# share of the class change (CHANGE) reached at tm, each month and tn: crops and grass green up early, forest late
SHARE = {1: (0, .3, .5, .8, 1), 2: (0, .5, .85, .95, 1), 3: (0, .4, .7, .9, 1), 4: (0, .2, .4, .7, 1),
         5: (0, .1, .25, .6, 1), 6: (0, .6, .9, .95, 1), 7: (0, .05, .1, .5, 1)}
CLIMATE = {"TEMPERATURE_VALUES": "16.5, 21.0, 24.5", "PRECIPITATION_VALUES": "95, 100, 120",
           "SOLAR_RADIATION_VALUES": "620, 640, 630"}
HALF_WINDOW = 8


def _clip(name):
    ds = gdal.Translate("", os.path.join(NC, name), format="MEM", srcWin=CLIP)
    a = ds.GetRasterBand(1).ReadAsArray().astype(np.float64)
    nd = ds.GetRasterBand(1).GetNoDataValue()
    if nd is not None:
        a[a == nd] = np.nan
    return a, ds


def _write(path, a, like, nodata=-9999.0, dtype=gdal.GDT_Float32):
    out = gdal.GetDriverByName("GTiff").Create(str(path), like.RasterXSize, like.RasterYSize, 1, dtype)
    out.SetGeoTransform(like.GetGeoTransform())
    out.SetProjection(like.GetProjection())
    band = out.GetRasterBand(1)
    band.SetNoDataValue(nodata)
    band.WriteArray(np.where(np.isfinite(a), a, nodata))
    out = None
    return str(path)


@pytest.fixture(scope="module")
def ndvi(tmp_path_factory):
    """{date: (fine NDVI path, coarse NDVI path)} and the land-cover path."""
    folder = tmp_path_factory.mktemp("fusion_casa")
    red, like = _clip("lsat7_2000_30.tif")
    nir, _ = _clip("lsat7_2000_40.tif")
    strata, _ = _clip("strata.tif")
    out = {}
    for k, date in enumerate((TM,) + MONTHS + (TN,)):
        r, n = red.copy(), nir.copy()
        for code, (dr, dn) in CHANGE.items():
            sel = strata == code
            r[sel] += dr * SHARE[code][k]
            n[sel] += dn * SHARE[code][k]
        r, n = np.clip(r, 0, 255), np.clip(n, 0, 255)
        with np.errstate(invalid="ignore", divide="ignore"):
            v = (n - r) / (n + r)
        v[~np.isfinite(strata)] = np.nan
        fine = _write(folder / f"ndvi_landsat_{date}.tif", v, like)
        coarse = str(folder / f"ndvi_modis_{date}.tif")
        gdal.Warp(coarse, fine, xRes=480, yRes=480, resampleAlg="average", srcNodata=-9999, dstNodata=-9999)
        out[date] = (fine, coarse)
    lc = _write(folder / "landcover.tif", np.where(np.isfinite(strata), strata, 0), like, nodata=0,
                dtype=gdal.GDT_Byte)
    return out, lc


def _read(path, band=None):
    ds = gdal.Open(str(path))
    bands = [band] if band else range(1, ds.RasterCount + 1)
    out = []
    for b in bands:
        rb = ds.GetRasterBand(b)
        a = rb.ReadAsArray().astype(np.float64)
        if rb.GetNoDataValue() is not None:
            a[a == rb.GetNoDataValue()] = np.nan
        out.append(a)
    return np.stack(out)


def _model_inputs(ndvi):
    files, lc = ndvi
    return dict(FINE_TM=files[TM][0], COARSE_TM=files[TM][1], FINE_TN=files[TN][0], COARSE_TN=files[TN][1],
                COARSE_TP=[files[d][1] for d in MONTHS], DATES="", HALF_WINDOW=HALF_WINDOW, LANDCOVER=lc, **CLIMATE)


@pytest.fixture(scope="module")
def direct(provider, ndvi, tmp_path_factory):
    """The reference: estarfm, then casanpp on its fused files, through processing.run."""
    import processing
    out = tmp_path_factory.mktemp("fusion_casa_direct")
    p = _model_inputs(ndvi)
    fused = processing.run("miningeco:estarfm", {
        **{k: p[k] for k in ("FINE_TM", "COARSE_TM", "FINE_TN", "COARSE_TN", "COARSE_TP", "HALF_WINDOW")},
        "DN_MIN": -1, "DN_MAX": 1, "OUTPUT_FOLDER": str(out / "fused"), "OUTPUT_TABLE": str(out / "fused.csv")})
    assert [os.path.basename(f) for f in fused["FUSED_FILES"]] == [f"estarfm_{d}.tif" for d in MONTHS]
    casa = processing.run("miningeco:casanpp", {
        "NDVI": fused["FUSED_FILES"], "LANDCOVER": p["LANDCOVER"], **CLIMATE, "OUTPUT": str(out / "npp.tif"),
        "OUTPUT_MONTHLY": str(out / "monthly.tif"), "OUTPUT_TABLE": str(out / "table.csv")})
    return fused, casa


def test_saved_model_is_what_the_script_builds(provider, tmp_path):
    from modelkit import saved_model_as_built, validation_issues
    model = saved_model_as_built("build_fusion_to_casa.py", MODEL, tmp_path)
    assert validation_issues(model) == []
    assert {c.algorithmId() for c in model.childAlgorithms().values()} == {"miningeco:estarfm", "miningeco:casanpp"}
    [source] = model.childAlgorithm("casa").parameterSources()["NDVI"]
    assert (source.outputChildId(), source.outputName()) == ("fusion", "FUSED_FILES")
    fusion = model.childAlgorithm("fusion").parameterSources()
    assert [fusion[k][0].staticValue() for k in ("DN_MIN", "DN_MAX")] == [-1.0, 1.0]


def test_fused_ndvi_is_better_than_the_nearest_fine_image(direct, ndvi):
    """Sanity of the fused months against the withheld fine NDVI (built like the inputs): the RMSE is below that
    of the nearest fine image as is (no fusion) in every month."""
    fused, _casa = direct
    files, _lc = ndvi
    for path, date in zip(fused["FUSED_FILES"], MONTHS):
        got, truth = _read(path)[0], _read(files[date][0])[0]
        near = _read(files[TM if date <= "2000-06-01" else TN][0])[0]
        ok = np.isfinite(got) & np.isfinite(truth)
        assert ok.mean() > 0.95
        rmse = np.sqrt(np.mean((got[ok] - truth[ok]) ** 2))
        rmse_near = np.sqrt(np.mean((near[ok] - truth[ok]) ** 2))
        print(f"{date}: NDVI RMSE {rmse:.4f} (nearest fine image as is {rmse_near:.4f})")
        assert rmse < rmse_near, date


def test_model_runs_headless_with_qgis_process_and_equals_the_direct_run(direct, ndvi, qgis_process, tmp_path):
    _fused, casa = direct
    p = _model_inputs(ndvi)
    args = [f"{k}={v}" for k, v in p.items() if k not in ("COARSE_TP", "DATES")]
    args += [f"COARSE_TP={f}" for f in p["COARSE_TP"]]
    args += [f"fusion:FUSED={tmp_path / 'fused'}", f"casa:NPP={tmp_path / 'npp.tif'}",
             f"casa:NPP_MONTHLY={tmp_path / 'monthly.tif'}", f"casa:NPP_TABLE={tmp_path / 'table.csv'}"]
    results = qgis_process.results(MODEL, "--", *args, timeout=600)
    assert results["casa:NPP"] == str(tmp_path / "npp.tif")
    npp = _read(tmp_path / "npp.tif")
    assert np.isfinite(npp).mean() > 0.9 and np.nanmax(npp) > 0
    np.testing.assert_array_equal(npp, _read(casa["OUTPUT"]))
    np.testing.assert_array_equal(_read(tmp_path / "monthly.tif"), _read(casa["OUTPUT_MONTHLY"]))
    for d in MONTHS:
        np.testing.assert_array_equal(_read(tmp_path / "fused" / f"estarfm_{d}.tif"),
                                      _read(os.path.join(os.path.dirname(_fused["FUSED_FILES"][0]),
                                                         f"estarfm_{d}.tif")))
    with open(tmp_path / "table.csv", newline="") as fh, open(casa["OUTPUT_TABLE"], newline="") as gh:
        assert list(csv.DictReader(fh)) == list(csv.DictReader(gh))


def test_model_through_processing_run_equals_the_direct_run(direct, ndvi, tmp_path):
    import processing
    from qgis.core import QgsProcessingModelAlgorithm
    _fused, casa = direct
    model = QgsProcessingModelAlgorithm()
    assert model.fromFile(MODEL)
    res = processing.run(model, {**_model_inputs(ndvi), "fusion:FUSED": str(tmp_path / "fused"),
                                 "casa:NPP": str(tmp_path / "npp.tif"),
                                 "casa:NPP_MONTHLY": str(tmp_path / "monthly.tif")})
    np.testing.assert_array_equal(_read(res["casa:NPP"]), _read(casa["OUTPUT"]))
    np.testing.assert_array_equal(_read(res["casa:NPP_MONTHLY"]), _read(casa["OUTPUT_MONTHLY"]))
