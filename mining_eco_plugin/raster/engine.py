"""Block-wise raster engine: grid checks, block reading with nodata as NaN, atomic tiled GeoTIFF writing.

Every pixel the plugin reads or writes goes through here. Inputs are read one block (window)
at a time, never a whole scene; outputs are written to a hidden temporary file beside the
target and moved into place only when complete, so a cancelled or failed run leaves nothing.

Progress and cancel use any object with ``setProgress(percent)`` and ``isCanceled()`` (a
``QgsProcessingFeedback`` in the plugin); this module imports no QGIS.
"""
from __future__ import annotations

import math
import os
import re
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from osgeo import gdal, osr

from .outputs import OutputError, check_file_destination, create_file
from ..core.geodesy import cell_areas_m2

gdal.UseExceptions()

# Blocks are strips of whole tile rows: aligned with the 256 x 256 output tiles, a few MB per band.
TILE = 256
DEFAULT_BLOCK_ROWS = 256
DEFAULT_BLOCK_COLS = 2048  # windows of at most 256 x 2048 px: memory per block flat whatever the width
# GDAL's block cache is process wide; a full-scene pass must not let it grow to GBs.
MAX_GDAL_CACHE = 64 * 1024 * 1024

RESAMPLING = {
    "nearest": gdal.GRA_NearestNeighbour,
    "bilinear": gdal.GRA_Bilinear,
    "cubic": gdal.GRA_Cubic,
    "average": gdal.GRA_Average,
    "mode": gdal.GRA_Mode,
}

FLOAT_NODATA = -9999.0


class RasterError(ValueError):
    """A raster input or output problem, worded for the user (names the input and the fix)."""


class Canceled(Exception):
    """The user cancelled the run."""


def _bound_gdal_cache():
    if gdal.GetCacheMax() > MAX_GDAL_CACHE:
        gdal.SetCacheMax(MAX_GDAL_CACHE)


