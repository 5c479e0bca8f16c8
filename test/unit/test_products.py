"""Issue 13, item 1: products as USGS and ESA deliver them (MTL .txt / .xml / .json, folder, .tar read through
/vsitar/, Sentinel-2 .SAFE and .zip through /vsizip/) are detected with the right bands and constants, and damaged
or unsuitable products are refused with a message naming the problem.

Every product here is written into tmp_path from the real pixels and the real MTL text of test/data (Landsat
imagery courtesy of the U.S. Geological Survey; see test/data/README.md). Expected values are read from the MTL
text by a regex in this file (independent of core.radiometry.parse_mtl) or are the documented constants:

* Collection 2 Level-2 scaling: SR 2.75e-05 / -0.2, ST 0.00341802 / 149.0 (USGS Landsat Collection 2 Level-2
  Science Product Guide, LSDS-1619, table "Scale factors");
* Sentinel-2 L2A: BOA_QUANTIFICATION_VALUE 10000 and BOA_ADD_OFFSET -1000 from processing baseline 04.00; no
  offset before (ESA Sentinel-2 Products Specification Document, S2-PDGS-TAS-DI-PSD, L2A, baseline 04.00 note).

Built (not real) parts, said here once: the Collection 2 MTL texts are the real Collection 1 MTL of Marburg with
the Collection 2 group / key names (LANDSAT_METADATA_FILE, LEVEL1_RADIOMETRIC_RESCALING, LEVEL2_* groups,
FILE_NAME_QUALITY_L1_PIXEL) and the documented L2 scale factors; the Sentinel-2 product carries Landsat 8 pixels
under ESA file names and a minimal MTD_MSIL2A.xml with the ESA element names.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mining_eco_plugin.core.product_meta import ProductError, landsat_product
from mining_eco_plugin.raster.products import open_product, search_products

from productdata import (DATA, GRANULE, L5, L7, L8, PRE, REL, S2_NAME, TILE, c2_mtl_text, copy_scene,  # noqa: E402
                         mtl_value, odl_to_tree, pixels, read_text, tree_to_xml, write_c2, write_safe)


# ------------------------------------------------------------------------------------------------------------
# Landsat layouts
# ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("given", ["mtl", "folder"])
def test_collection1_l8_folder_and_mtl(tmp_path, given):
    d = copy_scene(DATA / "marburg", L8, tmp_path / L8)
    p = open_product(d / f"{L8}_MTL.txt" if given == "mtl" else d)
    text = read_text(d / f"{L8}_MTL.txt")
    assert (p.sensor, p.level, p.qa_kind) == ("L8", "C1L1", "BQA")
    assert p.date == mtl_value(text, "DATE_ACQUIRED") == "2013-07-07"
    assert p.product_id == L8
    # OLI roles: B2 blue ... B7 SWIR2, B10 thermal (USGS Landsat 8 Data Users Handbook, band table)
    expect = {"B": "B2", "G": "B3", "R": "B4", "NIR": "B5", "SWIR1": "B6", "SWIR2": "B7", "T": "B10"}
    assert {r: Path(f).name for r, f in p.bands.items()} == {r: f"{L8}_{b}.TIF" for r, b in expect.items()}
    assert Path(p.qa).name == f"{L8}_BQA.TIF"
    for role, b in expect.items():
        c = p.constants[role]
        n = b[1:]
        assert c.radiance_mult == pytest.approx(float(mtl_value(text, f"RADIANCE_MULT_BAND_{n}")), rel=REL)
        assert c.radiance_add == pytest.approx(float(mtl_value(text, f"RADIANCE_ADD_BAND_{n}")), rel=REL)
        if role != "T":
            assert c.reflectance_mult == pytest.approx(float(mtl_value(text, f"REFLECTANCE_MULT_BAND_{n}")), rel=REL)
            assert c.reflectance_add == pytest.approx(float(mtl_value(text, f"REFLECTANCE_ADD_BAND_{n}")), rel=REL)
    assert p.constants["T"].k1 == pytest.approx(float(mtl_value(text, "K1_CONSTANT_BAND_10")), rel=REL)
    assert p.constants["T"].k2 == pytest.approx(float(mtl_value(text, "K2_CONSTANT_BAND_10")), rel=REL)
    assert p.sun_elevation == pytest.approx(float(mtl_value(text, "SUN_ELEVATION")), rel=REL)


def test_collection1_l7_tar_read_in_place(tmp_path):
    """A flat .tar as USGS delivers it; read through /vsitar/, never unpacked."""
    tar = tmp_path / f"{L7}.tar"
    with tarfile.open(tar, "w") as tf:
        for f in sorted((DATA / "marburg").glob(L7 + "_*")):
            tf.add(f, arcname=f.name)
    p = open_product(tar)
    assert (p.sensor, p.level, p.qa_kind, p.date) == ("L7", "C1L1", "BQA", "2001-07-30")
    assert p.bands["T"] == f"/vsitar/{tar}/{L7}_B6_VCID_1.TIF"      # ETM+ thermal low gain (sensors.py preset)
    assert p.qa == f"/vsitar/{tar}/{L7}_BQA.TIF"
    assert all(v.startswith(f"/vsitar/{tar}/") for v in p.bands.values())
    assert np.array_equal(pixels(p.bands["NIR"]), pixels(DATA / "marburg" / f"{L7}_B4.TIF"))
    assert sorted(os.listdir(tmp_path)) == [tar.name]                # nothing unpacked
    text = read_text(DATA / "marburg" / f"{L7}_MTL.txt")
    assert p.constants["T"].k1 == pytest.approx(float(mtl_value(text, "K1_CONSTANT_BAND_6_VCID_1")), rel=REL)


def test_precollection_l5_folder(tmp_path):
    """The bundled pre-collection TM scene: radiance from LMAX/LMIN/QCALMAX/QCALMIN; its MTL names ``.TIF`` for
    files delivered as ``.tif``."""
    d = copy_scene(DATA / "ethiopia", PRE, tmp_path / PRE)
    p = open_product(d)
    text = read_text(d / f"{PRE}_MTL.txt")
    assert (p.sensor, p.level, p.qa, p.qa_kind, p.date) == ("L5", "PRE", None, None, "2010-12-18")
    assert Path(p.bands["NIR"]).name == f"{PRE}_B4.tif"
    c = p.constants["NIR"]
    lmax, lmin = float(mtl_value(text, "RADIANCE_MAXIMUM_BAND_4")), float(mtl_value(text, "RADIANCE_MINIMUM_BAND_4"))
    qmax, qmin = float(mtl_value(text, "QUANTIZE_CAL_MAX_BAND_4")), float(mtl_value(text, "QUANTIZE_CAL_MIN_BAND_4"))
    assert (c.lmax, c.lmin, c.qcalmax, c.qcalmin) == (lmax, lmin, qmax, qmin) == (221.0, -1.51, 255.0, 1.0)
    # Chander et al. 2009 eq. 1 by hand: gain (221 + 1.51) / 254 = 0.8760236..., offset LMIN - gain * QCALMIN
    assert c.radiance_mult == pytest.approx(222.51 / 254, rel=1e-12)
    assert c.radiance_add == pytest.approx(-1.51 - 222.51 / 254, rel=1e-12)
    # no K1/K2 in the file: the Landsat 5 preset (Chander et al. 2009 Table 5)
    assert (p.constants["T"].k1, p.constants["T"].k2) == (607.76, 1260.56)


def test_collection1_l5_folder(tmp_path):
    d = copy_scene(DATA / "ethiopia", L5, tmp_path / "somewhere" / L5)
    p = open_product(d / f"{L5}_MTL.txt")
    assert (p.sensor, p.level, p.qa_kind, p.date) == ("L5", "C1L1", "BQA", "2000-03-09")
    assert Path(p.bands["SWIR2"]).name == f"{L5}_B7.TIF" and Path(p.bands["T"]).name == f"{L5}_B6.TIF"


@pytest.mark.parametrize("encoding", ["txt", "xml", "json"])
def test_collection2_level2_in_three_encodings(tmp_path, encoding):
    pid, text = write_c2(tmp_path / "p", "L2", encoding)
    p = open_product(tmp_path / "p" / f"{pid}_MTL.{encoding}", toa_ok=False)
    assert (p.sensor, p.level, p.qa_kind, p.surface_reflectance) == ("L8", "C2L2", "QA_PIXEL", True)
    assert Path(p.bands["NIR"]).name == f"{pid}_SR_B5.TIF"
    assert Path(p.bands["T"]).name == f"{pid}_ST_B10.TIF"
    assert Path(p.qa).name == f"{pid}_QA_PIXEL.TIF"
    for role in ("B", "G", "R", "NIR", "SWIR1", "SWIR2"):
        assert (p.constants[role].scale, p.constants[role].offset) == (2.75e-05, -0.2)     # USGS LSDS-1619
    assert (p.constants["T"].scale, p.constants["T"].offset) == (0.00341802, 149.0)
    # the L1 block of the same MTL (same key names) is kept apart: TOA 2e-05 / -0.1 from the real MTL
    assert p.constants["NIR"].reflectance_mult == float(mtl_value(read_text(DATA / "marburg" / f"{L8}_MTL.txt"),
                                                                 "REFLECTANCE_MULT_BAND_5")) == 2e-05
    assert p.constants["T"].k1 == 774.8853
    assert np.array_equal(pixels(p.bands["NIR"]), pixels(DATA / "marburg" / f"{L8}_B5.TIF"))


@pytest.mark.parametrize("encoding", ["txt", "xml", "json"])
def test_collection2_level1(tmp_path, encoding):
    pid, text = write_c2(tmp_path / "p", "L1", encoding)
    p = open_product(tmp_path / "p")
    assert (p.sensor, p.level, p.qa_kind, p.date) == ("L8", "C2L1", "QA_PIXEL", "2013-07-07")
    assert Path(p.bands["R"]).name == f"{pid}_B4.TIF"
    assert p.constants["R"].reflectance_mult == float(mtl_value(text, "REFLECTANCE_MULT_BAND_4"))
    assert p.constants["R"].scale is None


def test_collection2_level2_tar(tmp_path):
    pid, _ = write_c2(tmp_path / "src", "L2", "txt")
    tar = tmp_path / f"{pid}.tar"
    with tarfile.open(tar, "w") as tf:
        for f in sorted((tmp_path / "src").iterdir()):
            tf.add(f, arcname=f.name)
    p = open_product(tar, toa_ok=False)
    assert p.level == "C2L2" and p.qa == f"/vsitar/{tar}/{pid}_QA_PIXEL.TIF"
    assert np.array_equal(pixels(p.bands["SWIR1"]), pixels(DATA / "marburg" / f"{L8}_B6.TIF"))


def test_mtl_xml_and_json_parse_like_txt():
    """The three encodings of one MTL give the same Product (built from the real L8 MTL)."""
    _, text = c2_mtl_text("L2")
    tree = odl_to_tree(text)
    a = landsat_product(text, "x_MTL.txt")
    b = landsat_product(tree_to_xml(tree), "x_MTL.xml")
    c = landsat_product(json.dumps(tree), "x_MTL.json")
    for q in (b, c):
        assert (q.bands, q.qa, q.constants, q.date, q.level) == (a.bands, a.qa, a.constants, a.date, a.level)


# ------------------------------------------------------------------------------------------------------------
# Sentinel-2 L2A
# ------------------------------------------------------------------------------------------------------------
def test_s2_safe_finest_resolution_and_offset(tmp_path):
    safe = write_safe(tmp_path)
    p = open_product(safe / "MTD_MSIL2A.xml", toa_ok=False)
    assert (p.sensor, p.level, p.qa_kind, p.date, p.processing_baseline) == ("S2", "S2L2A", "SCL", "2022-06-15", "04.00")
    names = {r: Path(f).relative_to(safe).as_posix() for r, f in p.bands.items()}
    g = f"GRANULE/{GRANULE}/IMG_DATA"
    assert names == {"B": f"{g}/R10m/{TILE}_B02_10m.jp2", "G": f"{g}/R10m/{TILE}_B03_10m.jp2",
                     "R": f"{g}/R10m/{TILE}_B04_10m.jp2", "NIR": f"{g}/R10m/{TILE}_B08_10m.jp2",
                     "SWIR1": f"{g}/R20m/{TILE}_B11_20m.jp2", "SWIR2": f"{g}/R20m/{TILE}_B12_20m.jp2"}
    assert Path(p.qa).relative_to(safe).as_posix() == f"{g}/R20m/{TILE}_SCL_20m.jp2"
    for c in p.constants.values():
        # (DN - 1000) / 10000 = DN * 1e-4 - 0.1 (ESA PSD, baseline 04.00)
        assert c.scale == pytest.approx(1e-4, rel=REL) and c.offset == pytest.approx(-0.1, rel=REL)
    assert np.array_equal(pixels(p.bands["NIR"]), pixels(DATA / "marburg" / f"{L8}_B5.TIF"))   # lossless JP2
    assert open_product(safe).bands == p.bands                                                # the folder too


def test_s2_old_baseline_has_no_offset(tmp_path):
    safe = write_safe(tmp_path, baseline="02.14", offsets=False)
    p = open_product(safe / "MTD_MSIL2A.xml")
    assert all((c.scale, c.offset) == (1e-4, 0.0) for c in p.constants.values())


def test_s2_zip_read_in_place(tmp_path):
    safe = write_safe(tmp_path / "src")
    z = tmp_path / f"{S2_NAME}.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in sorted(safe.rglob("*")):
            zf.write(f, f.relative_to(safe.parent).as_posix())
    p = open_product(z, toa_ok=False)
    assert p.bands["SWIR2"] == f"/vsizip/{z}/{S2_NAME}.SAFE/GRANULE/{GRANULE}/IMG_DATA/R20m/{TILE}_B12_20m.jp2"
    assert np.array_equal(pixels(p.qa), pixels(DATA / "marburg" / f"{L8}_BQA.TIF"))


# ------------------------------------------------------------------------------------------------------------
# Searching a folder
# ------------------------------------------------------------------------------------------------------------
def test_search_products_recursively(tmp_path):
    root = tmp_path / "downloads"
    copy_scene(DATA / "marburg", L8, root / "2013" / L8)
    pid, _ = write_c2(root / "c2" / "p", "L2", "txt")
    write_c2(tmp_path / "x", "L2", "xml")
    shutil.copy(tmp_path / "x" / f"{pid}_MTL.xml", root / "c2" / "p")   # same product, second encoding: found once
    with tarfile.open(root / f"{L7}.tar", "w") as tf:
        for f in sorted((DATA / "marburg").glob(L7 + "_*")):
            tf.add(f, arcname=f.name)
    safe = write_safe(root / "s2")
    found = search_products(root)
    assert found == sorted([str(root / "2013" / L8 / f"{L8}_MTL.txt"), str(root / "c2" / "p" / f"{pid}_MTL.txt"),
                            str(root / f"{L7}.tar"), str(safe / "MTD_MSIL2A.xml")])
    kinds = sorted((open_product(f).sensor, open_product(f).level) for f in found)
    assert kinds == [("L7", "C1L1"), ("L8", "C1L1"), ("L8", "C2L2"), ("S2", "S2L2A")]


# ------------------------------------------------------------------------------------------------------------
# Damaged / unsuitable products
# ------------------------------------------------------------------------------------------------------------
def test_missing_band_file_is_named(tmp_path):
    d = copy_scene(DATA / "marburg", L8, tmp_path / L8)
    (d / f"{L8}_B5.TIF").unlink()
    with pytest.raises(ProductError, match=rf"incomplete.*{L8}_B5\.TIF.*NIR band.*missing"):
        open_product(d)


def test_truncated_tar_is_refused(tmp_path):
    tar = tmp_path / f"{L7}.tar"
    with tarfile.open(tar, "w") as tf:
        for f in sorted((DATA / "marburg").glob(L7 + "_*")):
            tf.add(f, arcname=f.name)
    with tarfile.open(tar) as tf:
        m = tf.getmember(f"{L7}_MTL.txt")       # the last member (sorted names): a partial download ends in it
        cut = m.offset_data + m.size // 2
    tar.write_bytes(tar.read_bytes()[:cut])
    with pytest.raises(ProductError, match=rf"{re.escape(tar.name)}.*(damaged|truncated|missing)"):
        open_product(tar)


def test_truncated_band_member_in_tar_is_named(tmp_path):
    """Cut the tar in the middle of a band member (the MTL member first, so it is intact)."""
    tar = tmp_path / f"{L8}.tar"
    files = sorted((DATA / "marburg").glob(L8 + "_*"), key=lambda f: (not f.name.endswith("MTL.txt"), f.name))
    with tarfile.open(tar, "w") as tf:
        for f in files:
            tf.add(f, arcname=f.name)
    with tarfile.open(tar) as tf:
        m = tf.getmember(f"{L8}_B7.TIF")          # the last band member (sorted) the product needs
        cut = m.offset_data + m.size // 2
    tar.write_bytes(tar.read_bytes()[:cut])
    with pytest.raises(ProductError, match=rf"{re.escape(tar.name)}.*(damaged|missing).*{L8}_B7\.TIF"):
        open_product(tar)


def test_garbage_tar_is_refused(tmp_path):
    tar = tmp_path / f"{L8}.tar"
    tar.write_bytes(b"<html>502 Bad Gateway</html>" * 50)
    with pytest.raises(ProductError, match=rf"{re.escape(str(tar))} is not a readable tar archive"):
        open_product(tar)


def test_mtl_without_needed_key(tmp_path):
    d = copy_scene(DATA / "marburg", L8, tmp_path / L8)
    mtl = d / f"{L8}_MTL.txt"
    mtl.write_text(re.sub(r"^\s*SUN_ELEVATION = .*$\n", "", read_text(mtl), flags=re.M))
    with pytest.raises(ProductError, match=rf"{L8}_MTL\.txt has no SUN_ELEVATION"):
        open_product(mtl)


def test_l2_mtl_without_sr_scaling(tmp_path):
    pid, text = write_c2(tmp_path / "p", "L2", "txt")
    mtl = tmp_path / "p" / f"{pid}_MTL.txt"
    mtl.write_text(text.replace("    REFLECTANCE_MULT_BAND_5 = 2.75E-05\n", ""))
    with pytest.raises(ProductError, match=r"LEVEL2_SURFACE_REFLECTANCE_PARAMETERS REFLECTANCE_MULT_BAND_5"):
        open_product(mtl)


def test_damaged_mtl_xml(tmp_path):
    pid, _ = write_c2(tmp_path / "p", "L2", "xml")
    mtl = tmp_path / "p" / f"{pid}_MTL.xml"
    mtl.write_text(mtl.read_text()[:-400])                 # truncated download
    with pytest.raises(ProductError, match=rf"{pid}_MTL\.xml is damaged"):
        open_product(mtl)


def test_level1_refused_where_surface_reflectance_is_needed(tmp_path):
    d = copy_scene(DATA / "marburg", L8, tmp_path / L8)
    with pytest.raises(ProductError, match=r"Level-1 product \(C1L1.*needs surface reflectance.*TOA"):
        open_product(d, toa_ok=False)
    assert open_product(d, toa_ok=True).level == "C1L1"
    assert isinstance(ProductError("x"), ValueError)


def test_s2_without_scl_or_band(tmp_path):
    safe = write_safe(tmp_path / "a", skip=("SCL",))
    with pytest.raises(ProductError, match=r"no SCL"):
        open_product(safe / "MTD_MSIL2A.xml")
    safe = write_safe(tmp_path / "b", skip=("B12",))
    with pytest.raises(ProductError, match=r"no B12 band file"):
        open_product(safe / "MTD_MSIL2A.xml")


def test_s2_band_missing_from_every_resolution(tmp_path):
    """B08 is delivered at 10 m only (ESA PSD): without the R10m file the product is incomplete."""
    safe = write_safe(tmp_path)
    (safe / "GRANULE" / GRANULE / "IMG_DATA" / "R10m" / f"{TILE}_B08_10m.jp2").unlink()
    with pytest.raises(ProductError, match=r"MTD_MSIL2A\.xml has no B08 band file.*R10m.*incomplete"):
        open_product(safe / "MTD_MSIL2A.xml")


def test_s2_new_baseline_without_offsets(tmp_path):
    safe = write_safe(tmp_path, baseline="04.00", offsets=False)
    with pytest.raises(ProductError, match=r"processing baseline 04\.00\) has no BOA_ADD_OFFSET for B02"):
        open_product(safe / "MTD_MSIL2A.xml")


def test_not_a_product(tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("hello")
    with pytest.raises(ProductError, match=r"notes\.txt is not a product file"):
        open_product(f)
    with pytest.raises(ProductError, match=r"does not exist"):
        open_product(tmp_path / "nothing_MTL.txt")
