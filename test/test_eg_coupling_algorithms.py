"""miningeco:egindex and miningeco:coupling through processing.run and qgis_process.

Small rasters whose EG and coupling codes are worked out by hand (ningdong eq. 14, Table 3,
Figure 15), bad inputs, block-size invariance of the moving window (checked against a 2-D
convolution), and the coupling run end to end on real data through qgis_process: EG from the North
Carolina land-cover map (strata.tif) and NDVI from the Landsat 7 scene of the same grid, compared with
a numpy reclassification of the rasters read back.
"""
from __future__ import annotations

import csv
import os

import numpy as np
import pytest
from osgeo import gdal, ogr, osr
from scipy.signal import convolve2d

from paths import DATA
from mining_eco_plugin.raster import engine

gdal.UseExceptions()


STRATA = os.path.join(DATA, "north_carolina", "strata.tif")
NC_RED, NC_NIR = (os.path.join(DATA, "north_carolina", "lsat7_2000_30.tif"),
                  os.path.join(DATA, "north_carolina", "lsat7_2000_40.tif"))
# NC land cover (1 developed, 2 agriculture, 3 herbaceous, 4 shrubland, 5 forest, 6 water, 7 sediment) on
# ningdong Table 3: construction 6, cultivated 5, grassland 4, shrubland 3, forest 2, water 1, barren 7
NC_GRADES = [1, 6, "developed", 2, 5, "agriculture", 3, 4, "herbaceous", 4, 3, "shrubland", 5, 2, "forest",
             6, 1, "water", 7, 7, "sediment"]
NC_GRADE_OF = {1: 6, 2: 5, 3: 4, 4: 3, 5: 2, 6: 1, 7: 7}

# A 5 x 4 CLCD land-use map (0 = nodata); grades from the default table (Table 3 on CLCD):
#   codes            grades
#   1 1 2 2 5        5 5 2 2 1
#   1 4 2 0 5        5 4 2 - 1
#   8 8 4 4 7        6 6 4 4 7
#   8 8 4 9 7        6 6 4 1 7
CODES = np.array([[1, 1, 2, 2, 5], [1, 4, 2, 0, 5], [8, 8, 4, 4, 7], [8, 8, 4, 9, 7]], dtype=np.uint8)
X0, Y0, PX = 500000.0, 4000000.0, 30.0
UTM50 = 32650


def write_raster(path, array, dtype=gdal.GDT_Byte, nodata=0, epsg=UTM50, origin=(X0, Y0), px=PX):
    ds = gdal.GetDriverByName("GTiff").Create(str(path), array.shape[1], array.shape[0], 1, dtype)
    ds.SetGeoTransform((origin[0], px, 0, origin[1], 0, -px))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    ds.SetProjection(srs.ExportToWkt())
    band = ds.GetRasterBand(1)
    if nodata is not None:
        band.SetNoDataValue(nodata)
    band.WriteArray(array)
    ds = None
    return str(path)


def pixel_box(c0, r0, c1, r1):
    """Ring (UTM) around pixels columns c0..c1-1, rows r0..r1-1 (edges on pixel edges)."""
    x0, x1, y0, y1 = X0 + c0 * PX, X0 + c1 * PX, Y0 - r0 * PX, Y0 - r1 * PX
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]


def write_zones(path, zones, epsg=4326):
    """GeoPackage of polygons (rings given in UTM 50N) stored in ``epsg`` (reprojected vertices), field 'mine'."""
    src, dst = osr.SpatialReference(), osr.SpatialReference()
    src.ImportFromEPSG(UTM50)
    dst.ImportFromEPSG(epsg)
    for s in (src, dst):
        s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    ct = osr.CoordinateTransformation(src, dst)
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    layer = ds.CreateLayer("zones", dst, ogr.wkbPolygon)
    layer.CreateField(ogr.FieldDefn("mine", ogr.OFTString))
    for name, ring_pts in zones:
        ring = ogr.Geometry(ogr.wkbLinearRing)
        for x, y in ring_pts:
            ring.AddPoint_2D(*ct.TransformPoint(x, y)[:2])
        poly = ogr.Geometry(ogr.wkbPolygon)
        poly.AddGeometry(ring)
        f = ogr.Feature(layer.GetLayerDefn())
        f.SetField("mine", name)
        f.SetGeometry(poly)
        layer.CreateFeature(f)
    ds = None
    return str(path)