@dataclass(frozen=True)
class Grid:
    width: int
    height: int
    geotransform: tuple
    wkt: str
    #: names the raster in messages (e.g. "DATE1 (lu_2000.tif, band 1)"); not part of the grid's identity
    label: str = field(default="", compare=False)

    @property
    def pixel_size(self):
        return abs(self.geotransform[1]), abs(self.geotransform[5])

    @property
    def is_geographic(self):
        return self._geographic is not None

    @cached_property
    def _geographic(self):
        """(a, f, degrees per CRS angular unit) of a geographic CRS, else None."""
        if not self.wkt:
            return None
        srs = osr.SpatialReference()
        srs.ImportFromWkt(self.wkt)
        if not srs.IsGeographic():
            return None
        a = srs.GetSemiMajor()
        inv_f = srs.GetInvFlattening()
        unit_rad = srs.GetAngularUnits() or math.pi / 180.0
        return float(a), (1.0 / inv_f if inv_f else 0.0), math.degrees(unit_rad)

    def pixel_area_m2(self):
        """Area of one pixel in m2 for a projected CRS (linear unit applied); None for geographic CRS."""
        if not self.wkt or self.is_geographic:
            return None
        srs = osr.SpatialReference()
        srs.ImportFromWkt(self.wkt)
        unit = srs.GetLinearUnits() or 1.0
        gt = self.geotransform
        return abs(gt[1] * gt[5] - gt[2] * gt[4]) * unit * unit

    def check_geographic_extent(self):
        """RasterError naming the raster when its CRS is geographic but its coordinates cannot be degrees:
        latitudes beyond +-90 or longitudes beyond -180..360 (more than half a pixel), e.g. UTM metres
        labelled EPSG:4326. Its areas would otherwise be computed for clipped latitudes (0 m2)."""
        geo = self._geographic
        if geo is None:
            return
        unit = geo[2]
        gt = self.geotransform
        ys = [(gt[3] + gt[4] * c + gt[5] * r) * unit for r in (0, self.height) for c in (0, self.width)]
        xs = [(gt[0] + gt[1] * c + gt[2] * r) * unit for r in (0, self.height) for c in (0, self.width)]
        tol_y = abs(gt[5]) * unit / 2 + 1e-9
        tol_x = abs(gt[1]) * unit / 2 + 1e-9
        if not all(math.isfinite(v) for v in xs + ys) or min(ys) < -90 - tol_y or max(ys) > 90 + tol_y \
                or min(xs) < -180 - tol_x or max(xs) > 360 + tol_x or max(xs) - min(xs) > 360 + 2 * tol_x:
            srs = osr.SpatialReference()
            srs.ImportFromWkt(self.wkt)
            raise RasterError(
                f"{self.label or 'The raster'}: its CRS ({_crs_name(srs)}) is geographic (degrees), but its "
                f"coordinates run from x {min(xs):.6g} to {max(xs):.6g} and y {min(ys):.6g} to {max(ys):.6g}: "
                "latitudes must lie within -90..90 and longitudes within -180..360, so these coordinates are not "
                "degrees and the CRS label of the layer is wrong (e.g. UTM metres labelled EPSG:4326). Assign the "
                "layer its real CRS (Raster > Projections > Assign Projection, or gdal_edit.py -a_srs) and run "
                "again; its areas cannot be computed as it is.")

    def row_areas_m2(self, w: "Window") -> np.ndarray:
        """Pixel area (m2) of each row of window ``w``, shape (rows, 1).

        Projected CRS: the constant cell area. Geographic CRS: the exact cell area on the CRS's ellipsoid
        (core.geodesy.cell_areas_m2: authalic latitude, a and f of the CRS), after checking that the
        raster's coordinates are degrees (RasterError naming it otherwise). Rows of ``w`` outside the
        raster (the halo of a moving window) are clipped to the poles.
        """
        area = self.pixel_area_m2()
        if area is not None:
            return np.full((w.ysize, 1), area)
        self.check_geographic_extent()
        a, f, unit = self._geographic
        gt = self.geotransform
        rows = np.arange(w.yoff, w.yoff + w.ysize + 1, dtype=np.float64)
        return cell_areas_m2((gt[3] + gt[5] * rows) * unit, gt[1] * unit, a, f)[:, None]

    def center_latitude(self) -> float | None:
        """Geodetic latitude (degrees) of the grid's centre on its CRS's own datum; None without a CRS or when
        it cannot be transformed."""
        if not self.wkt:
            return None
        try:
            srs = osr.SpatialReference()
            srs.ImportFromWkt(self.wkt)
            geo = srs.CloneGeogCS()
            for s in (srs, geo):
                s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
            gt = self.geotransform
            x = gt[0] + gt[1] * self.width / 2 + gt[2] * self.height / 2
            y = gt[3] + gt[4] * self.width / 2 + gt[5] * self.height / 2
            lat = osr.CoordinateTransformation(srs, geo).TransformPoint(x, y)[1]
        except (RuntimeError, TypeError):
            return None
        return float(lat) if math.isfinite(lat) and abs(lat) <= 90 else None

    def mismatch(self, other: "Grid") -> str | None:
        """Why ``other`` is not on this grid, or None when it is."""
        if self.wkt and other.wkt:
            a, b = osr.SpatialReference(), osr.SpatialReference()
            a.ImportFromWkt(self.wkt)
            b.ImportFromWkt(other.wkt)
            if not a.IsSame(b):
                return f"its CRS differs ({_crs_name(b)} vs {_crs_name(a)})"
        elif bool(self.wkt) != bool(other.wkt):
            return "one of them has no CRS"
        pa, pb = self.pixel_size, other.pixel_size
        if not all(math.isclose(x, y, rel_tol=1e-6) for x, y in zip(pa, pb)):
            return f"its pixel size differs ({pb[0]:g} x {pb[1]:g} vs {pa[0]:g} x {pa[1]:g})"
        ga, gb = self.geotransform, other.geotransform
        tol_x, tol_y = 1e-3 * pa[0], 1e-3 * pa[1]
        if (self.width, self.height) != (other.width, other.height) or abs(ga[0] - gb[0]) > tol_x \
                or abs(ga[3] - gb[3]) > tol_y:
            return (f"its extent differs ({other.width} x {other.height} px from "
                    f"({gb[0]:.3f}, {gb[3]:.3f}) vs {self.width} x {self.height} px from ({ga[0]:.3f}, {ga[3]:.3f}))")
        return None


