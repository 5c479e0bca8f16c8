"""Issue 11 in core/: cancel inside fits without changing results (defect 4), model-file size caps and the
metadata checksum (defect 3), and the shared checks behind the clearer messages (defect 13)."""
import hashlib
import io
import json
import struct
import threading
import time
import zipfile

import numpy as np
import pytest
from sklearn.ensemble import RandomForestRegressor

from mining_eco_plugin.core import cancel as cancelling
from mining_eco_plugin.core import checks
from mining_eco_plugin.core import models
from mining_eco_plugin.core import rf_contribution as rc

RNG = np.random.default_rng(21)
X = RNG.random((150, 5))
Y = X @ np.array([2.0, -1.0, 0.5, 3.0, 0.0]) + np.sin(5 * X[:, 1]) + RNG.normal(0, 0.1, 150)


def never():
    return False


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of a few trees (so that a forest of 50 trees grows in many chunks of changing sizes)."""
    monkeypatch.setattr(cancelling, "FIRST_CHUNK", 3)
    monkeypatch.setattr(cancelling, "CHUNK_SECONDS", 0.004)


def same_forest(a, b):
    assert type(a) is type(b) is RandomForestRegressor
    assert a.get_params() == b.get_params() and len(a.estimators_) == len(b.estimators_)
    for ta, tb in zip(a.estimators_, b.estimators_):
        assert ta.random_state == tb.random_state
        for field in ("feature", "threshold", "children_left", "children_right", "value", "n_node_samples"):
            np.testing.assert_array_equal(getattr(ta.tree_, field), getattr(tb.tree_, field))
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    if a.oob_score:
        assert a.oob_score_ == b.oob_score_
        np.testing.assert_array_equal(a.oob_prediction_, b.oob_prediction_)


@pytest.mark.parametrize("trees,oob,max_features,seed", [(50, True, 1 / 3, 42), (50, False, 1.0, 7), (1, True, 1.0, 0),
                                                         (37, True, "sqrt", 123456)])
def test_a_forest_grown_in_chunks_is_the_forest_of_one_fit(small_chunks, trees, oob, max_features, seed):
    one = RandomForestRegressor(trees, oob_score=oob, max_features=max_features, random_state=seed).fit(X, Y)
    chunked = cancelling.cancel_aware(RandomForestRegressor(trees, oob_score=oob, max_features=max_features,
                                                            random_state=seed))
    with cancelling.cancel_check(never):
        chunked.fit(X, Y)
        chunked.fit(X, Y)                   # a second fit starts a new forest, as without chunks
    same_forest(one, cancelling.plain(chunked))


@pytest.mark.parametrize("kind,validation,budget", [("rf", "systematic", 0), ("rf", "kfold", 0), ("mlp", "random", 0),
                                                    ("stacking", "systematic", 0), ("rf", "systematic", 3)])
def test_training_with_a_cancel_check_gives_the_results_without_it(small_chunks, kind, validation, budget):
    plain = models.train(kind, X, Y, validation=validation, budget=budget, backend="hist")
    checked = models.train(kind, X, Y, validation=validation, budget=budget, backend="hist", cancel=never)
    assert plain.rows == checked.rows and plain.params == checked.params
    np.testing.assert_array_equal(models.predict(plain.estimator, X), models.predict(checked.estimator, X))
    # what model files store: scikit-learn's own classes, no cancel-aware subclass left anywhere
    left = []
    cancelling._walk(checked.estimator, lambda o: left.append(type(o)) if type(o).__module__ == cancelling.__name__
                     else None)
    assert not left


def test_rf_contributions_with_a_cancel_check_are_the_same(small_chunks):
    names = ["a", "b", "c", "d", "e"]
    spec = "a=x, b=x, c=y, d=y, e=z"
    plain = rc.rf_contributions(X, Y, names, spec, n_estimators=40, n_repeats=3)
    checked = rc.rf_contributions(X, Y, names, spec, n_estimators=40, n_repeats=3, cancel=never)
    for field in ("score_without", "act_con", "rel_con", "importance", "importance_pct"):
        np.testing.assert_array_equal(getattr(plain, field), getattr(checked, field))
    assert type(checked.models["__all__"]) is RandomForestRegressor


def _cancel_after(seconds):
    flag = threading.Event()
    timer = threading.Timer(seconds, flag.set)
    timer.start()
    return flag, timer


def test_a_forest_of_ten_million_trees_stops_within_seconds_of_cancel():
    # core has no maximum (the tool's N_TREES has): before, the fit ignored cancel for 10+ minutes
    flag, timer = _cancel_after(1.0)
    started = time.monotonic()
    with pytest.raises(cancelling.Cancelled):
        rc.rf_contributions(X, Y, ["a", "b", "c", "d", "e"], "a=x, b=x, c=y, d=y, e=z", n_estimators=10 ** 7,
                            cancel=flag.is_set)
    timer.cancel()
    assert time.monotonic() - started < 6


@pytest.mark.parametrize("kind", ["stacking", "rf", "mlp"])
def test_a_search_stops_within_seconds_of_cancel(kind):
    # a search of 500 candidates x 5 folds (stacking: about 5 minutes here) checked cancel only at its end
    flag, timer = _cancel_after(1.0)
    started = time.monotonic()
    with pytest.raises(cancelling.Cancelled):
        models.train(kind, X, Y, validation="kfold", budget=500, backend="hist", cancel=flag.is_set)
    timer.cancel()
    assert time.monotonic() - started < 6


def test_cancelled_is_not_swallowed_by_a_search_as_a_failed_candidate():
    # RandomizedSearchCV records a candidate whose fit raised an Exception and goes on: Cancelled is no Exception
    assert not issubclass(cancelling.Cancelled, Exception)


# ------------------------------------------------------------------------------- model files
mf = pytest.importorskip("mining_eco_plugin.core.modelfile")
pytest.importorskip("skops")


def model_bytes():
    est = RandomForestRegressor(5, random_state=0).fit(X, Y)
    return mf.dumps(mf.ModelBundle(est, list("abcde"), "salt", probe=X))


def test_new_files_carry_a_checksum_of_their_metadata():
    with zipfile.ZipFile(io.BytesIO(model_bytes())) as z:
        meta = json.loads(z.read(mf.META_MEMBER))
    assert meta[mf.META_HASH] == mf._meta_hash(meta)


def _with_declared_size(data: bytes, member: str, size: int) -> bytes:
    """The archive with the unpacked size of ``member`` in its central directory set to ``size`` (what a bomb
    declares), nothing else changed."""
    buf = bytearray(data)
    start = 0
    name = member.encode()
    while True:
        start = buf.index(b"PK\x01\x02", start)
        name_len = struct.unpack_from("<H", buf, start + 28)[0]
        if bytes(buf[start + 46:start + 46 + name_len]) == name:
            struct.pack_into("<I", buf, start + 24, size)
            return bytes(buf)
        start += 4


@pytest.mark.parametrize("member,size", [(mf.MODEL_MEMBER, 3 * 1024 ** 3), (mf.META_MEMBER, 100 * 1024 ** 2)])
def test_a_member_declaring_gigabytes_is_refused_before_it_is_unpacked(member, size):
    bad = _with_declared_size(model_bytes(), member, size)
    started = time.monotonic()
    with pytest.raises(mf.ModelFileError, match="unpacks to .* more than"):
        mf.loads(bad, "bomb.model")
    assert time.monotonic() - started < 1


def test_a_bomb_inside_the_skops_archive_is_refused():
    with zipfile.ZipFile(io.BytesIO(model_bytes())) as z:
        meta = json.loads(z.read(mf.META_MEMBER))
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("schema.json", "{}")
        z.writestr("array.npy", bytes(30 * 1024 * 1024))       # packs 1000 : 1
    part = inner.getvalue()
    meta["sha256"] = hashlib.sha256(part).hexdigest()
    meta[mf.META_HASH] = mf._meta_hash(meta)
    outer = io.BytesIO()
    with zipfile.ZipFile(outer, "w") as z:
        z.writestr(mf.META_MEMBER, json.dumps(meta))
        z.writestr(mf.MODEL_MEMBER, part)
    with pytest.raises(mf.ModelFileError, match=r"bomb.model \(model.skops\): array.npy would unpack"):
        mf.loads(outer.getvalue(), "bomb.model")


def _rewritten(data, edit, rehash):
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        meta, part = json.loads(z.read(mf.META_MEMBER)), z.read(mf.MODEL_MEMBER)
    edit(meta)
    if rehash:
        meta[mf.META_HASH] = mf._meta_hash(meta)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(mf.META_MEMBER, json.dumps(meta))
        z.writestr(mf.MODEL_MEMBER, part)
    return buf.getvalue()


def test_a_file_of_a_newer_version_without_metadata_checksum_is_refused_one_of_0_6_0_loads():
    def strip(version):
        def edit(meta):
            meta.pop(mf.META_HASH)
            meta["versions"]["mining-eco"] = version
        return edit
    mf.loads(_rewritten(model_bytes(), strip("0.6.0"), False))
    mf.loads(_rewritten(model_bytes(), strip("0.5.0"), False))
    with pytest.raises(mf.ModelFileError, match="metadata_sha256 is missing"):
        mf.loads(_rewritten(model_bytes(), strip("0.7.0"), False))


def test_renamed_features_are_refused_as_altered():
    def rename(meta):
        meta["features"] = ["e", "d", "c", "b", "a"]
    with pytest.raises(mf.ModelFileError, match="metadata.json was altered"):
        mf.loads(_rewritten(model_bytes(), rename, False), "renamed.model")


# ------------------------------------------------------------------------------- shared checks
def test_listing_shows_the_first_few_and_the_count():
    assert checks.listing([1, 2, 3]) == "1, 2, 3"
    text = checks.listing(range(1001, 2001), noun="codes")
    assert text.startswith("1001, 1002") and text.endswith("(1000 codes in all)") and "1011" not in text


@pytest.mark.parametrize("values,index,words", [([1.0, np.nan], 1, "empty"), ([np.inf, 1.0], 0, "infinite"),
                                                ([1.0, 2.0, 1e300], 2, "too large")])
def test_bad_value_finds_the_first_unusable_value(values, index, words):
    i, what = checks.bad_value(values)
    assert i == index and words in what
    assert checks.bad_value([1.0, -1e29]) is None


def test_plsr_refuses_constant_and_dependent_predictors_by_name():
    Xc = np.column_stack([X[:, 0], np.ones(len(X))])
    with pytest.raises(ValueError, match="predictor field.*flat.*constant"):
        models.check_plsr_predictors(Xc, ["ndvi", "flat"])
    Xd = np.column_stack([X[:, 0], 2 * X[:, 0]])
    with pytest.raises(ValueError, match="ndvi, twice.*linearly dependent"):
        models.check_plsr_predictors(Xd, ["ndvi", "twice"])
    # constant on the training part of one k-fold split only: that fold's PLSR would be the wild one
    _train, test = next(iter(models.kfold(5, models.SEED).split(X)))
    mostly_one = np.ones(len(X))
    mostly_one[test] = np.arange(len(test))
    with pytest.raises(ValueError, match="mostly_one.*constant on the training samples of fold 1 of 5"):
        models.train("plsr", np.column_stack([X[:, 0], mostly_one]), Y, validation="kfold", folds=5,
                     names=["ndvi", "mostly_one"])
