"""Geodetector core vs py-geodetector 0.2.1 (port of Wang & Xu's R package) and scipy formulas."""
import numpy as np
import pytest
from scipy import stats

from mining_eco_plugin.core import geodetector as gd

pd = pytest.importorskip("pandas")
GeoDetector = pytest.importorskip("geodetector").GeoDetector


def _data(seed, n=60):
    rng = np.random.default_rng(seed)
    x1 = rng.integers(0, 4, n)
    x2 = rng.integers(0, 5, n)
    x2[0] = 7  # a one-sample stratum
    y = 0.3 * x1 + 0.1 * (x2 % 3) + rng.normal(0, 0.5, n)
    return y, x1, x2


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_factor_and_interaction_equal_py_geodetector(seed):
    y, x1, x2 = _data(seed)
    df = pd.DataFrame({"y": y, "a": x1, "b": x2})
    ref = GeoDetector(df, "y", ["a", "b"])
    fd = ref.factor_detector()
    for name, x in (("a", x1), ("b", x2)):
        r = gd.factor_detector(y, x, name)
        assert r.q == pytest.approx(fd.loc["q statistic", name], abs=1e-9)
        assert r.p == pytest.approx(fd.loc["p value", name], abs=1e-9)
    inter = gd.interaction_detector(y, x1, x2, ("a", "b"))
    assert inter["q12"] == pytest.approx(ref.interaction_detector("a", "b"), abs=1e-9)
    assert inter["q1"] == pytest.approx(fd.loc["q statistic", "a"], abs=1e-12)


def test_q_hand_computed():
    # strata {1,2,3} and {10,12}: SSW = 2 + 2 = 4; SST = sum((y-5.6)^2) = 101.2 -> q = 1 - 4/101.2
    y = np.array([1.0, 2, 3, 10, 12])
    x = np.array(["a", "a", "a", "b", "b"])
    assert gd.factor_detector(y, x).q == pytest.approx(1 - 4 / 101.2, abs=1e-12)


def test_interaction_types_table4():
    assert gd.interaction_type(0.2, 0.3, 0.6) == gd.NONLINEAR_ENHANCE
    assert gd.interaction_type(0.2, 0.3, 0.4) == gd.BI_ENHANCE
    assert gd.interaction_type(0.2, 0.3, 0.5) == gd.INDEPENDENT
    assert gd.interaction_type(0.2, 0.3, 0.5 + 1e-4, tolerance=1e-3) == gd.INDEPENDENT
    assert gd.interaction_type(0.2, 0.3, 0.5 + 1e-4, tolerance=1e-6) == gd.NONLINEAR_ENHANCE
    assert gd.interaction_type(0.2, 0.3, 0.25) == gd.UNI_WEAKEN
    assert gd.interaction_type(0.2, 0.3, 0.1) == gd.NONLINEAR_WEAKEN


def test_risk_detector_welch_formula():
    y, x1, _ = _data(5)
    r = gd.risk_detector(y, x1)
    assert r.means == pytest.approx([y[x1 == k].mean() for k in range(4)], abs=1e-12)
    for pair in r.pairs:
        a, b = y[x1 == pair["a"]], y[x1 == pair["b"]]
        va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
        t = (a.mean() - b.mean()) / np.sqrt(va + vb)
        df = (va + vb) ** 2 / (va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1))
        assert pair["t"] == pytest.approx(t, abs=1e-10)
        assert pair["df"] == pytest.approx(df, abs=1e-8)
        assert pair["p"] == pytest.approx(2 * stats.t.sf(abs(t), df), abs=1e-12)
        # and scipy's own Welch test agrees
        assert pair["p"] == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue, abs=1e-10)


def test_risk_detector_one_sample_stratum_has_no_test():
    y, _, x2 = _data(1)
    r = gd.risk_detector(y, x2)
    lone = [p for p in r.pairs if 7 in (p["a"], p["b"])]
    assert lone and all(np.isnan(p["p"]) and not p["significant"] for p in lone)


