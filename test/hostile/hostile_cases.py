"""The hostile cases, as data: one ``Case`` per (tool, hostile input), over all 20 algorithms of the provider.

Each tool has a valid base run (``BASE``) writing every output into the case's empty output folder; a case
changes one thing. Families built by the helpers below:

* ``raster_inputs``: the input raster replaced by a hostile variant (missing, empty, text named .tif,
  truncated GeoTIFF, header-truncated TIFF, all nodata, UTM coordinates labelled EPSG:4326, another grid or
  CRS on tools whose inputs share one grid);
* ``output_paths``: an output in a missing folder, under a regular file, equal to an existing directory, in a
  read-only folder, two outputs on one path, an output equal to an input;
* ``numbers``: parameters out of range (negative, 0, 10^12, 2^31 + 1, 'nan'), wrong band numbers;
* per-tool cases: radiometry (MTL files, Level-1 read as Level-2, Sentinel-2 read as Landsat), tables (missing,
  non-numeric, constant fields, too few rows, NaN, duplicate years), CSV formula injection, model files
  (pickle, zip bomb, tampered metadata, wrong types), expression injection, huge tree / sample counts,
  cancel, paths with spaces and non-ASCII characters; valid edge inputs are checked against hand values.

``words``: every entry must be in the error message (``"A|B"``: either); mostly the parameter id.
"""
from __future__ import annotations

import csv
import math
import os

import numpy as np

import util  # test/qgis/util.py
from hostile_data import FEATURES, H, NODATA, PIXEL, SLOPE, W, YEARS, CASA_P, CASA_SOL, CASA_T, read_meta
from hostile_run import Case

BIG = 10 ** 12
INT31 = 2 ** 31 + 1
NDVI, WET, NDBSI = 0, 5, 11


def _estarfm_mask(c, value):
    """A mask of the estarfm base run's fine image: every pixel ``value`` (0 clear, 1 masked), nodata 255."""
    from osgeo import gdal
    from hostile_data import write_grid
    return c.d._once(("estarfm_mask", value), lambda: write_grid(
        c.d.path(f"estarfm_mask_{value}.tif"), np.full((H, W), value, dtype=np.uint8), nodata=255,
        dtype=gdal.GDT_Byte))


# ============================================================================ base runs (valid)
def _values(v):
    return ", ".join(f"{x:g}" for x in v)


BASE = {
    "spectralindices": lambda c: dict(util.scene_params("L8", ("RED", "NIR")), INDICES=[NDVI], OUTPUT=c.o("ndvi.tif")),
    "lst": lambda c: dict(util.scene_params("L8", ("RED", "NIR", "THERMAL")), OUTPUT=c.o("lst.tif")),
    "rsei": lambda c: dict(util.scene_params("L8"), OUTPUT=c.o("rsei.tif"), OUTPUT_GRADES=c.o("grades.tif"),
                           OUTPUT_TABLE=c.o("rsei.csv"), OUTPUT_REPORT=c.o("rsei.html")),
    "rseiseries": lambda c: dict(COMPOSITES=list(c.d.composites), TRANSFER_YEARS="2013,2016",
                                 OUTPUT_FOLDER=c.o("series"), OUTPUT_TABLE=c.o("years.csv"),
                                 OUTPUT_REPORT=c.o("series.html")),
    "rseicomponents": lambda c: dict(c.d.components, GREENNESS_BAND=1, WETNESS_BAND=1, DRYNESS_BAND=1, HEAT_BAND=1,
                                     OUTPUT=c.o("rsei.tif"), OUTPUT_GRADES=c.o("grades.tif"),
                                     OUTPUT_TABLE=c.o("rsei.csv"), OUTPUT_REPORT=c.o("rsei.html")),
    "egindex": lambda c: dict(LANDUSE=c.d.cls1, WINDOW_SIZE=3, OUTPUT=c.o("eg.tif"),
                              OUTPUT_NORMALISED=c.o("eg_norm.tif"), OUTPUT_TABLE=c.o("eg.csv")),
    "coupling": lambda c: dict(RSEI=c.d.rsei, EG=c.d.eg, OUTPUT=c.o("coupling.tif"), OUTPUT_TABLE=c.o("coupling.csv")),
    "transfermatrix": lambda c: dict(DATE1=c.d.cls1, DATE2=c.d.cls2, OUTPUT_CHANGE=c.o("change.tif"),
                                     OUTPUT_MATRIX=c.o("matrix.csv"), OUTPUT_LEGEND=c.o("legend.csv"),
                                     OUTPUT_HEATMAP=c.o("heatmap.png")),
    "classareas": lambda c: dict(LAYERS=[c.d.cls1, c.d.cls2], OUTPUT=c.o("areas.csv")),
    "trend": lambda c: dict(INPUTS=list(c.d.series), OUTPUT_SLOPE=c.o("slope.tif"), OUTPUT_CLASS=c.o("class.tif"),
                            OUTPUT_Z=c.o("z.tif"), OUTPUT_P=c.o("p.tif"), OUTPUT_S=c.o("s.tif"),
                            OUTPUT_COUNT=c.o("count.tif"), OUTPUT_TABLE=c.o("trend.csv")),
    "timeseries": lambda c: dict(INPUT_TABLE=c.d.series_table, YEAR_FIELD="year", VALUE_FIELD="value",
                                 OUTPUT_TABLE=c.o("ts.csv"), OUTPUT_PLOT=c.o("ts.png"), OUTPUT_REPORT=c.o("ts.html")),
    "samplerasters": lambda c: dict(POINTS=c.d.points[0], RASTERS=[c.d.features[n] for n in FEATURES],
                                    OUTPUT=c.o("sampled.gpkg"), OUTPUT_REJECTED=c.o("rejected.gpkg")),
    "kriging": lambda c: dict(POINTS=c.d.kriging_points(), FIELD="value", REFERENCE=c.d.rsei,
                              OUTPUT=c.o("kriged.tif"), OUTPUT_VARIANCE=c.o("variance.tif"),
                              OUTPUT_REPORT=c.o("kriging.html"), OUTPUT_CV=c.o("cv.csv"),
                              OUTPUT_RESIDUALS=c.o("residuals.gpkg")),
    "vipscreening": lambda c: dict(INPUT=c.d.samples, TARGET_FIELD="salt", FIELDS=["ndvi", "si1", "si2"],
                                   OUTPUT_TABLE=c.o("vip.csv"), OUTPUT_CHART=c.o("vip.png"),
                                   OUTPUT_REPORT=c.o("vip.html")),
    "indexsearch": lambda c: dict(INPUT=c.d.samples, TARGET_FIELD="salt", BAND_FIELDS=["ndvi", "si1", "si2"],
                                  BAND_ROLES="R=ndvi,NIR=si1,SWIR1=si2", OUTPUT_TABLE=c.o("search.csv"),
                                  OUTPUT_REPORT=c.o("search.html")),
    "trainmodel": lambda c: dict(INPUT=c.d.samples, TARGET="salt", FIELDS=["ndvi", "si1"], MODEL=4,
                                 OUTPUT_MODEL=c.o("salt.model"), OUTPUT_TABLE=c.o("metrics.csv"),
                                 OUTPUT_SCATTER=c.o("scatter.png"), OUTPUT_REPORT=c.o("train.html")),
    "applymodel": lambda c: dict(MODEL_FILE=c.d.model, RASTERS=[c.d.features[n] for n in FEATURES],
                                 OUTPUT=c.o("salt.tif"), OUTPUT_GRADES=c.o("salt_grades.tif"),
                                 OUTPUT_TABLE=c.o("salt_grades.csv")),
    "casanpp": lambda c: dict(NDVI=[c.d.casa[0]], TEMPERATURE_VALUES=_values(CASA_T),
                              PRECIPITATION_VALUES=_values(CASA_P), SOLAR_RADIATION_VALUES=_values(CASA_SOL),
                              LANDCOVER=c.d.casa[1], OUTPUT=c.o("npp.tif"), OUTPUT_MONTHLY=c.o("npp_monthly.tif"),
                              OUTPUT_TABLE=c.o("npp.csv")),
    "geodetector": lambda c: dict(INPUT=c.d.drivers, Y_FIELD="y", X_FIELDS=["x1", "x2", "cat"],
                                  CATEGORICAL_FIELDS=["cat"],
                                  METHOD=0, K=3, OUTPUT_FACTOR=c.o("factor.csv"), OUTPUT_INTERACTION=c.o("inter.csv"),
                                  OUTPUT_RISK=c.o("risk.csv"), OUTPUT_ECOLOGICAL=c.o("eco.csv"),
                                  OUTPUT_HEATMAP=c.o("gd.png"), OUTPUT_REPORT=c.o("gd.html")),
    "localcorrelation": lambda c: dict(INPUT_X=c.d.xy[0], INPUT_Y=c.d.xy[1], WINDOW_SIZE=3, MIN_VALID=5,
                                       OUTPUT_R=c.o("r.tif"), OUTPUT_P=c.o("p.tif"), OUTPUT_CLASS=c.o("rclass.tif"),
                                       OUTPUT_TABLE=c.o("lc.csv")),
    "mlrcontribution": lambda c: dict(INPUT=c.d.drivers, Y_FIELD="y", X_FIELDS=["x1", "x2", "x3"], PERIOD_FIELD="period",
                                      OUTPUT_TABLE=c.o("mlr.csv"), OUTPUT_HEATMAP=c.o("mlr.png")),
    "rfcontribution": lambda c: dict(INPUT=c.d.drivers, Y_FIELD="y", CATEGORIES=["x1", "a", "x2", "a", "x3", "b"],
                                     N_TREES=10, N_REPEATS=1, DRIVER_RASTERS=list(c.d.drivers_rasters.values()),
                                     OUTPUT_CATEGORIES=c.o("cats.csv"), OUTPUT_DRIVERS=c.o("drivers.csv"),
                                     OUTPUT_REPORT=c.o("rf.html"), OUTPUT_RGB=c.o("rgb.tif"),
                                     OUTPUT_DOMINANT=c.o("dominant.tif")),
    "installdependencies": lambda c: dict(INSTALL_XGBOOST=False, OUTPUT_REPORT=c.o("deps.html")),
    "estarfm": lambda c: dict(FINE_TM=c.d.xy[0], COARSE_TM=c.d.xy[0], FINE_TN=c.d.xy[1], COARSE_TN=c.d.xy[1],
                              COARSE_TP=[c.d.xy[1]], DATES="2000-01-01,2000-03-01,2000-02-01", HALF_WINDOW=3,
                              DN_MIN=-10, DN_MAX=10, OUTPUT_FOLDER=c.o("fused"), OUTPUT_TABLE=c.o("fused.csv")),
    # the real Marburg Landsat 8 product (Collection 1 Level-1, 2013-07-07): its July composite
    "composite": lambda c: dict(PRODUCTS=[c.d.product("folder")], TOA_OK=True, MONTH_FIRST=6, MONTH_LAST=6,
                                OUTPUT_FOLDER=c.o("composites"), OUTPUT_TABLE=c.o("composites.csv")),
}
# second base runs: raster modes of the table tools
RASTER_BASE = {
    "timeseries": lambda c: dict(RASTERS=list(c.d.series), OUTPUT_TABLE=c.o("ts.csv"), OUTPUT_PLOT=c.o("ts.png"),
                                 OUTPUT_REPORT=c.o("ts.html")),
    "geodetector": lambda c: dict(Y_RASTER=c.d.rsei, X_RASTERS=[c.d.eg], CATEGORICAL_RASTERS=[c.d.cls1], SAMPLING=0,
                                  STEP=1, METHOD=0, K=3, OUTPUT_FACTOR=c.o("factor.csv"),
                                  OUTPUT_INTERACTION=c.o("inter.csv"), OUTPUT_REPORT=c.o("gd.html")),
}

#: outputs of each tool in the order used below: the first is the one moved to a bad place, the last the one
#: moved to a read-only folder (written last by a tool that does not commit its outputs together)
OUTPUTS = {
    "spectralindices": ["OUTPUT"],
    "lst": ["OUTPUT"],
    "rsei": ["OUTPUT", "OUTPUT_GRADES", "OUTPUT_TABLE", "OUTPUT_REPORT"],
    "rseicomponents": ["OUTPUT", "OUTPUT_GRADES", "OUTPUT_TABLE", "OUTPUT_REPORT"],
    "rseiseries": ["OUTPUT_TABLE", "OUTPUT_REPORT"],      # OUTPUT_FOLDER: its own cases (_ecology_cases)
    "egindex": ["OUTPUT", "OUTPUT_NORMALISED", "OUTPUT_TABLE"],
    "coupling": ["OUTPUT", "OUTPUT_TABLE"],
    "transfermatrix": ["OUTPUT_CHANGE", "OUTPUT_MATRIX", "OUTPUT_LEGEND", "OUTPUT_HEATMAP"],
    "classareas": ["OUTPUT"],
    "trend": ["OUTPUT_SLOPE", "OUTPUT_CLASS", "OUTPUT_Z", "OUTPUT_P", "OUTPUT_S", "OUTPUT_COUNT", "OUTPUT_TABLE"],
    "timeseries": ["OUTPUT_TABLE", "OUTPUT_PLOT", "OUTPUT_REPORT"],
    "samplerasters": ["OUTPUT", "OUTPUT_REJECTED"],
    "kriging": ["OUTPUT", "OUTPUT_VARIANCE", "OUTPUT_CV", "OUTPUT_RESIDUALS", "OUTPUT_REPORT"],
    "vipscreening": ["OUTPUT_TABLE", "OUTPUT_CHART", "OUTPUT_REPORT"],
    "indexsearch": ["OUTPUT_TABLE", "OUTPUT_REPORT"],
    "trainmodel": ["OUTPUT_MODEL", "OUTPUT_TABLE", "OUTPUT_SCATTER", "OUTPUT_REPORT"],
    "applymodel": ["OUTPUT", "OUTPUT_GRADES", "OUTPUT_TABLE"],
    "casanpp": ["OUTPUT", "OUTPUT_MONTHLY", "OUTPUT_TABLE"],
    "geodetector": ["OUTPUT_FACTOR", "OUTPUT_INTERACTION", "OUTPUT_RISK", "OUTPUT_ECOLOGICAL", "OUTPUT_HEATMAP",
                    "OUTPUT_REPORT"],
    "localcorrelation": ["OUTPUT_R", "OUTPUT_P", "OUTPUT_CLASS", "OUTPUT_TABLE"],
    "mlrcontribution": ["OUTPUT_TABLE", "OUTPUT_HEATMAP"],
    "rfcontribution": ["OUTPUT_RGB", "OUTPUT_DOMINANT", "OUTPUT_CATEGORIES", "OUTPUT_DRIVERS", "OUTPUT_REPORT"],
    "installdependencies": ["OUTPUT_REPORT"],
    "composite": ["OUTPUT_TABLE"],
    "estarfm": ["OUTPUT_TABLE"],
}
#: tables written after other outputs (besides the first and last outputs above)
MIDDLE_TABLE = {
    "rsei": ["OUTPUT_TABLE"], "rseicomponents": ["OUTPUT_TABLE"], "transfermatrix": ["OUTPUT_MATRIX"],
    "trainmodel": ["OUTPUT_TABLE"], "geodetector": ["OUTPUT_INTERACTION"], "rfcontribution": ["OUTPUT_CATEGORIES"],
}
#: pairs of outputs given one path (the issue's examples first)
SAME_PATH = {
    "rsei": [("OUTPUT", "OUTPUT_GRADES")],
    "rseicomponents": [("OUTPUT", "OUTPUT_GRADES")],
    "rseiseries": [("OUTPUT_TABLE", "OUTPUT_REPORT")],
    "egindex": [("OUTPUT", "OUTPUT_NORMALISED")],
    "coupling": [("OUTPUT_TABLE", "OUTPUT")],
    "transfermatrix": [("OUTPUT_MATRIX", "OUTPUT_LEGEND")],
    "trend": [("OUTPUT_SLOPE", "OUTPUT_CLASS"), ("OUTPUT_Z", "OUTPUT_P")],
    "timeseries": [("OUTPUT_PLOT", "OUTPUT_REPORT")],
    "samplerasters": [("OUTPUT", "OUTPUT_REJECTED")],
    "kriging": [("OUTPUT", "OUTPUT_VARIANCE")],
    "vipscreening": [("OUTPUT_CHART", "OUTPUT_REPORT")],
    "indexsearch": [("OUTPUT_TABLE", "OUTPUT_REPORT")],
    "trainmodel": [("OUTPUT_MODEL", "OUTPUT_REPORT"), ("OUTPUT_TABLE", "OUTPUT_MODEL")],
    "applymodel": [("OUTPUT", "OUTPUT_GRADES")],
    "casanpp": [("OUTPUT", "OUTPUT_MONTHLY")],
    "geodetector": [("OUTPUT_FACTOR", "OUTPUT_INTERACTION"), ("OUTPUT_HEATMAP", "OUTPUT_REPORT")],
    "localcorrelation": [("OUTPUT_R", "OUTPUT_P")],
    "mlrcontribution": [("OUTPUT_TABLE", "OUTPUT_HEATMAP")],
    "rfcontribution": [("OUTPUT_CATEGORIES", "OUTPUT_DRIVERS"), ("OUTPUT_RGB", "OUTPUT_DOMINANT")],
}
#: (input parameter, output parameter) for "an output equal to an input" (the input is a private copy)
OUTPUT_IS_INPUT = {
    "spectralindices": ("RED", "OUTPUT"),
    "lst": ("THERMAL", "OUTPUT"),
    "rsei": ("NIR", "OUTPUT"),
    "rseicomponents": ("GREENNESS", "OUTPUT"),
    "rseiseries": ("COMPOSITES", "OUTPUT_REPORT"),
    "egindex": ("LANDUSE", "OUTPUT"),
    "coupling": ("EG", "OUTPUT"),
    "transfermatrix": ("DATE1", "OUTPUT_CHANGE"),
    "classareas": ("LAYERS", "OUTPUT"),
    "trend": ("INPUTS", "OUTPUT_SLOPE"),
    "timeseries": ("INPUT_TABLE", "OUTPUT_TABLE"),
    "samplerasters": ("POINTS", "OUTPUT"),
    "kriging": ("REFERENCE", "OUTPUT"),
    "vipscreening": ("INPUT", "OUTPUT_TABLE"),
    "indexsearch": ("INPUT", "OUTPUT_TABLE"),
    "trainmodel": ("INPUT", "OUTPUT_TABLE"),
    "applymodel": ("RASTERS", "OUTPUT"),
    "casanpp": ("LANDCOVER", "OUTPUT"),
    "geodetector": ("INPUT", "OUTPUT_FACTOR"),
    "localcorrelation": ("INPUT_X", "OUTPUT_R"),
    "mlrcontribution": ("INPUT", "OUTPUT_TABLE"),
    "rfcontribution": ("INPUT", "OUTPUT_CATEGORIES"),
}


