"""raster/outputs.py: the files of a run staged beside their destinations and committed together, or not at all
(issue 11, defects 1 and 11). Plain files and GDAL, no QGIS."""
from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from mining_eco_plugin.raster import engine
from mining_eco_plugin.raster.outputs import OutputError, OutputTransaction, final_path


def _write(path, text):
    with open(path, "w") as fh:
        fh.write(text)


def test_nothing_is_visible_before_commit_and_everything_after(tmp_path):
    (tmp_path / "old.csv").write_text("old")
    with OutputTransaction() as txn:
        a = txn.stage_file(str(tmp_path / "a.tif"), "OUTPUT")
        b = txn.stage_file(str(tmp_path / "old.csv"), "OUTPUT_TABLE")
        folder = txn.stage_folder(str(tmp_path / "indices"), "OUTPUT_FOLDER")
        _write(a, "raster")
        _write(a[:-4] + ".qml", "style")              # a companion written beside the staged file moves with it
        _write(b, "new")
        _write(os.path.join(folder, "NDVI.tif"), "ndvi")
        assert sorted(n for n in os.listdir(tmp_path) if not n.startswith(".")) == ["old.csv"]
        assert (tmp_path / "old.csv").read_text() == "old"
        assert final_path(a) == str(tmp_path / "a.tif")
        assert final_path(os.path.join(folder, "NDVI.tif")) == str(tmp_path / "indices" / "NDVI.tif")
        txn.commit()
    assert sorted(os.listdir(tmp_path)) == ["a.qml", "a.tif", "indices", "old.csv"]
    assert (tmp_path / "old.csv").read_text() == "new"
    assert os.listdir(tmp_path / "indices") == ["NDVI.tif"]
    assert txn.final(a) == str(tmp_path / "a.tif") and final_path(a) == a     # no longer open


def test_rollback_leaves_nothing_and_the_existing_files_as_they_were(tmp_path):
    (tmp_path / "keep.tif").write_text("mine")
    with OutputTransaction() as txn:
        _write(txn.stage_file(str(tmp_path / "keep.tif"), "OUTPUT"), "half written")
        _write(os.path.join(txn.stage_folder(str(tmp_path / "new" / "deeper" / "f"), "OUTPUT_FOLDER"), "x.tif"), "x")
        assert (tmp_path / "new" / "deeper").is_dir()      # missing parents are made at once...
    assert os.listdir(tmp_path) == ["keep.tif"]              # ...and removed with the rest
    assert (tmp_path / "keep.tif").read_text() == "mine"


def test_a_failing_commit_puts_everything_back(tmp_path):
    """All or nothing also in commit: a folder appears at a destination during the run; the commit fails, the
    files already moved go back, the replaced file is restored, the folder is left alone."""
    (tmp_path / "a.csv").write_text("old a")
    txn = OutputTransaction()
    _write(txn.stage_file(str(tmp_path / "a.csv"), "OUTPUT_TABLE"), "new a")
    _write(txn.stage_file(str(tmp_path / "b.html"), "OUTPUT_REPORT"), "new b")
    (tmp_path / "b.html").mkdir()
    (tmp_path / "b.html" / "inside.txt").write_text("user data")
    with pytest.raises(OutputError, match="nothing was written"):
        txn.commit()
    assert sorted(os.listdir(tmp_path)) == ["a.csv", "b.html"]
    assert (tmp_path / "a.csv").read_text() == "old a"
    assert (tmp_path / "b.html" / "inside.txt").read_text() == "user data"


def test_a_stale_companion_goes_with_the_file_it_belonged_to(tmp_path):
    (tmp_path / "r.tif").write_text("old")
    (tmp_path / "r.tif.aux.xml").write_text("statistics of the old raster")
    with OutputTransaction() as txn:
        _write(txn.stage_file(str(tmp_path / "r.tif"), "OUTPUT", companions=(".aux.xml",)), "new")
        txn.commit()
    assert os.listdir(tmp_path) == ["r.tif"]


