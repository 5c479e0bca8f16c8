"""Model files load without running code: round trip of real estimators, and refusal (ModelFileError,
nothing executed, nothing built) of pickles, foreign files, altered files and disallowed types."""
import io
import os
import pickle
import zipfile

import numpy as np
import pytest

pytest.importorskip("skops")
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor, StackingRegressor  # noqa: E402
from sklearn.cross_decomposition import PLSRegression  # noqa: E402
from sklearn.neural_network import MLPRegressor  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer, StandardScaler  # noqa: E402
from sklearn.svm import SVR  # noqa: E402

from mining_eco_plugin.core import modelfile as mf  # noqa: E402

RNG = np.random.default_rng(3)
X = RNG.random((80, 4))
Y = X @ np.array([1.0, -2.0, 0.5, 3.0]) + RNG.normal(0, 0.05, 80)


def bundle(est):
    return mf.ModelBundle(est.fit(X, Y), ["NDVI", "SI1", "S3", "CRSI"], "salinity", "g/kg", "test",
                          {"validation": {"r2": 0.9}})


@pytest.mark.parametrize("est", [
    RandomForestRegressor(20, random_state=42),
    make_pipeline(StandardScaler(), SVR(C=10, gamma=0.1)),
    make_pipeline(StandardScaler(), MLPRegressor(hidden_layer_sizes=(8,), max_iter=2000, random_state=42)),
    HistGradientBoostingRegressor(max_iter=30),
    StackingRegressor([("rf", RandomForestRegressor(10, random_state=0)),
                       ("gb", HistGradientBoostingRegressor(max_iter=20))], final_estimator=PLSRegression(1), cv=5),
], ids=["rf", "svr", "mlp", "hgb", "stacking"])
def test_round_trip_predicts_the_same(est):
    b = bundle(est)
    back = mf.loads(mf.dumps(b))
    np.testing.assert_array_equal(np.ravel(back.estimator.predict(X)), np.ravel(b.estimator.predict(X)))
    assert back.features == ["NDVI", "SI1", "S3", "CRSI"] and back.target == "salinity" and back.units == "g/kg"
    assert back.metrics == {"validation": {"r2": 0.9}} and "scikit-learn" in back.versions


class _Evil:
    def __reduce__(self):
        return (open, ("/tmp/mining_eco_pwned", "w"))


def test_a_pickle_is_refused_and_never_run(tmp_path):
    marker = "/tmp/mining_eco_pwned"
    if os.path.exists(marker):
        os.remove(marker)
    payload = pickle.dumps(_Evil())
    with pytest.raises(mf.ModelFileError, match="pickle"):
        mf.loads(payload, "evil.pkl")
    assert not os.path.exists(marker)
    # the same pickle hidden inside an archive of the right shape is not unpickled either
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(mf.META_MEMBER, '{"format": "mining-eco-model", "format_version": 1, "sha256": "x"}')
        z.writestr(mf.MODEL_MEMBER, payload)
    with pytest.raises(mf.ModelFileError, match="altered"):
        mf.loads(buf.getvalue())
    assert not os.path.exists(marker)


def test_foreign_and_altered_files_are_refused():
    with pytest.raises(mf.ModelFileError, match="not a Mining Eco model file"):
        mf.loads(b"GIF89a not a model")
    data = mf.dumps(bundle(RandomForestRegressor(5, random_state=1)))
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        meta, model = z.read(mf.META_MEMBER), bytearray(z.read(mf.MODEL_MEMBER))
    model[len(model) // 2] ^= 0xFF
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(mf.META_MEMBER, meta)
        z.writestr(mf.MODEL_MEMBER, bytes(model))
    with pytest.raises(mf.ModelFileError, match="altered"):
        mf.loads(buf.getvalue(), "salinity_rf.model")


def test_a_model_with_a_disallowed_type_is_not_loaded():
    # a transformer that would call os.system: skops stores the function by name; we refuse the type
    est = make_pipeline(FunctionTransformer(os.system), RandomForestRegressor(3))
    b = mf.ModelBundle(est, ["A"], "y")
    data = mf.dumps(b)
    with pytest.raises(mf.ModelFileError, match="not allowed") as err:
        mf.loads(data, "odd.model")
    assert "system" in str(err.value)
