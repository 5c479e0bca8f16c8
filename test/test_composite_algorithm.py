"""miningeco:composite through processing.run on products written from the real Marburg Landsat 8 scene
(2013-07-07, Collection 1 Level-1; Landsat imagery courtesy of the U.S. Geological Survey, test/data/README.md).

Independent references:
* the mosaic and the clip: ``gdalwarp`` run here on the products' own DN files, with the composite's grid (-te / -tr)
  and the study area as cutline; then the Level-1 TOA reflectance by hand from the MTL text, read by a regex
  (USGS: rho = (M_rho DN + A_rho) / sin(sun elevation));
* the band layout and metadata a scene tool reads: ``miningeco:spectralindices`` run on the composite with the
  radiometry "Already reflectance" gives the same NDVI as the formula on the composite's bands.

Built, not real: the two footprints are two overlapping windows cut from the one real scene (as two path/rows of
one UTM zone share the 30 m grid phase), each written as a product folder with the real MTL.
"""
from __future__ import annotations

import math
import re
import shutil
from pathlib import Path

import numpy as np
import processing
import pytest
from osgeo import gdal, ogr, osr
from qgis.core import QgsProcessingException

DATA = Path(__file__).resolve().parent / "data" / "marburg"
L8 = "LC08_L1TP_195025_20130707_20170503_01_T1"
BANDS = {"blue": 2, "green": 3, "red": 4, "nir": 5, "swir1": 6, "swir2": 7}
TOL = 1e-6          # float32 reflectance: the same conversion of the same DN


def mtl_number(key: str) -> float:
    text = (DATA / f"{L8}_MTL.txt").read_text(encoding="latin-1")
    return float(re.search(rf"^\s*{key}\s*=\s*([-0-9.Ee+]+)", text, re.M).group(1))


def toa(dn: np.ndarray, band: int) -> np.ndarray:
    m, a = mtl_number(f"REFLECTANCE_MULT_BAND_{band}"), mtl_number(f"REFLECTANCE_ADD_BAND_{band}")
    sun = math.radians(mtl_number("SUN_ELEVATION"))
    return (m * dn.astype(np.float64) + a) / math.sin(sun)


def cut_product(dst: Path, xoff: int, yoff: int, xsize: int, ysize: int, pid: str = L8) -> Path:
    """A product folder holding the window (xoff, yoff, xsize, ysize) of every file of the real scene, under the
    product id ``pid`` (another path/row for a second footprint: its files and MTL renamed)."""
    dst.mkdir(parents=True)
    for f in DATA.glob(f"{L8}_*"):
        name = f.name.replace(L8, pid)
        if f.suffix.upper() == ".TIF":
            gdal.Translate(str(dst / name), str(f), srcWin=[xoff, yoff, xsize, ysize])
        elif f.name.endswith("_MTL.txt"):
            (dst / name).write_text(f.read_text(encoding="latin-1").replace(L8, pid), encoding="latin-1")
    return dst / f"{pid}_MTL.txt"


def read_band(path, name):
    ds = gdal.Open(str(path))
    for i in range(ds.RasterCount):
        if ds.GetRasterBand(i + 1).GetDescription() == name:
            a = ds.GetRasterBand(i + 1).ReadAsArray().astype(np.float64)
            nd = ds.GetRasterBand(i + 1).GetNoDataValue()
            return np.where(a == nd, np.nan, a)
    raise AssertionError(f"{path} has no band {name}")


def run(tmp_path, **params):
    Path(tmp_path).mkdir(parents=True, exist_ok=True)
    params.setdefault("OUTPUT_FOLDER", str(tmp_path / "out"))
    params.setdefault("OUTPUT_TABLE", str(tmp_path / "table.csv"))
    params.setdefault("TOA_OK", True)
    params.setdefault("MONTH_FIRST", 6)     # July
    params.setdefault("MONTH_LAST", 6)
    return processing.run("miningeco:composite", params)


