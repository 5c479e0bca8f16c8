"""miningeco:rseiseries from a folder of products (issue 13, items 2 + 3): "one headless run goes from a folder of
products to the trend map and the time-series report".

Data (test/productdata.py, util.built_year): Collection 2 Level-2 products laid out as USGS delivers them, written
from the REAL Marburg Landsat 8 scene of 2013-07-07 (Landsat imagery courtesy of the U.S. Geological Survey). 2013 is
the real scene; 2014-2017 are BUILT from it with the documented change per class of util.built_year, by role (NIR x (1 + 0.05
k) where NDVI is above the scene median, x (1 - 0.05 k) elsewhere), each year under its own CFMask-like QA_PIXEL
cloud mask (productdata.cloud_qa), clouds and shadows in the pixels.

References: miningeco:composite run on the same folder (the series' composites must be those files, value for
value), then miningeco:rseiseries run on those composites (RSEI, grades, trend and time-series summary the same);
the re-run skips every composite and every year.
"""
from __future__ import annotations

import csv

import numpy as np
import pytest
from osgeo import gdal

import productdata as pd
from failures import recording_feedback

YEARS = (2013, 2014, 2015, 2016, 2017)


def vegetated(real):
    """The class of the built change (as util.built_year): NDVI of the real scene above its median."""
    ndvi = (real["NIR"] - real["R"]) / (real["NIR"] + real["R"])
    return ndvi > np.nanmedian(ndvi)


@pytest.fixture(scope="module")
def products(tmp_path_factory):
    folder = tmp_path_factory.mktemp("products")
    real = pd.real_values(pd.L8)
    veg = vegetated(real)
    g = pd.scene_grid(pd.L8)
    for k, year in enumerate(YEARS):
        nir = real["NIR"] * np.where(veg, 1 + 0.05 * k, 1 - 0.05 * k)       # k = 0: the real scene
        qa = pd.cloud_qa((g.height, g.width), seed=40 + k, cover=0.08)
        pd.write_landsat_product(folder, pd.L8, "C2L2", date=f"{year}-07-{7 + k:02d}", qa=qa,
                                 pixels={"NIR": nir} if k else None)
    return folder


def run(alg, **params):
    import processing
    return processing.run(f"miningeco:{alg}", params)


def band(path, i=1):
    ds = gdal.Open(str(path))
    a = ds.GetRasterBand(i).ReadAsArray().astype(np.float64)
    nd = ds.GetRasterBand(i).GetNoDataValue()
    return np.where(a == nd, np.nan, a)


def same_raster(a, b):
    da, db = gdal.Open(str(a)), gdal.Open(str(b))
    assert da.RasterCount == db.RasterCount
    for i in range(1, da.RasterCount + 1):
        np.testing.assert_array_equal(band(a, i), band(b, i), err_msg=f"{a} band {i}")


def test_series_from_products_equals_composite_then_series(provider, products, tmp_path):
    out = tmp_path / "series"
    res = run("rseiseries", PRODUCT_FOLDER=str(products), OUTPUT_FOLDER=str(out),
              OUTPUT_TABLE=str(tmp_path / "years.csv"), TRANSFER_YEARS="2013,2017")
    assert res["YEARS"] == ",".join(map(str, YEARS)) and res["YEARS_COMPUTED"] == len(YEARS)
    comp = run("composite", PRODUCT_FOLDER=str(products), OUTPUT_FOLDER=str(tmp_path / "composites"),
               OUTPUT_TABLE=str(tmp_path / "composites.csv"))
    assert len(comp["COMPOSITES"]) == len(YEARS)
    for year, path in zip(YEARS, sorted(comp["COMPOSITES"])):
        same_raster(out / "composites" / f"composite_{year}.tif", path)
    ref = run("rseiseries", COMPOSITES=sorted(comp["COMPOSITES"]), OUTPUT_FOLDER=str(tmp_path / "ref"),
              OUTPUT_TABLE=str(tmp_path / "ref.csv"), TRANSFER_YEARS="2013,2017")
    for year in YEARS:
        same_raster(out / f"rsei_{year}.tif", tmp_path / "ref" / f"rsei_{year}.tif")
        same_raster(out / f"rsei_grades_{year}.tif", tmp_path / "ref" / f"rsei_grades_{year}.tif")
    for name in ("trend_slope.tif", "trend_class.tif"):
        same_raster(out / name, tmp_path / "ref" / name)
    with open(out / "timeseries.csv", newline="") as a, open(tmp_path / "ref" / "timeseries.csv", newline="") as b:
        assert list(csv.reader(a)) == list(csv.reader(b))
    assert (out / "timeseries.html").exists() and ref["TIMESERIES_REPORT"]
    # the built change: vegetation gains, the rest loses (the trend's sign per class)
    veg = vegetated(pd.real_values(pd.L8))
    slope = band(out / "trend_slope.tif")
    assert np.nanmean(slope[veg]) > 0 > np.nanmean(slope[~veg])

    # a re-run with the same folder and settings does nothing again
    fb = recording_feedback()
    again = __import__("processing").run("miningeco:rseiseries", {
        "PRODUCT_FOLDER": str(products), "OUTPUT_FOLDER": str(out), "OUTPUT_TABLE": str(tmp_path / "years2.csv"),
        "TRANSFER_YEARS": "2013,2017"}, feedback=fb)
    assert again["YEARS_SKIPPED"] == len(YEARS) and again["YEARS_COMPUTED"] == 0
    text = "\n".join(fb.infos)
    assert all(f"year {y}: composite already done, skipped" in text for y in YEARS)


