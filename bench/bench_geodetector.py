"""Benchmark of the Geodetector core on 10^6 samples x 8 continuous factors (issue 5).

Measures, in the same run and on the same seeded synthetic data:

* ours: the optimal discretisation of every factor (5 methods x k 3..7 = 25 candidates each, the
  highest significant q kept), then on the chosen codes the calls the miningeco:geodetector tool
  makes (algorithms/geodetector.py ``_detect``): factor detector per factor, risk detector per
  factor, interaction and ecological detector per pair (28 pairs);
* py-geodetector 0.2.1 (Python port of Wang & Xu's R package, the reference of the unit tests) on
  the SAME discretised codes: ``factor_detector()``, ``interaction_detector(a, b)`` for the 28 pairs,
  ``ecological_detector()`` (all pairs) and ``risk_detector()`` (all factors). It has no
  discretisation, so the discretisation is only in our time.

Printed: seconds per phase, the ratio ours / py-geodetector (goal < 1, i.e. faster) for the
detectors on the same codes and for our whole run including the optimal search, and the largest
differences of the results (q, p, interaction q, ecological decisions, risk means and t-test
decisions). Timings are information, never pass/fail.

``run(say=print, out_dir=None)`` prints through ``say`` and returns the lines (bench/run_bench.py,
like bench_casa); ``python bench/bench_geodetector.py [n_samples]`` runs it alone.
"""
from __future__ import annotations

import os
import sys
import time
import warnings

import numpy as np

os.environ.setdefault("MPLBACKEND", "Agg")  # py-geodetector imports pyplot; no window
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for _p in (ROOT, HERE):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from benchkit import verdict  # noqa: E402

N_SAMPLES = 10 ** 6
SEED = 20260501
K_RANGE = range(3, 8)
ALPHA = 0.05


def make_data(n=N_SAMPLES, seed=SEED):
    """Y (an RSEI-like response) and 8 continuous factors of different shapes; Y depends on every
    factor (some weakly, some through thresholds and one interaction) plus noise."""
    rng = np.random.default_rng(seed)
    xs = {
        "elevation": rng.normal(1200.0, 150.0, n),
        "slope": rng.gamma(2.0, 4.0, n),
        "precipitation": rng.uniform(200.0, 450.0, n),
        "temperature": rng.normal(8.0, 2.0, n),
        "ndvi": rng.beta(2.0, 5.0, n),
        "dist_mine": rng.exponential(3000.0, n),
        "population": np.round(rng.lognormal(3.0, 1.0, n)),   # many ties
        "soil_moisture": rng.uniform(0.0, 1.0, n),
    }
    y = (0.002 * xs["elevation"] + np.where(xs["dist_mine"] < 1500.0, -1.0, 0.0)
         + 0.8 * np.tanh((xs["precipitation"] - 320.0) / 40.0) + 2.0 * xs["ndvi"]
         + 0.05 * xs["temperature"] + 0.02 * np.sqrt(xs["population"]) + 0.3 * (xs["soil_moisture"] > 0.7)
         + 0.3 * (xs["slope"] > 10.0) * (xs["ndvi"] > 0.3) + rng.normal(0.0, 0.5, n))
    return y, xs