def _crs_name(srs):
    code = srs.GetAuthorityCode(None)
    name = srs.GetName() or "unknown"
    return f"EPSG:{code}" if code else name


def grid_of(ds, label: str = "") -> Grid:
    return Grid(ds.RasterXSize, ds.RasterYSize, tuple(ds.GetGeoTransform()), ds.GetProjection() or "", label)


def damaged(path: str, label: str = "", detail: str = "") -> RasterError:
    """The error for a raster file that GDAL cannot read completely (issue 11, defect 2: a truncated GeoTIFF
    gave a raw GDAL RuntimeError, or "no CRS" when its header was cut)."""
    who = f"{label}: " if label else ""
    why = f" (GDAL: {detail.strip()})" if detail and detail.strip() else ""
    return RasterError(f"{who}{path} is damaged or incomplete: its data cannot be read{why}. The file was probably "
                       "cut short (an interrupted copy or download) or overwritten; copy or export it again.")


@contextmanager
def quiet_gdal():
    """GDAL's error messages silenced in this block (a call whose failure the caller turns into its own message)."""
    gdal.PushErrorHandler("CPLQuietErrorHandler")
    try:
        yield
    finally:
        gdal.PopErrorHandler()


def open_raster(path: str, label: str = ""):
    """``gdal.Open`` read-only; RasterError naming ``label`` for a file that is not a raster and for a damaged
    or truncated one: GDAL's warnings while reading the header ("IO error", "cannot read") and, for a GeoTIFF,
    data blocks that end past the end of the file."""
    problems = []

    def collect(level, _number, message):
        if level >= gdal.CE_Warning:
            problems.append(str(message))
    gdal.PushErrorHandler(collect)
    try:
        ds = gdal.Open(path, gdal.GA_ReadOnly)
    except RuntimeError as err:
        raise RasterError(f"{label}: cannot open {path} as a raster ({err})." if label else
                          f"Cannot open {path} as a raster ({err}).") from None
    finally:
        gdal.PopErrorHandler()
    broken = [m for m in problems if _DAMAGE_WORDS.search(m)]
    if broken:
        raise damaged(path, label, broken[0])
    if ds.GetDriver().ShortName == "GTiff" and ds.RasterCount:
        try:
            end = _last_block_end(ds)
        except RuntimeError as err:     # the block index itself cannot be read
            raise damaged(path, label, str(err)) from None
        if end is not None and os.path.isfile(path) and end > os.path.getsize(path):
            raise damaged(path, label, f"its last block ends at byte {end}, but the file has "
                                       f"{os.path.getsize(path)} bytes")
    return ds


# GDAL / libtiff warnings of a damaged file (not benign ones such as "TIFFReadDirectory: Sum of Photometric
# type-related color channels and ExtraSamples doesn't match SamplesPerPixel")
_DAMAGE_WORDS = re.compile(r"IO error|I/O error|[Cc]annot read|[Rr]ead error|truncat|corrupt|short read", re.ASCII)


def _last_block_end(ds):
    """Byte offset where the last data block of a GeoTIFF's first and last bands ends (TIFF metadata domain),
    or None when GDAL does not say (e.g. a sparse file)."""
    end = None
    for b in {1, ds.RasterCount}:
        band = ds.GetRasterBand(b)
        bx, by = band.GetBlockSize()
        nx, ny = (ds.RasterXSize + bx - 1) // bx, (ds.RasterYSize + by - 1) // by
        offset = band.GetMetadataItem(f"BLOCK_OFFSET_{nx - 1}_{ny - 1}", "TIFF")
        size = band.GetMetadataItem(f"BLOCK_SIZE_{nx - 1}_{ny - 1}", "TIFF")
        if offset and size and int(offset) > 0:
            end = max(end or 0, int(offset) + int(size))
    return end


def read_array(band, path: str, label: str, *args, **kwargs):
    """``band.ReadAsArray(*args, **kwargs)``; a GDAL read error is a RasterError naming the file as damaged."""
    try:
        return band.ReadAsArray(*args, **kwargs)
    except RuntimeError as err:
        raise damaged(path, label, str(err)) from None