def test_products_and_composites_together_are_refused(provider, products, tmp_path):
    from qgis.core import QgsProcessingException
    with pytest.raises(QgsProcessingException, match="COMPOSITES and PRODUCTS"):
        run("rseiseries", PRODUCT_FOLDER=str(products), COMPOSITES=[str(next(products.rglob("*SR_B4.TIF")))],
            OUTPUT_FOLDER=str(tmp_path / "s"), OUTPUT_TABLE=str(tmp_path / "t.csv"))
    assert not (tmp_path / "s").exists()


def test_qgis_process_from_products_to_trend_and_report(qgis_process, products, tmp_path):
    out = tmp_path / "series"
    res = qgis_process.results("miningeco:rseiseries", "--", f"PRODUCT_FOLDER={products}", f"OUTPUT_FOLDER={out}",
                               f"OUTPUT_TABLE={tmp_path / 'years.csv'}", timeout=600)
    assert res["TREND_CLASS"].endswith("trend_class.tif") and (out / "trend_class.tif").exists()
    assert (out / "timeseries.html").exists() and res["TIMESERIES_REPORT"].endswith("timeseries.html")
    rows = list(csv.DictReader(open(tmp_path / "years.csv", newline="")))
    assert [int(r["year"]) for r in rows] == list(YEARS)


def test_modeler_model_from_products_to_trend(qgis_process, provider, products, tmp_path):
    """test/models/products_to_rsei_trend.model3 (composite -> series), headless: the trend map and the
    time-series report come out, and the yearly RSEI equals the series tool run on the products directly."""
    import os
    model = os.path.join(os.path.dirname(os.path.abspath(__file__)), "models", "products_to_rsei_trend.model3")
    folder = tmp_path / "model_series"
    qgis_process("run", model, "--", f"PRODUCT_FOLDER={products}", "STUDY_AREA=", "MONTH_FIRST=5", "MONTH_LAST=8",
                 "TOA_OK=false", f"composite:COMPOSITE_TABLE={tmp_path / 'composites.csv'}",
                 f"series:SERIES_FOLDER={folder}", f"series:YEARS_TABLE={tmp_path / 'years.csv'}",
                 f"series:SERIES_REPORT={tmp_path / 'series.html'}", timeout=600)
    assert (folder / "trend_class.tif").exists() and (folder / "timeseries.html").exists()
    direct = tmp_path / "direct"
    run("rseiseries", PRODUCT_FOLDER=str(products), OUTPUT_FOLDER=str(direct), OUTPUT_TABLE=str(tmp_path / "d.csv"))
    for year in YEARS:
        same_raster(folder / f"rsei_{year}.tif", direct / f"rsei_{year}.tif")
    same_raster(folder / "trend_class.tif", direct / "trend_class.tif")


def test_a_new_years_product_adds_that_year_only(provider, products, tmp_path):
    """The yearly update: a product of a new year dropped into the folder; the re-run composites and computes that
    year only (the others skipped), on the same grid (the study area fixes it)."""
    import shutil
    folder = tmp_path / "products"
    shutil.copytree(products, folder)
    area = pd.study_area(tmp_path / "area.gpkg")
    out = tmp_path / "series"
    params = dict(PRODUCT_FOLDER=str(folder), STUDY_AREA=str(area), OUTPUT_FOLDER=str(out),
                  OUTPUT_TABLE=str(tmp_path / "years.csv"))
    first = run("rseiseries", **params)
    assert first["YEARS_COMPUTED"] == len(YEARS)
    g = pd.scene_grid(pd.L8)
    pd.write_landsat_product(folder, pd.L8, "C2L2", date="2018-07-12",
                             qa=pd.cloud_qa((g.height, g.width), seed=99, cover=0.08))
    fb = recording_feedback()
    again = __import__("processing").run("miningeco:rseiseries", params, feedback=fb)
    assert again["YEARS"].endswith(",2018") and (again["YEARS_COMPUTED"], again["YEARS_SKIPPED"]) == (1, len(YEARS))
    assert sum("composite already done, skipped" in t for t in fb.infos) == len(YEARS)
