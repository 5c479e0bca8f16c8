"""Relative contribution of driving factors by standardised multiple linear regression, per period
(miningeco:mlrcontribution; zhundong seed section 1.5.4)."""
from __future__ import annotations

import numpy as np
from qgis.core import (
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFileDestination,
)

from .. import compat
from ..core import contribution as core
from ..raster.engine import Canceled
from ..reports.contribution_plot import contribution_heatmap_png
from .base import MiningEcoAlgorithm
from .references import cite
from .samples import numeric_field, read_columns

TABLE_FIELDS = (("period", str), ("factor", str), ("beta", float), ("se", float), ("t", float), ("p", float),
                ("contribution_pct", float), ("r2", float), ("n", int))


class MlrContributionAlgorithm(MiningEcoAlgorithm):
    ID = "mlrcontribution"
    NAME = "Driver contributions (standardised multiple linear regression)"
    GROUP = "drivers"
    SUMMARY = (
        "Relative contribution of driving factors to a response (e.g. salinised area, NPP): per period, or for all "
        "rows together, Y and every factor are standardised to z-scores, Y is regressed on the factors by least "
        "squares, and the contribution rate of a factor is |beta_i| / sum |beta_j| x 100 %; beta keeps the direction "
        "of the effect. Also the standard errors, t, p and R2.\n"
        "Inputs: a table with the response, the factor fields and an optional period field.\n"
        "Outputs: a table of coefficients and contributions and a heatmap PNG (factors x periods).")
    SOURCE = cite("he2026")
    SHORT_DESCRIPTION = (
        "Standardised multiple linear regression: relative contribution rates (%) of driving factors per period")
    TAGS = ("multiple linear regression", "mlr", "standardized coefficients", "beta", "contribution rate",
            "relative importance", "driving factors")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.add(QgsProcessingParameterFeatureSource("INPUT", "Table of samples", [compat.ProcessingSourceType.Vector]),
                 "A table or layer: one row per sample (e.g. per year and unit), Y and the factors as fields.")
        self.add(QgsProcessingParameterField("Y_FIELD", "Response field (Y)", parentLayerParameterName="INPUT",
                                             type=compat.ProcessingFieldParameterDataType.Numeric),
                 "Numeric dependent variable, e.g. salinised area.")
        self.add(QgsProcessingParameterField("X_FIELDS", "Factor fields (X)", parentLayerParameterName="INPUT",
                                             type=compat.ProcessingFieldParameterDataType.Numeric, allowMultiple=True),
                 "Numeric driving factors (at least one); each period needs at least (number of factors + 2) rows.")
        self.add(QgsProcessingParameterField("PERIOD_FIELD", "Period field", parentLayerParameterName="INPUT",
                                             optional=True),
                 "Optional: one regression per distinct value (e.g. year); empty = one regression on all rows.")
        self.add_output(QgsProcessingParameterFeatureSink("OUTPUT_TABLE", "Coefficients and contributions",
                                                          compat.ProcessingSourceType.Vector),
                        "Table: period, factor, beta (standardised), se, t, p, contribution_pct, r2, n.")
        self.add_output(QgsProcessingParameterFileDestination("OUTPUT_HEATMAP", "Contribution heatmap (PNG)",
                                                              "PNG files (*.png)", optional=True),
                        "Relative contributions (%) of each factor (rows) in each period (columns), sign of beta "
                        "in the cell text.")

    def run_tool(self, parameters, context, feedback):
        source = self.parameterAsSource(parameters, "INPUT", context)
        if source is None:
            raise ValueError("INPUT: give a table or layer of samples.")
        fields = source.fields()
        y_name = self.parameterAsString(parameters, "Y_FIELD", context)
        if not y_name:
            raise ValueError("Y_FIELD: choose the numeric response field.")
        numeric_field(fields, y_name, "Y_FIELD")
        x_names = self.parameterAsFields(parameters, "X_FIELDS", context)
        if not x_names:
            raise ValueError("X_FIELDS: choose at least one numeric factor field.")
        for name in x_names:
            numeric_field(fields, name, "X_FIELDS")
        if y_name in x_names:
            raise ValueError(f"X_FIELDS: the response '{y_name}' (Y_FIELD) cannot also be a factor.")
        period_name = self.parameterAsString(parameters, "PERIOD_FIELD", context)
        periods = None
        if period_name:
            idx = fields.lookupField(period_name)
            if idx < 0:
                raise ValueError(f"PERIOD_FIELD: the field '{period_name}' is not in INPUT.")
            periods = []
            for feature in source.getFeatures():
                if feedback.isCanceled():
                    raise Canceled()
                v = feature.attributes()[idx]
                periods.append(_period_text(v))
        data = read_columns(source, [y_name] + list(x_names), feedback)
        missing = [f"{n} ({int(k)})" for n, k in zip([y_name] + list(x_names), (~np.isfinite(data)).sum(axis=0)) if k]
        if missing:
            feedback.pushWarning("Samples with an empty or non-finite value are left out; per field: "
                                 + ", ".join(missing) + ".")
        try:
            fits = core.mlr_by_period(data[:, 0], data[:, 1:], list(x_names), periods)
        except ValueError as err:
            raise ValueError(f"INPUT / X_FIELDS: {err}") from None
        rows = []
        for period, fit in fits:
            feedback.pushInfo(f"Period {period}: n = {fit['n']}, R2 = {fit['r2']:.4f}")
            for i, name in enumerate(fit["names"]):
                rows.append((period, name, fit["beta"][i], fit["se"][i], fit["t"][i], fit["p"][i],
                             fit["contribution_pct"][i], fit["r2"], fit["n"]))
                feedback.pushInfo(f"  {name}: beta {fit['beta'][i]:+.4f}, p {fit['p'][i]:.4g}, "
                                  f"contribution {fit['contribution_pct'][i]:.2f} %")
        outputs = {"OUTPUT_TABLE": self.write_table(parameters, "OUTPUT_TABLE", context, TABLE_FIELDS, rows)}
        png = self.parameterAsFileOutput(parameters, "OUTPUT_HEATMAP", context)
        if png:
            pct = np.array([fit["contribution_pct"] for _p, fit in fits]).T
            beta = np.array([fit["beta"] for _p, fit in fits]).T
            contribution_heatmap_png(png, pct, beta, list(x_names), [p for p, _ in fits],
                                     f"Relative contribution to {y_name} (standardised MLR)")
            outputs["OUTPUT_HEATMAP"] = png
        feedback.setProgress(100)
        return outputs


def _period_text(value) -> str:
    """A period value as text: NULL -> 'NULL', 2005.0 -> '2005'."""
    if value is None or (hasattr(value, "isNull") and value.isNull()):
        return "NULL"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