def test_ecological_detector_f_formula():
    y, x1, x2 = _data(2)
    ssw = [sum(((y[x == k] - y[x == k].mean()) ** 2).sum() for k in np.unique(x)) for x in (x1, x2)]
    n = y.size
    f_ref = n * (n - 1) * ssw[0] / (n * (n - 1) * ssw[1])
    f_val, p = gd.ecological_detector(y, x1, x2)
    assert f_val == pytest.approx(f_ref, rel=1e-12)
    assert p == pytest.approx(stats.f.sf(f_ref, n - 1, n - 1), abs=1e-12)


@pytest.mark.parametrize("bad, msg", [
    (dict(x=np.zeros(10)), "single stratum"),
    (dict(x=np.arange(10)), "N/2"),
    (dict(y=np.ones(10)), "constant"),
    (dict(y=np.r_[np.nan, np.arange(9.0)]), "NaN"),
    (dict(x=np.r_[np.nan, np.arange(9.0) % 2]), "NaN"),
    (dict(x=np.arange(8) % 2), "same samples"),
])
def test_bad_inputs(bad, msg):
    args = dict(y=np.arange(10.0), x=np.arange(10) % 2)
    args.update(bad)
    with pytest.raises(ValueError, match=msg) as err:
        gd.factor_detector(args["y"], args["x"], name="slope", y_name="RSEI")
    assert str(err.value).startswith("RSEI" if "y" in bad else "slope")


def test_breaks_by_hand():
    x = np.array([1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20, 21, 22, 50])
    # equal: (50 - 1)/2 = 24.5 -> 1, 25.5, 50
    assert gd.class_breaks(x, "equal", 2) == pytest.approx([1, 25.5, 50])
    # quantile (linear): median of 14 values = (7 + 8)/2
    assert gd.class_breaks(x, "quantile", 2) == pytest.approx([1, 7.5, 50])
    # natural breaks k=3: {1..10}, {20,21,22}, {50} is the least within-class SS (by hand:
    # 82.5 + 2 + 0); class upper bounds 10, 22, 50
    assert gd.class_breaks(x, "natural", 3) == pytest.approx([1, 10, 22, 50])
    # geometric: 1 * 50^(i/2) -> 1, sqrt(50), 50
    assert gd.class_breaks(x, "geometric", 2) == pytest.approx([1, np.sqrt(50), 50])
    # std, k=2: one interior edge at the mean
    assert gd.class_breaks(x, "std", 2) == pytest.approx([1, x.mean(), 50])
    codes = gd.classify(x, [1, 10, 22, 50])
    assert codes.tolist() == [0] * 10 + [1, 1, 1, 2]


def test_natural_breaks_brute_force():
    rng = np.random.default_rng(3)
    x = np.round(rng.gamma(2, 3, 12), 1)
    v = np.sort(x)
    best = None
    for i in range(1, 11):
        for j in range(i + 1, 12):
            parts = [v[:i], v[i:j], v[j:]]
            ss = sum(((p - p.mean()) ** 2).sum() for p in parts)
            if best is None or ss < best[0] - 1e-12:
                best = (ss, [v[i - 1], v[j - 1], v[-1]])
    assert gd.class_breaks(x, "natural", 3)[1:] == pytest.approx(best[1])


def test_optimal_picks_highest_significant_q():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 10, 200)
    y = np.where(x > 7, 2.0, 0.0) + rng.normal(0, 0.3, 200)
    best = gd.optimal_discretization(y, x, k_range=range(2, 6))
    qs = [q for (_, _, q, p) in best["tried"] if p < 0.05]
    assert best["q"] == max(qs)
    assert gd.factor_detector(y, best["codes"]).q == pytest.approx(best["q"])


# ------------------------------------------------------------------ natural breaks vs jenkspy

def _jenkspy():
    return pytest.importorskip("jenkspy")


