"""Model files across scikit-learn / numpy / skops versions (issue 10): every model kind the Train model tool
builds is written and loads back under the running versions; files written under other versions
(test/data/modelfiles: me050_* by 0.5.0 under scikit-learn 1.2.1 + skops 0.10, meprobe_* by this version - with
a probe - under 1.4.2 + numpy 2.2 + skops 0.16 and under 1.9.1 + numpy 2.4 + skops 0.16) either load and predict what they predicted when written, or are refused naming the
file's and the running scikit-learn and asking to retrain; crafted tree node arrays are refused before
anything predicts with them. Needs numpy, scikit-learn and skops, not QGIS."""
import glob
import io
import json
import os
import warnings
import zipfile

import numpy as np
import pytest

pytest.importorskip("skops")
import sklearn  # noqa: E402
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor  # noqa: E402

from mining_eco_plugin.core import modelfile as mf  # noqa: E402
from mining_eco_plugin.core import models  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "modelfiles")
#: a fixture that loads must predict its recorded probe rows to this, relative to max(1, largest |prediction|)
#: (the same as modelfile.PROBE_TOLERANCE; seen: 0 on every combination tried)
FIXTURE_TOLERANCE = 1e-6

RNG = np.random.default_rng(5)
X = RNG.random((40, 3))
Y = 3 * X[:, 0] - 2 * X[:, 1] ** 2 + X[:, 2] + RNG.normal(0, 0.05, 40)
FEATURES = ["NDVI", "SI1", "S3"]


def variants():
    backends = ["hist"] + (["xgboost"] if models.boosting_backend() == "xgboost" else [])
    for kind in models.KINDS:
        for backend in (backends if kind in ("boosting", "stacking") else [None]):
            yield pytest.param(kind, backend, id=f"{kind}-{backend}" if backend else kind)


@pytest.mark.parametrize("validation", ["systematic", "kfold"])
@pytest.mark.parametrize("kind,backend", list(variants()))
def test_every_model_kind_is_written_and_loads_back(kind, backend, validation):
    result = models.train(kind, X, Y, validation=validation, backend=backend)
    bundle = mf.ModelBundle(result.estimator, FEATURES, "salinity", "g/kg", kind, {}, probe=X)
    data = mf.dumps(bundle)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        meta = json.loads(z.read(mf.META_MEMBER))
    assert len(meta["probe"]["X"]) == mf.PROBE_ROWS and meta["versions"]["scikit-learn"] == sklearn.__version__
    back = mf.loads(data, f"{kind}.model")
    np.testing.assert_array_equal(models.predict(back.estimator, X), models.predict(result.estimator, X))
    assert back.kind == kind and back.features == FEATURES


def fixture_files():
    return sorted(glob.glob(os.path.join(FIXTURES, "*.model")))


def test_fixtures_are_there():
    names = {os.path.basename(p) for p in fixture_files()}
    assert {"me050_sk1.2.1_rf.model", "me050_sk1.2.1_stacking.model"} <= names
    assert any(n.startswith("meprobe_sk1.4") for n in names) and len(names) >= 6


@pytest.mark.parametrize("path", fixture_files(), ids=os.path.basename)
def test_a_file_from_another_version_predicts_as_recorded_or_is_refused_naming_both_versions(path):
    with open(path[:-len(".model")] + ".json", encoding="utf-8") as fh:
        side = json.load(fh)
    saved, running = side["versions"]["scikit-learn"], sklearn.__version__
    name = os.path.basename(path)
    with open(path, "rb") as fh:
        data = fh.read()
    try:
        bundle = mf.loads(data, name)
    except mf.ModelFileError as err:
        # refused: only under another scikit-learn, saying which and what to do
        message = str(err)
        assert saved != running, message       # under the scikit-learn it was saved with, a file always loads
        assert f"saved under scikit-learn {saved}" in message and f"under scikit-learn {running}" in message
        assert f"Retrain this model with Mining Eco {mf.plugin_version()} under scikit-learn {running}" in message
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = models.predict(bundle.estimator, side["X"])
    expected = np.asarray(side["prediction"])
    tol = FIXTURE_TOLERANCE * max(1.0, np.max(np.abs(expected)))
    np.testing.assert_allclose(got, expected, rtol=0, atol=tol)
    assert bundle.features == ["NDVI", "SI1", "S3"] and bundle.units == "g/kg"


