"""Identity cases of the RSEI tools (bench/identity.py).

RSEI from a scene: the real Level-1 Landsat 8 scene of test/data (41 x 41 px, one block) with its MTL, the water
mask and a PCA sample smaller than the scene; and the bench's synthetic Level-2 scene (600 x 600 px, three blocks)
with a band mapping, percentile clipping and a sample. RSEI from components: generated component rasters with
nodata and NaN holes (700 x 650 px, three blocks), with an MNDWI water mask on a projected grid, and without it on a
geographic grid (grade areas vary by row) with clipping.
"""

MAPPING = "B=1,G=2,R=3,NIR=4,SWIR1=5,SWIR2=6,T=7"


def _outputs(out):
    return {"OUTPUT": f"{out}/rsei.tif", "OUTPUT_GRADES": f"{out}/grades.tif", "OUTPUT_TABLE": f"{out}/table.csv",
            "OUTPUT_REPORT": f"{out}/report.html"}


def rsei_l8_water(data, out):
    """Level-1 DN + MTL, water masked by MNDWI > 0.1, a PCA sample of about 1000 of the 1681 pixels."""
    return "miningeco:rsei", {**data.scene_params("L8"), "WATER_MASK": True, "MNDWI_THRESHOLD": 0.1,
                              "SAMPLE_SIZE": 1000, "SEED": 7, **_outputs(out)}


def rsei_l2_bench(data, out):
    """The bench's Level-2 scene (600 x 600, fill corners, water) with a band mapping, 1 % clipping, no water mask,
    a PCA sample of 20000 pixels; several blocks."""
    return "miningeco:rsei", {"SENSOR": 2, "RADIOMETRY": 0, "SCENE": data.bench_scene(600), "BAND_MAPPING": MAPPING,
                              "WATER_MASK": False, "CLIP_PERCENT": 1.0, "SAMPLE_SIZE": 20000, **_outputs(out)}


def _components(data, tag, epsg, pixel, origin):
    """Four correlated component rasters with nodata (-9999) and NaN holes and an MNDWI raster with water."""
    import os

    import numpy as np
    from osgeo import gdal
    names = ("ndvi", "wet", "ndbsi", "lst", "mndwi")
    paths = {n: data.path(f"rsei_{tag}_{n}.tif") for n in names}
    if all(os.path.exists(p) for p in paths.values()):
        return paths
    h, w = 700, 650
    rng = np.random.default_rng(12)
    eco = np.linspace(0, 1, w)[None, :] + 0.3 * np.sin(np.linspace(0, 9, h))[:, None] + rng.normal(0, 0.15, (h, w))
    comps = [0.1 + 0.6 * eco, -0.2 + 0.1 * eco + rng.normal(0, 0.02, (h, w)),
             0.3 - 0.4 * eco + rng.normal(0, 0.05, (h, w)), 45 - 15 * eco + rng.normal(0, 2, (h, w))]
    comps = [c.astype(np.float32) for c in comps]
    comps[0][rng.random((h, w)) < 0.03] = -9999.0
    comps[2][rng.random((h, w)) < 0.02] = np.nan
    comps[3][:40, :60] = -9999.0
    mndwi = np.full((h, w), -0.4, dtype=np.float32)
    mndwi[300:340, 100:220] = 0.5
    mndwi[rng.random((h, w)) < 0.01] = -9999.0
    gt = (origin[0], pixel, 0.0, origin[1], 0.0, -pixel)
    for name, array in zip(names, comps + [mndwi]):
        data.util.write_raster(paths[name], [array], dtype=gdal.GDT_Float32, nodata=-9999.0, epsg=epsg,
                               geotransform=gt)
    return paths


def _components_params(paths):
    return {"GREENNESS": paths["ndvi"], "WETNESS": paths["wet"], "DRYNESS": paths["ndbsi"], "HEAT": paths["lst"],
            "GREENNESS_BAND": 1, "WETNESS_BAND": 1, "DRYNESS_BAND": 1, "HEAT_BAND": 1}


def rseicomponents_water(data, out):
    """Component rasters on UTM 49N (30 m) with the MNDWI water mask; a sample of 50000 of 455000 pixels."""
    paths = _components(data, "utm", 32649, 30.0, (300000.0, 4200000.0))
    return "miningeco:rseicomponents", {**_components_params(paths), "MNDWI": paths["mndwi"], "MNDWI_BAND": 1,
                                        "MNDWI_THRESHOLD": 0.0, "SAMPLE_SIZE": 50000, **_outputs(out)}


def rseicomponents_geographic(data, out):
    """Component rasters on WGS 84 degrees (0.01 deg, 40-47 N: pixel areas vary by row), no water mask, 2 %
    clipping, every pixel in the sample."""
    paths = _components(data, "wgs84", 4326, 0.01, (100.0, 47.0))
    return "miningeco:rseicomponents", {**_components_params(paths), "CLIP_PERCENT": 2.0, "SAMPLE_SIZE": 1000000,
                                        **_outputs(out)}


CASES = {"rsei_l8_water": rsei_l8_water, "rsei_l2_bench": rsei_l2_bench, "rseicomponents_water": rseicomponents_water,
         "rseicomponents_geographic": rseicomponents_geographic}