@pytest.mark.parametrize("seed", range(6))
def test_natural_breaks_equal_jenkspy_random(seed):
    """Our numpy Fisher-Jenks programme gives the breaks of jenkspy 0.4.1 (independent C
    implementation of the same exact DP) on continuous random data, k = 2..7."""
    jenkspy = _jenkspy()
    rng = np.random.default_rng(seed)
    x = [rng.normal(0, 1, 700), rng.gamma(1.5, 2.0, 900), rng.uniform(-3, 3, 500) ** 3][seed % 3]
    for k in range(2, 8):
        ours = gd.class_breaks(x, "natural", k, natural_engine="numpy")
        ref = jenkspy.jenks_breaks(x, n_classes=k)
        assert ours.tolist() == ref


@pytest.mark.parametrize("seed", range(4))
def test_natural_breaks_equal_jenkspy_tied(seed):
    """With many ties our programme works on the distinct values weighted by their counts;
    jenkspy gets every raw value. Same breaks (jenkspy 0.4.1 as the reference)."""
    jenkspy = _jenkspy()
    rng = np.random.default_rng(100 + seed)
    x = np.round(rng.gamma(2.0, 3.0, 1500)) if seed % 2 else rng.integers(0, 40, 1200) * 0.5
    assert np.unique(x).size < x.size / 10
    for k in range(2, 8):
        ours = gd.class_breaks(x, "natural", k, natural_engine="numpy")
        assert ours.tolist() == jenkspy.jenks_breaks(x, n_classes=k)
        # the jenkspy engine expands the weighted distinct values back to every sample
        assert gd.class_breaks(x, "natural", k, natural_engine="jenkspy").tolist() == ours.tolist()


def test_natural_engine_auto_is_the_same_on_sampled_values():
    """Above 4000 distinct values a seeded sample of them is classified; the auto engine (jenkspy
    when importable) and the numpy programme give the same breaks for every k of the optimal
    search, and the breaks are the exact optimum of the sample (jenkspy on the sample)."""
    jenkspy = _jenkspy()
    x = np.random.default_rng(7).lognormal(0, 1, 20000)
    v, w = gd._fj_input(np.sort(x))
    assert v.size == 4000 and (w == 1).all()
    for k in range(3, 8):
        numpy_b = gd.class_breaks(x, "natural", k, natural_engine="numpy")
        assert numpy_b.tolist() == gd.class_breaks(x, "natural", k).tolist()
        assert numpy_b[1:].tolist() == jenkspy.jenks_breaks(v, n_classes=k)[1:]
        assert numpy_b[0] == x.min() and numpy_b[-1] == x.max()


# ------------------------------------------------------------------ fast paths stay exact

def test_optimal_tried_equal_direct_and_py_geodetector():
    """Every (method, k) of the optimal search (strata statistics combined from the binned
    samples) has the q and p that factor_detector and py-geodetector give on that method's codes."""
    rng = np.random.default_rng(11)
    n = 3000
    x = rng.gamma(2.0, 2.0, n)
    y = np.sin(x) + 0.2 * x + rng.normal(0, 0.5, n)
    best = gd.optimal_discretization(y, x)
    assert len(best["tried"]) == 25
    for method, k, q, p in best["tried"]:
        codes, _ = gd.discretize(x, method, k)
        r = gd.factor_detector(y, codes)
        assert q == pytest.approx(r.q, abs=1e-12) and p == pytest.approx(r.p, abs=1e-12)
        ref_q, ref_p = GeoDetector(pd.DataFrame({"y": y, "x": codes}), "y", ["x"]).factor_detector("x")
        assert q == pytest.approx(ref_q, abs=1e-9) and p == pytest.approx(ref_p, abs=1e-9)
    # the winner's q is recomputed on its codes, the tried q's come from combined strata statistics: the
    # two summation orders may differ in the last bits (1 ulp seen on one CPU), hence 1e-12 relative
    assert best["q"] == pytest.approx(max(q for (_, _, q, p) in best["tried"] if p < 0.05), rel=1e-12)


