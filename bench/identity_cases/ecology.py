"""Identity cases of the Ecology tools and the class-map tools (bench/identity.py): EG index, RSEI x EG coupling,
class areas over dates, transfer matrix and the raster mode of the time-series summary.

Land use: the real North Carolina land cover (data.real_landcover(), stored as Float32, converted to Byte with its
values unchanged as the tests do) and generated class rasters (data.classes); a small class raster on EPSG:4326
exercises the ellipsoidal row areas of a geographic CRS.
"""
import os

NC_X0, NC_Y0, NC_PX = 630534.0, 228114.0, 28.5     # strata.tif: origin and pixel (EPSG:3358)


def landcover_byte(data):
    """strata.tif as Byte (values 1..7 unchanged; its one nodata pixel -99999 clamped to 0 = nodata)."""
    from osgeo import gdal
    path = data.path("nc_landcover_byte.tif")
    if not os.path.exists(path):
        gdal.Translate(path, data.real_landcover(), outputType=gdal.GDT_Byte, noData=0).FlushCache()
    return path


def geographic_classes(data, name="geo_classes", k=7, seed=3, shape=(1100, 160)):
    """A Byte class raster (codes 1..k in patches, nodata 0 sprinkled) on EPSG:4326, 0.01 degree pixels from 60.5 N
    down: every row has its own cell area; 1100 rows are five blocks, so sums over blocks are combined in a tree."""
    return data.classes(name, shape=shape, k=k, seed=seed, patch=5, nodata_every=53, epsg=4326,
                        geotransform=(10.0, 0.01, 0.0, 60.5, 0.0, -0.01))


def nc_zones(data):
    """Three polygons over the NC land cover, stored in EPSG:4326 (reprojected by the tool): two overlap, one
    has a hole, one crosses the raster's edge."""
    from osgeo import ogr, osr
    path = data.path("nc_zones.gpkg")
    if os.path.exists(path):
        return path
    src, dst = osr.SpatialReference(), osr.SpatialReference()
    src.ImportFromEPSG(3358)
    dst.ImportFromEPSG(4326)
    for s in (src, dst):
        s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    ct = osr.CoordinateTransformation(src, dst)

    def ring(c0, r0, c1, r1):
        g = ogr.Geometry(ogr.wkbLinearRing)
        for c, r in ((c0, r0), (c1, r0), (c1, r1), (c0, r1), (c0, r0)):
            g.AddPoint_2D(*ct.TransformPoint(NC_X0 + c * NC_PX, NC_Y0 - r * NC_PX)[:2])
        return g

    ds = ogr.GetDriverByName("GPKG").CreateDataSource(path)
    layer = ds.CreateLayer("zones", dst, ogr.wkbPolygon)
    layer.CreateField(ogr.FieldDefn("mine", ogr.OFTString))
    for name, rings in (("pit A", [(20.3, 30.7, 180.2, 140.9), (60.5, 60.5, 90.5, 100.5)]),
                        ("pit B", [(150.1, 100.4, 300.6, 260.2)]),
                        ("edge", [(420.0, 380.0, 520.0, 470.0)])):
        poly = ogr.Geometry(ogr.wkbPolygon)
        for r in rings:
            poly.AddGeometry(ring(*r))
        f = ogr.Feature(layer.GetLayerDefn())
        f.SetField("mine", name)
        f.SetGeometry(poly)
        layer.CreateFeature(f)
    ds = None
    return path


# -- EG index -------------------------------------------------------------------------------------------------------
def egindex(data, out):
    """Real land cover, a 5-pixel window, zones and a series of three years (NC, generated, geographic)."""
    lu = landcover_byte(data)
    return "miningeco:egindex", {
        "LANDUSE": lu, "WINDOW_SIZE": 5, "ZONES": nc_zones(data), "ZONE_FIELD": "mine",
        "LANDUSE_SERIES": [lu, data.classes("eg_lu_2010", shape=(300, 350), k=7, seed=11),
                           geographic_classes(data)],
        "YEARS": "2000,2010,2020",
        "OUTPUT": f"{out}/eg.tif", "OUTPUT_NORMALISED": f"{out}/eg_normalised.tif",
        "OUTPUT_TABLE": f"{out}/zones.csv", "OUTPUT_YEARLY": f"{out}/yearly.csv"}


