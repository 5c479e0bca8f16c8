"""Identity cases of the Drivers tools (bench/identity.py): local correlation, the Geodetector's raster mode and
the random-forest contributions' per-pixel mode."""
import csv
import os



def _nc(data, band):
    return os.path.join(os.path.dirname(data.real_landcover()), f"lsat7_2000_{band}.tif")


# -- miningeco:localcorrelation -------------------------------------------------------------------------------------
def _lc_outputs(out):
    return {"OUTPUT_R": f"{out}/r.tif", "OUTPUT_P": f"{out}/p.tif", "OUTPUT_CLASS": f"{out}/class.tif",
            "OUTPUT_TABLE": f"{out}/classes.csv"}


def localcorrelation_nc(data, out):
    """Real rasters (North Carolina Landsat 7, red vs NIR), 7 x 7 windows."""
    return "miningeco:localcorrelation", {"INPUT_X": _nc(data, 30), "INPUT_Y": _nc(data, 40), "WINDOW_SIZE": 7,
                                          "MIN_VALID": 5, "ALPHA": 0.05, **_lc_outputs(out)}


def localcorrelation_resampled(data, out):
    """Y on another grid warped bilinearly onto X; values on a large level (1e5 + 0..1: the shift matters)."""
    x = data.floats("lc_x", shape=(300, 320), seed=11, low=1e5, high=1e5 + 1.0)
    y = data.floats("lc_y", shape=(290, 335), seed=12, nan_every=53)
    return "miningeco:localcorrelation", {"INPUT_X": x, "INPUT_Y": y, "WINDOW_SIZE": 9, "MIN_VALID": 20,
                                          "ALPHA": 0.01, "RESAMPLING": 2, **_lc_outputs(out)}


def localcorrelation_wide(data, out):
    """A window wider than the raster needs (fit_window: the same results)."""
    x = data.floats("lc_small_x", shape=(37, 45), seed=13)
    y = data.floats("lc_small_y", shape=(37, 45), seed=14, nan_every=7)
    return "miningeco:localcorrelation", {"INPUT_X": x, "INPUT_Y": y, "WINDOW_SIZE": 101, "MIN_VALID": 3,
                                          "ALPHA": 0.05, **_lc_outputs(out)}


# -- miningeco:geodetector (raster mode) ----------------------------------------------------------------------------
def _gd_outputs(out):
    return {"OUTPUT_FACTOR": f"{out}/factor.csv", "OUTPUT_INTERACTION": f"{out}/interaction.csv",
            "OUTPUT_RISK": f"{out}/risk.csv", "OUTPUT_ECOLOGICAL": f"{out}/ecological.csv"}


def geodetector_grid(data, out):
    """Real rasters: Y NIR, X blue / SWIR1 / SWIR2, land cover (another CRS: warped by nearest neighbour) as categorical; every 5th row and column."""
    return "miningeco:geodetector", {
        "Y_RASTER": _nc(data, 40), "X_RASTERS": [_nc(data, 10), _nc(data, 50), _nc(data, 70)],
        "CATEGORICAL_RASTERS": [data.real_landcover()], "SAMPLING": 0, "STEP": 5, "RESAMPLING": 1, "METHOD": 2,
        "K": 5,
        **_gd_outputs(out)}


def geodetector_random(data, out):
    """Random pixels; continuous factors warped bilinearly and the class raster by nearest neighbour (two grids)."""
    y = data.floats("gd_y", shape=(400, 450), seed=21)
    x1 = data.floats("gd_x1", shape=(420, 430), seed=22, nan_every=61)
    x2 = data.floats("gd_x2", shape=(400, 450), seed=23, low=5.0, high=50.0)
    c = data.classes("gd_c", shape=(410, 460), k=5, seed=24)
    return "miningeco:geodetector", {
        "Y_RASTER": y, "X_RASTERS": [x1, x2], "CATEGORICAL_RASTERS": [c], "SAMPLING": 1, "N_SAMPLES": 4000,
        "SEED": 7, "RESAMPLING": 2, "METHOD": 1, "K": 4, **_gd_outputs(out)}


# -- miningeco:rfcontribution (per-pixel mode) ----------------------------------------------------------------------
def _rf_inputs(data, k):
    """k driver rasters rf_d0.. (NaN sprinkled) and a sample table of 300 pixels with a response made of them."""
    import numpy as np
    from osgeo import gdal
    names = [f"rf_d{j}" for j in range(k)]
    # 300 rows: two blocks of 256 rows
    paths = [data.floats(n, shape=(300, 150), seed=30 + j, nan_every=89 + j) for j, n in enumerate(names)]
    table = data.path(f"rf_samples_{k}_300.csv")
    if not os.path.exists(table):
        arrays = [gdal.Open(p).ReadAsArray().astype(np.float64) for p in paths]
        for a in arrays:
            a[a == -9999.0] = np.nan
        flat = np.random.default_rng(5).choice(arrays[0].size, 300, replace=False)
        X = np.stack([a.ravel()[flat] for a in arrays], axis=1)
        X = X[np.isfinite(X).all(axis=1)]
        y = 3.0 * X[:, 0] + np.sin(6.0 * X[:, 1]) + (X[:, 2] ** 2 if k > 2 else 0.0) + 0.5 * X[:, -1]
        with open(table, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["y"] + names)
            for yi, row in zip(y, X):
                w.writerow([repr(float(yi))] + [repr(float(v)) for v in row])
        with open(table + "t", "w") as fh:
            fh.write(",".join(["Real"] * (k + 1)))
    return names, paths, table


def rfcontribution_pixels(data, out):
    """Four drivers in three categories: RGB and dominant maps."""
    names, paths, table = _rf_inputs(data, 4)
    cats = {0: "climate", 1: "climate", 2: "soil", 3: "mining"}
    return "miningeco:rfcontribution", {
        "INPUT": table, "Y_FIELD": "y", "CATEGORIES": [c for j, n in enumerate(names) for c in (n, cats[j])],
        "N_TREES": 20, "SEED": 3, "DRIVER_RASTERS": paths,
        "OUTPUT_CATEGORIES": f"{out}/categories.csv", "OUTPUT_DRIVERS": f"{out}/drivers.csv",
        "OUTPUT_RGB": f"{out}/rgb.tif", "OUTPUT_DOMINANT": f"{out}/dominant.tif"}


def rfcontribution_two(data, out):
    """Two categories (the RGB's blue band is 0), training-R2 score, a 50 % threshold."""
    names, paths, table = _rf_inputs(data, 3)
    cats = {0: "a", 1: "b", 2: "b"}
    return "miningeco:rfcontribution", {
        "INPUT": table, "Y_FIELD": "y", "CATEGORIES": [c for j, n in enumerate(names) for c in (n, cats[j])],
        "N_TREES": 15, "SEED": 9, "SCORE": 1, "DOMINANT_THRESHOLD": 50.0, "DRIVER_RASTERS": paths,
        "OUTPUT_CATEGORIES": f"{out}/categories.csv", "OUTPUT_DRIVERS": f"{out}/drivers.csv",
        "OUTPUT_RGB": f"{out}/rgb.tif", "OUTPUT_DOMINANT": f"{out}/dominant.tif"}


CASES = {
    "localcorrelation_nc": localcorrelation_nc,
    "localcorrelation_resampled": localcorrelation_resampled,
    "localcorrelation_wide": localcorrelation_wide,
    "geodetector_grid": geodetector_grid,
    "geodetector_random": geodetector_random,
    "rfcontribution_pixels": rfcontribution_pixels,
    "rfcontribution_two": rfcontribution_two,
}
