"""Clashes between native libraries in the QGIS process that would crash it (no QGIS import).

scikit-learn's SVR trains with libsvm, whose ``svm_train`` calls a function named ``set_seed`` that
scikit-learn's ``_libsvm`` module exports. On Debian sid (QGIS 3.44, scikit-learn 1.9) the libminizip
that QGIS links also exports a ``set_seed``; in ``qgis_process`` and the QGIS desktop, libminizip is in the
process's global symbol scope, so libsvm's call lands in libminizip and the process dies with a
segmentation fault (seen in ``qgis_process run miningeco:trainmodel MODEL=1``). In a plain Python process
(pytest, the Python console of another application) QGIS's libraries are loaded locally and nothing
clashes. ``libsvm_clash`` finds the clash before anything is trained, so the tool can refuse clearly.
"""
from __future__ import annotations

import ctypes
import os
import sys


class _DlInfo(ctypes.Structure):
    _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]


def global_symbol_library(name: str) -> str:
    """The file of the library that this process's global symbol scope resolves ``name`` to ('' when the
    global scope has no such symbol or this is not Linux, '?' when it has one in an unknown library)."""
    if not sys.platform.startswith("linux"):
        return ""
    try:
        scope = ctypes.CDLL(None)
        func = getattr(scope, name)
    except (OSError, AttributeError):
        return ""
    try:
        dladdr = scope.dladdr
    except AttributeError:
        return "?"
    dladdr.argtypes = [ctypes.c_void_p, ctypes.POINTER(_DlInfo)]
    dladdr.restype = ctypes.c_int
    info = _DlInfo()
    if not dladdr(ctypes.cast(func, ctypes.c_void_p), ctypes.byref(info)) or not info.dli_fname:
        return "?"
    return os.fsdecode(info.dli_fname)


def libsvm_clash() -> str:
    """The library whose ``set_seed`` scikit-learn's libsvm would call instead of its own, or '' if none."""
    lib = global_symbol_library("set_seed")
    if not lib:
        return ""
    from sklearn.svm import _libsvm
    if lib != "?" and os.path.realpath(lib) == os.path.realpath(_libsvm.__file__):
        return ""
    return lib


def svr_refusal(clash: str) -> str:
    return (f"SVR cannot be trained inside this QGIS: scikit-learn's libsvm calls a function set_seed that "
            f"{os.path.basename(clash)} (loaded by QGIS) also defines, and the call would crash QGIS. Choose "
            "another model (random forest, MLP, boosting, PLSR or stacking), or train the SVR in a Python "
            "outside QGIS (the model file loads in QGIS).")
