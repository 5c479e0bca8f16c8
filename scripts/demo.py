"""`make demo`: the whole chain, headless, on the bundled real Landsat scenes (Marburg: Landsat 8 2013-07-07 and
Landsat 7 2001-07-30).

Spectral indices -> land surface temperature -> RSEI (with grades, table and HTML report) on the 2013 scene; then
the two bundled products (their MTL files, as downloaded) composited per year and an RSEI series over the
composites with the grade transfer matrix 2001 -> 2013; all through Processing exactly as the Toolbox runs them.
Every styled output is rendered to PNG offscreen by QGIS's own map renderer. Everything lands in one folder,
printed at the end.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.append("/usr/share/qgis/python/plugins")

from qgis.core import (  # noqa: E402
    QgsApplication,
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsProcessingFeedback,
    QgsRasterLayer,
)
from qgis.PyQt.QtCore import QSize  # noqa: E402
from qgis.PyQt.QtGui import QColor  # noqa: E402

MARBURG = os.path.join(ROOT, "test", "data", "marburg")
SCENE = os.path.join(MARBURG, "LC08_L1TP_195025_20130707_20170503_01_T1")
L8_BANDS = {"BLUE": 2, "GREEN": 3, "RED": 4, "NIR": 5, "SWIR1": 6, "SWIR2": 7, "THERMAL": 10}


class PrintFeedback(QgsProcessingFeedback):
    def pushInfo(self, info):  # noqa: N802
        print("   ", info)

    def pushWarning(self, warning):  # noqa: N802
        print("    WARNING:", warning)


def render_png(raster_path, png_path, width=492):
    """Render a raster with its saved style (the .qml beside it) to a PNG, offscreen."""
    layer = QgsRasterLayer(raster_path, os.path.basename(raster_path))
    if not layer.isValid():
        raise RuntimeError(f"cannot load {raster_path}")
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(layer.crs())
    settings.setExtent(layer.extent())
    ratio = layer.height() / layer.width()
    settings.setOutputSize(QSize(width, int(round(width * ratio))))
    settings.setBackgroundColor(QColor("white"))
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    job.renderedImage().save(png_path, "PNG")
    return png_path


def main(out_dir):
    out_dir = os.path.abspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    app = QgsApplication([], False)
    app.initQgis()
    from processing.core.Processing import Processing
    Processing.initialize()
    import processing

    from mining_eco_plugin.provider import MiningEcoProvider
    provider = MiningEcoProvider()
    QgsApplication.processingRegistry().addProvider(provider)

    scene = {"SENSOR": 2, "RADIOMETRY": 1, "MTL_FILE": SCENE + "_MTL.txt", "QA_BAND": SCENE + "_BQA.TIF"}
    scene.update({k: f"{SCENE}_B{b}.TIF" for k, b in L8_BANDS.items()})
    fb = PrintFeedback()

    print("1/5 Spectral indices (NDVI, WET, NDBSI, MNDWI, SI_GR, CRSI), one file each")
    keys = ["NDVI", "WET", "NDBSI", "MNDWI", "SI_GR", "CRSI"]
    from mining_eco_plugin.algorithms.index_calculator import PRODUCTS
    res = processing.run("miningeco:spectralindices", dict(
        scene, INDICES=[PRODUCTS.index(k) for k in keys], OUTPUT=os.path.join(out_dir, "indices.tif"),
        OUTPUT_FOLDER=os.path.join(out_dir, "indices")), feedback=fb)
    rendered = [render_png(p, os.path.join(out_dir, f"index_{os.path.basename(p)[:-4]}.png"))
                for p in res["INDEX_FILES"]]

    print("2/5 Land surface temperature (Level-1 thermal band, MTL, NDVI emissivity)")
    res = processing.run("miningeco:lst", dict(scene, OUTPUT=os.path.join(out_dir, "lst.tif")), feedback=fb)
    rendered.append(render_png(res["OUTPUT"], os.path.join(out_dir, "lst.png")))

    print("3/5 RSEI (water mask, PCA, grades, table, report)")
    res = processing.run("miningeco:rsei", dict(
        scene, OUTPUT=os.path.join(out_dir, "rsei.tif"), OUTPUT_GRADES=os.path.join(out_dir, "rsei_grades.tif"),
        OUTPUT_TABLE=os.path.join(out_dir, "rsei_statistics.csv"),
        OUTPUT_REPORT=os.path.join(out_dir, "rsei_report.html")), feedback=fb)
    rendered.append(render_png(res["OUTPUT"], os.path.join(out_dir, "rsei.png")))
    rendered.append(render_png(res["OUTPUT_GRADES"], os.path.join(out_dir, "rsei_grades.png")))
    print(f"    PC1 explains {100 * res['PC1_SHARE']:.1f} % of the variance; mean RSEI {res['MEAN_RSEI']:.3f}")

    print("4/5 Composites of the bundled products (Landsat 7 2001, Landsat 8 2013; July; Level-1 TOA)")
    res = processing.run("miningeco:composite", dict(
        PRODUCT_FOLDER=MARBURG, MONTH_FIRST=6, MONTH_LAST=6, TOA_OK=True,
        OUTPUT_FOLDER=os.path.join(out_dir, "composites"),
        OUTPUT_TABLE=os.path.join(out_dir, "composites.csv")), feedback=fb)
    composites = sorted(res["COMPOSITES"])
    rendered += [render_png(p, os.path.join(out_dir, os.path.basename(p)[:-4] + ".png")) for p in composites]

    print("5/5 RSEI series over the composites, grade transfer matrix 2001 -> 2013 (two years: no trend, no "
          "time-series summary, which need 3 and 4)")
    res = processing.run("miningeco:rseiseries", dict(
        COMPOSITES=composites, TREND=False, TIMESERIES=False, TRANSFER_YEARS="2001,2013",
        OUTPUT_FOLDER=os.path.join(out_dir, "series"), OUTPUT_TABLE=os.path.join(out_dir, "series_years.csv"),
        OUTPUT_REPORT=os.path.join(out_dir, "series_report.html")), feedback=fb)
    rendered += [render_png(p, os.path.join(out_dir, "series_" + os.path.basename(p)[:-4] + ".png"))
                 for p in res["RSEI_LAYERS"] + res["GRADE_LAYERS"]]

    print()
    print(f"Demo outputs (styled GeoTIFF + .qml, PNG renders, CSV table, HTML report) are in:\n  {out_dir}")
    for p in rendered:
        print("   ", os.path.relpath(p, out_dir))
    print("   ", "rsei_report.html", "rsei_statistics.csv", "composites.csv", "series_years.csv",
          "series_report.html", "series/transfer_2001_2013.csv")
    QgsApplication.processingRegistry().removeProvider(provider)
    app.exitQgis()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "demo_output")
