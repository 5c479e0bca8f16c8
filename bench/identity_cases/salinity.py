"""Identity cases of the salinity and productivity tools (bench/identity.py): applymodel and casanpp."""
import os

FEATURES = ("NDVI", "SI1", "S3")
MONTHS = 12
SHAPE = (600, 110)   # three blocks of 256 rows


def _model(data, kind):
    """A model file trained by miningeco:trainmodel on a generated sample table (once, kept with the data)."""
    path = data.path(f"salinity_{kind}.model")
    if os.path.exists(path):
        return path
    import numpy as np
    import processing
    rng = np.random.default_rng(7)
    X = rng.random((60, len(FEATURES)))
    y = 6 * X[:, 0] - 3 * X[:, 1] ** 2 + 2 * X[:, 2] + 1.5 + rng.normal(0, 0.1, 60)
    table = data.path(f"salinity_samples_{kind}.csv")
    with open(table, "w") as fh:
        fh.write(",".join(FEATURES + ("salt",)) + "\n")
        for row, t in zip(X, y):
            fh.write(",".join(f"{v:.6f}" for v in (*row, t)) + "\n")
    with open(table + "t", "w") as fh:          # the .csvt: every column is a real
        fh.write(",".join(['"Real"'] * (len(FEATURES) + 1)) + "\n")
    processing.run("miningeco:trainmodel", {
        "INPUT": table, "TARGET": "salt", "SELECTED_FIELDS": ",".join(FEATURES),
        "MODEL": ["rf", "svr", "mlp", "boosting", "plsr", "stacking"].index(kind), "OUTPUT_MODEL": path,
        "OUTPUT_TABLE": "TEMPORARY_OUTPUT", "OUTPUT_SCATTER": None, "OUTPUT_REPORT": None})
    return path


def _features(data):
    """Single-band rasters named after the features (ndvi.tif, ...), NaN holes."""
    import shutil
    folder = data.path("salinity_features")
    os.makedirs(folder, exist_ok=True)
    out = []
    for i, name in enumerate(FEATURES):
        path = os.path.join(folder, f"{name.lower()}.tif")
        if not os.path.exists(path):
            shutil.copyfile(data.floats(f"feature_{name.lower()}", shape=SHAPE, seed=31 + i, nan_every=89 + 4 * i),
                            path)
        out.append(path)
    return out


def applymodel_rf(data, out):
    """Random forest on single-band rasters named after the features (NaN holes), grades and area table. N_JOBS 1:
    joblib's threads on a loaded machine take seconds (and the tree sums are then added in any order)."""
    return "miningeco:applymodel", {
        "MODEL_FILE": _model(data, "rf"), "RASTERS": _features(data), "N_JOBS": 1, "OUTPUT": f"{out}/predicted.tif",
        "OUTPUT_GRADES": f"{out}/grades.tif", "OUTPUT_TABLE": f"{out}/areas.csv"}


def applymodel_plsr_stack(data, out):
    """PLSR on one multi-band raster (band descriptions, features in another order), a custom grade table, no
    grade raster."""
    import numpy as np
    from osgeo import gdal
    path = data.path("feature_stack.tif")
    if not os.path.exists(path):
        bands = []
        for name in ("S3", "NDVI", "SI1"):
            ds = gdal.Open(data.floats(f"feature_{name.lower()}", shape=SHAPE,
                                       seed=31 + FEATURES.index(name), nan_every=89 + 4 * FEATURES.index(name)))
            a = ds.GetRasterBand(1).ReadAsArray().astype(np.float32)
            a[a == -9999.0] = np.nan
            bands.append(a)
        bands[0][40:60, 100:130] = np.nan
        data.util.write_raster(path, bands, names=["S3", "NDVI", "SI1"], dtype=gdal.GDT_Float32, nodata=-9999.0)
    return "miningeco:applymodel", {
        "MODEL_FILE": _model(data, "plsr"), "RASTERS": [path], "N_JOBS": 1,
        "GRADE_TABLE": ["2", "low", "3.5", "mid", "", "high"], "OUTPUT": f"{out}/predicted.tif",
        "OUTPUT_GRADES": None, "OUTPUT_TABLE": f"{out}/areas.csv"}


def _months(data, name, low, high, shape=SHAPE, pixel=30.0, nan_every=0):
    """A 12-band float32 raster (band = month), a seasonal cycle plus noise; NaN (nodata) at a few pixels."""
    import numpy as np
    from osgeo import gdal
    path = data.path(f"casa_{name}_{shape[0]}x{shape[1]}.tif")
    if not os.path.exists(path):
        rng = np.random.default_rng(sum(map(ord, name)) + shape[0])
        bands = []
        for k in range(MONTHS):
            season = 0.5 - 0.5 * np.cos(2 * np.pi * k / MONTHS)
            a = (low + (high - low) * (0.7 * season + 0.3 * rng.random(shape))).astype(np.float32)
            if nan_every:
                a.ravel()[k::nan_every] = np.nan
            bands.append(a)
        data.util.write_raster(path, bands, names=[f"month {k + 1}" for k in range(MONTHS)],
                               dtype=gdal.GDT_Float32, nodata=-9999.0, pixel=pixel)
    return path


