"""Synthetic Landsat 8/9 Collection 2 Level-2-like scene for the benchmark, generated block-wise.

Seven Int16 bands SR_B2..SR_B7, ST_B10 (band descriptions, so the plugin maps them by name),
DN 7000..30000 (reflectance = DN * 0.0000275 - 0.2, i.e. about 0 .. 0.63), nodata 0 in the fill
corners of a rotated scene footprint like a real Landsat tile. Land cover (vegetation, bare
soil / mine, built-up, water) comes from multi-octave value noise, so indices vary smoothly
with edges and per-pixel sensor noise, as in a real scene. Written as a pixel-interleaved,
tiled (256 x 256) DEFLATE GeoTIFF, 256-row strips at a time: memory is bounded by one strip.

The thermal band is limited by Int16 (and the brief's 7000..30000 DN range): ST 224..251 K.
The temperature values do not matter for timing.
"""
from __future__ import annotations

import os

import numpy as np
from osgeo import gdal, osr

gdal.UseExceptions()

GENERATOR_VERSION = "3"
BAND_NAMES = ("SR_B2", "SR_B3", "SR_B4", "SR_B5", "SR_B6", "SR_B7", "ST_B10")
DN_MIN, DN_MAX = 7000, 30000
STRIP = 256
SEED = 20240601

# Endmember surface reflectance, bands B, G, R, NIR, SWIR1, SWIR2; and surface temperature (K).
ENDMEMBERS = {
    "vegetation": ((0.030, 0.060, 0.040, 0.360, 0.180, 0.080), 228.0),
    "soil": ((0.110, 0.150, 0.200, 0.260, 0.340, 0.280), 242.0),
    "urban": ((0.090, 0.110, 0.120, 0.170, 0.210, 0.180), 241.0),
    "water": ((0.050, 0.060, 0.040, 0.020, 0.010, 0.006), 225.0),
}
# Value-noise octaves: lattice spacing in pixels and weight.
OCTAVES = ((2048, 1.0), (512, 0.8), (128, 0.55), (32, 0.35), (8, 0.15))


