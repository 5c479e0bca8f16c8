"""miningeco:casanpp (CASA NPP, changhe section 2.2.2) through processing.run, qgis_process and a Modeler model.

Independent reference: ``casa_pixel`` below, a plain-Python recomputation of one pixel written from the published
formulas (it does not call mining_eco_plugin.core.casa):

* NPP(x, t) = APAR(x, t) eps(x, t); APAR = SOL x FPAR x 0.5 (changhe eqs. 2-3; Potter et al. 1993);
* FPAR = 0.5 FPAR_NDVI + 0.5 FPAR_SR, each linear between (NDVI_min or SR_min, FPAR_min = 0.001) and (NDVI_max or
  SR_max, FPAR_max = 0.95), limited to [FPAR_min, FPAR_max], SR = (1 + NDVI) / (1 - NDVI) (Zhu Wenquan et al. 2006,
  after Los 1998 / Sellers 1994);
* eps = eps_max T_eps1 T_eps2 W_eps (changhe eq. 4); T_eps1 = 0.8 + 0.02 T_opt - 0.0005 T_opt^2,
  T_eps2 = 1.1814 / (1 + exp(0.2 (T_opt - 10 - T))) / (1 + exp(0.3 (-T_opt - 10 + T))) with T_opt the temperature
  of the month of maximum NDVI (Potter et al. 1993; many Chinese papers print 1.184), and half its value at
  T = T_opt in months more than 10 C above or 13 C below T_opt (Zhu et al. 2007's rule from Potter's description);
* W_eps = 0.5 + 0.5 EET / PET, PET = (EET + E_p0) / 2, EET = P Rn (P^2 + Rn^2 + P Rn) / ((P + Rn)(P^2 + Rn^2)),
  Rn = sqrt(E_p0 P) (0.369 + 0.598 sqrt(E_p0 / P)) (Zhou & Zhang 1995) and E_p0 the Thornthwaite (1948) potential
  evapotranspiration 16 (10 T / I)^a mm per month, I = sum over the months of (T / 5)^1.514,
  a = 6.75e-7 I^3 - 7.71e-5 I^2 + 1.792e-2 I + 0.49239; EET / PET at most 1, i.e. W_eps in [0.5, 1] (Potter 1993:
  "0.5 in very arid to 1 in very wet ecosystems").

* frost months (Zhu et al. 2007): T_eps1 = 0 in months at or below -10 C; in months at or below 0 C (E_p0 = 0,
  EET / PET undefined) W_eps is that of the previous month above 0 C, the months taken as a cycle (a frozen January
  takes the last unfrozen month of the series: the convention of core.casa, stated in its w_eps docstring).

Other comparisons: numpy mean / sd per class of the output raster (the class table), identical outputs
for equivalent inputs (stack vs one layer per month, typed values vs constant rasters, any block size), the same
run through qgis_process and the Modeler model.
"""
from __future__ import annotations

import csv
import math
import os
import re

import numpy as np
import pytest
from osgeo import gdal, osr

from failures import assert_fails_cleanly, recording_feedback
from paths import L7, L8, ROOT
from mining_eco_plugin.raster import engine

gdal.UseExceptions()

MONTHS = 12
HEIGHT, WIDTH = 3, 4
GT = (500000.0, 30.0, 0.0, 4000000.0, 0.0, -30.0)
NODATA = -9999.0
# Jincheng (Changhe basin), approximate monthly means, made frost-free for the reference (see docstring)
BASE_T = [2.5, 4.0, 8.3, 14.4, 18.8, 22.6, 24.0, 22.6, 17.9, 12.2, 6.2, 3.1]
BASE_P = [6.0, 10.0, 18.0, 30.0, 50.0, 70.0, 135.0, 115.0, 65.0, 35.0, 17.0, 5.0]
BASE_SOL = [270.0, 300.0, 420.0, 500.0, 560.0, 560.0, 520.0, 480.0, 400.0, 340.0, 270.0, 250.0]
LANDCOVER = np.array([[2, 2, 4, 4], [1, 1, 8, 4], [2, 1, 8, 0]], dtype=np.uint8)    # CLCD codes, 0 = nodata
MARBURG_T = [1.0, 1.8, 5.2, 9.4, 13.4, 16.6, 18.5, 18.0, 14.0, 9.6, 5.1, 1.8]
MARBURG_P = [55.0, 45.0, 50.0, 42.0, 62.0, 66.0, 72.0, 64.0, 55.0, 58.0, 57.0, 62.0]
MARBURG_SOL = [70.0, 120.0, 250.0, 400.0, 500.0, 530.0, 530.0, 450.0, 300.0, 180.0, 85.0, 55.0]
# assumed NDVI of the months without a scene (a temperate mixed landscape); July and August are real scenes
MARBURG_NDVI = {1: 0.30, 2: 0.32, 3: 0.38, 4: 0.50, 5: 0.62, 6: 0.68, 9: 0.60, 10: 0.50, 11: 0.38, 12: 0.32}


# ------------------------------------------------------------------------------ the reference
def t_eps2_curve(t, t_opt):
    """Potter et al. 1993, T_eps2."""
    return 1.1814 / (1.0 + math.exp(0.2 * (t_opt - 10.0 - t))) / (1.0 + math.exp(0.3 * (-t_opt - 10.0 + t)))