def ours(y, xs):
    """Our optimal discretisation + all detectors; returns (seconds per phase, results)."""
    from mining_eco_plugin.core import geodetector as gd
    names = list(xs)
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]
    sec, res = {}, {}
    t0 = time.perf_counter()
    best = {nm: gd.optimal_discretization(y, xs[nm], k_range=K_RANGE, alpha=ALPHA, name=nm) for nm in names}
    sec["optimal discretisation"] = time.perf_counter() - t0
    codes = {nm: best[nm]["codes"] for nm in names}
    t0 = time.perf_counter()
    res["factor"] = {nm: gd.factor_detector(y, codes[nm], name=nm) for nm in names}
    sec["factor"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    res["interaction"] = {(a, b): gd.interaction_detector(y, codes[a], codes[b], (a, b)) for a, b in pairs}
    sec["interaction"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    res["ecological"] = {(a, b): gd.ecological_detector(y, codes[a], codes[b], (a, b)) for a, b in pairs}
    sec["ecological"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    res["risk"] = {nm: gd.risk_detector(y, codes[nm], name=nm, alpha=ALPHA) for nm in names}
    sec["risk"] = time.perf_counter() - t0
    return sec, res, best


def reference(y, codes):
    """py-geodetector on the same codes; returns (seconds per phase, results)."""
    import pandas as pd
    from geodetector import GeoDetector
    names = list(codes)
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]
    df = pd.DataFrame({"y": y, **{nm: codes[nm].astype(np.int64) for nm in names}})
    sec, res = {}, {}
    t0 = time.perf_counter()
    ref = GeoDetector(df, "y", names, alpha=ALPHA)
    res["factor"] = ref.factor_detector()
    sec["factor"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    res["interaction"] = {(a, b): ref.interaction_detector(a, b) for a, b in pairs}
    sec["interaction"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    res["ecological"] = ref.ecological_detector()
    sec["ecological"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    res["risk"] = ref.risk_detector()
    sec["risk"] = time.perf_counter() - t0
    return sec, res


def compare(y, ours_res, ref_res, n):
    """Largest differences between our results and py-geodetector's."""
    from scipy import stats
    names = list(ours_res["factor"])
    fd = ref_res["factor"]
    d_q = max(abs(ours_res["factor"][nm].q - fd.loc["q statistic", nm]) for nm in names)
    d_p = max(abs(ours_res["factor"][nm].p - fd.loc["p value", nm]) for nm in names)
    d_q12 = max(abs(r["q12"] - ref_res["interaction"][pair]) for pair, r in ours_res["interaction"].items())
    # py-geodetector's ecological matrix: entry [later, earlier] is "Y" when F(later, earlier) is below
    # the lower alpha quantile of F(N-1, N-1); our F(a, b) for the pair (earlier a, later b) is its inverse.
    crit = stats.f.ppf(0.05, n - 1, n - 1)
    eco = ref_res["ecological"]
    eco_same = sum((1.0 / f_val < crit) == (eco.loc[b, a] == "Y")
                   for (a, b), (f_val, _p) in ours_res["ecological"].items())
    d_mean, risk_same, risk_n = 0.0, 0, 0
    for nm, r in ours_res["risk"].items():
        ref_means = ref_res["risk"][nm]["risk"]
        d_mean = max(d_mean, max(abs(m - ref_means.loc[lab]) for lab, m in zip(r.labels, r.means)))
        tt = ref_res["risk"][nm]["ttest_stra"]
        for pair in r.pairs:
            risk_n += 1
            risk_same += bool(tt.loc[pair["b"], pair["a"]]) == pair["significant"]
    return d_q, d_p, d_q12, (eco_same, len(ours_res["ecological"])), d_mean, (risk_same, risk_n)


def run(say=print, out_dir=None, n=N_SAMPLES):
    """Print the report through ``say`` and return its lines. ``out_dir`` is accepted like the
    other bench modules' (``run(out_dir)`` works too) but nothing is written: the data is made in
    memory from the seed."""
    if isinstance(say, str):
        say = print
    lines = []

    def out(text):
        lines.append(text)
        say(text)

    from importlib.metadata import version
    try:
        import geodetector as _pygd  # noqa: F401  (import cost outside the timings)
        import pandas  # noqa: F401
    except ImportError as err:
        out(f"geodetector: py-geodetector / pandas not importable ({err}); run `make setup` "
            "(requirements-dev.txt) to compare. Measuring ours only.")
        _pygd = None
    from mining_eco_plugin.core import geodetector as gd
    y, xs = make_data(n)
    load = os.getloadavg()[0]
    engine = "jenkspy" if gd._natural_engine() is not None else "numpy only (jenkspy not installed)"
    out(f"geodetector: {n:,} samples x {len(xs)} continuous factors, optimal discretisation "
        f"({len(gd.DISCRETIZATION_METHODS)} methods x k {K_RANGE.start}-{K_RANGE.stop - 1}), "
        f"{len(xs) * (len(xs) - 1) // 2} pairs; load average {load:.1f} on {os.cpu_count()} cores")
    sec, res, best = ours(y, xs)
    codes = {nm: best[nm]["codes"] for nm in xs}
    out("geodetector: chosen " + ", ".join(f"{nm} {b['method']} k={b['k']} q={b['q']:.3f}"
                                          for nm, b in best.items()))
    if _pygd is None:
        out(f"geodetector: ours: optimal discretisation {sec['optimal discretisation']:.2f} s, detectors "
            + ", ".join(f"{ph} {sec[ph]:.2f} s" for ph in ("factor", "interaction", "ecological", "risk")))
        return lines
    with warnings.catch_warnings():  # py-geodetector's ncf.sf warns "divide by zero" for large F
        warnings.simplefilter("ignore", RuntimeWarning)
        ref_sec, ref_res = reference(y, codes)
    phases = ("factor", "interaction", "ecological", "risk")
    out(f"geodetector: {'phase':24s} {'ours s':>8s} {'py-geodetector s':>17s} {'ratio':>6s}")
    out(f"geodetector: {'optimal discretisation':24s} {sec['optimal discretisation']:8.2f} "
        f"{'(none)':>17s}        natural breaks engine for single-k calls: {engine}")
    for ph in phases:
        out(f"geodetector: {ph:24s} {sec[ph]:8.2f} {ref_sec[ph]:17.2f} {sec[ph] / ref_sec[ph]:6.3f}")
    det, ref_det = sum(sec[p] for p in phases), sum(ref_sec[p] for p in phases)
    total = det + sec["optimal discretisation"]
    out(f"geodetector: detectors on the same codes: ours {det:.2f} s, py-geodetector {ref_det:.2f} s, "
        f"ratio {det / ref_det:.3f} (goal < 1, faster) {verdict(det < ref_det)}")
    out(f"geodetector: ours with the optimal discretisation {total:.2f} s vs py-geodetector's detectors "
        f"alone {ref_det:.2f} s, ratio {total / ref_det:.3f} (goal < 1) {verdict(total < ref_det)}")
    d_q, d_p, d_q12, eco, d_mean, risk = compare(y, res, ref_res, n)
    out(f"geodetector: max |difference| vs py-geodetector {version('py-geodetector')}: factor q {d_q:.2g}, "
        f"p {d_p:.2g}; interaction q {d_q12:.2g}; risk stratum means {d_mean:.2g}")
    out(f"geodetector: same decisions: ecological {eco[0]}/{eco[1]} pairs; risk t-tests {risk[0]}/{risk[1]} "
        "pairs (ours: Welch always, as R's t.test; py-geodetector: Student or Welch after a Levene test)")
    return lines


if __name__ == "__main__":
    run(print, n=int(float(sys.argv[1])) if len(sys.argv) > 1 else N_SAMPLES)
