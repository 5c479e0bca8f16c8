"""One block executor for every raster tool (issue 12): an algorithm declares a pass, the executor walks it.

A pass (:class:`BlockPass`) declares

* its inputs: band references on one grid (``inputs``; ``resampling`` warps the others onto the first), and the
  halo each block needs (``halo``: moving windows read ``halo`` pixels around each block, NaN outside);
* ``load(stack, ctx)``: reads a block (default :func:`read_floats`: every input as float32, nodata as NaN);
* ``compute(data, ctx)``: a pure function from ``core/`` (numpy only) giving ``{output key: block}`` and a partial
  result (``(blocks, partial)``); blocks are (rows, cols) or (bands, rows, cols);
* ``combine(a, b)``: how two partial results add up (sums, counts, histograms, min / max ...);
* its outputs (:class:`OutputSpec`: path, dtype, nodata, band names).

The executor owns the rest: the order of the blocks, reading ahead, threads, progress, cancel and the writers.
It returns the combined partial result, each output's path and the statistics of its bands. The files are
written where the tool says (staged paths of the run's OutputTransaction, which commits everything together at
the end of the run, algorithms/base.py).

Two executors run the same declaration:

* :class:`LocalExecutor` (the default): a reader thread reads the next block while a pool of threads computes
  (numpy and GDAL release the GIL), the calling thread writes, in block order.
* :class:`DaskExecutor` (``dask.distributed``): each block is a task that opens its inputs by path with GDAL on
  the worker (``/vsitar/``, ``/vsizip/``, ``/vsicurl/`` paths included) and computes there; the blocks come back
  to the client, which writes them. The functions it ships import no QGIS (``core/`` and this package), so a
  worker needs only Python, numpy and GDAL.

Partial results are combined in one fixed tree over the blocks in row-major order (:func:`tree_reduce`), the same
in both executors, so the combined floats do not depend on the executor, the number of threads or the order in
which the blocks finish.

This module imports no QGIS.
"""
from __future__ import annotations

import os
import threading
import time
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .engine import (
    Canceled,
    GeoTiffWriter,
    Grid,
    Progress,
    RasterError,
    RasterStack,
    Window,
    windows,
)

THREADS, PROCESSES, DASK = "threads", "processes", "dask"
KINDS = (THREADS, PROCESSES, DASK)
MAX_WORKERS = 256
MAX_IN_FLIGHT_PER_WORKER = 3      # blocks queued per worker on a cluster: enough to keep it busy, memory bounded


# -- declarations ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OutputSpec:
    """A raster output of a pass. ``nodata`` None: float bands get engine.FLOAT_NODATA, integer bands none."""
    key: str
    path: str
    dtype: str = "float32"
    nodata: float | None = None
    bands: int = 1
    band_names: tuple = ()
    label: str = ""
    metadata: tuple = ()            # (key, value) pairs of the file's GDAL metadata


@dataclass(frozen=True)
class BlockContext:
    """What a block's functions know besides its data: the grid, the window and the pass's halo."""
    grid: Grid
    window: Window
    halo: int = 0

    def row_areas_m2(self) -> np.ndarray:
        """Pixel area (m2) of each row of the window, shape (rows, 1)."""
        return self.grid.row_areas_m2(self.window)


def read_floats(stack: RasterStack, ctx: BlockContext) -> dict:
    """The default ``load``: every input of the stack as float32 with nodata as NaN, grown by the halo."""
    if ctx.halo:
        return {key: stack.read_padded(key, ctx.window, ctx.halo) for key in stack.refs}
    return {key: stack.read(key, ctx.window) for key in stack.refs}


@dataclass(frozen=True)
class BlockPass:
    """One pass over a grid (see the module docstring). ``compute`` and ``load`` must be picklable (module-level
    functions or ``functools.partial`` of them) to run on a cluster."""
    inputs: dict
    compute: Callable
    outputs: tuple = ()
    load: Callable = read_floats
    combine: Callable | None = None
    halo: int = 0
    resampling: str | None = None
    reference: str | None = None
    block_rows: int | None = None
    block_cols: int | None = None