def concave_area(path: Path) -> Path:
    """A concave (L-shaped) study area inside the scene, written in EPSG:4326."""
    ds = gdal.Open(str(DATA / f"{L8}_B4.TIF"))
    gt = ds.GetGeoTransform()
    x0, y0 = gt[0] + 5.3 * 30, gt[3] - 4.6 * 30
    ring = [(x0, y0), (x0 + 30 * 30, y0), (x0 + 30 * 30, y0 - 12 * 30), (x0 + 14 * 30, y0 - 12 * 30),
            (x0 + 14 * 30, y0 - 31 * 30), (x0, y0 - 31 * 30), (x0, y0)]
    utm = osr.SpatialReference()
    utm.ImportFromWkt(ds.GetProjection())
    wgs = osr.SpatialReference()
    wgs.ImportFromEPSG(4326)
    for s in (utm, wgs):
        s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    geom = ogr.Geometry(ogr.wkbPolygon)
    r = ogr.Geometry(ogr.wkbLinearRing)
    for x, y in ring:
        r.AddPoint_2D(x, y)
    geom.AddGeometry(r)
    geom.Segmentize(30)
    geom.Transform(osr.CoordinateTransformation(utm, wgs))
    out = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    layer = out.CreateLayer("area", wgs, ogr.wkbPolygon)
    f = ogr.Feature(layer.GetLayerDefn())
    f.SetGeometry(geom)
    layer.CreateFeature(f)
    out = None
    return path


def gdalwarp_dn(sources, band, target, cutline=None):
    """The reference mosaic: gdalwarp of the products' DN files of ``band`` onto ``target``'s grid."""
    ds = gdal.Open(str(target))
    gt = ds.GetGeoTransform()
    te = (gt[0], gt[3] + gt[5] * ds.RasterYSize, gt[0] + gt[1] * ds.RasterXSize, gt[3])
    opts = dict(format="MEM", outputBounds=te, xRes=gt[1], yRes=-gt[5], dstSRS=ds.GetProjection(),
                resampleAlg="near", srcNodata=-32768, dstNodata=-32768)
    if cutline:
        opts["cutlineDSName"] = str(cutline)
    files = [str(Path(s).parent / Path(s).name.replace("_MTL.txt", f"_B{band}.TIF")) for s in sources]
    out = gdal.Warp("", files, **opts)
    a = out.GetRasterBand(1).ReadAsArray().astype(np.float64)
    return np.where(a == -32768, np.nan, a)


@pytest.fixture
def footprints(tmp_path):
    """Two overlapping footprints of the real scene (41 x 41 px): rows 0-27 and rows 15-40, offset columns."""
    return (cut_product(tmp_path / "p195r025", 0, 0, 41, 28),
            cut_product(tmp_path / "p195r026", 3, 15, 38, 26, pid=L8.replace("_195025_", "_195026_")))


def test_two_footprints_mosaic_back_to_gdalwarp(provider, tmp_path, footprints):
    res = run(tmp_path, PRODUCTS=[str(p) for p in footprints], METHOD=1)       # median
    path, = res["COMPOSITES"]
    ds = gdal.Open(path)
    src = gdal.Open(str(DATA / f"{L8}_B4.TIF"))
    assert ds.GetGeoTransform() == pytest.approx(src.GetGeoTransform())     # kept on the products' own grid
    assert (ds.RasterXSize, ds.RasterYSize) == (41, 41)
    count = read_band(path, "count")
    for name, band in BANDS.items():
        ref = toa(gdalwarp_dn(footprints, band, path), band)
        got = read_band(path, name)
        clear = np.isfinite(got)
        assert clear.mean() > 0.9, name                   # the real scene is mostly clear (BQA)
        np.testing.assert_allclose(got[clear], ref[clear], rtol=0, atol=TOL, err_msg=name)
        assert np.isnan(ref[~np.isfinite(ref)]).all()
    # the overlap (rows 15-27, columns 3-40) has both observations, the rest one; the corner (rows 28-40, columns
    # 0-2) is covered by neither footprint
    assert count[20, 20] == 2 or np.isnan(read_band(path, "red")[20, 20])
    assert count[5, 5] in (0, 1) and count[35, 1] == 0