def casa_pixel(ndvi, temp, precip, sol, eps_max, ndvi_min, ndvi_max, sr_min=None, sr_max=None,
               par=0.5, fpar_min=0.001, fpar_max=0.95, weight=0.5, frozen_w=None, cold=-10.0, above=10.0,
               below=13.0, heat=None):
    """Monthly NPP (gC m-2 month-1) of one pixel, step by step from the published formulas (module docstring);
    ``frozen_w``: a fixed W_eps for months at or below 0 C instead of the previous month's (to show the rule acts);
    ``cold`` the T_eps1 cold limit (Zhu 2007: -10 C), ``above`` / ``below`` the half-value thresholds around T_opt
    (10 / 13 C), ``heat`` an annual heat index I instead of the sum over the months given."""
    def sr(v):
        return (1.0 + v) / (1.0 - v)

    sr_min = sr(ndvi_min) if sr_min is None else sr_min
    sr_max = sr(ndvi_max) if sr_max is None else sr_max
    k_max = max(range(len(ndvi)), key=lambda k: ndvi[k])       # month of maximum NDVI
    t_opt = temp[k_max]
    if heat is None:
        heat = sum((t / 5.0) ** 1.514 for t in temp if t > 0)    # Thornthwaite heat index I
    a = 6.75e-7 * heat ** 3 - 7.71e-5 * heat ** 2 + 1.792e-2 * heat + 0.49239
    ws = []
    for t, p in zip(temp, precip):                               # W_eps of the months above 0 C
        if t <= 0:
            ws.append(None)
            continue
        ep0 = 16.0 * (10.0 * t / heat) ** a
        rn = math.sqrt(ep0 * p) * (0.369 + 0.598 * math.sqrt(ep0 / p))
        eet = p * rn * (p * p + rn * rn + p * rn) / ((p + rn) * (p * p + rn * rn))
        pet = (eet + ep0) / 2.0
        ws.append(0.5 + 0.5 * min(eet / pet, 1.0))
    out = []
    for k, (v, t, s) in enumerate(zip(ndvi, temp, sol)):
        f_ndvi = (v - ndvi_min) / (ndvi_max - ndvi_min) * (fpar_max - fpar_min) + fpar_min
        f_sr = (sr(v) - sr_min) / (sr_max - sr_min) * (fpar_max - fpar_min) + fpar_min
        f_ndvi = min(max(f_ndvi, fpar_min), fpar_max)
        f_sr = min(max(f_sr, fpar_min), fpar_max)
        fpar = weight * f_ndvi + (1.0 - weight) * f_sr
        apar = s * fpar * par
        t1 = 0.0 if t <= cold else 0.8 + 0.02 * t_opt - 0.0005 * t_opt ** 2
        if t - t_opt > above or t_opt - t > below:
            t2 = 0.5 * t_eps2_curve(t_opt, t_opt)
        else:
            t2 = t_eps2_curve(t, t_opt)
        back = k                                                   # frozen month: W_eps of the previous month
        while ws[back % len(ws)] is None:                          # above 0 C (months taken as a cycle)
            back -= 1
        w = ws[k] if ws[k] is not None or frozen_w is None else frozen_w
        out.append(apar * eps_max * t1 * t2 * (ws[back % len(ws)] if w is None else w))
    return out


# ------------------------------------------------------------------------------ data
def _wkt(epsg=32649):
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    return srs.ExportToWkt()


def write_raster(path, bands, gt=GT, dtype=gdal.GDT_Float32, nodata=NODATA, names=(), wkt=None):
    bands = np.asarray(bands)
    if bands.ndim == 2:
        bands = bands[None]
    ds = gdal.GetDriverByName("GTiff").Create(str(path), bands.shape[2], bands.shape[1], bands.shape[0], dtype)
    ds.SetGeoTransform(gt)
    ds.SetProjection(wkt or _wkt())
    for k, arr in enumerate(bands):
        band = ds.GetRasterBand(k + 1)
        if nodata is not None:
            band.SetNoDataValue(nodata)
        band.WriteArray(arr)
        if k < len(names):
            band.SetDescription(names[k])
    ds = None
    return str(path)


def read(path, band=1):
    ds = gdal.Open(str(path))
    b = ds.GetRasterBand(band)
    a = b.ReadAsArray().astype(np.float64)
    nd = b.GetNoDataValue()
    if nd is not None:
        a[a == nd] = np.nan
    return a


def synthetic_inputs():
    """(ndvi, temp, precip, sol) arrays (12, 3, 4): a seasonal NDVI per pixel (peak month varies), climate
    varying by pixel; one NDVI month nodata at pixel (0, 3)."""
    rng = np.random.default_rng(6)
    k = np.arange(MONTHS)[:, None, None]
    peak = rng.integers(5, 8, (HEIGHT, WIDTH))[None]                       # June .. August
    amp = rng.uniform(0.25, 0.6, (HEIGHT, WIDTH))[None]
    ndvi = 0.12 + amp * np.exp(-0.5 * ((k - peak) / 2.0) ** 2) + rng.normal(0, 0.01, (MONTHS, HEIGHT, WIDTH))
    ndvi[:, 1, 2] -= 0.08                                                  # a sparse, impervious-like pixel
    ndvi[3, 0, 3] = NODATA
    offset = np.linspace(-1.5, 1.5, WIDTH)[None, None, :] + np.linspace(-0.5, 0.5, HEIGHT)[None, :, None]
    temp = np.asarray(BASE_T)[:, None, None] + offset
    precip = np.asarray(BASE_P)[:, None, None] * rng.uniform(0.8, 1.2, (HEIGHT, WIDTH))[None]
    sol = np.asarray(BASE_SOL)[:, None, None] * rng.uniform(0.9, 1.1, (HEIGHT, WIDTH))[None]
    return [a.astype(np.float32) for a in (ndvi, temp, precip, sol)]


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    d = tmp_path_factory.mktemp("casa_synth")
    ndvi, temp, precip, sol = synthetic_inputs()
    files = {name: write_raster(d / f"{name}.tif", arr) for name, arr in
             (("ndvi", ndvi), ("temp", temp), ("precip", precip), ("sol", sol))}
    files["lc"] = write_raster(d / "lc.tif", LANDCOVER, dtype=gdal.GDT_Byte, nodata=0)
    files["ndvi_months"] = [write_raster(d / f"ndvi_{k + 1:02d}.tif", ndvi[k]) for k in range(MONTHS)]
    return d, (ndvi, temp, precip, sol), files


def run_casa(out_dir, tag="run", monthly=False, **params):
    import processing
    args = {"OUTPUT": str(out_dir / f"{tag}_npp.tif"), "OUTPUT_TABLE": str(out_dir / f"{tag}_table.csv")}
    if monthly:
        args["OUTPUT_MONTHLY"] = str(out_dir / f"{tag}_monthly.tif")
    args.update(params)
    return processing.run("miningeco:casanpp", args)


def synth_params(files, **extra):
    params = {"NDVI": [files["ndvi"]], "TEMPERATURE": [files["temp"]], "PRECIPITATION": [files["precip"]],
              "SOLAR_RADIATION": [files["sol"]], "LANDCOVER": files["lc"]}
    params.update(extra)
    return params


def default_table():
    """The algorithm's default CLASS_TABLE as {code: (name, eps_max, ndvi_min, ndvi_max, sr_min, sr_max)}."""
    from qgis.core import QgsApplication
    alg = QgsApplication.processingRegistry().algorithmById("miningeco:casanpp")
    cells = alg.parameterDefinition("CLASS_TABLE").defaultValue()
    out = {}
    for i in range(0, len(cells), 7):
        code, name, *nums = cells[i:i + 7]
        out[int(code)] = (name, *[None if str(v).strip() in ("", "None") else float(v) for v in nums])
    return out


def table_rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


