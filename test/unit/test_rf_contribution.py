"""Random-forest factorial contributions (changhe 2.4.2, eqs. 6-7)."""
import numpy as np
import pytest
from sklearn.ensemble import RandomForestRegressor
from sklearn.inspection import permutation_importance

from mining_eco_plugin.core import rf_contribution as rc

NAMES = ["prec", "temp", "som", "clay", "dist_mine", "dump"]
MAPPING = "prec=climate, temp=climate, som=soil, clay=soil, dist_mine=mining, dump=mining"


def synthetic(n=300, seed=0, depends="climate"):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, len(NAMES)))
    cols = {"climate": (0, 1), "soil": (2, 3), "mining": (4, 5)}[depends]
    y = 3 * X[:, cols[0]] + 2 * np.sin(X[:, cols[1]]) + 0.05 * rng.normal(size=n)
    return X, y


def test_parse_categories_forms_and_order():
    expected = {"prec": "climate", "temp": "climate", "som": "soil", "clay": "soil",
                "dist_mine": "mining", "dump": "mining"}
    assert rc.parse_categories(MAPPING, NAMES) == expected
    flat = [v for kv in expected.items() for v in kv]  # a Processing matrix: field, category, ...
    assert rc.parse_categories(flat, NAMES) == expected
    assert rc.category_order(expected) == ["climate", "soil", "mining"]


def test_unknown_fields_are_named():
    with pytest.raises(ValueError, match="unknown field.*rain, ndvi") as err:
        rc.parse_categories("rain=climate, prec=climate, ndvi=soil", NAMES)
    assert err.value.param == "CATEGORIES"
    X, y = synthetic(50)
    with pytest.raises(ValueError, match="rain"):
        rc.rf_contributions(X, y, NAMES, "rain=climate, som=soil", n_estimators=10)


@pytest.mark.parametrize("spec", ["prec=climate, temp=climate", "prec", "prec=, som=soil",
                                  "prec=climate, prec=soil"])
def test_bad_category_tables(spec):
    with pytest.raises(ValueError):
        rc.parse_categories(spec, NAMES)


def test_bad_samples():
    X, y = synthetic(9)
    with pytest.raises(ValueError, match="at least 10"):
        rc.rf_contributions(X, y, NAMES, MAPPING, n_estimators=10)
    X, y = synthetic(30)
    with pytest.raises(ValueError, match="constant"):
        rc.rf_contributions(X, np.full(30, 2.0), NAMES, MAPPING, n_estimators=10)
    X[3, 2] = np.nan
    with pytest.raises(ValueError, match="som"):
        rc.rf_contributions(X, y, NAMES, MAPPING, n_estimators=10)


@pytest.mark.parametrize("depends", ["climate", "soil", "mining"])
def test_single_category_dominates(depends):
    X, y = synthetic(depends=depends)
    res = rc.rf_contributions(X, y, NAMES, MAPPING, n_estimators=100)
    rel = dict(zip(res.categories, res.rel_con))
    assert rel[depends] > 90.0, rel
    assert res.rel_con.sum() == pytest.approx(100.0, abs=1e-9)
    assert res.importance_pct.sum() == pytest.approx(100.0, abs=1e-9)
    top2 = [res.drivers[j] for j in np.argsort(-res.importance_pct)[:2]]
    assert {res.mapping[d] for d in top2} == {depends}


def test_reproducible_with_fixed_seed():
    X, y = synthetic(depends="soil")
    y = y + X[:, 4]  # two categories matter
    a = rc.rf_contributions(X, y, NAMES, MAPPING, n_estimators=50, random_state=7)
    b = rc.rf_contributions(X, y, NAMES, MAPPING, n_estimators=50, random_state=7)
    for attr in ("act_con", "rel_con", "importance", "importance_pct", "score_without"):
        np.testing.assert_array_equal(getattr(a, attr), getattr(b, attr))
    assert a.score_all == b.score_all
    c = rc.rf_contributions(X, y, NAMES, MAPPING, n_estimators=50, random_state=8)
    assert not np.array_equal(a.importance, c.importance)