def test_integer_labels_with_gaps_negative_and_bool():
    """Integer labels (negative, with gaps, any int width) and booleans are strata as they are:
    same q, p as the string labels and as py-geodetector."""
    rng = np.random.default_rng(4)
    n = 400
    raw = rng.integers(0, 5, n)
    y = 0.5 * raw + rng.normal(0, 1, n)
    ref = gd.factor_detector(y, raw.astype(str).astype(object))
    for labels in (raw * 7 - 10, (raw * 1000).astype(np.int16), raw.astype(np.uint8) + 3):
        r = gd.factor_detector(y, labels)
        assert (r.q, r.p, r.n_strata) == (ref.q, ref.p, ref.n_strata)
        q_ref, p_ref = GeoDetector(pd.DataFrame({"y": y, "x": labels}), "y", ["x"]).factor_detector("x")
        assert r.q == pytest.approx(q_ref, abs=1e-9) and r.p == pytest.approx(p_ref, abs=1e-9)
    b = raw > 2
    assert gd.factor_detector(y, b).q == pytest.approx(
        GeoDetector(pd.DataFrame({"y": y, "x": b.astype(int)}), "y", ["x"]).factor_detector("x")[0], abs=1e-9)
    labels, _ = gd._codes(raw * 7 - 10, n)
    assert labels.tolist() == [-10, -3, 4, 11, 18]


def test_interaction_with_empty_combinations_equals_py_geodetector():
    """Overlay strata built as code1 * L2 + code2 (empty combinations dropped) equal the
    groupby of py-geodetector, including one-sample overlay strata."""
    rng = np.random.default_rng(9)
    n = 500
    a = rng.integers(0, 6, n)
    b = np.where(a < 3, rng.integers(0, 2, n), rng.integers(2, 5, n))  # many empty pairs
    b[:3] = [9, 9, 9]
    y = a * 0.2 + (b == 3) + rng.normal(0, 0.4, n)
    it = gd.interaction_detector(y, a, b)
    ref = GeoDetector(pd.DataFrame({"y": y, "a": a, "b": b}), "y", ["a", "b"])
    assert it["q12"] == pytest.approx(ref.interaction_detector("a", "b"), abs=1e-9)
    assert it["n_strata12"] == len({(u, v) for u, v in zip(a, b)})


def test_optimal_names_the_factor_for_nan_and_constant():
    y = np.arange(20.0)
    with pytest.raises(ValueError, match="^slope: contains NaN"):
        gd.optimal_discretization(y, np.r_[np.nan, np.arange(19.0)], name="slope")
    with pytest.raises(ValueError, match="^slope: the factor is constant"):
        gd.optimal_discretization(y, np.ones(20), name="slope")


def test_interaction_of_factors_with_thousands_of_labels():
    """When L1 * L2 is too large for a table of all label pairs, the present pairs are coded
    instead (and each factor's strata directly); q1, q2, q12 still equal py-geodetector's."""
    rng = np.random.default_rng(12)
    n = 6000
    a, b = rng.integers(0, 2500, n), rng.integers(0, 2400, n) - 1000
    y = (a % 3) + rng.normal(0, 1, n)
    it = gd.interaction_detector(y, a, b)
    ref = GeoDetector(pd.DataFrame({"y": y, "a": a, "b": b}), "y", ["a", "b"])
    assert it["q12"] == pytest.approx(ref.interaction_detector("a", "b"), abs=1e-9)
    assert it["q1"] == pytest.approx(ref.factor_detector("a")[0], abs=1e-9)
    assert it["q2"] == pytest.approx(ref.factor_detector("b")[0], abs=1e-9)


def test_grid_binning_equals_searchsorted():
    """The grid shortcut of the optimal search bins every sample exactly as np.searchsorted
    (side='left', i.e. b_{i-1} < x <= b_i) does, also for samples equal to an edge, one ulp
    either side of it, edges outside [min, max] and heavy ties."""
    rng = np.random.default_rng(21)
    edges = np.unique(np.r_[rng.uniform(-1, 11, 60), -5.0, 0.0, 10.0, 30.0])
    inner = edges[(edges > 0) & (edges < 10)]
    x = np.r_[rng.uniform(0, 10, 20000), np.round(rng.uniform(0, 10, 5000), 1), inner,
              np.nextafter(inner, -np.inf), np.nextafter(inner, np.inf), 0.0, 10.0]
    got = gd._bin_codes(x, 0.0, 10.0, edges, grid=256)
    assert np.array_equal(got, np.searchsorted(edges, x, side="left"))
    assert np.array_equal(gd._bin_codes(x, 0.0, 10.0, edges), np.searchsorted(edges, x, side="left"))


