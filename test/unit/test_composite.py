"""core.composite (issue 13, item 2) against hand calculations and published tables.

Sources named per test: hand arithmetic on small arrays (median, medoid, max-NDVI, BAP scores), the USGS
Landsat 8-9 Collection 2 Level-2 Science Product Guide QA_PIXEL bit table (bit by bit, decomposed by hand), the
ESA Sentinel-2 L2A SCL class list, and Roy et al. 2016 (RSE 185: 57-70) Table 2, ETM+ to OLI OLS.
Float tolerance: 1e-6 absolute unless stated (float32 arithmetic on values of order 1).
"""
import math
import pickle

import numpy as np
import pytest

from mining_eco_plugin.core import composite as c

NAN = np.nan
TOL = 1e-6


def stack(values):
    """obs (n_obs, bands, 1, n_pixels) float32 from a nested list [obs][band][pixel]."""
    return np.asarray(values, dtype=np.float32)[:, :, None, :]


# ----------------------------------------------------------------------------------------
# median
# ----------------------------------------------------------------------------------------

def test_median_by_hand():
    # 1 band, 4 pixels, 4 observations
    # pixel 0: 0.1, 0.3, 0.2, 0.4        -> valid 4, median (0.2 + 0.3) / 2 = 0.25
    # pixel 1: 0.1, NaN, 0.4, 0.2        -> valid 3, median 0.2
    # pixel 2: NaN, NaN, 0.7, NaN        -> valid 1, median 0.7
    # pixel 3: all NaN                   -> valid 0, NaN
    obs = stack([[[0.1, 0.1, NAN, NAN]], [[0.3, NAN, NAN, NAN]], [[0.2, 0.4, 0.7, NAN]], [[0.4, 0.2, NAN, NAN]]])
    r = c.median_composite(obs)
    assert r["values"].shape == (1, 1, 4) and r["values"].dtype == np.float32
    np.testing.assert_allclose(r["values"][0, 0, :3], [0.25, 0.2, 0.7], atol=TOL)
    assert np.isnan(r["values"][0, 0, 3])
    assert r["count"][0].tolist() == [4, 3, 1, 0]


def test_median_drops_an_observation_missing_in_any_band():
    # band 0: 0.1, 0.2, 0.9; band 1: 0.5, NaN, 0.6 -> observation 1 is invalid in every band, so
    # band 0 median = median(0.1, 0.9) = 0.5 (not 0.2), band 1 median = (0.5 + 0.6) / 2 = 0.55; count 2
    obs = stack([[[0.1], [0.5]], [[0.2], [NAN]], [[0.9], [0.6]]])
    r = c.median_composite(obs)
    np.testing.assert_allclose(r["values"][:, 0, 0], [0.5, 0.55], atol=TOL)
    assert r["count"][0, 0] == 2


# ----------------------------------------------------------------------------------------
# medoid
# ----------------------------------------------------------------------------------------

def test_medoid_by_hand_bands_from_one_date():
    # 2 bands, 3 observations at one pixel: A (0.1, 0.1), B (0.2, 0.3), C (0.5, 0.2)
    # band medians: 0.2, 0.2; squared distances: A 0.01 + 0.01 = 0.02, B 0 + 0.01 = 0.01, C 0.09 + 0 = 0.09
    # -> B (index 1), its own bands (0.2, 0.3), not the per-band medians (0.2, 0.2)
    obs = stack([[[0.1], [0.1]], [[0.2], [0.3]], [[0.5], [0.2]]])
    r = c.medoid_composite(obs, doy=[160, 190, 220])
    assert r["index"][0, 0] == 1
    np.testing.assert_allclose(r["values"][:, 0, 0], [0.2, 0.3], atol=TOL)
    assert r["doy"][0, 0] == 190
    assert r["count"][0, 0] == 3