@pytest.mark.parametrize("case,words", [
    ("missing", ("OUTPUT_TABLE", "does not exist")),
    ("under_file", ("OUTPUT_TABLE", "is a file, not a folder")),
    ("is_folder", ("OUTPUT_TABLE", "is a folder")),
])
def test_destinations_are_checked_before_anything_is_written(tmp_path, case, words):
    (tmp_path / "f.txt").write_text("x")
    (tmp_path / "d.csv").mkdir()
    path = {"missing": tmp_path / "no" / "t.csv", "under_file": tmp_path / "f.txt" / "t.csv",
            "is_folder": tmp_path / "d.csv"}[case]
    with OutputTransaction() as txn:
        with pytest.raises(OutputError) as err:
            txn.stage_file(str(path), "OUTPUT_TABLE")
    for w in words:
        assert w in str(err.value)
    assert sorted(os.listdir(tmp_path)) == ["d.csv", "f.txt"]


def test_a_folder_output_under_a_file_is_refused(tmp_path):
    (tmp_path / "f.txt").write_text("x")
    with OutputTransaction() as txn, pytest.raises(OutputError, match="OUTPUT_FOLDER"):
        txn.stage_folder(str(tmp_path / "f.txt" / "indices"), "OUTPUT_FOLDER")


READ_ONLY_CHECK = """
import sys
from mining_eco_plugin.raster.outputs import OutputError, OutputTransaction
try:
    with OutputTransaction() as txn:
        txn.stage_file(sys.argv[1], "OUTPUT_REPORT")
    print("accepted")
except OutputError as err:
    print("refused:", err)
"""


def test_a_read_only_folder_is_refused():
    """A folder the user may not write into (mode 555) is refused before any work. Root writes into such a
    folder anyway, so as root (CI) the check runs as the unprivileged user 65534 (setpriv), in a folder
    everybody may enter."""
    import shutil
    import subprocess
    import sys
    import tempfile
    base = tempfile.mkdtemp(prefix="mining-eco-ro-", dir="/tmp")
    try:
        os.chmod(base, 0o755)
        ro = os.path.join(base, "ro")
        os.mkdir(ro)
        os.chmod(ro, 0o555)
        cmd = [sys.executable, "-c", READ_ONLY_CHECK, os.path.join(ro, "r.html")]
        if os.geteuid() == 0:
            cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=root,
                             env=dict(os.environ, PYTHONPATH=root, PYTHONDONTWRITEBYTECODE="1"))
        assert out.stdout.startswith("refused:") and "permission denied" in out.stdout, out.stdout + out.stderr
        assert os.listdir(ro) == []
    finally:
        os.chmod(os.path.join(base, "ro"), 0o755)
        shutil.rmtree(base)


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_geotiff_and_report_get_the_umask_mode(tmp_path, umask, mode):
    """Defect 11: GeoTIFF outputs were created 0600 by mkstemp (reports a fixed 0644): now 0666 & ~umask."""
    from mining_eco_plugin.reports.html import write_html_report
    old = os.umask(umask)
    try:
        grid = engine.Grid(3, 2, (0.0, 30.0, 0.0, 60.0, 0.0, -30.0), "")
        with engine.GeoTiffWriter(str(tmp_path / "r.tif"), grid) as wr:
            wr.write(1, engine.Window(0, 0, 3, 2), np.ones((2, 3), np.float32))
            wr.commit()
        write_html_report(str(tmp_path / "r.html"), "t", [("a", "b")])
    finally:
        os.umask(old)
    for name in ("r.tif", "r.html"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == mode, name


def test_an_existing_output_folder_keeps_its_other_files(tmp_path):
    folder = tmp_path / "indices"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    (folder / "NDVI.tif").write_text("old")
    with OutputTransaction() as txn:
        staged = txn.stage_folder(str(folder), "OUTPUT_FOLDER")
        assert os.listdir(staged) == []
        _write(os.path.join(staged, "NDVI.tif"), "new")
        _write(os.path.join(staged, "WET.tif"), "wet")
        txn.commit()
    assert sorted(os.listdir(folder)) == ["NDVI.tif", "WET.tif", "notes.txt"]
    assert (folder / "NDVI.tif").read_text() == "new" and (folder / "notes.txt").read_text() == "mine"
    assert os.listdir(tmp_path) == ["indices"]


def test_error_texts_name_the_destination_not_the_staging_folder(tmp_path):
    with OutputTransaction() as txn:
        staged = txn.stage_file(str(tmp_path / "t.dxf"), "OUTPUT_TABLE")
        assert ".staging" in staged
        assert txn.unstage(f"Could not create layer {staged}: ...") == f"Could not create layer {tmp_path / 't.dxf'}: ..."