# ------------------------------------------------------------------------------ synthetic checks
def test_npp_equals_the_step_by_step_reference(provider, synth, tmp_path):
    """Annual and monthly NPP of every pixel == casa_pixel (published formulas, plain Python) with the default
    class table; nodata where the land cover is nodata or an NDVI month is missing."""
    _d, (ndvi, temp, precip, sol), files = synth
    res = run_casa(tmp_path, monthly=True, **synth_params(files))
    table = default_table()
    annual = read(res["OUTPUT"])
    checked = 0
    for r in range(HEIGHT):
        for c in range(WIDTH):
            code = int(LANDCOVER[r, c])
            if code == 0 or ndvi[3, r, c] == NODATA:
                assert np.isnan(annual[r, c]), (r, c)
                continue
            _name, eps, nmin, nmax, smin, smax = table[code]
            want = casa_pixel(*(a[:, r, c].astype(np.float64) for a in (ndvi, temp, precip, sol)),
                              eps, nmin, nmax, smin, smax)
            assert annual[r, c] == pytest.approx(sum(want), rel=2e-5), (r, c)
            for k in range(MONTHS):
                assert read(res["OUTPUT_MONTHLY"], k + 1)[r, c] == pytest.approx(want[k], rel=2e-5, abs=1e-4)
            checked += 1
    assert checked == HEIGHT * WIDTH - 2
    assert np.nanmin(annual) > 0
    ds = gdal.Open(res["OUTPUT_MONTHLY"])
    assert [ds.GetRasterBand(k + 1).GetDescription() for k in range(MONTHS)] == [f"month {k + 1}"
                                                                                  for k in range(MONTHS)]
    assert os.path.exists(os.path.splitext(res["OUTPUT"])[0] + ".qml")
    assert res["VALID_PIXELS"] == checked and res["MEAN_NPP"] == pytest.approx(np.nanmean(annual), rel=1e-6)


def test_a_user_class_table_and_constants_are_used(provider, synth, tmp_path):
    """Changed eps_max / NDVI limits / SR limits and PAR fraction, FPAR bounds and weight reach the formulas
    (reference casa_pixel with the same numbers)."""
    _d, (ndvi, temp, precip, sol), files = synth
    rows = {1: ("crop", 0.6, 0.05, 0.7, 1.2, 5.0), 2: ("forest", 0.9, 0.1, 0.8, None, None),
            4: ("grass", 0.5, 0.02, 0.65, None, None), 8: ("built", 0.3, 0.0, 0.5, None, None)}
    cells = [str(v) if v is not None else "" for code, row in rows.items() for v in (code, *row)]
    consts = dict(PAR_FRACTION=0.45, FPAR_MIN=0.01, FPAR_MAX=0.9, FPAR_NDVI_WEIGHT=0.3)
    annual = read(run_casa(tmp_path, **synth_params(files, CLASS_TABLE=cells, **consts))["OUTPUT"])
    for r, c in [(0, 0), (1, 0), (1, 2), (2, 1), (0, 2)]:
        _name, eps, nmin, nmax, smin, smax = rows[int(LANDCOVER[r, c])]
        want = casa_pixel(*(a[:, r, c].astype(np.float64) for a in (ndvi, temp, precip, sol)), eps, nmin, nmax,
                          smin, smax, par=0.45, fpar_min=0.01, fpar_max=0.9, weight=0.3)
        assert annual[r, c] == pytest.approx(sum(want), rel=2e-5), (r, c)


def test_one_layer_per_month_equals_one_stack(provider, synth, tmp_path):
    """12 single-band NDVI rasters in month order == one 12-band NDVI raster (identical output)."""
    _d, _arrays, files = synth
    a = read(run_casa(tmp_path, "stack", **synth_params(files))["OUTPUT"])
    b = read(run_casa(tmp_path, "layers", **synth_params(files, NDVI=files["ndvi_months"]))["OUTPUT"])
    np.testing.assert_array_equal(a, b)


def test_typed_values_equal_constant_rasters(provider, synth, tmp_path):
    """TEMPERATURE_VALUES / PRECIPITATION_VALUES / SOLAR_RADIATION_VALUES == 12-band rasters holding the same value in
    every pixel (identical output)."""
    d, _arrays, files = synth
    consts = {}
    for pid, base in (("TEMPERATURE", BASE_T), ("PRECIPITATION", BASE_P), ("SOLAR_RADIATION", BASE_SOL)):
        arr = np.ascontiguousarray(np.broadcast_to(np.asarray(base, np.float32)[:, None, None], (MONTHS, HEIGHT, WIDTH)))
        consts[pid] = [write_raster(d / f"const_{pid}.tif", arr)]
    a = read(run_casa(tmp_path, "rasters", **synth_params(files, **consts))["OUTPUT"])
    values = {f"{pid}_VALUES": ", ".join(f"{v:g}" for v in base)
              for pid, base in (("TEMPERATURE", BASE_T), ("PRECIPITATION", BASE_P), ("SOLAR_RADIATION", BASE_SOL))}
    b = read(run_casa(tmp_path, "values", **synth_params(files, TEMPERATURE=None, PRECIPITATION=None,
                                                          SOLAR_RADIATION=None, **values))["OUTPUT"])
    np.testing.assert_array_equal(a, b)
    assert np.isfinite(a).sum() == HEIGHT * WIDTH - 2


def test_output_does_not_depend_on_the_block_size(provider, synth, tmp_path, monkeypatch):
    """Identical outputs and table for any block shape and number of executor threads (blocks computed
    concurrently, partial results combined)."""
    _d, _arrays, files = synth
    ref = run_casa(tmp_path, "ref", monthly=True, **synth_params(files))
    for rows, cols, threads in [(1, None, 1), (2, 3, 2), (1, 1, 3), (256, None, 5)]:
        monkeypatch.setattr(engine, "DEFAULT_BLOCK_ROWS", rows)
        monkeypatch.setattr(engine, "DEFAULT_BLOCK_COLS", cols)
        if os.environ.get("MINING_ECO_EXECUTOR", "threads") == "threads":
            monkeypatch.setenv("MINING_ECO_WORKERS", str(threads))
        res = run_casa(tmp_path, f"b{rows}x{cols}t{threads}", monthly=True, **synth_params(files))
        np.testing.assert_array_equal(read(res["OUTPUT"]), read(ref["OUTPUT"]))
        for k in (1, 7, 12):
            np.testing.assert_array_equal(read(res["OUTPUT_MONTHLY"], k), read(ref["OUTPUT_MONTHLY"], k))
        assert table_rows(res["OUTPUT_TABLE"]) == table_rows(ref["OUTPUT_TABLE"])