def test_files_of_0_5_0_load_under_scikit_learn_1_2_else_are_refused_naming_both_versions():
    # Debian 12 / QGIS 3.22, where 0.5.0 wrote them, loads them; under 1.4 and 1.9 they are refused: the Tree
    # node layout changed in 1.3, and they hold no probe predictions to check another scikit-learn against
    for kind in ("rf", "stacking"):
        with open(os.path.join(FIXTURES, f"me050_sk1.2.1_{kind}.model"), "rb") as fh:
            data = fh.read()
        if sklearn.__version__.startswith("1.2."):
            mf.loads(data)
        else:
            with pytest.raises(mf.ModelFileError) as err:
                mf.loads(data)
            assert "1.2.1" in str(err.value) and sklearn.__version__ in str(err.value)
            assert "retrain this model" in str(err.value).lower()


def rewrite(data, **changes):
    """The file with its metadata changed and its metadata checksum made again: a file as it would have been
    written with that metadata (e.g. under another scikit-learn)."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        meta, model = json.loads(z.read(mf.META_MEMBER)), z.read(mf.MODEL_MEMBER)
    for key, value in changes.items():
        meta[key] = value
    if mf.META_HASH in meta:
        meta[mf.META_HASH] = mf._meta_hash(meta)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(mf.META_MEMBER, json.dumps(meta))
        z.writestr(mf.MODEL_MEMBER, model)
    return buf.getvalue()


def small_rf():
    return RandomForestRegressor(5, random_state=0).fit(X, Y)


def test_a_model_predicting_differently_is_refused_naming_both_versions():
    data = mf.dumps(mf.ModelBundle(small_rf(), FEATURES, "salinity", probe=X))
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        probe = json.loads(z.read(mf.META_MEMBER))["probe"]
    probe["prediction"] = [p + 0.5 for p in probe["prediction"]]
    versions = dict(mf.library_versions(), **{"scikit-learn": "0.99.0"})
    with pytest.raises(mf.ModelFileError) as err:
        mf.loads(rewrite(data, probe=probe, versions=versions), "old.model")
    message = str(err.value)
    assert "old.model was saved under scikit-learn 0.99.0" in message and "predicts" in message
    assert f"Retrain this model with Mining Eco {mf.plugin_version()} under scikit-learn {sklearn.__version__}" \
        in message
    # the same under the same scikit-learn: refused, without the advice to retrain under another version
    with pytest.raises(mf.ModelFileError, match="differently than when it was saved") as err:
        mf.loads(rewrite(data, probe=probe), "same.model")
    assert "Retrain this model with" not in str(err.value)
    # predictions within the tolerance are accepted
    probe["prediction"] = [p * (1 + mf.PROBE_TOLERANCE / 10) for p in json.loads(
        zipfile.ZipFile(io.BytesIO(data)).read(mf.META_MEMBER))["probe"]["prediction"]]
    mf.loads(rewrite(data, probe=probe, versions=versions))


def other_version(data):
    """The file claiming to be saved under another scikit-learn (and numpy, skops) than the running one."""
    saved = "1.1.3" if sklearn.__version__.startswith("1.2.") else "1.2.1"
    return rewrite(data, versions={"scikit-learn": saved, "numpy": "1.21.0", "skops": "0.9.0"}), saved


def test_a_model_that_cannot_be_rebuilt_or_predict_is_refused_naming_both_versions(monkeypatch):
    import skops.io as sio
    data, saved = other_version(mf.dumps(mf.ModelBundle(small_rf(), FEATURES, "salinity", probe=X)))
    advice = f"Retrain this model with Mining Eco {mf.plugin_version()} under scikit-learn {sklearn.__version__}."

    def attribute_changed(*args, **kwargs):
        raise AttributeError("'Tree' object has no attribute 'missing_go_to_left'")
    with monkeypatch.context() as m:
        m.setattr(sio, "loads", attribute_changed)
        with pytest.raises(mf.ModelFileError, match="cannot be rebuilt") as err:
            mf.loads(data, "rf.model")
    message = str(err.value)
    assert f"rf.model was saved under scikit-learn {saved} (and with numpy 1.21.0, here {np.__version__}; " \
           f"skops 0.9.0, here " in message and f"cannot be used under scikit-learn {sklearn.__version__}" in message
    assert "missing_go_to_left" in message and message.endswith(advice)

    def dtype_changed(self, X):
        raise ValueError("Buffer dtype mismatch")
    with monkeypatch.context() as m:
        m.setattr(RandomForestRegressor, "predict", dtype_changed)
        with pytest.raises(mf.ModelFileError, match="cannot predict") as err:
            mf.loads(data, "rf.model")
    assert str(err.value).endswith(advice)


def test_a_file_without_probe_is_refused_under_another_scikit_learn_only():
    data = mf.dumps(mf.ModelBundle(small_rf(), FEATURES, "salinity"))      # as 0.5.0 wrote them
    mf.loads(data)
    old, saved = other_version(data)
    with pytest.raises(mf.ModelFileError, match="holds no probe predictions") as err:
        mf.loads(old, "old.model")
    assert f"saved under scikit-learn {saved}" in str(err.value) and "Retrain this model" in str(err.value)
    # another patch release of the same scikit-learn: loads (it must predict a row of zeros)
    major, minor = sklearn.__version__.split(".")[:2]
    mf.loads(rewrite(data, versions={"scikit-learn": f"{major}.{minor}.99"}))


def crafted_forest(field, value):
    est = RandomForestRegressor(3, random_state=0).fit(X, Y)
    tree = est.estimators_[1].tree_
    state = tree.__getstate__()
    nodes = state["nodes"].copy()
    nodes[field][0] = value                            # node 0 is the root: an internal node
    state["nodes"] = nodes
    try:
        tree.__setstate__(state)
    except ValueError:
        pytest.skip("this scikit-learn refuses such a tree itself")
    return est


def crafted_boosting(field, value):
    est = HistGradientBoostingRegressor(max_iter=5).fit(X, Y)
    est._predictors[2][0].nodes[field][0] = value
    return est


@pytest.mark.parametrize("make,field,value", [
    (crafted_forest, "left_child", 10 ** 6), (crafted_forest, "right_child", 0), (crafted_forest, "feature", 50),
    (crafted_forest, "feature", -7), (crafted_boosting, "left", 10 ** 6), (crafted_boosting, "right", 0),
    (crafted_boosting, "feature_idx", 3),
], ids=["rf-child-outside", "rf-child-cycle", "rf-feature-50", "rf-feature-negative", "hgb-child-outside",
        "hgb-child-cycle", "hgb-feature-3-of-3"])
def test_crafted_tree_node_arrays_are_refused_before_predicting(make, field, value):
    # predicting with such a tree reads outside its arrays (crash); nothing here predicts with it
    data = mf.dumps(mf.ModelBundle(make(field, value), FEATURES, "salinity"))
    with pytest.raises(mf.ModelFileError, match="trees are inconsistent") as err:
        mf.loads(data, "crafted.model")
    assert "crafted.model" in str(err.value)


def test_a_feature_index_within_the_trees_but_beyond_the_files_features_is_refused():
    # the forest is fitted on 3 columns; a file claiming 2 features would feed it 2: refused (it would not
    # predict anyway: scikit-learn checks the width first), by the model's input width (issue 11) before the
    # tree check would see it
    data = mf.dumps(mf.ModelBundle(small_rf(), ["NDVI", "SI1"], "salinity"))
    with pytest.raises(mf.ModelFileError, match="lists 2 feature.*takes 3 input"):
        mf.loads(data)
    est = small_rf()
    del est.n_features_in_              # without the width, the tree check still sees it
    with pytest.raises(mf.ModelFileError, match="trees are inconsistent"):
        mf.loads(mf.dumps(mf.ModelBundle(est, ["NDVI", "SI1"], "salinity")))


def test_the_allow_list_is_what_the_models_need_here():
    # scripts/skops_untrusted_types.py: what skops does not trust in our models must all be allowed
    import subprocess
    import sys
    script = os.path.join(os.path.dirname(FIXTURES), "..", "..", "scripts", "skops_untrusted_types.py")
    out = subprocess.run([sys.executable, script, "--json"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    found = json.loads(out.stdout)
    assert found["missing"] == [] and set(found["union"]) <= mf.TRUSTED_TYPES
    assert "sklearn.neural_network._stochastic_optimizers.SGDOptimizer" not in mf.TRUSTED_TYPES   # not used
