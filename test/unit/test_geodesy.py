"""Pixel areas of geographic (lat/lon) grids against pyproj's geodesic polygon areas (issue 11, defect 6).

The reference is ``pyproj.Geod(...).polygon_area_perimeter`` (Karney's geodesic algorithms, GeographicLib) of
the cell outline densified every 0.001 deg along its edges: a parallel is not a geodesic, so Geod on the four
corners alone is itself off by 1.6e-6 at 0.25 deg (checked below, so that the densification is shown to matter).
"""
import math

import numpy as np
import pyproj   # python3-pyproj, installed by scripts/setup.sh (a Debian package on 12 and 13)
import pytest
from osgeo import osr

from geodesic_ref import cell_area_m2   # test/qgis/geodesic_ref.py: pyproj on the densified cell outline
from mining_eco_plugin.core.geodesy import authalic_latitude, authalic_radius, cell_areas_m2
from mining_eco_plugin.raster.engine import Grid, RasterError, Window

SPHERE_R = 6371007.2   # the authalic sphere the plugin used up to 0.6.0, with geodetic latitudes


def densified_cell_area(geod, lat0, lat1, lon0, lon1, step=0.001):
    return cell_area_m2(lat0, lat1, lon0, lon1, geod, step)


def crs_wkt(epsg):
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    return srs.ExportToWkt()


@pytest.mark.parametrize("lat", [0.0, 45.0, 70.0])
@pytest.mark.parametrize("px", [0.01, 0.25])
def test_epsg4326_pixel_areas_equal_pyproj_geod_on_wgs84(lat, px):
    geod = pyproj.Geod(ellps="WGS84")
    ref = densified_cell_area(geod, lat, lat + px, 100.0, 100.0 + px)
    grid = Grid(3, 2, (100.0, px, 0.0, lat + 2 * px, 0.0, -px), crs_wkt(4326), "test grid")
    areas = grid.row_areas_m2(Window(0, 0, 3, 2))[:, 0]
    assert areas[1] == pytest.approx(ref, rel=1e-6)        # the bottom row: lat .. lat + px
    assert areas[0] == pytest.approx(densified_cell_area(geod, lat + px, lat + 2 * px, 100.0, 100.0 + px), rel=1e-6)
    # what 0.6.0 computed (sphere, geodetic latitude) was 0.2 - 0.7 % off: the test can tell the two apart
    sphere = SPHERE_R ** 2 * math.radians(px) * (math.sin(math.radians(lat + px)) - math.sin(math.radians(lat)))
    assert abs(sphere / ref - 1) > 2e-3


def test_geod_on_four_corners_is_not_a_good_enough_reference():
    # why the reference outline is densified: the four-corner polygon has geodesic (not parallel) edges
    geod = pyproj.Geod(ellps="WGS84")
    ref = densified_cell_area(geod, 0.0, 0.25, 100.0, 100.25)
    corners = abs(geod.polygon_area_perimeter([100.0, 100.25, 100.25, 100.0], [0.0, 0.0, 0.25, 0.25])[0])
    assert abs(corners / ref - 1) > 1e-6
    assert cell_areas_m2([0.0, 0.25], 0.25, geod.a, geod.f)[0] == pytest.approx(ref, rel=1e-9)


@pytest.mark.parametrize("epsg", [4214, 4490, 4610, 4019, 4024])   # Beijing 1954 (Krassowsky), CGCS2000,
def test_other_ellipsoids_of_the_crs_equal_pyproj_geod(epsg):       # Xian 1980 (IAG 1975), GRS80, Krassowsky
    crs = pyproj.CRS.from_epsg(epsg)
    assert crs.is_geographic
    geod = crs.get_geod()               # pyproj's own reading of the CRS's ellipsoid, not GDAL's
    grid = Grid(1, 4, (110.0, 0.25, 0.0, 46.0, 0.0, -0.25), crs_wkt(epsg), f"EPSG:{epsg}")
    areas = grid.row_areas_m2(Window(0, 0, 1, 4))[:, 0]
    ref = [densified_cell_area(geod, 46.0 - 0.25 * (i + 1), 46.0 - 0.25 * i, 110.0, 110.25) for i in range(4)]
    np.testing.assert_allclose(areas, ref, rtol=1e-6)
    # and differs from WGS84 where the ellipsoid does (Krassowsky: a = 6378245 m)
    wgs = [densified_cell_area(pyproj.Geod(ellps="WGS84"), 45.75, 46.0, 110.0, 110.25)]
    if abs(geod.a - 6378137.0) > 10:
        assert abs(areas[0] / wgs[0] - 1) > 1e-5