def _landcover(data, name, shape, pixel=30.0):
    """Byte CLCD codes 1..9 in patches, nodata 0 at a few pixels."""
    import numpy as np
    from osgeo import gdal
    path = data.path(f"casa_{name}.tif")
    if not os.path.exists(path):
        rng = np.random.default_rng(9)
        small = rng.integers(1, 10, (shape[0] // 8 + 1, shape[1] // 8 + 1))
        a = np.kron(small, np.ones((8, 8), dtype=np.int64))[:shape[0], :shape[1]].astype(np.uint8)
        a.ravel()[::113] = 0
        data.util.write_raster(path, [a], dtype=gdal.GDT_Byte, nodata=0, pixel=pixel)
    return path


def casanpp_rasters(data, out):
    """Every month input a raster on one grid (NDVI with a few values outside [-1, 1]), monthly output."""
    import numpy as np
    from osgeo import gdal
    ndvi = data.path("casa_ndvi_screened.tif")
    if not os.path.exists(ndvi):
        ds = gdal.Open(_months(data, "ndvi", -0.1, 0.85, nan_every=211))
        bands = [ds.GetRasterBand(k + 1).ReadAsArray() for k in range(MONTHS)]
        bands[3][5, 5:9] = -3.2                  # dark-water artefacts: screened to -1 with a warning
        bands[7][100, 20] = 1.4
        data.util.write_raster(ndvi, bands, names=[f"month {k + 1}" for k in range(MONTHS)],
                               dtype=gdal.GDT_Float32, nodata=-9999.0)
    return "miningeco:casanpp", {
        "NDVI": [ndvi], "TEMPERATURE": [_months(data, "temperature", -8.0, 26.0, nan_every=307)],
        "PRECIPITATION": [_months(data, "precipitation", 2.0, 160.0)],
        "SOLAR_RADIATION": [_months(data, "solar", 60.0, 620.0)],
        "LANDCOVER": _landcover(data, "landcover", SHAPE),
        "OUTPUT": f"{out}/npp.tif", "OUTPUT_MONTHLY": f"{out}/npp_monthly.tif", "OUTPUT_TABLE": f"{out}/npp.csv"}


def casanpp_resampled(data, out):
    """Single-band NDVI files per month, typed temperature, coarse precipitation and radiation rasters and a
    coarse land cover warped onto the NDVI grid (RESAMPLING bilinear: the land cover by nearest neighbour), the
    advanced rules changed (W_eps 1 in frozen months, a heat index)."""
    import numpy as np
    from osgeo import gdal
    months = []
    src = gdal.Open(_months(data, "ndvi", -0.1, 0.85, nan_every=211))
    for k in range(MONTHS):
        path = data.path(f"casa_ndvi_m{k + 1:02d}.tif")
        if not os.path.exists(path):
            a = src.GetRasterBand(k + 1).ReadAsArray()
            data.util.write_raster(path, [a], dtype=gdal.GDT_Float32, nodata=-9999.0)
        months.append(path)
    coarse = (SHAPE[0] // 3 + 1, SHAPE[1] // 3 + 1)
    return "miningeco:casanpp", {
        "NDVI": months, "TEMPERATURE_VALUES": "-6.5, -3.2, 2.4, 9.1, 15.6, 20.2, 23.5, 22.1, 16.6, 9.1, 1.3, -4.2",
        "PRECIPITATION": [_months(data, "precipitation", 2.0, 160.0, shape=coarse, pixel=90.0, nan_every=97)],
        "SOLAR_RADIATION": [_months(data, "solar", 60.0, 620.0, shape=coarse, pixel=90.0)],
        "LANDCOVER": _landcover(data, "landcover_coarse", (SHAPE[0] // 2 + 1, SHAPE[1] // 2 + 1), pixel=60.0),
        "RESAMPLING": 2, "FROZEN_W_EPS": 1, "HEAT_INDEX": 55.0,
        "OUTPUT": f"{out}/npp.tif", "OUTPUT_MONTHLY": f"{out}/npp_monthly.tif", "OUTPUT_TABLE": f"{out}/npp.csv"}


CASES = {"applymodel_rf": applymodel_rf, "applymodel_plsr_stack": applymodel_plsr_stack,
         "casanpp_rasters": casanpp_rasters, "casanpp_resampled": casanpp_resampled}
