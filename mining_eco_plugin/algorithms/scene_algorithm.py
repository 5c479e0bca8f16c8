"""Base for algorithms that compute per-pixel products of a scene (indices, LST), block by block."""
from __future__ import annotations

import numpy as np
from qgis.core import QgsProcessingParameterEnum

from ..core.expression import BandExpression
from ..core.scene import BlockProducts, product_bands
from ..raster.engine import RasterError, RasterStack, block_pass, prefetched
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

    def compute_products(self, scene, names, expressions, outputs, feedback, start=0.0, end=100.0, resampling=None):
        """Walk the scene once; for each block compute ``names`` / ``expressions`` and write them.

        ``outputs`` is a list of (writer, band, product) where product is a name or an expression.
        Raises RasterError naming an input band that holds no valid pixel.
        """
        roles = product_bands(list(names) + [n for e in expressions for n in e.names], scene.radiometry.mode)
        valid = dict.fromkeys(roles, 0)
        with RasterStack(scene.stack_refs(roles), resampling=resampling) as stack:
            def load(w):
                raw = {r: stack.read(r, w) for r in roles}
                return raw, (stack.read_raw("QA", w) if scene.qa is not None else None)

            for w, (raw, qa) in prefetched(block_pass(stack.grid, feedback, start, end), load):
                for r in roles:
                    valid[r] += int(np.count_nonzero(~np.isnan(raw[r])))
                block = BlockProducts(raw, scene.radiometry, qa, scene.check)
                for writer, band, product in outputs:
                    data = block.expression(product) if isinstance(product, BandExpression) else block.get(product)
                    writer.write(band, w, data)
        empty = [scene.refs[r].describe() for r, n in valid.items() if n == 0]
        if empty:
            raise RasterError(f"{', '.join(empty)} holds no valid pixel (all nodata). Check the input and its "
                              "nodata value.")
        for text in scene.check.warnings():
            feedback.pushWarning(text)
        return stack.grid
