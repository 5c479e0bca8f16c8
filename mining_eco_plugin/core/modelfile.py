"""Mining Eco model files: a fitted scikit-learn model plus what it needs to be applied, stored so
that loading a file runs no code.

A model file is a zip archive holding ``model.skops`` (the estimator serialised with skops.io, which
rebuilds objects from an explicit list of allowed types instead of unpickling) and
``metadata.json`` (format tag, feature names in order, target name and units, metrics, library
versions, the SHA-256 of ``model.skops``). ``loads`` refuses, with a ``ModelFileError`` and before
building any object: a pickle, any file that is not such an archive, an archive whose model bytes
do not match the recorded hash (altered), and a model that contains a type outside ``TRUSTED_TYPES``
(beyond skops' own default-trusted scikit-learn / numpy types).

Bytes in, bytes out: the algorithms read and write the files (core/ opens no file). skops is
imported only when used, so the rest of core works without it.
"""
from __future__ import annotations

import hashlib
import io
import json
import platform
import zipfile
from dataclasses import dataclass, field

FORMAT = "mining-eco-model"
FORMAT_VERSION = 1
MODEL_MEMBER = "model.skops"
META_MEMBER = "metadata.json"

#: Types skops does not trust by default but that our estimators contain (scikit-learn internals of
#: histogram gradient boosting, MLP and bunches; XGBoost's regressor); nothing that runs code on load.
TRUSTED_TYPES = frozenset({
    "sklearn._loss._loss.CyHalfSquaredError",
    "sklearn._loss.link.IdentityLink",
    "sklearn._loss.link.Interval",
    "sklearn._loss.loss.HalfSquaredError",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    "sklearn.utils._bunch.Bunch",
    # XGBoost (xgboost-cpu): skops restores a Booster from XGBoost's own model format, not from a pickle
    "xgboost.core.Booster",
    "xgboost.sklearn.XGBRegressor",
})


class ModelFileError(ValueError):
    """The file is not a usable Mining Eco model file (message says why and what to do)."""


@dataclass
class ModelBundle:
    estimator: object
    features: list[str]
    target: str
    units: str = ""
    kind: str = ""
    metrics: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)


#: The message when skops cannot be imported (the Salinity model tools show it before they start).
MISSING_SKOPS = ("model files need the Python package skops, which QGIS's Python cannot import. Install it with "
                 "the Mining Eco tool 'Install Python dependencies' (miningeco:installdependencies: Processing "
                 "Toolbox > Mining Eco > Set-up, or the menu Plugins > Mining Eco > Install Python "
                 "dependencies...; headless: qgis_process run miningeco:installdependencies), then run this tool "
                 "again.")


def _skops():
    try:
        import skops.io as sio
    except ImportError:
        raise ModelFileError(MISSING_SKOPS) from None
    return sio


def library_versions() -> dict:
    import numpy
    import sklearn
    versions = {"python": platform.python_version(), "numpy": numpy.__version__, "scikit-learn": sklearn.__version__}
    try:
        import skops
        versions["skops"] = skops.__version__
    except ImportError:
        pass
    return versions


def dumps(bundle: ModelBundle) -> bytes:
    """The model file's bytes."""
    model = _skops().dumps(bundle.estimator)
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "features": list(bundle.features),
            "target": bundle.target, "units": bundle.units, "kind": bundle.kind, "metrics": bundle.metrics,
            "extra": bundle.extra, "versions": library_versions(), "sha256": hashlib.sha256(model).hexdigest()}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(META_MEMBER, json.dumps(meta, indent=1, default=float))
        z.writestr(MODEL_MEMBER, model)
    return buf.getvalue()


def loads(data: bytes, name: str = "the model file") -> ModelBundle:
    """Read a model file's bytes; ModelFileError (naming ``name``) for anything not ours or altered."""
    if data[:1] == b"\x80":
        raise ModelFileError(f"{name} is a Python pickle. Pickles are refused because loading one can run any "
                             "code; train the model with the Mining Eco 'Train model' tool.")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            meta = json.loads(z.read(META_MEMBER).decode("utf-8"))
            model = z.read(MODEL_MEMBER)
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError, json.JSONDecodeError):
        raise ModelFileError(f"{name} is not a Mining Eco model file (expected a zip archive with {META_MEMBER} "
                             f"and {MODEL_MEMBER}, as written by the 'Train model' tool).") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{name} is not a Mining Eco model file (format tag missing).")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(f"{name} has model-file format version {meta.get('format_version')}; this plugin "
                             f"reads version {FORMAT_VERSION}. Retrain the model with this version.")
    if hashlib.sha256(model).hexdigest() != meta.get("sha256"):
        raise ModelFileError(f"{name} was altered after it was written (its model does not match the recorded "
                             "checksum). Retrain the model or use the original file.")
    sio = _skops()
    try:
        unknown = sorted(set(sio.get_untrusted_types(data=model)) - TRUSTED_TYPES)
    except Exception as err:  # noqa: BLE001 - any parse failure of the inner archive
        raise ModelFileError(f"{name}: its model part cannot be read ({err}).") from None
    if unknown:
        raise ModelFileError(f"{name} contains object types that are not allowed in a model file: "
                             f"{', '.join(unknown)}. It was not loaded.")
    estimator = sio.loads(model, trusted=sorted(TRUSTED_TYPES))
    features = meta.get("features")
    if not isinstance(features, list) or not features or not all(isinstance(f, str) for f in features):
        raise ModelFileError(f"{name} does not list its feature names.")
    return ModelBundle(estimator, features, str(meta.get("target", "")), str(meta.get("units", "")),
                       str(meta.get("kind", "")), dict(meta.get("metrics") or {}), dict(meta.get("extra") or {}),
                       dict(meta.get("versions") or {}))
