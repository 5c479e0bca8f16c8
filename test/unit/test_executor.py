"""The block executor (raster/executor.py, issue 12): one declaration, two executors, the same output.

References: the outputs are compared with numpy on the whole arrays (a hand computation of the same formula), and
the local threads executor with a dask LocalCluster of 2 worker processes (bitwise: the pixel functions are
deterministic, and partial results combine in one fixed tree). Worker failures are made by killing a worker
process (SIGKILL), as a crash or the out-of-memory killer would.
"""
from __future__ import annotations

import functools
import os
import signal
import threading
import time

import numpy as np
import pytest
from osgeo import gdal

import blockfuncs
import util
from mining_eco_plugin.raster import executor as ex
from mining_eco_plugin.raster.engine import BandRef, Canceled, RasterError

import distributed  # noqa: F401,E402 - required (setup.sh installs python3-distributed): no skip

H, W = 700, 900          # 3 x 1 blocks of 256 rows: several blocks, a partial last one


def write(path, array, nodata=None):
    return util.write_raster(path, [array], dtype=gdal.GDT_Float32, nodata=nodata, origin=(500000.0, 4000000.0))


@pytest.fixture(scope="module")
def rasters(tmp_path_factory):
    d = tmp_path_factory.mktemp("executor")
    rng = np.random.default_rng(12)
    a = rng.random((H, W)).astype(np.float32) * 1000
    b = rng.random((H, W)).astype(np.float32) * 1000
    a[5:9, 100:120] = -9999.0
    return {"A": write(d / "a.tif", a, -9999.0), "B": write(d / "b.tif", b), "a": a, "b": b, "dir": d}


@pytest.fixture(scope="module")
def cluster():
    config = ex.ExecutorConfig(ex.PROCESSES, workers=2)
    client = ex.dask_client(config)
    yield config, client
    ex.close_clusters()


def ratio_pass(rasters, folder, compute=blockfuncs.ratio_and_sums):
    os.makedirs(folder, exist_ok=True)
    return ex.BlockPass(
        inputs={"A": BandRef(rasters["A"], 1, "A"), "B": BandRef(rasters["B"], 1, "B")},
        compute=compute,
        outputs=(ex.OutputSpec("R", os.path.join(folder, "r.tif")),
                 ex.OutputSpec("CLS", os.path.join(folder, "c.tif"), dtype="uint8", nodata=0)),
        combine=ex.add)


def read(path):
    return gdal.Open(path).ReadAsArray()


def test_tree_reduce_is_one_fixed_tree():
    # ((0 1) (2 3)) (4): the shape of the combination is written down, not left to the order of completion
    assert ex.tree_reduce(["0", "1", "2", "3", "4"], lambda a, b: f"({a} {b})") == "(((0 1) (2 3)) 4)"
    assert ex.tree_reduce([], ex.add) is None
    assert ex.tree_reduce([(1, 2.5)], ex.add) == (1, 2.5)


def test_local_executor_matches_numpy(rasters, tmp_path):
    res = ex.LocalExecutor(2).run(ratio_pass(rasters, tmp_path))
    a, b = rasters["a"].astype(np.float64), rasters["b"].astype(np.float64)
    a[a == -9999.0] = np.nan
    want = ((a - b) / (a + b)).astype(np.float32)
    got = read(res.paths["R"])
    np.testing.assert_allclose(np.where(got == -9999.0, np.nan, got), want, rtol=1e-6)   # float32 arithmetic
    total, count, area = res.partial
    assert count == np.isfinite(want).sum() == H * W - 80
    assert area == pytest.approx(count * 900.0, rel=1e-12)
    a32, b32 = rasters["a"].copy(), rasters["b"]
    a32[a32 == -9999.0] = np.nan
    r32 = (a32 - b32) / (a32 + b32)                 # the block function's float32 arithmetic, on the whole array
    assert total == pytest.approx(np.nansum(r32.astype(np.float64)), abs=1e-9)   # only the order of the sum differs
    assert res.blocks == 3 and res.stats["R"][0].count == count


def test_local_threads_give_the_same_bits_whatever_their_number(rasters, tmp_path):
    one = ex.LocalExecutor(1).run(ratio_pass(rasters, tmp_path / "one"))
    four = ex.LocalExecutor(4).run(ratio_pass(rasters, tmp_path / "four"))
    for key in ("R", "CLS"):
        np.testing.assert_array_equal(read(one.paths[key]), read(four.paths[key]))
    assert one.partial == four.partial


