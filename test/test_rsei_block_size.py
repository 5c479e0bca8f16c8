"""RSEI through processing.run does not depend on the block size: the statistics pass (min/max,
PCA sample) and the apply passes give the same raster whatever the blocks the engine walks."""
import numpy as np
import processing
from osgeo import gdal

from paths import L8
from mining_eco_plugin.raster import engine

BANDS = {"BLUE": 2, "GREEN": 3, "RED": 4, "NIR": 5, "SWIR1": 6, "SWIR2": 7, "THERMAL": 10}


def run_rsei(out_dir, tag):
    params = {"SENSOR": 2, "RADIOMETRY": 1, "MTL_FILE": L8 + "_MTL.txt", "CLIP_PERCENT": 1.0,
              "SAMPLE_SIZE": 1000, "OUTPUT": str(out_dir / f"rsei_{tag}.tif"),
              "OUTPUT_GRADES": str(out_dir / f"grades_{tag}.tif"), "OUTPUT_TABLE": str(out_dir / f"t_{tag}.csv"),
              "OUTPUT_REPORT": str(out_dir / f"r_{tag}.html")}
    params.update({k: f"{L8}_B{b}.TIF" for k, b in BANDS.items()})
    res = processing.run("miningeco:rsei", params)
    return gdal.Open(res["OUTPUT"]).ReadAsArray(), gdal.Open(res["OUTPUT_GRADES"]).ReadAsArray(), res


def test_rsei_is_identical_for_any_block_size(provider, tmp_path, monkeypatch):
    # SAMPLE_SIZE 1000 < 1681 pixels: the PCA sees a sample, so sampling must be block independent too
    ref, ref_grades, ref_res = run_rsei(tmp_path, "default")
    for rows, cols in [(1, None), (7, 5), (16, 40)]:
        monkeypatch.setattr(engine, "DEFAULT_BLOCK_ROWS", rows)
        monkeypatch.setattr(engine, "DEFAULT_BLOCK_COLS", cols)
        rsei, grades, res = run_rsei(tmp_path, f"{rows}x{cols}")
        np.testing.assert_array_equal(rsei, ref)
        np.testing.assert_array_equal(grades, ref_grades)
        assert res["PC1_SHARE"] == ref_res["PC1_SHARE"]
    assert (ref != -9999).sum() > 1500
    assert 0.5 < ref_res["PC1_SHARE"] <= 1
