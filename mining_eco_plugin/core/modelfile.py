"""Mining Eco model files: a fitted scikit-learn model plus what it needs to be applied, stored so
that loading a file runs no code.

A model file is a zip archive holding ``model.skops`` (the estimator serialised with skops.io, which
rebuilds objects from an explicit list of allowed types instead of unpickling) and
``metadata.json`` (format tag, feature names in order, target name and units, metrics, library
versions, the SHA-256 of ``model.skops`` and a probe: the first training rows with the model's
predictions of them; files written up to commit efad114 have no probe). ``loads`` refuses, with a
``ModelFileError`` and before building any object: a pickle, any file that is not such an archive, an
archive whose model bytes do not match the recorded hash (altered), and a model that contains a type
outside ``TRUSTED_TYPES`` (beyond skops' own default-trusted scikit-learn / numpy types). After
building it, before anything predicts with it: a tree whose node arrays point outside the tree or the
features (``_check_trees``).

Allowed types (``TRUSTED_TYPES``): exactly those that skops does not trust by default but that the
estimators of ``core/models.py`` contain, found with ``scripts/skops_untrusted_types.py`` (trains every
model kind, prints the union of ``skops.io.get_untrusted_types``) under scikit-learn 1.2.1 (numpy 1.24
/ 1.25, skops 0.10 - 0.16), 1.4.2 (numpy 1.26 / 2.2, skops 0.10 - 0.16), 1.5.2 and 1.7.2 (Python 3.13,
skops 0.16) and 1.9.1 (numpy 2.4, skops 0.11 - 0.16; skops 0.10 does not import there). Needed by
every version: AdamOptimizer (MLP), Bunch (stacking), XGBoost's two types. What else changed twice:
skops 0.14 trusts the histogram boosting internals by default, and 0.15 stopped trusting
scikit-learn's ``Tree`` and the histogram ``TreePredictor`` (their node arrays hold indices that
scikit-learn follows without bounds checks: a crafted file could crash QGIS on predict), which
refused every random forest, boosting and stacking model. We allow both because our models consist of
them, and check their node arrays ourselves (``_check_trees``), on every skops: up to 0.14 skops
trusted ``Tree`` unchecked. The histogram boosting's loss and bin mapper types are needed up to skops
0.13, and with scikit-learn 1.2 on every skops.

Another scikit-learn than the file's: skops rebuilds objects attribute by attribute, so a model can
fail to build, fail to predict or predict differently under another scikit-learn. ``loads`` builds it
and predicts the probe rows; when either fails, or a prediction differs by more than
``PROBE_TOLERANCE`` (relative to the largest recorded prediction), the file is refused naming the
scikit-learn it was saved under and the running one: "Retrain this model with Mining Eco <version>
under scikit-learn <running>". A file without probe is refused under another scikit-learn minor
version (nothing to check it against), else it must predict a row of zeros. Seen (fixtures in
test/data/modelfiles, test/unit/test_modelfile_versions.py): a file loads and predicts the same (to
1e-15, also across numpy 1.26 / 2.2) under the scikit-learn it was saved with; 1.2 files are refused by
1.4 - 1.9 and 1.4 / 1.9 files by 1.2 (Tree node layout changed in 1.3; skops 0.16's loss format is
unknown to 0.10 / 0.11); random forests of 1.4 and 1.9 load under 1.4, 1.5, 1.7 and 1.9; a stacking
model of 1.4 is refused by 1.5 - 1.9 and one of 1.9 by 1.4: its PLSR meta-learner predicts differently
(by 0.2 on the fixture) from the same fitted attributes - which only the probe shows.

Size caps (issue 11, defect 3: a 3 MB file whose member unpacked to 3 GiB took 6.6 GB of memory before it was
refused): before any member is read, the archive may hold at most ``MAX_MEMBERS`` members, ``metadata.json`` at
most ``MAX_META_BYTES`` and ``model.skops`` at most ``MAX_MODEL_BYTES`` unpacked, and no member larger than 1 MiB
may unpack to more than ``MAX_RATIO`` times its packed size (a deflate bomb reaches about 1000; real models 3 to
15: a random forest of 400 trees on 5000 samples is 168 MB unpacked, 48 MB packed). The same caps hold for the
skops archive inside (``MAX_INNER_MEMBERS``). Python's zipfile never unpacks more than a member's declared size.
A model this large is refused when it is saved too: Train model loads every file it writes.

Metadata checksum (issue 11): ``metadata_sha256`` is the SHA-256 of the metadata without that key, as canonical
JSON (sorted keys, no spaces); a file whose metadata was edited (e.g. its feature names) is refused as altered.
Files written before it existed (Mining Eco 0.6.0 and older) have none and still load; for every file the
metadata's types are checked and its feature count must be the model's input width, so an edit that changes
the number of features is refused with a clear message too. A file that records a newer Mining Eco than 0.6.0
must have the checksum.

Bytes in, bytes out: the algorithms read and write the files (core/ opens no file). skops is
imported only when used, so the rest of core works without it.
"""
from __future__ import annotations