def test_equations_6_7_against_independent_forests():
    # eq. 6 / 7 recomputed from scikit-learn forests fitted here with the same settings
    X, y = synthetic(120, depends="mining")
    y = y + 0.5 * X[:, 0]
    res = rc.rf_contributions(X, y, NAMES, MAPPING, n_estimators=30, random_state=3)

    def oob(cols):
        m = RandomForestRegressor(n_estimators=30, max_features=1 / 3, oob_score=True, random_state=3)
        return m.fit(X[:, cols], y).oob_score_, m
    r_all, m_all = oob(list(range(6)))
    r_wo = np.array([oob([2, 3, 4, 5])[0], oob([0, 1, 4, 5])[0], oob([0, 1, 2, 3])[0]])
    act = r_all - r_wo
    np.testing.assert_allclose(res.act_con, act, rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.rel_con, np.abs(act) / np.abs(act).sum() * 100, atol=1e-9)
    pi = permutation_importance(m_all, X, y, n_repeats=10, random_state=3).importances_mean
    pos = np.clip(pi, 0, None)
    np.testing.assert_allclose(res.importance_pct, pos / pos.sum() * 100, atol=1e-9)


def test_train_score_and_category_with_all_drivers():
    X, y = synthetic(60)
    res = rc.rf_contributions(X, y, NAMES, "prec=climate, temp=climate, som=soil", n_estimators=20,
                              score="train")
    assert res.drivers == ["prec", "temp", "som"]
    assert 0 < res.score_all <= 1
    pred = res.predict(X[:, :3])
    # column 0 = RF_all: its R2 on the training samples is the "train" score
    r2 = 1 - np.sum((y - pred[:, 0]) ** 2) / np.sum((y - y.mean()) ** 2)
    assert res.score_all == pytest.approx(r2, abs=1e-12)


def test_pixel_contributions_and_dominant_rule():
    # hand computation: pred_all, pred without A, B, C
    pred = np.array([[10.0, 2.0, 9.0, 9.0],    # Act = 8, 1, 1 -> 80 % A -> code 1
                     [10.0, 6.0, 7.0, 9.0],    # Act = 4, 3, 1 -> 50/37.5/12.5 -> pair A+B -> code 4
                     [10.0, 10.0, 12.0, 7.0],  # Act = 0, -2, 3 -> 0/40/60 -> 60 is not > 60 -> pair B+C = 6
                     [5.0, 5.0, 5.0, 5.0]])    # no change -> NaN -> 0
    act, rel = rc.pixel_contributions(pred)
    np.testing.assert_allclose(act[:3], [[8, 1, 1], [4, 3, 1], [0, -2, 3]])
    np.testing.assert_allclose(rel[1], [50, 37.5, 12.5])
    assert np.isnan(rel[3]).all()
    np.testing.assert_array_equal(rc.dominant_category(rel), [1, 4, 6, 0])
    assert rc.dominant_codes(3) == [(1, (0,)), (2, (1,)), (3, (2,)), (4, (0, 1)), (5, (0, 2)), (6, (1, 2))]


def test_parse_categories_matrix_forms():
    """Values a Processing matrix parameter hands over: flat cells, rows, empty rows / None cells left in
    the table dialog, and the "field=category" text split on commas by parameterAsMatrix (qgis_process)."""
    expected = {"prec": "climate", "som": "soil", "dist_mine": "mining"}
    assert rc.parse_categories([["prec", "climate"], ["som", "soil"], ["dist_mine", "mining"]], NAMES) == expected
    assert rc.parse_categories(["prec", "climate", "", "", "som", "soil", None, None, "dist_mine", "mining"],
                               NAMES) == expected
    assert rc.parse_categories(["prec=climate", " som=soil; dist_mine=mining"], NAMES) == expected
    with pytest.raises(ValueError, match="two columns"):
        rc.parse_categories(["prec", "climate", "som"], NAMES)
    with pytest.raises(ValueError, match="empty field or category"):
        rc.parse_categories(["prec", "climate", "som", ""], NAMES)
    with pytest.raises(ValueError, match="unknown field.*rain"):
        rc.parse_categories([["rain", "climate"], ["som", "soil"]], NAMES)