def egindex_geographic(data, out):
    """Geographic CRS (rows weigh by their own cell area), a 7-pixel window, no zones."""
    return "miningeco:egindex", {
        "LANDUSE": geographic_classes(data), "WINDOW_SIZE": 7,
        "OUTPUT": f"{out}/eg.tif", "OUTPUT_NORMALISED": f"{out}/eg_normalised.tif",
        "OUTPUT_TABLE": f"{out}/zones.csv"}


def egindex_zones_only(data, out):
    """Zones without any raster output (the window pass only tallies the zones), a custom grade table that
    excludes code 7."""
    table = [1, 6, "Developed", 2, 5, "Agriculture", 3, 4, "Herbaceous", 4, 3, "Shrub", 5, 2, "Forest",
             6, 1, "Water", 7, "", "Sediment"]
    return "miningeco:egindex", {
        "LANDUSE": landcover_byte(data), "GRADE_TABLE": table, "WINDOW_SIZE": 3, "ZONES": nc_zones(data),
        "OUTPUT": "", "OUTPUT_NORMALISED": "", "OUTPUT_TABLE": f"{out}/zones.csv"}


# -- coupling ---------------------------------------------------------------------------------------------------------
def coupling(data, out):
    """Equal thirds (RSEI on [0, 1], EG on its min..max)."""
    return "miningeco:coupling", {
        "RSEI": data.floats("cp_rsei", seed=21), "EG": data.floats("cp_eg", seed=22, low=0.3, high=0.8),
        "OUTPUT": f"{out}/codes.tif", "OUTPUT_TABLE": f"{out}/codes.csv"}


def coupling_terciles(data, out):
    """Terciles of a hashed sample (fewer sample pixels than valid pixels) for both inputs."""
    return "miningeco:coupling", {
        "RSEI": data.floats("cp_rsei", seed=21), "EG": data.floats("cp_eg", seed=22, low=0.3, high=0.8),
        "RSEI_METHOD": 1, "EG_METHOD": 1, "SAMPLE_SIZE": 5000, "SEED": 7,
        "OUTPUT": f"{out}/codes.tif", "OUTPUT_TABLE": f"{out}/codes.csv"}


def coupling_resampled(data, out):
    """A raw EG (1 best .. 7 worst, lower is better) on another grid, warped bilinearly onto the RSEI grid; user
    breaks for EG, terciles of every pixel for RSEI."""
    eg = data.floats("cp_eg_raw", shape=(230, 260), seed=23, low=1.0, high=7.0)
    return "miningeco:coupling", {
        "RSEI": data.floats("cp_rsei", seed=21), "EG": eg, "EG_HIGHER_IS_BETTER": False,
        "RSEI_METHOD": 1, "EG_METHOD": 2, "EG_BREAKS": "3,5", "RESAMPLING": 2,
        "OUTPUT": f"{out}/codes.tif", "OUTPUT_TABLE": f"{out}/codes.csv"}


# -- class areas ------------------------------------------------------------------------------------------------------
def classareas(data, out):
    """Three dates on three grids: real land cover, a generated map, a geographic map; km2."""
    return "miningeco:classareas", {
        "LAYERS": [landcover_byte(data), data.classes("ca_2010", shape=(400, 450), k=7, seed=31),
                   geographic_classes(data)],
        "YEARS": "2000,2010,2020", "CLASS_NAMES": "1=Developed,2=Agriculture,5=Forest,8=Absent", "UNITS": 0,
        "OUTPUT": f"{out}/areas.csv"}


def classareas_pixels(data, out):
    return "miningeco:classareas", {
        "LAYERS": [data.classes("ca_2010", shape=(400, 450), k=7, seed=31),
                   data.classes("ca_2015", shape=(400, 450), k=7, seed=32)],
        "YEARS": "2010,2015", "UNITS": 2, "OUTPUT": f"{out}/areas.csv"}


