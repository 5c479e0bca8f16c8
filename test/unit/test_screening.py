"""core.screening: PLS VIP, grey relational grade, Pearson r and the selection rules.

References: VIP recomputed here from the formula (Wold et al. 1993; Chong & Jun 2005, eq. 1) on the
weights / scores / loadings of scikit-learn's PLSRegression AND on a PLS1 written here with NIPALS
(Wold 1984: w = X'y / ||X'y||, t = Xw, deflation), the property sum VIP^2 = p, the one-component closed
form VIP_j = sqrt(p) |r_j| / sqrt(sum r^2); grey relational grades computed by hand (Deng 1989) on a
3-sample table (the arithmetic is written in the tests); Pearson r from numpy.corrcoef; the CV RMSE from
scikit-learn's cross_val_predict run here.
"""
import math

import numpy as np
import pytest
from sklearn.cross_decomposition import PLSRegression
from sklearn.model_selection import KFold, cross_val_predict

from mining_eco_plugin.core import screening as sc


def make_data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6)) * [1, 2, 0.5, 3, 1, 10] + [0, 5, -1, 2, 0, 100]
    X[:, 4] = X[:, 0] * 0.8 + rng.normal(scale=0.3, size=n)          # correlated candidates
    y = 2.0 * X[:, 0] - 0.5 * X[:, 1] + 0.1 * X[:, 5] + rng.normal(scale=0.5, size=n)
    return X, y


def vip_by_formula(w, t, q):
    """VIP_j = sqrt(p * sum_a SS_a (w_ja/||w_a||)^2 / sum_a SS_a), SS_a = q_a^2 t_a't_a, loop by loop."""
    p, n_comp = w.shape
    ss = [q[a] ** 2 * sum(ti * ti for ti in t[:, a]) for a in range(n_comp)]
    out = []
    for j in range(p):
        acc = 0.0
        for a in range(n_comp):
            norm = math.sqrt(sum(w[k, a] ** 2 for k in range(p)))
            acc += ss[a] * (w[j, a] / norm) ** 2
        out.append(math.sqrt(p * acc / sum(ss)))
    return np.array(out)


def nipals_pls1(X, y, n_comp):
    """PLS1 by NIPALS on standardised X, y (sd with ddof=1): weights, scores, y loadings."""
    X = (X - X.mean(0)) / X.std(0, ddof=1)
    y = (y - y.mean()) / y.std(ddof=1)
    W, T, Q = [], [], []
    for _ in range(n_comp):
        w = X.T @ y
        w /= np.linalg.norm(w)
        t = X @ w
        tt = t @ t
        p_load = X.T @ t / tt
        q = y @ t / tt
        X = X - np.outer(t, p_load)
        y = y - q * t
        W.append(w)
        T.append(t)
        Q.append(q)
    return np.array(W).T, np.array(T).T, np.array(Q)


@pytest.mark.parametrize("n_comp", [1, 2, 3])
def test_vip_equals_the_formula_on_sklearn_pls_weights_scores_and_loadings(n_comp):
    X, y = make_data()
    pls = PLSRegression(n_components=n_comp, scale=True).fit(X, y)
    expected = vip_by_formula(pls.x_weights_, pls.x_scores_, pls.y_loadings_[0])
    vip, _model = sc.pls_vip(X, y, n_comp)
    np.testing.assert_allclose(vip, expected, rtol=1e-10)
    assert math.isclose(float(np.sum(vip ** 2)), X.shape[1], rel_tol=1e-10)   # sum VIP^2 = p


@pytest.mark.parametrize("n_comp", [1, 2, 4])
def test_vip_equals_the_formula_on_an_independent_nipals_pls1(n_comp):
    X, y = make_data(seed=3)
    w, t, q = nipals_pls1(X, y, n_comp)
    vip, _model = sc.pls_vip(X, y, n_comp)
    np.testing.assert_allclose(vip, vip_by_formula(w, t, q), rtol=1e-7)


