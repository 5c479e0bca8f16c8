"""Identity cases of the scene tools: spectral indices and LST (bench/identity.py).

The real Level-1 Landsat 8 scene of test/data (41 x 41 px, one block) with its MTL and BQA band, and the bench's
synthetic Level-2 scene (600 x 600 px, three blocks) given as one multi-band raster with a band mapping (and a
generated QA_PIXEL band for LST: the real scene's BQA masks none of its 41 x 41 pixels).
"""
import os


def _indices(*keys):
    from mining_eco_plugin.algorithms.index_calculator import PRODUCTS
    return [PRODUCTS.index(k) for k in keys]


def indices_l1(data, out):
    """Level-1 DN + MTL: several indices and a custom expression, in one multi-band file and one file each
    (OUTPUT_FOLDER: the case folder itself, so that compare sees the files)."""
    return "miningeco:spectralindices", {
        **data.scene_params("L8"),
        "INDICES": _indices("NDVI", "EVI", "WET", "NDBSI", "SI1", "CRSI", "MNDWI", "LST"),
        "CUSTOM_EXPRESSION": "(NIR-R)/(NIR+R) + sqrt(G*SWIR1) - NDVI*2", "CUSTOM_NAME": "MYIDX",
        "OUTPUT": f"{out}/indices.tif", "OUTPUT_FOLDER": out}


def indices_l1_folder_only(data, out):
    """Level-1 with the BQA cloud mask, the one-file-per-index folder only (no multi-band file)."""
    return "miningeco:spectralindices", {
        **data.scene_params("L8"), "QA_BAND": data.scene_params("L8")["BLUE"].replace("_B2.TIF", "_BQA.TIF"),
        "INDICES": _indices("NDVI", "ARVI", "IBI", "WET_TM"),
        "CUSTOM_EXPRESSION": "where(NIR > R, NIR / R, -1)", "CUSTOM_NAME": "RATIO",
        "OUTPUT": None, "OUTPUT_FOLDER": out}


def lst_l1(data, out):
    """Level-1 thermal band with the MTL, radiative transfer with an atmosphere, BQA mask."""
    return "miningeco:lst", {
        **data.scene_params("L8", ("RED", "NIR", "THERMAL")),
        "QA_BAND": data.scene_params("L8")["BLUE"].replace("_B2.TIF", "_BQA.TIF"),
        "ATM_TRANSMITTANCE": 0.85, "UPWELLING": 1.2, "DOWNWELLING": 2.1, "OUTPUT": f"{out}/lst.tif"}


def lst_l1_single_channel(data, out):
    """Level-1 thermal band with the MTL, single-channel method."""
    return "miningeco:lst", {**data.scene_params("L8", ("RED", "NIR", "THERMAL")), "LST_METHOD": 1,
                             "OUTPUT": f"{out}/lst.tif"}


MAPPING = "B=1,G=2,R=3,NIR=4,SWIR1=6,SWIR2=5,T=7"     # SWIR1 / SWIR2 swapped: the mapping wins over the names


def indices_l2_bench(data, out):
    """The bench's Level-2 scene (600 x 600, fill corners) with a band mapping; several blocks."""
    return "miningeco:spectralindices", {
        "SENSOR": 2, "RADIOMETRY": 0, "SCENE": data.bench_scene(600), "BAND_MAPPING": MAPPING,
        "INDICES": _indices("NDVI", "WET", "NDBSI", "SI3", "GOSI", "LST"), "WET_COEFFICIENTS": 2,
        "CUSTOM_EXPRESSION": "log(SWIR1) - log(SWIR2)", "CUSTOM_NAME": "LOGR",
        "OUTPUT": f"{out}/indices.tif", "OUTPUT_FOLDER": out}


def _qa_pixel(data, scene):
    """A Collection 2 QA_PIXEL band on the grid of ``scene``: cloud (bit 3) and shadow (bit 4) patches, clear (bit
    6) elsewhere."""
    import numpy as np
    from osgeo import gdal
    path = data.path("scene_600_qa_pixel.tif")
    if not os.path.exists(path):
        src = gdal.Open(scene)
        rng = np.random.default_rng(12)
        patches = rng.choice(np.array([1 << 6, 1 << 3, 1 << 4], np.uint16), p=(0.7, 0.2, 0.1),
                             size=(src.RasterYSize // 20 + 1, src.RasterXSize // 20 + 1))
        qa = np.kron(patches, np.ones((20, 20), np.uint16))[:src.RasterYSize, :src.RasterXSize]
        ds = gdal.GetDriverByName("GTiff").Create(path, src.RasterXSize, src.RasterYSize, 1, gdal.GDT_UInt16)
        ds.SetGeoTransform(src.GetGeoTransform())
        ds.SetProjection(src.GetProjection())
        ds.GetRasterBand(1).WriteArray(qa)
        ds = None
    return path


def lst_l2_bench(data, out):
    """LST of the bench's Level-2 ST band, with a band mapping and a QA_PIXEL cloud mask (three blocks)."""
    scene = data.bench_scene(600)
    return "miningeco:lst", {"SENSOR": 2, "RADIOMETRY": 0, "SCENE": scene, "BAND_MAPPING": MAPPING,
                             "QA_BAND": _qa_pixel(data, scene), "OUTPUT": f"{out}/lst.tif"}


CASES = {"indices_l1": indices_l1, "indices_l1_folder_only": indices_l1_folder_only, "lst_l1": lst_l1,
         "lst_l1_single_channel": lst_l1_single_channel, "indices_l2_bench": indices_l2_bench,
         "lst_l2_bench": lst_l2_bench}