def test_clip_to_a_concave_study_area_equals_gdalwarp_cutline(provider, tmp_path, footprints):
    area = concave_area(tmp_path / "area.gpkg")
    res = run(tmp_path, PRODUCTS=[str(p) for p in footprints], METHOD=1, STUDY_AREA=str(area))
    path, = res["COMPOSITES"]
    for name, band in (("red", 4), ("nir", 5)):
        ref = toa(gdalwarp_dn(footprints, band, path, cutline=area), band)
        got = read_band(path, name)
        inside = np.isfinite(ref)
        assert inside.sum() > 300
        assert not np.isfinite(got[~inside]).any(), "a pixel outside the cutline has a value"
        ok = np.isfinite(got)
        assert ok[inside].mean() > 0.9
        np.testing.assert_allclose(got[ok], ref[ok], rtol=0, atol=TOL)
    # the count band is nodata outside the area, like every band
    count = read_band(path, "count")
    assert np.isnan(count[~np.isfinite(toa(gdalwarp_dn(footprints, 4, path, cutline=area), 4))]).all()


def test_reprojected_target_equals_gdalwarp_bilinear(provider, tmp_path):
    """A target CRS the product is not in (UTM 33N, 60 m): bilinear warping of the DN, then TOA; the same as
    gdalwarp's bilinear (the conversion is linear) away from the footprint's edge."""
    res = run(tmp_path, PRODUCTS=[str(DATA / f"{L8}_MTL.txt")], METHOD=1, TARGET_CRS="EPSG:32633",
              RESOLUTION=60.0, RESAMPLING=1)
    path, = res["COMPOSITES"]
    ds = gdal.Open(path)
    srs = osr.SpatialReference(wkt=ds.GetProjection())
    assert srs.GetAuthorityCode(None) == "32633" and ds.GetGeoTransform()[1] == 60.0
    gt = ds.GetGeoTransform()
    assert gt[0] % 60 == 0 and gt[3] % 60 == 0            # not on a product grid: pixel edges on multiples of 60 m
    te = (gt[0], gt[3] + gt[5] * ds.RasterYSize, gt[0] + gt[1] * ds.RasterXSize, gt[3])
    ref_ds = gdal.Warp("", str(DATA / f"{L8}_B5.TIF"), format="MEM", outputBounds=te, xRes=60, yRes=60,
                       dstSRS="EPSG:32633", resampleAlg="bilinear", srcNodata=-32768, dstNodata=-32768)
    dn = ref_ds.GetRasterBand(1).ReadAsArray().astype(np.float64)
    ref = np.where(dn == -32768, np.nan, toa(dn, 5))
    got = read_band(path, "nir")
    ok = np.isfinite(ref) & np.isfinite(got)
    assert ok.sum() > 100
    np.testing.assert_allclose(got[ok], ref[ok], rtol=0, atol=1e-5)