def test_month_files_are_not_loaded_as_map_layers_and_project_layers_still_work(provider, synth, tmp_path):
    """Month inputs given as file paths are read by the raster engine without a QgsRasterLayer per input (QGIS
    would build one, with render statistics, in checkParameterValues / validateInputCrs / parameterAsLayerList):
    the context's temporary layer store then holds only the land cover. Month inputs given as project layers
    (a layer id, a layer object) or as a missing file still go through QGIS's resolution: the same output as the
    paths (identical rasters), and QGIS's own error for a missing file."""
    import processing
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback, QgsProject, QgsRasterLayer
    _d, _arrays, files = synth
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    params = synth_params(files, OUTPUT=str(tmp_path / "paths.tif"))
    ref = processing.run("miningeco:casanpp", params, context=context, feedback=QgsProcessingFeedback())
    loaded = [layer.source() for layer in context.temporaryLayerStore().mapLayers().values()]
    assert loaded == [files["lc"]], loaded
    project = QgsProject.instance()
    ndvi_layer = QgsRasterLayer(files["ndvi"], "ndvi in the project", "gdal")
    temp_layer = QgsRasterLayer(files["temp"], "temperature in the project", "gdal")
    project.addMapLayers([ndvi_layer, temp_layer])
    try:
        res = run_casa(tmp_path, "project", **synth_params(files, NDVI=[ndvi_layer.id()], TEMPERATURE=[temp_layer]))
        np.testing.assert_array_equal(read(res["OUTPUT"]), read(ref["OUTPUT"]))
    finally:
        project.removeMapLayers([ndvi_layer.id(), temp_layer.id()])
    _fails(tmp_path, files, "NDVI", NDVI=[str(tmp_path / "no_such_ndvi.tif")])


def test_a_month_file_that_is_no_raster_names_the_input(provider, synth, tmp_path):
    """An existing file that GDAL cannot open as a raster: error naming PRECIPITATION, no output."""
    _d, _arrays, files = synth
    text = tmp_path / "precip.csv"
    text.write_text("month,mm\n1,6\n")
    _fails(tmp_path, files, "PRECIPITATION", "precip.csv", PRECIPITATION=[str(text)])

def test_class_table_equals_numpy_per_class(provider, synth, tmp_path):
    """Table rows == numpy count / mean / population sd / cv of the annual NPP raster per land-cover code, and
    over all valid pixels (last row)."""
    _d, _arrays, files = synth
    res = run_casa(tmp_path, **synth_params(files))
    annual = read(res["OUTPUT"])
    rows = table_rows(res["OUTPUT_TABLE"])
    table = default_table()
    ok = np.isfinite(annual)
    codes = sorted(set(LANDCOVER[ok].tolist()))
    assert [int(r["code"]) for r in rows[:-1]] == codes
    for row, code in zip(rows, codes):
        v = annual[ok & (LANDCOVER == code)]
        assert row["name"] == table[code][0]
        assert int(row["pixels"]) == v.size
        assert float(row["mean"]) == pytest.approx(v.mean(), rel=1e-6)
        assert float(row["sd"]) == pytest.approx(v.std(), rel=1e-5, abs=1e-6)
        assert float(row["cv_percent"]) == pytest.approx(100 * v.std() / v.mean(), rel=1e-5, abs=1e-6)
    last = rows[-1]
    assert last["code"] in ("", "NULL", None) and int(last["pixels"]) == ok.sum()
    assert float(last["mean"]) == pytest.approx(annual[ok].mean(), rel=1e-6)
    assert float(last["sd"]) == pytest.approx(annual[ok].std(), rel=1e-5)


# ------------------------------------------------------------------------------ bad inputs
def _fails(tmp_path, files, *words, **params):
    out = tmp_path / "bad"
    out.mkdir(exist_ok=True)
    return assert_fails_cleanly(lambda: run_casa(out, "bad", monthly=True, **synth_params(files, **params)), out,
                                *words)


def test_mismatched_month_counts_name_the_input(provider, synth, tmp_path):
    _d, _arrays, files = synth
    _fails(tmp_path, files, "TEMPERATURE_VALUES has 11", "NDVI", TEMPERATURE=None,
           TEMPERATURE_VALUES=", ".join(map(str, BASE_T[:11])))
    _fails(tmp_path, files, "NDVI has 11", NDVI=files["ndvi_months"][:11])


def test_kelvin_temperature_is_refused(provider, synth, tmp_path):
    d, (_n, temp, _p, _s), files = synth
    kelvin = write_raster(d / "temp_kelvin.tif", temp + np.float32(273.15))
    msg = _fails(tmp_path, files, "TEMPERATURE", "Kelvin", TEMPERATURE=[kelvin])
    assert "273.15" in msg
    _fails(tmp_path, files, "TEMPERATURE_VALUES", "Kelvin", TEMPERATURE=None,
           TEMPERATURE_VALUES=", ".join(f"{t + 273.15:.2f}" for t in BASE_T))


def test_scaled_ndvi_outside_minus1_1_is_refused(provider, synth, tmp_path):
    d, (ndvi, *_rest), files = synth
    scaled = write_raster(d / "ndvi_x10000.tif", np.where(ndvi == NODATA, NODATA, np.round(ndvi * 10000)))
    _fails(tmp_path, files, "NDVI", "outside [-1, 1]", "10000", "NDVI month 1 (ndvi_x10000.tif, band 1)",
           "multiply by 0.0001", NDVI=[scaled])
    # one layer per month, the scaled month 5 named by its layer (review D3)
    months = list(files["ndvi_months"])
    months[4] = write_raster(d / "ndvi_05_x100.tif", np.round(ndvi[4] * 100))
    _fails(tmp_path, files, "NDVI month 5 (ndvi_05_x100)", "12 of 12 valid values", "from 18 to 48", "by 0.01", NDVI=months)


def test_landcover_codes_without_parameters_are_listed(provider, synth, tmp_path):
    d, _arrays, files = synth
    lc = LANDCOVER.copy()
    lc[0, 0], lc[2, 2] = 12, 40
    path = write_raster(d / "lc_unknown.tif", lc, dtype=gdal.GDT_Byte, nodata=0)
    _fails(tmp_path, files, "CLASS_TABLE", "12, 40", LANDCOVER=path)
    floaty = write_raster(d / "lc_float.tif", LANDCOVER.astype(np.float32))
    _fails(tmp_path, files, "LANDCOVER", "floating-point", LANDCOVER=floaty)


def test_both_or_neither_raster_and_values(provider, synth, tmp_path):
    _d, _arrays, files = synth
    _fails(tmp_path, files, "PRECIPITATION / PRECIPITATION_VALUES", "both",
           PRECIPITATION_VALUES=", ".join(map(str, BASE_P)))
    _fails(tmp_path, files, "SOLAR_RADIATION / SOLAR_RADIATION_VALUES", "give the monthly", SOLAR_RADIATION=None)
    _fails(tmp_path, files, "TEMPERATURE_VALUES", "'warm' is not a number", TEMPERATURE=None,
           TEMPERATURE_VALUES="1, 2, warm")


def test_inputs_on_other_grids_are_named(provider, synth, tmp_path):
    d, (_n, temp, _p, _s), files = synth
    shifted = write_raster(d / "temp_shifted.tif", temp, gt=(GT[0] + 60.0,) + GT[1:])
    _fails(tmp_path, files, "TEMPERATURE month 1", "not on the grid", "extent differs", TEMPERATURE=[shifted])
    lc_other = write_raster(d / "lc_other_crs.tif", LANDCOVER, dtype=gdal.GDT_Byte, nodata=0, wkt=_wkt(32650))
    _fails(tmp_path, files, "LANDCOVER", "CRS differs", LANDCOVER=lc_other)


