"""Styles for outputs: a renderer built from ``palettes``, saved as a .qml beside the file (QGIS
loads it as the layer's default style) and set again when Processing loads the layer."""
from __future__ import annotations

import os
from dataclasses import dataclass

from qgis.core import (
    QgsColorRampShader,
    QgsContrastEnhancement,
    QgsMultiBandColorRenderer,
    QgsPalettedRasterRenderer,
    QgsProcessingLayerPostProcessorInterface,
    QgsRasterLayer,
    QgsRasterShader,
    QgsSingleBandPseudoColorRenderer,
)
from qgis.PyQt.QtGui import QColor

from .. import compat
from ..raster.outputs import final_path
from . import palettes


@dataclass(frozen=True)
class RasterStyle:
    """``kind`` "ramp": continuous ``ramp`` from ``vmin`` to ``vmax``; "classes": palette ``classes``; "rgb":
    ``bands`` (red, green, blue band numbers; -1 = none) each stretched linearly from ``vmin`` to ``vmax``
    (e.g. a natural-colour composite: red, green, blue reflectance, 0-0.3)."""
    kind: str
    ramp: str = "neutral"
    vmin: float = 0.0
    vmax: float = 1.0
    classes: str = ""
    band: int = 1
    bands: tuple = (1, 2, 3)

    def renderer(self, provider):
        if self.kind == "rgb":
            return self._rgb_renderer(provider)
        if self.kind == "classes":
            items = [QgsPalettedRasterRenderer.Class(v, QColor(c), label)
                     for v, label, c in palettes.CLASSES[self.classes]]
            return QgsPalettedRasterRenderer(provider, self.band, items)
        vmin, vmax = self.vmin, self.vmax
        if not vmax > vmin:
            vmax = vmin + 1.0
        fn = QgsColorRampShader(vmin, vmax)
        fn.setColorRampType(compat.ShaderInterpolationMethod.Linear)
        fn.setColorRampItemList([
            QgsColorRampShader.ColorRampItem(vmin + p * (vmax - vmin), QColor(c), f"{vmin + p * (vmax - vmin):.4g}")
            for p, c in palettes.RAMPS[self.ramp]])
        shader = QgsRasterShader(vmin, vmax)
        shader.setRasterShaderFunction(fn)
        r = QgsSingleBandPseudoColorRenderer(provider, self.band, shader)
        r.setClassificationMin(vmin)
        r.setClassificationMax(vmax)
        return r

    def _rgb_renderer(self, provider):
        r = QgsMultiBandColorRenderer(provider, *self.bands)
        setters = (r.setRedContrastEnhancement, r.setGreenContrastEnhancement, r.setBlueContrastEnhancement)
        for band, setter in zip(self.bands, setters):
            if band > 0:
                ce = QgsContrastEnhancement(provider.dataType(band))
                ce.setContrastEnhancementAlgorithm(
                    QgsContrastEnhancement.ContrastEnhancementAlgorithm.StretchToMinimumMaximum)
                ce.setMinimumValue(self.vmin)
                ce.setMaximumValue(self.vmax)
                setter(ce)
        return r

    def apply(self, layer):
        layer.setRenderer(self.renderer(layer.dataProvider()))
        layer.triggerRepaint()


def qml_path(raster_path: str) -> str:
    return os.path.splitext(raster_path)[0] + ".qml"


def save_style(raster_path: str, style: RasterStyle) -> str:
    """Write the style as a .qml beside ``raster_path`` (QGIS's default style for that file)."""
    layer = QgsRasterLayer(raster_path, os.path.basename(raster_path), "gdal")
    if not layer.isValid():
        return ""
    style.apply(layer)
    path = qml_path(raster_path)
    layer.saveNamedStyle(path)
    return path


class _StyleOnLoad(QgsProcessingLayerPostProcessorInterface):
    def __init__(self, style: RasterStyle):
        super().__init__()
        self.style = style

    def postProcessLayer(self, layer, context, feedback):  # noqa: N802 (QGIS API name)
        if isinstance(layer, QgsRasterLayer):
            self.style.apply(layer)


# Post-processors must outlive processAlgorithm: Processing calls them after it returns.
_KEEP = []


def style_output(raster_path: str, style: RasterStyle, context, layer_name: str | None = None):
    """Save the .qml beside the output and style it again when Processing loads it into a project."""
    save_style(raster_path, style)
    raster_path = final_path(raster_path)      # a staged output is registered under its destination
    if context.willLoadLayerOnCompletion(raster_path):
        details = context.layerToLoadOnCompletionDetails(raster_path)
        if layer_name:
            details.name = layer_name
        post = _StyleOnLoad(style)
        _KEEP.append(post)
        del _KEEP[:-64]
        details.setPostProcessor(post)