def test_scene_tools_read_the_composite(provider, tmp_path):
    """Band names and units: the spectral index calculator, given the composite with the radiometry 'Already
    reflectance', computes NDVI = (nir - red) / (nir + red) of the composite's own bands."""
    res = run(tmp_path, PRODUCTS=[str(DATA / f"{L8}_MTL.txt")])
    path, = res["COMPOSITES"]
    ds = gdal.Open(path)
    assert ds.GetMetadataItem("MINING_ECO_PERIOD") == "2013"
    assert ds.GetMetadataItem("MINING_ECO_WET_SET") == "OLI"
    names = [ds.GetRasterBand(i + 1).GetDescription() for i in range(ds.RasterCount)]
    assert names == ["blue", "green", "red", "nir", "swir1", "swir2", "thermal", "count", "doy"]
    assert np.nanmax(read_band(path, "doy")) == 188 == np.nanmin(read_band(path, "doy"))    # 7 July 2013
    thermal = read_band(path, "thermal")
    assert 280 < np.nanmean(thermal) < 320                  # kelvin
    out = processing.run("miningeco:spectralindices", {"SCENE": path, "SENSOR": 0, "RADIOMETRY": 3, "INDICES": [0],
                                                       "OUTPUT": str(tmp_path / "ndvi.tif")})
    red, nir = read_band(path, "red"), read_band(path, "nir")
    nds = gdal.Open(out["OUTPUT"])       # kept open while its band is read
    ndvi = nds.GetRasterBand(1).ReadAsArray().astype(np.float64)
    ok = np.isfinite(red) & np.isfinite(nir)
    np.testing.assert_allclose(ndvi[ok], ((nir - red) / (nir + red))[ok], atol=1e-6)


def test_bad_inputs_are_refused_clearly(provider, tmp_path):
    mtl = str(DATA / f"{L8}_MTL.txt")
    with pytest.raises(QgsProcessingException, match="Level-1 product.*TOA"):
        run(tmp_path, PRODUCTS=[mtl], TOA_OK=False)
    with pytest.raises(QgsProcessingException, match="none of the products falls in the date window"):
        run(tmp_path, PRODUCTS=[mtl], MONTH_FIRST=0, MONTH_LAST=2)
    with pytest.raises(QgsProcessingException, match="DOY_FIRST / DOY_LAST"):
        run(tmp_path, PRODUCTS=[mtl], DOY_FIRST=100)
    with pytest.raises(QgsProcessingException, match="PRODUCTS / PRODUCT_FOLDER"):
        run(tmp_path)
    with pytest.raises(QgsProcessingException, match="TARGET_CRS"):
        run(tmp_path, PRODUCTS=[mtl], TARGET_CRS="EPSG:4326")
    broken = tmp_path / "broken"
    cut_product(broken, 0, 0, 41, 41)
    (broken / f"{L8}_B5.TIF").unlink()
    with pytest.raises(QgsProcessingException, match=f"{L8}_B5.TIF"):
        run(tmp_path, PRODUCTS=[str(broken / f"{L8}_MTL.txt")])
    assert not (tmp_path / "out").exists() and not (tmp_path / "table.csv").exists()


# -- the same real scene under different real-looking cloud masks (test/productdata.py) ---------------------------
DATES = ("2013-06-12", "2013-07-07", "2013-07-23", "2013-08-24")


@pytest.fixture
def cloudy_products(tmp_path):
    """The real Marburg L8 scene as four Collection 2 Level-2 products (built: four dates, one real image) under
    four CFMask-like QA_PIXEL masks whose clear pixels together cover the scene; the clouds brighten and shadows
    darken the band values, so a composite that ignored a mask would be visibly wrong. And the clean product."""
    import productdata as pd
    shape = (pd.scene_grid(pd.L8).height, pd.scene_grid(pd.L8).width)
    masks = pd.cloud_qa_set(shape, len(DATES), seed=13, cover=0.35)
    cloudy = [pd.write_landsat_product(tmp_path / "cloudy", pd.L8, "C2L2", date=d, qa=q)
              for d, q in zip(DATES, masks)]
    clean = pd.write_landsat_product(tmp_path / "clean", pd.L8, "C2L2", date="2013-07-07")
    return cloudy, clean, masks