def read(path):
    ds = gdal.Open(str(path))
    band = ds.GetRasterBand(1)
    a = band.ReadAsArray().astype(np.float64)
    nd = band.GetNoDataValue()
    if nd is not None:
        a[a == nd] = np.nan
    ds = None
    return a


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def run(alg, params):
    import processing
    return processing.run(f"miningeco:{alg}", params)


def strata_as_byte(tmp_path):
    """The real NC land cover (stored as Float32) as a Byte raster, values unchanged (nodata -99999 -> 0)."""
    out = str(tmp_path / "strata_byte.tif")
    gdal.Translate(out, STRATA, outputType=gdal.GDT_Byte, noData=0).FlushCache()   # -99999 is clamped to 0
    return out


# ------------------------------------------------------------------------------------------- EG by hand
@pytest.fixture()
def hand_map(tmp_path):
    return write_raster(tmp_path / "lu.tif", CODES)


def test_egindex_moving_window_zones_and_whole_area_by_hand(provider, hand_map, tmp_path):
    zones = write_zones(tmp_path / "mines.gpkg", [
        ("impervious", pixel_box(0, 2, 2, 4)),   # grades 6 6 / 6 6 -> EG 6
        ("north-east", pixel_box(2, 0, 5, 2)),   # 2 2 1 / 2 - 1 -> 8/5 on 5 valid pixels
        ("far away", [(X0 + 1e5 + x, Y0 + y) for x, y in ((0, 0), (90, 0), (90, 90), (0, 0))]),
    ])
    res = run("egindex", {"LANDUSE": hand_map, "WINDOW_SIZE": 3, "ZONES": zones, "ZONE_FIELD": "mine",
                          "OUTPUT": str(tmp_path / "eg.tif"), "OUTPUT_NORMALISED": str(tmp_path / "egn.tif"),
                          "OUTPUT_TABLE": str(tmp_path / "eg.csv")})
    e = read(res["OUTPUT"])
    assert e[0, 0] == pytest.approx(19 / 4)        # 5 5 / 5 4
    assert e[0, 4] == pytest.approx(4 / 3)         # 2 1 / - 1
    assert e[3, 4] == pytest.approx(19 / 4)        # 4 7 / 1 7
    assert e[2, 2] == pytest.approx(31 / 8)        # 4 2 - / 6 4 4 / 6 4 1
    assert np.isnan(e[1, 3])                       # nodata centre
    np.testing.assert_allclose(read(res["OUTPUT_NORMALISED"]), (7 - e) / 6, atol=1e-6)
    # whole area: 78 / 19 (sum of the grades over 19 valid pixels), normalised (7 - 78/19) / 6 = 55/114
    assert res["EG_WHOLE"] == pytest.approx(78 / 19, abs=1e-12)
    assert res["EG_WHOLE_NORMALISED"] == pytest.approx(55 / 114, abs=1e-12)
    rows = {r["zone"]: r for r in read_csv(res["OUTPUT_TABLE"])}
    assert list(rows) == ["(whole area)", "impervious", "north-east", "far away"]
    assert float(rows["(whole area)"]["area_km2"]) == pytest.approx(19 * 900 / 1e6)
    assert float(rows["impervious"]["eg"]) == pytest.approx(6.0)
    assert float(rows["impervious"]["eg_normalised"]) == pytest.approx(1 / 6)
    assert float(rows["impervious"]["area_grade_6_km2"]) == pytest.approx(4 * 900 / 1e6)
    ne = rows["north-east"]
    assert float(ne["eg"]) == pytest.approx(1.6) and float(ne["area_km2"]) == pytest.approx(5 * 900 / 1e6)
    assert float(ne["area_grade_1_km2"]) == pytest.approx(2 * 900 / 1e6)
    assert float(ne["area_grade_2_km2"]) == pytest.approx(3 * 900 / 1e6)
    assert rows["far away"]["eg"] in ("", None) and float(rows["far away"]["area_km2"]) == 0
    # per-grade areas of the whole area add up to its area
    whole = rows["(whole area)"]
    assert sum(float(v) for k, v in whole.items() if k.startswith("area_grade_")) == pytest.approx(19 * 900 / 1e6)
    assert os.path.exists(tmp_path / "eg.qml") and os.path.exists(tmp_path / "egn.qml")


