"""core.plain: numpy scalars become Python numbers, so outputs print in qgis_process and text never shows
numpy 2's ``np.float64(...)`` repr (issue 10, failure 3). Reference: Python's own types and repr."""
import numpy as np

from mining_eco_plugin.core.plain import plain


def test_scalars_become_python_values():
    for value, kind in ((np.float64(644370.75), float), (np.float32(0.5), float), (np.int64(-3), int),
                        (np.uint8(7), int), (np.bool_(True), bool), (np.str_("a"), str)):
        out = plain(value)
        assert type(out) is kind and out == value
    assert repr(plain(np.float64(644370.75))) == "644370.75"


def test_containers_recursively_and_other_values_unchanged():
    nested = {"a": [np.float64(1.5), (np.int32(2), "x")], np.int64(3): {"b": np.bool_(False)}, "c": None}
    out = plain(nested)
    assert out == {"a": [1.5, (2, "x")], 3: {"b": False}, "c": None}
    assert "np." not in repr(out) and type(out["a"][1]) is tuple
    arr = np.arange(3)
    assert plain(arr) is arr   # arrays are not outputs: left as they are
