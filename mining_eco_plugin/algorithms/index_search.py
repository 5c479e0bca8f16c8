"""Spectral index search: two- and three-band formulas of sampled band reflectances ranked by |Pearson r| with a
measured target, with corrected p-values and a cross-validated selection (core.indexsearch)."""
from __future__ import annotations

import os
import re
import shutil
import tempfile

import numpy as np
from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)

from .. import compat
from ..core import indexsearch as isr
from ..core.checks import listing
from ..core.indices import ROLE_ALIASES, ROLES
from .base import MiningEcoAlgorithm
from . import limits
from .references import cite
from .samples import numeric_field, read_columns, sample_source

FORM_KEYS = list(isr.FORMS)
TRANSFORM_KEYS = [k for k in isr.TRANSFORMS if k != "NONE"]
TABLE_COLUMNS = [("rank", int), ("name", str), ("expression", str), ("form", str), ("bands", str),
                 ("transform", str), ("r", float), ("p", float), ("p_corrected", float), ("significant", bool),
                 ("selected_folds", int), ("selection_frequency", float)]
#: rows of the ranked table shown in the report (the table output holds them all)
REPORT_ROWS = 30


def role_of(name: str):
    """The band role a field name stands for (B, G, R, NIR, SWIR1, SWIR2; BLUE / GREEN / RED), or None."""
    up = name.strip().upper()
    up = ROLE_ALIASES.get(up, up)
    return up if up in ROLES else None


def parse_band_roles(text: str) -> dict:
    """'NIR=nir_refl, R=red' -> {"nir_refl": "NIR", "red": "R"} (field -> role); ValueError naming BAND_ROLES."""
    out = {}
    for item in filter(None, (p.strip() for p in re.split(r"[,;\n]+", text or ""))):
        role, sep, field = (x.strip() for x in item.partition("="))
        if not sep or not field or role_of(role) is None:
            raise ValueError(f"BAND_ROLES: cannot read {item!r}; write role=field pairs such as 'NIR=nir_refl,R=red' "
                             f"with roles {', '.join(ROLES)}.")
        if role_of(role) in out.values():
            raise ValueError(f"BAND_ROLES: the role {role_of(role)} is given twice.")
        out[field] = role_of(role)
    return out


