"""core/transfer.py: cross-tabulation, transfer-in/out/net, change codes, class names, class areas over dates.

References: plain numpy counting written here (np.unique over pairs, np.histogram2d), hand computations in
the comments, and the RSEI class areas of the ningdong seed (section 4.2, Tables 6-7).
"""
import math

import numpy as np
import pytest

from mining_eco_plugin.core import transfer as tr


def pair_counts(a, b, valid=None):
    """Reference: {(from, to): count} by np.unique over the stacked pairs."""
    if valid is not None:
        a, b = a[valid], b[valid]
    pairs, counts = np.unique(np.stack([a.ravel(), b.ravel()], axis=1), axis=0, return_counts=True)
    return {(int(f), int(t)): int(n) for (f, t), n in zip(pairs, counts)}


# ------------------------------------------------------------------------------ cross-tabulation
@pytest.mark.parametrize("codes", [np.arange(1, 8), np.array([-3, 0, 2, 11]), np.array([1, 500, 60000])],
                         ids=["dense 1-7", "negative and zero", "sparse (np.unique path)"])
def test_crosstab_block_equals_unique_pair_counts(codes):
    rng = np.random.default_rng(7)
    a = rng.choice(codes, size=(37, 41))
    b = rng.choice(codes, size=(37, 41))
    valid = rng.random(a.shape) > 0.1
    f, t, n, sums = tr.crosstab_block(a, b, valid, weights=np.full(a.shape, 2.5))
    got = {(int(x), int(y)): int(c) for x, y, c in zip(f, t, n)}
    assert got == pair_counts(a, b, valid)
    np.testing.assert_allclose(sums, 2.5 * n)
    assert list(zip(f, t)) == sorted(zip(f, t))


def test_crosstab_block_matches_histogram2d_with_row_weights():
    # per-row weights (the geographic case): the weighted histogram2d is the reference
    rng = np.random.default_rng(3)
    a, b = rng.integers(1, 6, (20, 30)), rng.integers(1, 6, (20, 30))
    row_w = np.linspace(1.0, 2.0, 20)[:, None]
    f, t, _, sums = tr.crosstab_block(a, b, None, row_w)
    ref, _, _ = np.histogram2d(a.ravel(), b.ravel(), bins=[np.arange(0.5, 6), np.arange(0.5, 6)],
                               weights=np.broadcast_to(row_w, a.shape).ravel())
    got = np.zeros((5, 5))
    got[f - 1, t - 1] = sums
    np.testing.assert_allclose(got, ref)


def test_accumulator_over_blocks_equals_whole_array_and_counts_nodata():
    rng = np.random.default_rng(11)
    a, b = rng.integers(1, 5, (50, 60)), rng.integers(2, 7, (50, 60))
    va, vb = rng.random(a.shape) > 0.05, rng.random(a.shape) > 0.08
    acc = tr.TransferAccumulator()
    for y in range(0, 50, 7):            # odd blocks: 7 rows x 13 columns
        for x in range(0, 60, 13):
            s = (slice(y, y + 7), slice(x, x + 13))
            acc.add(a[s], b[s], va[s], vb[s], 900.0)
    codes = acc.codes()
    assert codes == list(range(1, 7))    # 1 only at date 1, 5-6 only at date 2: both in the union
    pixels, area = acc.matrices(codes)
    ref = pair_counts(a, b, va & vb)
    expect = np.zeros((6, 6), np.int64)
    for (f, t), n in ref.items():
        expect[f - 1, t - 1] = n
    np.testing.assert_array_equal(pixels, expect)
    np.testing.assert_allclose(area, 900.0 * expect)
    assert pixels[:, 0].sum() == 0 and pixels[4:, :].sum() == 0   # the one-date classes: zero column / rows
    assert acc.excluded == {"date 1 only": int((~va & vb).sum()), "date 2 only": int((va & ~vb).sum()),
                            "both dates": int((~va & ~vb).sum())}
    assert acc.excluded_pixels + pixels.sum() == a.size


def test_codes_include_named_classes_absent_from_both_dates():
    acc = tr.TransferAccumulator()
    acc.add(np.array([[1, 2]]), np.array([[2, 2]]))
    assert acc.codes({5: "Excellent"}) == [1, 2, 5]
    pixels, _ = acc.matrices(acc.codes({5: "Excellent"}))
    assert pixels.tolist() == [[0, 1, 0], [0, 1, 0], [0, 0, 0]]