@pytest.mark.parametrize("method", [0, 1, 2, 3])          # medoid, median, max NDVI, best available pixel
def test_cloudy_dates_reconstruct_the_clear_scene(provider, tmp_path, cloudy_products, method):
    import productdata as pd
    cloudy, clean, masks = cloudy_products
    ref, = run(tmp_path / "ref", PRODUCTS=[str(clean.path)], MONTH_FIRST=5, MONTH_LAST=8, TOA_OK=False,
               OUTPUT_FOLDER=str(tmp_path / "ref"))["COMPOSITES"]
    got, = run(tmp_path, PRODUCT_FOLDER=str(tmp_path / "cloudy"), MONTH_FIRST=5, MONTH_LAST=8, TOA_OK=False,
               METHOD=method)["COMPOSITES"]
    for name in ("blue", "green", "red", "nir", "swir1", "swir2", "thermal"):
        np.testing.assert_array_equal(read_band(got, name), read_band(ref, name), err_msg=name)
    # count: the dates whose QA_PIXEL is clear there (bits 0-4 of the USGS table all 0: no fill, dilated cloud,
    # cirrus, cloud or shadow; cirrus is not masked by default, so it is left out of the count by hand too)
    clear = np.stack([(np.asarray(q).astype(np.int64) & 0b11011) == 0 for q in masks])
    np.testing.assert_array_equal(read_band(got, "count"), clear.sum(axis=0))
    assert clear.sum(axis=0).min() >= 1 and clear.sum(axis=0).max() < len(DATES)
    if method in (0, 2):        # medoid and max NDVI: identical clear values, the tie goes to the earliest date
        import datetime as dt
        doys = np.array([dt.date.fromisoformat(d).timetuple().tm_yday for d in DATES])
        np.testing.assert_array_equal(read_band(got, "doy"), doys[np.argmax(clear, axis=0)])


def test_ignoring_the_clouds_shows_them(provider, tmp_path, cloudy_products):
    """With the cloud and shadow confidences 'not masked' and no dilated-cloud rule the bright clouds win
    maximum-NDVI nowhere but do enter the median: the composite is no longer the clear scene."""
    cloudy, clean, _ = cloudy_products
    ref, = run(tmp_path / "ref", PRODUCTS=[str(clean.path)], MONTH_FIRST=5, MONTH_LAST=8,
               OUTPUT_FOLDER=str(tmp_path / "ref"))["COMPOSITES"]
    got, = run(tmp_path, PRODUCT_FOLDER=str(tmp_path / "cloudy"), MONTH_FIRST=5, MONTH_LAST=8, METHOD=1,
               CLOUD_CONFIDENCE=0, SHADOW_CONFIDENCE=0)["COMPOSITES"]
    assert not np.array_equal(read_band(got, "blue"), read_band(ref, "blue"))


def test_sentinel2_zip_on_its_10m_grid(provider, tmp_path):
    """A Sentinel-2 L2A .zip (built from the real Marburg reflectance, test/productdata.py): the composite is on the
    10 m grid of B02; 20 m B11 and SCL are warped onto it by nearest neighbour (gdalwarp here is the reference);
    reflectance = (DN + BOA_ADD_OFFSET) / 10000 = (DN - 1000) / 10000 (ESA L2A product specification, baseline
    04.00); pixels of the masked SCL classes 0, 1, 3, 8, 9, 10, 11 are nodata."""
    import productdata as pd
    shape20 = (pd.s2_grids(pd.scene(pd.L8))[20].height, pd.s2_grids(pd.scene(pd.L8))[20].width)
    (tmp_path / "s2").mkdir()
    written = pd.write_s2_product(tmp_path / "s2", "zip", scl=pd.cloud_scl(shape20, seed=5, cover=0.2))
    path, = run(tmp_path, PRODUCTS=[str(written.path)], MONTH_FIRST=5, MONTH_LAST=5)["COMPOSITES"]
    ds = gdal.Open(path)
    assert ds.GetGeoTransform()[1] == 10.0
    root = f"/vsizip/{written.path}"
    files = {n.split("/")[-1]: f"{root}/{n}" for n in gdal.ReadDirRecursive(root) if n.endswith(".jp2")}

    def on_grid(name):
        gt = ds.GetGeoTransform()
        te = (gt[0], gt[3] + gt[5] * ds.RasterYSize, gt[0] + gt[1] * ds.RasterXSize, gt[3])
        f = next(v for k, v in files.items() if k.endswith(name))
        out = gdal.Warp("", f, format="MEM", outputBounds=te, xRes=10, yRes=10, resampleAlg="near")
        return out.GetRasterBand(1).ReadAsArray().astype(np.float64)

    scl = on_grid("_SCL_20m.jp2")
    masked = np.isin(scl, [0, 1, 3, 8, 9, 10, 11])
    assert 0.05 < masked.mean() < 0.6
    for name, f in (("blue", "_B02_10m.jp2"), ("swir1", "_B11_20m.jp2")):
        dn = on_grid(f)
        got = read_band(path, name)
        assert np.isnan(got[masked]).all(), name
        ok = ~masked & (dn > 0)
        np.testing.assert_allclose(got[ok], (dn[ok] - 1000) / 10000, rtol=0, atol=TOL, err_msg=name)
    assert "thermal" not in [ds.GetRasterBand(i + 1).GetDescription() for i in range(ds.RasterCount)]

