#!/usr/bin/env python3
"""Which types skops does not trust by default in the models Mining Eco writes, in the running environment.

Trains every model kind of ``mining_eco_plugin/core/models.py`` (random forest, SVR, MLP, gradient boosting with
scikit-learn's histogram backend and with XGBoost when it imports, PLSR, stacking with either boosting backend) on
a small synthetic set, the way the 'Train model' tool does (``models.train``, both a hold-out split and k-fold
validation), serialises each estimator with ``skops.io.dumps`` and prints ``skops.io.get_untrusted_types`` of
it, then the union. Compares the union with ``core.modelfile.TRUSTED_TYPES``: types the allow-list lacks here
(models that would be refused) and allow-list entries not needed here (needed on other versions, or stale).

Used to derive ``TRUSTED_TYPES``: run it with each supported scikit-learn / numpy / skops combination. Needs
numpy, scikit-learn and skops (not QGIS); the repository root is put on sys.path.

    python3 scripts/skops_untrusted_types.py            # table per kind, the union, the comparison
    python3 scripts/skops_untrusted_types.py --json     # the same as JSON (versions, per kind, union)

Exit status 1 when a type in the union is missing from TRUSTED_TYPES.
"""
import json
import os
import sys
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402
import skops.io as sio  # noqa: E402

from mining_eco_plugin.core import modelfile, models  # noqa: E402


def variants():
    """(label, kind, backend) of every estimator the Train model tool can write."""
    backends = ["hist"] + (["xgboost"] if models.xgboost_available() else [])
    for kind in models.KINDS:
        if kind in ("boosting", "stacking"):
            for b in backends:
                yield f"{kind}[{b}]", kind, b
        else:
            yield kind, kind, None


def untrusted_types():
    rng = np.random.default_rng(0)
    X = rng.random((40, 4))
    y = X @ np.array([1.0, -2.0, 0.5, 3.0]) + rng.normal(0, 0.05, 40)
    per_kind = {}
    for label, kind, backend in variants():
        found = set()
        for validation in ("systematic", "kfold"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est = models.train(kind, X, y, validation=validation, backend=backend).estimator
            found |= set(sio.get_untrusted_types(data=sio.dumps(est)))
        per_kind[label] = sorted(found)
    return per_kind


def main(argv):
    per_kind = untrusted_types()
    union = sorted(set().union(*per_kind.values()))
    versions = modelfile.library_versions()
    try:
        import xgboost
        versions["xgboost"] = xgboost.__version__
    except Exception:  # noqa: BLE001
        pass
    missing = sorted(set(union) - modelfile.TRUSTED_TYPES)
    unused = sorted(modelfile.TRUSTED_TYPES - set(union))
    if "--json" in argv:
        print(json.dumps({"versions": versions, "per_kind": per_kind, "union": union, "missing": missing,
                          "unused_here": unused}, indent=1))
    else:
        print("environment: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
        for label, types in per_kind.items():
            print(f"{label:18s} {', '.join(types) or '-'}")
        print("\nunion (types skops does not trust by default, needed by our models here):")
        for t in union:
            print(f"  {t}")
        print("\nmissing from TRUSTED_TYPES (models that would be refused): " + (", ".join(missing) or "none"))
        print("in TRUSTED_TYPES but not needed here: " + (", ".join(unused) or "none"))
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