class IndexSearchAlgorithm(MiningEcoAlgorithm):
    ID = "indexsearch"
    NAME = "Spectral index search"
    GROUP = "salinity"
    SUMMARY = (
        "Builds new spectral indices as Lan et al. 2025 did: every two-band difference, ratio and normalised "
        "difference and every three-band form of their SAI, TRSI, SBCI and GOSI (band slots free) plus generic "
        "forms, optionally on squared, square-rooted or reciprocal bands, ranked by |Pearson r| with a measured "
        "target. p-values are corrected for the number of candidates (Holm; or Benjamini-Hochberg). The honest "
        "estimate is of the selection: in each of k folds the formulas are ranked on the training samples and the "
        "top one is scored on the held-out samples (cross-validated r).\n"
        "Inputs: a table or point layer with band reflectances (0-1, as Sample rasters at points writes them) and "
        "the target. Band fields are named B, G, R, NIR, SWIR1, SWIR2 or mapped in BAND_ROLES.\n"
        "Outputs: the ranked table (formula, r, p, corrected p, selection frequency), an HTML report with a heatmap "
        "per two-band form, and SELECTED_EXPRESSIONS (name=expression lines) for the custom expressions of the "
        "Spectral index calculator.")
    SOURCE = cite("lan2025", "holm1979", "benjamini1995")
    SHORT_DESCRIPTION = "New two- and three-band indices ranked by correlation with a target, cross-validated"
    TAGS = ("index search", "band combination", "new index", "optimal index", "spectral index", "correlation",
            "pearson", "three-band index", "salinity index")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.add(QgsProcessingParameterFeatureSource("INPUT", "Samples", [compat.ProcessingSourceType.Vector]),
                 "Table or point layer with one row per sample: band reflectances and the measured target (e.g. "
                 "the output of Sample rasters at points on a stack of reflectance bands).")
        self.add(QgsProcessingParameterField("TARGET_FIELD", "Target field (measured value)",
                                             parentLayerParameterName="INPUT",
                                             type=compat.ProcessingFieldParameterDataType.Numeric),
                 "Numeric field of the measured value, e.g. soil EC or salt content.")
        self.add(QgsProcessingParameterField("BAND_FIELDS", "Band fields", parentLayerParameterName="INPUT",
                                             type=compat.ProcessingFieldParameterDataType.Numeric,
                                             allowMultiple=True, optional=True),
                 "Reflectance fields the formulas combine; default: the fields named B, G, R, NIR, SWIR1, SWIR2 "
                 "(or BLUE, GREEN, RED) and those of BAND_ROLES. qgis_process: repeat the key.")
        self.add(QgsProcessingParameterString("BAND_ROLES", "Band roles of other fields (role=field, ...)",
                                              optional=True, defaultValue=""),
                 "For band fields not named by their role, e.g. 'B=lsat_b1,NIR=lsat_b4': the formulas are written "
                 "with the roles, which the Spectral index calculator reads from a scene.")
        self.add(QgsProcessingParameterEnum("FORMS", "Forms", [isr.FORMS[k].title for k in FORM_KEYS],
                                            allowMultiple=True, defaultValue=list(range(len(FORM_KEYS)))),
                 "Formula forms; A, B, C take every combination of distinct bands. Default: all.")
        self.add(QgsProcessingParameterEnum("TRANSFORMS", "Band transforms (besides the bands as they are)",
                                            [isr.TRANSFORMS[k][0] for k in TRANSFORM_KEYS], allowMultiple=True,
                                            optional=True, defaultValue=[]),
                 "Also try every form on the squared bands, their square roots and / or reciprocals (Lan et al. "
                 "2025, Figure 3). Each multiplies the candidates.")
        self.add(QgsProcessingParameterEnum("CORRECTION", "Multiple-testing correction",
                                            [isr.CORRECTION_TITLES[k] for k in isr.CORRECTIONS], defaultValue=0),
                 "0 Holm (default: the chance of any false discovery stays below ALPHA), 1 Benjamini-Hochberg "
                 "(the expected share of false discoveries). m = the number of candidates tested.")
        self.add(QgsProcessingParameterNumber("ALPHA", "Significance level", compat.ProcessingNumberParameterType.Double,
                                              defaultValue=0.05, minValue=0.0001, maxValue=0.5),
                 "A candidate is significant if its corrected p <= ALPHA.")
        self.add(QgsProcessingParameterNumber("FOLDS", "Cross-validation folds",
                                              compat.ProcessingNumberParameterType.Integer, defaultValue=5,
                                              minValue=2, maxValue=limits.FOLDS_MAX),
                 "k: each fold ranks on the other folds' samples and scores the top formula on its own; every "
                 "fold needs at least 3 samples.")
        self.add(QgsProcessingParameterNumber("TOP_N", "Formulas passed on (SELECTED_EXPRESSIONS)",
                                              compat.ProcessingNumberParameterType.Integer, defaultValue=4,
                                              minValue=1, maxValue=limits.TOP_N_MAX),
                 "The n best formulas (full-data |r|) written to SELECTED_EXPRESSIONS (Lan et al. 2025 kept 4).")
        self.add(QgsProcessingParameterNumber("SEED", "Random seed of the folds",
                                              compat.ProcessingNumberParameterType.Integer, defaultValue=42,
                                              minValue=limits.SEED_MIN, maxValue=limits.SEED_MAX),
                 "Seed of the shuffled k-fold split (fixed seed: identical results twice).", advanced=True)
        self.add_output(QgsProcessingParameterFeatureSink("OUTPUT_TABLE", "Ranked formulas",
                                                          compat.ProcessingSourceType.Vector),
                        "One row per candidate tested, best |r| first: rank, name, expression, form, bands, "
                        "transform, r, p, p_corrected, significant, selected_folds, selection_frequency.")
        self.add_output(QgsProcessingParameterFileDestination("OUTPUT_REPORT", "Report (HTML)", "HTML files (*.html)",
                                                              optional=True),
                        "Settings, the best formulas, the folds and the cross-validated r, a heatmap of r per "
                        "two-band form, the skipped candidates.")
        self.add_result(QgsProcessingOutputString("SELECTED_EXPRESSIONS", "Selected formulas (name=expression "
                                                                          "lines)"),
                        "The TOP_N best formulas, one name=expression per line: the custom expressions "
                        "(CUSTOM_EXPRESSIONS) of the Spectral index calculator.")
        self.add_result(QgsProcessingOutputString("BEST_EXPRESSION", "Best formula"),
                        "The best formula alone, e.g. for CUSTOM_EXPRESSION.")
        self.add_result(QgsProcessingOutputNumber("CV_R", "Cross-validated r of the selection"),
                        "Mean over the folds of the held-out r of the fold's top formula (signed by its training "
                        "direction).")
        self.add_result(QgsProcessingOutputNumber("N_CANDIDATES", "Candidates tested"),
                        "The m of the correction.")
        self.add_result(QgsProcessingOutputNumber("N_SKIPPED", "Candidates skipped"),
                        "Not finite at some sample (zero denominator, root of a negative) or the same at every "
                        "sample.")

    # -- inputs -------------------------------------------------------------------------------------
    def _read(self, parameters, context, feedback):
        source, fields, target = sample_source(self, parameters, context, "TARGET_FIELD")
        roles_of = parse_band_roles(self.parameterAsString(parameters, "BAND_ROLES", context))
        for name in roles_of:
            numeric_field(fields, name, "BAND_ROLES")
        chosen = self.parameterAsFields(parameters, "BAND_FIELDS", context)
        for name in chosen:
            numeric_field(fields, name, "BAND_FIELDS")
        if not chosen:
            chosen = [f.name() for f in fields if f.isNumeric() and f.name() != target
                      and (f.name() in roles_of or role_of(f.name()))]
            if len(chosen) < 2:
                raise ValueError(f"BAND_FIELDS: INPUT has {len(chosen)} field(s) named by a band role (B, G, R, NIR, "
                                 "SWIR1, SWIR2); choose the band fields and name their roles in BAND_ROLES, e.g. "
                                 "'NIR=nir_refl'.")
        if target in chosen:
            raise ValueError(f"BAND_FIELDS: the target '{target}' cannot also be a band.")
        if len(chosen) < 2:
            raise ValueError("BAND_FIELDS: choose at least 2 band fields.")
        roles = []
        for name in chosen:
            role = roles_of.get(name) or role_of(name)
            if role is None:
                raise ValueError(f"BAND_FIELDS: the field '{name}' is not named by a band role ({', '.join(ROLES)}), "
                                 "so a formula over it could not be computed by the Spectral index calculator. Name "
                                 f"its role in BAND_ROLES, e.g. 'NIR={name}'.")
            if role in roles:
                raise ValueError(f"BAND_FIELDS: two fields stand for the band {role} "
                                 f"({', '.join(n for n in chosen if (roles_of.get(n) or role_of(n)) == role)}); "
                                 "keep one.")
            roles.append(role)
        names = [target] + chosen
        data = read_columns(source, names, feedback)
        empty = np.isnan(data)
        for j, name in enumerate(names):     # an empty cell is refused: a value OGR could not read is empty too
            if empty[:, j].any():
                param = "TARGET_FIELD" if j == 0 else "BAND_FIELDS"
                raise ValueError(f"{param}: the field '{name}' is empty (NULL, or not a number) in "
                                 f"{int(empty[:, j].sum())} sample(s), first in row {int(np.flatnonzero(empty[:, j])[0]) + 1}. "
                                 "Fill in or remove those samples.")
        if len(data) and np.ptp(data[:, 0]) == 0:
            raise ValueError(f"TARGET_FIELD: the field '{target}' has the same value ({data[0, 0]:g}) in every "
                             "sample: there is nothing to correlate with. Choose the measured field.")
        return data[:, 1:], data[:, 0], target, chosen, roles

    # -- run ---------------------------------------------------------------------------------------
    def run_tool(self, parameters, context, feedback):
        X, y, target, fields, roles = self._read(parameters, context, feedback)
        forms = [FORM_KEYS[i] for i in self.parameterAsEnums(parameters, "FORMS", context)]
        if not forms:
            raise ValueError("FORMS: choose at least one form.")
        transforms = [TRANSFORM_KEYS[i] for i in self.parameterAsEnums(parameters, "TRANSFORMS", context)]
        correction = isr.CORRECTIONS[self.parameterAsEnum(parameters, "CORRECTION", context)]
        alpha = self.parameterAsDouble(parameters, "ALPHA", context)
        folds = self.parameterAsInt(parameters, "FOLDS", context)
        top_n = self.parameterAsInt(parameters, "TOP_N", context)
        seed = self.parameterAsInt(parameters, "SEED", context)
        report = self.parameterAsFileOutput(parameters, "OUTPUT_REPORT", context)
        if X.size and float(np.nanmedian(np.abs(X))) > 1.5:
            feedback.pushWarning("The band values look like digital numbers, not reflectance 0-1 (median above 1.5): "
                                 "ratios, products and the SAI / SBCI forms change with scale. Sample a reflectance "
                                 "stack (e.g. the Spectral index calculator with CUSTOM_EXPRESSIONS 'B=B;G=G;...').")
        feedback.pushInfo(f"{len(y)} sample(s), bands {', '.join(f'{r} ({f})' if r != f else r for r, f in zip(roles, fields))}.")
        feedback.setProgress(10)
        try:
            res = isr.search(X, y, roles, forms, transforms, correction, alpha, folds, seed)
        except isr.SearchError as err:
            raise ValueError(f"{err.param + ': ' if err.param else ''}{err}") from None
        if feedback.isCanceled():
            from ..raster.engine import Canceled
            raise Canceled()
        feedback.setProgress(60)
        rows = res.rows()
        table = self.write_table(parameters, "OUTPUT_TABLE", context, TABLE_COLUMNS,
                                 [[r[c] for c, _k in TABLE_COLUMNS] for r in rows])
        feedback.setProgress(75)
        if report:
            self._report(report, res, X, y, roles, fields, target, forms, transforms, top_n, seed)
        cand = res.candidates
        n_sig = sum(r["significant"] for r in rows)
        best = rows[0]
        feedback.pushInfo(f"{cand.values.shape[1]} candidate(s) tested ({cand.n_skipped} skipped, {cand.duplicates} "
                          f"duplicate(s)); best {best['name']} = {best['expression']}, r = {best['r']:.3f}; "
                          f"{n_sig} significant at {alpha:g} ({isr.CORRECTION_TITLES[correction]}); cross-validated "
                          f"r of the selection {res.cv_r:.3f}.")
        if not n_sig:
            feedback.pushWarning("No formula is significant after the correction: the selected formulas may be "
                                 "chance findings.")
        feedback.setProgress(100)
        return {"OUTPUT_TABLE": table, "OUTPUT_REPORT": report or None,
                "SELECTED_EXPRESSIONS": "\n".join(res.selected(top_n)), "BEST_EXPRESSION": best["expression"],
                "CV_R": float(res.cv_r), "N_CANDIDATES": int(cand.values.shape[1]), "N_SKIPPED": cand.n_skipped}

    def _report(self, path, res, X, y, roles, fields, target, forms, transforms, top_n, seed):
        from ..reports.heatmap import correlation_heatmap_png
        from ..reports.html import write_html_report
        cand = res.candidates
        settings = {
            "target": target, "samples": res.n_samples,
            "bands": ", ".join(r if r == f else f"{r} = {f}" for r, f in zip(roles, fields)),
            "forms": ", ".join(forms), "transforms": ", ".join(["none"] + transforms),
            "candidates generated": cand.generated, "skipped": cand.n_skipped,
            "duplicates left out": cand.duplicates, "candidates tested (m)": int(cand.values.shape[1]),
            "correction": isr.CORRECTION_TITLES[res.correction], "significance level": res.alpha,
            "significant": sum(r["significant"] for r in res.rows()), "folds": len(res.folds), "seed": seed,
            "cross-validated r of the selection": res.cv_r, "passed on (TOP_N)": top_n}
        sections = [("Settings and result", settings),
                    (f"Best formulas (of {cand.values.shape[1]}; the table output holds them all)",
                     res.rows(REPORT_ROWS)),
                    ("Cross-validated selection", [
                        {"fold": f.fold, "training samples": f.n_train, "held-out samples": f.n_test,
                         "top formula (training)": cand.names[f.top], "r training": f.r_train,
                         "r held-out": f.r_test, "r held-out, training direction": f.r_test_signed}
                        for f in res.folds])]
        if cand.skipped:
            sections.append(("Skipped candidates", [{"reason": k, "candidates": v} for k, v in cand.skipped.items()]))
        tmp = tempfile.mkdtemp(prefix="indexsearch-")
        try:
            for tkey in ["NONE"] + transforms:
                for fkey in (f for f in forms if f in isr.TWO_BAND):
                    png = os.path.join(tmp, f"{fkey}_{tkey}.png")
                    title = isr.FORMS[fkey].title + ("" if tkey == "NONE" else f", {isr.TRANSFORMS[tkey][0]}")
                    correlation_heatmap_png(png, isr.pair_matrix(X, y, roles, fkey, tkey), roles, roles,
                                            f"{title}: r with {target}", "second band", "first band")
                    sections.append((f"Heatmap: {title}", png))
            sections.append(("Method", (
                f"Candidates: every form over distinct bands (slot orders with the same |r| once), on the bands as "
                f"they are and on the chosen transforms; a candidate not finite at some sample or constant is "
                f"skipped, one that is a linear function of an earlier one is a duplicate. These rules read the "
                f"bands only, never the target.\n\nRanking: |Pearson r| with {target}; p from t = r sqrt((n-2)/"
                f"(1-r^2)), n - 2 degrees of freedom; corrected over the m candidates tested by "
                f"{isr.CORRECTION_TITLES[res.correction]} ({cite('holm1979') if res.correction == 'holm' else cite('benjamini1995')}).\n\n"
                "Cross-validated selection: a formula has no parameter to fit, so what can overfit is the choice "
                "among many. In each fold the candidates are ranked on the training samples only; the top one is "
                "scored on the held-out samples, signed by its training direction. Their mean is the cross-validated "
                "r; a formula's selection frequency is the share of folds in which it came top. A large gap between "
                "the best full-data r and the cross-validated r means the search found chance.\n\n"
                f"After {cite('lan2025')}: new three-band indices built by addition, subtraction, multiplication, "
                "division and powers, evaluated by Pearson r with measured EC.")))
            write_html_report(path, f"Spectral index search against {target}", sections)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
