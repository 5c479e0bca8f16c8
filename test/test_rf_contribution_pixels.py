"""miningeco:rfcontribution per-pixel mode (changhe 2.4.2: RGB map of the relative contributions of the driver
categories and the dominant-category map with the 60 % rule).

Real rasters: the six reflective Landsat 7 ETM+ bands of North Carolina 2000 (test/data/north_carolina) are the
drivers, grouped into three categories: visible (bands 1, 2, 3), nir (band 4), swir (bands 5, 7). NC has no NPP,
so the response is DEFINED here (a technical test, not a finding): Y = 100 (NIR - red) / (NIR + red) + 0.2 SWIR1
(a vegetation index plus a moisture term), at 600 seeded random pixels where every band is valid. The reference
for every per-pixel number is a direct recomputation in this file: the same forests fitted by the core with the
same seed, predicted on the pixel values read with GDAL here, then ActCon = pred_all - pred_without_i (changhe
eq. 6), RelCon = |ActCon| / sum |ActCon| x 100 (eq. 7) and the 60 % rule written out by hand in numpy.
"""
import csv
import importlib.util
import os

import numpy as np
import pytest
from osgeo import gdal, osr

from failures import assert_fails_cleanly
from paths import DATA, L8, ROOT
from mining_eco_plugin.core import rf_contribution as rc
from mining_eco_plugin.raster import engine

NC = os.path.join(DATA, "north_carolina")
BANDS = (10, 20, 30, 40, 50, 70)
NAMES = [f"lsat7_2000_{b}" for b in BANDS]           # driver fields = raster file names
RASTERS = [os.path.join(NC, n + ".tif") for n in NAMES]
CATEGORY_OF = {10: "visible", 20: "visible", 30: "visible", 40: "nir", 50: "swir", 70: "swir"}
CATEGORIES = [cell for b, n in zip(BANDS, NAMES) for cell in (n, CATEGORY_OF[b])]   # matrix cells, row by row
CATS = ["visible", "nir", "swir"]
PAIR_CODE = {(0, 1): 4, (0, 2): 5, (1, 2): 6}        # dominant codes of category pairs, written out by hand
TREES, SEED = 30, 42


def read_bands(path):
    """Every band of a raster as float64 (bands x rows x cols), each band's nodata as NaN."""
    ds = gdal.Open(path)
    nodata = [ds.GetRasterBand(i + 1).GetNoDataValue() for i in range(ds.RasterCount)]
    data = ds.ReadAsArray().astype(np.float64).reshape(ds.RasterCount, ds.RasterYSize, ds.RasterXSize)
    for band, nd in zip(data, nodata):
        band[band == nd] = np.nan
    return data


def read_codes(path):
    ds = gdal.Open(path)
    return ds.GetRasterBand(1).ReadAsArray()


def write_samples(path, X, y, names):
    """CSV (+ .csvt column types) of Y and the drivers; values written exactly (repr)."""
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["y"] + names)
        for i in range(len(y)):
            w.writerow([repr(float(y[i]))] + [repr(float(v)) for v in X[i]])
    with open(str(path) + "t", "w") as fh:
        fh.write(",".join(["Real"] * (len(names) + 1)))


@pytest.fixture(scope="module")
def nc(tmp_path_factory):
    """The NC driver stack (bands x rows x cols, NaN = nodata), the sample table and the core fitted on it."""
    folder = tmp_path_factory.mktemp("rf_nc")
    stack = np.concatenate([read_bands(p) for p in RASTERS])
    ok = np.isfinite(stack).all(axis=0)
    idx = np.random.default_rng(0).choice(np.flatnonzero(ok), 600, replace=False)
    X = stack.reshape(len(BANDS), -1)[:, idx].T
    y = 100 * (X[:, 3] - X[:, 2]) / (X[:, 3] + X[:, 2]) + 0.2 * X[:, 4]
    table = str(folder / "samples.csv")
    write_samples(table, X, y, NAMES)
    core = rc.rf_contributions(X, y, NAMES, dict(zip(NAMES, (CATEGORY_OF[b] for b in BANDS))),
                               n_estimators=TREES, random_state=SEED)
    return {"folder": folder, "stack": stack, "ok": ok, "table": table, "core": core}