def check_coordinates(grid: Grid, what: str):
    """RasterError naming ``what`` when a raster labelled with a geographic CRS has coordinates that are not
    degrees (Grid.check_geographic_extent), checked when any input is opened: cell areas would all be 0."""
    Grid(grid.width, grid.height, grid.geotransform, grid.wkt, what).check_geographic_extent()


def fit_window(grid: Grid, size: int, feedback=None, label: str = "WINDOW_SIZE") -> int:
    """The moving window to use on ``grid``: ``size``, or 2 n - 1 pixels when ``size`` is wider (n = the raster's
    larger side). A window of 2 n - 1 pixels centred on any pixel covers the whole raster, a wider one adds only
    cells outside it, which are nodata and left out of every window statistic: same results, without the memory
    of a halo of size // 2 pixels around each block."""
    limit = 2 * max(grid.width, grid.height) - 1
    if size <= limit:
        return size
    if feedback is not None:
        feedback.pushInfo(f"{label}: a window of {size} pixels is wider than this raster of {grid.width} x "
                          f"{grid.height} pixels needs; {limit} pixels already cover the whole raster from every "
                          "pixel, with the same results, and are used.")
    return limit


@dataclass(frozen=True)
class BandRef:
    """One band of one raster file; ``label`` names it in messages (e.g. "RED_BAND"). ``categorical``: the band
    holds codes (a QA bit field, SCL classes, land cover), so a RasterStack warps it by nearest neighbour whatever
    resampling the other bands use (an interpolated QA value is a different set of bits)."""
    path: str
    band: int = 1
    label: str = ""
    categorical: bool = False

    def describe(self):
        name = os.path.basename(self.path)
        return f"{self.label} ({name}, band {self.band})" if self.label else f"{name} band {self.band}"


@dataclass(frozen=True)
class Window:
    xoff: int
    yoff: int
    xsize: int
    ysize: int

    @property
    def shape(self):
        return self.ysize, self.xsize


def windows(grid: Grid, block_rows: int | None = None, block_cols: int | None = None):
    """Windows covering the grid, row-major. Whole-width strips of DEFAULT_BLOCK_ROWS rows by default."""
    block_rows = block_rows or DEFAULT_BLOCK_ROWS
    block_cols = block_cols or DEFAULT_BLOCK_COLS or grid.width
    for yoff in range(0, grid.height, block_rows):
        for xoff in range(0, grid.width, block_cols):
            yield Window(xoff, yoff, min(block_cols, grid.width - xoff), min(block_rows, grid.height - yoff))