L7 = "LE07_L1TP_195025_20010730_20170204_01_T1"


def copy_product(src_id: str, dst: Path) -> Path:
    """The real product's files (bands, QA, MTL) in a folder of their own, laid out as USGS delivers them."""
    dst.mkdir(parents=True)
    for f in DATA.glob(f"{src_id}_*"):
        shutil.copy(f, dst / f.name)
    return dst


def test_composite_opens_in_natural_colour(provider, tmp_path):
    """Styling: the .qml beside a composite is a multiband colour renderer red / green / blue = bands 3 / 2 / 1
    stretched over reflectance 0-0.3. Rendered offscreen (scripts/demo.py render_png, one screen pixel per
    pixel), every pixel's colour is the linear stretch computed here from the composite's own bands,
    round(255 (rho - 0) / 0.3) clipped to 0-255 (QGIS's StretchToMinimumMaximum), within 1 level of rounding."""
    import importlib.util
    from qgis.core import QgsProcessingContext, QgsProject
    from test_rf_contribution_pixels import png_pixels
    from paths import ROOT
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    res = processing.run("miningeco:composite", {
        "PRODUCTS": [str(DATA / f"{L8}_MTL.txt")], "TOA_OK": True, "MONTH_FIRST": 6, "MONTH_LAST": 6,
        "OUTPUT_FOLDER": str(tmp_path / "out"), "OUTPUT_TABLE": str(tmp_path / "table.csv")}, context=context)
    path, = res["COMPOSITES"]
    qml = (Path(path).with_suffix(".qml")).read_text()
    assert 'type="multibandcolor"' in qml and 'redBand="3"' in qml and 'greenBand="2"' in qml \
        and 'blueBand="1"' in qml
    assert qml.count("<minValue>0</minValue>") == 3 and qml.count("<maxValue>0.3</maxValue>") == 3
    # loaded into the project on completion, named by its year (a folder the user chose)
    loads = context.layersToLoadOnCompletion()
    assert [d.name for p, d in loads.items() if Path(p) == Path(path)] == ["Composite 2013"]
    spec = importlib.util.spec_from_file_location("mining_eco_demo", str(Path(ROOT) / "scripts" / "demo.py"))
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    img = png_pixels(demo.render_png(path, str(tmp_path / "rgb.png"), width=41))
    assert img.shape == (41, 41, 3)
    for channel, name in enumerate(("red", "green", "blue")):
        rho = read_band(path, name)
        ok = np.isfinite(rho)
        assert ok.mean() > 0.9
        want = np.clip(np.round(255 * rho / 0.3), 0, 255)
        got = img[..., channel].astype(float)
        assert np.abs(got[ok] - want[ok]).max() <= 1, name
        assert np.ptp(got[ok]) > 20, name                  # a picture, not a flat colour
    assert (img[~np.isfinite(read_band(path, "red"))] == 255).all()      # nodata: the white background