def run(table, out, tag="", **extra):
    import processing
    params = dict(INPUT=table, Y_FIELD="y", CATEGORIES=CATEGORIES, N_TREES=TREES, SEED=SEED, DRIVER_RASTERS=RASTERS,
                  OUTPUT_CATEGORIES=os.path.join(out, f"cats{tag}.csv"),
                  OUTPUT_DRIVERS=os.path.join(out, f"drivers{tag}.csv"),
                  OUTPUT_RGB=os.path.join(out, f"rgb{tag}.tif"), OUTPUT_DOMINANT=os.path.join(out, f"dom{tag}.tif"))
    params.update(extra)
    return processing.run("miningeco:rfcontribution", params)


@pytest.fixture(scope="module")
def nc_run(provider, nc):
    return run(nc["table"], str(nc["folder"]))


def by_hand(core, values):
    """pred_all, pred_without_i with the core's fitted forests on the drivers columns chosen here; then eqs.
    6-7 and the 60 % rule in plain numpy (threshold as a parameter)."""
    values = np.asarray(values, dtype=np.float32)
    pred_all = core.models["__all__"].predict(values)
    act = np.empty((values.shape[0], 3))
    for i, cat in enumerate(CATS):
        keep = [j for j, b in enumerate(BANDS) if CATEGORY_OF[b] != cat]
        act[:, i] = pred_all - core.models[cat].predict(values[:, keep])
    rel = np.abs(act) / (np.abs(act[:, 0]) + np.abs(act[:, 1]) + np.abs(act[:, 2]))[:, None] * 100.0
    return act, rel


def dominant_by_hand(rel, threshold=60.0):
    out = []
    for r in rel:
        order = sorted(range(3), key=lambda i: -r[i])
        out.append(order[0] + 1 if r[order[0]] > threshold else PAIR_CODE[tuple(sorted(order[:2]))])
    return np.array(out)


def test_pixels_equal_direct_recomputation(nc, nc_run):
    """RGB bands = RelCon of visible / nir / swir and the dominant code equal the recomputation by hand at 400
    random valid pixels plus the 40 pixels closest to the 60 % boundary on either side; nodata wherever any
    driver is nodata (band 7 has nodata where bands 1-5 are valid)."""
    res, core = nc_run, nc["core"]
    # the tables are the core's (same seed, same samples)
    with open(res["OUTPUT_CATEGORIES"]) as fh:
        rows = list(csv.DictReader(fh))
    assert [r["category"] for r in rows] == CATS
    np.testing.assert_allclose([float(r["rel_con_pct"]) for r in rows], core.rel_con, atol=1e-9)
    rgb = read_bands(res["OUTPUT_RGB"])
    dom = read_codes(res["OUTPUT_DOMINANT"])
    ok = nc["ok"]
    # nodata exactly where any driver is nodata (no pixel of this scene leaves every ActCon at 0)
    assert np.array_equal(np.isfinite(rgb).all(axis=0), ok) and np.array_equal(dom != 0, ok)
    assert (~np.isfinite(nc["stack"][5]) & np.isfinite(nc["stack"][:5]).all(axis=0)).sum() > 40000
    assert res["VALID_PIXELS"] == ok.sum()
    # pixels: random valid ones + those whose largest RelCon is closest to 60 % from below and from above
    rng = np.random.default_rng(1)
    flat = np.flatnonzero(ok)
    top = rgb.reshape(3, -1).max(axis=0)
    below = flat[np.argsort(np.where(top[flat] <= 60, 60 - top[flat], np.inf))[:40]]
    above = flat[np.argsort(np.where(top[flat] > 60, top[flat] - 60, np.inf))[:40]]
    cells = np.concatenate([rng.choice(flat, 400, replace=False), below, above])
    values = nc["stack"].reshape(len(BANDS), -1)[:, cells].T
    act, rel = by_hand(core, values)
    np.testing.assert_allclose(rgb.reshape(3, -1)[:, cells].T, rel, rtol=2e-7, atol=2e-5)   # float32 output
    assert np.array_equal(dom.ravel()[cells], dominant_by_hand(rel))
    near = np.abs(rel.max(axis=1) - 60)
    assert (rel.max(axis=1)[-80:-40] <= 60).all() and (rel.max(axis=1)[-40:] > 60).all()
    assert near[-80:].max() < 0.1              # really at the boundary: pairs below, singles above
    assert set(dom.ravel()[below]) <= {4, 5, 6} and set(dom.ravel()[above]) <= {1, 2, 3}
    # every code occurs: a real map, not one class
    assert set(np.unique(dom)) == {0, 1, 2, 3, 4, 5, 6}