def test_medoid_skips_masked_dates_and_empty_pixels():
    # pixel 0: A (0.25, 0.25), B masked, C (0.75, 0.5) (exact in binary): medians of A, C = (0.5, 0.375);
    # A: 0.0625 + 0.015625 = 0.078125, C: 0.0625 + 0.015625 = 0.078125 -> a tie, the earliest (A, index 0)
    # wins; pixel 1 has no valid observation
    obs = stack([[[0.25, NAN], [0.25, NAN]], [[NAN, NAN], [NAN, NAN]], [[0.75, NAN], [0.5, NAN]]])
    r = c.medoid_composite(obs, doy=[160, 190, 220])
    assert r["index"][0].tolist() == [0, -1]
    assert r["doy"][0, 0] == 160 and np.isnan(r["doy"][0, 1])
    assert np.isnan(r["values"][:, 0, 1]).all()
    assert r["count"][0].tolist() == [2, 0]


def test_medoid_tie_goes_to_the_earliest_date():
    # one band 0.25 and 0.75 (exact in binary): median 0.5, both distances 0.0625 exactly
    obs = stack([[[0.25]], [[0.75]]])
    assert c.medoid_composite(obs)["index"][0, 0] == 0                     # no dates: the lower index
    assert c.medoid_composite(obs, date=[20240801, 20240715])["index"][0, 0] == 1   # observation 1 is earlier
    assert c.medoid_composite(obs, date=[20240701, 20240715])["index"][0, 0] == 0


# ----------------------------------------------------------------------------------------
# maximum NDVI
# ----------------------------------------------------------------------------------------

def test_max_ndvi_by_hand():
    # pixel 0: NDVI 0.3, 0.7, 0.5 -> observation 1
    # pixel 1: NDVI 0.3, 0.7 (but observation 1 masked), 0.5 -> observation 2
    # pixel 2: NDVI 0.6, 0.6, NaN -> tie, earliest date; with dates (5, 3, 1) observation 1 is earlier than 0
    obs = stack([[[1.0, 1.0, 1.0]], [[2.0, NAN, 2.0]], [[3.0, 3.0, 3.0]]])
    ndvi = np.array([[[0.3, 0.3, 0.6]], [[0.7, 0.7, 0.6]], [[0.5, 0.5, NAN]]], dtype=np.float32)
    r = c.max_ndvi_composite(obs, ndvi, doy=[150, 180, 210])
    assert r["index"][0].tolist() == [1, 2, 0]
    np.testing.assert_array_equal(r["values"][0, 0], [2.0, 3.0, 1.0])
    np.testing.assert_array_equal(r["doy"][0], [180, 210, 150])
    assert c.max_ndvi_composite(obs, ndvi, date=[5, 3, 1])["index"][0, 2] == 1
    with pytest.raises(ValueError):
        c.max_ndvi_composite(obs, ndvi[:2])


# ----------------------------------------------------------------------------------------
# best-available-pixel
# ----------------------------------------------------------------------------------------

def test_score_functions_by_hand():
    # Gaussian: exp(-30^2 / (2 * 30^2)) = exp(-0.5) = 0.6065306597
    assert c.doy_score(230, 200, sigma=30) == pytest.approx(0.6065306597, abs=1e-9)
    assert c.doy_score(200, 200) == pytest.approx(1.0)
    # across New Year: day 360 and target day 5 are 10 days apart (365-day year): exp(-100 / 1800)
    assert c.doy_score(360, 5, sigma=30) == pytest.approx(math.exp(-100 / 1800), abs=1e-12)
    assert c.doy_score(360, 5, sigma=30) == pytest.approx(0.9459594689, abs=1e-9)
    # sigmoid 1 / (1 + exp(-(10 / 50) (d - 25))): d = 25 -> 0.5, d = 0 -> 1 / (1 + e^5) = 0.0066928509,
    # d = 50 -> 0.9933071491
    np.testing.assert_allclose(c.cloud_score([25, 0, 50], required=50), [0.5, 0.0066928509, 0.9933071491],
                               atol=1e-9)
    assert c.cloud_score(np.inf) == 1.0