import hashlib
import io
import json
import platform
import sys
import warnings
import zipfile
from dataclasses import dataclass, field

import numpy as np

FORMAT = "mining-eco-model"
FORMAT_VERSION = 1
MODEL_MEMBER = "model.skops"
META_MEMBER = "metadata.json"
#: rows of the probe stored in a model file (the first training rows)
PROBE_ROWS = 5
#: largest accepted difference of a probe prediction, relative to max(1, largest |recorded prediction|)
PROBE_TOLERANCE = 1e-6
#: size caps checked before anything is unpacked (module docstring)
MAX_MEMBERS = 16
MAX_META_BYTES = 16 * 1024 * 1024
MAX_MODEL_BYTES = 1024 * 1024 * 1024
MAX_INNER_MEMBERS = 200_000
MAX_RATIO = 100
RATIO_FROM_BYTES = 1024 * 1024
#: the metadata key holding the SHA-256 of the rest of the metadata, and the last version writing files without it
META_HASH = "metadata_sha256"
LAST_VERSION_WITHOUT_META_HASH = (0, 6, 0)

#: Types skops does not trust by default but that our estimators contain; nothing that runs code on load.
#: Derived with scripts/skops_untrusted_types.py (module docstring); each group says where it is needed.
TRUSTED_TYPES = frozenset({
    # random forest, and the random forest of stacking: skops >= 0.15 (trusted by default before);
    # node arrays checked by _check_trees
    "sklearn.tree._tree.Tree",
    # histogram gradient boosting (boosting without XGBoost, and in stacking): skops <= 0.13 and >= 0.15
    # (0.14 trusts it by default); node arrays checked by _check_trees
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    # histogram gradient boosting: skops <= 0.13
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    # histogram gradient boosting's loss: skops <= 0.13 with every scikit-learn, every skops with scikit-learn 1.2
    "sklearn._loss.link.IdentityLink",
    "sklearn._loss.link.Interval",
    "sklearn._loss.loss.HalfSquaredError",
    # its Cython loss: scikit-learn 1.2 with every skops, scikit-learn 1.4 with skops 0.10
    "sklearn._loss._loss.CyHalfSquaredError",
    # MLP (adam solver's state), also in stacking: every version
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    # stacking (named_estimators_): every version
    "sklearn.utils._bunch.Bunch",
    # XGBoost (xgboost-cpu), boosting and stacking when installed: every version; skops restores a Booster from
    # XGBoost's own model format, not from a pickle
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
    #: rows of training features (first PROBE_ROWS kept): dumps stores them with the model's predictions,
    #: loads checks that the model still predicts them (another scikit-learn)
    probe: object = None


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
    if "xgboost" in sys.modules:     # only when a model used it (importing xgboost takes seconds)
        versions["xgboost"] = getattr(sys.modules["xgboost"], "__version__", "?")
    return versions


def plugin_version() -> str:
    from ..metadata import plugin_version as version
    return version()


def _predict(estimator, X) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(estimator.predict(X), dtype=np.float64).ravel()


def dumps(bundle: ModelBundle) -> bytes:
    """The model file's bytes."""
    model = _skops().dumps(bundle.estimator)
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "features": list(bundle.features),
            "target": bundle.target, "units": bundle.units, "kind": bundle.kind, "metrics": bundle.metrics,
            "extra": bundle.extra, "versions": dict(library_versions(), **{"mining-eco": plugin_version()}),
            "sha256": hashlib.sha256(model).hexdigest()}
    if bundle.probe is not None:
        X = np.asarray(bundle.probe, dtype=np.float64)[:PROBE_ROWS]
        meta["probe"] = {"X": X.tolist(), "prediction": _predict(bundle.estimator, X).tolist()}
    meta = json.loads(json.dumps(meta, default=float))     # the values as a reader gets them (numpy -> float)
    meta[META_HASH] = _meta_hash(meta)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(META_MEMBER, json.dumps(meta, indent=1, default=float))
        z.writestr(MODEL_MEMBER, model)
    return buf.getvalue()


def loads(data: bytes, name: str = "the model file") -> ModelBundle:
    """Read a model file's bytes; ModelFileError (naming ``name``) for anything not ours or altered, and for a
    model that cannot be used under the running scikit-learn (naming both versions)."""
    if data[:1] == b"\x80":
        raise ModelFileError(f"{name} is a Python pickle. Pickles are refused because loading one can run any "
                             "code; train the model with the Mining Eco 'Train model' tool.")
    not_ours = ModelFileError(f"{name} is not a Mining Eco model file (expected a zip archive with {META_MEMBER} "
                              f"and {MODEL_MEMBER}, as written by the 'Train model' tool).")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            members = {i.filename: i for i in z.infolist()}
            if META_MEMBER not in members or MODEL_MEMBER not in members:
                raise not_ours
            _check_sizes(name, z.infolist(), {META_MEMBER: MAX_META_BYTES, MODEL_MEMBER: MAX_MODEL_BYTES},
                         MAX_MEMBERS, "")
            meta = json.loads(z.read(META_MEMBER).decode("utf-8"))
            model = z.read(MODEL_MEMBER)
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError, json.JSONDecodeError, EOFError, ValueError,
            NotImplementedError, RuntimeError, OSError) as err:
        if isinstance(err, ModelFileError):
            raise
        raise not_ours from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{name} is not a Mining Eco model file (format tag missing).")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(f"{name} has model-file format version {meta.get('format_version')}; this plugin "
                             f"reads version {FORMAT_VERSION}. Retrain the model with this version.")
    if hashlib.sha256(model).hexdigest() != meta.get("sha256"):
        raise ModelFileError(f"{name} was altered after it was written (its model does not match the recorded "
                             "checksum). Retrain the model or use the original file.")
    _check_metadata(name, meta)
    features = meta["features"]
    versions = meta.get("versions") or {}
    _check_inner_sizes(name, model)
    sio = _skops()
    try:
        unknown = sorted(set(sio.get_untrusted_types(data=model)) - TRUSTED_TYPES)
    except Exception as err:  # noqa: BLE001 - any parse failure of the inner archive (or a newer skops' format)
        raise _unusable(name, versions, f"its model part cannot be read ({_short(err)})") from None
    if unknown:
        raise ModelFileError(f"{name} contains object types that are not allowed in a model file: "
                             f"{', '.join(unknown)}. It was not loaded.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # scikit-learn's InconsistentVersionWarning: the probe decides
            estimator = sio.loads(model, trusted=sorted(TRUSTED_TYPES))
    except Exception as err:  # noqa: BLE001 - attribute / dtype changes of another scikit-learn, or damage
        raise _unusable(name, versions, f"its model cannot be rebuilt ({_short(err)})") from None
    _check_estimator(name, estimator, features, versions)
    problem = _check_trees(estimator, len(features))
    if problem:
        raise _unusable(name, versions, f"its trees are inconsistent ({problem}); the file is damaged or was "
                                        "made to crash the program, and was not used")
    _check_probe(estimator, meta.get("probe"), len(features), name, versions)
    return ModelBundle(estimator, features, str(meta.get("target") or ""), str(meta.get("units") or ""),
                       str(meta.get("kind") or ""), dict(meta.get("metrics") or {}), dict(meta.get("extra") or {}),
                       dict(versions))


# --------------------------------------------------------------------------- sizes, metadata, model type
def _mb(n) -> str:
    return f"{n / 1024 / 1024:.0f} MB" if n >= 1024 * 1024 else f"{n} bytes"


def _check_sizes(name, infos, caps, max_members, inside):
    """ModelFileError unless the archive's members are few and small enough, from their declared sizes (nothing
    is unpacked): at most ``max_members``; each member at most its cap (``caps[name]``, else the largest cap);
    the total at most the largest cap; no member beyond RATIO_FROM_BYTES unpacking to more than MAX_RATIO times
    its packed size."""
    where = f"{name}{inside}"
    if len(infos) > max_members:
        raise ModelFileError(f"{where} holds {len(infos)} files, more than the {max_members} a model file may hold; "
                             "it was not written by the 'Train model' tool and was not loaded.")
    limit = max(caps.values())
    total = 0
    for info in infos:
        cap = caps.get(info.filename, limit)
        total += info.file_size
        if info.file_size > cap or total > limit:
            raise ModelFileError(
                f"{where}: {info.filename} unpacks to {_mb(info.file_size)}, more than the {_mb(cap)} a model file "
                "may hold (a guard against archives that unpack to gigabytes). It was not loaded. A real model this "
                "large comes from a very large training set: train on fewer samples or with fewer trees.")
        if info.file_size > RATIO_FROM_BYTES and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise ModelFileError(
                f"{where}: {info.filename} would unpack from {_mb(info.compress_size)} to {_mb(info.file_size)} "
                f"(more than {MAX_RATIO} times), which no trained model does: the file was crafted or damaged and "
                "was not loaded.")


def _check_inner_sizes(name, model: bytes):
    """The size caps for the skops archive inside (a zip too); a model part that is no zip is left to skops."""
    try:
        with zipfile.ZipFile(io.BytesIO(model)) as inner:
            infos = inner.infolist()
    except (zipfile.BadZipFile, EOFError, ValueError, OSError):
        return
    _check_sizes(name, infos, {"": MAX_MODEL_BYTES}, MAX_INNER_MEMBERS, f" ({MODEL_MEMBER})")


def _meta_hash(meta: dict) -> str:
    rest = {k: v for k, v in meta.items() if k != META_HASH}
    text = json.dumps(rest, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _version_tuple(text) -> tuple:
    parts = []
    for part in str(text or "").split("."):
        digits = "".join(c for c in part if c.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def _check_metadata(name, meta: dict):
    """ModelFileError for metadata that was edited (checksum) or has values of the wrong type."""
    edited = (f"{name}: its {META_MEMBER} was altered after the file was written ({{}}). Retrain the model or use "
              "the original file.")
    recorded = meta.get(META_HASH)
    versions = meta.get("versions")
    if recorded is None:
        writer = _version_tuple(versions.get("mining-eco")) if isinstance(versions, dict) else ()
        if writer > LAST_VERSION_WITHOUT_META_HASH:
            raise ModelFileError(edited.format(f"its checksum {META_HASH} is missing, which Mining Eco "
                                               f"{'.'.join(map(str, writer))} always writes"))
    elif recorded != _meta_hash(meta):
        raise ModelFileError(edited.format("it does not match its recorded checksum"))
    features = meta.get("features")
    if not isinstance(features, list) or not features or not all(isinstance(f, str) and f.strip() for f in features):
        raise ModelFileError(f"{name} does not list its feature names ({META_MEMBER}: 'features' must be a list of "
                             "names).")
    if len(set(features)) != len(features):
        raise ModelFileError(f"{name} lists a feature name twice ({', '.join(features)}); the file was edited or "
                             "damaged.")
    kinds = {"target": str, "units": str, "kind": str, "sha256": str, "metrics": dict, "extra": dict,
             "versions": dict, "probe": dict}
    for key, kind in kinds.items():
        value = meta.get(key)
        if value is not None and not isinstance(value, kind):
            raise ModelFileError(f"{name}: {META_MEMBER} has a {type(value).__name__} for '{key}' where a "
                                 f"{'text' if kind is str else 'JSON object'} belongs; the file was edited or "
                                 "damaged. Retrain the model or use the original file.")


def _check_estimator(name, estimator, features, versions):
    """ModelFileError unless the rebuilt object is a scikit-learn model taking one input per listed feature."""
    from sklearn.base import BaseEstimator
    if not isinstance(estimator, BaseEstimator) or not callable(getattr(estimator, "predict", None)):
        raise ModelFileError(f"{name} holds a {type(estimator).__name__}, not a fitted scikit-learn model: it was "
                             "not written by the 'Train model' tool or was altered, and was not used.")
    width = getattr(estimator, "n_features_in_", None)
    if isinstance(width, (int, np.integer)) and not isinstance(width, bool) and int(width) != len(features):
        raise ModelFileError(f"{name} lists {len(features)} feature(s) ({', '.join(features)}) but its model takes "
                             f"{int(width)} input(s): {META_MEMBER} was edited or the file is damaged. Retrain the "
                             "model or use the original file.")


# --------------------------------------------------------------------------- another scikit-learn
def _short(err, limit=300) -> str:
    text = f"{type(err).__name__}: {err}"
    return text if len(text) <= limit else text[:limit] + " ..."


def _unusable(name, versions, reason) -> ModelFileError:
    """The refusal of a model that cannot be used here: under another scikit-learn than the file's, naming
    both versions and what to do; else the reason. Both with the other library versions that differ."""
    running = library_versions()
    saved = str(versions.get("scikit-learn") or "unknown")
    differ = [f"{k} {versions[k]}, here {running[k]}" for k in ("numpy", "skops", "xgboost")
              if k in versions and k in running and str(versions[k]) != running[k]]
    also = f" (and with {'; '.join(differ)})" if differ else ""
    if saved != running["scikit-learn"]:
        return ModelFileError(
            f"{name} was saved under scikit-learn {saved}{also} and cannot be used under scikit-learn "
            f"{running['scikit-learn']} (the Python of this QGIS): {reason}. Retrain this model with Mining Eco "
            f"{plugin_version()} under scikit-learn {running['scikit-learn']}.")
    return ModelFileError(f"{name}: {reason}." + (f" It was saved with {'; '.join(differ)}." if differ else ""))


def _minor(version) -> tuple:
    return tuple(str(version).split(".")[:2])


def _check_probe(estimator, probe, n_features, name, versions):
    """The model predicts its probe rows as recorded (PROBE_TOLERANCE). Without a probe (0.5.0 files): refused
    under another scikit-learn minor version than the file's, else it must predict a row of zeros."""
    try:
        X = np.asarray(probe["X"], dtype=np.float64)
        expected = np.asarray(probe["prediction"], dtype=np.float64).ravel()
        if X.ndim != 2 or X.shape[1] != n_features or expected.shape != (X.shape[0],) or not X.size:
            raise ValueError
    except (TypeError, KeyError, ValueError):
        X, expected = np.zeros((1, n_features)), None
        import sklearn
        if _minor(versions.get("scikit-learn")) != _minor(sklearn.__version__):
            # e.g. a stack's PLSR fitted under 1.4 predicts differently under 1.9: nothing to check it against
            raise _unusable(name, versions, "it holds no probe predictions (files of Mining Eco 0.5.0) to check "
                                            "that it predicts under this scikit-learn as it did when saved")
    try:
        got = _predict(estimator, X)
    except Exception as err:  # noqa: BLE001
        raise _unusable(name, versions, f"it cannot predict ({_short(err)})") from None
    if expected is None:
        return
    tol = PROBE_TOLERANCE * max(1.0, float(np.max(np.abs(expected))))
    diff = np.abs(got - expected) if got.shape == expected.shape else np.array([np.inf])
    if not np.all(diff <= tol):     # NaN fails too
        raise _unusable(name, versions, "it predicts its stored probe rows differently than when it was saved "
                                        f"(largest difference {float(np.nanmax(diff)):.3g})")


# --------------------------------------------------------------------------- tree node arrays
def _check_trees(estimator, n_features) -> str:
    """'' when every scikit-learn Tree and histogram-boosting TreePredictor in the estimator is a proper tree:
    children after their parent and inside the tree (so every walk from the root ends at a leaf), split
    features below the input width of every enclosing estimator (``n_features_in_``, and the file's feature
    count), no categorical splits (our models have none); else what is wrong. scikit-learn follows these
    indices without bounds checks when it predicts."""
    from sklearn.tree._tree import Tree
    try:
        from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
    except ImportError:  # pragma: no cover - present in every supported scikit-learn
        TreePredictor = ()
    seen = set()
    stack = [(estimator, int(n_features), 0)]
    while stack:
        obj, width, depth = stack.pop()
        if id(obj) in seen or depth > 100:
            continue
        seen.add(id(obj))
        if isinstance(obj, Tree):
            problem = _tree_problem(obj, width)
        elif isinstance(obj, TreePredictor):
            problem = _predictor_problem(obj.nodes, width)
        else:
            problem = ""
            if isinstance(obj, dict):
                children = list(obj.values())
            elif isinstance(obj, (list, tuple)):
                children = list(obj)
            elif isinstance(obj, np.ndarray):
                children = list(obj.ravel()) if obj.dtype == object else []
            elif hasattr(obj, "__dict__") and not isinstance(obj, type):
                attrs = vars(obj)
                nin = attrs.get("n_features_in_")
                if isinstance(nin, (int, np.integer)) and not isinstance(nin, bool):
                    width = min(width, int(nin))
                children = list(attrs.values())
            else:
                children = []
            stack.extend((c, width, depth + 1) for c in children)
        if problem:
            return problem
    return ""


def _children_problem(left, right, inner, n) -> str:
    idx = np.arange(n)[inner]
    left, right = left[inner], right[inner]
    if np.any(left <= idx) or np.any(right <= idx) or np.any(left >= n) or np.any(right >= n):
        return f"a child index outside the tree of {n} nodes"
    return ""


def _tree_problem(tree, width) -> str:
    n, capacity = int(tree.node_count), int(tree.capacity)
    if not 0 < n <= capacity:
        return f"node count {n} with room for {capacity}"
    left = np.asarray(tree.children_left, dtype=np.int64)
    right = np.asarray(tree.children_right, dtype=np.int64)
    leaf = left == -1
    if np.any((right == -1) != leaf):
        return "a node with one child"
    inner = ~leaf
    feature = np.asarray(tree.feature, dtype=np.int64)[inner]
    if np.any(feature < 0) or np.any(feature >= width):
        return f"a split on feature {int(feature.max()) if feature.size else -1} of {width}"
    return _children_problem(left, right, inner, n)


def _predictor_problem(nodes, width) -> str:
    names = getattr(getattr(nodes, "dtype", None), "names", None) or ()
    if not {"left", "right", "feature_idx", "is_leaf"} <= set(names) or nodes.ndim != 1 or not len(nodes):
        return "boosting tree nodes of an unknown layout"
    n = len(nodes)
    inner = nodes["is_leaf"] == 0
    feature = nodes["feature_idx"].astype(np.int64)[inner]
    if np.any(feature < 0) or np.any(feature >= width):
        return f"a boosting split on feature {int(feature.max()) if feature.size else -1} of {width}"
    if "is_categorical" in names and np.any(nodes["is_categorical"][inner] != 0):
        return "a categorical boosting split"
    return _children_problem(nodes["left"].astype(np.int64), nodes["right"].astype(np.int64), inner, n)
