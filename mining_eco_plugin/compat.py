"""Scoped QGIS enums on every QGIS from 3.22 on (issue 10: ready for QGIS 4 / Qt 6).

Qt 6 bindings know only scoped enums (``Qgis.ProcessingSourceType.Vector``, not
``QgsProcessing.TypeVector``), but QGIS moved many enums into ``Qgis`` only in 3.30 - 3.38, after the
3.22 that this plugin still supports. Each name below is the ``Qgis`` enum of the same name when this
QGIS has it, else the 3.22 enum it replaced, read through the new member names. Write
``compat.ProcessingSourceType.Vector`` where the code would write ``Qgis.ProcessingSourceType.Vector``;
once the plugin requires the version in ``SCOPED_SINCE``, replace ``compat.`` with ``Qgis.``.

The numbers are the same either way (``TypeVector`` and ``Vector`` are both 5), so parameters, their
defaults and outputs do not change with the QGIS version. Enums that 3.22 already scopes are not here:
write them in full (``QgsFeatureSink.Flag.FastInsert``). test/unit/test_qt6_ready.py keeps the plugin
to this.
"""
from qgis.core import (
    Qgis,
    QgsColorRampShader,
    QgsProcessing,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterField,
    QgsProcessingParameterNumber,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QMetaType, QVariant

# name -> the QGIS version whose Qgis (or QgsField, for FieldType) has the scoped form
SCOPED_SINCE = {
    "ProcessingSourceType": (3, 36),  # was QgsProcessing.SourceType (TypeVector, TypeRaster, ...)
    "ProcessingNumberParameterType": (3, 36),  # was QgsProcessingParameterNumber.Type
    "ProcessingFieldParameterDataType": (3, 36),  # was QgsProcessingParameterField.DataType
    "ProcessingParameterFlag": (3, 36),  # was QgsProcessingParameterDefinition.Flag (FlagAdvanced, ...)
    "ShaderInterpolationMethod": (3, 38),  # was QgsColorRampShader.Type (Interpolated -> Linear)
    "WkbType": (3, 30),  # was QgsWkbTypes.Type
    "FieldType": (3, 38),  # QgsField(name, QMetaType.Type); before: QVariant.Type, which Qt 6 lacks
}


class _OldNames:
    """The 3.22 enum ``old`` under the new member names: ``prefix + name``, or ``renamed[name]``."""

    def __init__(self, old, prefix="", renamed=None):
        self._old, self._prefix, self._renamed = old, prefix, renamed or {}

    def __getattr__(self, name):
        return getattr(self._old, self._renamed.get(name, self._prefix + name))


def _scoped(name, old, prefix="", renamed=None):
    """``Qgis.<name>``, else the enum that ``old()`` returns (looked up only then: QGIS 4 may drop it)."""
    scoped = getattr(Qgis, name, None)
    return scoped if scoped is not None else _OldNames(old(), prefix, renamed)


ProcessingSourceType = _scoped("ProcessingSourceType", lambda: QgsProcessing.SourceType, prefix="Type")
ProcessingNumberParameterType = _scoped("ProcessingNumberParameterType", lambda: QgsProcessingParameterNumber.Type)
ProcessingFieldParameterDataType = _scoped("ProcessingFieldParameterDataType",
                                           lambda: QgsProcessingParameterField.DataType)
ProcessingParameterFlag = _scoped("ProcessingParameterFlag", lambda: QgsProcessingParameterDefinition.Flag,
                                  prefix="Flag")
ShaderInterpolationMethod = _scoped("ShaderInterpolationMethod", lambda: QgsColorRampShader.Type,
                                    renamed={"Linear": "Interpolated"})
WkbType = _scoped("WkbType", lambda: QgsWkbTypes.Type)

# QgsField types: QMetaType.Type.QString / Double / LongLong / Bool (QVariant.String ... before 3.38)
if Qgis.QGIS_VERSION_INT >= 33800:
    FieldType = QMetaType.Type
else:
    FieldType = _OldNames(QVariant, renamed={"QString": "String"})
