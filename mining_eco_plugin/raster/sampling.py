"""Pixel samples of rasters on one grid: a regular grid (every STEP-th pixel) or N seeded random pixels.

The statistics pass of a global method (e.g. the Geodetector on rasters): the sampled pixels are
fixed first, then the engine's windows (blocks) are walked and each window reads only the rectangle
that spans its sampled pixels (or only the rows holding them, when those touch far fewer of the file's
blocks, e.g. a sparse sample of a striped GeoTIFF); a window without one is not read at all, so a sparse
sample reads a small part of the rasters and memory follows the sample, never the raster. Values are
float64 in each band's own precision (no float32 round trip) with nodata and NaN as NaN; pixels that are
NaN in any input are dropped and counted per input. Samples come out in row-major pixel order, so the
result does not depend on the block size. No QGIS.

Two ways to run it: :func:`sample_stack` on open RasterStacks, or :func:`sample_pass` as a pass of the block
executor (raster/executor.py: each window's picks are its partial result, :func:`gather` builds the sample).

* Regular grid: rows 0, STEP, 2 STEP, ... and columns 0, STEP, 2 STEP, ... (every STEP-th row and
  column, starting at the top-left pixel).
* Random: ``numpy.random.default_rng(seed).choice(width * height, n, replace=False)`` gives the
  row-major (flat) pixel indices: n distinct pixels, uniform over the grid, the same for a seed.
  numpy builds a permutation of every pixel index for that when n > pixels / 50 (8 bytes a pixel:
  800 MB for 10^8 pixels); on grids of more than DENSE_CHUNK pixels such dense samples are drawn chunk
  by chunk instead: the counts per chunk of DENSE_CHUNK consecutive pixels from the multivariate
  hypergeometric distribution (exactly the counts of a uniform draw without replacement), then that
  many distinct pixels in each chunk with ``choice`` -- still n distinct pixels, uniform, the same
  for a seed, with memory of one chunk beside the sample itself.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import numpy as np

from .engine import Grid, Progress, RasterError, RasterStack, Window, prefetched, windows
from .executor import BlockPass

SCHEMES = ("grid", "random")
DENSE_CHUNK = 1 << 22   # pixels per chunk of a dense random draw (32 MB of int64 indices)


@dataclass
class PixelSample:
    """The kept samples: grid ``rows`` / ``cols`` and ``values`` (key -> float64 array, same order);
    ``drawn`` pixels were sampled, ``nodata`` counts per key the drawn pixels that are nodata there."""
    rows: np.ndarray
    cols: np.ndarray
    values: dict
    drawn: int
    nodata: dict

    @property
    def size(self):
        return int(self.rows.size)

    @property
    def dropped(self):
        return self.drawn - self.size


def window_picks(grid: Grid, w: Window, step: int | None = None, flat: np.ndarray | None = None):
    """(rows, cols, cross) of the sampled pixels in window ``w``, as offsets in it: the regular grid of ``step``
    (rows and columns that are multiples of it; cross: the sample is their cross product), or the sorted flat
    indices ``flat`` inside ``w`` (cross False: one pixel per row / column pair)."""
    if flat is None:
        rows = np.arange(-(-w.yoff // step) * step, w.yoff + w.ysize, step, dtype=np.int64) - w.yoff
        cols = np.arange(-(-w.xoff // step) * step, w.xoff + w.xsize, step, dtype=np.int64) - w.xoff
        return rows, cols, True
    width = grid.width
    lo, hi = np.searchsorted(flat, [w.yoff * width, (w.yoff + w.ysize) * width])
    part = flat[lo:hi]
    rows, cols = part // width, part % width
    inside = (cols >= w.xoff) & (cols < w.xoff + w.xsize)
    return rows[inside] - w.yoff, cols[inside] - w.xoff, False


def regular_picks(grid: Grid, step: int):
    """Per engine window: (window, rows, cols, True) with the in-window rows and columns that are
    multiples of ``step`` (the sample is their cross product)."""
    for w in windows(grid):
        yield (w, *window_picks(grid, w, step=step))


def random_pixels(grid: Grid, n: int, seed: int) -> np.ndarray:
    """Sorted flat (row-major) indices of ``n`` distinct random pixels of ``grid`` (see module doc)."""
    total = grid.width * grid.height
    if n < 1:
        raise RasterError(f"N_SAMPLES: give at least 1 pixel, got {n}.")
    if n > total:
        raise RasterError(f"N_SAMPLES: {n} pixels asked, but the grid has only {grid.width} x {grid.height} = "
                          f"{total}. Ask for fewer, or sample every pixel with the regular grid and STEP 1.")
    rng = np.random.default_rng(seed)
    if total <= DENSE_CHUNK or n * 50 <= total:
        return np.sort(rng.choice(total, size=n, replace=False, shuffle=False).astype(np.int64))
    starts = np.arange(0, total, DENSE_CHUNK, dtype=np.int64)
    sizes = np.minimum(DENSE_CHUNK, total - starts)
    counts = rng.multivariate_hypergeometric(sizes, n)
    out = np.empty(n, dtype=np.int64)
    pos = 0
    for start, size, count in zip(starts, sizes, counts):
        part = np.sort(rng.choice(int(size), size=int(count), replace=False, shuffle=False))
        out[pos:pos + count] = part + start
        pos += count
    return out


def random_picks(grid: Grid, flat: np.ndarray):
    """Per engine window: (window, rows, cols, False) of the sorted flat indices inside it."""
    for w in windows(grid):
        yield (w, *window_picks(grid, w, flat=flat))


def read_float64(stack: RasterStack, key, w: Window) -> np.ndarray:
    """Window ``w`` of band ``key`` as float64 in the band's own precision, nodata and NaN as NaN."""
    raw = stack.read_raw(key, w)
    out = raw.astype(np.float64)
    nd = stack.nodata(key)
    if nd is not None and not math.isnan(nd):
        out[raw == (raw.dtype.type(nd) if raw.dtype.kind == "f" else nd)] = np.nan
    return out