def test_one_component_vip_is_proportional_to_the_correlations():
    # A = 1: w = X'y / ||X'y|| on standardised data, so w_j is proportional to r_j and
    # VIP_j = sqrt(p) |r_j| / sqrt(sum_k r_k^2)
    X, y = make_data(seed=5)
    r = np.array([np.corrcoef(X[:, j], y)[0, 1] for j in range(X.shape[1])])
    vip, _ = sc.pls_vip(X, y, 1)
    np.testing.assert_allclose(vip, math.sqrt(X.shape[1]) * np.abs(r) / np.sqrt(np.sum(r ** 2)), rtol=1e-10)


# 3 samples, 2 candidates:  y = (2, 4, 6), x1 = (1, 3, 5), x2 = (10, 30, 20)
GRA_X = np.array([[1.0, 10.0], [3.0, 30.0], [5.0, 20.0]])
GRA_Y = np.array([2.0, 4.0, 6.0])


def test_grey_relational_grade_by_hand_minmax():
    # min-max: y' = (0, .5, 1); x1' = (0, .5, 1) -> d1 = (0, 0, 0); x2' = (0, 1, .5) -> d2 = (0, .5, .5)
    # dmin = 0, dmax = 0.5, rho dmax = 0.25
    # xi1 = 0.25 / 0.25 = 1 (all k) -> r1 = 1
    # xi2 = (1, 0.25/0.75, 0.25/0.75) = (1, 1/3, 1/3) -> r2 = (5/3) / 3 = 5/9
    np.testing.assert_allclose(sc.grey_relational_grade(GRA_X, GRA_Y, 0.5, "minmax"), [1.0, 5 / 9], rtol=1e-12)


def test_grey_relational_grade_by_hand_mean_and_initial_value():
    # mean: y' = y/4 = (.5, 1, 1.5); x1' = x1/3 = (1/3, 1, 5/3) -> d1 = (1/6, 0, 1/6)
    #       x2' = x2/20 = (.5, 1.5, 1) -> d2 = (0, .5, .5); dmin 0, dmax .5, rho dmax .25
    #       xi1 = (.25/(1/6+.25), 1, same) = (.6, 1, .6) -> r1 = 2.2/3; xi2 = (1, 1/3, 1/3) -> r2 = 5/9
    np.testing.assert_allclose(sc.grey_relational_grade(GRA_X, GRA_Y, 0.5, "mean"), [2.2 / 3, 5 / 9], rtol=1e-12)
    # initial value: y' = y/2 = (1, 2, 3); x1' = (1, 3, 5) -> d1 = (0, 1, 2); x2' = x2/10 = (1, 3, 2) -> d2 = (0, 1, 1)
    #       dmin 0, dmax 2, rho dmax 1: xi1 = (1, 1/2, 1/3) -> r1 = 11/18; xi2 = (1, 1/2, 1/2) -> r2 = 2/3
    np.testing.assert_allclose(sc.grey_relational_grade(GRA_X, GRA_Y, 0.5, "initial"), [11 / 18, 2 / 3], rtol=1e-12)


def test_grey_relational_grade_resolution_coefficient():
    # rho = 1 (min-max): rho dmax = 0.5; xi2 = (1, .5/1, .5/1) -> r2 = 2/3; r1 stays 1
    np.testing.assert_allclose(sc.grey_relational_grade(GRA_X, GRA_Y, 1.0), [1.0, 2 / 3], rtol=1e-12)
    with pytest.raises(sc.ScreeningError) as err:
        sc.grey_relational_grade(GRA_X, GRA_Y, 0.0)
    assert err.value.param == "RHO"


def test_mean_normalisation_refuses_a_zero_mean():
    X = np.array([[-1.0], [0.0], [1.0]])
    with pytest.raises(sc.ScreeningError, match="min-max"):
        sc.grey_relational_grade(X, GRA_Y, normalisation="mean")