# -- transfer matrix --------------------------------------------------------------------------------------------------
def transfermatrix(data, out):
    """Two generated maps (codes 1..6) on one grid: change raster (uint8), matrix and legend in km2."""
    return "miningeco:transfermatrix", {
        "DATE1": data.classes("tm_2000", k=6, seed=41), "DATE2": data.classes("tm_2010", k=6, seed=42),
        "CLASS_NAMES": "1=Forest,2=Water,3=Crop,4=Urban,5=Barren,6=Grass", "UNITS": 0,
        "OUTPUT_MATRIX": f"{out}/matrix.csv", "OUTPUT_CHANGE": f"{out}/change.tif",
        "OUTPUT_LEGEND": f"{out}/legend.csv", "OUTPUT_HEATMAP": f"{out}/heatmap.png"}


def transfermatrix_geographic(data, out):
    """Two geographic maps with codes up to 12 (two digits: a uint16 change raster), in ha."""
    return "miningeco:transfermatrix", {
        "DATE1": geographic_classes(data, "geo_tm_a", k=12, seed=43),
        "DATE2": geographic_classes(data, "geo_tm_b", k=12, seed=44), "UNITS": 1,
        "OUTPUT_MATRIX": f"{out}/matrix.csv", "OUTPUT_CHANGE": f"{out}/change.tif",
        "OUTPUT_LEGEND": f"{out}/legend.csv", "OUTPUT_HEATMAP": ""}


def transfermatrix_real(data, out):
    """The real land cover against a generated map on its grid (codes 1..7), in pixels; no change raster."""
    from osgeo import gdal
    import numpy as np
    later = data.path("nc_landcover_later.tif")
    if not os.path.exists(later):
        ds = gdal.Open(landcover_byte(data))
        a = ds.GetRasterBand(1).ReadAsArray()
        rng = np.random.default_rng(45)
        flip = rng.random(a.shape) < 0.2
        b = np.where(flip & (a > 0), rng.integers(1, 8, a.shape), a).astype(np.uint8)
        gdal.Translate(later, ds).FlushCache()
        dst = gdal.Open(later, gdal.GA_Update)
        dst.GetRasterBand(1).WriteArray(b)
        dst = ds = None
    return "miningeco:transfermatrix", {
        "DATE1": landcover_byte(data), "DATE2": later, "UNITS": 2,
        "OUTPUT_MATRIX": f"{out}/matrix.csv", "OUTPUT_CHANGE": "", "OUTPUT_LEGEND": f"{out}/legend.csv",
        "OUTPUT_HEATMAP": ""}


# -- time series (raster mode) ----------------------------------------------------------------------------------------
def timeseries_rasters(data, out):
    """Means of eight rasters (two on other grids, one of six blocks), breakpoint searched."""
    rasters = [data.floats(f"ts_{y}", shape=(300, 320), seed=100 + y, low=0.2 + 0.02 * (y - 2000) ** 0.5,
                           high=0.7) for y in range(2000, 2008)]
    rasters[3] = data.floats("ts_2003_other_grid", shape=(170, 190), seed=2103, low=0.25, high=0.7)
    rasters[5] = data.floats("ts_2005_tall", shape=(1400, 60), seed=2105, low=0.3, high=0.7)   # six blocks
    return "miningeco:timeseries", {
        "RASTERS": rasters, "YEARS": ",".join(str(y) for y in range(2000, 2008)),
        "OUTPUT_TABLE": f"{out}/series.csv", "OUTPUT_PLOT": "", "OUTPUT_REPORT": ""}


CASES = {"egindex": egindex, "egindex_geographic": egindex_geographic, "egindex_zones_only": egindex_zones_only,
         "coupling": coupling, "coupling_terciles": coupling_terciles, "coupling_resampled": coupling_resampled,
         "classareas": classareas, "classareas_pixels": classareas_pixels,
         "transfermatrix": transfermatrix, "transfermatrix_geographic": transfermatrix_geographic,
         "transfermatrix_real": transfermatrix_real, "timeseries_rasters": timeseries_rasters}
