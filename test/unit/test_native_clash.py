"""deps.native: the set_seed clash that crashes SVR training inside QGIS 3.44 on Debian sid (libminizip, linked
by QGIS, exports a set_seed; scikit-learn's libsvm calls its own set_seed through the global symbol scope).
Reference: ctypes' own view of libminizip's exports, independent of the code under test."""
import ctypes
import json
import pathlib
import subprocess
import sys

from mining_eco_plugin.deps.native import global_symbol_library, libsvm_clash


def test_no_clash_in_a_plain_python_process():
    # QGIS's libraries are loaded locally here (as in pytest): libsvm finds its own set_seed
    assert libsvm_clash() == ""
    assert global_symbol_library("mining_eco_no_such_symbol") == ""


def test_minizip_in_the_global_scope_is_found_exactly_where_it_exports_set_seed():
    """Load libminizip into the global scope as qgis_process does: a clash is reported exactly where this
    platform's libminizip exports set_seed (Debian sid: yes; Debian 12 and 13: no)."""
    try:
        exports = hasattr(ctypes.CDLL("libminizip.so.1"), "set_seed")
    except OSError:          # no libminizip on this machine: QGIS does not link it here, nothing to clash
        exports = False
    code = ("import ctypes, sys\n"
            "try:\n    ctypes.CDLL('libminizip.so.1', mode=ctypes.RTLD_GLOBAL)\nexcept OSError:\n    pass\n"
            "import json\nfrom mining_eco_plugin.deps.native import libsvm_clash\nprint(json.dumps(libsvm_clash()))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True,
                         cwd=pathlib.Path(__file__).resolve().parents[2])
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert bool(found) == exports, (found, exports)
    if exports:
        assert "minizip" in found