def test_qgis_process_composites_a_folder_of_two_products(qgis_process, tmp_path):
    """Headless: `qgis_process run miningeco:composite -- PRODUCT_FOLDER=...` on a folder holding the two real
    Marburg products as delivered (Landsat 7 ETM+ 2001-07-30 and Landsat 8 OLI 2013-07-07, Collection 1
    Level-1, each in its own folder). Expected by hand: two periods (2001, 2013), one scene each, harmonised
    (Landsat 7 and 8 are mixed, HARMONISE's default), so both use the OLI wetness set; each pixel of the 41 x 41
    scene has 0 or 1 clear observation."""
    folder = tmp_path / "products"
    copy_product(L7, folder / L7)
    copy_product(L8, folder / L8)
    out = tmp_path / "composites"
    results = qgis_process.results("miningeco:composite", "--", f"PRODUCT_FOLDER={folder}", "TOA_OK=true",
                                   "MONTH_FIRST=6", "MONTH_LAST=6", f"OUTPUT_FOLDER={out}",
                                   f"OUTPUT_TABLE={tmp_path / 'table.csv'}", timeout=300)
    files = sorted(Path(p).name for p in results["COMPOSITES"])
    assert files == ["composite_2001.tif", "composite_2013.tif"]
    assert sorted(p.name for p in out.glob("*.tif")) == files
    assert sorted(p.name for p in out.glob("*.qml")) == ["composite_2001.qml", "composite_2013.qml"]
    import csv
    with open(tmp_path / "table.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["period"] for r in rows] == ["2001", "2013"]
    assert [r["scene_ids"] for r in rows] == [L7, L8]
    assert [r["window_start"] for r in rows] == ["2001-07-01", "2013-07-01"]
    assert [r["window_end"] for r in rows] == ["2001-07-31", "2013-07-31"]
    # Level-1 TOA is not harmonised (Roy et al. 2016 fitted surface reflectance): each year keeps its sensor's
    # tasselled-cap wetness set
    assert all(r["scenes"] == "1" and r["harmonised"] == "no" and r["method"] == "medoid" for r in rows)
    assert [r["wet_set"] for r in rows] == ["ETM", "OLI"]
    for r in rows:
        assert int(r["area_pixels"]) == 41 * 41
        assert 0 <= int(r["min_clear_obs"]) <= int(r["max_clear_obs"]) == 1
        count = read_band(out / r["file"], "count")
        # the table's statistics from the count band itself
        assert float(r["mean_clear_obs"]) == pytest.approx(np.nanmean(count), abs=1e-4)
        assert float(r["no_clear_percent"]) == pytest.approx(100.0 * (count == 0).mean(), abs=1e-4)
        ds = gdal.Open(str(out / r["file"]))
        assert ds.GetMetadataItem("MINING_ECO_HARMONISED") == "no"
        assert ds.GetMetadataItem("MINING_ECO_WET_SET") == r["wet_set"]
        assert ds.GetMetadataItem("MINING_ECO_SCENES") == r["scene_ids"]


def test_a_product_given_twice_counts_once(provider, tmp_path):
    """A folder holding a product's .tar and its unpacked copy (the same LANDSAT_PRODUCT_ID): one observation, with
    a warning, not two (the count band would say 2 and a median would weigh the date twice)."""
    import productdata as pd
    from failures import recording_feedback
    folder = tmp_path / "both"
    pd.write_landsat_product(folder, pd.L8, "C2L2", layout="folder")
    pd.write_landsat_product(folder, pd.L8, "C2L2", layout="tar")
    fb = recording_feedback()
    res = processing.run("miningeco:composite", {"PRODUCT_FOLDER": str(folder), "OUTPUT_FOLDER": str(tmp_path / "o"),
                                                 "OUTPUT_TABLE": str(tmp_path / "t.csv")}, feedback=fb)
    path, = res["COMPOSITES"]
    count = read_band(path, "count")
    assert np.nanmax(count) == 1
    assert any("given twice" in w for w in fb.warnings), fb.warnings


def test_southern_scene_in_the_northern_zone_keeps_its_pixels(provider, tmp_path):
    """USGS delivers a southern-hemisphere Landsat scene in the northern UTM zone, with negative northings. The
    default target CRS is the southern zone of the centre (y + 10 000 000 m): the grid is the product's shifted, so
    every pixel is the product's own (no resampling). Built: the real Marburg product moved to 20 deg S (its
    georeferencing rewritten; pixels and MTL real)."""
    mtl = cut_product(tmp_path / "south", 0, 0, 41, 41)
    y0 = -2212515.0                                    # an odd multiple of 15 m, as Landsat corners are
    for f in (tmp_path / "south").glob("*.TIF"):
        ds = gdal.Open(str(f), gdal.GA_Update)
        gt = list(ds.GetGeoTransform())
        ds.SetGeoTransform([gt[0], gt[1], 0.0, y0, 0.0, gt[5]])
        ds = None
    path, = run(tmp_path, PRODUCTS=[str(mtl)], METHOD=1)["COMPOSITES"]
    ds = gdal.Open(path)
    srs = osr.SpatialReference(wkt=ds.GetProjection())
    assert srs.GetAuthorityCode(None) == "32732"          # WGS 84 / UTM 32S
    assert ds.GetGeoTransform()[3] == pytest.approx(y0 + 10_000_000.0, abs=1e-6)
    assert (ds.RasterXSize, ds.RasterYSize) == (41, 41)
    dn_ds = gdal.Open(str(tmp_path / "south" / f"{L8}_B5.TIF"))
    dn = dn_ds.GetRasterBand(1).ReadAsArray().astype(np.float64)
    got = read_band(path, "nir")
    ok = np.isfinite(got)
    assert ok.mean() > 0.9
    np.testing.assert_allclose(got[ok], toa(dn, 5)[ok], rtol=0, atol=TOL)


def test_a_product_without_thermal_is_left_out_of_a_period_with_thermal(provider, tmp_path):
    """A Collection 2 Level-2 product delivered without its ST band (L2SR) beside one with it in the same season:
    the composite keeps a thermal band (RSEI needs it), so the L2SR product is left out of that period, with a
    warning (count 1, not 2)."""
    import productdata as pd
    from failures import recording_feedback
    folder = tmp_path / "products"
    pd.write_landsat_product(folder, pd.L8, "C2L2", date="2013-07-07")
    sr_only = pd.write_landsat_product(folder, pd.L8, "C2L2", date="2013-07-23")
    for mtl in Path(sr_only.path).glob("*_MTL.*"):
        if mtl.suffix == ".txt":
            text = "".join(line for line in mtl.read_text(encoding="latin-1").splitlines(keepends=True)
                           if "FILE_NAME_BAND_ST_B10" not in line)
            mtl.write_text(text.replace('"L2SP"', '"L2SR"'), encoding="latin-1")
        else:
            mtl.unlink()                                # keep the one edited encoding
    for st in Path(sr_only.path).glob("*_ST_B10.TIF"):
        st.unlink()
    fb = recording_feedback()
    res = processing.run("miningeco:composite", {"PRODUCT_FOLDER": str(folder), "OUTPUT_FOLDER": str(tmp_path / "o"),
                                                 "OUTPUT_TABLE": str(tmp_path / "t.csv")}, feedback=fb)
    path, = res["COMPOSITES"]
    ds = gdal.Open(path)                                # kept open while its bands are read
    assert "thermal" in [ds.GetRasterBand(i + 1).GetDescription() for i in range(ds.RasterCount)]
    assert np.nanmax(read_band(path, "count")) == 1
    assert any(sr_only.product_id in w and "no thermal band" in w for w in fb.warnings), fb.warnings