def test_zone_table_does_not_depend_on_the_block_size(provider, hand_map, tmp_path, monkeypatch):
    zones = write_zones(tmp_path / "z.gpkg", [("a", pixel_box(0, 1, 4, 4)), ("b", pixel_box(1, 0, 5, 3))])

    def table(tag):
        res = run("egindex", {"LANDUSE": hand_map, "ZONES": zones, "OUTPUT": str(tmp_path / f"e{tag}.tif"),
                              "OUTPUT_NORMALISED": "", "OUTPUT_TABLE": str(tmp_path / f"t{tag}.csv")})
        return read_csv(res["OUTPUT_TABLE"])

    ref = table("default")
    # overlapping zones each keep their pixels: a = rows 1-3, cols 0-3 -> 5 4 2 - / 6 6 4 4 / 6 6 4 1 = 48 / 11
    assert float(ref[1]["eg"]) == pytest.approx(48 / 11)
    # b = rows 0-2, cols 1-4 -> 5 2 2 1 / 4 2 - 1 / 6 4 4 7 = (10 + 7 + 21) / 11
    assert float(ref[2]["eg"]) == pytest.approx(38 / 11)
    for rows, cols in [(1, None), (2, 3)]:
        monkeypatch.setattr(engine, "DEFAULT_BLOCK_ROWS", rows)
        monkeypatch.setattr(engine, "DEFAULT_BLOCK_COLS", cols)
        assert table(f"{rows}x{cols}") == ref


def test_geographic_crs_weights_rows_by_their_ellipsoidal_area(provider, tmp_path):
    # 1-degree pixels at 61..59 N on EPSG:4326: row 0 forest (grade 2), row 1 barren (grade 7); each row weighs with
    # its cells' area on WGS84 (pyproj's geodesic area of the densified cell outline), so EG = (2 A0 + 7 A1) / (A0 + A1)
    from geodesic_ref import cell_area_m2
    lu = write_raster(tmp_path / "geo.tif", np.array([[2, 2], [7, 7]], np.uint8), epsg=4326, origin=(10.0, 61.0),
                      px=1.0)
    a0 = cell_area_m2(60.0, 61.0, 10.0, 11.0, step=0.01)
    a1 = cell_area_m2(59.0, 60.0, 10.0, 11.0, step=0.01)
    res = run("egindex", {"LANDUSE": lu, "WINDOW_SIZE": 3, "OUTPUT": str(tmp_path / "e.tif"),
                          "OUTPUT_NORMALISED": "", "OUTPUT_TABLE": str(tmp_path / "t.csv")})
    assert res["EG_WHOLE"] == pytest.approx((2 * a0 + 7 * a1) / (a0 + a1), rel=1e-9)
    assert read(res["OUTPUT"])[0, 0] == pytest.approx((2 * a0 + 7 * a1) / (a0 + a1), rel=1e-6)
    km2 = 2 * (a0 + a1) / 1e6
    assert float(read_csv(res["OUTPUT_TABLE"])[0]["area_km2"]) == pytest.approx(km2, rel=1e-6)


def test_egindex_yearly_table_from_a_series(provider, hand_map, tmp_path):
    forest = np.where(CODES == 0, 0, 2).astype(np.uint8)   # all forest (grade 2) but the nodata pixel
    y2005 = write_raster(tmp_path / "clcd_2005.tif", CODES)
    y2010 = write_raster(tmp_path / "clcd_2010.tif", forest)
    res = run("egindex", {"LANDUSE": hand_map, "LANDUSE_SERIES": [y2010, y2005], "OUTPUT_YEARLY": str(tmp_path / "y.csv"),
                          "OUTPUT": str(tmp_path / "eg.tif"), "OUTPUT_NORMALISED": str(tmp_path / "egn.tif"),
                          "OUTPUT_TABLE": str(tmp_path / "t.csv")})
    rows = read_csv(res["OUTPUT_YEARLY"])
    assert [int(r["year"]) for r in rows] == [2005, 2010]     # years from the file names, sorted
    assert float(rows[0]["eg"]) == pytest.approx(78 / 19) and float(rows[1]["eg"]) == pytest.approx(2.0)
    assert float(rows[1]["eg_normalised"]) == pytest.approx(5 / 6)
    with pytest.raises(Exception, match="YEARS.*duplicate date"):
        run("egindex", {"LANDUSE": hand_map, "LANDUSE_SERIES": [y2010, y2005], "YEARS": "2000,2000",
                        "OUTPUT": str(tmp_path / "bad.tif")})
    assert not os.path.exists(tmp_path / "bad.tif")