def test_local_cluster_gives_the_same_outputs_and_reductions(rasters, tmp_path, cluster):
    config, client = cluster
    local = ex.LocalExecutor(2).run(ratio_pass(rasters, tmp_path / "local"))
    dask = ex.DaskExecutor(config, client).run(ratio_pass(rasters, tmp_path / "dask"))
    for key in ("R", "CLS"):
        np.testing.assert_array_equal(read(local.paths[key]), read(dask.paths[key]))
    assert dask.partial == local.partial            # the same tree of sums: the same floats
    pids = ex.DaskExecutor(config, client).run(ex.BlockPass(
        inputs={"A": BandRef(rasters["A"])}, compute=blockfuncs.pid, combine=blockfuncs.union,
        block_rows=64)).partial
    assert os.getpid() not in pids                  # computed in the worker processes, not here


def test_a_halo_gives_the_same_moving_window_in_both_executors(rasters, tmp_path, cluster):
    config, client = cluster
    spec = lambda folder: ex.BlockPass(   # noqa: E731
        inputs={"A": BandRef(rasters["A"])}, compute=blockfuncs.box_mean, halo=2,
        outputs=(ex.OutputSpec("M", str(folder / "m.tif")),), block_rows=100)
    (tmp_path / "l").mkdir()
    (tmp_path / "d").mkdir()
    local = read(ex.LocalExecutor(2).run(spec(tmp_path / "l")).paths["M"])
    dask = read(ex.DaskExecutor(config, client).run(spec(tmp_path / "d")).paths["M"])
    np.testing.assert_array_equal(local, dask)
    # hand value: the 5 x 5 mean at an interior pixel, from the whole array (block edges at rows 100, 200 ...)
    a = rasters["a"].astype(np.float64)
    a[a == -9999.0] = np.nan
    assert local[100, 300] == pytest.approx(np.nanmean(a[98:103, 298:303]), rel=1e-6)
    assert local[0, 0] == pytest.approx(np.nanmean(a[0:3, 0:3]), rel=1e-6)   # the halo outside the raster: NaN


def _kill_one_worker_soon(client, delay):
    pids = list(client.run(os.getpid).values())

    def kill():
        time.sleep(delay)
        os.kill(pids[0], signal.SIGKILL)
    t = threading.Thread(target=kill)
    t.start()
    return t


def test_a_worker_killed_mid_run_is_replaced_and_the_output_is_identical(rasters, tmp_path):
    config = ex.ExecutorConfig(ex.PROCESSES, workers=2, retries=3)
    client = ex.dask_client(config)
    slow = functools.partial(blockfuncs.slow_ratio, seconds=0.3)
    want = ex.LocalExecutor(2).run(ratio_pass(rasters, tmp_path / "local", slow))
    spec = ex.BlockPass(**{**ratio_pass(rasters, tmp_path / "dask", slow).__dict__, "block_rows": 32})
    killer = _kill_one_worker_soon(client, 0.8)
    got = ex.DaskExecutor(config, client).run(spec)
    killer.join()
    for key in ("R", "CLS"):
        np.testing.assert_array_equal(read(want.paths[key]), read(got.paths[key]))
    assert got.partial == ex.LocalExecutor(2).run(
        ex.BlockPass(**{**ratio_pass(rasters, tmp_path / "local32").__dict__, "block_rows": 32})).partial


def test_with_no_retries_a_killed_worker_fails_the_run_cleanly(rasters, tmp_path):
    config = ex.ExecutorConfig(ex.PROCESSES, workers=2, retries=0)
    client = ex.dask_client(config)
    folder = tmp_path / "out"
    spec = ex.BlockPass(**{**ratio_pass(rasters, folder, functools.partial(blockfuncs.slow_ratio, seconds=0.3))
                           .__dict__, "block_rows": 32})
    killer = _kill_one_worker_soon(client, 0.8)
    with pytest.raises(RasterError, match="worker died"):
        ex.DaskExecutor(config, client).run(spec)
    killer.join()
    assert os.listdir(folder) == []                 # the writers' temporary files are gone


class _CancelAfter:
    def __init__(self, steps):
        self.steps, self.calls = steps, 0

    def setProgress(self, _p):  # noqa: N802
        self.calls += 1

    def isCanceled(self):  # noqa: N802
        return self.calls >= self.steps


@pytest.mark.parametrize("where", ["threads", "cluster"])
def test_cancel_mid_run_leaves_no_file(rasters, tmp_path, cluster, where):
    config, client = cluster
    folder = tmp_path / "out"
    spec = ex.BlockPass(**{**ratio_pass(rasters, folder, functools.partial(blockfuncs.slow_ratio, seconds=0.05))
                           .__dict__, "block_rows": 32})
    runner = ex.LocalExecutor(2) if where == "threads" else ex.DaskExecutor(config, client)
    started = time.monotonic()
    with pytest.raises(Canceled):
        runner.run(spec, _CancelAfter(3))
    assert time.monotonic() - started < 10
    assert os.listdir(folder) == []