def test_resampling_option_warps_climate_onto_the_ndvi_grid(provider, synth, tmp_path):
    """With RESAMPLING = nearest, a temperature raster at 60 m (2 x 2 NDVI pixels each) gives the same NPP as its
    values repeated on the 30 m grid (nearest neighbour reference: np.repeat)."""
    d, (_n, temp, _p, _s), files = synth
    coarse = temp[:, ::2, ::2][:, :2, :2]
    path = write_raster(d / "temp_60m.tif", coarse, gt=(GT[0], 60.0, 0.0, GT[3], 0.0, -60.0))
    fine = np.repeat(np.repeat(coarse, 2, axis=1), 2, axis=2)[:, :HEIGHT, :WIDTH]
    ref = read(run_casa(tmp_path, "fine", **synth_params(files, TEMPERATURE=[write_raster(d / "temp_fine.tif",
                                                                                          fine)]))["OUTPUT"])
    got = read(run_casa(tmp_path, "warped", **synth_params(files, TEMPERATURE=[path], RESAMPLING=1))["OUTPUT"])
    np.testing.assert_array_equal(got, ref)


def test_cancel_leaves_no_output(provider, synth, tmp_path, monkeypatch):
    from qgis.core import QgsProcessingException, QgsProcessingFeedback
    _d, _arrays, files = synth
    monkeypatch.setattr(engine, "DEFAULT_BLOCK_ROWS", 1)
    fb = QgsProcessingFeedback()
    fb.progressChanged.connect(lambda p: fb.cancel() if p > 10 else None)
    out = tmp_path / "cancel"
    out.mkdir()
    import processing
    params = synth_params(files, OUTPUT=str(out / "npp.tif"), OUTPUT_MONTHLY=str(out / "m.tif"),
                          OUTPUT_TABLE=str(out / "t.csv"))
    with pytest.raises(QgsProcessingException, match="[Cc]ancel"):
        processing.run("miningeco:casanpp", params, feedback=fb)
    assert fb.isCanceled() and os.listdir(out) == []


# ------------------------------------------------------------------------------ real Landsat NDVI (Marburg)
MARBURG_SCENES = {   # month: (tag, product prefix, SENSOR enum, red band, NIR band)
    7: ("L8_20130707", L8, 2, "4", "5"),
    8: ("L7_20010730", L7, 1, "3", "4"),
}
MODEL = os.path.join(ROOT, "test", "models", "index_to_casa.model3")


def scene_ndvi_params(month, out):
    _tag, prefix, sensor, red, nir = MARBURG_SCENES[month]
    return {"SENSOR": sensor, "RADIOMETRY": 1, "MTL_FILE": f"{prefix}_MTL.txt", "RED": f"{prefix}_B{red}.TIF",
            "NIR": f"{prefix}_B{nir}.TIF", "INDICES": [0], "OUTPUT": str(out)}


def classify_by_ndvi(ndvi):
    """A crude land cover from the July NDVI (NOT a land-cover map): < 0 water (5), < 0.3 impervious (8), < 0.5
    cropland (1), < 0.65 grassland (4), else forest (2); CLCD codes."""
    lc = np.full(ndvi.shape, 2, dtype=np.uint8)
    for limit, code in ((0.65, 4), (0.5, 1), (0.3, 8), (0.0, 5)):
        lc[ndvi < limit] = code
    lc[~np.isfinite(ndvi)] = 0
    return lc


@pytest.fixture(scope="module")
def marburg(provider, tmp_path_factory):
    """Real inputs: TOA NDVI (miningeco:spectralindices with the MTL) of the Landsat 8 scene of 2013-07-07 as July
    and of the Landsat 7 scene of 2001-07-30 (the same 41 x 41 px grid) standing in for August. The other ten
    months have no scene: uniform NDVI rasters of assumed values (MARBURG_NDVI, a temperate mixed landscape).
    Climate: typical climate normals of Marburg (Hesse, Germany), approximate monthly means of temperature and
    precipitation and monthly totals of global radiation (MARBURG_T / _P / _SOL, typed as values). Land cover:
    classify_by_ndvi of the July NDVI."""
    import processing
    d = tmp_path_factory.mktemp("casa_marburg")
    scenes = {}
    for month in MARBURG_SCENES:
        out = d / f"ndvi_{MARBURG_SCENES[month][0]}.tif"
        processing.run("miningeco:spectralindices", scene_ndvi_params(month, out))
        scenes[month] = str(out)
    ds = gdal.Open(scenes[7])
    gt, wkt, shape = ds.GetGeoTransform(), ds.GetProjection(), (ds.RasterYSize, ds.RasterXSize)
    ds = None
    months = []
    for month in range(1, MONTHS + 1):
        if month in scenes:
            months.append(scenes[month])
        else:
            months.append(write_raster(d / f"ndvi_{month:02d}.tif", np.full(shape, MARBURG_NDVI[month], np.float32),
                                       gt=gt, wkt=wkt))
    lc_path = write_raster(d / "landcover.tif", classify_by_ndvi(read(scenes[7])), gt=gt, wkt=wkt,
                           dtype=gdal.GDT_Byte, nodata=0)
    params = {"NDVI": months, "LANDCOVER": lc_path,
              "TEMPERATURE_VALUES": ", ".join(map(str, MARBURG_T)),
              "PRECIPITATION_VALUES": ", ".join(map(str, MARBURG_P)),
              "SOLAR_RADIATION_VALUES": ", ".join(map(str, MARBURG_SOL))}
    out = d / "direct"
    out.mkdir()
    res = processing.run("miningeco:casanpp", dict(params, OUTPUT=str(out / "npp.tif"),
                                                   OUTPUT_MONTHLY=str(out / "npp_monthly.tif"),
                                                   OUTPUT_TABLE=str(out / "npp_table.csv")))
    return d, params, res


def test_marburg_real_ndvi_equals_the_step_by_step_reference(marburg):
    """Every pixel of the real-NDVI run == casa_pixel on the NDVI read back from the index rasters (the index
    calculator itself is checked in test/qgis), with the default CLCD parameters."""
    _d, params, res = marburg
    ndvi = np.stack([read(p) for p in params["NDVI"]])
    lc = gdal.Open(params["LANDCOVER"]).ReadAsArray()
    table = default_table()
    annual = read(res["OUTPUT"])
    assert annual.shape == (41, 41)
    assert 0.3 < np.nanmax(ndvi[6]) < 1.0 and np.isfinite(ndvi[6]).all()
    assert len(set(lc.ravel().tolist())) >= 3          # several land-cover classes in the scene
    for r in range(41):
        for c in range(41):
            _name, eps, nmin, nmax, smin, smax = table[int(lc[r, c])]
            want = casa_pixel(ndvi[:, r, c], MARBURG_T, MARBURG_P, MARBURG_SOL, eps, nmin, nmax, smin, smax)
            assert annual[r, c] == pytest.approx(sum(want), rel=2e-5, abs=1e-3), (r, c)
    assert 100 < np.nanmean(annual) < 1500          # gC m-2 yr-1: a temperate landscape (MODIS: ~400-900)
    rows = table_rows(res["OUTPUT_TABLE"])
    assert int(rows[-1]["pixels"]) == 41 * 41