def test_threshold_is_strictly_greater_than(nc, nc_run, tmp_path):
    """The rule is RelCon > threshold (changhe: 'greater than 60 %'): with the threshold set to a pixel's own
    largest RelCon (float64, computed by hand) that pixel is a pair; one ulp below it is a single category."""
    dom = read_codes(nc_run["OUTPUT_DOMINANT"])
    cell = int(np.flatnonzero(dom.ravel() == 1)[0])
    _act, rel = by_hand(nc["core"], nc["stack"].reshape(len(BANDS), -1)[:, [cell]].T)
    value = float(rel[0].max())
    second = int(np.argsort(-rel[0])[1])
    for tag, threshold, expected in (("eq", value, PAIR_CODE[tuple(sorted((0, second)))]),
                                     ("ulp", float(np.nextafter(value, 0.0)), 1)):
        res = run(nc["table"], str(tmp_path), tag, DOMINANT_THRESHOLD=threshold, OUTPUT_RGB=None)
        assert res["OUTPUT_RGB"] is None and not os.path.exists(tmp_path / f"rgb{tag}.tif")
        assert read_codes(res["OUTPUT_DOMINANT"]).ravel()[cell] == expected


def test_block_size_invariance(nc, nc_run, tmp_path, monkeypatch):
    """Blocks of 37 x 53 px (not aligned with the 256 px tiles) give the same bytes as the default blocks."""
    monkeypatch.setattr(engine, "DEFAULT_BLOCK_ROWS", 37)
    monkeypatch.setattr(engine, "DEFAULT_BLOCK_COLS", 53)
    res = run(nc["table"], str(tmp_path))
    for key in ("OUTPUT_RGB", "OUTPUT_DOMINANT"):
        a, b = gdal.Open(res[key]), gdal.Open(nc_run[key])
        for i in range(1, a.RasterCount + 1):
            assert np.array_equal(a.GetRasterBand(i).ReadAsArray(), b.GetRasterBand(i).ReadAsArray(), equal_nan=True)


def test_qgis_process_equals_processing_run(qgis_process, nc, nc_run, tmp_path):
    """qgis_process: the category matrix as a comma list of cells, DRIVER_RASTERS by repeated keys; same rasters
    and tables as processing.run."""
    help_text = qgis_process("help", "miningeco:rfcontribution").stdout
    for word in ("DRIVER_RASTERS", "OUTPUT_RGB", "OUTPUT_DOMINANT", "DOMINANT_THRESHOLD", "60 %"):
        assert word in help_text
    outs = {k: str(tmp_path / f) for k, f in (("OUTPUT_CATEGORIES", "c.csv"), ("OUTPUT_DRIVERS", "d.csv"),
                                              ("OUTPUT_RGB", "rgb.tif"), ("OUTPUT_DOMINANT", "dom.tif"))}
    qgis_process("run", "miningeco:rfcontribution", "--", f"INPUT={nc['table']}", "Y_FIELD=y",
                 "CATEGORIES=" + ",".join(CATEGORIES), f"N_TREES={TREES}", f"SEED={SEED}",
                 *[f"DRIVER_RASTERS={p}" for p in RASTERS], *[f"{k}={v}" for k, v in outs.items()])
    for key in ("OUTPUT_RGB", "OUTPUT_DOMINANT"):
        a, b = gdal.Open(outs[key]), gdal.Open(nc_run[key])
        assert a.RasterCount == b.RasterCount
        for i in range(1, a.RasterCount + 1):
            assert np.array_equal(a.GetRasterBand(i).ReadAsArray(), b.GetRasterBand(i).ReadAsArray())
    with open(outs["OUTPUT_CATEGORIES"]) as f1, open(nc_run["OUTPUT_CATEGORIES"]) as f2:
        assert list(csv.DictReader(f1)) == list(csv.DictReader(f2))