@dataclass
class PassResult:
    paths: dict = field(default_factory=dict)       # output key -> path written
    stats: dict = field(default_factory=dict)       # output key -> [BandStats per band]
    partial: Any = None                             # combined partial result (None without combine)
    grid: Grid | None = None
    blocks: int = 0


# -- reductions -------------------------------------------------------------------------------------------------
def tree_reduce(partials, combine):
    """Combine ``partials`` (in block order) pairwise, level by level: ((p0 p1) (p2 p3)) ((p4 p5) p6) ...
    The same tree for any executor, so the same floats. None for an empty list."""
    items = list(partials)
    if not items:
        return None
    while len(items) > 1:
        nxt = [combine(items[i], items[i + 1]) for i in range(0, len(items) - 1, 2)]
        if len(items) % 2:
            nxt.append(items[-1])
        items = nxt
    return items[0]


def add(a, b):
    """``combine`` for partials that are numbers, arrays or tuples / dicts of them: element-wise sums."""
    if isinstance(a, tuple):
        return tuple(add(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return {k: add(a[k], b[k]) for k in a}
    return a + b


# -- configuration ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExecutorConfig:
    """How raster passes run: ``kind`` threads (local, the default), processes (a dask LocalCluster of
    ``workers`` processes on this machine) or dask (the scheduler at ``scheduler``)."""
    kind: str = THREADS
    workers: int = 0                # 0: as many as the machine has cores (at most 8 threads)
    scheduler: str = ""             # tcp://host:port or tls://host:port
    retries: int | None = None      # per-task retries on a LocalCluster (None: dask's default, 3)
    python: str = ""                # the worker interpreter of a LocalCluster ("" : found, see worker_python)
    security: Any = None            # a distributed.security.Security (None: dask's TLS configuration, if any)
    tile_folder: str = ""           # a folder shared with the workers: they write each block there (raw .npy
                                    # tiles) and the client assembles them, instead of receiving the blocks

    def describe(self) -> str:
        if self.kind == THREADS:
            return f"local threads ({self.thread_count()})"
        if self.kind == PROCESSES:
            return f"a local dask cluster of {self.process_count()} worker processes"
        return f"the dask scheduler at {self.scheduler}"

    def thread_count(self) -> int:
        return self.workers or max(1, min(os.cpu_count() or 1, 8))

    def process_count(self) -> int:
        return self.workers or max(1, os.cpu_count() or 1)


def config_from(env=None, setting: dict | None = None) -> ExecutorConfig:
    """The executor configuration: the environment variables MINING_ECO_EXECUTOR (threads | processes | dask),
    MINING_ECO_WORKERS, MINING_ECO_DASK_SCHEDULER and MINING_ECO_DASK_RETRIES win over ``setting`` (the QGIS
    Processing setting: keys kind, workers, scheduler). ValueError naming the variable for a bad value."""
    env = os.environ if env is None else env
    setting = setting or {}
    kind = (env.get("MINING_ECO_EXECUTOR") or setting.get("kind") or THREADS).strip().lower()
    if kind not in KINDS:
        raise ValueError(f"MINING_ECO_EXECUTOR: {kind!r} is not an executor. Use threads, processes or dask.")
    raw = env.get("MINING_ECO_WORKERS")
    workers = setting.get("workers") or 0
    if raw not in (None, ""):
        try:
            workers = int(raw)
        except ValueError:
            raise ValueError(f"MINING_ECO_WORKERS: {raw!r} is not a whole number of workers.") from None
    if not 0 <= int(workers) <= MAX_WORKERS:
        raise ValueError(f"MINING_ECO_WORKERS: {workers} is outside 0 .. {MAX_WORKERS} (0: one per core).")
    scheduler = (env.get("MINING_ECO_DASK_SCHEDULER") or setting.get("scheduler") or "").strip()
    if kind == DASK and not scheduler:
        raise ValueError("MINING_ECO_DASK_SCHEDULER: the dask executor needs the address of a scheduler you "
                         "control (tcp://host:8786 or tls://host:8786); or use MINING_ECO_EXECUTOR=processes "
                         "for a cluster on this machine.")
    retries = env.get("MINING_ECO_DASK_RETRIES")
    if retries not in (None, ""):
        try:
            retries = int(retries)
        except ValueError:
            raise ValueError(f"MINING_ECO_DASK_RETRIES: {retries!r} is not a whole number.") from None
        if not 0 <= retries <= 100:
            raise ValueError(f"MINING_ECO_DASK_RETRIES: {retries} is outside 0 .. 100.")
    else:
        retries = setting.get("retries")
    tiles = (env.get("MINING_ECO_DASK_TILES") or setting.get("tiles") or "").strip()
    if tiles and not os.path.isdir(tiles):
        raise ValueError(f"MINING_ECO_DASK_TILES: {tiles} is not a folder. Give a folder that the client and every "
                         "worker can read and write (a shared drive), or leave it empty.")
    return ExecutorConfig(kind, int(workers), scheduler, retries, env.get("MINING_ECO_PYTHON", "") or "",
                          tile_folder=tiles)


def executor_for(config: ExecutorConfig):
    if config.kind == THREADS:
        return LocalExecutor(config.thread_count())
    return DaskExecutor(config)


# -- running a pass ---------------------------------------------------------------------------------------------
def _writers(spec: BlockPass, grid: Grid, guard: ExitStack) -> dict:
    out = {}
    for o in spec.outputs:
        if o.path:
            out[o.key] = guard.enter_context(GeoTiffWriter(o.path, grid, o.bands, dtype=o.dtype, nodata=o.nodata,
                                                           band_names=list(o.band_names), label=o.label or o.key,
                                                           metadata=o.metadata))
    return out


def _write(writers: dict, w: Window, blocks: dict):
    for key, writer in writers.items():
        block = blocks[key]
        if block.ndim == 2:
            writer.write(1, w, block)
        else:
            for b in range(block.shape[0]):
                writer.write(b + 1, w, block[b])


def _finish(result: PassResult, writers: dict, partials: list, combine):
    result.stats = {key: writer.stats for key, writer in writers.items()}
    result.paths = {key: writer.commit() for key, writer in writers.items()}
    result.partial = tree_reduce(partials, combine) if combine is not None else None
    return result


def _compute(spec: BlockPass, data, ctx: BlockContext):
    out = spec.compute(data, ctx)
    blocks, partial = out if isinstance(out, tuple) else (out, None)
    return blocks, partial


class LocalExecutor:
    """Threads on this machine: read ahead in one thread (the only one using the datasets), compute in a pool,
    write in the caller's thread in block order."""

    def __init__(self, threads: int = 0):
        self.threads = threads or max(1, min(os.cpu_count() or 1, 8))

    def run(self, spec: BlockPass, feedback=None, start=0.0, end=100.0) -> PassResult:
        with RasterStack(spec.inputs, resampling=spec.resampling, reference=spec.reference) as stack, \
                ExitStack() as guard:
            grid = stack.grid
            todo = list(windows(grid, spec.block_rows, spec.block_cols))
            progress = Progress(feedback, start, end, len(todo))
            progress.check()
            writers = _writers(spec, grid, guard)
            reader = guard.enter_context(ThreadPoolExecutor(1))
            pool = guard.enter_context(ThreadPoolExecutor(self.threads)) if self.threads > 1 else None
            ctxs = [BlockContext(grid, w, spec.halo) for w in todo]

            def load_and_compute(i):
                data = spec.load(stack, ctxs[i])
                if pool is None:
                    return _compute(spec, data, ctxs[i])
                return pool.submit(_compute, spec, data, ctxs[i])

            # reading stays in order in the reader thread; up to `ahead` blocks are read or computed ahead
            ahead = max(2, self.threads + 1)
            queue = [reader.submit(load_and_compute, i) for i in range(min(ahead, len(todo)))]
            partials = []
            try:
                for i, w in enumerate(todo):
                    got = queue.pop(0).result()
                    if i + ahead < len(todo):
                        queue.append(reader.submit(load_and_compute, i + ahead))
                    blocks, partial = got.result() if pool is not None else got
                    _write(writers, w, blocks)
                    partials.append(partial)
                    progress.step()
            finally:
                for f in queue:
                    f.cancel()
            return _finish(PassResult(grid=grid, blocks=len(todo)), writers, partials, spec.combine)


# -- dask -----------------------------------------------------------------------------------------------------------
_WORKER_STACKS: "OrderedDict[str, RasterStack]" = OrderedDict()
_WORKER_LOCK = threading.Lock()


def _worker_block(token: str, spec: BlockPass, ctx: BlockContext):
    """A block on a dask worker: the pass's inputs opened by path (once per worker and pass; GDAL datasets are
    not shared between threads, so a lock serialises reading), loaded and computed there."""
    with _WORKER_LOCK:
        stack = _WORKER_STACKS.get(token)
        if stack is None:
            stack = RasterStack(spec.inputs, resampling=spec.resampling, reference=spec.reference)
            _WORKER_STACKS[token] = stack
            while len(_WORKER_STACKS) > 4:
                _WORKER_STACKS.popitem(last=False)[1].close()
        data = spec.load(stack, ctx)
    blocks, partial = _compute(spec, data, ctx)
    # only the blocks that are written travel back, already in their output type (the writer's own cast: the
    # same values, half the bytes of float64)
    return {o.key: np.asarray(blocks[o.key]).astype(o.dtype, copy=False) for o in spec.outputs if o.path}, partial


def _worker_block_to_tiles(token: str, spec: BlockPass, ctx: BlockContext, folder: str):
    """:func:`_worker_block`, with the blocks written to ``folder`` as .npy tiles: the task returns only their
    paths and the partial result (for clusters whose network is slower than their shared drive)."""
    blocks, partial = _worker_block(token, spec, ctx)
    w = ctx.window
    paths = {}
    for key, block in blocks.items():
        path = os.path.join(folder, f".mining-eco-{token}-{key}-{w.yoff}-{w.xoff}.npy")
        np.save(path, np.ascontiguousarray(block), allow_pickle=False)
        paths[key] = path
    return paths, partial


def _load_tiles(paths: dict) -> dict:
    blocks = {}
    for key, path in paths.items():
        blocks[key] = np.load(path, allow_pickle=False)
        os.remove(path)
    return blocks


def _release(token: str):
    with _WORKER_LOCK:
        stack = _WORKER_STACKS.pop(token, None)
        if stack is not None:
            stack.close()
    return True


def _candidates():
    """Interpreters that are the running Python: sys.executable when it is one, else the python of sys.prefix
    with this version (inside qgis_process and the QGIS desktop, sys.executable is QGIS; a python3 found on the
    PATH may be another Python altogether, e.g. a pyenv shim, whose workers cannot import this Python's
    packages)."""
    import sys
    exe = sys.executable or ""
    if os.path.basename(exe).lower().startswith("python") and os.path.exists(exe):
        yield exe
    ver = f"{sys.version_info[0]}.{sys.version_info[1]}"
    for prefix in dict.fromkeys((sys.prefix, sys.base_prefix, sys.exec_prefix)):
        for name in (f"bin/python{ver}", f"bin/python{sys.version_info[0]}", "python.exe", "python3.exe"):
            path = os.path.join(prefix, name)
            if os.path.exists(path):
                yield path


_CHECKED: dict = {}


def _check_python(path: str, configured: bool) -> str | None:
    """None when ``path`` runs this Python's version with numpy, GDAL and dask.distributed; else why not."""
    import subprocess
    import sys
    if path in _CHECKED:
        return _CHECKED[path]
    probe = ("import sys, numpy, osgeo.gdal, distributed; "
             "print('%d.%d' % sys.version_info[:2])")
    try:
        out = subprocess.run([path, "-c", probe], capture_output=True, text=True, timeout=120,
                             env={k: v for k, v in os.environ.items() if k != "PYTHONHOME"})
    except (OSError, subprocess.TimeoutExpired) as err:
        why = f"cannot be started ({err})"
    else:
        ver = f"{sys.version_info[0]}.{sys.version_info[1]}"
        lines = out.stdout.split()
        if out.returncode != 0:
            why = "cannot import numpy, GDAL (osgeo) and dask.distributed: " + (out.stderr.strip().splitlines()
                                                                              or ["no message"])[-1]
        elif not lines or lines[-1] != ver and not configured:
            why = f"is Python {lines[-1] if lines else '?'}, not {ver}"
        else:
            why = None
    _CHECKED[path] = why
    return why


def worker_python(config: ExecutorConfig) -> str:
    """The interpreter of LocalCluster workers: MINING_ECO_PYTHON when set, else the running Python found by
    :func:`_candidates`; checked to import numpy, GDAL and dask.distributed (RasterError saying what to set)."""
    if config.python:
        why = _check_python(config.python, True)
        if why:
            raise RasterError(f"MINING_ECO_PYTHON: {config.python} {why}. Set MINING_ECO_PYTHON to a Python that "
                              "has them (e.g. /usr/bin/python3 on Debian), or use the local threads executor.")
        return config.python
    tried = []
    for path in dict.fromkeys(_candidates()):
        why = _check_python(path, False)
        if why is None:
            return path
        tried.append(f"{path} {why}")
    raise RasterError("No Python for the dask worker processes was found (" + ("; ".join(tried) or "none") +
                      "). Set MINING_ECO_PYTHON to the Python that has numpy, GDAL's osgeo module and "
                      "dask.distributed (e.g. /usr/bin/python3), or use the local threads executor.")


_CLUSTERS: dict = {}
_CLUSTER_LOCK = threading.Lock()


def dask_client(config: ExecutorConfig):
    """A distributed.Client for ``config``: a LocalCluster kept for the QGIS session (one per worker count and
    retry setting), or a connection to the scheduler. RasterError saying how to install dask without it."""
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError:
        raise RasterError("The processes and dask executors need dask.distributed, which this Python lacks. "
                          "Install it (Debian: apt install python3-distributed; or pip install distributed into "
                          "QGIS's Python), or choose the local threads executor.") from None
    if config.kind == DASK:
        try:
            return Client(config.scheduler, security=config.security, timeout="20s", set_as_default=False)
        except (OSError, TimeoutError) as err:
            raise RasterError(f"MINING_ECO_DASK_SCHEDULER: cannot connect to the dask scheduler at "
                              f"{config.scheduler} ({err}). Check the address and that the scheduler runs.") from None
    key = (config.process_count(), config.retries, worker_python(config))
    with _CLUSTER_LOCK:
        hit = _CLUSTERS.get(key)
        if hit is not None and hit[1].status not in ("closed", "closing"):
            return hit[1]
        overrides = {}
        if config.retries is not None:
            overrides["distributed.scheduler.allowed-failures"] = config.retries
        # the scheduler runs in this process; each worker is a `dask worker` process (with its own nanny, which
        # restarts it if it dies) started with the worker Python. Not multiprocessing's spawn: it would start
        # sys.executable (QGIS inside QGIS) and re-run a user's PyQGIS script (the __main__ module) in every worker
        with dask.config.set(overrides):
            cluster = LocalCluster(n_workers=0, processes=False, protocol="tcp", host="127.0.0.1",
                                   dashboard_address=None, silence_logs=40)
        client = Client(cluster, set_as_default=False)
        procs = [_start_worker(key[2], cluster.scheduler_address, i) for i in range(key[0])]
        try:
            client.wait_for_workers(key[0], timeout=120)
        except Exception as err:  # noqa: BLE001 - workers that did not come up: say which Python was used
            _stop(cluster, client, procs)
            raise RasterError(f"The {key[0]} dask worker processes did not start ({type(err).__name__}) with the Python "
                              f"{key[2]}. Set MINING_ECO_PYTHON to a Python with numpy, GDAL and dask.distributed, "
                              "or use the local threads executor.") from None
        _CLUSTERS[key] = (cluster, client, procs)
        return client


def _start_worker(python: str, address: str, index: int):
    """A `dask worker` process (nanny + one single-threaded worker) for the scheduler at ``address``. Its Python
    path is this process's, so the workers import the same plugin (and nothing from __main__)."""
    import subprocess
    import sys
    env = {k: v for k, v in os.environ.items() if k != "PYTHONHOME"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p and os.path.isdir(p))
    cmd = [python, "-m", "distributed.cli.dask_worker", address, "--nworkers", "1", "--nthreads", "1",
           "--no-dashboard", "--memory-limit", "0", "--name", f"mining-eco-{index}", "--death-timeout", "60"]
    return subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def _stop(cluster, client, procs):
    for action in (client.close, cluster.close):
        try:
            action()
        except Exception:  # noqa: BLE001 - closing a broken cluster must not fail the caller
            pass
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except Exception:  # noqa: BLE001 - a worker that does not stop is killed
            proc.kill()


def close_clusters():
    """Close the LocalClusters of this session (at plugin unload and in tests)."""
    with _CLUSTER_LOCK:
        for cluster, client, procs in _CLUSTERS.values():
            _stop(cluster, client, procs)
        _CLUSTERS.clear()


class DaskExecutor:
    """Blocks as dask tasks; the client writes the blocks as they come back, in block order."""

    def __init__(self, config: ExecutorConfig, client=None):
        self.config = config
        self._client = client

    @property
    def client(self):
        if self._client is None:
            self._client = dask_client(self.config)
        return self._client

    def run(self, spec: BlockPass, feedback=None, start=0.0, end=100.0) -> PassResult:
        client = self.client
        # the grid and the input checks on the client first: a bad input is refused before any task runs
        with RasterStack(spec.inputs, resampling=spec.resampling, reference=spec.reference) as stack:
            grid = stack.grid
        todo = list(windows(grid, spec.block_rows, spec.block_cols))
        progress = Progress(feedback, start, end, len(todo))
        progress.check()
        token = uuid.uuid4().hex
        tiles = self.config.tile_folder
        workers = max(1, len(client.scheduler_info().get("workers", {})) or 1)
        limit = workers * MAX_IN_FLIGHT_PER_WORKER
        spec_future = client.scatter(spec, broadcast=True, hash=False)
        pending, done, partials = {}, {}, [None] * len(todo)
        nxt = written = 0
        with ExitStack() as guard:
            writers = _writers(spec, grid, guard)
            try:
                while written < len(todo):
                    while nxt < len(todo) and len(pending) + len(done) < limit:
                        ctx = BlockContext(grid, todo[nxt], spec.halo)
                        if tiles:
                            f = client.submit(_worker_block_to_tiles, token, spec_future, ctx, tiles, pure=False,
                                              key=f"mining-eco-{token}-{nxt}")
                        else:
                            f = client.submit(_worker_block, token, spec_future, ctx, pure=False,
                                              key=f"mining-eco-{token}-{nxt}")
                        pending[f] = nxt
                        nxt += 1
                    if written not in done:
                        finished = [f for f in pending if f.done()]
                        for f in finished:
                            done[pending.pop(f)] = f
                        if not finished:
                            time.sleep(0.01)
                        progress.check()
                        continue
                    f = done.pop(written)
                    try:
                        blocks, partial = f.result()
                    except Exception as err:  # noqa: BLE001 - a task that failed for good: the run fails cleanly
                        raise _task_error(err) from None
                    if tiles:
                        blocks = _load_tiles(blocks)
                    _write(writers, todo[written], blocks)
                    partials[written] = partial
                    written += 1
                    progress.step()
            except BaseException:
                client.cancel(list(pending) + list(done.values()))
                if tiles:       # tiles of blocks that finished but were not assembled
                    import glob
                    for path in glob.glob(os.path.join(tiles, f".mining-eco-{token}-*.npy")):
                        try:
                            os.remove(path)
                        except OSError:
                            pass
                raise
            finally:
                try:
                    client.run(_release, token)
                except Exception:  # noqa: BLE001 - workers that are gone hold nothing
                    pass
            return _finish(PassResult(grid=grid, blocks=len(todo)), writers, partials, spec.combine)


def _task_error(err: BaseException) -> Exception:
    if isinstance(err, (RasterError, ValueError)):
        return err
    name = type(err).__name__
    if name == "KilledWorker":
        return RasterError("A dask worker died while computing a block, and the task's retries were used up "
                           f"({err}). Nothing was written. Check the workers' memory (a worker that runs out of "
                           "memory is killed), or run again.")
    if isinstance(err, Canceled) or name == "CancelledError":
        return Canceled()
    return RasterError(f"A block failed on a dask worker: {name}: {err}")


def run_pass(spec: BlockPass, feedback=None, start=0.0, end=100.0, config: ExecutorConfig | None = None) -> PassResult:
    """Run one pass with the configured executor (threads unless ``config`` or the environment say otherwise)."""
    return executor_for(config or config_from()).run(spec, feedback, start, end)