def with_(tool, base=None, **changes):
    """Parameters of ``tool``'s base run with ``changes``; a change may be a function of the context."""
    base = base or BASE[tool]

    def build(c):
        p = base(c)
        for k, v in changes.items():
            p[k] = v(c) if callable(v) else v
        return p
    return build


class _Probe:
    """A stand-in context to read the file names of a base run."""
    class _D:
        def __getattr__(self, name):
            return _Anything()
    d = _D()

    def o(self, name):
        return name


class _Anything:
    def __getitem__(self, k):
        return "x"

    def __iter__(self):
        return iter(["x"])

    def values(self):
        return ["x"]

    def keys(self):
        return []

    def __call__(self, *a, **k):
        return "x"


def _name(tool, out):
    return os.path.basename(str(BASE[tool](_Probe())[out]))


# ============================================================================ checks (hand values)
def read(path, band=1):
    return util.read_raster(path, band)


def check_raster(name, expected, atol=1e-5, band=1):
    """The output file ``name`` equals ``expected(c)`` (NaN = nodata) to ``atol``."""
    def check(c, _res):
        got = read(c.o(name), band)
        want = expected(c)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=f"{name}: nodata pattern")
        np.testing.assert_allclose(got, want, atol=atol, err_msg=name)
    return check


def finite_or_nodata(c, _res):
    """Every raster of the output folder is finite or nodata; no table cell is inf / nan."""
    from osgeo import gdal
    for name in os.listdir(c.out):
        p = os.path.join(c.out, name)
        if name.endswith(".tif"):
            ds = gdal.Open(p)
            for b in range(ds.RasterCount):
                band = ds.GetRasterBand(b + 1)
                a = band.ReadAsArray().astype(np.float64)
                nd = band.GetNoDataValue()
                bad = ~np.isfinite(a)
                if nd is not None:
                    bad &= ~(a == nd) & ~(np.isnan(a) & (nd != nd))
                assert not bad.any(), f"{name} band {b + 1}: {int(bad.sum())} non-finite pixels that are not nodata"
            ds = None
        elif name.endswith(".csv"):
            for row in csv_rows(p):
                for cell in row:
                    assert cell.strip().lower() not in ("inf", "-inf", "nan", "infinity", "-infinity"), (name, row)


