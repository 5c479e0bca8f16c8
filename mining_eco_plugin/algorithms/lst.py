"""Land surface temperature (deg C) from a Landsat thermal band."""
from __future__ import annotations

from qgis.core import QgsProcessingParameterRasterDestination

from ..raster.engine import GeoTiffWriter, RasterStack
from ..core.scene import product_bands
from ..styles.qgis_styles import RasterStyle, style_output
from .scene_algorithm import SceneAlgorithm
from .scene_params import (add_lst_parameters, add_scene_parameters, radiometry_mode, resampling_choice,
                           resolve_scene)


class LandSurfaceTemperatureAlgorithm(SceneAlgorithm):
    ID = "lst"
    NAME = "Land surface temperature"
    GROUP = "indices"
    SUMMARY = ("Land surface temperature in deg C. From a Landsat Collection 2 Level-2 ST band: "
               "K = DN x 0.00341802 + 149.0, minus 273.15 (the product is already emissivity corrected). From a "
               "Level-1 thermal band with its MTL: radiance L = ML x DN + AL (RADIANCE_MULT / ADD of Collection "
               "1/2 MTLs; pre-collection MTLs: L = (LMAX - LMIN) / (QCALMAX - QCALMIN) x (DN - QCALMIN) + LMIN); "
               "emissivity from NDVI (Sobrino et al. 2004: 0.97 below NDVI 0.2, 0.99 above 0.5, 0.004 Pv + 0.986 "
               "between); then either the "
               "radiative transfer equation B_T = (L - R_up - tau (1 - e) R_down) / (tau e), "
               "LST = K2 / ln(1 + K1 / B_T) - 273.15 (ningdong eqs. 6-8; with tau = 1 and no path radiance by "
               "default), or the single-channel correction LST = BT / (1 + (lambda BT / rho) ln e) "
               "(Artis & Carnahan 1982). K1/K2 come from the MTL, or, for pre-collection MTLs that have none, from "
               "the sensor preset (Chander et al. 2009: TM 607.76 / 1260.56, ETM+ 666.09 / 1282.71).")
    SOURCE = ("ningdong seed eqs. 6-8 (its eq. 6 calls epsilon 'reflectance': it is emissivity); Sobrino et al. "
              "2004; Artis & Carnahan 1982; USGS Landsat Collection 2 Level-2 ST scale factors.")

    def initAlgorithm(self, config=None):  # noqa: N802
        add_scene_parameters(self)
        add_lst_parameters(self)
        self.add_output(QgsProcessingParameterRasterDestination("OUTPUT", "Land surface temperature"),
                        "LST in deg C, float32, nodata -9999.")

    def run_tool(self, parameters, context, feedback):
        roles = product_bands(["LST"], radiometry_mode(self, parameters, context))
        scene = resolve_scene(self, parameters, context, roles)
        resampling = resampling_choice(self, parameters, context)
        out_path = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        with RasterStack(scene.stack_refs(roles), resampling=resampling) as probe:
            grid = probe.grid
        with GeoTiffWriter(out_path, grid, 1, band_names=["LST"]) as writer:
            self.compute_products(scene, ["LST"], [], [(writer, 1, "LST")], feedback, 0, 95, resampling)
            path = writer.commit()
        st = writer.stats[0]
        style_output(path, RasterStyle("ramp", "temperature", st.minimum, st.maximum), context)
        feedback.setProgress(100)
        return {"OUTPUT": path}