def test_predict_chunked_and_threaded_equals_each_models_predict():
    """ContributionResult.predict (chunks, threads) against each fitted forest's own sklearn predict on
    the rows of its columns: bit-identical, whatever the chunk size or thread count."""
    X, y = synthetic(200, depends="mining")
    res = rc.rf_contributions(X, y, NAMES, MAPPING, n_estimators=30)
    Xp = np.random.default_rng(5).normal(size=(1001, 6)).astype(np.float32)
    ref = np.column_stack([res.models["__all__"].predict(Xp)] +
                          [res.models[c].predict(Xp[:, [j for j, d in enumerate(res.drivers)
                                                        if res.mapping[d] != c]]) for c in res.categories])
    for chunk, threads in ((None, 1), (97, 1), (1000, 4), (1, 2)):
        got = res.predict(Xp[:50] if chunk == 1 else Xp, chunk_rows=chunk, threads=threads)
        np.testing.assert_array_equal(got, ref[:50] if chunk == 1 else ref)
        assert got.dtype == np.float64
    with pytest.raises(ValueError, match="one column per driver"):
        res.predict(Xp[:, :5])
    assert res.predict(Xp[:0], threads=4).shape == (0, 4)


def test_contribution_block_pickles_and_stops_inside_its_predictions():
    """The per-pixel block of the executor: the forests and the cancel flag pickle (a dask worker gets them); the
    block equals pixel_contributions + dominant_category of the pixels valid in every driver; a cancel set while
    the block predicts stops it at the next chunk of rows (not only between blocks), a flag unknown to the
    process (a worker's copy) never cancels."""
    import pickle
    from types import SimpleNamespace

    from mining_eco_plugin.core import cancel as cancelling
    X, y = synthetic(200)
    res = rc.rf_contributions(X, y, NAMES, MAPPING, n_estimators=10, random_state=1)
    rng = np.random.default_rng(3)
    data = {f"d{j}": rng.normal(size=(6, 9)).astype(np.float32) for j in range(len(NAMES))}
    data["d2"][1, 4] = np.nan
    ctx = SimpleNamespace(window=SimpleNamespace(shape=(6, 9)))
    blocks, counts = rc.contribution_block(data, ctx, pickle.loads(pickle.dumps(res)), 60.0, chunk_rows=7)
    Xb = np.stack([data[f"d{j}"].ravel() for j in range(len(NAMES))], axis=1)
    ok = np.isfinite(Xb).all(axis=1)
    _act, rel = rc.pixel_contributions(res.predict(Xb[ok]))
    np.testing.assert_array_equal(blocks["OUTPUT_RGB"][:, ok.reshape(6, 9)], rel.T.astype(np.float32))
    assert np.isnan(blocks["OUTPUT_RGB"][:, 1, 4]).all() and blocks["OUTPUT_DOMINANT"][1, 4] == 0
    np.testing.assert_array_equal(blocks["OUTPUT_DOMINANT"].ravel()[ok], rc.dominant_category(rel, 60.0))
    assert counts.sum() == 54 and counts[0] == 1
    calls = []

    def is_cancelled():          # set after the first chunk of rows was predicted
        calls.append(1)
        return len(calls) > 1
    with cancelling.cancel_flag(is_cancelled) as flag:
        copy = pickle.loads(pickle.dumps(flag))
        with pytest.raises(cancelling.Cancelled):
            rc.contribution_block(data, ctx, res, 60.0, chunk_rows=7, cancel=copy)
    assert len(calls) == 2
    assert not copy()        # the run is over: the token is gone (as in a process that never knew it)
