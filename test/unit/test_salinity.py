"""Salinity grades (coastal Table 5 / zhundong section 2.3), the grade table parser, areas per grade and the
feature matrix of model application, checked by hand on small arrays."""
import numpy as np
import pytest

from mining_eco_plugin.core import salinity as sal


def test_default_thresholds_are_the_seed_table():
    # coastal Table 5: mild 1~2, moderate 2~4, severe 4~6, solonchak > 6 g/kg; normal < 1
    assert sal.DEFAULT_THRESHOLDS == (1.0, 2.0, 4.0, 6.0)
    assert len(sal.DEFAULT_LABELS) == 5


def test_grades_by_hand_with_upper_inclusive_boundaries():
    v = np.array([[0.0, 0.5, 1.0, 1.0001], [2.0, 3.9, 4.0, 5.0], [6.0, 6.01, 100.0, np.nan]], dtype=np.float32)
    # hand: <= 1 -> 1, (1,2] -> 2, (2,4] -> 3, (4,6] -> 4, > 6 -> 5, NaN -> 0
    want = np.array([[1, 1, 1, 2], [2, 3, 3, 4], [4, 5, 5, 0]], dtype=np.uint8)
    got = sal.salinity_grade(v)
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, want)


def test_float32_value_exactly_on_a_threshold_is_the_lower_grade():
    # float32(0.1 * 10) etc.: a stored 1.0, 2.0 is graded in float32, not promoted to float64
    v = np.array([1.0, 2.0, 4.0, 6.0], dtype=np.float32)
    np.testing.assert_array_equal(sal.salinity_grade(v), [1, 2, 3, 4])
    # custom thresholds that are not exact in binary: a float32 0.3 is graded with the float32 threshold
    np.testing.assert_array_equal(sal.salinity_grade(np.array([0.3], np.float32), (0.3, 0.7)), [1])


def test_grade_table_parsing():
    th, lab = sal.parse_grade_table(sal.default_grade_table())
    assert th == sal.DEFAULT_THRESHOLDS and lab == sal.DEFAULT_LABELS
    th, lab = sal.parse_grade_table(["0.5", "Low", "3", "Mid", "", "High"])
    assert th == (0.5, 3.0) and lab == ("Low", "Mid", "High")
    th, lab = sal.parse_grade_table([[0.5, "Low"], [None, "High"]])
    assert th == (0.5,) and lab == ("Low", "High")
    th, lab = sal.parse_grade_table("1,2,4,6")
    assert th == (1.0, 2.0, 4.0, 6.0) and lab == sal.DEFAULT_LABELS
    th, lab = sal.parse_grade_table("3, 8")
    assert th == (3.0, 8.0) and lab == ("Grade 1", "Grade 2", "Grade 3")


@pytest.mark.parametrize("table, words", [
    (["2", "a", "1", "b", "", "c"], "strictly increasing"),
    (["x", "a", "", "b"], "not a number"),
    (["1", "a", "2", "b"], "leave its upper bound empty"),
    (["1", "a", ""], "at least two rows"),
    ("1,abc", "numbers separated by commas"),
    ("nan,2", "finite"),
])
def test_bad_grade_tables_are_refused(table, words):
    with pytest.raises(ValueError, match=words):
        sal.parse_grade_table(table)


def test_legend_texts():
    assert sal.grade_legend(sal.DEFAULT_THRESHOLDS, sal.DEFAULT_LABELS) == [
        "Non-saline (<= 1 g/kg)", "Slightly saline (1-2 g/kg)", "Moderately saline (2-4 g/kg)",
        "Severely saline (4-6 g/kg)", "Saline soil (> 6 g/kg)"]


def test_area_table_by_hand():
    codes = np.array([[1, 1, 2, 0], [5, 5, 5, 3]], dtype=np.uint8)
    areas = sal.GradeAreas(5)
    # two blocks, rows of different pixel areas (as on a geographic grid): 900 m2 and 400 m2
    areas.add(codes[:1], np.array([[900.0]]))
    areas.add(codes[1:], np.array([[400.0]]))
    rows = areas.table(sal.DEFAULT_LABELS)
    # hand: grade 1: 2 px * 900 = 1800 m2; 2: 900; 3: 400; 4: 0; 5: 3 * 400 = 1200; total 4300 (nodata out)
    want = {1: 1800.0, 2: 900.0, 3: 400.0, 4: 0.0, 5: 1200.0}
    assert [r["pixels"] for r in rows] == [2, 1, 1, 0, 3]
    for r in rows:
        assert r["area_km2"] == pytest.approx(want[r["grade"]] / 1e6)
        assert r["percent"] == pytest.approx(100 * want[r["grade"]] / 4300.0)
    assert sum(r["percent"] for r in rows) == pytest.approx(100.0)
    assert areas.pixels[0] == 1


def test_feature_matrix_keeps_order_and_drops_any_nan():
    a = np.array([[1, 2], [3, np.nan]], dtype=np.float32)
    b = np.array([[10, np.inf], [30, 40]], dtype=np.float32)
    X, valid = sal.feature_matrix([b, a])
    np.testing.assert_array_equal(valid, [[True, False], [True, False]])
    np.testing.assert_array_equal(X, [[10, 1], [30, 3]])
    assert X.dtype == np.float32 and X.flags.c_contiguous


def test_chunked_predict_equals_one_call():
    X = np.random.default_rng(0).random((1001, 3)).astype(np.float32)
    calls = []

    def predict(part):
        calls.append(part.shape[0])
        return (part @ np.array([1.0, 2.0, 3.0], np.float32))[:, None]   # 2-D like PLSRegression
    got = sal.predict_chunked(predict, X, 300)
    assert calls == [300, 300, 300, 101]
    np.testing.assert_array_equal(got, (X @ np.array([1.0, 2.0, 3.0], np.float32)))