def test_too_many_codes_is_not_a_class_raster():
    acc = tr.TransferAccumulator(max_classes=10)
    with pytest.raises(ValueError, match="date 1 holds more than 10 distinct codes"):
        acc.add(np.arange(20).reshape(4, 5), np.zeros((4, 5), int))


# ------------------------------------------------------------------------------ summaries
def test_transfer_summary_by_hand():
    # rows = date 1, columns = date 2 (km2)
    m = np.array([[10.0, 2.0, 0.0],
                  [1.0, 5.0, 4.0],
                  [0.0, 3.0, 0.0]])
    s = tr.transfer_summary(m)
    # date1 = row sums 12, 10, 3; date2 = column sums 11, 10, 4; diagonal 10, 5, 0
    np.testing.assert_array_equal(s["date1"], [12, 10, 3])
    np.testing.assert_array_equal(s["date2"], [11, 10, 4])
    np.testing.assert_array_equal(s["out"], [2, 5, 3])       # 12-10, 10-5, 3-0
    np.testing.assert_array_equal(s["in"], [1, 5, 4])        # 11-10, 10-5, 4-0
    np.testing.assert_array_equal(s["net"], [-1, 0, 1])      # in - out = date2 - date1
    np.testing.assert_allclose(s["net_pct"], [-100 / 12, 0.0, 100 / 3])
    assert s["out"].sum() == s["in"].sum()                   # every transfer leaves one class and enters another
    z = tr.transfer_summary(np.array([[0.0, 0.0], [2.0, 1.0]]))
    assert math.isnan(z["net_pct"][0])                       # a class absent at date 1: no relative change


def test_in_units():
    area = np.array([812.25, 2 * 812.25, 1e6])
    px = np.array([1, 2, 1231])
    np.testing.assert_allclose(tr.in_units(area, px, 0), area / 1e6)
    np.testing.assert_allclose(tr.in_units(area, px, 1), area / 1e4)
    np.testing.assert_array_equal(tr.in_units(area, px, 2), px)
    np.testing.assert_allclose(tr.in_units(area, px, 3), 100 * area / area.sum())
    np.testing.assert_allclose(tr.in_units(area, px, 3, total_m2=2e6), 100 * area / 2e6)
    with pytest.raises(ValueError, match="unknown unit"):
        tr.in_units(area, px, 4)


# ------------------------------------------------------------------------------ change codes
def test_change_codes_by_hand():
    a = np.array([[1, 5, 3], [7, 2, 0]])
    b = np.array([[3, 5, 1], [7, 6, 2]])
    valid = np.array([[True, True, True], [True, True, False]])
    # k = 1: from * 10 + to; every valid pixel coded, unchanged ones too (55, 77); nodata 255
    assert tr.change_codes(a, b, 1, valid, 255).tolist() == [[13, 55, 31], [77, 26, 255]]
    # k = 2 (codes up to 99): from * 100 + to
    assert tr.change_codes(np.array([12, 3]), np.array([3, 12]), 2).tolist() == [1203, 312]


@pytest.mark.parametrize("max_code,k", [(0, 1), (1, 1), (7, 1), (9, 1), (10, 2), (33, 2), (99, 2), (100, 3),
                                        (9999, 4), (10000, 5)])
def test_code_digits(max_code, k):
    assert tr.code_digits(max_code) == k


def test_change_dtype_fits_every_code():
    assert tr.change_dtype(1) == ("uint8", 255)          # 99 max < 255
    assert tr.change_dtype(2) == ("uint16", 65535)       # 9999 max < 65535
    assert tr.change_dtype(3) == ("int32", -1)
    assert tr.change_dtype(4) == ("int32", -1)           # 9999 * 10^4 + 9999 < 2^31
    assert 9999 * 10 ** 4 + 9999 < 2 ** 31
    with pytest.raises(ValueError, match="at most 9999"):
        tr.change_dtype(5)


def test_transition_legend():
    pixels = np.array([[3, 0], [2, 0]])
    legend = tr.transition_legend(pixels, pixels * 0.5, [1, 2], 1, {1: "Forest", 2: "Developed"})
    assert [(r["code"], r["meaning"], r["changed"], r["pixels"], r["area"]) for r in legend] == [
        (11, "Forest (unchanged)", False, 3, 1.5), (21, "Developed -> Forest", True, 2, 1.0)]
    assert tr.transition_legend(np.array([[1]]), np.array([[1.0]]), [4], 1)[0]["meaning"] == "4 (unchanged)"