def test_cloud_distance_by_hand():
    m = np.zeros((1, 5), bool)
    m[0, 2] = True
    np.testing.assert_array_equal(c.cloud_distance(m)[0], [2, 1, 0, 1, 2])
    m = np.zeros((3, 3), bool)
    m[1, 1] = True
    d = c.cloud_distance(m)
    assert d[0, 0] == pytest.approx(math.sqrt(2), abs=1e-6) and d[0, 1] == 1 and d[1, 1] == 0
    assert np.isinf(c.cloud_distance(np.zeros((2, 2), bool))).all()
    assert (c.cloud_distance(np.zeros((2, 2), bool), cap=100) == 100).all()
    # ~m: clouds everywhere except the centre, whose nearest cloud is 1 pixel away
    np.testing.assert_array_equal(c.cloud_distance(np.stack([m, ~m]))[1], [[0, 0, 0], [0, 1, 0], [0, 0, 0]])


def test_bap_defaults_are_forces_level3_defaults():
    # FORCE (github davidfrantz/force ed18079), docs/source/_static/parameter-files/parameter_LEVEL3.prm:
    #   DOY_SCORE = 0.01 0.99 0.01 (l. 248), DOY_STATIC = 120 180 240 (l. 260), SCORE_DOY_WEIGHT = 1.0 (l. 283),
    #   SCORE_CLOUD_WEIGHT = 0.4 (l. 291), DREQ = 3000 m (l. 308); no sensor score.
    d = c.BAP_DEFAULTS
    assert (d["w_doy"], d["w_cloud"], d["w_sensor"]) == (1.0, 0.4, 0.0)
    # src/modules/higher-level/bap-hl.c l. 145: sigma = (240 - 180) / sqrt(-2 ln(0.01 / 0.99)) = 19.791916 d
    assert d["doy_sigma"] == pytest.approx(19.791916, abs=1e-6)
    # so a day 60 d from the target scores 0.01 / 0.99 of the target's, by FORCE's own definition
    assert c.doy_score([120, 180, 240], 180) == pytest.approx([0.01 / 0.99, 1.0, 0.01 / 0.99], abs=1e-12)
    # bap-hl.c l. 636-637 in metres, DREQ 3000, against ours in pixels of 30 m (cloud_required 100 px):
    for d_px in (0, 10, 25, 50, 58, 59, 100, 150):
        d_m = 30.0 * d_px
        force = 1.0 / (1.0 + math.exp((-10.0 / 3000.0) * (d_m - 3000.0 / 2.0)))
        assert c.cloud_score(d_px) == pytest.approx(force, abs=1e-12)
    assert c.cloud_score(0) == pytest.approx(1 / (1 + math.e ** 5), abs=1e-12)       # 0.006693
    assert c.cloud_score(50) == pytest.approx(0.5, abs=1e-12)
    assert c.cloud_score(np.inf) == 1.0


def test_bap_switches_at_the_hand_computed_cloud_distance():
    # 1 x 80 pixels, 2 observations, default (FORCE) weights 1.0 / 0.4 / 0, sigma 19.791916 d, Dreq 100 px;
    # score = (S_doy + 0.4 S_cloud) / 1.4 (FORCE divides by the total weight, bap-hl.c l. 672)
    # obs 0: day 180 = target (S_doy 1), a cloud at column 0 (distance to cloud = column)
    #        score0 = (1 + 0.4 S_cloud(d)) / 1.4,  S_cloud(d) = 1 / (1 + exp(-0.1 (d - 50)))
    # obs 1: day 190, no cloud (S_cloud 1); S_doy = exp(-100 / (2 * 19.791916^2)) = 0.880168
    #        score1 = (0.880168 + 0.4) / 1.4 = 0.914406
    # obs 0 wins where S_cloud(d) > (0.880168 - 0.6) / 0.4 = 0.700421, i.e. d > 50 + 10 ln(0.700421 / 0.299579)
    # = 58.49: S_cloud(58) = 0.689974 -> score0 0.911421 < score1 (obs 1); S_cloud(59) = 0.710950 -> score0
    # 0.917414 > score1 (obs 0)
    cols = 80
    obs = np.full((2, 1, 1, cols), 0.2, np.float32)
    obs[1] = 0.4
    cloud = np.zeros((2, 1, cols), bool)
    cloud[0, 0, 0] = True
    obs[0, :, 0, 0] = np.nan                    # the cloudy pixel itself is masked
    dist = c.cloud_distance(cloud)
    r = c.bap_composite(obs, dist, doy=[180, 190], sensor=["L8", "L8"], target_doy=180)
    expect = np.where(np.arange(cols) >= 59, 0, 1)
    np.testing.assert_array_equal(r["index"][0], expect)
    np.testing.assert_allclose(r["values"][0, 0], np.where(expect == 0, 0.2, 0.4), atol=TOL)
    assert r["score"][0, 58] == pytest.approx(0.914406, abs=1e-6)
    assert r["score"][0, 59] == pytest.approx(0.917414, abs=1e-6)
    np.testing.assert_array_equal(r["doy"][0], np.where(expect == 0, 180, 190))
    # the circular day distance: day 360 is 10 days from a target of day 5 (window across New Year)
    assert c.doy_score(360, 5) == pytest.approx(0.880168, abs=1e-6)