# ------------------------------------------------------------------------------------------ synthetic
SYN = {"prec": "climate", "temp": "climate", "som": "soil", "clay": "soil", "dist_mine": "mining", "dump": "mining"}


def write_raster(path, arrays, names=(), origin=(500000.0, 4000000.0)):
    """Float32 GeoTIFF (EPSG:32633, 30 m, nodata -9999) with band descriptions ``names``."""
    arrays = np.asarray(arrays, dtype=np.float32)   # bands x rows x cols
    ds = gdal.GetDriverByName("GTiff").Create(str(path), arrays.shape[2], arrays.shape[1], arrays.shape[0],
                                              gdal.GDT_Float32)
    ds.SetGeoTransform((origin[0], 30.0, 0.0, origin[1], 0.0, -30.0))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    ds.SetProjection(srs.ExportToWkt())
    for i, a in enumerate(arrays):
        b = ds.GetRasterBand(i + 1)
        b.SetNoDataValue(-9999.0)
        b.WriteArray(np.where(np.isfinite(a), a, -9999.0))
        if i < len(names):
            b.SetDescription(names[i])
    ds = None
    return str(path)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """6 smooth random driver fields (90 x 120 px); Y = 3 prec + 2 sin(temp) + noise: climate only. The soil
    drivers come as one 2-band raster named by band descriptions, the others as single-band files named like
    the fields; dump has a nodata hole."""
    folder = tmp_path_factory.mktemp("rf_syn")
    rng = np.random.default_rng(3)
    fields = {}
    for name in SYN:
        f = rng.normal(size=(90, 120))
        for _ in range(3):   # a little spatial smoothing: neighbouring pixels alike, like real drivers
            f = (f + np.roll(f, 1, 0) + np.roll(f, 1, 1)) / 3
        fields[name] = f / f.std()
    fields["dump"][40:50, 60:75] = np.nan
    paths = [write_raster(folder / f"{n}.tif", fields[n][None]) for n in ("prec", "temp", "dist_mine", "dump")]
    paths.append(write_raster(folder / "soil_stack.tif", [fields["som"], fields["clay"]], names=["som", "clay"]))
    stack = np.stack([fields[n] for n in SYN])
    ok = np.isfinite(stack).all(axis=0)
    idx = rng.choice(np.flatnonzero(ok), 400, replace=False)
    X = stack.reshape(len(SYN), -1)[:, idx].T.astype(np.float32).astype(np.float64)
    y = 3 * X[:, 0] + 2 * np.sin(X[:, 1]) + 0.05 * rng.normal(size=X.shape[0])
    table = str(folder / "syn.csv")
    write_samples(table, X, y, list(SYN))
    return {"folder": folder, "paths": paths, "table": table, "ok": ok}


def run_syn(syn, out, feedback=None, **extra):
    import processing
    params = dict(INPUT=syn["table"], Y_FIELD="y", CATEGORIES=[c for kv in SYN.items() for c in kv], N_TREES=40,
                  DRIVER_RASTERS=syn["paths"], OUTPUT_CATEGORIES=os.path.join(out, "c.csv"),
                  OUTPUT_DRIVERS=os.path.join(out, "d.csv"), OUTPUT_RGB=os.path.join(out, "rgb.tif"),
                  OUTPUT_DOMINANT=os.path.join(out, "dom.tif"))
    params.update(extra)
    return processing.run("miningeco:rfcontribution", params, feedback=feedback)


def render_png(raster, png):
    """scripts/demo.py's offscreen renderer (the .qml saved beside the raster is its style)."""
    spec = importlib.util.spec_from_file_location("mining_eco_demo", os.path.join(ROOT, "scripts", "demo.py"))
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    return demo.render_png(raster, png)