def _lattice(rng, width, height, spacing):
    return rng.standard_normal((height // spacing + 2, width // spacing + 2)).astype(np.float32)


def _interp(lat, spacing, y0, rows, width):
    """Smooth (smoothstep) bilinear interpolation of lattice ``lat`` for rows y0..y0+rows, all columns."""
    y = (np.arange(y0, y0 + rows, dtype=np.float32) + 0.5) / spacing
    x = (np.arange(width, dtype=np.float32) + 0.5) / spacing
    iy, ix = y.astype(np.int64), x.astype(np.int64)
    fy, fx = y - iy, x - ix
    fy, fx = fy * fy * (3 - 2 * fy), fx * fx * (3 - 2 * fx)
    along_y = lat[iy] * (1 - fy)[:, None] + lat[iy + 1] * fy[:, None]          # (rows, nx)
    return along_y[:, ix] * (1 - fx) + along_y[:, ix + 1] * fx                 # (rows, width)


class SceneModel:
    def __init__(self, size):
        self.size = size
        rng = np.random.default_rng(SEED)
        # four land-cover logits + brightness + temperature anomaly, each a stack of octaves
        self.fields = [[(_lattice(rng, size, size, s), s, w) for s, w in OCTAVES] for _ in range(6)]

    def field(self, i, y0, rows):
        out = np.zeros((rows, self.size), dtype=np.float32)
        for lat, spacing, weight in self.fields[i]:
            out += weight * _interp(lat, spacing, y0, rows, self.size)
        return out

    def footprint(self, y0, rows):
        """True inside a Landsat-like footprint rotated by 12 degrees (fill corners outside)."""
        n = self.size
        y = (np.arange(y0, y0 + rows, dtype=np.float32)[:, None] - n / 2) / (n / 2)
        x = (np.arange(n, dtype=np.float32)[None, :] - n / 2) / (n / 2)
        a = np.radians(12.0)
        u = x * np.cos(a) + y * np.sin(a)
        v = -x * np.sin(a) + y * np.cos(a)
        return (np.abs(u) < 0.9) & (np.abs(v) < 0.9)

    def strip(self, y0, rows):
        """DN of rows y0..y0+rows: int16 array (7, rows, size)."""
        veg, soil, urban, water = (self.field(i, y0, rows) for i in range(4))
        logits = np.stack([veg * 2.2 + 0.9, soil * 2.2, urban * 2.0 - 0.8, water * 3.0 - 3.2])
        logits -= logits.max(axis=0)
        frac = np.exp(logits * 2.0)
        frac /= frac.sum(axis=0)
        bright = 1.0 + 0.08 * self.field(4, y0, rows)
        tanom = 2.5 * self.field(5, y0, rows)
        rng = np.random.default_rng([SEED, y0])
        refl = np.zeros((6, rows, self.size), dtype=np.float32)
        temp = np.zeros((rows, self.size), dtype=np.float32)
        for k, (spectrum, kelvin) in enumerate(ENDMEMBERS.values()):
            for b in range(6):
                refl[b] += frac[k] * np.float32(spectrum[b])
            temp += frac[k] * np.float32(kelvin)
        out = np.empty((7, rows, self.size), dtype=np.int16)
        inside = self.footprint(y0, rows)
        for b in range(6):
            r = refl[b] * bright + rng.normal(0.0, 0.004, (rows, self.size)).astype(np.float32)
            dn = (r + 0.2) / 2.75e-5
            out[b] = np.clip(np.rint(dn), DN_MIN, DN_MAX).astype(np.int16)
        t = temp + tanom + rng.normal(0.0, 0.25, (rows, self.size)).astype(np.float32)
        out[6] = np.clip(np.rint((t - 149.0) / 0.00341802), DN_MIN, DN_MAX).astype(np.int16)
        out[:, ~inside] = 0
        return out


def scene_ok(path, size):
    if not os.path.exists(path):
        return False
    try:
        ds = gdal.Open(path)
    except RuntimeError:
        return False
    return (ds.RasterXSize, ds.RasterYSize, ds.RasterCount) == (size, size, 7) \
        and ds.GetRasterBand(1).DataType == gdal.GDT_Int16 \
        and ds.GetMetadataItem("BENCH_GENERATOR") == GENERATOR_VERSION


def generate(path, size, log=print):
    """Write the size x size scene to ``path`` (via a temporary file); returns the path."""
    tmp = path + ".part.tif"
    opts = ["TILED=YES", "BLOCKXSIZE=256", "BLOCKYSIZE=256", "COMPRESS=DEFLATE", "PREDICTOR=2",
            "NUM_THREADS=ALL_CPUS", "BIGTIFF=IF_SAFER"]
    ds = gdal.GetDriverByName("GTiff").Create(tmp, size, size, 7, gdal.GDT_Int16, opts)
    ds.SetGeoTransform((300000.0, 30.0, 0.0, 5800000.0 + 30.0 * size, 0.0, -30.0))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    ds.SetProjection(srs.ExportToWkt())
    ds.SetMetadataItem("BENCH_GENERATOR", GENERATOR_VERSION)
    for i, name in enumerate(BAND_NAMES):
        band = ds.GetRasterBand(i + 1)
        band.SetDescription(name)
        band.SetNoDataValue(0)
    model = SceneModel(size)
    for y0 in range(0, size, STRIP):
        rows = min(STRIP, size - y0)
        ds.WriteArray(model.strip(y0, rows), 0, y0)
        if (y0 // STRIP) % 8 == 0:
            log(f"  generating {os.path.basename(path)}: {100 * y0 // size:3d} %")
    ds.FlushCache()
    ds = None
    os.replace(tmp, path)
    return path
