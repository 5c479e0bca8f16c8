"""core.indexsearch: candidate formulas, ranking, multiple-testing corrections and the cross-validated selection.

References: the corrections against the worked example of Benjamini & Hochberg (1995, J. R. Stat. Soc. B 57:
289-300, section 4: 15 p-values, 4 rejected at q = 0.05) and a plain-Python step-down / step-up loop written
from Holm (1979) and Benjamini & Hochberg (1995); r against
numpy.corrcoef; the candidates' expressions against core.expression (the index calculator's evaluator); the
study's four indices against core.indices (the values spectralindices writes).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from mining_eco_plugin.core import indexsearch as s
from mining_eco_plugin.core import indices as ix
from mining_eco_plugin.core.expression import BandExpression

NAMES = ["B", "G", "R", "NIR", "SWIR1", "SWIR2"]
BH_EXAMPLE = [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240, 0.4262, 0.5719,
              0.6528, 0.7590, 1.000]


def bands(n=300, seed=1):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.02, 0.5, (n, len(NAMES)))


def loop_holm(p):
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    out, running = [0.0] * m, 0.0
    for k, i in enumerate(order):
        running = max(running, min(1.0, (m - k) * p[i]))
        out[i] = running
    return out


def loop_bh(p):
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    out, running = [0.0] * m, 1.0
    for k in range(m - 1, -1, -1):
        i = order[k]
        running = min(running, min(1.0, p[i] * m / (k + 1)))
        out[i] = running
    return out


def test_corrections_published_example_and_loops():
    p = np.array(BH_EXAMPLE)
    assert int((s.benjamini_hochberg(p) <= 0.05).sum()) == 4        # Benjamini & Hochberg 1995, section 4
    assert int((s.holm(p) <= 0.05).sum()) == 3                      # 0.0095 > 0.05 / 12 = 0.00417
    rng = np.random.default_rng(3)
    for q in (p, rng.uniform(0, 0.1, 50), rng.uniform(0, 1, 7)):
        np.testing.assert_allclose(s.holm(q), loop_holm(list(q)), rtol=1e-12)
        np.testing.assert_allclose(s.benjamini_hochberg(q), loop_bh(list(q)), rtol=1e-12)


def test_candidate_counts_and_expressions():
    X = bands()
    c = s.build_candidates(X, NAMES)
    # 6 bands: 15 + 30 + 15 two-band; SAI 6*10, TRSI 6*5*4, SBCI / GOSI / NDC / DR / PQ / RS 60 each
    assert c.generated == 600 and c.values.shape == (300, 600) and c.duplicates == 0 and c.n_skipped == 0
    assert len(set(c.names)) == 600
    lookup = {n: X[:, i] for i, n in enumerate(NAMES)}
    for j in range(c.values.shape[1]):        # every formula is an expression of the index calculator
        v = BandExpression(c.expressions[j], NAMES).evaluate(lookup)
        np.testing.assert_allclose(v, c.values[:, j], rtol=2e-6, err_msg=c.expressions[j])
    # r of every candidate as numpy.corrcoef gives it
    y = X[:, 0] * 3 + np.random.default_rng(2).normal(size=300)
    ref = np.corrcoef(np.column_stack([c.values, y]), rowvar=False)[-1, :-1]
    np.testing.assert_allclose(s.pearson_columns(c.values, y), ref, atol=1e-12)


def test_transforms_expressions_and_duplicates():
    X = bands(120)
    c = s.build_candidates(X, NAMES, ["RATIO", "ND", "SAI"], ["SQ", "SQRT", "INV"])
    assert c.generated == 4 * (30 + 15 + 60)
    # reciprocal ratios are the ratios reversed, reciprocal ND the ND negated: duplicates, left out
    assert c.duplicates >= 45
    lookup = {n: X[:, i] for i, n in enumerate(NAMES)}
    for j in range(c.values.shape[1]):
        v = BandExpression(c.expressions[j], NAMES).evaluate(lookup)
        np.testing.assert_allclose(v, c.values[:, j], rtol=5e-6, err_msg=c.expressions[j])
    assert "ND_G_NIR_SQRT" in c.names and c.expressions[c.names.index("ND_G_NIR_SQRT")] == \
        "(sqrt(G)-sqrt(NIR))/(sqrt(G)+sqrt(NIR))"


def test_degenerate_candidates_skipped_and_counted():
    X = bands(50)
    X[7, 2] = 0.0               # R = 0 at one sample: every ratio over R is undefined there
    X[:, 5] = X[:, 4]           # SWIR2 = SWIR1: SWIR1 - SWIR2 is constant, SWIR1/SWIR2 too
    c = s.build_candidates(X, NAMES, ["DIFF", "RATIO"])
    reasons = {k.split(" ")[0]: v for k, v in c.skipped.items()}
    assert reasons["not"] == 5              # B/R, G/R, NIR/R, SWIR1/R, SWIR2/R
    assert reasons["the"] == 3              # SWIR1-SWIR2, SWIR1/SWIR2, SWIR2/SWIR1
    assert "RATIO_B_R" not in c.names and "DIFF_SWIR1_SWIR2" not in c.names
    # the duplicates of the equal bands are left out: B, G, R, NIR - SWIR2 (= - SWIR1); B, G, NIR / SWIR2 and
    # SWIR2 / B, G, NIR, R / SWIR2 (SWIR2 / R is undefined at one sample)
    assert c.duplicates == 4 + 7
    assert c.n_skipped + c.duplicates + c.values.shape[1] == c.generated


def test_published_indices_are_candidates():
    X = bands()
    c = s.build_candidates(X, NAMES)
    lookup = {n: X[:, i] for i, n in enumerate(NAMES)}
    for key, name in (("SAI", "SAI_G_NIR_SWIR1"), ("TRSI", "TRSI_SWIR1_NIR_B"), ("SBCI", "SBCI_SWIR1_G_R"),
                      ("GOSI", "GOSI_R_NIR_SWIR1")):
        j = c.names.index(name)
        np.testing.assert_allclose(c.values[:, j], ix.compute_index(key, lookup), rtol=2e-6)


@pytest.mark.parametrize("name,func", [
    ("TRSI_SWIR1_NIR_B", lambda X: (X[:, 4] - X[:, 3] + X[:, 0]) / (X[:, 4] + X[:, 3] - X[:, 0])),
    ("NDC_G_SWIR2_R", lambda X: (X[:, 1] - X[:, 5]) / (X[:, 1] + X[:, 5] - X[:, 2])),
    ("RS_NIR_B_SWIR1", lambda X: X[:, 3] / (X[:, 0] + X[:, 4])),
])
def test_known_form_plus_noise_ranks_first(name, func):
    X = bands(95, seed=11)                    # 95 samples, as the coastal study
    true = func(X)
    y = true + np.random.default_rng(5).normal(0, 0.5 * true.std(), 95)    # r about 0.9
    res = s.search(X, y, NAMES, transforms=["SQ", "SQRT", "INV"])
    best = res.rows(1)[0]
    assert best["name"] == name
    assert best["significant"] and best["selection_frequency"] == 1.0
    assert res.cv_r > 0.7


@pytest.mark.parametrize("correction", ["holm", "bh"])
def test_pure_noise_flags_nothing_in_95_of_100(correction):
    flagged = 0
    for rep in range(100):
        rng = np.random.default_rng(1000 + rep)
        X = rng.uniform(0.02, 0.5, (95, 6))
        y = rng.normal(size=95)
        res = s.search(X, y, NAMES, correction=correction, folds=5, seed=rep)
        flagged += bool((res.p_adjusted <= 0.05).any())
    assert flagged <= 5, flagged


def test_cross_validation_ranks_on_training_rows_only():
    X = bands(60)
    y = np.arange(60, dtype=np.float64) + np.random.default_rng(8).normal(0, 5, 60)    # unique values
    seen = []

    def spy(values_train, y_train):
        seen.append(y_train.copy())
        return s.rank_by_r(values_train, y_train)

    res = s.search(X, y, NAMES, folds=4, seed=9, rank=spy)
    assert len(seen) == 1 + 4                    # the full ranking, then one per fold
    np.testing.assert_array_equal(seen[0], y)
    tests = s.fold_indices(60, 4, 9)
    assert sorted(np.concatenate(tests).tolist()) == list(range(60))
    for k, test in enumerate(tests):
        got = seen[1 + k]
        assert got.size == 60 - test.size
        assert not set(got.tolist()) & set(y[test].tolist())      # no held-out target reaches the ranking
        assert set(got.tolist()) == set(np.delete(y, test).tolist())
    # changing the held-out targets of fold 1 changes nothing of its selection
    y2 = y.copy()
    y2[tests[0]] = np.random.default_rng(1).normal(0, 1000, tests[0].size)
    res2 = s.search(X, y2, NAMES, folds=4, seed=9)
    assert res2.folds[0].top == res.folds[0].top and res2.folds[0].r_train == res.folds[0].r_train
    # the held-out r is the top formula's r on the held-out rows, signed by the training direction
    f = res.folds[0]
    r = np.corrcoef(res.candidates.values[tests[0], f.top], y[tests[0]])[0, 1]
    assert math.isclose(f.r_test, r, rel_tol=1e-12)
    assert math.isclose(f.r_test_signed, r * np.sign(f.r_train), rel_tol=1e-12)
    assert math.isclose(res.cv_r, np.mean([g.r_test_signed for g in res.folds]), rel_tol=1e-12)
    assert int(res.selected_folds.sum()) == 4


def test_pair_matrix():
    X = bands(80)
    y = np.random.default_rng(6).normal(size=80)
    m = s.pair_matrix(X, y, NAMES, "ND", "SQRT")
    assert np.isnan(np.diag(m)).all()
    a, b = np.sqrt(X[:, 1]), np.sqrt(X[:, 3])
    assert math.isclose(m[1, 3], np.corrcoef((a - b) / (a + b), y)[0, 1], rel_tol=1e-12)
    np.testing.assert_allclose(m, -m.T, atol=1e-12)


def test_bad_inputs():
    X = bands(20)
    with pytest.raises(s.SearchError, match="at least 15 samples") as e:
        s.search(X[:14], np.arange(14.0), NAMES, folds=5)
    assert e.value.param == "FOLDS"
    with pytest.raises(s.SearchError, match="same value") as e:
        s.search(X, np.ones(20), NAMES)
    assert e.value.param == "TARGET_FIELD"
    with pytest.raises(s.SearchError, match="none of the"):
        s.search(np.ones((20, 2)), np.arange(20.0), ["B", "G"], forms=["DIFF"])
