"""`make demo` end to end: the chain runs headless on the bundled scene and leaves styled outputs,
PNG renders that show a picture (not a blank image) and the HTML report in one folder."""
import os
import subprocess
import sys

from osgeo import gdal

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_demo_leaves_styled_outputs_renders_and_report(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    run = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "demo.py"), str(tmp_path)],
                         env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert str(tmp_path) in run.stdout
    for name in ("rsei", "rsei_grades", "lst"):
        assert (tmp_path / f"{name}.tif").exists() and (tmp_path / f"{name}.qml").exists()
        png = gdal.Open(str(tmp_path / f"{name}.png"))
        assert png.RasterXSize == 492
        # a real map has many distinct colours; a blank or failed render has one or two
        values = {tuple(px) for px in zip(*(png.GetRasterBand(b).ReadAsArray().ravel()[::7] for b in (1, 2, 3)))}
        assert len(values) >= 5 if name == "rsei_grades" else len(values) > 50
    report = (tmp_path / "rsei_report.html").read_text(encoding="utf-8")
    assert "RSEI" in report and "data:image/png;base64" in report
    assert "PC1 explains" in run.stdout
    # the bundled products composited per year (natural colour) and the RSEI series over them
    for year in (2001, 2013):
        assert (tmp_path / "composites" / f"composite_{year}.tif").exists()
        assert (tmp_path / "series" / f"rsei_{year}.tif").exists()
        png = gdal.Open(str(tmp_path / f"composite_{year}.png"))
        values = {tuple(px) for px in zip(*(png.GetRasterBand(b).ReadAsArray().ravel()[::7] for b in (1, 2, 3)))}
        assert len(values) > 50, year
    assert (tmp_path / "series" / "transfer_2001_2013.csv").exists()
    assert "series_report.html" in run.stdout
