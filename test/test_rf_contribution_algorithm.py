"""miningeco:rfcontribution through processing.run and qgis_process on a generated sample table."""
from __future__ import annotations

import csv

import numpy as np
import pytest

from failures import assert_fails_cleanly
from mining_eco_plugin.core import rf_contribution as rc

NAMES = ["prec", "temp", "som", "clay", "dist_mine"]
CATEGORIES = "prec=climate, temp=climate; som=soil\nclay=soil, dist_mine=mining"


def write_table(path, n=200, seed=1, constant_y=False):
    """CSV samples: NPP depends on climate (prec, temp) and mining (dist_mine), not on soil."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, len(NAMES)))
    y = 4 * X[:, 0] + 2 * X[:, 1] + 3 * X[:, 4] + 0.1 * rng.normal(size=n)
    if constant_y:
        y[:] = 5.0
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "npp"] + NAMES + ["label"])
        for i in range(n):
            w.writerow([i, f"{y[i]:.12g}"] + [f"{v:.12g}" for v in X[i]] + ["x"])
    with open(str(path) + "t", "w") as fh:   # .csvt: OGR reads the column types from it
        fh.write(",".join(["Integer", "Real"] + ["Real"] * len(NAMES) + ["String"]))
    return X.round(12), np.array([float(f"{v:.12g}") for v in y])


def layer_uri(path):
    return str(path)


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def run(params):
    import processing
    return processing.run("miningeco:rfcontribution", params)


def test_table_mode_equals_core_and_is_reproducible(provider, tmp_path):
    X, y = write_table(tmp_path / "s.csv")
    outs = []
    for k in range(2):
        params = dict(INPUT=layer_uri(tmp_path / "s.csv"), Y_FIELD="npp", CATEGORIES=CATEGORIES, N_TREES=60,
                      OUTPUT_CATEGORIES=str(tmp_path / f"c{k}.csv"), OUTPUT_DRIVERS=str(tmp_path / f"d{k}.csv"),
                      OUTPUT_REPORT=str(tmp_path / f"r{k}.html"))
        res = run(params)
        outs.append((read_csv(res["OUTPUT_CATEGORIES"]), read_csv(res["OUTPUT_DRIVERS"])))
    assert outs[0] == outs[1]                      # fixed seed: identical twice
    cats, drivers = outs[0]
    # the core on the same numbers (independent of the QGIS reading path)
    core = rc.rf_contributions(X, y, NAMES, rc.parse_categories(CATEGORIES), n_estimators=60)
    assert [r["category"] for r in cats] == ["climate", "soil", "mining"]
    np.testing.assert_allclose([float(r["rel_con_pct"]) for r in cats], core.rel_con, atol=1e-9)
    np.testing.assert_allclose([float(r["act_con"]) for r in cats], core.act_con, atol=1e-12)
    assert sum(float(r["rel_con_pct"]) for r in cats) == pytest.approx(100.0)
    rel = {r["category"]: float(r["rel_con_pct"]) for r in cats}
    assert rel["climate"] > rel["mining"] > 10.0   # climate carries 4^2 + 2^2 of Y's variance, mining 3^2
    # Y ignores soil: dropping the two noise drivers IMPROVES the OOB R2 (with mtry = p/3 fewer splits are
    # wasted on noise), so ActCon_soil < 0; eq. 7 still counts |ActCon| (as changhe defines it)
    act = {r["category"]: float(r["act_con"]) for r in cats}
    assert act["soil"] < 0 < act["mining"] < act["climate"]
    assert [r["driver"] for r in drivers] == NAMES
    assert sum(float(r["importance_pct"]) for r in drivers) == pytest.approx(100.0)
    html = (tmp_path / "r0.html").read_text()
    assert "data:image/png;base64" in html and "RelCon" in html


def test_category_matrix_forms_equal_the_text_form(provider, tmp_path):
    """CATEGORIES is a matrix parameter (field | category rows): the flat cells the dialog and the Modeler give
    (with an empty row left in the table), and the old 'field=category' text, give identical tables."""
    write_table(tmp_path / "s.csv")
    pairs = rc.parse_categories(CATEGORIES)
    cells = [c for kv in pairs.items() for c in kv]
    forms = {"text": CATEGORIES, "cells": cells[:4] + ["", ""] + cells[4:]}
    got = {}
    for tag, value in forms.items():
        res = run(dict(INPUT=layer_uri(tmp_path / "s.csv"), Y_FIELD="npp", CATEGORIES=value, N_TREES=20,
                       OUTPUT_CATEGORIES=str(tmp_path / f"c_{tag}.csv"), OUTPUT_DRIVERS=str(tmp_path / f"d_{tag}.csv")))
        got[tag] = (read_csv(res["OUTPUT_CATEGORIES"]), read_csv(res["OUTPUT_DRIVERS"]))
    assert got["text"] == got["cells"]
    assert [r["category"] for r in got["cells"][0]] == ["climate", "soil", "mining"]


@pytest.mark.parametrize("case,words", [
    ("unknown", ("CATEGORIES", "rain", "ndvi")),
    ("few", ("INPUT", "9 sample")),
    ("constant", ("Y_FIELD", "npp", "constant")),
    ("text", ("CATEGORIES", "label", "not numeric")),
    ("one_category", ("CATEGORIES", "two categories")),
])
def test_bad_inputs_fail_cleanly(provider, tmp_path, case, words):
    src = tmp_path / "s.csv"
    write_table(src, n=9 if case == "few" else 40, constant_y=case == "constant")
    cats = {"unknown": "rain=climate, prec=climate, ndvi=soil", "text": CATEGORIES + ", label=soil",
            "one_category": "prec=climate, temp=climate"}.get(case, CATEGORIES)
    out = tmp_path / "out"
    out.mkdir()
    params = dict(INPUT=layer_uri(src), Y_FIELD="npp", CATEGORIES=cats, N_TREES=10,
                  OUTPUT_CATEGORIES=str(out / "c.csv"), OUTPUT_DRIVERS=str(out / "d.csv"),
                  OUTPUT_REPORT=str(out / "r.html"))
    assert_fails_cleanly(lambda: run(params), out, *words)


def test_qgis_process_help_and_run(qgis_process, provider, tmp_path):
    help_text = qgis_process("help", "miningeco:rfcontribution").stdout
    for word in ("CATEGORIES", "act_con", "RelCon", "Remote Sensing 14: 4177", "N_TREES",
                 "CATEGORIES=prec,climate,temp,climate"):
        assert word in help_text
    write_table(tmp_path / "s.csv")
    qgis_process("run", "miningeco:rfcontribution", "--", f"INPUT={layer_uri(tmp_path / 's.csv')}",
                 "Y_FIELD=npp", f"CATEGORIES={CATEGORIES.replace(chr(10), ',')}", "N_TREES=60",
                 f"OUTPUT_CATEGORIES={tmp_path / 'qc.csv'}", f"OUTPUT_DRIVERS={tmp_path / 'qd.csv'}")
    res = run(dict(INPUT=layer_uri(tmp_path / "s.csv"), Y_FIELD="npp", CATEGORIES=CATEGORIES, N_TREES=60,
                   OUTPUT_CATEGORIES=str(tmp_path / "pc.csv"), OUTPUT_DRIVERS=str(tmp_path / "pd.csv")))
    q, p = read_csv(tmp_path / "qc.csv"), read_csv(res["OUTPUT_CATEGORIES"])
    np.testing.assert_allclose([float(r["rel_con_pct"]) for r in q], [float(r["rel_con_pct"]) for r in p],
                               atol=1e-9)