def _block_rows(stack, key):
    """Rows per block of the file behind band ``key`` (1 for a striped GeoTIFF, 256 for a tiled one)."""
    try:
        return stack.file_block_size(key)[1]
    except RuntimeError:
        return 1


def _read_picks(stack, key, w, rows, cols, cross, block_rows):
    """Values of band ``key`` at the picks of window ``w`` (rows sorted; ``cross``: every row x every column).

    One read of the rectangle spanning the picks, or, when the rows that hold picks touch less than half of
    the file's blocks in that rectangle (rows further apart than the blocks are high, e.g. a sparse sample of
    a striped GeoTIFF), one read per such row spanning its picks: the blocks in between are never read."""
    r0 = int(rows[0])
    height = int(rows[-1]) - r0 + 1
    if cross:
        c0 = int(cols.min())
        width = int(cols.max()) - c0 + 1
        if 2 * rows.size * block_rows < height:
            return np.concatenate([read_float64(stack, key, Window(w.xoff + c0, w.yoff + int(r), width, 1))[
                0, cols - c0] for r in rows])
        box = Window(w.xoff + c0, w.yoff + r0, width, height)
        return read_float64(stack, key, box)[np.ix_(rows - r0, cols - c0)].ravel()
    starts = np.concatenate([[0], np.flatnonzero(np.diff(rows)) + 1])
    if 2 * starts.size * block_rows < height:
        out = []
        for cs, r in zip(np.split(cols, starts[1:]), rows[starts]):   # cols ascend within a row
            c0 = int(cs[0])
            row = Window(w.xoff + c0, w.yoff + int(r), int(cs[-1]) - c0 + 1, 1)
            out.append(read_float64(stack, key, row)[0, cs - c0])
        return np.concatenate(out)
    c0 = int(cols.min())
    box = Window(w.xoff + c0, w.yoff + r0, int(cols.max()) - c0 + 1, height)
    return read_float64(stack, key, box)[rows - r0, cols - c0]


def _read_window(sources, block_rows, pick):
    """(grid rows, grid cols, [values per key of ``sources``]) of the picks of one window, or None when the
    window holds none (nothing is read)."""
    w, rows, cols, cross = pick
    if rows.size == 0 or cols.size == 0:
        return None
    values = [_read_picks(stack, k, w, rows, cols, cross, block_rows[k]) for k, stack in sources.items()]
    if cross:
        rr, cc = np.meshgrid(rows + w.yoff, cols + w.xoff, indexing="ij")
        return rr.ravel(), cc.ravel(), values
    return rows + w.yoff, cols + w.xoff, values


def _load(sources):
    block_rows = {k: _block_rows(stack, k) for k, stack in sources.items()}
    return lambda pick: _read_window(sources, block_rows, pick)


def _sources(stack_or_sources, keys=None):
    """{key: stack}: every key of ``keys`` read from one stack, or a given {key: stack} (several stacks on
    one grid, e.g. continuous inputs warped bilinearly and class rasters by nearest neighbour)."""
    if isinstance(stack_or_sources, dict):
        sources = dict(stack_or_sources)
    else:
        sources = {k: stack_or_sources for k in (stack_or_sources.refs if keys is None else keys)}
    if not sources:
        raise RasterError("No raster input was given.")
    grids = {id(s): s.grid for s in sources.values()}
    first = next(iter(grids.values()))
    if any(g != first for g in grids.values()):
        raise RasterError("the rasters to sample are not on one grid.")
    return sources, first