class RasterStack:
    """Named band references opened together, checked to share one grid, read block by block.

    ``refs`` maps a key (e.g. "R", "NIR", "QA") to a BandRef. The first ref (or ``reference``)
    defines the grid. With ``resampling`` (a key of RESAMPLING) every other input is warped on
    the fly (a GDAL VRT, still read block by block) onto that grid, categorical ones (BandRef.categorical) by
    nearest neighbour; without it a mismatch is a RasterError naming the input.
    """

    def __init__(self, refs: dict, resampling: str | None = None, reference: str | None = None):
        if not refs:
            raise RasterError("No raster input was given.")
        _bound_gdal_cache()
        self.refs = dict(refs)
        self._datasets = {}
        ref_key = reference or next(iter(self.refs))
        ref = self.refs[ref_key]
        self.grid = grid_of(self._open(ref), ref.describe())
        self._reference = ref
        for key, r in self.refs.items():
            ds = self._open(r)
            if not 1 <= r.band <= ds.RasterCount:
                raise RasterError(
                    f"{r.label or key}: band {r.band} does not exist in {os.path.basename(r.path)}, "
                    f"which has {ds.RasterCount} band(s). Fix the band number or the band mapping.")
            why = self.grid.mismatch(grid_of(ds))
            if why is None:
                continue
            if resampling is None:
                raise RasterError(
                    f"{r.describe()} is not on the grid of {ref.describe()}: {why}. "
                    "Give inputs on one grid, or choose a resampling method to warp them onto the "
                    "first input's grid.")
            method = "nearest" if r.categorical else resampling
            if (r.path, "warped", method) not in self._datasets:
                self._datasets[(r.path, "warped", method)] = self._warp(ds, method)
        self._resampling = resampling
        self._resampled = resampling is not None

    def _open(self, ref: BandRef):
        ds = self._datasets.get((ref.path, "raw"))
        if ds is None:
            ds = open_raster(ref.path, ref.label)
            check_coordinates(grid_of(ds), ref.describe())
            self._datasets[(ref.path, "raw")] = ds
        return ds

    def _warp(self, ds, resampling):
        g = self.grid
        gt = g.geotransform
        bounds = (gt[0], gt[3] + gt[5] * g.height, gt[0] + gt[1] * g.width, gt[3])
        return gdal.Warp("", ds, format="VRT", outputBounds=bounds, width=g.width, height=g.height,
                         dstSRS=g.wkt or None, resampleAlg=RESAMPLING[resampling], multithread=False)

    def _band(self, key):
        r = self.refs[key]
        ds = self._datasets.get((r.path, "warped", "nearest" if r.categorical else self._resampling))
        if ds is None:
            ds = self._datasets[(r.path, "raw")]
        return ds.GetRasterBand(r.band)

    def nodata(self, key):
        return self._band(key).GetNoDataValue()

    def level(self, key) -> float:
        """The middle of the band's value range from GDAL's approximate minimum / maximum (overviews or a
        subsample; the same for every block): a shift for sums of squares on a large level. 0 if unknown."""
        try:
            lo, hi = self._band(key).ComputeRasterMinMax(True)
        except RuntimeError:
            return 0.0
        mid = (lo + hi) / 2.0
        return float(mid) if math.isfinite(mid) else 0.0

    def description(self, key):
        return self._band(key).GetDescription()

    def file_block_size(self, key) -> tuple[int, int]:
        """(columns, rows) of a block of the file behind band ``key`` (the raw file, not a warped view).
        The dataset stays open in this stack: GDAL >= 3.8 invalidates a band whose dataset is gone."""
        r = self.refs[key]
        ds = self._open(r)
        cols, rows = ds.GetRasterBand(r.band).GetBlockSize()
        return int(cols), int(rows)

    def require_integer(self, key):
        """RasterError unless band ``key`` holds integer codes (a class / category raster)."""
        band = self._band(key)
        if band.DataType in (gdal.GDT_Float32, gdal.GDT_Float64, gdal.GDT_CFloat32, gdal.GDT_CFloat64):
            r = self.refs[key]
            raise RasterError(f"{r.describe()} holds floating-point values ({gdal.GetDataTypeName(band.DataType)}), "
                              "but a class raster of integer codes is needed. Reclassify it to integer classes "
                              "first (e.g. with the RSEI grades output or r.reclass).")

    def read_raw(self, key, w: Window) -> np.ndarray:
        """The block in the band's own data type (for QA bit fields)."""
        r = self.refs[key]
        return read_array(self._band(key), r.path, r.label or key, w.xoff, w.yoff, w.xsize, w.ysize)

    def read(self, key, w: Window) -> np.ndarray:
        """The block as float32 with the band's nodata value (and NaN) as NaN."""
        band, r = self._band(key), self.refs[key]
        arr = read_array(band, r.path, r.label or key, w.xoff, w.yoff, w.xsize, w.ysize, buf_type=gdal.GDT_Float32)
        nd = band.GetNoDataValue()
        if nd is not None and not math.isnan(nd):
            np.copyto(arr, np.float32(np.nan), where=arr == np.float32(nd))
        return arr

    def read_padded(self, key, w: Window, pad: int) -> np.ndarray:
        """Window ``w`` grown by ``pad`` pixels on every side (for moving windows), float32 with
        NaN for nodata and for the part outside the raster; shape (ysize + 2 pad, xsize + 2 pad)."""
        g = self.grid
        x0, y0 = max(w.xoff - pad, 0), max(w.yoff - pad, 0)
        x1, y1 = min(w.xoff + w.xsize + pad, g.width), min(w.yoff + w.ysize + pad, g.height)
        out = np.full((w.ysize + 2 * pad, w.xsize + 2 * pad), np.nan, dtype=np.float32)
        oy, ox = y0 - (w.yoff - pad), x0 - (w.xoff - pad)
        out[oy:oy + y1 - y0, ox:ox + x1 - x0] = self.read(key, Window(x0, y0, x1 - x0, y1 - y0))
        return out

    def close(self):
        self._datasets.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def raster_info(path: str, label: str = "") -> tuple[Grid, int, list[str]]:
    """Grid, band count and band descriptions of a raster file (RasterError naming ``label``, the input, if it
    cannot be opened)."""
    ds = open_raster(path, label)
    names = [ds.GetRasterBand(i + 1).GetDescription() for i in range(ds.RasterCount)]
    return grid_of(ds, os.path.basename(path)), ds.RasterCount, names



