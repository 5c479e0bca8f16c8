"""Land surface temperature (deg C) from a Landsat thermal band."""
from __future__ import annotations

from qgis.core import QgsProcessingParameterRasterDestination

from ..core.scene import product_bands
from ..raster.executor import OutputSpec
from ..styles.qgis_styles import RasterStyle, style_output
from .references import cite
from .scene_algorithm import SceneAlgorithm
from .scene_params import (add_lst_parameters, add_scene_parameters, radiometry_mode, resampling_choice,
                           resolve_scene)


class LandSurfaceTemperatureAlgorithm(SceneAlgorithm):
    ID = "lst"
    NAME = "Land surface temperature"
    GROUP = "indices"
    SUMMARY = (
        "Land surface temperature (deg C) of a Landsat scene.\n"
        "From a Collection 2 Level-2 surface temperature band: K = DN x 0.00341802 + 149.0, then minus 273.15.\n"
        "From a Level-1 thermal band with the scene's MTL file: radiance from the MTL's RADIANCE_MULT / RADIANCE_ADD "
        "(pre-collection MTLs: (LMAX - LMIN) / (QCALMAX - QCALMIN) x (DN - QCALMIN) + LMIN), K1 / K2 from the MTL "
        "(pre-collection MTLs: the published constants TM 607.76 / 1260.56, ETM+ 666.09 / 1282.71), emissivity from NDVI (0.97 below 0.2, 0.99 above 0.5, from the vegetation "
        "fraction in between), then the radiative transfer equation (transmittance and path radiance are parameters; "
        "none by default) or the single-channel emissivity correction of the brightness temperature.\n"
        "Inputs: give PRODUCT (a Landsat MTL or .tar), or SCENE, or the band layers: thermal, red and NIR, with "
        "sensor, radiometry and MTL file. Output: one float32 raster in deg C, nodata -9999.")
    SOURCE = cite("han2025", "sobrino2004", "artis1982", "chander2009")
    SHORT_DESCRIPTION = (
        "Land surface temperature in deg C from a Landsat Level-2 ST band or a Level-1 thermal band with its MTL")
    TAGS = ("lst", "land surface temperature", "thermal", "brightness temperature", "emissivity", "heat", "landsat",
            "remote sensing")

    def initAlgorithm(self, config=None):  # noqa: N802
        add_scene_parameters(self)
        add_lst_parameters(self)
        self.add_output(QgsProcessingParameterRasterDestination("OUTPUT", "Land surface temperature"),
                        "LST in deg C, float32, nodata -9999.")

    def run_tool(self, parameters, context, feedback):
        roles = product_bands(["LST"], radiometry_mode(self, parameters, context))
        scene = resolve_scene(self, parameters, context, roles)
        out_path = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        done = self.compute_products(scene, ["LST"], [(OutputSpec("OUTPUT", out_path, band_names=("LST",)), (0,))],
                                     feedback, 0, 95, resampling_choice(self, parameters, context))
        st = done.stats["OUTPUT"][0]
        path = done.paths["OUTPUT"]
        style_output(path, RasterStyle("ramp", "temperature", st.minimum, st.maximum), context)
        feedback.setProgress(100)
        return {"OUTPUT": path}