def test_marburg_through_qgis_process_equals_processing_run(marburg, qgis_process, tmp_path):
    _d, params, res = marburg
    args = [f"NDVI={p}" for p in params["NDVI"]]
    args += [f"{k}={v}" for k, v in params.items() if k != "NDVI"]
    args += [f"OUTPUT={tmp_path / 'npp.tif'}", f"OUTPUT_MONTHLY={tmp_path / 'monthly.tif'}",
             f"OUTPUT_TABLE={tmp_path / 'table.csv'}"]
    proc = qgis_process("run", "miningeco:casanpp", "--", *args)
    assert "MEAN_NPP" in proc.stdout
    np.testing.assert_array_equal(read(tmp_path / "npp.tif"), read(res["OUTPUT"]))
    for k in (1, 7, 8, 12):
        np.testing.assert_array_equal(read(tmp_path / "monthly.tif", k), read(res["OUTPUT_MONTHLY"], k))
    assert table_rows(tmp_path / "table.csv") == table_rows(res["OUTPUT_TABLE"])
    assert (tmp_path / "npp.qml").exists()
    # a class table typed on the command line as the help shows it (cells comma separated, empty SR cells): forest
    # as deciduous broadleaf (Zhu 2006: eps_max 0.692, NDVI_max 0.747) == the same cells through processing.run
    table = default_table()
    table[2] = ("Broadleaf forest", 0.692, 0.023, 0.747, None, None)
    cells = ["" if v is None else f"{v:g}" if isinstance(v, float) else str(v)
             for code, row in table.items() for v in (code, *row)]
    args = [a.replace("npp.tif", "npp_cli_table.tif") for a in args
            if not a.startswith(("OUTPUT_MONTHLY", "OUTPUT_TABLE"))]
    qgis_process("run", "miningeco:casanpp", "--", *args, f"CLASS_TABLE={','.join(cells)}")
    import processing
    direct = processing.run("miningeco:casanpp", dict(params, CLASS_TABLE=cells, OUTPUT=str(tmp_path / "b.tif")))
    got = read(tmp_path / "npp_cli_table.tif")
    np.testing.assert_array_equal(got, read(direct["OUTPUT"]))
    forest = gdal.Open(params["LANDCOVER"]).ReadAsArray() == 2
    assert forest.any() and not np.allclose(got[forest], read(res["OUTPUT"])[forest])


def test_model_index_to_casa_runs_headless_and_equals_the_direct_run(marburg, qgis_process, tmp_path):
    """test/models/index_to_casa.model3 (spectralindices NDVI of the L8 scene -> casanpp, with the other months
    around it) run by qgis_process == the direct processing.run of the two tools."""
    _d, params, res = marburg
    scene = scene_ndvi_params(7, None)
    args = [f"{k}={scene[k]}" for k in ("SENSOR", "RADIOMETRY", "MTL_FILE", "RED", "NIR")]
    args += [f"NDVI_BEFORE={p}" for p in params["NDVI"][:6]] + [f"NDVI_AFTER={p}" for p in params["NDVI"][7:]]
    args += [f"{k}={params[k]}" for k in ("TEMPERATURE_VALUES", "PRECIPITATION_VALUES", "SOLAR_RADIATION_VALUES",
                                          "LANDCOVER")]
    args += [f"casa:NPP={tmp_path / 'npp.tif'}", f"casa:NPP_MONTHLY={tmp_path / 'monthly.tif'}",
             f"casa:NPP_TABLE={tmp_path / 'table.csv'}"]
    results = qgis_process.results(MODEL, "--", *args)
    assert results["casa:NPP"] == str(tmp_path / "npp.tif")
    np.testing.assert_array_equal(read(tmp_path / "npp.tif"), read(res["OUTPUT"]))
    np.testing.assert_array_equal(read(tmp_path / "monthly.tif", 7), read(res["OUTPUT_MONTHLY"], 7))
    assert table_rows(tmp_path / "table.csv") == table_rows(res["OUTPUT_TABLE"])


def test_model_file_matches_its_build_script(provider, tmp_path):
    from modelkit import saved_model_as_built
    model = saved_model_as_built("build_index_to_casa.py", MODEL, tmp_path)
    children = model.childAlgorithms()
    assert {c.algorithmId() for c in children.values()} == {"miningeco:spectralindices", "miningeco:casanpp"}
    sources = children["casa"].parameterSources()["NDVI"]
    assert [(s.parameterName() or s.outputChildId()) for s in sources] == ["NDVI_BEFORE", "indices", "NDVI_AFTER"]


def test_annual_npp_renders_styled(marburg, tmp_path):
    """The .qml beside the annual NPP is the green ramp: rendered offscreen (scripts/demo.py render_png), the
    image is not blank and its pixels are greens / pale yellows (g channel highest)."""
    import sys
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    from demo import render_png
    from qgis.PyQt.QtGui import QImage
    _d, _params, res = marburg
    png = render_png(res["OUTPUT"], str(tmp_path / "npp.png"), width=246)
    img = QImage(png)
    colours = {img.pixelColor(x, y).name() for x in range(0, img.width(), 7) for y in range(0, img.height(), 7)}
    assert len(colours) > 10
    greenish = [c for c in colours if int(c[3:5], 16) >= max(int(c[1:3], 16), int(c[5:7], 16)) - 8]
    assert len(greenish) >= 0.9 * len(colours)