# ------------------------------------------------------------------------------ names and dates
def test_parse_class_names():
    assert tr.parse_class_names("1=Worst, 2=Poor;3 = Moderate\n4=Good,") == {
        1: "Worst", 2: "Poor", 3: "Moderate", 4: "Good"}
    assert tr.parse_class_names("") == {}
    with pytest.raises(ValueError, match="code=name"):
        tr.parse_class_names("1=Worst,Poor")
    with pytest.raises(ValueError, match="code=name"):
        tr.parse_class_names("a=Worst")
    with pytest.raises(ValueError, match="code 1 is given twice"):
        tr.parse_class_names("1=Worst,1=Poor")


@pytest.mark.parametrize("name,year", [
    ("LE07_L1TP_195025_20010730_20170204_01_T1_grades", "2001"),   # acquisition date, not processing date
    ("salinity_2010", "2010"), ("rsei2024_grades", "2024"), ("grades 2000-07-30", "2000"),
    ("landuse_1995.tif", "1995"), ("dem12345", None), ("class_20171", None), ("grades", None)])
def test_date_label_from_name(name, year):
    assert tr.date_label_from_name(name) == year


# ------------------------------------------------------------------------------ class areas over dates
def test_class_area_change_by_hand():
    # two classes, three dates: A = 10, 30 | 20, 20 | 5, 45
    s = tr.class_area_change([[10.0, 30.0], [20.0, 20.0], [5.0, 45.0]])
    np.testing.assert_allclose(s["share"], [[25, 75], [50, 50], [10, 90]])
    np.testing.assert_allclose(s["change"][1:], [[10, -10], [-15, 25]])
    np.testing.assert_allclose(s["change_pct"][1:], [[100, -100 / 3], [-75, 125]])   # 10/10, -10/30, -15/20, 25/20
    np.testing.assert_allclose(s["change_first_pct"][2], [-50, 50])                 # 5 vs 10, 45 vs 30
    np.testing.assert_allclose(s["change_first"][2], [-5, 15])
    assert np.isnan(s["change_pct"][0]).all() and np.isnan(s["change_first_pct"][0]).all()
    z = tr.class_area_change([[0.0, 4.0], [2.0, 2.0]])
    assert np.isnan(z["change_pct"][1, 0]) and z["change"][1, 0] == 2      # new class: no %, area change 2


def test_class_area_change_on_ningdong_tables_6_and_7():
    # ningdong seed Tables 6-7, RSEI class areas (km2) Worst, Poor, Moderate, Good, Excellent
    table = {2000: [1.392, 2463.928, 871.446, 33.094, 0.940],
             2012: [20.039, 3105.284, 159.591, 57.757, 18.308],
             2024: [13.642, 1470.820, 1626.880, 229.284, 19.995]}
    s = tr.class_area_change(np.array(list(table.values())))
    # hand: 2000 total 3370.800 km2; poor 2463.928 / 3370.8 = 73.096 % (not the ">60 % moderate" of the text)
    assert s["share"][0, 1] == pytest.approx(73.0962, abs=1e-4)
    # moderate 2000 -> 2024: (1626.880 - 871.446) / 871.446 = +86.687 %
    assert s["change_first_pct"][2, 2] == pytest.approx(86.6874, abs=1e-4)
    # moderate 2000 -> 2012: (159.591 - 871.446) / 871.446 = -81.687 %; 2012 -> 2024: +919.406 %
    assert s["change_pct"][1, 2] == pytest.approx(-81.6866, abs=1e-4)
    assert s["change_pct"][2, 2] == pytest.approx(919.4059, abs=1e-4)
    np.testing.assert_allclose(s["share"].sum(axis=1), 100.0)


def test_class_area_accumulator():
    acc = tr.ClassAreaAccumulator()
    a = np.array([[1, 1, 3], [3, 3, 9]])
    acc.add(a[:1], np.array([[True, True, True]]), 2.0)
    acc.add(a[1:], np.array([[True, True, False]]), np.array([[5.0]]))
    assert acc.counts == {1: [2, 4.0], 3: [3, 12.0]}     # 1: 2 px x 2; 3: 1 x 2 + 2 x 5
    assert acc.nodata_pixels == 1