def png_pixels(path):
    from qgis.PyQt.QtGui import QImage
    img = QImage(path).convertToFormat(QImage.Format_RGB888)
    ptr = img.constBits()
    ptr.setsize(img.height() * img.bytesPerLine())
    rows = np.frombuffer(ptr, np.uint8).reshape(img.height(), img.bytesPerLine())
    return rows[:, :img.width() * 3].reshape(img.height(), img.width(), 3).copy()


def test_one_category_dominates_and_styles(provider, synthetic, tmp_path):
    """Y depends on climate only: climate is the single dominant category (RelCon > 60 %) at most pixels and
    the mean RelCon of climate is high (changhe's rule and eq. 7 per pixel). Rendered with the saved styles:
    the RGB composite is mostly red (channel 1 = climate), the dominant map mostly the climate colour of the
    palette, nodata (the hole in dump) transparent = the white background."""
    from mining_eco_plugin.styles import palettes
    res = run_syn(synthetic, str(tmp_path))
    dom = read_codes(res["OUTPUT_DOMINANT"])
    ok = synthetic["ok"]
    assert np.array_equal(dom != 0, ok)
    share = (dom[ok] == 1).mean()
    assert share > 0.6, share
    rgb = read_bands(res["OUTPUT_RGB"])
    means = [np.nanmean(band) for band in rgb]
    assert means[0] > 60 and means[0] > 4 * max(means[1:]), means
    with open(res["OUTPUT_CATEGORIES"]) as fh:   # overall (OOB R2, eq. 7): climate > 90 % (issue 5)
        assert float(next(csv.DictReader(fh))["rel_con_pct"]) > 90
    np.testing.assert_allclose(rgb[:, ok].sum(axis=0), 100.0, atol=1e-3)
    # the rendered maps
    img = png_pixels(render_png(res["OUTPUT_RGB"], str(tmp_path / "rgb.png")))
    red = (img[..., 0].astype(int) > 150) & (img[..., 1] < 90) & (img[..., 2] < 90)
    assert red.mean() > 0.5, red.mean()
    img = png_pixels(render_png(res["OUTPUT_DOMINANT"], str(tmp_path / "dom.png")))
    climate = np.array([int(palettes.RF_CATEGORY_COLOURS[0][k:k + 2], 16) for k in (1, 3, 5)])
    assert (np.abs(img.astype(int) - climate).sum(axis=2) < 6).mean() > 0.6
    hole = img[img.shape[0] * 45 // 90, img.shape[1] * 67 // 120]   # the centre of the nodata hole in dump
    assert tuple(hole) == (255, 255, 255)
    qml = (tmp_path / "dom.qml").read_text()
    for label in ("climate", "soil", "mining", "climate + soil", "climate + mining", "soil + mining"):
        assert f'label="{label}"' in qml


def test_two_categories_blue_band_zero(provider, synthetic, tmp_path):
    """Two categories: RGB = RelCon of categories 1 and 2, blue 0 (nodata where the others are); codes 1, 2 and
    the pair 3 = 1 + 2. The drivers come as project layers whose LAYER names are the fields (files named
    otherwise), as a QGIS user has them; the report lists the dominant shares."""
    from qgis.core import QgsRasterLayer
    layers = []
    for i, path in enumerate(synthetic["paths"][:4]):
        copy = tmp_path / f"layer_{i}.tif"
        gdal.Translate(str(copy), path)
        layers.append(QgsRasterLayer(str(copy), os.path.basename(path)[:-4]))
    two = {k: ("climate" if v == "climate" else "human") for k, v in SYN.items()}
    out = tmp_path / "out"
    out.mkdir()
    res = run_syn(synthetic, str(out), CATEGORIES=[c for kv in two.items() for c in kv],
                  DRIVER_RASTERS=layers + synthetic["paths"][4:], OUTPUT_REPORT=str(out / "r.html"))
    html = (out / "r.html").read_text()
    assert "dominant climate (% of pixels)" in html and "dominant climate + human (% of pixels)" in html
    rgb = read_bands(res["OUTPUT_RGB"])
    ok = synthetic["ok"]
    assert (rgb[2][ok] == 0).all() and np.isnan(rgb[2][~ok]).all()
    np.testing.assert_allclose(rgb[0][ok] + rgb[1][ok], 100.0, atol=1e-3)
    dom = read_codes(res["OUTPUT_DOMINANT"])
    assert set(np.unique(dom)) <= {0, 1, 2, 3} and (dom[ok] == 1).mean() > 0.8
    rgb_ds = gdal.Open(res["OUTPUT_RGB"])   # held: GDAL >= 3.8 invalidates a band of a collected dataset
    assert rgb_ds.GetRasterBand(2).GetDescription() == "RelCon human (%)"


def bad_case(case, syn, inputs):
    """Parameters for one bad input (extra files in ``inputs``, never in the output folder)."""
    cats = [c for kv in SYN.items() for c in kv]
    if case == "missing":
        return {"DRIVER_RASTERS": [p for p in syn["paths"] if not p.endswith(("temp.tif", "soil_stack.tif"))]}
    if case == "grid":
        shifted = write_raster(os.path.join(inputs, "prec.tif"), read_bands(syn["paths"][0]),
                               origin=(500030.0, 4000000.0))
        return {"DRIVER_RASTERS": [shifted] + syn["paths"][1:]}
    if case == "crs":
        return {"DRIVER_RASTERS": syn["paths"][1:] + [os.path.join(inputs, "prec.vrt")],
                "_vrt": (L8 + "_B4.TIF", os.path.join(inputs, "prec.vrt"))}
    if case == "unknown":
        return {"CATEGORIES": cats + ["rain", "climate", "ndvi", "soil"]}
    if case == "four":
        return {"CATEGORIES": cats[:-2] + ["dump", "waste"]}
    if case == "twice":
        return {"DRIVER_RASTERS": syn["paths"] + [write_raster(os.path.join(inputs, "other.tif"),
                                                               read_bands(syn["paths"][1]), names=["PREC"])]}
    if case == "skipped":
        return {"OUTPUT_RGB": None, "OUTPUT_DOMINANT": None}
    raise AssertionError(case)


@pytest.mark.parametrize("case,words", [
    ("missing", ("DRIVER_RASTERS", "temp, som, clay", "prec")),
    ("grid", ("DRIVER_RASTERS 'prec'", "extent differs")),
    ("crs", ("DRIVER_RASTERS 'prec'", "CRS differs")),
    ("unknown", ("CATEGORIES", "rain, ndvi")),
    ("four", ("OUTPUT_RGB", "4", "waste", "2 or 3 categories")),
    ("twice", ("DRIVER_RASTERS", "prec matches several bands", "prec.tif", "other.tif")),
    ("skipped", ("OUTPUT_RGB / OUTPUT_DOMINANT", "skipped")),
])
def test_bad_inputs_fail_cleanly(provider, synthetic, tmp_path, case, words):
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    out.mkdir()
    extra = bad_case(case, synthetic, str(inputs))
    if "_vrt" in extra:
        src, dst = extra.pop("_vrt")
        gdal.Translate(dst, src, format="VRT")
    assert_fails_cleanly(lambda: run_syn(synthetic, str(out), **extra), out, *words)
    if case == "grid":   # the fix the message names: RESAMPLING warps the drivers onto the first driver's grid
        res = run_syn(synthetic, str(out), RESAMPLING=1, **extra)
        assert gdal.Open(res["OUTPUT_DOMINANT"]).GetGeoTransform()[0] == 500030.0


def test_cancel_during_the_pixel_pass_leaves_no_output(provider, synthetic, tmp_path, monkeypatch):
    """Cancelled while the pixels are predicted (progress past the model fits): no raster, no table, no temp file."""
    from qgis.core import QgsProcessingException, QgsProcessingFeedback
    monkeypatch.setattr(engine, "DEFAULT_BLOCK_ROWS", 8)      # several blocks; cancel in the pixel pass
    fb = QgsProcessingFeedback()
    fb.progressChanged.connect(lambda p: fb.cancel() if p > 52 else None)
    with pytest.raises(QgsProcessingException, match="[Cc]ancel"):
        run_syn(synthetic, str(tmp_path), OUTPUT_REPORT=str(tmp_path / "r.html"), feedback=fb)
    assert fb.isCanceled() and os.listdir(tmp_path) == []
