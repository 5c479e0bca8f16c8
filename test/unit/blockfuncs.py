"""Block functions for the executor tests: module-level (picklable by reference), numpy only, as a dask worker
needs them. Not a test module."""
from __future__ import annotations

import os
import time

import numpy as np


def ratio_and_sums(data, ctx):
    """(a - b) / (a + b) per pixel, and the sum / count / max of the valid results (a partial result)."""
    a, b = data["A"], data["B"]
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (a - b) / (a + b)
    ok = np.isfinite(r)
    area = np.broadcast_to(ctx.row_areas_m2(), r.shape)
    return {"R": r, "CLS": np.where(ok, (r > 0).astype(np.uint8) + 1, 0)}, \
        (float(r[ok].sum(dtype=np.float64)), int(ok.sum()), float(area[ok].sum()))


def box_mean(data, ctx):
    """Mean of the valid cells of a (2 halo + 1)^2 window (a moving window that needs a halo)."""
    a = data["A"]
    h = ctx.halo
    rows, cols = a.shape[0] - 2 * h, a.shape[1] - 2 * h
    total = np.zeros((rows, cols))
    count = np.zeros((rows, cols))
    for dy in range(2 * h + 1):
        for dx in range(2 * h + 1):
            v = a[dy:dy + rows, dx:dx + cols]
            ok = np.isfinite(v)
            total += np.where(ok, v, 0.0)
            count += ok
    with np.errstate(invalid="ignore", divide="ignore"):
        return {"M": np.where(count > 0, total / count, np.nan)}


def slow_ratio(data, ctx, seconds=0.2):
    """ratio_and_sums, slowly (to kill a worker or cancel mid-run)."""
    time.sleep(seconds)
    return ratio_and_sums(data, ctx)


def pid(_data, ctx):
    return {}, {os.getpid()}


def union(a, b):
    return a | b