def test_screen_variables_thresholds_rules_and_pearson():
    X, y = make_data(n=80, seed=7)
    names = [f"v{j}" for j in range(X.shape[1])]
    res = sc.screen_variables(X, y, names, n_components=2, rule="both")
    vip, _ = sc.pls_vip(X, y, 2)
    np.testing.assert_allclose(res.vip, vip)
    np.testing.assert_allclose(res.gra, sc.grey_relational_grade(X, y))
    np.testing.assert_allclose(res.pearson_r, [np.corrcoef(X[:, j], y)[0, 1] for j in range(6)], rtol=1e-12)
    np.testing.assert_array_equal(res.vip_pass, vip > 1.0)
    np.testing.assert_array_equal(res.gra_pass, res.gra >= 0.75)
    np.testing.assert_array_equal(res.selected, res.vip_pass & res.gra_pass)
    assert 0 < res.vip_pass.sum() < 6       # the test data has important and unimportant variables
    assert res.selected_names("vip") == [n for n, v in zip(names, vip) if v > 1]
    for rule, expected in (("vip", res.vip_pass), ("gra", res.gra_pass), ("either", res.vip_pass | res.gra_pass)):
        np.testing.assert_array_equal(sc.screen_variables(X, y, names, n_components=2, rule=rule).selected, expected)
    # a threshold of 0.5 on GRA and 0.8 on VIP moves the sets as the comparisons say
    res2 = sc.screen_variables(X, y, names, n_components=2, vip_threshold=0.8, gra_threshold=0.5, rule="gra")
    np.testing.assert_array_equal(res2.vip_pass, vip > 0.8)
    np.testing.assert_array_equal(res2.selected, res2.gra >= 0.5)


def test_components_chosen_by_kfold_cv_minimise_the_rmse():
    X, y = make_data(n=50, seed=11)
    res = sc.screen_variables(X, y, list("abcdef"), n_components=None, max_components=5, folds=5, seed=42)
    kfold = KFold(n_splits=5, shuffle=True, random_state=42)
    rmse = [np.sqrt(np.mean((y - cross_val_predict(PLSRegression(a), X, y, cv=kfold).ravel()) ** 2))
            for a in range(1, 6)]
    np.testing.assert_allclose(res.cv_rmse, rmse, rtol=1e-10)
    assert res.n_components == int(np.argmin(rmse)) + 1
    again = sc.screen_variables(X, y, list("abcdef"), n_components=None, max_components=5, folds=5, seed=42)
    np.testing.assert_array_equal(again.vip, res.vip)     # fixed seed: identical twice


def test_max_components_respects_candidates_and_fold_size():
    assert sc.max_pls_components(n=12, p=20, folds=5) == 8     # smallest training fold 12 - 3 = 9 -> 8
    assert sc.max_pls_components(n=100, p=4, folds=5) == 4
    assert sc.max_pls_components(n=100, p=40, folds=5, limit=10) == 10


@pytest.mark.parametrize("case, param, words", [
    ("few", "INPUT", ["9 sample", "at least 10"]),
    ("constant_target", "TARGET_FIELD", ["salt", "constant"]),
    ("nan_candidate", "FIELDS", ["'b'", "1 missing"]),
    ("nan_target", "TARGET_FIELD", ["salt", "missing"]),
    ("constant_candidate", "FIELDS", ["'c'", "constant"]),
    ("too_many_components", "N_COMPONENTS", ["7 PLS components"]),
])
def test_bad_samples_raise_naming_the_variable(case, param, words):
    X, y = make_data(n=30, seed=1)
    X = X[:, :3]
    kwargs = {}
    if case == "few":
        X, y = X[:9], y[:9]
    elif case == "constant_target":
        y = np.full_like(y, 3.0)
    elif case == "nan_candidate":
        X[4, 1] = np.nan
    elif case == "nan_target":
        y[0] = np.nan
    elif case == "constant_candidate":
        X[:, 2] = 1.5
    elif case == "too_many_components":
        kwargs["n_components"] = 7
    with pytest.raises(sc.ScreeningError) as err:
        sc.screen_variables(X, y, ["a", "b", "c"], target_name="salt", **kwargs)
    assert err.value.param == param
    for w in words:
        assert w in str(err.value)
