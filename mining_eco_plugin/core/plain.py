"""Plain Python values for everything that leaves the plugin as text or as a Processing output, and text
that spreadsheets open safely (:func:`spreadsheet_safe`).

numpy scalars are not plain numbers to their readers: ``qgis_process`` prints an output holding a
``numpy.float64`` as empty (also in ``--json``), and numpy >= 2 writes ``repr(np.float64(1.5))`` as
``np.float64(1.5)``, which then leaks into messages and files built with ``!r`` or from containers.
"""
from __future__ import annotations

import re

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


#: First characters that make a spreadsheet read a CSV cell as a formula (OWASP "CSV Injection": = + - @, tab,
#: carriage return; and their full-width forms, which some spreadsheets normalise).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def spreadsheet_safe(value):
    """``value`` made safe for a CSV cell that a spreadsheet opens (OWASP "CSV Injection"): text starting (after
    blanks) with a formula trigger (:data:`FORMULA_TRIGGERS`) gets a leading single quote, so that
    ``=HYPERLINK(...)``, ``@SUM(A1)``, ``+3+4`` or ``-2+3`` are shown as text instead of being evaluated.
    Numbers, and text that is a plain number such as ``-5`` or ``+1.5e3`` (a spreadsheet reads it as that
    number, nothing else), are returned unchanged, as is anything that is not text."""
    if not isinstance(value, str):
        return value
    head = value.lstrip(" ")
    if not head.startswith(FORMULA_TRIGGERS) or _PLAIN_NUMBER.fullmatch(value.strip()):
        return value
    return "'" + value