def test_bap_sensor_score_and_weights():
    obs = np.full((2, 1, 1, 1), 0.3, np.float32)
    dist = np.full((2, 1, 1), np.inf)
    # default: no sensor weight (neither Griffiths' three functions nor FORCE score the sensor), so the
    # sensor scores change nothing; both score (1 + 0.4) / 1.4 = 1 and the tie goes to the first
    s = c.bap_scores(dist, [200, 200], ["L7", "L8"], 200, sensor_scores={"L7": 0.5})
    np.testing.assert_allclose(s[:, 0, 0], [1.0, 1.0], atol=1e-12)
    # with w_sensor 0.2: L7 (1 + 0.4 + 0.2 * 0.5) / 1.6 = 0.9375, L8 (1 + 0.4 + 0.2) / 1.6 = 1 -> L8 wins
    kw = dict(sensor_scores={"L7": 0.5}, w_sensor=0.2)
    s = c.bap_scores(dist, [200, 200], ["L7", "L8"], 200, **kw)
    np.testing.assert_allclose(s[:, 0, 0], [0.9375, 1.0], atol=1e-12)
    r = c.bap_composite(obs, dist, [200, 200], ["L7", "L8"], 200, **kw)
    assert r["index"][0, 0] == 1 and r["score"][0, 0] == pytest.approx(1.0, abs=1e-6)
    # weight only on the day of year: the date closer to the target wins whatever the cloud distance
    dist = np.array([[[100.0]], [[0.0]]])
    r = c.bap_composite(obs, dist, [150, 199], ["L8", "L8"], 200, w_doy=1.0, w_cloud=0.0, w_sensor=0.0)
    assert r["index"][0, 0] == 1
    with pytest.raises(ValueError):
        c.bap_scores(dist, [150, 199], ["L8", "L8"], 200, w_doy=0.0, w_cloud=0.0, w_sensor=0.0)
    with pytest.raises(ValueError):
        c.bap_scores(dist, [150, 199], ["L8", "L8"], 200, w_cloud=-1.0)


# ----------------------------------------------------------------------------------------
# QA_PIXEL (USGS Landsat 8-9 C2 L2 Science Product Guide bit table), decomposed by hand
# ----------------------------------------------------------------------------------------

