"""Unit tests of core/eg.py (ningdong section 3.2 eq. 14, Table 3, section 4.3) and core/coupling.py
(ningdong section 5.1, Figure 15). Every expected value is worked out by hand in the comments."""
import math

import numpy as np
import pytest
from scipy.signal import convolve2d

from mining_eco_plugin.core import coupling, eg
from mining_eco_plugin.styles import palettes

NAN = np.nan


# ------------------------------------------------------------------------------------- grade table
def test_default_clcd_table_follows_ningdong_table3():
    table = eg.grade_table(eg.CLCD_GRADE_TABLE)
    # Table 3: cultivated 5, forest 2, shrubland 3, grassland 4, water 1, barren 7, construction 6, wetland 1
    expected = {1: 5, 2: 2, 3: 3, 4: 4, 5: 1, 7: 7, 8: 6, 9: 1}
    for code, grade in expected.items():
        assert table.lookup(np.array([code]))[0] == grade
    assert dict(eg.NINGDONG_TABLE3) == {"Water body": 1, "Wetland": 1, "Forest": 2, "Shrubland": 3, "Grassland": 4,
                                        "Cultivated land": 5, "Construction land": 6, "Barren land": 7}
    assert (table.best, table.worst) == (1.0, 7.0)


def test_lookup_names_every_missing_code():
    table = eg.grade_table(eg.CLCD_GRADE_TABLE)
    with pytest.raises(eg.MissingCodesError) as err:
        table.lookup(np.array([[1, 12], [15, 12], [2, 0]]))
    assert err.value.codes == [0, 12, 15]
    assert "0, 12, 15" in str(err.value)
    assert table.missing([1, 2, 12, 15, 12]) == [12, 15]


def test_class_areas_report_missing_codes_over_all_blocks():
    table = eg.grade_table([(1, 5, "a"), (2, 2, "b")])
    areas = eg.ClassAreas()
    areas.add(np.array([[1.0, 2.0], [NAN, 3.0]]), 1.0)
    areas.add(np.array([[7.0, 1.0]]), 1.0)
    assert table.missing(areas.codes) == [3, 7]
    with pytest.raises(eg.MissingCodesError):
        areas.graded(table)


def test_grade_table_rejects_bad_rows_and_excludes_empty_grades():
    with pytest.raises(ValueError, match="code 3 .*more than once|3 appear more than once"):
        eg.grade_table([(3, 1, "a"), (3, 2, "b")])
    with pytest.raises(ValueError, match="not an integer"):
        eg.grade_table([(1.5, 1, "a")])
    with pytest.raises(ValueError, match="not a number"):
        eg.grade_table([(1, "good", "a")])
    with pytest.raises(ValueError, match="> 0"):
        eg.grade_table([(1, -2, "a")])
    t = eg.grade_table([("0", "", "fill"), ("1", "5", "crop"), ("2", "2", "forest")])
    g = t.grades_of(np.array([[0.0, 1.0, 2.0, NAN]]))
    np.testing.assert_array_equal(np.isnan(g), [[True, False, False, True]])
    assert list(g[0, 1:3]) == [5.0, 2.0]
    assert (t.best, t.worst) == (2.0, 5.0)


# ----------------------------------------------------------------------------------- eq. 14
def test_eq14_area_weighted_mean_by_hand():
    # grades 5, 2, 4 on areas 2, 1, 1: (10 + 2 + 4) / 4 = 4
    assert eg.eg_from_areas([5, 2, 4], [2, 1, 1]) == 4.0
    assert math.isnan(eg.eg_from_areas([], []))


def test_whole_area_and_zone_eg_from_class_areas_by_hand():
    table = eg.grade_table(eg.CLCD_GRADE_TABLE)
    codes = np.array([[1, 1, 2, 2, 5],
                      [1, 4, 2, NAN, 5],
                      [8, 8, 4, 4, 7],
                      [8, 8, 4, 9, 7]], dtype=float)
    # grades 5 5 2 2 1 / 5 4 2 - 1 / 6 6 4 4 7 / 6 6 4 1 7: sum 15 + 12 + 27 + 24 = 78 over 19 pixels
    whole = eg.ClassAreas()
    whole.add(codes[:2], 900.0)
    whole.add(codes[2:], 900.0)
    e = eg.eg_from_areas(*whole.graded(table))
    assert e == pytest.approx(78 / 19, abs=1e-12)
    assert eg.normalise_inverted(e, table.best, table.worst) == pytest.approx(55 / 114, abs=1e-12)
    # zone = columns 2..4 of rows 0..1: grades 2 2 1 / 2 - 1 -> 8 / 5
    zone = np.zeros(codes.shape, bool)
    zone[:2, 2:] = True
    z = eg.ClassAreas()
    z.add(codes, 900.0, zone)
    assert eg.eg_from_areas(*z.graded(table)) == pytest.approx(1.6, abs=1e-12)
    per_grade = z.area_per_grade(table)
    assert per_grade[1.0] == 1800.0 and per_grade[2.0] == 2700.0 and per_grade[7.0] == 0.0


