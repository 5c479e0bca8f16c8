"""RSEI computes the four components once (pass 1) and keeps them in a scratch file that passes 2 and 3 read.

Checked here through processing.run: the scratch file (a GeoTIFF beside the staged outputs) exists while passes 2
and 3 run, holds the four float32 components of every pixel, and is gone after a successful, a failed and a
cancelled run (nothing left in the output folder); too little disk space is a clear error naming OUTPUT; and the
per-plane arithmetic of the component-raster path (NaN holes, water mask) equals an independent recomputation with
scikit-learn's PCA on every valid pixel.
"""
from __future__ import annotations

import os

import numpy as np
import processing
import pytest
from osgeo import gdal, osr
from qgis.core import QgsProcessingFeedback
from sklearn.decomposition import PCA

from failures import assert_fails_cleanly
from paths import L8
from mining_eco_plugin.algorithms import rsei as rsei_alg
from mining_eco_plugin.raster import engine

BANDS = {"BLUE": 2, "GREEN": 3, "RED": 4, "NIR": 5, "SWIR1": 6, "SWIR2": 7, "THERMAL": 10}
L8_PIXELS = 41 * 41


@pytest.fixture
def out(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def _outputs(folder):
    return {"OUTPUT": str(folder / "rsei.tif"), "OUTPUT_GRADES": str(folder / "grades.tif"),
            "OUTPUT_TABLE": str(folder / "table.csv"), "OUTPUT_REPORT": str(folder / "report.html")}


def _scene(folder):
    p = {"SENSOR": 2, "RADIOMETRY": 1, "MTL_FILE": L8 + "_MTL.txt"}
    p.update({k: f"{L8}_B{b}.TIF" for k, b in BANDS.items()})
    return dict(p, **_outputs(folder))


class Watcher(QgsProcessingFeedback):
    """Lists the output folder and the folders in it (the run's hidden staging folder) each time the algorithm
    announces a pass: {name: (size, (bands, rows, cols, data types) of a scratch raster)}."""

    def __init__(self, folder):
        super().__init__()
        self.folder = folder
        self.seen = {}

    def pushInfo(self, info):  # noqa: N802
        if info.startswith("Pass "):
            listing = {}
            for root, _dirs, names in os.walk(self.folder):
                for n in names:
                    path = os.path.join(root, n)
                    listing[n] = (os.path.getsize(path), _raster_layout(path) if _is_scratch(n) else None)
            self.seen[info[:8]] = listing
        super().pushInfo(info)


def _is_scratch(name):
    return name.endswith(".scratch.tif")


def _raster_layout(path):
    if not os.path.getsize(path):
        return None
    ds = gdal.Open(path)
    types = {gdal.GetDataTypeName(ds.GetRasterBand(b + 1).DataType) for b in range(ds.RasterCount)}
    return ds.RasterCount, ds.RasterYSize, ds.RasterXSize, types


def _scratch(listing):
    return {n: entry for n, entry in listing.items() if _is_scratch(n)}


def test_components_are_kept_in_a_scratch_file_for_passes_2_and_3_and_removed(provider, out):
    """During passes 2 and 3 the run's staging folder in the output folder holds one hidden scratch raster of the 4
    float32 components x 41 x 41 pixels; afterwards only the four outputs (+ their styles) remain."""
    fb = Watcher(out)
    res = processing.run("miningeco:rsei", _scene(out), feedback=fb)
    assert set(fb.seen) == {"Pass 1/3", "Pass 2/3", "Pass 3/3"}
    assert list(_scratch(fb.seen["Pass 1/3"]).values()) == [(0, None)]      # created empty before pass 1
    for key in ("Pass 2/3", "Pass 3/3"):
        scratch = _scratch(fb.seen[key])
        assert [layout for _size, layout in scratch.values()] == [(4, 41, 41, {"Float32"})], fb.seen[key]
        assert next(iter(scratch)).startswith(".rsei-")
    left = sorted(os.listdir(out))
    assert not [n for n in left if n.startswith(".")], left
    assert {"rsei.tif", "grades.tif", "table.csv", "report.html"} <= set(left)
    assert os.path.exists(res["OUTPUT"])


@pytest.mark.parametrize("threshold,start,end", [(10, 0, 55), (56, 55, 65), (70, 65, 97)],
                         ids=["pass1", "pass2", "pass3"])
def test_cancel_in_any_pass_leaves_neither_output_nor_scratch(provider, out, monkeypatch, threshold, start, end):
    """Cancelled from progressChanged in pass 1 (0-55 %), pass 2 (55-65 %) or pass 3 (65-97 %, outputs being
    written), with 8-row blocks so that every pass has several blocks: the folder is empty afterwards."""
    monkeypatch.setattr(engine, "DEFAULT_BLOCK_ROWS", 8)
    fb, seen = QgsProcessingFeedback(), []
    fb.progressChanged.connect(lambda p: seen.append(p) or (p > threshold and fb.cancel()))
    assert_fails_cleanly(lambda: processing.run("miningeco:rsei", _scene(out), feedback=fb), out, "ancel")
    assert fb.isCanceled()
    assert start < max(seen) <= end        # stopped in the intended pass


def _write(path, array, nodata):
    """A float32 GeoTIFF (UTM 32N, 30 m) through the plugin's own writer; NaN is written as ``nodata``."""
    h, w = array.shape
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32632)
    grid = engine.Grid(w, h, (500000.0, 30.0, 0.0, 5600000.0, 0.0, -30.0), srs.ExportToWkt())
    with engine.GeoTiffWriter(str(path), grid, nodata=nodata) as writer:
        writer.write(1, engine.Window(0, 0, w, h), array)
        return writer.commit()