def test_missing_codes_are_named_and_nothing_is_written(provider, tmp_path):
    lu = write_raster(tmp_path / "lu.tif", np.where(CODES == 4, 12, np.where(CODES == 8, 15, CODES)).astype(np.uint8))
    out = tmp_path / "eg.tif"
    with pytest.raises(Exception) as err:
        run("egindex", {"LANDUSE": lu, "OUTPUT": str(out), "OUTPUT_NORMALISED": str(tmp_path / "n.tif")})
    assert "GRADE_TABLE" in str(err.value) and "12, 15" in str(err.value)
    assert not out.exists() and not (tmp_path / "n.tif").exists()


def test_float_landuse_even_window_and_zones_outside_are_refused(provider, hand_map, tmp_path):
    flt = write_raster(tmp_path / "float.tif", CODES.astype(np.float32), gdal.GDT_Float32)
    with pytest.raises(Exception, match="floating-point"):
        run("egindex", {"LANDUSE": flt, "OUTPUT": str(tmp_path / "a.tif")})
    with pytest.raises(Exception, match="WINDOW_SIZE"):
        run("egindex", {"LANDUSE": hand_map, "WINDOW_SIZE": 4, "OUTPUT": str(tmp_path / "b.tif")})
    far = write_zones(tmp_path / "far.gpkg", [("elsewhere", [(X0 - 5e4, Y0), (X0 - 4e4, Y0), (X0 - 4e4, Y0 - 1e4),
                                                            (X0 - 5e4, Y0)])])
    with pytest.raises(Exception, match="ZONES: none of the 1 zone"):
        run("egindex", {"LANDUSE": hand_map, "ZONES": far, "OUTPUT": str(tmp_path / "c.tif")})
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".tif") == ["float.tif", "lu.tif"]


def test_real_float_strata_is_refused(provider, tmp_path):
    with pytest.raises(Exception, match="LANDUSE.*floating-point"):
        run("egindex", {"LANDUSE": STRATA, "GRADE_TABLE": NC_GRADES, "OUTPUT": str(tmp_path / "eg.tif")})
    assert list(tmp_path.iterdir()) == []


def test_moving_window_on_real_land_cover_is_block_invariant_and_equals_convolution(provider, tmp_path, monkeypatch):
    lu = strata_as_byte(tmp_path)
    size = 7

    def eg_run(tag):
        res = run("egindex", {"LANDUSE": lu, "GRADE_TABLE": NC_GRADES, "WINDOW_SIZE": size,
                              "OUTPUT": str(tmp_path / f"eg_{tag}.tif"), "OUTPUT_NORMALISED": "",
                              "OUTPUT_TABLE": str(tmp_path / f"t_{tag}.csv")})
        return read(res["OUTPUT"]), res

    ref, res = eg_run("default")
    for rows, cols in [(1, None), (5, 7), (40, 100)]:
        monkeypatch.setattr(engine, "DEFAULT_BLOCK_ROWS", rows)
        monkeypatch.setattr(engine, "DEFAULT_BLOCK_COLS", cols)
        np.testing.assert_array_equal(eg_run(f"{rows}x{cols}")[0], ref)
    # independent: grades by a dict lookup, windows by a 2-D convolution of the whole map
    codes = gdal.Open(lu).ReadAsArray()
    grades = np.vectorize(lambda c: NC_GRADE_OF.get(int(c), 0))(codes).astype(float)
    valid = codes > 0
    k = np.ones((size, size))
    expect = convolve2d(grades, k, mode="same") / convolve2d(valid.astype(float), k, mode="same")
    expect[~valid] = np.nan
    np.testing.assert_allclose(ref, expect, atol=2e-6)   # float32 output
    # whole area: area-weighted mean of the grades over the pixel counts of the README (65099, 1433, ...)
    counts = np.bincount(codes.ravel(), minlength=8)
    assert list(counts[1:]) == [65099, 1433, 23502, 14532, 107643, 4223, 194]
    whole = sum(NC_GRADE_OF[c] * counts[c] for c in range(1, 8)) / counts[1:].sum()
    assert res["EG_WHOLE"] == pytest.approx(whole, abs=1e-12)
    assert float(read_csv(res["OUTPUT_TABLE"])[0]["area_km2"]) == pytest.approx(counts[1:].sum() * 28.5 ** 2 / 1e6)