def test_config_from_environment_wins_over_the_setting():
    setting = {"kind": "processes", "workers": 3}
    assert ex.config_from({}, setting) == ex.ExecutorConfig("processes", 3)
    assert ex.config_from({"MINING_ECO_EXECUTOR": "threads", "MINING_ECO_WORKERS": "2"}, setting).kind == "threads"
    c = ex.config_from({"MINING_ECO_EXECUTOR": "dask", "MINING_ECO_DASK_SCHEDULER": "tcp://10.0.0.5:8786"})
    assert (c.kind, c.scheduler) == ("dask", "tcp://10.0.0.5:8786")
    for env, word in (({"MINING_ECO_EXECUTOR": "gpu"}, "MINING_ECO_EXECUTOR"),
                      ({"MINING_ECO_WORKERS": "many"}, "MINING_ECO_WORKERS"),
                      ({"MINING_ECO_WORKERS": "100000"}, "MINING_ECO_WORKERS"),
                      ({"MINING_ECO_EXECUTOR": "dask"}, "MINING_ECO_DASK_SCHEDULER"),
                      ({"MINING_ECO_DASK_RETRIES": "-1"}, "MINING_ECO_DASK_RETRIES")):
        with pytest.raises(ValueError, match=word):
            ex.config_from(env, {})


def test_an_unreachable_scheduler_is_a_clear_error():
    config = ex.ExecutorConfig(ex.DASK, scheduler="tcp://127.0.0.1:9")     # nothing listens on port 9
    with pytest.raises(RasterError, match="cannot connect"):
        ex.dask_client(config)


def test_worker_python_is_this_python_with_gdal_and_dask(tmp_path):
    exe = ex.worker_python(ex.ExecutorConfig())
    assert os.path.basename(exe).startswith("python") and os.access(exe, os.X_OK)
    # a configured interpreter that cannot run the workers is refused, naming the variable (not a hang)
    with pytest.raises(RasterError, match="MINING_ECO_PYTHON"):
        ex.worker_python(ex.ExecutorConfig(python=str(tmp_path / "no-such-python")))
    fake = tmp_path / "python3"
    fake.write_text("#!/bin/sh\necho 'No module named _csv' >&2\nexit 1\n")     # a foreign Python (e.g. a shim)
    fake.chmod(0o755)
    with pytest.raises(RasterError, match="cannot import numpy, GDAL"):
        ex.worker_python(ex.ExecutorConfig(python=str(fake)))


def test_workers_can_write_tiles_to_a_shared_folder(rasters, tmp_path, cluster):
    # MINING_ECO_DASK_TILES: the blocks travel through a shared folder instead of the network; same outputs,
    # and no tile is left behind
    config, client = cluster
    shared = tmp_path / "shared"
    shared.mkdir()
    tiled = ex.ExecutorConfig(ex.PROCESSES, workers=2, tile_folder=str(shared))
    local = ex.LocalExecutor(2).run(ratio_pass(rasters, tmp_path / "local"))
    got = ex.DaskExecutor(tiled, client).run(ratio_pass(rasters, tmp_path / "tiles"))
    for key in ("R", "CLS"):
        np.testing.assert_array_equal(read(local.paths[key]), read(got.paths[key]))
    assert got.partial == local.partial
    assert os.listdir(shared) == []
    assert ex.config_from({"MINING_ECO_DASK_TILES": str(shared)}).tile_folder == str(shared)
    with pytest.raises(ValueError, match="MINING_ECO_DASK_TILES"):
        ex.config_from({"MINING_ECO_DASK_TILES": str(tmp_path / "missing")})


def test_a_script_without_a_main_guard_runs_once(rasters, tmp_path):
    # a user's PyQGIS script has no `if __name__ == "__main__"`: the worker processes must not run it again
    # (multiprocessing's spawn re-imports __main__; with it every worker re-ran the script and the run hung)
    marker = tmp_path / "runs.txt"
    script = tmp_path / "user_script.py"
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    script.write_text(f"""
import sys
sys.path[:0] = [{root!r}, {os.path.join(root, "test", "unit")!r}]
with open({str(marker)!r}, "a") as fh:
    fh.write("run\\n")
import blockfuncs
from mining_eco_plugin.raster import executor as ex
from mining_eco_plugin.raster.engine import BandRef
spec = ex.BlockPass(inputs={{"A": BandRef({rasters["A"]!r}), "B": BandRef({rasters["B"]!r})}},
                    compute=blockfuncs.ratio_and_sums, combine=ex.add)
config = ex.ExecutorConfig(ex.PROCESSES, workers=2)
print(ex.DaskExecutor(config).run(spec).partial[1])
ex.close_clusters()
""")
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split()[-1] == str(H * W - 80)
    assert marker.read_text() == "run\n"