def test_normalised_inverted_eg_matches_the_reading_of_table8():
    # (7 - EG) / 6: 1 for an all-water area, 0 for all barren; Table 8's 0.550 <-> EG = 7 - 6 * 0.55 = 3.7
    assert eg.normalise_inverted(1.0) == 1.0
    assert eg.normalise_inverted(7.0) == 0.0
    assert eg.normalise_inverted(3.7) == pytest.approx(0.55, abs=1e-12)
    np.testing.assert_allclose(eg.normalise_inverted(np.array([4.0, NAN])), [0.5, NAN])
    with pytest.raises(ValueError):
        eg.normalise_inverted(3.0, 4.0, 4.0)


# ----------------------------------------------------------------------------- moving window
GRADES_3x3 = np.array([[1.0, 4.0, 7.0],
                       [2.0, NAN, 5.0],
                       [6.0, 3.0, 1.0]])


def _pad(a, p):
    return np.pad(a, p, constant_values=np.nan)


def test_moving_window_by_hand_at_edges_corners_and_nodata():
    out = eg.moving_window_eg(_pad(GRADES_3x3, 1), 1.0, 3)
    # corner (0,0): 1, 4, 2 (centre-right-below; (1,1) nodata) -> 7/3
    assert out[0, 0] == pytest.approx(7 / 3, abs=1e-12)
    # edge (0,1): 1 4 7 / 2 - 5 -> 19/5
    assert out[0, 1] == pytest.approx(3.8, abs=1e-12)
    # corner (2,2): - 5 / 3 1 -> 9/3
    assert out[2, 2] == pytest.approx(3.0, abs=1e-12)
    # nodata centre stays nodata
    assert math.isnan(out[1, 1])
    # window 1 = the pixel's own grade
    np.testing.assert_array_equal(eg.moving_window_eg(GRADES_3x3, 1.0, 1), GRADES_3x3)


def test_moving_window_weights_rows_by_their_area():
    # geographic CRS: rows of areas 1, 2, 3; corner (0,0): (1*1 + 4*1 + 2*2) / (1 + 1 + 2) = 9/4
    areas = _pad(np.array([[1.0], [2.0], [3.0]]), ((1, 1), (0, 0)))
    out = eg.moving_window_eg(_pad(GRADES_3x3, 1), areas, 3)
    assert out[0, 0] == pytest.approx(2.25, abs=1e-12)
    # centre of the bottom row (2,1): row 1: 2 - 5 (area 2), row 2: 6 3 1 (area 3) -> (14 + 30) / (4 + 9) = 44/13
    assert out[2, 1] == pytest.approx(44 / 13, abs=1e-12)


def test_moving_window_equals_convolution_and_is_block_invariant():
    rng = np.random.default_rng(7)
    g = rng.integers(1, 8, size=(53, 41)).astype(float)
    g[rng.random(g.shape) < 0.15] = np.nan
    size, pad = 7, 3
    whole = eg.moving_window_eg(_pad(g, pad), 900.0, size)
    # independent reference: 2-D convolution with a ones kernel of the valid grades and of the valid count
    valid = np.isfinite(g)
    k = np.ones((size, size))
    ref = convolve2d(np.where(valid, g, 0), k, mode="same") / convolve2d(valid.astype(float), k, mode="same")
    ref[~valid] = np.nan
    np.testing.assert_allclose(whole, ref, rtol=0, atol=1e-12)
    # blocks with halos cut from the padded array: identical to the last bit
    padded = _pad(g, pad)
    for rows, cols in [(1, 41), (5, 7), (16, 9)]:
        out = np.empty_like(g)
        for y in range(0, g.shape[0], rows):
            for x in range(0, g.shape[1], cols):
                h, w = min(rows, g.shape[0] - y), min(cols, g.shape[1] - x)
                out[y:y + h, x:x + w] = eg.moving_window_eg(padded[y:y + h + 2 * pad, x:x + w + 2 * pad], 900.0, size)
        np.testing.assert_array_equal(out, whole)