def sample_pixels(sources, picks, feedback=None, start=0.0, end=100.0) -> PixelSample:
    """Read the pixels of ``picks`` (from :func:`regular_picks` / :func:`random_picks`) of every band of
    ``sources`` ({key: RasterStack holding key}, all on one grid); drop those that are NaN in any band.
    Progress per window; cancel raises Canceled."""
    sources, grid = _sources(sources)
    keys = list(sources)
    progress = Progress(feedback, start, end, sum(1 for _ in windows(grid)))
    progress.check()
    got = []
    for _pick, part in prefetched(picks, _load(sources)):
        if part is not None:
            got.append(part)
        progress.step()
    return gather(grid, keys, got)


def gather(grid: Grid, keys, parts) -> PixelSample:
    """The PixelSample of the windows' ``parts`` ((grid rows, grid cols, [values per key of ``keys``]), windows
    without a pick left out): row-major pixel order, pixels NaN in any band dropped and counted per key."""
    rows = np.concatenate([p[0] for p in parts]) if parts else np.empty(0, np.int64)
    cols = np.concatenate([p[1] for p in parts]) if parts else np.empty(0, np.int64)
    values = [np.concatenate([p[2][i] for p in parts]) if parts else np.empty(0) for i in range(len(keys))]
    order = np.argsort(rows * grid.width + cols, kind="stable")
    bad = [np.isnan(v) for v in values]
    order = order[~np.logical_or.reduce(bad)[order]]
    return PixelSample(rows[order], cols[order], {k: v[order] for k, v in zip(keys, values)}, int(rows.size),
                       {k: int(b.sum()) for k, b in zip(keys, bad)})


def sample_stack(stack, keys=None, scheme="grid", step=1, n=1000, seed=0, feedback=None, start=0.0,
                 end=100.0) -> PixelSample:
    """:func:`sample_pixels` on the regular grid (``step``) or at ``n`` random pixels (``seed``).
    ``stack``: a RasterStack (``keys``: its bands to read, all by default) or {key: RasterStack}."""
    sources, grid = _sources(stack, keys)
    where = pick_rule(grid, scheme, step, n, seed)
    picks = regular_picks(grid, where["step"]) if where["flat"] is None else random_picks(grid, where["flat"])
    return sample_pixels(sources, picks, feedback, start, end)


def pick_rule(grid: Grid, scheme="grid", step=1, n=1000, seed=0) -> dict:
    """{"step": .., "flat": ..} of the pixels to sample (see :func:`window_picks`): the regular grid of
    ``step``, or the sorted flat indices of ``n`` random pixels (``seed``). RasterError naming the parameter."""
    if scheme == "grid":
        if step < 1:
            raise RasterError(f"STEP: the sampling step must be at least 1 pixel, got {step}.")
        return {"step": int(step), "flat": None}
    if scheme == "random":
        return {"step": None, "flat": random_pixels(grid, n, seed)}
    raise RasterError(f"unknown sampling scheme {scheme!r}; use one of {', '.join(SCHEMES)}.")


# -- the sample as a pass of the block executor (raster/executor.py) --------------------------------------------------
def load_picks(stack: RasterStack, ctx, keys, step=None, flat=None):
    """``BlockPass.load``: the sampled pixels of bands ``keys`` in the block's window (see :func:`_read_window`;
    None, reading nothing, when the window holds none)."""
    pick = (ctx.window, *window_picks(ctx.grid, ctx.window, step, flat))
    return _read_window({k: stack for k in keys}, {k: _block_rows(stack, k) for k in keys}, pick)


def picked(data, ctx):
    """``BlockPass.compute``: no raster output; the window's picks as the partial result (a list of them)."""
    return {}, ([] if data is None else [data])


def joined(a, b):
    """``BlockPass.combine``: the windows' picks in block order."""
    return a + b


def sample_pass(inputs: dict, keys, rule: dict, resampling=None):
    """A BlockPass reading the pixels of ``rule`` (:func:`pick_rule`) of bands ``keys`` of ``inputs``; only the
    blocks holding sampled pixels are read. Its combined partial result is the ``parts`` of :func:`gather`."""
    return BlockPass(inputs=dict(inputs), compute=picked, combine=joined, resampling=resampling,
                     load=partial(load_picks, keys=tuple(keys), step=rule["step"], flat=rule["flat"]))


def merge_parts(*passes):
    """The parts of several sample passes over the same picks (same windows, same order; e.g. continuous inputs
    warped bilinearly, class rasters by nearest neighbour) as one: each window's values of every pass."""
    return [(group[0][0], group[0][1], [v for part in group for v in part[2]]) for group in zip(*passes)]