def raster_metadata(path: str, label: str = "") -> dict:
    """The dataset metadata (GDAL default domain) of a raster file, as a dict (RasterError naming ``label`` if it
    cannot be opened)."""
    return dict(open_raster(path, label).GetMetadata() or {})

_GDAL_TYPES = {
    "float32": gdal.GDT_Float32,
    "uint8": gdal.GDT_Byte,
    "int16": gdal.GDT_Int16,
    "uint16": gdal.GDT_UInt16,
    "int32": gdal.GDT_Int32,
}


def check_writable(path: str, label: str = "OUTPUT"):
    """RasterError unless a file can be created at ``path`` (outputs.check_file_destination)."""
    try:
        check_file_destination(path, label)
    except OutputError as err:
        raise RasterError(str(err)) from None


@dataclass
class BandStats:
    minimum: float = math.inf
    maximum: float = -math.inf
    total: float = 0.0
    total_sq: float = 0.0
    count: int = 0

    def update(self, valid: np.ndarray):
        """Add the values of ``valid`` (a 1-D array of valid pixels); sums in float64 without copies."""
        if valid.size:
            self.minimum = min(self.minimum, float(valid.min()))
            self.maximum = max(self.maximum, float(valid.max()))
            self.total += float(valid.sum(dtype=np.float64))
            self.total_sq += float(np.dot(valid, valid)) if valid.dtype.kind == "f" else float(
                np.dot(valid.astype(np.float64), valid.astype(np.float64)))
            self.count += int(valid.size)

    @property
    def mean(self):
        return self.total / self.count if self.count else math.nan

    @property
    def std(self):
        if not self.count:
            return math.nan
        return math.sqrt(max(self.total_sq / self.count - self.mean ** 2, 0.0))