def test_window_size_must_be_odd():
    with pytest.raises(ValueError, match="odd"):
        eg.window_sums(np.zeros((6, 6)), 4)


# ------------------------------------------------------------------------------------- coupling
def test_levels_with_equal_thirds_of_0_1_by_hand():
    b = coupling.equal_breaks(0.0, 1.0)
    assert b == pytest.approx((1 / 3, 2 / 3))
    # below b1 -> 1, from b1 -> 2, from b2 -> 3 (a value on a break goes up), NaN -> 0
    v = np.array([0.0, 0.2, b[0], 0.5, b[1], 0.9, 1.0, NAN])
    np.testing.assert_array_equal(coupling.levels(v, b), [1, 1, 2, 2, 3, 3, 3, 0])


def test_equal_thirds_of_a_range_and_terciles_by_hand():
    assert coupling.equal_breaks(0.2, 0.8) == pytest.approx((0.4, 0.6))
    # 0..8 (9 values): positions 8/3 and 16/3 -> linear interpolation 2.667, 5.333
    assert coupling.quantile_breaks(np.arange(9.0)) == pytest.approx((8 / 3, 16 / 3))
    with pytest.raises(ValueError, match="constant"):
        coupling.equal_breaks(0.5, 0.5)
    with pytest.raises(ValueError, match="coincide"):
        coupling.quantile_breaks(np.array([1.0] * 10 + [2.0]))
    with pytest.raises(ValueError, match="smaller"):
        coupling.check_breaks(0.7, 0.4)


def test_codes_are_eg_times_10_plus_rsei_by_hand():
    eg_lev = np.array([3, 1, 2, 0, 3], dtype=np.uint8)
    rsei_lev = np.array([3, 1, 3, 2, 0], dtype=np.uint8)
    np.testing.assert_array_equal(coupling.coupling_codes(eg_lev, rsei_lev), [33, 11, 23, 0, 0])


def test_raw_eg_levels_are_flipped_so_that_3_is_best():
    # raw EG 1.5 (good), 4 (middling), 6.5 (bad) with breaks 3, 5: plain levels 1, 2, 3 -> flipped 3, 2, 1
    np.testing.assert_array_equal(coupling.levels(np.array([1.5, 4.0, 6.5]), (3.0, 5.0), higher_is_better=False),
                                  [3, 2, 1])


def test_code_area_table_by_hand():
    areas, pixels = np.zeros(34), np.zeros(34, dtype=int)
    areas[[11, 22, 33]] = [1e6, 2e6, 1e6]
    pixels[[11, 22, 33]] = [1, 2, 1]
    areas[0] = 5e6   # nodata: left out of the shares
    rows = {r["code"]: r for r in coupling.code_area_table(areas, pixels)}
    assert list(rows) == [11, 12, 13, 21, 22, 23, 31, 32, 33]
    assert rows[22]["area_km2"] == 2.0 and rows[22]["percent"] == 50.0
    assert rows[11]["percent"] == 25.0 and rows[12]["percent"] == 0.0
    assert rows[31]["meaning"] == "EG high / RSEI low" and (rows[31]["eg_level"], rows[31]["rsei_level"]) == (3, 1)
    assert "best" in rows[33]["meaning"] and "worst" in rows[11]["meaning"]


def test_palette_has_the_nine_codes_with_the_core_meanings_red_to_green():
    classes = palettes.CLASSES["eg_rsei_coupling"]
    assert [c for c, _, _ in classes] == list(coupling.CODES)
    for code, label, _ in classes:
        assert label == f"{code} {coupling.code_label(code)}"
    colours = {c: col for c, _, col in classes}
    red = lambda hexcol: int(hexcol[1:3], 16)  # noqa: E731
    green = lambda hexcol: int(hexcol[3:5], 16)  # noqa: E731
    assert red(colours[11]) > green(colours[11]) and green(colours[33]) > red(colours[33])
    assert palettes.ramp_for("EG") == "eg_grade" and palettes.RAMPS["eg_grade"][0][1] == palettes.RAMPS["ecology"][-1][1]