def test_qa_pixel_decode_bit_by_bit():
    # 21824 = 16384 + 4096 + 1024 + 256 + 64 = bits 14, 12, 10, 8, 6:
    #   clear (6), cloud / shadow / snow / cirrus confidence all 01 = low
    # 22280 = 16384 + 4096 + 1024 + 512 + 256 + 8 = bits 14, 12, 10, 9, 8, 3:
    #   cloud (3), cloud confidence 11 = high, the others low
    # 1 = fill; 2 = dilated cloud; 4 = cirrus; 16 = cloud shadow; 32 = snow; 128 = water
    # 0b1100_0000_0000_0000 = 49152: cirrus confidence high only; 0b0011_0000_0000_0000 = 12288: snow high;
    # 0b0000_1000_0000_0000 = 2048: shadow confidence medium (10); 0b0000_0010_0000_0000 = 512: cloud medium
    qa = np.array([21824, 22280, 1, 2, 4, 16, 32, 128, 49152, 12288, 2048, 512], dtype=np.uint16)
    f = c.qa_pixel_decode(qa)
    assert f["clear"].tolist() == [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    assert f["cloud"].tolist() == [0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    assert f["fill"].tolist() == [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    assert f["dilated_cloud"].tolist() == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    assert f["cirrus"].tolist() == [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    assert f["cloud_shadow"].tolist() == [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    assert f["snow"].tolist() == [0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0]
    assert f["water"].tolist() == [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]
    assert f["cloud_confidence"].tolist() == [1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]
    assert f["cloud_shadow_confidence"].tolist() == [1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0]
    assert f["snow_ice_confidence"].tolist() == [1, 1, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0]
    assert f["cirrus_confidence"].tolist() == [1, 1, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0]
    assert f["valid"].all()


def test_qa_pixel_mask_confidence_levels():
    conf = [0, 1 << 8, 2 << 8, 3 << 8]                  # cloud confidence none / low / medium / high, no flags
    qa = np.array(conf, dtype=np.uint16)
    assert c.qa_pixel_mask(qa, cloud=c.LOW).tolist() == [False, True, True, True]
    assert c.qa_pixel_mask(qa, cloud=c.MEDIUM).tolist() == [False, False, True, True]
    assert c.qa_pixel_mask(qa, cloud=c.HIGH).tolist() == [False, False, False, True]
    assert c.qa_pixel_mask(qa, cloud=None).tolist() == [False] * 4
    shadow = np.array([0, 1 << 10, 2 << 10, 3 << 10], dtype=np.uint16)
    assert c.qa_pixel_mask(shadow, cloud_shadow=c.MEDIUM).tolist() == [False, False, True, True]
    snow = np.array([0, 1 << 12, 2 << 12, 3 << 12], dtype=np.uint16)
    assert c.qa_pixel_mask(snow).tolist() == [False] * 4                  # snow not masked by default
    assert c.qa_pixel_mask(snow, snow=c.HIGH).tolist() == [False, False, False, True]
    cirrus = np.array([0, 1 << 14, 2 << 14, 3 << 14], dtype=np.uint16)
    assert c.qa_pixel_mask(cirrus).tolist() == [False] * 4
    assert c.qa_pixel_mask(cirrus, cirrus=c.LOW).tolist() == [False, True, True, True]
    with pytest.raises(ValueError):
        c.qa_pixel_mask(qa, cloud=4)


def test_qa_pixel_mask_flags_fill_and_missing_qa():
    # 21824 clear with lows set: kept by the defaults (cloud >= medium, shadow high); masked at cloud=LOW
    # 22280 high-confidence cloud; 1 fill; 2 dilated cloud; 16 shadow flag; 32 snow flag; NaN float = no QA
    qa = np.array([21824, 22280, 1, 2, 16, 32, np.nan], dtype=np.float32)
    assert c.qa_pixel_mask(qa).tolist() == [False, True, True, True, True, False, True]
    assert c.qa_pixel_mask(qa, dilated_cloud=False).tolist() == [False, True, True, False, True, False, True]
    assert c.qa_pixel_mask(qa, snow=c.HIGH).tolist() == [False, True, True, True, True, True, True]
    assert c.qa_pixel_mask(qa, use_flags=False, dilated_cloud=False).tolist() == \
        [False, True, True, False, False, False, True]
    assert c.qa_pixel_mask(qa, cloud=c.LOW)[0]


def test_qa_pixel_mask_default_agrees_with_single_scene_rule_on_flags():
    # radiometry.qa_pixel_clear drops bits 0-4; the composite with cirrus on drops the same single bits
    from mining_eco_plugin.core import radiometry as rad
    qa = np.array([0, 1, 2, 4, 8, 16, 32, 64, 128], dtype=np.uint16)
    assert (c.qa_pixel_mask(qa, cirrus=c.HIGH) == ~rad.qa_pixel_clear(qa)).all()


# ----------------------------------------------------------------------------------------
# Sentinel-2 SCL (ESA L2A product definition classes 0-11)
# ----------------------------------------------------------------------------------------

def test_scl_mask_classes():
    scl = np.arange(13, dtype=np.uint8)                  # 12 is not a class
    # masked by default: 0 no data, 1 saturated, 3 cloud shadows, 8 / 9 cloud medium / high, 10 cirrus, 11 snow
    expect = [True, True, False, True, False, False, False, False, True, True, True, True, True]
    assert c.scl_mask(scl).tolist() == expect
    assert c.scl_mask(scl, classes=(8, 9)).tolist() == [False] * 8 + [True, True, False, False, True]
    assert c.scl_mask(np.array([4.0, np.nan], np.float32)).tolist() == [False, True]
    assert c.SCL_CLASSES[4] == "vegetation" and c.SCL_CLASSES[10] == "thin cirrus" and len(c.SCL_CLASSES) == 12


# ----------------------------------------------------------------------------------------
# dilation
# ----------------------------------------------------------------------------------------

def test_dilate_square_structuring_element():
    m = np.zeros((9, 9), bool)
    m[4, 4] = True
    d1 = c.dilate_mask(m, 1)
    assert d1.sum() == 9 and d1[3:6, 3:6].all() and d1[3, 3]       # square: the corner (3, 3) is in
    d2 = c.dilate_mask(m, 2)
    assert d2.sum() == 25 and d2[2:7, 2:7].all()
    edge = np.zeros((5, 5), bool)
    edge[0, 0] = True
    assert c.dilate_mask(edge, 1).sum() == 4                       # clipped at the array edge
    assert (c.dilate_mask(m, 0) == m).all()
    stackm = np.stack([m, np.zeros_like(m)])
    ds = c.dilate_mask(stackm, 1)
    assert ds[0].sum() == 9 and ds[1].sum() == 0                   # each slice on its own
    with pytest.raises(ValueError):
        c.dilate_mask(m, -1)


# ----------------------------------------------------------------------------------------
# harmonisation: Roy et al. 2016, RSE 185: 57-70, Table 2, ETM+ -> OLI, OLS
# ----------------------------------------------------------------------------------------

ROY_TABLE2 = {"B": (0.0003, 0.8474), "G": (0.0088, 0.8483), "R": (0.0061, 0.9047),
              "NIR": (0.0412, 0.8462), "SWIR1": (0.0254, 0.8937), "SWIR2": (0.0172, 0.9071)}


def test_harmonisation_coefficients_are_roy_2016_table2():
    assert c.ROY2016_ETM_TO_OLI == ROY_TABLE2


@pytest.mark.parametrize("band", sorted(ROY_TABLE2))
def test_harmonisation_values(band):
    a, b = ROY_TABLE2[band]
    x = np.array([0.0, 0.1, 0.5, np.nan], np.float32)
    y = c.harmonise_to_oli(x, band)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y[:3], [a, a + 0.1 * b, a + 0.5 * b], atol=1e-6)
    assert np.isnan(y[3])


def test_harmonisation_hand_value_and_stack():
    # NIR 0.1: 0.0412 + 0.8462 * 0.1 = 0.12582
    assert float(c.harmonise_to_oli(np.float32(0.1), "NIR")) == pytest.approx(0.12582, abs=1e-6)
    bands = ["B", "G", "R", "NIR", "SWIR1", "SWIR2"]
    x = np.full((6, 2, 2), 0.2, np.float32)
    y7 = c.harmonise_stack(x, bands, "L7")
    np.testing.assert_allclose(y7[:, 0, 0], [ROY_TABLE2[k][0] + 0.2 * ROY_TABLE2[k][1] for k in bands], atol=1e-6)
    np.testing.assert_array_equal(c.harmonise_stack(x, bands, "L5"), y7)
    np.testing.assert_array_equal(c.harmonise_stack(x, bands, "L8"), x)
    with pytest.raises(ValueError):
        c.harmonise_to_oli(x[0], "T")


# ----------------------------------------------------------------------------------------
# block executor: compute functions must be module-level and picklable
# ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["median_composite", "medoid_composite", "max_ndvi_composite", "bap_composite",
                                  "qa_pixel_mask", "scl_mask", "dilate_mask", "cloud_distance",
                                  "harmonise_stack"])
def test_functions_pickle_by_reference(name):
    f = getattr(c, name)
    assert pickle.loads(pickle.dumps(f)) is f


def test_medoid_and_median_match_a_per_pixel_loop():
    # independent reference: a plain Python loop per pixel (valid = all bands finite; per-band
    # statistics.median; medoid = first index of the smallest squared distance), float64, tol 1e-6
    import statistics
    rng = np.random.default_rng(13)
    obs = rng.random((7, 3, 4, 5)).astype(np.float32)
    obs[rng.random(obs.shape) < 0.15] = np.nan
    obs[:, :, 0, 0] = np.nan
    med = c.median_composite(obs)
    mdd = c.medoid_composite(obs)
    for i in range(4):
        for j in range(5):
            good = [k for k in range(7) if np.isfinite(obs[k, :, i, j]).all()]
            assert med["count"][i, j] == len(good) == mdd["count"][i, j]
            if not good:
                assert mdd["index"][i, j] == -1 and np.isnan(med["values"][:, i, j]).all()
                continue
            m = [statistics.median(float(obs[k, b, i, j]) for k in good) for b in range(3)]
            np.testing.assert_allclose(med["values"][:, i, j], m, atol=1e-6)
            d = [sum((float(obs[k, b, i, j]) - m[b]) ** 2 for b in range(3)) for k in good]
            assert mdd["index"][i, j] == good[int(np.argmin(d))]
            np.testing.assert_array_equal(mdd["values"][:, i, j], obs[good[int(np.argmin(d))], :, i, j])


# -- periods and the target grid (issue 13: "a period is named by the year in which its date window starts") -------
def test_period_of_windows_within_and_across_new_year():
    import datetime as dt
    from mining_eco_plugin.core.composite import period_of, window_middle_doy
    d = dt.date
    assert period_of(d(2013, 7, 7)) == 2013                          # June-September (the default)
    assert period_of(d(2013, 5, 31)) is None and period_of(d(2013, 10, 1)) is None
    assert period_of(d(2013, 11, 20), months=(11, 2)) == 2013       # November 2013 - February 2014
    assert period_of(d(2014, 2, 28), months=(11, 2)) == 2013
    assert period_of(d(2014, 3, 1), months=(11, 2)) is None
    assert period_of(d(2013, 7, 7), doys=(150, 200)) == 2013          # 7 July = day 188
    assert period_of(d(2013, 7, 20), doys=(150, 200)) is None         # day 201
    assert period_of(d(2014, 1, 5), doys=(350, 10)) == 2013
    # the middle of June-September: days 152..273 by hand -> 212.5; of November-February: 305..(59 + 365) -> 364.5
    assert window_middle_doy((6, 9)) == 212.5
    assert window_middle_doy((11, 2)) == 364.5
    assert window_middle_doy(doys=(350, 10)) == 362.5                 # (350 + 10 + 365) / 2


def test_target_grid_keeps_a_products_pixel_phase():
    from mining_eco_plugin.raster.composite import target_grid
    # a Landsat grid has pixel edges at odd multiples of 15 m (e.g. 483285): kept when aligned on it
    g = target_grid((483300.0, 5627300.0, 484500.0, 5628500.0), "", 30.0, align=(483285.0, 5628525.0))
    assert g.geotransform[0] == 483285.0 and g.geotransform[3] == 5628525.0
    assert (g.width, g.height) == (41, 41)
    # without a product on the grid: edges on multiples of the resolution, covering the bounds
    g = target_grid((100.0, 200.0, 161.0, 259.0), "", 30.0)
    assert g.geotransform[0] == 90.0 and g.geotransform[3] == 270.0 and (g.width, g.height) == (3, 3)


# -- composite_block: the rules of the review of issue 13 (hand-made blocks, radiometry "already reflectance") ------
def _block(obs_bands, thermal=True, area=None, method="medoid"):
    """Run composite_block on hand-made observations: obs_bands = [(doy, {role: 2-D array})]."""
    from mining_eco_plugin.core import composite as c
    from mining_eco_plugin.core.scene import build_radiometry
    from mining_eco_plugin.raster.engine import Grid, Window
    from mining_eco_plugin.raster.executor import BlockContext
    roles = c.REFLECTIVE + (("T",) if thermal else ())
    rad_ = build_radiometry("L8", "REFLECTANCE", roles)
    observations, data = [], {}
    for i, (doy, bands) in enumerate(obs_bands):
        key = f"o{i}:"
        observations.append(c.Observation(key, rad_, doy, doy, "L8", has_qa=False))
        data[key] = ({r: np.asarray(bands[r], dtype=np.float32) for r in roles}, None)
    shape = np.asarray(obs_bands[0][1]["R"]).shape
    if area is not None:
        data[c.AREA_KEY] = np.asarray(area, dtype=np.float32)
    plan = c.CompositePlan(tuple(observations), method, thermal, area=area is not None)
    ctx = BlockContext(Grid(shape[1], shape[0], (0, 30, 0, 0, 0, -30), ""), Window(0, 0, shape[1], shape[0]), 0)
    return c.composite_block(data, ctx, plan)


def _bands(value, t=300.0, shape=(2, 2)):
    from mining_eco_plugin.core.composite import REFLECTIVE
    out = {r: np.full(shape, value + 0.01 * k) for k, r in enumerate(REFLECTIVE)}
    out["T"] = np.full(shape, t)
    return out


def test_an_observation_without_thermal_is_not_chosen():
    a, b = _bands(0.1, 300.0), _bands(0.1, 310.0)
    a["T"][0, 0] = np.nan                  # C2 ST gap where SR has values
    blocks, partial = _block([(180, a), (200, b)])
    out = blocks["OUTPUT"]                 # blue..swir2, thermal, count, doy
    assert out[7, 0, 0] == 1 and out[8, 0, 0] == 200 and out[6, 0, 0] == np.float32(310.0)
    assert out[7, 1, 1] == 2 and out[8, 1, 1] == 180 and out[6, 1, 1] == np.float32(300.0)   # tie: earliest
    np.testing.assert_array_equal(partial["clear"], [3, 4])


def test_statistics_count_only_covered_pixels_without_a_study_area():
    a, b = _bands(0.1), _bands(0.2)
    for band in list(a.values()) + list(b.values()):
        band[1, 1] = np.nan                # outside both footprints (Landsat fill corner)
    blocks, partial = _block([(180, a), (200, b)], method="median")
    assert partial["hist"].tolist() == [0, 0, 3]          # 3 covered pixels, each with 2 observations
    assert np.isnan(blocks["OUTPUT"][0, 1, 1])
    # with a study area every pixel inside counts, covered or not
    _, partial = _block([(180, a), (200, b)], method="median", area=np.ones((2, 2)))
    assert partial["hist"].tolist() == [1, 0, 3]


def test_not_masking_clouds_also_keeps_the_dilated_cloud_flag():
    from mining_eco_plugin.core.composite import MaskOptions, cloud_and_fill
    qa = np.array([[21826, 21824]], dtype=np.uint16)      # bit 1 (dilated cloud) + clear, and clear (USGS L8)
    cloud, fill = cloud_and_fill(qa, "QA_PIXEL", "L8", MaskOptions())
    assert cloud.tolist() == [[True, False]] and not fill.any()
    cloud, _ = cloud_and_fill(qa, "QA_PIXEL", "L8", MaskOptions(cloud=None, cloud_shadow=None))
    assert not cloud.any()


def test_block_side_shrinks_with_many_observations():
    from mining_eco_plugin.algorithms.composite import block_side
    assert block_side(1) == block_side(16) == 256
    assert block_side(40) == 160 and block_side(64) == 128 and block_side(10_000) == 64
    # the stack of a block (observations x pixels) stays within that of 16 observations at 256 x 256 up to 256
    # observations in one period (beyond, blocks stay 64 x 64)
    assert all(n * block_side(n) ** 2 <= 16 * 256 ** 2 for n in range(17, 257))