# ---------------------------------------------------------------------------------------- coupling
def test_coupling_codes_by_hand(provider, tmp_path):
    # RSEI with equal thirds of [0, 1]: <1/3 -> 1, <2/3 -> 2, else 3
    rsei = np.array([[0.1, 0.5, 0.9], [0.9, 0.2, 0.5], [-9999, 0.7, 0.34]], dtype=np.float32)
    # EG normalised, equal thirds of its min..max over pixels valid in both (0.40 .. 0.70): breaks 0.5, 0.6
    egn = np.array([[0.40, 0.70, 0.70], [0.45, 0.55, 0.65], [0.10, 0.50, 0.60]], dtype=np.float32)
    r = write_raster(tmp_path / "rsei.tif", rsei, gdal.GDT_Float32, -9999)
    e = write_raster(tmp_path / "eg.tif", egn, gdal.GDT_Float32, -9999)
    res = run("coupling", {"RSEI": r, "EG": e, "OUTPUT": str(tmp_path / "c.tif"), "OUTPUT_TABLE": str(tmp_path / "c.csv")})
    # EG levels: 0.40->1 0.70->3 0.70->3 / 0.45->1 0.55->2 0.65->3 / - 0.50->2 0.60->3 (a break goes up)
    expect = np.array([[11, 32, 33], [13, 21, 32], [0, 23, 32]])
    np.testing.assert_array_equal(gdal.Open(res["OUTPUT"]).ReadAsArray(), expect)
    assert (res["EG_BREAK_1"], res["EG_BREAK_2"]) == pytest.approx((0.5, 0.6), abs=1e-7)
    rows = {int(r["code"]): r for r in read_csv(res["OUTPUT_TABLE"])}
    assert int(rows[32]["pixels"]) == 3 and float(rows[32]["area_km2"]) == pytest.approx(3 * 900 / 1e6)
    assert float(rows[32]["percent"]) == pytest.approx(37.5)
    assert rows[33]["meaning"].startswith("EG high / RSEI high")
    # user breaks, and the raw EG (lower = better) flipped: 7 - 6 * egn is the raw EG of the same pixels
    raw = write_raster(tmp_path / "raw.tif", np.where(egn > 0, 7 - 6 * egn, 0).astype(np.float32), gdal.GDT_Float32,
                       -9999)
    res2 = run("coupling", {"RSEI": r, "EG": raw, "EG_HIGHER_IS_BETTER": False, "EG_METHOD": 2,
                            "EG_BREAKS": f"{7 - 6 * 0.6},{7 - 6 * 0.5 + 1e-9}", "OUTPUT": str(tmp_path / "c2.tif")})
    # raw EG below 7 - 6*0.6 = 3.4 (egn > 0.6) -> plain 1 -> flipped 3; from 4.0 (egn <= 0.5) -> 1
    got = gdal.Open(res2["OUTPUT"]).ReadAsArray()
    assert got[0, 1] == 32 and got[0, 0] == 11 and got[1, 2] == 32 and got[1, 1] == 21


def test_coupling_refuses_other_grids_unless_resampled(provider, tmp_path):
    r = write_raster(tmp_path / "rsei.tif", np.full((4, 5), 0.5, np.float32), gdal.GDT_Float32, -9999)
    e = write_raster(tmp_path / "eg.tif", np.linspace(0, 1, 20, dtype=np.float32).reshape(4, 5), gdal.GDT_Float32,
                     -9999, origin=(X0 + 15, Y0))
    with pytest.raises(Exception, match="EG .*not on the grid"):
        run("coupling", {"RSEI": r, "EG": e, "OUTPUT": str(tmp_path / "c.tif")})
    assert not (tmp_path / "c.tif").exists()
    with pytest.raises(Exception, match="RSEI_BREAKS"):
        run("coupling", {"RSEI": r, "EG": r, "RSEI_METHOD": 2, "RSEI_BREAKS": "0.7,0.3", "OUTPUT": str(tmp_path / "c.tif")})
    res = run("coupling", {"RSEI": r, "EG": e, "RESAMPLING": 1, "OUTPUT": str(tmp_path / "c.tif")})
    assert set(np.unique(gdal.Open(res["OUTPUT"]).ReadAsArray())) <= {12, 22, 32}