def test_frost_months_follow_the_published_rules(provider, synth, tmp_path):
    """A continental climate (January -12 C, February -3 C, December -1 C): casa_pixel with the frost-month rules
    (T_eps1 = 0 at <= -10 C, W_eps of the previous unfrozen month at <= 0 C) == the tool, every pixel; and the
    frost rules matter (January NPP 0 through T_eps1)."""
    _d, (ndvi, _t, _p, _s), files = synth
    temp = [-12.0, -3.0, 4.5, 12.0, 18.0, 22.0, 24.0, 22.5, 17.0, 10.0, 2.0, -1.0]
    precip = BASE_P[:10] + [1.0, 5.0]           # a dry November: its W_eps (taken by December) is well below 1
    res = run_casa(tmp_path, monthly=True, **synth_params(files, TEMPERATURE=None, PRECIPITATION=None,
                                                          SOLAR_RADIATION=None,
                                                          TEMPERATURE_VALUES=",".join(map(str, temp)),
                                                          PRECIPITATION_VALUES=",".join(map(str, precip)),
                                                          SOLAR_RADIATION_VALUES=",".join(map(str, BASE_SOL))))
    annual, january = read(res["OUTPUT"]), read(res["OUTPUT_MONTHLY"], 1)
    table = default_table()
    for r in range(HEIGHT):
        for c in range(WIDTH):
            if np.isnan(annual[r, c]):
                continue
            _name, eps, nmin, nmax, smin, smax = table[int(LANDCOVER[r, c])]
            args = (ndvi[:, r, c].astype(np.float64), temp, precip, BASE_SOL, eps, nmin, nmax, smin, smax)
            want = casa_pixel(*args)
            assert annual[r, c] == pytest.approx(sum(want), rel=2e-5), (r, c)
            assert read(res["OUTPUT_MONTHLY"], 12)[r, c] == pytest.approx(want[11], rel=2e-5)
            assert want[11] < 0.8 * casa_pixel(*args, frozen_w=1.0)[11]      # the previous-month rule acts
    assert np.nanmax(january) == 0.0 and np.isfinite(annual).sum() == HEIGHT * WIDTH - 2


def test_unusual_units_are_warned_about_and_the_run_completes(provider, synth, tmp_path):
    """Daily radiation totals (MJ m-2 day-1, ~30x too small for CASA's monthly totals) are not an error but a
    warning naming the input and the fix (core.casa.check_plausible's thresholds)."""
    import processing
    _d, _arrays, files = synth
    fb = recording_feedback()
    daily = ",".join(f"{v / 30.0:.2f}" for v in BASE_SOL)
    params = synth_params(files, SOLAR_RADIATION=None, SOLAR_RADIATION_VALUES=daily,
                          OUTPUT=str(tmp_path / "npp.tif"), OUTPUT_TABLE=str(tmp_path / "t.csv"))
    res = processing.run("miningeco:casanpp", params, feedback=fb)
    assert os.path.exists(res["OUTPUT"])
    assert any("SOLAR_RADIATION_VALUES" in w and "daily" in w for w in fb.warnings), fb.warnings
    fb = recording_feedback()
    processing.run("miningeco:casanpp", synth_params(files, OUTPUT=str(tmp_path / "ok.tif")), feedback=fb)
    assert fb.warnings == []


def test_help_through_qgis_process_documents_inputs_and_sources(qgis_process):
    out = qgis_process("help", "miningeco:casanpp").stdout
    for text in ("NDVI", "TEMPERATURE_VALUES", "PRECIPITATION", "SOLAR_RADIATION_VALUES", "LANDCOVER", "CLASS_TABLE",
                 "OUTPUT_MONTHLY", "OUTPUT_TABLE", "Remote Sensing 14: 4177", "Potter", "Zhou", "Thornthwaite",
                 "APAR = solar radiation x FPAR x 0.5", "mm per month", "consecutive calendar months",
                 "T_EPS1_COLD_LIMIT", "T_EPS2_ABOVE", "T_EPS2_BELOW", "FROZEN_W_EPS", "HEAT_INDEX",
                 "reflectance over dark water", "nodata -9999 where an input of that month", "docs/casanpp.html"):
        assert text in out, text


def test_help_is_split_into_paragraphs(provider):
    """Review nit: the short help is a few plain paragraphs (issue 11: at most 1,500 characters); the formulas and
    every parameter and output with its help line (the numbers MEAN_NPP / VALID_PIXELS included) are in the
    manual page the Help button opens."""
    import html
    from qgis.core import QgsApplication
    from qgis.PyQt.QtCore import QUrl
    alg = QgsApplication.processingRegistry().algorithmById("miningeco:casanpp")
    text = alg.shortHelpString()
    assert text.count("\n") >= 3 and "\n\n" not in text and "<" not in text and len(text) <= 1500
    with open(QUrl(alg.helpUrl()).toLocalFile(), encoding="utf-8") as f:
        page = f.read()
    for name in ("MEAN_NPP", "VALID_PIXELS", "OUTPUT_MONTHLY", "HEAT_INDEX"):
        row = next(r for r in page.split("<tr>") if f"<code>{name}</code>" in r)
        assert len(re.sub(r"<[^>]+>", "", row.split("</td>")[-2])) > 30, name
    for text in ("multiply by 0.0001", "Number of pixels of OUTPUT", "Mean of the annual NPP", "T<sub>opt</sub>",
                 "Zhou &amp; Zhang (1995)", "Worked example"):
        assert html.escape(text, quote=False) in page or text in page, text


# ------------------------------------------------------------------------------ review D4: rule parameters
FROST_T = [-12.0, -3.0, 4.5, 12.0, 18.0, 22.0, 24.0, 22.5, 17.0, 10.0, 2.0, -1.0]
FROST_P = BASE_P[:10] + [1.0, 5.0]


@pytest.mark.parametrize("params, ref_kw", [
    ({"T_EPS1_COLD_LIMIT": -2.0}, {"cold": -2.0}),                 # February (-3 C) at T_eps1 = 0 too
    ({"T_EPS2_ABOVE": 1.0}, {"above": 1.0}),                      # the warmest months halved
    ({"T_EPS2_BELOW": 8.0}, {"below": 8.0}),                      # spring and autumn months halved
    ({"FROZEN_W_EPS": 1}, {"frozen_w": 1.0}),                     # W_eps 1 in February and December
    ({"HEAT_INDEX": 70.0}, {"heat": 70.0}),                       # an annual I instead of the months' sum
    ({"T_EPS1_COLD_LIMIT": -10.0, "T_EPS2_ABOVE": 10.0, "T_EPS2_BELOW": 13.0, "FROZEN_W_EPS": 0, "HEAT_INDEX": None},
     {}),                                                         # the published defaults, typed explicitly
])
def test_rule_parameters_act_as_the_reference(provider, synth, tmp_path, params, ref_kw):
    """Review D4 (issue 6 "every constant a parameter"): each advanced rule parameter (T_eps1 cold limit, the
    half-value thresholds above / below T_opt, the frozen-month W_eps, an annual heat index) changes the annual
    and monthly NPP of every pixel exactly as casa_pixel (plain Python from the papers) computes with the same
    constant, on a continental climate (January -12 C, February -3 C, December -1 C, a dry November); and the
    result differs from the default run at some pixel (the parameter acts), except for the explicit defaults."""
    _d, (ndvi, _t, _p, _s), files = synth
    climate = dict(TEMPERATURE=None, PRECIPITATION=None, SOLAR_RADIATION=None,
                   TEMPERATURE_VALUES=",".join(map(str, FROST_T)), PRECIPITATION_VALUES=",".join(map(str, FROST_P)),
                   SOLAR_RADIATION_VALUES=",".join(map(str, BASE_SOL)))
    res = run_casa(tmp_path, "rule", monthly=True, **synth_params(files, **climate, **params))
    default = read(run_casa(tmp_path, "default", **synth_params(files, **climate))["OUTPUT"])
    annual = read(res["OUTPUT"])
    table = default_table()
    checked = 0
    for r in range(HEIGHT):
        for c in range(WIDTH):
            if np.isnan(annual[r, c]):
                continue
            _name, eps, nmin, nmax, smin, smax = table[int(LANDCOVER[r, c])]
            want = casa_pixel(ndvi[:, r, c].astype(np.float64), FROST_T, FROST_P, BASE_SOL, eps, nmin, nmax, smin,
                              smax, **ref_kw)
            assert annual[r, c] == pytest.approx(sum(want), rel=2e-5), (r, c)
            for k in (1, 5, 8, 11):
                assert read(res["OUTPUT_MONTHLY"], k + 1)[r, c] == pytest.approx(want[k], rel=2e-5, abs=1e-5)
            checked += 1
    assert checked == HEIGHT * WIDTH - 2
    ok = np.isfinite(default)
    if ref_kw:
        assert np.any(annual[ok] != default[ok]), params
    else:
        np.testing.assert_array_equal(annual, default)