def test_authalic_radius_and_latitude_match_pyproj():
    # R_q of WGS84 = 6371007.1809 m (Snyder 1987 / GeographicLib); the authalic latitude of 45 deg on WGS84
    geod = pyproj.Geod(ellps="WGS84")
    assert authalic_radius(geod.a, geod.f) == pytest.approx(6371007.1809, abs=1e-3)
    # the whole ellipsoid: 4 pi R_q^2 = 5.10065621724e14 m2 (GeographicLib's area of WGS84)
    assert 4 * math.pi * authalic_radius(geod.a, geod.f) ** 2 == pytest.approx(5.10065621724e14, rel=1e-11)
    # sin(beta) = q(phi) / q_p: a hemisphere-north band 0..45 deg holds sin(beta(45)) of the hemisphere
    band = densified_cell_area(geod, 0.0, 45.0, 0.0, 1.0, step=0.01)
    hemi_strip = densified_cell_area(geod, 0.0, 89.999999, 0.0, 1.0, step=0.01)
    assert math.sin(math.radians(authalic_latitude(45.0, geod.a, geod.f))) == pytest.approx(band / hemi_strip, rel=1e-6)
    assert authalic_latitude(45.0) == pytest.approx(45.0)            # a sphere: beta = phi


def test_sphere_is_the_flattening_zero_case():
    r = 6371007.2
    got = cell_areas_m2([1.0, 0.0], 1.0, r, 0.0)[0]
    assert got == pytest.approx(r * r * math.radians(1.0) * math.sin(math.radians(1.0)), rel=1e-13)


@pytest.mark.parametrize("gt, why", [
    ((500000.0, 30.0, 0.0, 4000000.0, 0.0, -30.0), "UTM metres labelled EPSG:4326"),
    ((10.0, 0.5, 0.0, 95.0, 0.0, -0.5), "latitudes above 90"),
    ((-500.0, 0.5, 0.0, 40.0, 0.0, -0.5), "longitudes below -180"),
])
def test_coordinates_that_are_not_degrees_are_refused_naming_the_layer(gt, why):
    grid = Grid(4, 3, gt, crs_wkt(4326), "DATE1 (lu.tif, band 1)")
    with pytest.raises(RasterError, match=r"DATE1 \(lu.tif, band 1\): its CRS \(EPSG:4326\) is geographic.*not "
                                          r"degrees.*CRS label"):
        grid.row_areas_m2(Window(0, 0, 4, 3))


def test_a_global_grid_and_a_moving_window_halo_are_accepted():
    # pixel centres on the poles (edges half a pixel beyond 90) and 0..360 longitudes are real grids
    grid = Grid(1440, 721, (-0.125, 0.25, 0.0, 90.125, 0.0, -0.25), crs_wkt(4326), "global")
    areas = grid.row_areas_m2(Window(0, 0, 1440, 721))[:, 0]
    assert np.all(areas >= 0) and areas[360] > areas[0]
    geod = pyproj.Geod(ellps="WGS84")
    assert areas.sum() * 1440 == pytest.approx(4 * math.pi * authalic_radius(geod.a, geod.f) ** 2, rel=1e-9)
    Grid(10, 10, (0.0, 36.0, 0.0, 45.0, 0.0, -1.0), crs_wkt(4326)).check_geographic_extent()
    # rows outside the raster (a moving window's halo) get the polar-clipped areas, no error
    small = Grid(2, 2, (0.0, 1.0, 0.0, 90.0, 0.0, -1.0), crs_wkt(4326))
    halo = small.row_areas_m2(Window(-1, -1, 4, 4))[:, 0]
    assert halo[0] == 0.0 and halo[1] > 0
