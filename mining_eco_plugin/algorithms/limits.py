"""Bounds of the numeric parameters (DESIGN: "every numeric parameter has a sensible maximum"; issue 11,
defect 10: SAMPLE_SIZE=10^12 said "must be > 0", WINDOW_SIZE=2^31+1 "0 is not odd", trend BAND=10^12 silently
used band 1, a 1000001-pixel window tried a 3.6 TiB allocation, N_TREES=10^7 ran for ten minutes).

QGIS checks a value against its parameter's minimum and maximum before the run (``checkParameterValues``;
``processing.run``, ``qgis_process`` and the dialog refuse it naming the parameter). Every integer parameter
reaches the tool as a C int (``parameterAsInt``), so no bound may pass INT_MAX; seeds are passed to numpy and
scikit-learn, which take 0 .. 2^32 - 1. test/test_issue11_errors.py walks every parameter of every tool.
"""

#: largest C int: the largest value parameterAsInt returns unchanged
INT_MAX = 2 ** 31 - 1
#: random seeds: numpy / scikit-learn take 0 .. 2^32 - 1, parameterAsInt 0 .. INT_MAX
SEED_MIN, SEED_MAX = 0, INT_MAX
#: band numbers (GeoTIFF holds at most 65535 bands); the raster's own band count is checked when it is read
BAND_MAX = 65535
#: pixels kept for global statistics (PCA, terciles): 10^7 rows of 2 - 4 float64 columns are 160 - 320 MB
SAMPLE_MAX = 10_000_000
#: moving windows (pixels): blocks are read with a halo of WINDOW_MAX // 2 pixels, about 6 float64 arrays of
#: (256 + 1000) x (2048 + 1000) pixels = 180 MB; also checked against the raster (a wider window is cut to what covers the raster: raster.engine.fit_window)
WINDOW_MAX = 1001
#: trees per forest; 500 is R randomForest's default, 10000 fits 1000 samples in about a minute
TREES_MAX = 10_000
#: permutation repeats, PLS components, cross-validation folds, classes
REPEATS_MAX = 100
COMPONENTS_MAX = 100
FOLDS_MAX = 100
#: block size and buffer of the spatial cross-validation (metres): 5,000 km, an eighth of the Earth's circumference
SPATIAL_DISTANCE_MAX = 5_000_000.0
CLASSES_MAX = 30
#: dates of a time series (trend MIN_VALID, timeseries MIN_SEGMENT)
DATES_MAX = 10_000
#: years and breakpoints (decimal years allowed)
YEAR_ABS_MAX = 100_000.0
#: parallel jobs
JOBS_MAX = 1024
#: grid step of the Geodetector's raster sampling (pixels)
STEP_MAX = 100_000
#: scale / offset of custom radiometry and the Sentinel-2 offset (DN units)
SCALE_ABS_MAX = 1e6
S2_OFFSET_ABS_MAX = 100_000.0
#: atmospheric radiances of the LST's radiative transfer equation, W m-2 sr-1 um-1 (real values 0 - 10)
RADIANCE_MAX = 1000.0
#: Thornthwaite's annual heat index I (12 months at 50 deg C give 392)
HEAT_INDEX_MAX = 1000.0
#: numbers typed into tables (grade thresholds, class parameters): beyond this no raster value can reach them
#: (float32 ends at 3.4e38) and squares overflow nothing
TABLE_ABS_MAX = 1e30
#: class / land-use codes typed into tables: raster codes are at most 32-bit integers
CODE_ABS_MAX = INT_MAX
#: ESTARFM half window (fine pixels): the fusion loops over (2 w + 1)^2 offsets, so w = 150 (a 301-pixel window,
#: 90601 offsets) costs about 35 times the authors' default w = 25
ESTARFM_HALF_WINDOW_MAX = 150
#: kriging onto an extent and a pixel size: at most this many pixels (two float32 outputs of 4 GB each); the
#: tool's cost limit (samples^2 x pixels, algorithms/kriging.py) usually stops a run before
KRIGE_PIXELS_MAX = 1_000_000_000
#: pixel size of a grid given by extent and pixel size (map units: 1000 km)
PIXEL_SIZE_MAX = 1_000_000.0
#: formulas passed on by the spectral index search (SELECTED_EXPRESSIONS; each becomes a band of the index calculator)
TOP_N_MAX = 100