# --------------------------------------------------------------------- real data end to end (qgis_process)
def test_coupling_on_real_nc_data_through_qgis_process(qgis_process, tmp_path):
    lu = strata_as_byte(tmp_path)
    egn, ndvi, codes, table = (tmp_path / n for n in ("egn.tif", "ndvi.tif", "codes.tif", "codes.csv"))
    proc = qgis_process("run", "miningeco:egindex", "--", f"LANDUSE={lu}",
                        "GRADE_TABLE=" + ",".join(map(str, NC_GRADES)), "WINDOW_SIZE=5",
                        f"OUTPUT={tmp_path / 'eg.tif'}", f"OUTPUT_NORMALISED={egn}",
                        f"OUTPUT_TABLE={tmp_path / 'eg.csv'}")
    assert "EG_WHOLE" in proc.stdout
    # NDVI from the DN (0-255) with the custom radiometry, scale 1/255: the scale cancels in (NIR - R) / (NIR + R)
    qgis_process("run", "miningeco:spectralindices", "--", "SENSOR=1", "RADIOMETRY=4", f"SCALE={1 / 255!r}",
                 "INDICES=0", f"RED={NC_RED}", f"NIR={NC_NIR}", f"OUTPUT={ndvi}")
    # strata.tif and the Landsat bands share the grid but spell the CRS differently: nearest-neighbour warp
    qgis_process("run", "miningeco:coupling", "--", f"RSEI={ndvi}", f"EG={egn}", "RSEI_METHOD=1", "RESAMPLING=1",
                 f"OUTPUT={codes}", f"OUTPUT_TABLE={table}")

    red, nir = read(NC_RED), read(NC_NIR)
    nd = read(ndvi)
    np.testing.assert_allclose(nd, (nir - red) / (nir + red), atol=1e-6)
    e = read(egn)
    both = np.isfinite(nd) & np.isfinite(e)
    # numpy reclassification: NDVI terciles of all pixels valid in both (216 k < SAMPLE_SIZE: exact), EG equal
    # thirds of its min..max there; level = 1 + (v >= b1) + (v >= b2); code = 10 * EG level + NDVI level
    q1, q2 = np.quantile(nd[both], [1 / 3, 2 / 3])
    lo, hi = e[both].min(), e[both].max()
    e1, e2 = lo + (hi - lo) / 3, lo + 2 * (hi - lo) / 3
    lev = lambda v, b1, b2: 1 + (v >= b1).astype(int) + (v >= b2).astype(int)  # noqa: E731
    expect = np.where(both, 10 * lev(e, e1, e2) + lev(nd, q1, q2), 0)
    got = gdal.Open(str(codes)).ReadAsArray()
    np.testing.assert_array_equal(got, expect)
    rows = read_csv(table)
    assert [int(r["code"]) for r in rows] == [11, 12, 13, 21, 22, 23, 31, 32, 33]
    px_area = 28.5 ** 2 / 1e6
    for r in rows:
        n = int((expect == int(r["code"])).sum())
        assert int(r["pixels"]) == n and float(r["area_km2"]) == pytest.approx(n * px_area)
    assert sum(int(r["pixels"]) for r in rows) == int(both.sum())
    assert sum(float(r["area_km2"]) for r in rows) == pytest.approx(both.sum() * px_area)
    assert sum(float(r["percent"]) for r in rows) == pytest.approx(100.0)
    assert (tmp_path / "codes.qml").exists()
    assert "EG high / RSEI high" in (tmp_path / "codes.qml").read_text()


def test_help_reads_as_documentation(qgis_process):
    for alg, params in (("egindex", ("GRADE_TABLE", "WINDOW_SIZE", "ZONES", "LANDUSE_SERIES", "YEARS",
                                     "OUTPUT_NORMALISED")),
                        ("coupling", ("RSEI_METHOD", "EG_METHOD", "EG_HIGHER_IS_BETTER", "RESAMPLING"))):
        out = qgis_process("help", f"miningeco:{alg}").stdout
        assert "Han C., Li P., Xie H. et al. (2025), Sustainability 17: 9075" in out and all(p in out for p in params)
