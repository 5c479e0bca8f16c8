"""Benchmark of the spectral index search (issue 15): 6 bands, every two- and three-band form, 1000 samples.

Measured on seeded synthetic reflectances: building the candidates and ranking them with p-values, Holm
correction and 5-fold cross-validated selection (core.indexsearch.search), without and with the three
transforms (square, square root, reciprocal). Reference: numpy.corrcoef of the same candidate matrix with the
target (the plain correlation matrix of the same numbers, nothing else). Goal: under 2 s for the untransformed
search; timings are information, never pass/fail.

``run(say=print)`` prints through ``say``; ``python bench/bench_indexsearch.py`` runs it alone.
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for _p in (ROOT, HERE):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from benchkit import verdict  # noqa: E402

NAMES = ["B", "G", "R", "NIR", "SWIR1", "SWIR2"]
GOAL_S = 2.0


def best_of(fn, repeats=3):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def run(say=print, n=1000, seed=20261207):
    from mining_eco_plugin.core import indexsearch as s
    rng = np.random.default_rng(seed)
    X = rng.uniform(0.02, 0.5, (n, len(NAMES)))
    true = (X[:, 4] - X[:, 3] + X[:, 0]) / (X[:, 4] + X[:, 3] - X[:, 0])     # the TRSI form
    y = true + rng.normal(0.0, 0.5 * true.std(), n)
    for transforms in ((), ("SQ", "SQRT", "INV")):
        sec, res = best_of(lambda: s.search(X, y, NAMES, transforms=transforms, folds=5, seed=1))
        m = res.candidates.values.shape[1]
        ref, _ = best_of(lambda: np.corrcoef(np.column_stack([res.candidates.values, y]), rowvar=False))
        label = "+".join(transforms) or "no transform"
        say(f"{n} samples x 6 bands, {label}: {res.candidates.generated} candidates ({m} tested, "
            f"{res.candidates.n_skipped} skipped, {res.candidates.duplicates} duplicates), search + Holm + 5-fold "
            f"CV {sec:.3f} s (goal < {GOAL_S:g} s: {verdict(sec < GOAL_S)}); numpy corrcoef of the same "
            f"{n} x {m + 1} matrix {ref:.3f} s; top {res.rows(1)[0]['name']} r = {res.rows(1)[0]['r']:.3f}, "
            f"CV r = {res.cv_r:.3f}")


if __name__ == "__main__":
    run()