class GeoTiffWriter:
    """Tiled, compressed GeoTIFF written to a temporary file and moved into place on ``commit``.

    Float bands: NaN is written as ``nodata`` (-9999 by default). Integer bands: the caller
    writes its own nodata code. BigTIFF when the file could pass 4 GB. Use as a context manager:
    an exception (including Canceled) deletes the temporary file.
    """

    def __init__(self, path: str, grid: Grid, band_count: int = 1, dtype: str = "float32",
                 nodata: float | None = None, band_names=(), label: str = "OUTPUT", metadata=()):
        check_writable(path, label)
        self.path = os.path.abspath(path)
        self.label = label
        self.dtype = np.dtype(dtype)
        self.is_float = self.dtype.kind == "f"
        self.nodata = FLOAT_NODATA if (nodata is None and self.is_float) else nodata
        self.grid = grid
        folder = os.path.dirname(self.path)
        try:   # created with the user's umask (GDAL keeps the mode of the file it opens), not mkstemp's 0600
            fd, self.tmp_path = create_file(folder, "." + os.path.basename(path) + ".", ".part.tif")
        except OSError as err:
            raise RasterError(f"{label}: cannot write into {folder} ({err.strerror}). Choose a writable folder.") from None
        os.close(fd)
        opts = ["TILED=YES", f"BLOCKXSIZE={TILE}", f"BLOCKYSIZE={TILE}", "COMPRESS=DEFLATE", "ZLEVEL=1",
                "PREDICTOR=2" if not self.is_float else "PREDICTOR=1", "BIGTIFF=IF_SAFER", "NUM_THREADS=ALL_CPUS"]
        try:
            drv = gdal.GetDriverByName("GTiff")
            self.ds = drv.Create(self.tmp_path, grid.width, grid.height, band_count, _GDAL_TYPES[self.dtype.name], opts)
        except RuntimeError as err:
            self._remove_tmp()
            raise RasterError(f"{label}: cannot create {path} ({err}).") from None
        self.ds.SetGeoTransform(grid.geotransform)
        if grid.wkt:
            self.ds.SetProjection(grid.wkt)
        if metadata:
            self.ds.SetMetadata({str(k): str(v) for k, v in dict(metadata).items()})
        self.stats = [BandStats() for _ in range(band_count)]
        for i in range(band_count):
            band = self.ds.GetRasterBand(i + 1)
            if self.nodata is not None:
                band.SetNoDataValue(self.nodata)
            if i < len(band_names) and band_names[i]:
                band.SetDescription(str(band_names[i]))
        self._done = False

    def write(self, band: int, w: Window, data: np.ndarray):
        """Write one block of 1-based ``band``; float NaN (and inf) become nodata."""
        if self.is_float:
            data = np.asarray(data, dtype=self.dtype)
            bad = ~np.isfinite(data)
            if bad.any():
                valid = data[~bad]
                data = np.where(bad, self.dtype.type(self.nodata), data)
            else:
                valid = data.ravel()
        else:
            data = np.asarray(data).astype(self.dtype, copy=False)
            valid = data[data != self.nodata] if self.nodata is not None else data.ravel()
        self.stats[band - 1].update(valid)
        self.ds.GetRasterBand(band).WriteArray(data, w.xoff, w.yoff)

    def flush(self):
        self.ds.FlushCache()

    def commit(self):
        """Finish the file and move it onto the target path; returns the path."""
        for i, st in enumerate(self.stats):
            if st.count:
                self.ds.GetRasterBand(i + 1).SetStatistics(st.minimum, st.maximum, st.mean, st.std)
        self.ds.FlushCache()
        self.ds = None
        for stale in (self.path + ".aux.xml",):
            if os.path.exists(stale):
                os.remove(stale)
        os.replace(self.tmp_path, self.path)
        if os.path.exists(self.tmp_path + ".aux.xml"):
            os.replace(self.tmp_path + ".aux.xml", self.path + ".aux.xml")
        self._done = True
        return self.path

    def abort(self):
        self.ds = None
        self._remove_tmp()
        self._done = True

    def _remove_tmp(self):
        for p in (self.tmp_path, self.tmp_path + ".aux.xml"):
            if os.path.exists(p):
                os.remove(p)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if not self._done:
            self.abort()
        return False


@dataclass
class Progress:
    """Maps block progress of one pass onto [start, end] percent of the run; raises Canceled."""
    feedback: object = None
    start: float = 0.0
    end: float = 100.0
    total: int = 1
    done: int = field(default=0)

    def step(self):
        self.done += 1
        if self.feedback is None:
            return
        if self.feedback.isCanceled():
            raise Canceled()
        self.feedback.setProgress(self.start + (self.end - self.start) * self.done / max(self.total, 1))
        # a cancel requested while the progress was reported (e.g. from a progressChanged slot, or
        # during the last block of a pass) must still stop the run before any output is committed
        if self.feedback.isCanceled():
            raise Canceled()

    def check(self):
        if self.feedback is not None and self.feedback.isCanceled():
            raise Canceled()


def prefetched(windows_iter, load):
    """Yield ``(window, load(window))``, loading the next window in a background thread meanwhile.

    Reading (GDAL) and numpy both release the GIL, so the next block is read (and, if ``load``
    computes, computed) while the caller processes and writes the current one. Only the
    background thread calls ``load``: the input datasets are never used by two threads at once.
    """
    it = iter(windows_iter)
    try:
        current = next(it)
    except StopIteration:
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(load, current)
        for following in it:
            data = future.result()
            future = pool.submit(load, following)
            yield current, data
            current = following
        yield current, future.result()