def test_optimal_require_significant_false_keeps_the_highest_q():
    """Noise factor: by default no significant candidate raises naming the factor; with
    require_significant=False the result is the candidate of highest q among the 'tried' list (max taken
    here over that list) and is flagged not significant; a significant factor is unaffected."""
    rng = np.random.default_rng(11)
    y = rng.normal(size=80)
    noise = rng.uniform(size=80)
    with pytest.raises(ValueError, match="noise: no discretisation"):
        gd.optimal_discretization(y, noise, name="noise")
    best = gd.optimal_discretization(y, noise, name="noise", require_significant=False)
    assert best["significant"] is False and best["p"] >= 0.05
    assert best["q"] == pytest.approx(max(q for _m, _k, q, _p in best["tried"]), abs=1e-12)
    strong = y + 3 * np.repeat([0.0, 1.0, 2.0, 3.0], 20)
    signal = np.repeat([0.0, 1.0, 2.0, 3.0], 20) + rng.uniform(0, 0.5, 80)
    a = gd.optimal_discretization(strong, signal)
    b = gd.optimal_discretization(strong, signal, require_significant=False)
    assert a["significant"] and (a["method"], a["k"], a["q"]) == (b["method"], b["k"], b["q"])


# ------------------------------------------------------------------ natural breaks keep k classes (issue 11, defect 12)

def _isolated_minimum(seed, n=240):
    """A factor whose Fisher-Jenks optimum puts the minimum (a far outlier) in a class of its own for every k,
    and a Y that depends on the factor (as on the ningdong mine tables, where 71 of 180 candidates did this)."""
    rng = np.random.default_rng(seed)
    x = np.concatenate([[-40.0 - seed], rng.gamma(2.0, 2.0, n - 1)])
    y = np.sin(x / 2.0) + 0.3 * np.sqrt(np.abs(x)) + rng.normal(0, 0.4, n)
    return y, x


@pytest.mark.parametrize("seed", range(3))
def test_natural_breaks_with_the_minimum_alone_keep_k_classes_as_jenkspy(seed):
    jenkspy = _jenkspy()
    y, x = _isolated_minimum(seed)
    for k in range(3, 8):
        ref = jenkspy.JenksNaturalBreaks(k)
        ref.fit(x)
        assert ref.breaks_[0] == ref.breaks_[1] == x.min()            # the case: the minimum is a class alone
        codes, edges = gd.discretize(x, "natural", k, natural_engine="numpy")
        assert edges.tolist() == ref.breaks_
        assert np.unique(codes).size == k                              # 0.6.0: k - 1 (np.unique merged it)
        np.testing.assert_array_equal(codes, ref.labels_)              # jenkspy's class of every sample
        # q of those k classes = py-geodetector's q of jenkspy's classes
        df = pd.DataFrame({"y": y, "x": ref.labels_})
        fd = GeoDetector(df, "y", ["x"]).factor_detector()
        assert gd.factor_detector(y, codes).q == pytest.approx(fd.loc["q statistic", "x"], abs=1e-12)


def test_optimal_search_natural_candidates_have_k_classes_and_jenkspys_q():
    jenkspy = _jenkspy()
    y, x = _isolated_minimum(5)
    best = gd.optimal_discretization(y, x, methods=("natural",), k_range=range(3, 8), natural_engine="numpy",
                                     require_significant=False)
    for method, k, q, _p in best["tried"]:
        ref = jenkspy.JenksNaturalBreaks(k)
        ref.fit(x)
        fd = GeoDetector(pd.DataFrame({"y": y, "x": ref.labels_}), "y", ["x"]).factor_detector()
        assert q == pytest.approx(fd.loc["q statistic", "x"], abs=1e-9), (method, k)
    assert best["n_classes"] == best["k"] == np.unique(best["codes"]).size