def csv_rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def csv_dicts(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _is_number(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def csv_neutral(*names, keep="HYPERLINK"):
    """No cell (header included) of the CSV outputs ``names`` starts like a spreadsheet formula (=, +, -, @,
    tab, CR, unless it is a number), and the injected name is still there (``keep``)."""
    def check(c, _res):
        seen = False
        for name in names:
            for row in csv_rows(c.o(name)):
                for cell in row:
                    assert not (cell[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(cell)), \
                        f"{name}: formula cell {cell!r}"
                    seen |= keep in cell
        assert seen, f"the name holding {keep!r} is missing from {names}"
    return check


def all_of(*checks):
    def check(c, res):
        for ch in checks:
            ch(c, res)
    return check


def reference_run(c, tool, base):
    """Run the base parameters ``base`` of ``tool`` into a folder of their own; a context whose ``o(name)`` names
    its outputs (and ``d`` the case's data)."""
    import processing
    ref_dir = os.path.join(c.base, "reference")
    os.makedirs(ref_dir, exist_ok=True)

    class Ref:
        d = c.d

        @staticmethod
        def o(name):
            return os.path.join(ref_dir, name)
    processing.run(f"miningeco:{tool}", base(Ref))
    return Ref


def same_as_base(tool, names, base=None, atol=1e-6):
    """The raster outputs ``names`` equal those of the base run (run here, into a folder of its own)."""
    def check(c, _res):
        Ref = reference_run(c, tool, base or BASE[tool])
        for name in names:
            got, want = read(c.o(name)), read(Ref.o(name))
            np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=name)
            np.testing.assert_allclose(got, want, atol=atol, err_msg=name)
    return check


def mode_follows_umask(*names):
    """The outputs ``names`` have the mode a file created now gets (0666 minus the umask; issue 11, item 11)."""
    def check(c, _res):
        probe = os.path.join(c.base, "umask_probe")
        with open(probe, "w"):
            pass
        want = os.stat(probe).st_mode & 0o777
        for name in names:
            got = os.stat(c.o(name)).st_mode & 0o777
            assert got == want, f"{name}: mode {got:o}, a new file gets {want:o} (umask)"
    return check


def scene_ndvi():
    return util.ndvi(util.reflectances("L8"))


# ============================================================================ family helpers
DAMAGED = ("damaged|truncated|corrupt|incomplete|cannot be read|cannot read|could not read|can't read|unreadable|"
           "not a valid|invalid|broken|read error|failed to read|cannot be opened|could not be opened|cannot open")
FILE_KINDS = ("missing", "empty", "text", "truncated", "header", "header_ifd")


def raster_inputs(tool, param, template, kinds=FILE_KINDS + ("allnodata", "wgs84utm"), base=None, index=None,
                  words=None, cli=(), extra_grid=False, warn=()):
    """Cases with the raster of ``param`` (element ``index`` of a list parameter) replaced by a hostile variant
    of ``template(c)``; ``extra_grid``: the tool's inputs share one grid, so another grid / CRS is an error."""
    if extra_grid:
        kinds = tuple(kinds) + ("shifted", "crs")
    out = []
    for kind in kinds:
        def value(c, kind=kind):
            bad = c.d.bad(kind, template(c))
            if index is None:
                return bad
            layers = list((base or BASE[tool])(c)[param])
            layers[index] = bad
            return layers
        category = {"missing": "missing file", "empty": "empty file", "text": "text file named .tif",
                    "truncated": "truncated GeoTIFF", "header": "header-truncated TIFF",
                    "header_ifd": "header-truncated TIFF (directory intact)", "allnodata": "all-nodata raster",
                    "wgs84utm": "EPSG:4326 label on UTM coordinates", "shifted": "raster on another grid",
                    "crs": "raster in another CRS"}[kind]
        w = tuple(words or (param,))
        if kind == "wgs84utm":      # the message must point at the cause: the CRS / coordinates
            w += ("CRS|coordinate|EPSG|latitude|longitude|geographic|degree",)
        if kind == "header_ifd":    # ... the damaged file, not "one of them has no CRS" (issue 11, item 13)
            w += (DAMAGED,)
        out.append(Case(tool, f"{param.lower()}-{kind}", category, with_(tool, base, **{param: value}),
                        words=w, cli=kind in cli, expect="warn" if kind in warn else "error"))
    return out


def output_paths(tool, base=None, cli=()):
    """Outputs in a missing folder, under a file, equal to a directory, in a read-only folder; two outputs on
    one path; an output equal to an input."""
    outs = OUTPUTS[tool]
    first, last = outs[0], outs[-1]
    def words(out):
        return (f"{out}|{_name(tool, out)}",)     # the parameter, or the path the user typed

    def written(out):
        def check(c, _res):
            assert os.path.isfile(c.missing(_name(tool, out))), f"{out} was not written into the created folder"
        return check
    cases = [
        Case(tool, f"{first.lower()}-missing-folder", "output in a missing folder",
             with_(tool, base, **{first: lambda c: c.missing(_name(tool, first))}), expect="either",
             words=words(first), check=written(first), cli="missing" in cli),
        Case(tool, f"{first.lower()}-under-file", "output under a regular file",
             with_(tool, base, **{first: lambda c: c.under_file(_name(tool, first))}), words=words(first),
             cli="under" in cli),
        Case(tool, f"{first.lower()}-is-directory", "output equal to a directory",
             with_(tool, base, **{first: lambda c: c.a_dir(_name(tool, first))}), words=words(first)),
        Case(tool, f"{last.lower()}-read-only-folder", "output in a read-only folder",
             with_(tool, base, **{last: lambda c: c.read_only(_name(tool, last))}), words=words(last),
             cli="readonly" in cli),
    ]
    if last != first:
        cases.append(Case(tool, f"{last.lower()}-missing-folder", "output in a missing folder (written last)",
                          with_(tool, base, **{last: lambda c: c.missing(_name(tool, last))}), expect="either",
                          words=words(last), check=written(last)))
    for mid in MIDDLE_TABLE.get(tool, ()):   # a table written after other outputs: they must not stay behind
        cases += [
            Case(tool, f"{mid.lower()}-missing-folder", "output in a missing folder (table after others)",
                 with_(tool, base, **{mid: lambda c, mid=mid: c.missing(_name(tool, mid))}), expect="either",
                 words=words(mid), check=written(mid)),
            Case(tool, f"{mid.lower()}-read-only-folder", "output in a read-only folder (table after others)",
                 with_(tool, base, **{mid: lambda c, mid=mid: c.read_only(_name(tool, mid))}), words=words(mid))]
    for a, b in SAME_PATH.get(tool, ()):
        cases.append(Case(tool, f"same-path-{a.lower()}-{b.lower()}", "two outputs with the same path",
                          with_(tool, base, **{b: lambda c, a=a: c.o(_name(tool, a))}), words=(f"{a}|{b}",)))
    if tool in OUTPUT_IS_INPUT:
        inp, o = OUTPUT_IS_INPUT[tool]

        def build(c, inp=inp, o=o):
            p = (base or BASE[tool])(c)
            value = p[inp]
            src = value[0] if isinstance(value, list) else value
            copy = c.copy(src)
            p[inp] = [copy] + list(value[1:]) if isinstance(value, list) else copy
            p[o] = copy
            return p
        cases.append(Case(tool, f"{o.lower()}-is-input-{inp.lower()}", "output equal to an input", build,
                          words=(f"{o}|{inp}",)))
    return cases


def numbers(tool, specs, base=None):
    """``specs``: (parameter, value, words, unwords, category); words default to the parameter."""
    out = []
    for spec in specs:
        param, value = spec[0], spec[1]
        words = spec[2] if len(spec) > 2 and spec[2] else (
            (f"{param}|{param[:-5]}",) if param.endswith("_BAND") else (param,))
        unwords = spec[3] if len(spec) > 3 else ()
        category = spec[4] if len(spec) > 4 else (
            "band number out of range" if "BAND" in param else "numeric parameter out of range")
        label = {BIG: "1e12", INT31: "2p31plus1"}.get(value, str(value)) if not isinstance(value, list) else \
            "list-" + "_".join({BIG: "1e12"}.get(v, str(v)) for v in value)
        label = label.replace(" ", "").replace(",", "_")[:24]
        out.append(Case(tool, f"{param.lower()}-{label}", category, with_(tool, base, **{param: value}),
                        words=words, unwords=unwords))
    return out


def cancel(tool, base=None, timeout=30.0, **changes):
    def prepare(mp):
        from mining_eco_plugin.raster import engine
        mp.setattr(engine, "DEFAULT_BLOCK_ROWS", 2)
    return Case(tool, "cancel-at-first-progress", "cancel mid-run", with_(tool, base, **changes), expect="cancel",
                prepare=prepare, timeout=timeout)


def spaces(tool, param, template, check, base=None, index=None, extra=None):
    def value(c):
        p = c.d.bad("spaces", template(c))
        if index is None:
            return p
        layers = list((base or BASE[tool])(c)[param])
        layers[index] = p
        return layers
    changes = {param: value}
    changes.update(extra or {})
    return Case(tool, f"{param.lower()}-spaces-non-ascii", "path with spaces and non-ASCII characters",
                with_(tool, base, **changes), expect="ok", check=check)


# ============================================================================ the cases, tool by tool
def scene_band(role):
    return lambda c: util.band_path("L8", role)


def _scene_cases():
    cases = []
    # -- spectral indices ---------------------------------------------------------------------------
    t = "spectralindices"
    cases += raster_inputs(t, "RED", scene_band("RED"), extra_grid=True, cli=("truncated",))
    cases += output_paths(t, cli=("under",))
    cases += [
        Case(t, "output_folder-under-file", "output under a regular file",
             with_(t, OUTPUT_FOLDER=lambda c: c.under_file("indices")), words=("OUTPUT_FOLDER",)),
        Case(t, "output_folder-is-a-file", "output equal to an existing file",
             with_(t, OUTPUT_FOLDER=lambda c: c.copy(c.d.text_file("notes.txt", "x"))), words=("OUTPUT_FOLDER",)),
    ]
    cases += numbers(t, [("ATM_TRANSMITTANCE", 0), ("UPWELLING", -1), ("INDICES", [BIG]), ("INDICES", [-1]),
                         ("SENSOR", 7), ("RESAMPLING", 99)])
    cases += [
        Case(t, "scale-nan-custom", "nan where a number is expected", with_(t, RADIOMETRY=4, SCALE="nan"),
             words=("SCALE",)),
        Case(t, "scale-inf-custom", "numeric parameter out of range", with_(t, RADIOMETRY=4, SCALE=float("inf")),
             words=("SCALE",)),
        Case(t, "band_mapping-zero", "wrong band number", with_(t, SCENE=scene_band("RED"), BAND_MAPPING="R=0,NIR=1",
                                                                 RED=None, NIR=None), words=("BAND_MAPPING",)),
        Case(t, "band_mapping-1e12", "wrong band number", with_(t, SCENE=scene_band("RED"),
                                                                 BAND_MAPPING=f"R=1,NIR={BIG}", RED=None, NIR=None),
             words=("BAND_MAPPING",)),
        # MTL files
        Case(t, "mtl-missing", "missing file", with_(t, MTL_FILE=lambda c: c.d.path("no_such_MTL.txt")),
             words=("MTL_FILE|MTL",)),
        Case(t, "mtl-nan", "bad MTL (nan)", with_(t, MTL_FILE=lambda c: c.d.mtl_variant("nan")),
             words=("MTL_FILE|MTL",), cli=True),
        Case(t, "mtl-missing-keys", "bad MTL (missing keys)", with_(t, MTL_FILE=lambda c: c.d.mtl_variant("nokeys")),
             words=("MTL_FILE|MTL",)),
        Case(t, "mtl-empty", "empty file", with_(t, MTL_FILE=lambda c: c.d.mtl_variant("empty")), words=("MTL_FILE|MTL",)),
        Case(t, "mtl-binary", "bad MTL (binary)", with_(t, MTL_FILE=lambda c: c.d.mtl_variant("binary")),
             words=("MTL_FILE|MTL",)),
        Case(t, "mtl-other-sensor", "wrong sensor MTL", with_(t, MTL_FILE=util.mtl_path("L7")), words=("MTL_FILE|MTL",)),
        Case(t, "l8-dn-with-l7-mtl", "DN above QCALMAX (Landsat 8 DN, Landsat 7 MTL)",
             with_(t, SENSOR=1, MTL_FILE=util.mtl_path("L7"), RED=lambda c: c.d.scene_as("l8_as_l7")["RED"],
                   NIR=lambda c: c.d.scene_as("l8_as_l7")["NIR"]), words=("RED|NIR|MTL",)),
        Case(t, "s2-dn-as-landsat-l2", "Sentinel-2 DN read as Landsat Level-2",
             with_(t, RADIOMETRY=0, MTL_FILE=None, RED=lambda c: c.d.scene_as("s2")["RED"],
                   NIR=lambda c: c.d.scene_as("s2")["NIR"]), expect="warn",
             words=("RADIOMETRY|Sentinel|Level|reflectance",)),
        # custom expression
        Case(t, "expr-import-os", "expression injection",
             with_(t, CUSTOM_EXPRESSION="__import__('os').system('touch /tmp/mining_eco_pwned')"),
             words=("CUSTOM_EXPRESSION",), cli=True),
        Case(t, "expr-dunder-attribute", "expression injection", with_(t, CUSTOM_EXPRESSION="NIR.__class__.__mro__"),
             words=("CUSTOM_EXPRESSION",)),
        Case(t, "expr-subclasses", "expression injection",
             with_(t, CUSTOM_EXPRESSION="().__class__.__bases__[0].__subclasses__()"), words=("CUSTOM_EXPRESSION",)),
        Case(t, "expr-lambda", "expression injection", with_(t, CUSTOM_EXPRESSION="(lambda: 1)()"),
             words=("CUSTOM_EXPRESSION",)),
        Case(t, "expr-open", "expression injection", with_(t, CUSTOM_EXPRESSION="open('/etc/passwd').read()"),
             words=("CUSTOM_EXPRESSION",)),
        Case(t, "expr-huge-power", "expression injection (9**9**9)", with_(t, CUSTOM_EXPRESSION="NIR + 9**9**9"),
             expect="either", words=("CUSTOM_EXPRESSION",), check=finite_or_nodata, timeout=20),
        Case(t, "expr-no-band", "expression without bands", with_(t, INDICES=[], CUSTOM_EXPRESSION="1+2"),
             words=("CUSTOM_EXPRESSION",), unwords=("No raster input",)),
        Case(t, "custom-name-equals-index", "two outputs with the same path",
             with_(t, CUSTOM_EXPRESSION="(NIR-R)/(NIR+R)", CUSTOM_NAME="NDVI",
                   OUTPUT_FOLDER=lambda c: c.o("indices")), words=("CUSTOM_NAME",)),
        Case(t, "custom-name-path", "path in a name", with_(t, CUSTOM_EXPRESSION="NIR-R", CUSTOM_NAME="../../evil",
                                                            OUTPUT_FOLDER=lambda c: c.o("indices")),
             words=("CUSTOM_NAME",)),
        Case(t, "exprs-import-os", "expression injection",
             with_(t, CUSTOM_EXPRESSIONS="A=NIR-R\nB2=__import__('os').system('touch /tmp/mining_eco_pwned')"),
             words=("CUSTOM_EXPRESSIONS", "B2"), cli=True),
        Case(t, "exprs-bad-name", "path in a name", with_(t, CUSTOM_EXPRESSIONS="../../evil=NIR-R",
                                                          OUTPUT_FOLDER=lambda c: c.o("indices")),
             words=("CUSTOM_EXPRESSIONS",)),
        Case(t, "exprs-name-twice", "two outputs with the same path",
             with_(t, CUSTOM_EXPRESSIONS="A=NIR-R;a=NIR+R", OUTPUT_FOLDER=lambda c: c.o("indices")),
             words=("CUSTOM_EXPRESSIONS",)),
        Case(t, "exprs-name-equals-index", "two outputs with the same path",
             with_(t, CUSTOM_EXPRESSIONS="NDVI=NIR-R", OUTPUT_FOLDER=lambda c: c.o("indices")),
             words=("CUSTOM_EXPRESSIONS",)),
        Case(t, "exprs-not-name-expression", "malformed entry", with_(t, CUSTOM_EXPRESSIONS="(NIR-R)/(NIR+R)"),
             words=("CUSTOM_EXPRESSIONS",)),
        Case(t, "exprs-no-band", "expression without bands", with_(t, INDICES=[], CUSTOM_EXPRESSIONS="ONE=1+2"),
             words=("CUSTOM_EXPRESSIONS",), unwords=("No raster input",)),
        Case(t, "exprs-two-bands-by-hand", "valid edge (hand values)",
             with_(t, INDICES=[], CUSTOM_EXPRESSIONS="ND=(NIR-R)/(NIR+R)\nDIFF=NIR-R"), expect="ok",
             check=all_of(check_raster("ndvi.tif", lambda c: scene_ndvi(), 2e-6),
                          check_raster("ndvi.tif", lambda c: _scene_nir_minus_red(), 2e-6, band=2))),
        # valid edges
        spaces(t, "RED", scene_band("RED"), check_raster("ndvi.tif", lambda c: scene_ndvi(), 2e-6),
               extra={"NIR": lambda c: c.d.bad("spaces", util.band_path("L8", "NIR")),
                      "MTL_FILE": lambda c: _mtl_beside(c)}),
        Case(t, "one-pixel-scene", "1x1 raster",
             with_(t, RED=lambda c: c.d.bad("one", util.band_path("L8", "RED")),
                   NIR=lambda c: c.d.bad("one", util.band_path("L8", "NIR"))),
             expect="ok", check=check_raster("ndvi.tif", lambda c: scene_ndvi()[:1, :1], 2e-6)),
        Case(t, "red-nan-inf-pixels", "NaN/inf pixels",
             with_(t, RED=lambda c: c.d.bad("naninf", util.band_path("L8", "RED"))), expect="ok",
             check=all_of(finite_or_nodata, check_raster("ndvi.tif", lambda c: _nan_at_diagonal(scene_ndvi()), 2e-6))),
        Case(t, "red-constant", "constant raster",
             with_(t, RED=lambda c: c.d.bad("constant", util.band_path("L8", "RED"))), expect="ok",
             check=check_raster("ndvi.tif", lambda c: _ndvi_constant_red(c), 2e-6)),
        cancel(t, OUTPUT_FOLDER=lambda c: c.o("indices")),
        Case(t, "output-mode-umask", "output file mode (umask)", BASE[t], expect="ok",
             check=mode_follows_umask("ndvi.tif")),
    ]
    # -- LST ---------------------------------------------------------------------------------------
    t = "lst"
    cases += raster_inputs(t, "THERMAL", scene_band("THERMAL"), extra_grid=True, cli=("truncated",))
    cases += output_paths(t)
    cases += numbers(t, [("ATM_TRANSMITTANCE", 2), ("ATM_TRANSMITTANCE", "nan", ("ATM_TRANSMITTANCE|transmittance",), (),
                          "nan where a number is expected"),
                         ("DOWNWELLING", -5), ("LST_METHOD", 9)])
    cases += [
        Case(t, "mtl-inf", "bad MTL (inf)", with_(t, MTL_FILE=lambda c: c.d.mtl_variant("inf")), words=("MTL_FILE|MTL",)),
        Case(t, "mtl-negative-k1", "bad MTL (negative K1)", with_(t, MTL_FILE=lambda c: c.d.mtl_variant("negk1")),
             words=("MTL_FILE|MTL",), cli=True),
        Case(t, "mtl-missing-keys", "bad MTL (missing keys)", with_(t, MTL_FILE=lambda c: c.d.mtl_variant("nokeys")),
             words=("MTL_FILE|MTL",)),
        Case(t, "mtl-binary", "bad MTL (binary)", with_(t, MTL_FILE=lambda c: c.d.mtl_variant("binary")),
             words=("MTL_FILE|MTL",)),
        Case(t, "mtl-other-sensor", "wrong sensor MTL", with_(t, MTL_FILE=util.mtl_path("L7")), words=("MTL_FILE|MTL",)),
        Case(t, "l8-dn-with-l7-mtl", "DN above QCALMAX (Landsat 8 DN, Landsat 7 MTL)",
             with_(t, SENSOR=1, MTL_FILE=util.mtl_path("L7"),
                   **{r: (lambda c, r=r: c.d.scene_as("l8_as_l7")[r]) for r in ("RED", "NIR", "THERMAL")}),
             words=("RED|NIR|THERMAL|MTL",)),
        Case(t, "level1-dn-as-level2", "Level-1 DN read as Level-2", with_(t, RADIOMETRY=0, MTL_FILE=None),
             expect="warn", words=("RADIOMETRY|Level",)),
        spaces(t, "THERMAL", scene_band("THERMAL"),
               check_raster("lst.tif", lambda c: util.lst_celsius("L8"), 2e-3),
               extra={**{r: (lambda c, r=r: c.d.bad("spaces", util.band_path("L8", r))) for r in ("RED", "NIR")},
                      "MTL_FILE": lambda c: _mtl_beside(c)}),
        Case(t, "thermal-nan-inf-pixels", "NaN/inf pixels",
             with_(t, THERMAL=lambda c: c.d.bad("naninf", util.band_path("L8", "THERMAL"))), expect="ok",
             check=all_of(finite_or_nodata,
                          check_raster("lst.tif", lambda c: _nan_at_diagonal(util.lst_celsius("L8")), 2e-3))),
        cancel(t),
    ]
    # -- RSEI from a scene ----------------------------------------------------------------------------
    t = "rsei"
    cases += raster_inputs(t, "NIR", scene_band("NIR"), extra_grid=True, cli=("header",))
    cases += output_paths(t, cli=("missing",))
    cases += [
        Case(t, "output_report-under-file", "output under a regular file (report)",
             with_(t, OUTPUT_REPORT=lambda c: c.under_file("rsei.html")), words=("OUTPUT_REPORT",)),
    ]
    cases += numbers(t, [("SAMPLE_SIZE", BIG, None, ("must be > 0",)), ("SAMPLE_SIZE", INT31, None, ("must be > 0",)),
                         ("SAMPLE_SIZE", 0), ("CLIP_PERCENT", -1), ("CLIP_PERCENT", 50),
                         ("CLIP_PERCENT", "nan", None, (), "nan where a number is expected"),
                         ("MNDWI_THRESHOLD", "nan", None, (), "nan where a number is expected"),
                         ("WET_COEFFICIENTS", 9)])
    cases += [
        Case(t, "mtl-nan", "bad MTL (nan)", with_(t, MTL_FILE=lambda c: c.d.mtl_variant("nan")), words=("MTL_FILE|MTL",)),
        Case(t, "mtl-negative-k1", "bad MTL (negative K1)", with_(t, MTL_FILE=lambda c: c.d.mtl_variant("negk1")),
             words=("MTL_FILE|MTL",)),
        Case(t, "level1-dn-as-level2", "Level-1 DN read as Level-2", with_(t, RADIOMETRY=0, MTL_FILE=None),
             expect="warn", words=("RADIOMETRY|Level",)),
        Case(t, "one-pixel-scene", "1x1 raster",
             with_(t, **{r: (lambda c, r=r: c.d.bad("one", util.band_path("L8", r)))
                         for r in ("BLUE", "GREEN", "RED", "NIR", "SWIR1", "SWIR2", "THERMAL")}),
             words=("RSEI|pixel",)),
        cancel(t),
    ]
    return cases


def _product_cases():
    """PRODUCT (issue 13): hostile products refused naming PRODUCT and what is wrong; a valid .tar computes what
    the explicit band layers with the MTL and the BQA band compute."""
    cases = []
    plain = {"RED": None, "NIR": None, "GREEN": None, "BLUE": None, "SWIR1": None, "SWIR2": None, "THERMAL": None,
             "MTL_FILE": None}
    for t in ("spectralindices", "lst", "rsei"):
        def product(kind, **more):
            return with_(t, PRODUCT=lambda c: c.d.scene_product(kind), **plain, **more)
        cases += [
            Case(t, "product-random-bytes", "bad product (random bytes)", product("random", TOA_OK=True),
                 words=("PRODUCT", "not a readable tar")),
            Case(t, "product-empty-tar", "bad product (empty tar)", product("empty_tar", TOA_OK=True),
                 words=("PRODUCT", "empty")),
            Case(t, "product-truncated-tar", "bad product (truncated tar)", product("truncated_tar", TOA_OK=True),
                 words=("PRODUCT", "_B7.TIF"), cli=t == "rsei"),
            Case(t, "product-folder", "bad product (a folder of rasters)", product("folder", TOA_OK=True),
                 words=("PRODUCT", "no Landsat metadata")),
            Case(t, "product-level1-without-toa-ok", "Level-1 product where surface reflectance is needed",
                 product("l8_tar"), words=("PRODUCT", "Level-1", "TOA_OK")),
            Case(t, "product-s2-zip-without-scl", "bad product (S2 zip without SCL)", product("s2_no_scl"),
                 words=("PRODUCT", "SCL")),
            Case(t, "product-and-band-layers", "two inputs for one band",
                 with_(t, PRODUCT=lambda c: c.d.scene_product("l8_tar"), TOA_OK=True), words=("PRODUCT", "RED")),
        ]
    t = "spectralindices"
    cases.append(Case(t, "product-l8-tar", "valid product (.tar)",
                      with_(t, PRODUCT=lambda c: c.d.scene_product("l8_tar"), TOA_OK=True, **plain), expect="ok",
                      check=same_as_base(t, ["ndvi.tif"], base=with_(t, QA_BAND=util.L8 + "_BQA.TIF"), atol=0.0)))
    return cases


def _mtl_beside(c):
    """The Landsat 8 MTL copied beside the band copies in the folder with spaces and non-ASCII characters."""
    import shutil
    folder = os.path.dirname(c.d.bad("spaces", util.band_path("L8", "RED")))
    dst = os.path.join(folder, os.path.basename(util.mtl_path("L8")))
    if not os.path.exists(dst):
        shutil.copyfile(util.mtl_path("L8"), dst)
    return dst


def _scene_nir_minus_red():
    """NIR - R of the Landsat 8 test scene in TOA reflectance (as scene_ndvi: the MTL's constants by hand)."""
    b = util.reflectances("L8")
    return b["NIR"] - b["RED"]


def _nan_at_diagonal(a):
    a = a.copy()
    a[0, 0] = a[1, 1] = a[2, 2] = np.nan
    return a


def _ndvi_constant_red(c):
    mtl = util.read_mtl(util.mtl_path("L8"))
    dn = read_meta(c.d.bad("constant", util.band_path("L8", "RED")))[0].astype(float)
    r = (mtl["REFLECTANCE_MULT_BAND_4"] * dn + mtl["REFLECTANCE_ADD_BAND_4"]) / math.sin(
        math.radians(mtl["SUN_ELEVATION"]))
    n = util.toa_reflectance("L8", "NIR", mtl)
    return (n - r) / (n + r)


def _ecology_cases():
    cases = []
    # -- RSEI from components -------------------------------------------------------------------------
    t = "rseicomponents"
    comp = lambda c: c.d.components["GREENNESS"]  # noqa: E731
    cases += raster_inputs(t, "GREENNESS", comp, extra_grid=True, cli=("truncated",))
    cases += output_paths(t)
    cases += numbers(t, [("GREENNESS_BAND", 0), ("GREENNESS_BAND", BIG), ("HEAT_BAND", 2),
                         ("SAMPLE_SIZE", BIG, None, ("must be > 0",))])
    cases += [
        Case(t, "all-components-wgs84utm", "EPSG:4326 label on UTM coordinates",
             with_(t, **{k: (lambda c, k=k: c.d.bad("wgs84utm", c.d.components[k])) for k in
                         ("GREENNESS", "WETNESS", "DRYNESS", "HEAT")}),
             words=("GREENNESS|WETNESS|DRYNESS|HEAT", "CRS|coordinate|EPSG|latitude|longitude|geographic|degree")),
        Case(t, "greenness-constant", "constant raster",
             with_(t, GREENNESS=lambda c: c.d.bad("constant", c.d.components["GREENNESS"])),
             words=("GREENNESS|NDVI",)),
        Case(t, "heat-nan-inf-pixels", "NaN/inf pixels",
             with_(t, HEAT=lambda c: c.d.bad("naninf", c.d.components["HEAT"])), expect="ok", check=all_of(
                 finite_or_nodata, lambda c, r: _assert(np.isnan(read(c.o("rsei.tif"))[[0, 1, 2], [0, 1, 2]]).all(),
                                                        "RSEI is not nodata at the NaN / inf pixels of HEAT"))),
        spaces(t, "HEAT", lambda c: c.d.components["HEAT"], same_as_base(t, ["rsei.tif", "grades.tif"])),
        cancel(t),
    ]
    # -- RSEI series ------------------------------------------------------------------------------------
    t = "rseiseries"
    first = lambda c: c.d.composites[0]  # noqa: E731
    # the first year is the hostile one: a failure in a later year keeps the years before it (the series' one
    # documented exception, test/test_rsei_series.py), here nothing may be left
    cases += raster_inputs(t, "COMPOSITES", first, index=0, cli=("truncated",),
                           kinds=tuple(k for k in FILE_KINDS + ("wgs84utm",)))
    # an all-nodata year (no clear observation) has no RSEI: left out with a warning, the series goes on (without
    # asking the summary of 4 years or a transfer from the empty year, which would fail after the years are kept)
    cases.append(Case(t, "composites-allnodata", "all-nodata raster",
                      with_(t, COMPOSITES=lambda c: [c.d.bad("allnodata", first(c))] + list(c.d.composites)[1:],
                            TIMESERIES=False, TRANSFER_YEARS="2014,2016"),
                      words=("COMPOSITES",), expect="warn"))
    cases += output_paths(t)
    cases += numbers(t, [("SAMPLE_SIZE", BIG, None, ("must be > 0",)), ("CLIP_PERCENT", 50), ("SEED", INT31),
                         ("MNDWI_THRESHOLD", "nan")])

    def composites_with(kind):
        return lambda c: [c.d.composite_variant(kind)] + list(c.d.composites)
    cases += [
        Case(t, "composite-without-year", "no year in metadata or name", with_(t, COMPOSITES=composites_with("noyear")),
             words=("COMPOSITES", "year", "composite.tif"), cli=True),
        Case(t, "composite-year-1900", "year out of range", with_(t, COMPOSITES=composites_with("year1900")),
             words=("COMPOSITES", "MINING_ECO_PERIOD", "1900")),
        Case(t, "composite-wet-set-unknown", "metadata malformed", with_(t, COMPOSITES=composites_with("wetset")),
             words=("COMPOSITES", "MINING_ECO_WET_SET")),
        Case(t, "composites-same-year", "duplicate years",
             with_(t, COMPOSITES=lambda c: list(c.d.composites) + [c.copy(c.d.composites[0], "again_2013.tif")]),
             words=("COMPOSITES", "2013")),
        Case(t, "transfer-years-not-in-series", "years malformed", with_(t, TRANSFER_YEARS="2013,2099"),
             words=("TRANSFER_YEARS", "2099")),
        Case(t, "transfer-years-decreasing", "years malformed", with_(t, TRANSFER_YEARS="2016,2013"),
             words=("TRANSFER_YEARS",)),
        Case(t, "transfer-years-text", "years malformed", with_(t, TRANSFER_YEARS="2013,last"),
             words=("TRANSFER_YEARS",)),
        Case(t, "trend-two-years", "too few dates",
             with_(t, COMPOSITES=lambda c: list(c.d.composites[:2]), TRANSFER_YEARS="", TIMESERIES=False),
             words=("TREND", "3")),
        Case(t, "timeseries-three-years", "too few dates",
             with_(t, COMPOSITES=lambda c: list(c.d.composites[:3]), TRANSFER_YEARS=""), words=("TIMESERIES", "4")),
        Case(t, "output-folder-under-file", "output under a regular file",
             with_(t, OUTPUT_FOLDER=lambda c: c.under_file("series")), words=("OUTPUT_FOLDER",)),
        Case(t, "output-folder-read-only", "output in a read-only folder",
             with_(t, OUTPUT_FOLDER=lambda c: c.read_only("series")), words=("OUTPUT_FOLDER",)),
        Case(t, "output-folder-missing-parents", "output in a missing folder",
             with_(t, OUTPUT_FOLDER=lambda c: c.missing("series")), expect="ok",
             check=lambda c, res: _assert(os.path.isfile(os.path.join(c.missing("series"), "rsei_2016.tif")),
                                          "rsei_2016.tif was not written into the created folder")),
        # the products mode (the composite tool's inputs)
        Case(t, "products-and-composites", "two inputs for one thing",
             with_(t, PRODUCTS=lambda c: [c.d.product("folder")], TOA_OK=True), words=("COMPOSITES", "PRODUCTS")),
        Case(t, "product_folder-empty", "a folder without products",
             with_(t, COMPOSITES=None, PRODUCT_FOLDER=lambda c: c.d.product("empty_folder")),
             words=("PRODUCT_FOLDER",), cli=True),
        Case(t, "products-level1-without-toa_ok", "Level-1 product where surface reflectance is needed",
             with_(t, COMPOSITES=None, PRODUCTS=lambda c: [c.d.product("folder")], TRANSFER_YEARS="", TREND=False,
                   TIMESERIES=False), words=("TOA_OK", "Level-1")),
        Case(t, "products-truncated-tar", "truncated product .tar",
             with_(t, COMPOSITES=None, PRODUCTS=lambda c: [c.d.product("truncated_tar")], TOA_OK=True,
                   TRANSFER_YEARS="", TREND=False, TIMESERIES=False), words=("PRODUCTS",)),
        Case(t, "products-one-year-with-trend", "too few dates",
             with_(t, COMPOSITES=None, PRODUCTS=lambda c: [c.d.product("folder")], TOA_OK=True, MONTH_FIRST=6,
                   MONTH_LAST=6, TRANSFER_YEARS=""), words=("TREND", "3")),
        cancel(t, timeout=60.0),
    ]
    # -- EG index ---------------------------------------------------------------------------------------
    t = "egindex"
    cases += raster_inputs(t, "LANDUSE", lambda c: c.d.cls1, cli=("truncated",))
    cases += output_paths(t)
    cases += numbers(t, [("WINDOW_SIZE", 1000001), ("WINDOW_SIZE", INT31, None, ("0 is not",)), ("WINDOW_SIZE", 4),
                         ("WINDOW_SIZE", 0), ("WINDOW_SIZE", -3), ("LANDUSE_BAND", 0), ("LANDUSE_BAND", BIG)])
    cases += [
        Case(t, "grade-table-ragged", "matrix parameter malformed", with_(t, GRADE_TABLE=["1", "5", "Cropland", "2"]),
             words=("GRADE_TABLE",)),
        Case(t, "grade-table-text-grade", "matrix parameter malformed",
             with_(t, GRADE_TABLE=["1", "high", "Cropland", "2", "2", "Forest"]), words=("GRADE_TABLE",)),
        Case(t, "grade-table-nan-code", "matrix parameter malformed",
             with_(t, GRADE_TABLE=["nan", "5", "Cropland", "2", "2", "Forest"]), words=("GRADE_TABLE",)),
        Case(t, "thousand-unknown-codes", "unknown codes (message length)",
             with_(t, LANDUSE=lambda c: _thousand_codes(c)), words=("GRADE_TABLE",), max_len=1500),
        Case(t, "landuse-float-raster", "float raster where classes are expected", with_(t, LANDUSE=lambda c: c.d.rsei),
             words=("LANDUSE",)),
        Case(t, "series-band-1e12", "band number out of range",
             with_(t, LANDUSE_SERIES=lambda c: [c.d.cls1, c.d.cls2], BAND=BIG, OUTPUT_YEARLY=lambda c: c.o("yearly.csv")),
             words=("BAND",)),
        Case(t, "zone-name-injection", "CSV injection",
             with_(t, ZONES=lambda c: c.d.zones("zones_inj", ('=HYPERLINK("http://evil.example")', "@SUM(A1:A9)")),
                   ZONE_FIELD="name"), expect="ok", check=csv_neutral("eg.csv")),
        Case(t, "landuse-constant", "constant raster",
             with_(t, LANDUSE=lambda c: _constant_landuse(c)), expect="ok",
             check=all_of(check_raster("eg.tif", lambda c: np.full((H, W), 2.0)),
                          lambda c, res: _assert(abs(res["EG_WHOLE"] - 2.0) < 1e-12, f"EG_WHOLE {res['EG_WHOLE']}"))),
        Case(t, "landuse-one-pixel", "1x1 raster", with_(t, LANDUSE=lambda c: c.d.bad("one", c.d.cls1)),
             expect="ok", check=lambda c, res: _assert(abs(res["EG_WHOLE"] - 5.0) < 1e-12,
                                                      f"EG_WHOLE {res['EG_WHOLE']} (code 1 cropland = grade 5)")),
        spaces(t, "LANDUSE", lambda c: c.d.cls1, same_as_base(t, ["eg.tif", "eg_norm.tif"])),
        cancel(t),
    ]
    # -- coupling ---------------------------------------------------------------------------------------
    t = "coupling"
    cases += raster_inputs(t, "EG", lambda c: c.d.eg, extra_grid=True, cli=("empty",))
    cases += output_paths(t)
    cases += numbers(t, [("EG_BAND", BIG), ("EG_BAND", 0), ("RSEI_METHOD", 7)])
    cases += [
        Case(t, "sample-size-1e12-terciles", "numeric parameter out of range",
             with_(t, RSEI_METHOD=1, SAMPLE_SIZE=BIG), words=("SAMPLE_SIZE",), unwords=("must be > 0",)),
        Case(t, "rsei-breaks-decreasing", "breaks malformed", with_(t, RSEI_METHOD=2, RSEI_BREAKS="0.7,0.4"),
             words=("RSEI_BREAKS",)),
        Case(t, "rsei-breaks-nan", "nan where a number is expected", with_(t, RSEI_METHOD=2, RSEI_BREAKS="nan,0.5"),
             words=("RSEI_BREAKS",)),
        Case(t, "eg-breaks-text", "breaks malformed", with_(t, EG_METHOD=2, EG_BREAKS="low,high"),
             words=("EG_BREAKS",)),
        Case(t, "user-breaks-hand-codes", "valid edge (hand codes)",
             with_(t, RSEI_METHOD=2, RSEI_BREAKS="0.4,0.7", EG_METHOD=2, EG_BREAKS="0.4,0.7"), expect="ok",
             check=check_raster("coupling.tif", lambda c: _coupling_codes(c), 0)),
        Case(t, "eg-constant", "constant raster", with_(t, EG=lambda c: c.d.bad("constant", c.d.eg)),
             words=("EG",)),
        spaces(t, "EG", lambda c: c.d.eg, same_as_base(t, ["coupling.tif"])),
        cancel(t),
    ]
    return cases


#: the hostile grid's extent (hostile_data: 20 x 16 pixels of 30 m from (300000, 4200000), EPSG:32649)
_KRIGE_EXTENT = f"300000,{300000 + W * PIXEL},{4200000 - H * PIXEL},4200000 [EPSG:32649]"


def _same_grid(path, reference):
    from osgeo import gdal
    a, b = gdal.Open(path), gdal.Open(reference)
    _assert((a.GetGeoTransform(), a.RasterXSize, a.RasterYSize) == (b.GetGeoTransform(), b.RasterXSize,
                                                                     b.RasterYSize), "the extent's grid differs")


def _assert(cond, text):
    assert cond, text


def _thousand_codes(c):
    """A land-use raster holding 1100 codes (100 .. 1199) that the grade table does not know."""
    from hostile_data import write_tif, grid_gt, wkt_of, EPSG
    from osgeo import gdal
    return c.d._once("codes1100", lambda: write_tif(c.d.path("landuse_codes_2000.tif"),
                                                      (100 + np.arange(1100)).reshape(20, 55), grid_gt(),
                                                      wkt_of(EPSG), 0, gdal.GDT_UInt16))


def _constant_landuse(c):
    from hostile_data import write_grid
    from osgeo import gdal
    return c.d._once("landuse_const", lambda: write_grid(c.d.path("landuse_forest_2000.tif"), np.full((H, W), 2),
                                                         nodata=0, dtype=gdal.GDT_Byte))


def _coupling_codes(c):
    rsei, eg = read(c.d.rsei), read(c.d.eg)

    def level(a):
        return np.where(a < 0.4, 1, np.where(a < 0.7, 2, 3))
    return (10 * level(eg) + level(rsei)).astype(float)


def _change_cases():
    cases = []
    # -- transfer matrix ----------------------------------------------------------------------------------
    t = "transfermatrix"
    cases += raster_inputs(t, "DATE2", lambda c: c.d.cls2, extra_grid=True, cli=("truncated",))
    cases += output_paths(t)
    cases += numbers(t, [("DATE1_BAND", 0), ("DATE1_BAND", BIG), ("UNITS", 9)])
    cases += [
        Case(t, "class-names-duplicate", "table malformed", with_(t, CLASS_NAMES="1=Forest,1=Water"),
             words=("CLASS_NAMES",)),
        Case(t, "class-names-not-integer", "table malformed", with_(t, CLASS_NAMES="x=Forest"), words=("CLASS_NAMES",)),
        Case(t, "class-table-duplicate-codes", "table: duplicate codes",
             with_(t, CLASS_TABLE=lambda c: c.d._once("ct_dup", lambda: _write_classes(c, "dup", [(1, "a"), (1, "b")]))),
             words=("CLASS_TABLE",)),
        Case(t, "class-names-injection", "CSV injection",
             with_(t, CLASS_NAMES='1==HYPERLINK("http://evil.example");2=@SUM(A1:A9);3=+3+4;4=-2+3;5=Water'),
             expect="ok", check=csv_neutral("matrix.csv", "legend.csv")),
        Case(t, "class-table-injection", "CSV injection",
             with_(t, CLASS_TABLE=lambda c: c.d._once("ct_inj", lambda: _write_classes(
                 c, "inj", [(1, '=HYPERLINK("http://evil.example")'), (2, "@SUM(A1:A9)"), (3, "+3+4")])),
                   OUTPUT_CHANGE=None), expect="ok", check=csv_neutral("matrix.csv", "legend.csv")),
        Case(t, "date1-float", "float raster where classes are expected", with_(t, DATE1=lambda c: c.d.rsei),
             words=("DATE1",)),
        Case(t, "both-dates-wgs84utm", "EPSG:4326 label on UTM coordinates",
             with_(t, DATE1=lambda c: c.d.bad("wgs84utm", c.d.cls1), DATE2=lambda c: c.d.bad("wgs84utm", c.d.cls2)),
             words=("DATE1|DATE2", "CRS|coordinate|EPSG|latitude|longitude|geographic|degree")),
        Case(t, "same-date-twice", "valid edge (no change)", with_(t, DATE2=lambda c: c.d.cls1), expect="ok",
             check=lambda c, res: _no_change(c, res)),
        spaces(t, "DATE2", lambda c: c.d.cls2, same_as_base(t, ["change.tif"])),
        cancel(t),
    ]
    # -- class areas --------------------------------------------------------------------------------------
    t = "classareas"
    cases += raster_inputs(t, "LAYERS", lambda c: c.d.cls2, index=1, cli=("wgs84utm",))
    cases += output_paths(t)
    cases += numbers(t, [("BAND", BIG), ("BAND", 0), ("UNITS", 5)])
    cases += [
        Case(t, "years-too-few", "table malformed", with_(t, YEARS="2000"), words=("YEARS",)),
        Case(t, "years-duplicate", "duplicate years", with_(t, YEARS="2000,2000"), words=("YEARS",)),
        Case(t, "years-nan", "nan where a number is expected", with_(t, YEARS="nan,2010"), words=("YEARS",)),
        Case(t, "class-names-injection", "CSV injection",
             with_(t, CLASS_NAMES='1==HYPERLINK("http://evil.example");2=@SUM(A1:A9);3=+3+4'), expect="ok",
             check=csv_neutral("areas.csv")),
        Case(t, "one-pixel-layers", "1x1 raster",
             with_(t, LAYERS=lambda c: [c.d.bad("one", c.d.cls1), c.d.bad("one", c.d.cls2)]), expect="ok",
             check=lambda c, res: _one_pixel_area(c)),
        Case(t, "wgs84-45n-ellipsoid", "areas on EPSG:4326 (ellipsoid)",
             with_(t, LAYERS=lambda c: _wgs84_layers(c), UNITS=0), expect="ok", check=lambda c, res: _wgs84_areas(c)),
        spaces(t, "LAYERS", lambda c: c.d.cls2, lambda c, res: _areas_by_hand(c), index=1),
        cancel(t),
    ]
    # -- trend --------------------------------------------------------------------------------------------
    t = "trend"
    series = lambda c: c.d.series[2]  # noqa: E731
    cases += raster_inputs(t, "INPUTS", series, kinds=FILE_KINDS + ("wgs84utm",), index=2, extra_grid=True,
                           cli=("truncated",))
    cases += output_paths(t)
    cases += numbers(t, [("BAND", BIG), ("BAND", 0), ("MIN_VALID", BIG), ("MIN_VALID", INT31, None, ("more than",)),
                         ("CONFIDENCE", 5)])
    cases += [
        Case(t, "years-duplicate", "duplicate years", with_(t, YEARS="2000,2000,2001,2002,2003"), words=("YEARS",)),
        Case(t, "years-nan", "nan where a number is expected", with_(t, YEARS="nan,2001,2002,2003,2004"),
             words=("YEARS",)),
        Case(t, "one-date-all-nodata", "all-nodata raster (a gap)",
             with_(t, INPUTS=lambda c: _replace(c.d.series, 2, c.d.bad("allnodata", c.d.series[2]))), expect="ok",
             check=all_of(check_raster("slope.tif", lambda c: np.full((H, W), SLOPE), 1e-6),
                          check_raster("count.tif", lambda c: np.full((H, W), 4.0), 0))),
        Case(t, "every-pixel-below-min-valid", "all pixels below MIN_VALID",
             with_(t, INPUTS=lambda c: _replace(c.d.series, 2, c.d.bad("allnodata", c.d.series[2])), MIN_VALID=5),
             expect="warn", words=("MIN_VALID",)),
        Case(t, "output-mode-umask", "output file mode (umask)", BASE[t], expect="ok",
             check=mode_follows_umask("slope.tif", "class.tif", "trend.csv")),
        Case(t, "one-date-nan-inf", "NaN/inf pixels",
             with_(t, INPUTS=lambda c: _replace(c.d.series, 2, c.d.bad("naninf", c.d.series[2]))), expect="ok",
             check=all_of(finite_or_nodata, check_raster("slope.tif", lambda c: np.full((H, W), SLOPE), 1e-6))),
        Case(t, "one-pixel-stack", "1x1 raster", with_(t, INPUTS=lambda c: [c.d.bad("one", p) for p in c.d.series]),
             expect="ok", check=check_raster("slope.tif", lambda c: np.full((1, 1), SLOPE), 1e-6)),
        Case(t, "constant-series", "constant rasters",
             with_(t, INPUTS=lambda c: [c.d.series[0]] * 5, YEARS="2000,2001,2002,2003,2004"), expect="ok",
             check=all_of(check_raster("slope.tif", lambda c: np.zeros((H, W)), 0),
                          check_raster("class.tif", lambda c: np.full((H, W), 2.0), 0))),
        spaces(t, "INPUTS", series, check_raster("slope.tif", lambda c: np.full((H, W), SLOPE), 1e-6), index=2),
        cancel(t),
    ]
    # -- time series --------------------------------------------------------------------------------------
    t = "timeseries"
    cases += raster_inputs(t, "RASTERS", series, kinds=FILE_KINDS + ("allnodata",), base=RASTER_BASE[t], index=2,
                           cli=("truncated",))
    cases += output_paths(t)
    cases += numbers(t, [("BREAKPOINT", 1e12), ("BREAKPOINT", "nan", None, (), "nan where a number is expected"),
                         ("MIN_SEGMENT", BIG), ("MIN_SEGMENT", INT31)])
    cases += [
        Case(t, "value-field-missing", "table: missing field", with_(t, VALUE_FIELD="nope"),
             words=("VALUE_FIELD|'nope'",)),
        Case(t, "value-field-text", "table: non-numeric field",
             with_(t, INPUT_TABLE=lambda c: c.d.series_variant("text", [(2000 + i, "abc" if i == 3 else f"{i}")
                                                                         for i in range(8)], ("Integer", "String"))),
             words=("VALUE_FIELD",)),
        Case(t, "too-few-rows", "table: too few rows",
             with_(t, INPUT_TABLE=lambda c: c.d.series_variant("two", [(2000, "1"), (2001, "2")])),
             words=("YEAR_FIELD|VALUE_FIELD|INPUT_TABLE",)),
        Case(t, "duplicate-years", "table: duplicate years",
             with_(t, INPUT_TABLE=lambda c: c.d.series_variant("dup", [(2000 + min(i, 5), f"{i}") for i in range(8)])),
             words=("YEAR_FIELD",)),
        Case(t, "nan-values", "table: NaN values",
             with_(t, INPUT_TABLE=lambda c: c.d.series_variant("nan", [(2000 + i, "" if i == 3 else f"{i}")
                                                                        for i in range(8)])),
             expect="warn", words=("VALUE_FIELD",)),
        Case(t, "constant-series", "table: constant field (no turning point)",
             with_(t, INPUT_TABLE=lambda c: c.d.series_variant("const", [(2000 + i, "0.1") for i in range(10)])),
             expect="ok", check=lambda c, res: _assert(res["TURNING_POINT"] is None or (
                 isinstance(res["TURNING_POINT"], float) and math.isnan(res["TURNING_POINT"])),
                 f"a constant series has no turning point; got {res['TURNING_POINT']}")),
        Case(t, "linear-series", "valid edge (hand slope)", BASE[t], expect="ok",
             check=lambda c, res: _assert(abs(res["SLOPE"] - 0.01) < 1e-12 and abs(res["R2"] - 1) < 1e-9,
                                          f"SLOPE {res['SLOPE']} R2 {res['R2']} (0.01, 1)")),
        Case(t, "rasters-nan-inf", "NaN/inf pixels",
             with_(t, RASTER_BASE[t], RASTERS=lambda c: _replace(c.d.series, 2, c.d.bad("naninf", c.d.series[2]))),
             expect="ok", check=all_of(finite_or_nodata, lambda c, res: _assert(
                 abs(res["SLOPE"] - SLOPE) < 1e-6, f"SLOPE {res['SLOPE']} (the means rise by {SLOPE} a year)"))),
        spaces(t, "RASTERS", series, lambda c, res: _assert(abs(res["SLOPE"] - SLOPE) < 1e-6, f"SLOPE {res['SLOPE']}"),
               base=RASTER_BASE[t], index=2),
        cancel(t, base=RASTER_BASE[t]),
    ]
    return cases


def _replace(seq, i, value):
    out = list(seq)
    out[i] = value
    return out


def _write_classes(c, name, rows):
    from hostile_data import write_csv
    return write_csv(c.d.path(f"classes_{name}.csv"), ["code", "name"], rows, ["Integer", "String"])


def _no_change(c, res):
    assert res["CHANGED_AREA_KM2"] == 0, res["CHANGED_AREA_KM2"]
    a = c.d.cls1_array()
    rows = {int(r["class"]): r for r in csv_dicts(c.o("matrix.csv")) if r["class"]}
    for code in range(1, 6):
        want = (a == code).sum() * PIXEL * PIXEL / 1e6
        assert abs(float(rows[code]["unchanged"]) - want) < 1e-9, (code, rows[code]["unchanged"], want)


def _one_pixel_area(c):
    rows = csv_dicts(c.o("areas.csv"))
    got = {(r["date"], int(r["class"])): float(r["area"]) for r in rows if float(r["area"] or 0) > 0}
    assert got == {("2000", 1): 900 / 1e6, ("2010", 5): 900 / 1e6}, got


def _areas_by_hand(c):
    rows = csv_dicts(c.o("areas.csv"))
    for date, arr in (("2000", c.d.cls1_array()), ("2010", c.d.cls2_array())):
        for code in range(1, 6):
            got = [float(r["area"]) for r in rows if r["date"] == date and int(r["class"]) == code]
            assert got and abs(got[0] - (arr == code).sum() * 900 / 1e6) < 1e-12, (date, code, got)


WGS84_CELL = 0.25


def _wgs84_layers(c):
    """Two 4 x 4 class rasters of 0.25 deg cells at 44.5..45.5 N, 10..11 E (EPSG:4326): every cell its own code
    at 2000, one code at 2010."""
    from hostile_data import write_tif, wkt_of
    from osgeo import gdal
    gt = (10.0, WGS84_CELL, 0.0, 45.5, 0.0, -WGS84_CELL)

    def build():
        a = c.d.path("wgs84_2000.tif")
        write_tif(a, (1 + np.arange(16)).reshape(4, 4), gt, wkt_of(4326), 0, gdal.GDT_Byte)
        b = c.d.path("wgs84_2010.tif")
        write_tif(b, np.full((4, 4), 7), gt, wkt_of(4326), 0, gdal.GDT_Byte)
        return [a, b]
    return c.d._once("wgs84", build)


def _geod_area(lat0, lat1, lon0, lon1):
    """Area (m2) of a lat/lon cell on the WGS84 ellipsoid: pyproj Geod on the cell's edges densified to 1000
    points each."""
    from pyproj import Geod
    g = Geod(ellps="WGS84")
    n = 1000
    lons = np.concatenate([np.linspace(lon0, lon1, n), np.full(n, lon1), np.linspace(lon1, lon0, n), np.full(n, lon0)])
    lats = np.concatenate([np.full(n, lat0), np.linspace(lat0, lat1, n), np.full(n, lat1), np.linspace(lat1, lat0, n)])
    return abs(g.polygon_area_perimeter(lons, lats)[0])


def _wgs84_areas(c):
    rows = csv_dicts(c.o("areas.csv"))
    for code in range(1, 17):
        r, col = divmod(code - 1, 4)
        lat1 = 45.5 - r * WGS84_CELL
        want = _geod_area(lat1 - WGS84_CELL, lat1, 10 + col * WGS84_CELL, 10 + (col + 1) * WGS84_CELL) / 1e6
        got = [float(x["area"]) for x in rows if x["date"] == "2000" and int(x["class"]) == code]
        assert got and abs(got[0] / want - 1) < 1e-6, f"class {code}: {got} km2, WGS84 ellipsoid {want:.9g} km2 " \
                                                       f"({(got[0] / want - 1) if got else 0:+.2e})"


def _salinity_cases():
    cases = []
    # -- sample rasters -------------------------------------------------------------------------------------
    t = "samplerasters"
    feat = lambda c: c.d.features["ndvi"]  # noqa: E731
    cases += raster_inputs(t, "RASTERS", feat, kinds=FILE_KINDS, index=0, cli=("truncated",))
    cases += [
        Case(t, "rasters-allnodata", "all-nodata raster",
             with_(t, RASTERS=lambda c: [c.d.bad("allnodata", c.d.features["ndvi"])]), words=("POINTS|RASTERS",)),
        Case(t, "rasters-wgs84utm", "EPSG:4326 label on UTM coordinates",
             with_(t, RASTERS=lambda c: [c.d.bad("wgs84utm", c.d.features["ndvi"])]), words=("POINTS|RASTERS",)),
        Case(t, "points-missing", "missing file", with_(t, POINTS=lambda c: c.d.path("no_points.gpkg")),
             words=("POINTS",)),
        Case(t, "points-text", "text file named .gpkg", with_(t, POINTS=lambda c: c.d.text_file("pts.gpkg", "x,y\n")),
             words=("POINTS",)),
        Case(t, "points-polygons", "wrong geometry type", with_(t, POINTS=lambda c: c.d.zones()), words=("POINTS",)),
        Case(t, "method-9", "numeric parameter out of range", with_(t, METHOD=9), words=("METHOD",)),
    ]
    cases += output_paths(t)
    cases += [
        Case(t, "nearest-hand-values", "valid edge (hand values)", BASE[t], expect="ok",
             check=lambda c, res: _sampled_by_hand(c)),
        spaces(t, "RASTERS", feat, lambda c, res: _sampled_by_hand(c, names=("ndvi",)), index=0),
        cancel(t),
        Case(t, "rasters-nan-inf", "NaN/inf pixels",
             with_(t, RASTERS=lambda c: [c.d.bad("naninf", c.d.features["ndvi"])]), expect="ok",
             check=lambda c, res: _assert(res["SAMPLED_COUNT"] == 5 and res["REJECTED_COUNT"] == 1,
                                          f"sampled {res['SAMPLED_COUNT']}, rejected {res['REJECTED_COUNT']} "
                                          "(the point on the NaN pixel (1, 1) must be rejected)")),
    ]
    # -- VIP screening --------------------------------------------------------------------------------------
    t = "vipscreening"
    cases += output_paths(t)
    cases += numbers(t, [("N_COMPONENTS", BIG), ("MAX_COMPONENTS", INT31), ("CV_FOLDS", BIG), ("CV_FOLDS", 1),
                         ("RHO", 0), ("VIP_THRESHOLD", "nan", None, (), "nan where a number is expected"),
                         ("GRA_THRESHOLD", 2)])
    cases += _table_cases(t, "TARGET_FIELD", "FIELDS", ["ndvi", "si1", "si2"])
    # -- spectral index search ------------------------------------------------------------------------------
    t = "indexsearch"
    cases += output_paths(t)
    cases += numbers(t, [("FOLDS", 1), ("FOLDS", BIG), ("TOP_N", 0), ("TOP_N", INT31), ("ALPHA", 2),
                         ("ALPHA", "nan", None, (), "nan where a number is expected"), ("CORRECTION", 9)])
    cases += _table_cases(t, "TARGET_FIELD", "BAND_FIELDS", ["ndvi", "si1", "si2"])
    cases += [
        Case(t, "band-roles-unknown-role", "malformed mapping", with_(t, BAND_ROLES="R=ndvi,XYZ=si1,SWIR1=si2"),
             words=("BAND_ROLES", "XYZ"), cli=True),
        Case(t, "band-roles-role-twice", "malformed mapping", with_(t, BAND_ROLES="R=ndvi,R=si1"),
             words=("BAND_ROLES",)),
        Case(t, "band-roles-unknown-field", "table: missing field", with_(t, BAND_ROLES="R=nope"),
             words=("BAND_ROLES", "nope")),
        Case(t, "band-field-without-role", "band field not named by a role", with_(t, BAND_ROLES=""),
             words=("BAND_FIELDS", "BAND_ROLES")),
        Case(t, "one-band", "too few bands", with_(t, BAND_FIELDS=["ndvi"]), words=("BAND_FIELDS",)),
        Case(t, "folds-too-many-for-rows", "table: too few rows", with_(t, FOLDS=20), words=("FOLDS",)),
        Case(t, "ranking-by-hand", "valid edge (hand values)", BASE[t], expect="ok",
             check=lambda c, res: _search_by_hand(c, res)),
        cancel(t),
    ]
    # -- train model ----------------------------------------------------------------------------------------
    t = "trainmodel"
    cases += output_paths(t, cli=("readonly",))
    cases += numbers(t, [("SEARCH_BUDGET", BIG), ("FOLDS", 0), ("FOLDS", BIG), ("VALIDATION_FRACTION", 0.9),
                         ("VALIDATION_FRACTION", "nan", None, (), "nan where a number is expected"), ("MODEL", 99),
                         ("VALIDATION", 6), ("BLOCK_SIZE", 0), ("BLOCK_SIZE", BIG), ("BUFFER", -1), ("BUFFER", BIG),
                         ("SEARCH_TIMEOUT", -1), ("SEARCH_TIMEOUT", BIG), ("SEARCH_TIMEOUT", INT31),
                         ("SEARCH_TIMEOUT", "nan", None, (), "nan where a number is expected"),
                         ("SEARCH_METHOD", 99), ("SEARCH_METHOD", -1),
                         ("EXPLAIN_BACKGROUND", BIG), ("EXPLAIN_BACKGROUND", 0), ("EXPLAIN_SAMPLES", INT31),
                         ("EXPLAIN_SAMPLES", -1)])
    cases += _table_cases(t, "TARGET", "FIELDS", ["ndvi", "si1"])
    cases += [
        Case(t, "plsr-constant-predictor", "table: constant field",
             with_(t, FIELDS=["flat"], MODEL=4), words=("flat",), unwords=("gesdd",)),
        Case(t, "selected-fields-unknown", "table: missing field", with_(t, FIELDS=None, SELECTED_FIELDS="ndvi,nope"),
             words=("SELECTED_FIELDS|FIELDS|'nope'",)),
        Case(t, "output-mode-umask", "output file mode (umask)", BASE[t], expect="ok",
             check=mode_follows_umask("salt.model", "metrics.csv", "train.html")),
        # spatial validation (issue 15): locations needed, buffers and blocks that leave no training data
        Case(t, "spatial-table-without-geometry", "table: no geometry", with_(t, VALIDATION=3),
             words=("INPUT", "geometry")),
        Case(t, "spatial-null-geometry", "vector: feature without geometry",
             with_(t, INPUT=lambda c: c.d.samples_points("null", null_at=6), VALIDATION=5),
             words=("INPUT", "sample 7")),
        Case(t, "spatial-buffer-covers-every-sample", "buffer too large",
             with_(t, INPUT=lambda c: c.d.samples_points(), VALIDATION=5, BUFFER=1e6),
             words=("BUFFER", "sample 1", "smaller")),
        Case(t, "spatial-one-block", "zero blocks per fold",
             with_(t, INPUT=lambda c: c.d.samples_points(), VALIDATION=3, BLOCK_SIZE=1e6),
             words=("BLOCK_SIZE", "1 block", "FOLDS")),
        Case(t, "spatial-utm-labelled-wgs84", "EPSG:4326 label on UTM coordinates",
             with_(t, INPUT=lambda c: c.d.samples_points("wgs84utm", epsg=4326), VALIDATION=4),
             words=("INPUT", "geographic", "CRS")),
        Case(t, "explain-plsr-report", "valid edge (SHAP explanations of a kernel model)", with_(t, EXPLAIN=True),
             expect="ok", check=lambda c, res: _assert("Mean |SHAP| per predictor" in open(c.o("train.html")).read(),
                                                       "no SHAP table in the report")),
        Case(t, "cancel-stacking-compare-search", "cancel inside long fits",
             with_(t, MODEL=5, COMPARE_MODELS=True, SEARCH=True, SEARCH_BUDGET=20, VALIDATION=2),
             expect="cancel", timeout=15, isolate=True),
        Case(t, "cancel-search-trials", "cancel mid-run",
             with_(t, MODEL=4, SEARCH=True, SEARCH_BUDGET=500, OUTPUT_TRIALS=lambda c: c.o("trials.csv")),
             expect="cancel", timeout=15),
        Case(t, "search-trials-same-path-as-table", "two outputs on one path",
             with_(t, SEARCH=True, SEARCH_BUDGET=2, OUTPUT_TRIALS=lambda c: c.o("metrics.csv")),
             words=("OUTPUT_TRIALS|OUTPUT_TABLE",)),
        Case(t, "search-timeout-with-random-method", "valid edge (hand values)",
             with_(t, MODEL=2, SEARCH=True, SEARCH_BUDGET=3, SEARCH_METHOD=1, SEARCH_TIMEOUT=1,
                   OUTPUT_TRIALS=lambda c: c.o("trials.csv")), expect="ok",
             check=lambda c, res: _assert(len(csv_rows(c.o("trials.csv"))) == 4, "3 trials and a header")),
    ]
    # -- apply model -----------------------------------------------------------------------------------------
    t = "applymodel"
    cases += raster_inputs(t, "RASTERS", feat, index=0, extra_grid=True, words=("RASTERS|ndvi",), cli=("truncated",),
                           warn=("allnodata",))
    cases += output_paths(t)
    cases += numbers(t, [("N_JOBS", -1), ("N_JOBS", BIG), ("SHAP_TOP_K", BIG), ("SHAP_TOP_K", -1), ("SHAP_STEP", 0),
                         ("SHAP_STEP", INT31), ("SHAP_MAX_PIXELS", BIG), ("SHAP_MAX_PIXELS", 0)])
    cases += [
        Case(t, "shap-without-output", "output missing for a requested option", with_(t, SHAP_TOP_K=2),
             words=("OUTPUT_SHAP",)),
        Case(t, "shap-step-larger-than-raster", "valid edge (one SHAP cell)",
             with_(t, SHAP_TOP_K=2, SHAP_STEP=1000, OUTPUT_SHAP=lambda c: c.o("shap.tif")),
             expect="ok", check=lambda c, res: _assert(
                 res["SHAP_STEP"] == 1000 and read(c.o("shap.tif")).shape == (1, 1),
                 f"SHAP grid of one cell expected, got step {res.get('SHAP_STEP')}")),
    ]
    model_words = ("MODEL_FILE",)
    cases += [
        Case(t, f"model-{kind}", category, with_(t, MODEL_FILE=lambda c, kind=kind: c.d.model_variant(kind)),
             words=model_words, timeout=timeout, cli=kind in ("pickle",), isolate=kind == "bomb")
        for kind, category, timeout in (
            ("pickle", "model file: pickle", 40), ("bomb", "model file: zip bomb", 40),
            ("meta_features", "model file: tampered metadata", 40), ("metrics_list", "model file: metrics of wrong type", 40),
            ("skops_dict", "model file: skops file holding a dict", 40), ("altered", "model file: altered model bytes", 40),
            ("format99", "model file: unknown format version", 40), ("no_members", "model file: empty zip", 40))]
    cases += [
        Case(t, "model-missing", "missing file", with_(t, MODEL_FILE=lambda c: c.d.path("no.model")),
             words=model_words),
        Case(t, "model-text", "text file named .model",
             with_(t, MODEL_FILE=lambda c: c.d.text_file("notes.model", "not a model\n")), words=model_words),
        Case(t, "model-empty", "empty file", with_(t, MODEL_FILE=lambda c: c.d.text_file("empty.model", "")),
             words=model_words),
        Case(t, "grade-table-decreasing", "matrix parameter malformed",
             with_(t, GRADE_TABLE=["2", "a", "1", "b", "", "c"]), words=("GRADE_TABLE",)),
        Case(t, "grade-table-text-bound", "matrix parameter malformed",
             with_(t, GRADE_TABLE=["x", "a", "", "b"]), words=("GRADE_TABLE",)),
        Case(t, "grade-table-nan-bound", "matrix parameter malformed",
             with_(t, GRADE_TABLE=["nan", "a", "", "b"]), words=("GRADE_TABLE",)),
        Case(t, "grade-table-ragged", "matrix parameter malformed", with_(t, GRADE_TABLE=["1", "a", "2"]),
             words=("GRADE_TABLE",)),
        Case(t, "grade-name-injection", "CSV injection",
             with_(t, GRADE_TABLE=["1", '=HYPERLINK("http://evil.example")', "2", "@SUM(A1:A9)", "", "+3+4"]),
             expect="ok", check=csv_neutral("salt_grades.csv")),
        Case(t, "all-features-wgs84utm", "EPSG:4326 label on UTM coordinates",
             with_(t, RASTERS=lambda c: [c.d.bad("wgs84utm", c.d.features[n]) for n in FEATURES]),
             words=("RASTERS", "CRS|coordinate|EPSG|latitude|longitude|geographic|degree")),
        Case(t, "feature-missing", "raster band names do not match", with_(t, RASTERS=lambda c: [c.d.features["ndvi"]]),
             words=("RASTERS",)),
        Case(t, "predictions-by-hand", "valid edge (hand values)", BASE[t], expect="ok",
             check=lambda c, res: _predicted_by_hand(c)),
        spaces(t, "RASTERS", feat, lambda c, res: _predicted_by_hand(c), index=0),
        Case(t, "feature-nan-inf", "NaN/inf pixels",
             with_(t, RASTERS=lambda c: [c.d.bad("naninf", c.d.features["ndvi"]), c.d.features["si1"]]), expect="ok",
             check=all_of(finite_or_nodata, lambda c, r: _assert(
                 np.isnan(read(c.o("salt.tif"))[[0, 1, 2], [0, 1, 2]]).all(), "no nodata at the NaN / inf pixels"))),
        cancel(t),
    ]
    return cases


def _table_cases(t, target_param, fields_param, fields):
    """Sample-table hostilities shared by vipscreening and trainmodel."""
    def drop_rows(n):
        return lambda rows: rows[:n + 1]

    def blank(col, row):
        def edit(rows):
            i = rows[0].index(col)
            rows[row][i] = ""
            return rows
        return edit

    def inf(col, row):
        def edit(rows):
            i = rows[0].index(col)
            rows[row][i] = "inf"
            return rows
        return edit
    return [
        Case(t, "target-missing-field", "table: missing field", with_(t, **{target_param: "nope"}),
             words=(f"{target_param}|'nope'",)),
        Case(t, "target-text-field", "table: non-numeric field", with_(t, **{target_param: "label"}),
             words=(target_param,)),
        Case(t, "fields-missing-field", "table: missing field", with_(t, **{fields_param: fields[:1] + ["nope"]}),
             words=(f"{fields_param}|'nope'",)),
        Case(t, "fields-text-field", "table: non-numeric field", with_(t, **{fields_param: fields[:1] + ["label"]}),
             words=(fields_param,)),
        Case(t, "fields-include-target", "table: target among the predictors",
             with_(t, **{fields_param: fields + ["salt"]}), words=(fields_param,)),
        Case(t, "too-few-rows", "table: too few rows",
             with_(t, INPUT=lambda c: c.d.samples_variant("three", drop_rows(3))), words=("INPUT|samples",)),
        Case(t, "constant-target", "table: constant field",
             with_(t, **{target_param: "flat", fields_param: fields}), words=("flat",)),
        Case(t, "inf-predictor", "table: non-finite values",
             with_(t, INPUT=lambda c: c.d.samples_variant("inf", inf("si1", 4))), words=("si1",)),
        Case(t, "nan-predictor", "table: NaN values",
             with_(t, INPUT=lambda c: c.d.samples_variant("blank", blank("si1", 4))), expect="warn", words=("si1",)),
        Case(t, "input-missing", "missing file", with_(t, INPUT=lambda c: c.d.path("no_samples.csv")), words=("INPUT",)),
        Case(t, "input-empty", "empty file", with_(t, INPUT=lambda c: c.d.text_file("empty.csv", "")),
             words=("INPUT",)),
    ]


def _search_by_hand(c, res):
    """The ranked table of the base run: r of the best rows recomputed by hand from the samples (numpy.corrcoef of
    the formula evaluated here on the CSV columns), p from scipy.stats.pearsonr, Holm over m by a plain loop."""
    from scipy import stats
    with open(c.d.samples, newline="") as fh:
        rows = list(csv.DictReader(fh))
    col = {k: np.array([float(r[k]) for r in rows]) for k in ("salt", "ndvi", "si1", "si2")}
    bands = {"R": col["ndvi"], "NIR": col["si1"], "SWIR1": col["si2"]}
    forms = {"DIFF": lambda a, b: a - b, "RATIO": lambda a, b: a / b, "ND": lambda a, b: (a - b) / (a + b),
             "SAI": lambda a, b, d: (a * a - b * b + d * d) / (a * b * d),
             "TRSI": lambda a, b, d: (a - b + d) / (a + b - d), "SBCI": lambda a, b, d: a / np.sqrt(b * b + d * d),
             "GOSI": lambda a, b, d: a - 0.5 * b - 0.5 * d, "NDC": lambda a, b, d: (a - b) / (a + b - d),
             "DR": lambda a, b, d: (a - b) / (b - d), "PQ": lambda a, b, d: a * b / d,
             "RS": lambda a, b, d: a / (b + d)}
    table = csv_dicts(c.o("search.csv"))
    m = len(table)
    # 3 bands: 3 differences, 6 ratios, 3 normalised differences; 6 TRSI and 3 of each other three-band form
    assert m == res["N_CANDIDATES"] == 3 + 6 + 3 + 6 + 7 * 3, m
    ps = sorted(float(t["p"]) for t in table)
    for t in table[:10]:
        v = forms[t["form"]](*(bands[b] for b in t["bands"].split(",")))
        r, p = stats.pearsonr(v, col["salt"])
        assert abs(float(t["r"]) - r) < 1e-9, (t["name"], t["r"], r)
        assert abs(float(t["p"]) - p) <= 1e-9 + 1e-6 * p, (t["name"], t["p"], p)
        k = ps.index(float(t["p"]))
        holm = max(min(1.0, (m - j) * ps[j]) for j in range(k + 1))
        assert abs(float(t["p_corrected"]) - holm) <= 1e-9 + 1e-6 * holm, (t["name"], t["p_corrected"], holm)
    assert [abs(float(t["r"])) for t in table] == sorted((abs(float(t["r"])) for t in table), reverse=True)
    lines = res["SELECTED_EXPRESSIONS"].split("\n")
    assert len(lines) == 4 and lines[0] == f"{table[0]['name']}={table[0]['expression']}", lines


def _sampled_by_hand(c, names=FEATURES):
    from qgis.core import QgsVectorLayer
    layer = QgsVectorLayer(c.o("sampled.gpkg"), "s", "ogr")
    assert layer.isValid()
    got = {f["site"]: f for f in layer.getFeatures()}
    cells = c.d.points[1]
    assert len(got) == len(cells), sorted(got)
    for n in names:
        arr = read(c.d.features[n])
        fname = [f.name() for f in layer.fields() if f.name().lower().startswith(n)]
        assert fname, [f.name() for f in layer.fields()]
        for i, (r, col) in enumerate(cells):
            v = got[f"p{i}"][fname[0]]
            assert abs(v - arr[r, col]) < 1e-6, (n, i, v, arr[r, col])


def _predicted_by_hand(c):
    est, _meta, _model = c.d.model_parts()
    X = np.column_stack([read(c.d.features[n]).ravel() for n in FEATURES])
    want = est.predict(X).reshape(H, W)
    got = read(c.o("salt.tif"))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def _productivity_driver_cases():
    cases = []
    # -- CASA NPP -------------------------------------------------------------------------------------------
    t = "casanpp"
    ndvi = lambda c: c.d.casa[0]  # noqa: E731
    cases += raster_inputs(t, "NDVI", ndvi, kinds=FILE_KINDS + ("wgs84utm",), index=0, extra_grid=True,
                           cli=("truncated",))
    cases += raster_inputs(t, "LANDCOVER", lambda c: c.d.casa[1], kinds=("truncated", "header", "allnodata"))
    cases += output_paths(t)
    cases += numbers(t, [("PAR_FRACTION", 2), ("HEAT_INDEX", -1), ("HEAT_INDEX", 1e12), ("LANDCOVER_BAND", BIG),
                         ("T_EPS1_COLD_LIMIT", -1000)])
    cases += [
        Case(t, "temperature-values-nan", "nan where a number is expected",
             with_(t, TEMPERATURE_VALUES=", ".join(["nan"] + [f"{x:g}" for x in CASA_T[1:]])),
             words=("TEMPERATURE_VALUES",)),
        Case(t, "temperature-values-inf", "numeric parameter out of range",
             with_(t, TEMPERATURE_VALUES=", ".join(["inf"] + [f"{x:g}" for x in CASA_T[1:]])),
             words=("TEMPERATURE_VALUES",)),
        Case(t, "precipitation-negative", "numeric parameter out of range",
             with_(t, PRECIPITATION_VALUES=", ".join(["-5"] + [f"{x:g}" for x in CASA_P[1:]])),
             words=("PRECIPITATION_VALUES",)),
        Case(t, "radiation-1e12", "numeric parameter out of range",
             with_(t, SOLAR_RADIATION_VALUES=", ".join(["1e12"] * 12)), expect="warn",
             words=("SOLAR_RADIATION_VALUES",)),
        Case(t, "class-table-ragged", "matrix parameter malformed", with_(t, CLASS_TABLE=["1", "Cropland", "0.5"]),
             words=("CLASS_TABLE",)),
        Case(t, "class-table-text-eps", "matrix parameter malformed",
             with_(t, CLASS_TABLE=lambda c: _casa_table(c, {2: "high"})), words=("CLASS_TABLE",)),
        Case(t, "class-name-injection", "CSV injection",
             with_(t, CLASS_TABLE=lambda c: _casa_table(c, {1: '=HYPERLINK("http://evil.example")'})), expect="ok",
             check=csv_neutral("npp.csv")),
        Case(t, "ndvi-nan-inf", "NaN/inf pixels", with_(t, NDVI=lambda c: [_casa_naninf(c)]), expect="ok",
             check=finite_or_nodata),
        spaces(t, "NDVI", ndvi, same_as_base(t, ["npp.tif"]), index=0),
        cancel(t),
    ]
    # -- Geodetector -----------------------------------------------------------------------------------------
    t = "geodetector"
    rb = RASTER_BASE[t]
    cases += raster_inputs(t, "Y_RASTER", lambda c: c.d.rsei, base=rb, extra_grid=True, cli=("truncated",))
    cases += raster_inputs(t, "X_RASTERS", lambda c: c.d.eg, kinds=("missing", "truncated"), base=rb, index=0)
    cases += output_paths(t)
    cases += numbers(t, [("K", BIG), ("K", INT31, None, ("got 0",)), ("TOLERANCE", -1),
                         ("ALPHA", "nan", None, (), "nan where a number is expected")])
    cases += [
        Case(t, "k-min-above-k-max", "numeric parameter out of range", with_(t, METHOD=5, K_MIN=6, K_MAX=3),
             words=("K_MIN|K_MAX",)),
        Case(t, "n-samples-1e12", "numeric parameter out of range", with_(t, rb, SAMPLING=1, N_SAMPLES=BIG),
             words=("N_SAMPLES",), unwords=("got 0",)),
        Case(t, "step-1e12", "numeric parameter out of range", with_(t, rb, STEP=BIG), words=("STEP",)),
        Case(t, "y-band-1e12", "band number out of range", with_(t, rb, Y_BAND=BIG), words=("Y_BAND",)),
        Case(t, "y-field-text", "table: non-numeric field", with_(t, Y_FIELD="label"), words=("Y_FIELD",)),
        Case(t, "x-field-missing", "table: missing field", with_(t, X_FIELDS=["x1", "nope"]),
             words=("X_FIELDS|'nope'",)),
        Case(t, "too-few-rows", "table: too few rows",
             with_(t, INPUT=lambda c: c.d.drivers_variant("three", lambda rows: rows[:4])), words=("INPUT|rows|sample",)),
        Case(t, "constant-y", "table: constant field",
             with_(t, INPUT=lambda c: c.d.drivers_variant("consty", _set_col("y", "1.5"))), words=("Y_FIELD|'y'",)),
        Case(t, "period-name-injection", "CSV injection",
             with_(t, INPUT=lambda c: c.d.drivers_variant("inj", _periods_injected, types=[
                 "String", "Real", "Real", "Real", "Real", "Integer", "String"]), PERIOD_FIELD="period"),
             expect="ok", check=csv_neutral("factor.csv", "inter.csv")),
        Case(t, "natural-breaks-lone-minimum", "natural breaks merge classes",
             with_(t, INPUT=lambda c: _lone_minimum_table(c), Y_FIELD="y", X_FIELDS=["x"], CATEGORICAL_FIELDS=[],
                   METHOD=2, K=3, OUTPUT_RISK=None, OUTPUT_ECOLOGICAL=None), expect="ok",
             check=lambda c, res: _lone_minimum_q(c)),
        Case(t, "perfect-factor-q1", "valid edge (hand q)",
             with_(t, INPUT=lambda c: _perfect_table(c), Y_FIELD="y", X_FIELDS=["cat"], CATEGORICAL_FIELDS=["cat"],
                   PERIOD_FIELD=None),
             expect="ok", check=lambda c, res: _q_of(c, "cat", 1.0)),
        spaces(t, "Y_RASTER", lambda c: c.d.rsei, same_table_as_base(t, "factor.csv", rb), base=rb),
        cancel(t, base=rb),
    ]
    # -- kriging ------------------------------------------------------------------------------------------------
    t = "kriging"
    cases += output_paths(t, cli=("under",))
    cases += numbers(t, [("N_BINS", BIG), ("N_BINS", 2), ("NU", "nan", None, (), "nan where a number is expected"),
                         ("MAX_LAG", -1.0), ("SILL", BIG * 10 ** 30), ("PIXEL_SIZE", BIG), ("PIXEL_SIZE", -30.0)])
    cases += [
        Case(t, "nine-points", "table: too few rows",
             with_(t, POINTS=lambda c: c.d.kriging_points("nine", count=9)), words=("POINTS", "at least 10")),
        Case(t, "constant-field", "table: constant field",
             with_(t, POINTS=lambda c: c.d.kriging_points("const", values=[4.0] * 24)), words=("FIELD",)),
        Case(t, "field-missing", "table: missing field", with_(t, FIELD="nope"), words=("FIELD|nope",)),
        Case(t, "singular-gaussian", "singular system",
             with_(t, MODEL=2, VARIOGRAM=1, NUGGET=0.0, SILL=1.0, RANGE=1e6), words=("singular", "nugget")),
        Case(t, "given-without-sill", "missing parameter", with_(t, VARIOGRAM=1), words=("SILL",)),
        Case(t, "constant-drift", "constant raster",
             with_(t, DRIFTS=lambda c: [c.d.bad("constant", c.d.xy[0])]), words=("DRIFTS",)),
        Case(t, "reference-all-nodata", "all nodata",
             with_(t, REFERENCE=lambda c: c.d.bad("allnodata", c.d.rsei)), words=("REFERENCE",)),
        Case(t, "grid-twice", "conflicting parameters", with_(t, EXTENT=_KRIGE_EXTENT, PIXEL_SIZE=PIXEL),
             words=("REFERENCE / EXTENT", "once")),
        Case(t, "no-grid", "missing parameter", with_(t, REFERENCE=None), words=("REFERENCE / EXTENT",)),
        Case(t, "extent-without-pixel-size", "missing parameter", with_(t, REFERENCE=None, EXTENT=_KRIGE_EXTENT),
             words=("PIXEL_SIZE",)),
        Case(t, "extent-geographic-grid", "geographic CRS",
             with_(t, REFERENCE=None, EXTENT="111,111.01,38,38.01 [EPSG:4326]", PIXEL_SIZE=0.001),
             words=("TARGET_CRS", "geographic")),
        Case(t, "extent-too-many-pixels", "numeric parameter out of range",
             with_(t, REFERENCE=None, EXTENT=_KRIGE_EXTENT, PIXEL_SIZE=1e-3), words=("EXTENT / PIXEL_SIZE", "pixels")),
        Case(t, "extent-empty", "empty extent",
             with_(t, REFERENCE=None, EXTENT="300000,300000,4199520,4200000 [EPSG:32649]", PIXEL_SIZE=PIXEL),
             words=("EXTENT",)),
        Case(t, "extent-equals-reference-grid", "valid edge (grid of the reference)",
             with_(t, REFERENCE=None, EXTENT=_KRIGE_EXTENT, PIXEL_SIZE=PIXEL), expect="ok",
             check=lambda c, res: _same_grid(res["OUTPUT"], c.d.rsei)),
        cancel(t),
    ]
    # -- local correlation -----------------------------------------------------------------------------------
    t = "localcorrelation"
    cases += raster_inputs(t, "INPUT_Y", lambda c: c.d.xy[1], extra_grid=True, cli=("truncated",), warn=("allnodata",))
    cases += output_paths(t)
    cases += numbers(t, [("WINDOW_SIZE", 1000001), ("WINDOW_SIZE", INT31, None, ("0 is not",)), ("WINDOW_SIZE", 4),
                         ("MIN_VALID", BIG), ("MIN_VALID", 100), ("ALPHA", "nan", None, (), "nan where a number is expected"),
                         ("INPUT_X_BAND", BIG)])
    cases += [
        Case(t, "y-equals-2x-plus-1", "valid edge (r = 1)", BASE[t], expect="ok",
             check=lambda c, res: _r_is_one(c)),
        Case(t, "x-constant", "constant raster", with_(t, INPUT_X=lambda c: c.d.bad("constant", c.d.xy[0])),
             expect="warn", words=("MIN_VALID|constant|vary",),
             check=lambda c, res: _assert(np.isnan(read(c.o("r.tif"))).all(), "r is not nodata for a constant X")),
        Case(t, "nan-inf-pixels", "NaN/inf pixels", with_(t, INPUT_Y=lambda c: c.d.bad("naninf", c.d.xy[1])),
             expect="ok", check=all_of(finite_or_nodata, lambda c, res: _r_is_one(c))),
        spaces(t, "INPUT_Y", lambda c: c.d.xy[1], lambda c, res: _r_is_one(c)),
        cancel(t),
    ]
    # -- ESTARFM ------------------------------------------------------------------------------------------------
    t = "estarfm"
    cases += raster_inputs(t, "COARSE_TP", lambda c: c.d.xy[1], index=0, kinds=("truncated",), cli=("truncated",))
    cases += numbers(t, [("HALF_WINDOW", 1000001), ("HALF_WINDOW", INT31, None, ("0 is not",)), ("CLASSES", BIG),
                         ("CLASSES", "nan", None, (), "nan where a number is expected"), ("DN_MAX", "inf")])
    # masks of the fine images: another size (one pixel) or CRS, all nodata (= masked) or all masked: refused,
    # naming the mask; a mask half a pixel off the grid is read by nearest neighbour (runs)
    cases += raster_inputs(t, "FINE_TM_MASK", lambda c: _estarfm_mask(c, 0), kinds=("crs", "allnodata"))
    cases += [
        Case(t, "fine_tm_mask-one-pixel", "mask of another size",
             with_(t, FINE_TM_MASK=lambda c: c.d.bad("one", _estarfm_mask(c, 0))), words=("FINE_TM_MASK",)),
        Case(t, "fine_tn_mask-all-masked", "mask masking every pixel",
             with_(t, FINE_TN_MASK=lambda c: _estarfm_mask(c, 1)), words=("FINE_TN_MASK",)),
        Case(t, "fine_tm_mask-shifted", "mask half a pixel off the grid",
             with_(t, FINE_TM_MASK=lambda c: c.d.bad("shifted", _estarfm_mask(c, 0))), expect="ok",
             check=lambda c, _res: os.path.isfile(os.path.join(c.o("fused"), "estarfm_2000-02-01.tif"))),
        Case(t, "dn-range-empty", "bad combination", with_(t, DN_MIN=5, DN_MAX=1), expect="error",
             words=("DN_MIN",)),
        Case(t, "dates-missing", "bad combination", with_(t, DATES=""), expect="error", words=("DATES",)),
        cancel(t),
    ]
    # -- MLR contribution -----------------------------------------------------------------------------------
    t = "mlrcontribution"
    cases += output_paths(t)
    cases += [
        Case(t, "y-field-missing", "table: missing field", with_(t, Y_FIELD="nope"), words=("Y_FIELD|'nope'",)),
        Case(t, "y-field-text", "table: non-numeric field", with_(t, Y_FIELD="label"), words=("Y_FIELD",)),
        Case(t, "x-fields-text", "table: non-numeric field", with_(t, X_FIELDS=["x1", "label"]), words=("X_FIELDS",)),
        Case(t, "x-constant", "table: constant field",
             with_(t, INPUT=lambda c: c.d.drivers_variant("constx3", _set_col("x3", "2.0"))), words=("x3",)),
        Case(t, "too-few-rows", "table: too few rows",
             with_(t, INPUT=lambda c: c.d.drivers_variant("four", lambda rows: rows[:5]), PERIOD_FIELD=None),
             words=("INPUT|sample|rows",)),
        # GDAL's CSV driver reads "inf" in a Real column as NULL (warning "Invalid value type found"), so the tool
        # sees an empty cell: the row is left out with a warning naming the field. A real infinity (a GeoPackage
        # table) is refused: test_issue11_errors.test_an_infinite_sample_value_is_refused_naming_the_field
        Case(t, "inf-values", "table: non-finite values",
             with_(t, INPUT=lambda c: c.d.drivers_variant("infx2", _set_cell("x2", 3, "inf"))), expect="warn",
             words=("x2",)),
        Case(t, "nan-values", "table: NaN values",
             with_(t, INPUT=lambda c: c.d.drivers_variant("blankx2", _set_cell("x2", 3, ""))), expect="warn",
             words=("x2",)),
        Case(t, "period-name-injection", "CSV injection",
             with_(t, INPUT=lambda c: c.d.drivers_variant("inj", _periods_injected, types=[
                 "String", "Real", "Real", "Real", "Real", "Integer", "String"])), expect="ok",
             check=csv_neutral("mlr.csv")),
    ]
    # -- RF contribution -------------------------------------------------------------------------------------
    t = "rfcontribution"
    cases += raster_inputs(t, "DRIVER_RASTERS", lambda c: c.d.drivers_rasters["x1"], kinds=("truncated", "header",
                           "wgs84utm"), index=0, extra_grid=True, cli=("truncated",))
    cases += output_paths(t)
    cases += numbers(t, [("N_TREES", 10_000_000), ("N_TREES", INT31), ("N_REPEATS", BIG), ("DOMINANT_THRESHOLD", -5),
                         ("DOMINANT_THRESHOLD", "nan", None, (), "nan where a number is expected")])
    for case in cases:
        if case.id == "rfcontribution-n_trees-10000000":
            case.timeout, case.isolate = 10, True
    cases += [
        Case(t, "categories-ragged", "matrix parameter malformed", with_(t, CATEGORIES=["x1", "a", "x2"]),
             words=("CATEGORIES",)),
        Case(t, "categories-unknown-field", "table: missing field", with_(t, CATEGORIES=["x1", "a", "nope", "b"]),
             words=("CATEGORIES",)),
        Case(t, "category-name-injection", "CSV injection",
             with_(t, CATEGORIES=["x1", "@SUM(A1:A9)", "x2", "+3+4", "x3", "-2+3"],
                   DRIVER_RASTERS=None, OUTPUT_RGB=None, OUTPUT_DOMINANT=None), expect="ok",
             check=csv_neutral("cats.csv", "drivers.csv", keep="SUM(A1:A9)")),
        Case(t, "constant-y", "table: constant field",
             with_(t, INPUT=lambda c: c.d.drivers_variant("consty", _set_col("y", "1.5"))), words=("Y_FIELD|'y'",)),
        Case(t, "too-few-rows", "table: too few rows",
             with_(t, INPUT=lambda c: c.d.drivers_variant("three", lambda rows: rows[:4])), words=("INPUT|sample|rows",)),
        Case(t, "cancel-inside-fit", "cancel inside long fits",
             with_(t, N_TREES=5000, N_REPEATS=10, DRIVER_RASTERS=None, OUTPUT_RGB=None, OUTPUT_DOMINANT=None),
             expect="cancel", timeout=15, isolate=True),
        cancel(t),
    ]
    # -- install dependencies --------------------------------------------------------------------------------
    t = "installdependencies"
    cases += output_paths(t, cli=("missing",))
    cases += numbers(t, [("TIMEOUT", 0), ("TIMEOUT", BIG), ("TIMEOUT", "nan", None, (), "nan where a number is expected")])
    cases += [
        Case(t, "index-url-javascript", "malformed address", with_(t, INDEX_URL="javascript:alert(1)"),
             words=("INDEX_URL",), cli=True),
        Case(t, "index-url-spaces", "malformed address", with_(t, INDEX_URL="https://mirror example/simple"),
             words=("INDEX_URL",)),
        Case(t, "nothing-missing", "valid edge (nothing to install)", BASE[t], expect="ok",
             check=lambda c, res: _assert(res["INSTALLED"] == "" and os.path.getsize(c.o("deps.html")) > 0,
                                          f"INSTALLED={res['INSTALLED']!r}")),
    ]
    return cases


def same_table_as_base(tool, name, base):
    def check(c, _res):
        Ref = reference_run(c, tool, base)
        assert csv_rows(c.o(name)) == csv_rows(Ref.o(name))
    return check


def _set_col(col, value):
    def edit(rows):
        i = rows[0].index(col)
        for r in rows[1:]:
            r[i] = value
        return rows
    return edit


def _set_cell(col, row, value):
    def edit(rows):
        rows[row][rows[0].index(col)] = value
        return rows
    return edit


def _periods_injected(rows):
    for r in rows[1:]:
        r[0] = '=HYPERLINK("http://evil.example")' if r[0] == "2010" else "@SUM(A1:A9)"
    return rows


def _casa_table(c, names_or_eps):
    from qgis.core import QgsApplication
    cells = [str(v) for v in QgsApplication.processingRegistry().algorithmById("miningeco:casanpp")
             .parameterDefinition("CLASS_TABLE").defaultValue()]
    for i in range(0, len(cells), 7):
        code = int(float(cells[i]))
        if code in names_or_eps:
            v = names_or_eps[code]
            cells[i + (2 if v == "high" else 1)] = v
    return cells


def _casa_naninf(c):
    from osgeo import gdal
    src = c.d.casa[0]
    p = c.i("ndvi_naninf.tif")
    gdal.Translate(p, src)
    ds = gdal.Open(p, gdal.GA_Update)
    for k in range(12):
        b = ds.GetRasterBand(k + 1)
        a = b.ReadAsArray()
        a[0, 0], a[1, 1] = np.nan, np.inf
        b.WriteArray(a)
        del b
    ds = None
    return p


def _lone_minimum_table(c):
    """x: one very low value and two tight clusters (Fisher-Jenks k = 3 puts the minimum alone); y follows x."""
    from hostile_data import write_csv

    def build():
        x = [0.0] + [10 + 0.1 * i for i in range(15)] + [20 + 0.1 * i for i in range(15)]
        y = [1.0] + [5 + 0.01 * i for i in range(15)] + [9 + 0.01 * i for i in range(15)]
        return write_csv(c.d.path("lone_min.csv"), ["y", "x"], [(f"{a:.4f}", f"{b:.4f}") for a, b in zip(y, x)],
                         ["Real", "Real"])
    return c.d._once("lone_min", build)


def _lone_minimum_q(c):
    """3 natural-breaks classes ({0}, 10..11.4, 20..21.4) and q from them by hand: 1 - SSW / SST."""
    rows = [r for r in csv_dicts(c.o("factor.csv")) if r["factor"] == "x"]
    assert rows and int(rows[0]["n_classes"]) == 3, f"natural breaks k=3 gave {rows[0]['n_classes']} classes"
    y = np.array([1.0] + [5 + 0.01 * i for i in range(15)] + [9 + 0.01 * i for i in range(15)])
    groups = [y[:1], y[1:16], y[16:]]
    q = 1 - sum(((g - g.mean()) ** 2).sum() for g in groups) / ((y - y.mean()) ** 2).sum()
    assert abs(float(rows[0]["q"]) - q) < 1e-9, (rows[0]["q"], q)


def _perfect_table(c):
    from hostile_data import write_csv

    def build():
        rows = [(f"{[1.0, 4.0, 9.0][i % 3]:.1f}", i % 3 + 1) for i in range(30)]
        return write_csv(c.d.path("perfect.csv"), ["y", "cat"], rows, ["Real", "Integer"])
    return c.d._once("perfect", build)


def _q_of(c, factor, q):
    rows = [r for r in csv_dicts(c.o("factor.csv")) if r["factor"] == factor]
    assert rows and abs(float(rows[0]["q"]) - q) < 1e-12, rows


def _r_is_one(c):
    r = read(c.o("r.tif"))
    ok = np.isfinite(r)
    assert ok.sum() >= (H - 2) * (W - 2), f"only {ok.sum()} pixels have r"
    np.testing.assert_allclose(r[ok], 1.0, atol=1e-5)


#: more cases run also through qgis_process (besides those marked cli above): one per defect class of the issue
EXTRA_CLI = {
    "egindex-window_size-1000001", "localcorrelation-window_size-2p31plus1", "trend-band-1e12",
    "trainmodel-same-path-output_model-output_report", "classareas-output-read-only-folder",
    "timeseries-output_report-read-only-folder", "vipscreening-target-text-field", "mlrcontribution-x-constant",
    "indexsearch-constant-target",
    "casanpp-output_table-missing-folder", "geodetector-n-samples-1e12", "applymodel-model-metrics_list",
    "transfermatrix-class-names-duplicate", "rsei-nir-header_ifd", "rsei-output_table-missing-folder",
    "rfcontribution-categories-unknown-field", "coupling-rsei-breaks-decreasing", "lst-level1-dn-as-level2",
}


def _composite_written(c, _res):
    """The base run's composite: one file, its bands named for the scene tools, nodata or reflectance 0-1.5."""
    from osgeo import gdal
    files = sorted(os.listdir(c.o("composites")))
    assert "composite_2013.tif" in files, files
    ds = gdal.Open(c.o(os.path.join("composites", "composite_2013.tif")))
    names = [ds.GetRasterBand(i + 1).GetDescription() for i in range(ds.RasterCount)]
    assert names[:6] == ["blue", "green", "red", "nir", "swir1", "swir2"], names
    red = read(c.o(os.path.join("composites", "composite_2013.tif")), 3)
    ok = np.isfinite(red)
    assert ok.mean() > 0.9 and (red[ok] > 0).all() and (red[ok] < 1.5).all()


def _composite_cases():
    cases = []
    t = "composite"
    cases += output_paths(t, cli=("under",))
    cases += [
        Case(t, "output_folder-under-file", "output under a regular file",
             with_(t, OUTPUT_FOLDER=lambda c: c.under_file("composites")), words=("OUTPUT_FOLDER",)),
        Case(t, "output_folder-is-a-file", "output equal to an existing file",
             with_(t, OUTPUT_FOLDER=lambda c: c.copy(c.d.text_file("notes.txt", "x"))), words=("OUTPUT_FOLDER",)),
        Case(t, "output_folder-read-only-folder", "output in a read-only folder",
             with_(t, OUTPUT_FOLDER=lambda c: c.read_only("composites")), words=("OUTPUT_FOLDER|composites",)),
        # products
        Case(t, "products-random-file", "random bytes named like a product .tar",
             with_(t, PRODUCTS=lambda c: [c.d.product("random")]), words=("PRODUCTS",), cli=True),
        Case(t, "products-text-file", "a text file as a product",
             with_(t, PRODUCTS=lambda c: [c.d.text_file("notes.txt", "x")]), words=("PRODUCTS",)),
        Case(t, "products-missing-file", "missing file",
             with_(t, PRODUCTS=lambda c: [c.d.path("no_such_MTL.txt")]), words=("PRODUCTS",)),
        Case(t, "product_folder-empty", "a folder without products",
             with_(t, PRODUCTS=None, PRODUCT_FOLDER=lambda c: c.d.product("empty_folder")),
             words=("PRODUCT_FOLDER",), cli=True),
        Case(t, "product_folder-missing", "missing folder",
             with_(t, PRODUCTS=None, PRODUCT_FOLDER=lambda c: c.d.path("no_such_folder")),
             words=("PRODUCT_FOLDER",)),
        Case(t, "products-none", "no input at all", with_(t, PRODUCTS=None), words=("PRODUCTS",)),
        Case(t, "products-truncated-tar", "truncated product .tar",
             with_(t, PRODUCTS=lambda c: [c.d.product("truncated_tar")]), words=("PRODUCTS", "B|MTL|tar")),
        Case(t, "products-missing-band", "product missing a band",
             with_(t, PRODUCTS=lambda c: [c.d.product("missing_band")]), words=("PRODUCTS", "B5")),
        Case(t, "products-level1-without-toa_ok", "Level-1 product where surface reflectance is needed",
             with_(t, TOA_OK=False), words=("TOA_OK|TOA", "Level-1"), cli=True),
        Case(t, "products-outside-the-window", "no product in the date window",
             with_(t, MONTH_FIRST=0, MONTH_LAST=2), words=("PRODUCTS|MONTH", "window")),
        Case(t, "years-reversed", "first year after the last", with_(t, YEAR_FIRST=2020, YEAR_LAST=2010),
             words=("YEAR_FIRST",)),
        Case(t, "doy-first-only", "half a day-of-year window", with_(t, DOY_FIRST=100), words=("DOY_FIRST",)),
        # study area and grid
        Case(t, "study_area-empty-layer", "empty study-area layer",
             with_(t, STUDY_AREA=lambda c: c.d.area("empty")), words=("STUDY_AREA",)),
        Case(t, "study_area-far-away", "study area far from the products (no overlap)",
             with_(t, STUDY_AREA=lambda c: c.d.area("far")), words=("STUDY_AREA", "overlap"), cli=True),
        Case(t, "target_crs-geographic", "geographic target CRS", with_(t, TARGET_CRS="EPSG:4326"),
             words=("TARGET_CRS",)),
        Case(t, "resolution-tiny", "a target grid of 10^12 pixels", with_(t, RESOLUTION=0.001),
             words=("RESOLUTION",)),
        # valid edges
        Case(t, "product-as-tar", "the product's .tar as delivered (read in place)",
             with_(t, PRODUCTS=lambda c: [c.d.product("tar")]), expect="ok", check=_composite_written),
        Case(t, "study_area-inside", "a study area inside the scene, in another CRS",
             with_(t, STUDY_AREA=lambda c: c.d.area("marburg")), expect="ok", check=_composite_study_area),
        Case(t, "cancel-at-first-progress", "cancel mid-run", BASE[t], expect="cancel", prepare=_small_composite_blocks,
             timeout=30.0),
    ]
    cases += numbers(t, [("YEAR_FIRST", -1), ("YEAR_LAST", BIG), ("DOY_FIRST", 367), ("DOY_LAST", -5),
                         ("DOY_FIRST", "nan", None, (), "nan where a number is expected"), ("TARGET_DOY", 400),
                         ("TARGET_DOY", INT31), ("DILATION", 101), ("DILATION", -1), ("RESOLUTION", -30),
                         ("RESOLUTION", BIG), ("RESOLUTION", "nan", None, (), "nan where a number is expected"),
                         ("MONTH_FIRST", 12), ("MONTH_LAST", -1), ("METHOD", 9), ("CLOUD_CONFIDENCE", 4),
                         ("SHADOW_CONFIDENCE", BIG), ("SNOW_CONFIDENCE", -1), ("CIRRUS_CONFIDENCE", 7),
                         ("HARMONISE", 3), ("RESAMPLING", 99)])
    return cases


def _small_composite_blocks(mp):
    """Blocks of 8 x 8 pixels (the scene is 41 x 41): the run reports progress before its last block."""
    from mining_eco_plugin.algorithms import composite
    mp.setattr(composite, "BLOCK", 8)


def _composite_study_area(c, _res):
    """Pixels outside the study area are nodata, those inside hold reflectance; the table's area matches."""
    path = c.o(os.path.join("composites", "composite_2013.tif"))
    red = read(path, 3)
    assert 0 < np.isfinite(red).sum() < red.size, "the study area clips nothing or everything"
    rows = csv_dicts(c.o("composites.csv"))
    assert len(rows) == 1 and int(rows[0]["area_pixels"]) == int(np.isfinite(read(path, 8)).sum())


def all_cases():
    cases = (_scene_cases() + _product_cases() + _ecology_cases() + _change_cases() + _salinity_cases()
             + _productivity_driver_cases() + _composite_cases())
    for case in cases:
        if case.id in EXTRA_CLI:
            case.cli = True
    missing = EXTRA_CLI - {c.id for c in cases}
    assert not missing, f"EXTRA_CLI names unknown cases: {sorted(missing)}"
    ids = [c.id for c in cases]
    dup = {i for i in ids if ids.count(i) > 1}
    assert not dup, f"duplicate case ids: {sorted(dup)}"
    return cases


CASES = all_cases()
