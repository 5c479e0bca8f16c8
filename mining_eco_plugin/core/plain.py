"""Plain Python values for everything that leaves the plugin as text or as a Processing output.

numpy scalars are not plain numbers to their readers: ``qgis_process`` prints an output holding a
``numpy.float64`` as empty (also in ``--json``), and numpy >= 2 writes ``repr(np.float64(1.5))`` as
``np.float64(1.5)``, which then leaks into messages and files built with ``!r`` or from containers.
"""
from __future__ import annotations

import numpy as np


def plain(value):
    """``value`` with every numpy scalar (recursively inside dicts, lists and tuples) turned into the
    Python int / float / bool / str it holds; anything else is returned as it is."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    return value