def test_a_heat_index_that_is_not_positive_is_refused(provider, synth, tmp_path):
    _d, _arrays, files = synth
    _fails(tmp_path, files, "HEAT_INDEX", "leave it empty", HEAT_INDEX=0.0)


# ------------------------------------------------------------------------------ review D3: Level-2 NDVI
def test_level2_ndvi_with_negative_water_reflectance_runs(provider, tmp_path):
    """Review D3: Landsat Collection 2 Level-2 reflectance is not clipped at 0. A synthetic Level-2 scene (DN,
    scale 2.75e-5, offset -0.2: red 9000 / NIR 16000 -> NDVI 0.6696) with two dark-water pixels of negative NIR
    (red 7600 / NIR 7100 -> NDVI -3.235; red 7650 / NIR 7200 -> -1.478) goes through the plugin's own index
    and a shadow pixel of negative red (red 7200 / NIR 7400 -> NDVI +3.67, which left as it is would give FPAR_max
    and make July its T_opt month) go through the plugin's own index calculator (miningeco:spectralindices) as
    July; the other months are uniform NDVI rasters. casanpp runs; the three pixels get the NPP of casa_pixel
    (plain Python, module docstring) with their July NDVI = -1 (no vegetation signal), every other pixel that of
    its own NDVI; one warning names the count and the month."""
    import processing
    red = np.full((HEIGHT, WIDTH), 9000, np.uint16)
    nir = np.full((HEIGHT, WIDTH), 16000, np.uint16)
    nir[1, :] = 13000                                              # a second vegetation level
    water = [(0, 0), (2, 3), (1, 1)]
    red[0, 0], nir[0, 0] = 7600, 7100
    red[2, 3], nir[2, 3] = 7650, 7200
    red[1, 1], nir[1, 1] = 7200, 7400                              # shadow: red -0.002, NIR 0.0035
    bands = {name: write_raster(tmp_path / f"LC08_L2SP_T1_SR_{name}.TIF", arr, dtype=gdal.GDT_UInt16, nodata=0)
             for name, arr in (("B4", red), ("B5", nir))}
    july = processing.run("miningeco:spectralindices", {
        "SENSOR": 2, "RADIOMETRY": 0, "RED": bands["B4"], "NIR": bands["B5"], "INDICES": [0],
        "OUTPUT": str(tmp_path / "ndvi_07.tif")})["OUTPUT"]
    ndvi_july = read(july)
    assert ndvi_july[0, 0] == pytest.approx((-0.00475 - 0.009) / (-0.00475 + 0.009), rel=1e-5)   # -3.235, by hand
    assert ndvi_july[1, 1] == pytest.approx((0.0035 + 0.002) / (0.0035 - 0.002), rel=1e-4)         # +3.67
    assert ndvi_july[2, 3] < -1 and np.all(np.abs(np.delete(ndvi_july.ravel(), [0, 5, 11])) < 1)
    others = {1: 0.2, 2: 0.22, 3: 0.3, 4: 0.42, 5: 0.55, 6: 0.6, 8: 0.62, 9: 0.5, 10: 0.38, 11: 0.28, 12: 0.22}
    months = [july if m == 7 else write_raster(tmp_path / f"ndvi_{m:02d}.tif", np.full((HEIGHT, WIDTH), v,
                                                                                         np.float32))
              for m, v in ((m, others.get(m)) for m in range(1, 13))]
    lc = np.array([[9, 2, 4, 1], [1, 2, 4, 8], [2, 1, 8, 9]], dtype=np.uint8)
    fb = recording_feedback()
    res = processing.run("miningeco:casanpp", {
        "NDVI": months, "TEMPERATURE_VALUES": ",".join(map(str, BASE_T)),
        "PRECIPITATION_VALUES": ",".join(map(str, BASE_P)), "SOLAR_RADIATION_VALUES": ",".join(map(str, BASE_SOL)),
        "LANDCOVER": write_raster(tmp_path / "lc.tif", lc, dtype=gdal.GDT_Byte, nodata=0),
        "OUTPUT": str(tmp_path / "npp.tif"), "OUTPUT_TABLE": str(tmp_path / "t.csv")}, feedback=fb)
    annual = read(res["OUTPUT"])
    table = default_table()
    for r in range(HEIGHT):
        for c in range(WIDTH):
            series = [float(read(p)[r, c]) for p in months]
            if (r, c) in water:
                series[6] = -1.0
            _name, eps, nmin, nmax, smin, smax = table[int(lc[r, c])]
            want = casa_pixel(series, BASE_T, BASE_P, BASE_SOL, eps, nmin, nmax, smin, smax)
            assert annual[r, c] == pytest.approx(sum(want), rel=2e-5), (r, c)
    assert res["VALID_PIXELS"] == HEIGHT * WIDTH
    screened = [w for w in fb.warnings if "outside [-1, 1]" in w]
    assert len(screened) == 1, fb.warnings
    assert "NDVI: 3 value(s)" in screened[0] and "3 in NDVI month 7 (ndvi_07)" in screened[0]
    # left as it was (NDVI 3.67), the shadow pixel's NPP would differ: the screening acts
    series = [float(read(p)[1, 1]) for p in months]
    _name, eps, nmin, nmax, smin, smax = table[int(lc[1, 1])]
    unscreened = sum(casa_pixel(series, BASE_T, BASE_P, BASE_SOL, eps, nmin, nmax, smin, smax))
    assert abs(unscreened - annual[1, 1]) > 0.01 * annual[1, 1]