def _component_rasters(folder, h=70, w=90, lst=None):
    """Four correlated component rasters with nodata holes, and an MNDWI raster with a water patch."""
    rng = np.random.default_rng(17)
    eco = np.linspace(0, 1, w)[None, :] + rng.normal(0, 0.15, (h, w))
    comps = np.stack([0.1 + 0.6 * eco, -0.2 + 0.1 * eco + rng.normal(0, 0.02, (h, w)),
                      0.3 - 0.4 * eco + rng.normal(0, 0.05, (h, w)),
                      45 - 15 * eco + rng.normal(0, 2, (h, w))]).astype(np.float32)
    if lst is not None:
        comps[3] = lst
    comps[0][rng.random((h, w)) < 0.04] = -9999.0          # nodata holes in NDVI
    comps[2][rng.random((h, w)) < 0.02] = np.nan           # NaN holes in NDBSI
    mndwi = np.full((h, w), -0.5, dtype=np.float32)
    mndwi[10:20, 30:45] = 0.4                               # water
    folder.mkdir(exist_ok=True)
    names = ("ndvi", "wet", "ndbsi", "lst")
    paths = {n: _write(folder / f"{n}.tif", c, nodata=-9999.0) for n, c in zip(names, comps)}
    paths["mndwi"] = _write(folder / "mndwi.tif", mndwi, nodata=-9999.0)
    return paths, comps, mndwi


def _components_params(paths, folder):
    return {"GREENNESS": paths["ndvi"], "WETNESS": paths["wet"], "DRYNESS": paths["ndbsi"], "HEAT": paths["lst"],
            "MNDWI": paths["mndwi"], "GREENNESS_BAND": 1, "WETNESS_BAND": 1, "DRYNESS_BAND": 1, "HEAT_BAND": 1,
            "MNDWI_BAND": 1, "SAMPLE_SIZE": 100000, **_outputs(folder)}


def test_rseicomponents_equals_sklearn_pca_on_every_valid_pixel(provider, tmp_path, out):
    """RSEI from component rasters (nodata and NaN holes, water masked by MNDWI > 0) equals the formula of
    Xu 2013 / the ningdong seed eqs. 12-13 recomputed here with numpy min/max and scikit-learn's PCA on every
    valid pixel (the sample covers all of them): PC1 oriented so NDVI + WET loadings > 0, rescaled to [0, 1]."""
    paths, comps, mndwi = _component_rasters(tmp_path / "in")
    res = processing.run("miningeco:rseicomponents", _components_params(paths, out))
    x = comps.astype(np.float64)
    x[x == -9999.0] = np.nan
    valid = np.isfinite(x).all(axis=0) & ~(mndwi > 0)
    pixels = x[:, valid].T
    norm = (pixels - pixels.min(axis=0)) / (pixels.max(axis=0) - pixels.min(axis=0))
    pca = PCA(n_components=4).fit(norm)
    axis = pca.components_[0] * np.sign(pca.components_[0][:2].sum())
    pc1 = (norm - norm.mean(axis=0)) @ axis
    ref = (pc1 - pc1.min()) / (pc1.max() - pc1.min())
    got = gdal.Open(res["OUTPUT"]).ReadAsArray()
    np.testing.assert_array_equal(got != -9999.0, valid)
    np.testing.assert_allclose(got[valid], ref, rtol=0, atol=1e-6)
    assert res["PC1_SHARE"] == pytest.approx(pca.explained_variance_ratio_[0], abs=1e-9)
    assert res["MEAN_RSEI"] == pytest.approx(ref.mean(), abs=1e-6)
    assert not [n for n in os.listdir(out) if n.startswith(".")]


def test_failure_after_pass_1_removes_the_scratch_file(provider, tmp_path, out):
    """A constant LST (eq. 12 undefined) is found after pass 1 has written the scratch file: the error names LST
    and the output folder is left empty."""
    paths, _comps, _mndwi = _component_rasters(tmp_path / "in", lst=np.float32(30.0))
    assert_fails_cleanly(lambda: processing.run("miningeco:rseicomponents", _components_params(paths, out)), out,
                         "LST", "constant")


def test_too_little_disk_space_for_the_scratch_file_is_an_error_naming_output(provider, out, monkeypatch):
    """With the scratch estimate raised to 10^12 bytes per pixel (1.7 PB for 41 x 41, more than any disk has, as
    shutil.disk_usage reports it), the run stops before pass 1 with a message naming OUTPUT and the space."""
    monkeypatch.setattr(rsei_alg, "SCRATCH_BYTES_PER_PIXEL", 10 ** 12)
    msg = assert_fails_cleanly(lambda: processing.run("miningeco:rsei", _scene(out)), out, "OUTPUT", "GB free")
    assert f"{L8_PIXELS * 10 ** 12 / 1e9:.2f} GB" in msg
