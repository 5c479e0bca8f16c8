"""Base for algorithms that compute per-pixel products of a scene (indices, LST) in one block pass."""
from __future__ import annotations

from functools import partial

from qgis.core import QgsProcessingParameterEnum

from ..core.expression import BandExpression
from ..core.scene import product_bands, read_scene, scene_block
from ..raster.engine import RasterError
from ..raster.executor import BlockPass, add
from .base import MiningEcoAlgorithm

WET_SETS = ((None, "Sensor default"), ("TM", "TM (Crist 1985)"), ("ETM", "ETM+ (Huang 2002)"),
            ("OLI", "OLI (Baig 2014)"))


class SceneAlgorithm(MiningEcoAlgorithm):
    """Shared by algorithms that compute per-pixel products from a scene, block by block."""

    def wet_set(self, parameters, context):
        if "WET_COEFFICIENTS" not in {d.name() for d in self.parameterDefinitions()}:
            return None
        return WET_SETS[self.parameterAsEnum(parameters, "WET_COEFFICIENTS", context)][0]

    def add_wet_parameter(self):
        self.add(QgsProcessingParameterEnum("WET_COEFFICIENTS", "Tasseled-cap wetness coefficients",
                                            [t for _, t in WET_SETS], defaultValue=0),
                 "Coefficient set for WET. Sensor default: TM for Landsat 5, ETM+ for Landsat 7, OLI for "
                 "Landsat 8/9 and (as an approximation) Sentinel-2.", advanced=True)

    def compute_products(self, scene, sources, outputs, feedback, start=0.0, end=100.0, resampling=None):
        """One pass over the scene computing ``sources`` (index keys, "LST" or ``BandExpression``) per block.

        ``outputs``: (raster/executor.OutputSpec, source positions) per output file; one position is a single
        band, several are the bands of a multi-band output. Returns the pass's PassResult (paths, stats, grid).
        Raises RasterError naming an input band that holds no valid pixel; pushes the plausibility warnings.
        """
        names = [s for s in sources if not isinstance(s, BandExpression)]
        roles = product_bands(names + [n for s in sources if isinstance(s, BandExpression) for n in s.names],
                              scene.radiometry.mode)
        done = self.run_pass(BlockPass(
            inputs=scene.stack_refs(roles), resampling=resampling, load=read_scene, combine=add,
            compute=partial(scene_block, radiometry=scene.radiometry, check=scene.check, sources=tuple(sources),
                            layout=tuple((spec.key, tuple(at)) for spec, at in outputs)),
            outputs=tuple(spec for spec, _ in outputs)), feedback, start, end)
        empty = [scene.refs[r].describe() for r, n in done.partial["valid"].items() if n == 0]
        if empty:
            raise RasterError(f"{', '.join(empty)} holds no valid pixel (all nodata). Check the input and its "
                              "nodata value.")
        scene.check.add_tally(done.partial["lst"])
        for text in scene.check.warnings():
            feedback.pushWarning(text)
        return done
