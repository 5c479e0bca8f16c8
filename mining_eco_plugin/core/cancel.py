"""Cancel inside long scikit-learn fits (issue 11, defect 4: a 10-million-tree forest ran for ten minutes
ignoring cancel; stacking + comparison + search took 135 s to stop).

A fit started inside ``cancel_check(is_cancelled)`` polls ``is_cancelled()`` at checkpoints and raises
``Cancelled`` when it returns True:

* random forests grow in chunks (``warm_start``), with a checkpoint before each chunk; a chunk holds about
  ``CHUNK_SECONDS`` of work (its size adapts to the measured time per tree);
* MLPs reach a checkpoint after every epoch (scikit-learn's end-of-epoch bookkeeping,
  ``_update_no_improvement_count``);
* both reach one when their fit starts, so a hyperparameter search stops at its next candidate, a
  cross-validation or a stacking at its next fold.

The fitting classes are subclasses that change no parameter and no fitted attribute: ``cancel_aware``
turns the estimators of an unfitted model into them (so scikit-learn's ``clone`` inside searches,
stackings and cross-validation makes more of them), ``plain`` turns a fitted model back into scikit-learn's
own classes (what model files store and the tests compare). A forest grown in chunks is the forest of one
fit: scikit-learn draws the random state of each new tree from the seed as a single fit does ("We draw from
the random state to get the random state we would have got if we hadn't used a warm_start", in
``BaseForest.fit``); its out-of-bag score is computed once, after the last chunk, on all trees.
test/unit/test_cancel_and_limits.py checks that the trees, predictions and OOB scores are identical.

``Cancelled`` derives from BaseException, not Exception: scikit-learn's search records a candidate whose fit
raised an Exception as failed (``error_score``) and goes on with the next; a cancel must stop it.
Pure Python / scikit-learn (imported only when a fit needs it); no QGIS.
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager

#: seconds of tree building between two cancel checkpoints of a forest (the first chunk has FIRST_CHUNK trees)
CHUNK_SECONDS = 0.5
FIRST_CHUNK = 8
MAX_CHUNK = 2000

_state = threading.local()


class Cancelled(BaseException):
    """The user cancelled the run during a fit (see the module docstring for why a BaseException)."""


@contextmanager
def cancel_check(is_cancelled):
    """Fits in this thread inside the block poll ``is_cancelled()`` (None: never cancelled)."""
    previous = getattr(_state, "check", None)
    _state.check = is_cancelled
    try:
        yield
    finally:
        _state.check = previous


def checkpoint():
    """Raise Cancelled when the check of the enclosing ``cancel_check`` says so."""
    check = getattr(_state, "check", None)
    if check is not None and check():
        raise Cancelled()


def active() -> bool:
    return getattr(_state, "check", None) is not None


_CLASSES = {}


def _classes() -> dict:
    """{scikit-learn class: its cancel-aware subclass}, made on first use (scikit-learn imported lazily)."""
    if _CLASSES:
        return _CLASSES
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.neural_network import MLPRegressor

    class ChunkedRandomForestRegressor(RandomForestRegressor):
        """RandomForestRegressor grown in chunks with a cancel checkpoint before each (same trees)."""

        def fit(self, X, y, sample_weight=None):
            checkpoint()
            if not active() or self.warm_start:
                return super().fit(X, y, sample_weight)
            total, oob = self.n_estimators, self.oob_score
            if hasattr(self, "estimators_"):
                del self.estimators_            # a new forest, as fit without warm_start starts one
            chunk, grown = FIRST_CHUNK, 0
            try:
                self.warm_start = True
                while grown < total:
                    checkpoint()
                    target = min(total, grown + chunk)
                    self.n_estimators, self.oob_score = target, oob if target == total else False
                    started = time.monotonic()
                    super().fit(X, y, sample_weight)
                    per_tree = (time.monotonic() - started) / (target - grown)
                    chunk = int(max(1, min(MAX_CHUNK, CHUNK_SECONDS / per_tree if per_tree > 0 else MAX_CHUNK)))
                    grown = target
            finally:
                self.n_estimators, self.oob_score, self.warm_start = total, oob, False
            return self

    class CancelAwareMLPRegressor(MLPRegressor):
        """MLPRegressor with a cancel checkpoint when it starts and after every epoch."""

        def fit(self, X, y, *args, **kwargs):
            checkpoint()
            return super().fit(X, y, *args, **kwargs)

        def _update_no_improvement_count(self, *args, **kwargs):
            checkpoint()
            return super()._update_no_improvement_count(*args, **kwargs)

    _CLASSES.update({RandomForestRegressor: ChunkedRandomForestRegressor, MLPRegressor: CancelAwareMLPRegressor})
    return _CLASSES


def _walk(obj, visit, depth=0, seen=None):
    """Call ``visit(o)`` on ``obj`` and every object reachable through attributes, lists, tuples and dicts
    (numpy arrays and classes are not entered)."""
    seen = set() if seen is None else seen
    if id(obj) in seen or depth > 50:
        return
    seen.add(id(obj))
    visit(obj)
    if isinstance(obj, dict):
        children = list(obj.values())
    elif isinstance(obj, (list, tuple)):
        children = list(obj)
    elif hasattr(obj, "__dict__") and not isinstance(obj, type) and type(obj).__module__.split(".")[0] in (
            "sklearn", "mining_eco_plugin"):
        children = list(vars(obj).values())
    else:
        children = []
    for child in children:
        _walk(child, visit, depth + 1, seen)


def _reclass(estimator, classes):
    """``estimator`` with every object of a class in ``classes`` (old -> new) given the new class, in place."""
    def visit(obj):
        cls = classes.get(type(obj))
        if cls is not None:
            obj.__class__ = cls
    _walk(estimator, visit)
    return estimator


def cancel_aware(estimator):
    """The unfitted ``estimator`` with its random forests and MLPs (also inside pipelines, stackings, searches)
    made cancel-aware, in place; returned for convenience."""
    return _reclass(estimator, _classes())


def plain(estimator):
    """The (fitted) ``estimator`` with every cancel-aware class turned back into scikit-learn's own, in place."""
    return _reclass(estimator, {v: k for k, v in _classes().items()})


# -- cancel inside the blocks of a raster pass ---------------------------------------------------------------------
_FLAGS: dict = {}
_FLAGS_LOCK = threading.Lock()


class CancelFlag:
    """A picklable ``is_cancelled`` for the blocks of a raster pass (raster/executor.py): in the process that
    made it (inside :func:`cancel_flag`) it asks the run's ``is_cancelled``, e.g. a Processing feedback's, from any
    thread; in another process (a dask worker) it is never set, and the executor cancels between blocks there."""

    def __init__(self, token: str):
        self.token = token

    def __call__(self) -> bool:
        check = _FLAGS.get(self.token)
        return bool(check is not None and check())


@contextmanager
def cancel_flag(is_cancelled):
    """A :class:`CancelFlag` asking ``is_cancelled`` while the block runs."""
    import uuid
    token = uuid.uuid4().hex
    with _FLAGS_LOCK:
        _FLAGS[token] = is_cancelled
    try:
        yield CancelFlag(token)
    finally:
        with _FLAGS_LOCK:
            _FLAGS.pop(token, None)
