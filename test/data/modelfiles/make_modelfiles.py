#!/usr/bin/env python3
"""Writes the model-file fixtures of test/unit/test_modelfile_versions.py with the running Python's scikit-learn,
numpy and skops: a random forest and a stacking model (MLP + RF + histogram boosting -> PLSR) trained by
core.models.train on a tiny seeded set, saved by core.modelfile.dumps, each with a sidecar JSON holding the
library versions it was written with, probe rows (not training rows) and the model's predictions of them.

    python3 test/data/modelfiles/make_modelfiles.py TAG [--repo DIR]

TAG names the files (TAG_rf.model, TAG_rf.json, TAG_stacking.model, ...); --repo is the checkout whose
mining_eco_plugin is used (default: this one), e.g. an export of an older commit to write files as that
release did. Needs numpy, scikit-learn, skops and threadpoolctl, not QGIS.
"""
import argparse
import dataclasses
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FEATURES = ["NDVI", "SI1", "S3"]


def data():
    import numpy as np
    rng = np.random.default_rng(7)
    X = rng.random((20, 3))
    y = 4 * X[:, 0] - 2 * X[:, 1] ** 2 + X[:, 2] + rng.normal(0, 0.05, 20)
    probe = rng.random((6, 3))
    return X, y, probe


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tag")
    ap.add_argument("--repo", default=os.path.dirname(os.path.dirname(os.path.dirname(HERE))))
    ap.add_argument("--written-by", default="")
    args = ap.parse_args()
    sys.path.insert(0, os.path.abspath(args.repo))
    from mining_eco_plugin.core import modelfile, models

    X, y, probe = data()
    fields = {f.name for f in dataclasses.fields(modelfile.ModelBundle)}
    for kind in ("rf", "stacking"):
        result = models.train(kind, X, y, backend="hist")
        metrics = {row["set"]: {k: row[k] for k in ("n", "r2", "rmse", "mae")} for row in result.rows}
        extra = {"model": models.LABELS[kind], "validation": "systematic", "seed": models.SEED,
                 "boosting_backend": "hist" if kind == "stacking" else "", "n_samples": len(y)}
        kwargs = {"probe": X[:5]} if "probe" in fields else {}
        bundle = modelfile.ModelBundle(result.estimator, FEATURES, "salinity", "g/kg", kind, metrics, extra, **kwargs)
        data_bytes = modelfile.dumps(bundle)
        path = os.path.join(HERE, f"{args.tag}_{kind}.model")
        with open(path, "wb") as fh:
            fh.write(data_bytes)
        side = {"written_by": args.written_by, "versions": modelfile.library_versions(), "X": probe.tolist(),
                "prediction": models.predict(result.estimator, probe).tolist()}
        with open(os.path.join(HERE, f"{args.tag}_{kind}.json"), "w") as fh:
            json.dump(side, fh, indent=1)
            fh.write("\n")
        print(f"{path}: {len(data_bytes)} bytes")


if __name__ == "__main__":
    main()
