"""Python packages the plugin installs for itself (skops, xgboost-cpu, gstools, optuna) and where they live.

QGIS's Python on Debian 12 and newer refuses ``pip install --user`` (PEP 668, externally managed
environment). The tool ``miningeco:installdependencies`` (Plugins menu: Mining Eco > Install Python
dependencies...) therefore installs them with ``pip install --target`` into a folder of the plugin's
own in the user's QGIS profile::

    <profile>/mining_eco/python<major>.<minor>     e.g. ~/.local/share/QGIS/QGIS3/profiles/default/mining_eco/python3.11

(one folder per Python version: wheels with compiled code fit one Python only). ``classFactory``
puts that folder on ``sys.path`` before any algorithm is imported (``add_to_sys_path``, idempotent).

Environment variable ``MINING_ECO_PYTHON`` (see ``pip_install.PYTHON_ENV``): the Python executable to
run pip with, when the automatic choice (the interpreter that runs QGIS) is not the right one.
"""
from __future__ import annotations

import importlib
import os
import sys

SUBFOLDER = "mining_eco"


def folder_name() -> str:
    return f"python{sys.version_info[0]}.{sys.version_info[1]}"


def deps_dir(settings_dir: str | None = None) -> str:
    """The plugin's package folder in the QGIS profile ('' when QGIS has no settings folder yet)."""
    if settings_dir is None:
        from qgis.core import QgsApplication
        settings_dir = QgsApplication.qgisSettingsDirPath()
    if not settings_dir:
        return ""
    return os.path.join(os.path.abspath(settings_dir), SUBFOLDER, folder_name())


def _norm(path: str) -> str:
    return os.path.normcase(os.path.realpath(path)) if path else path


def add_to_sys_path(folder: str | None = None) -> bool:
    """Put ``folder`` (default: ``deps_dir()``) on ``sys.path`` if it exists, before the first
    site-packages / dist-packages entry: the order pip saw when it chose what to install (the folder
    on PYTHONPATH). The folder only holds packages QGIS's Python lacked, so nothing is shadowed.
    Idempotent; True when the folder is on sys.path afterwards."""
    folder = deps_dir() if folder is None else folder
    if not folder or not os.path.isdir(folder):
        return False
    target = _norm(folder)
    if any(_norm(p) == target for p in sys.path if p):
        refresh_imports(folder)
        return True
    position = len(sys.path)
    for i, entry in enumerate(sys.path):
        if os.path.basename(os.path.normpath(entry or ".")) in ("site-packages", "dist-packages"):
            position = i
            break
    sys.path.insert(position, folder)
    refresh_imports(folder)
    return True


def refresh_imports(folder: str) -> None:
    """Make packages just written into ``folder`` importable in this session (forget cached finders)."""
    for key in list(sys.path_importer_cache):
        if key and _norm(key) == _norm(folder):
            del sys.path_importer_cache[key]
    importlib.invalidate_caches()


def skops_missing_message() -> str | None:
    """None when ``skops.io`` imports, else the message that names the installer tool."""
    try:
        import skops.io  # noqa: F401
    except ImportError:
        from ..core.modelfile import MISSING_SKOPS
        return MISSING_SKOPS
    return None


MISSING_GSTOOLS = ("kriging needs the Python package gstools (GSTools), which QGIS's Python cannot import. Install "
                   "it with the Mining Eco tool 'Install Python dependencies' with 'Also install GSTools' ticked "
                   "(miningeco:installdependencies: Processing Toolbox > Mining Eco > Set-up, or the menu Plugins > "
                   "Mining Eco > Install Python dependencies...; headless: qgis_process run "
                   "miningeco:installdependencies -- INSTALL_GSTOOLS=true), then run this tool again.")


def gstools_missing_message() -> str | None:
    """None when ``gstools`` imports, else the message that names the installer tool."""
    try:
        import gstools  # noqa: F401
    except ImportError:
        return MISSING_GSTOOLS
    return None


MISSING_OPTUNA = ("Optuna is not installed, so the hyperparameter search is scikit-learn's seeded randomized search. "
                  "For Optuna's TPE search install it with the Mining Eco tool 'Install Python dependencies' with "
                  "'Also install Optuna' ticked (headless: qgis_process run miningeco:installdependencies -- "
                  "INSTALL_OPTUNA=true).")


def optuna_version() -> str:
    """Optuna's version when it imports, else ''."""
    try:
        import optuna
    except Exception:  # noqa: BLE001 - not installed or broken: the randomized search is used
        return ""
    return str(getattr(optuna, "__version__", "?"))


MISSING_SHAP = ("the Python package shap (SHAP explanations) cannot be imported by QGIS's Python{detail}. Install it "
                "with the Mining Eco tool 'Install Python dependencies' with 'Also install shap' ticked "
                "(miningeco:installdependencies; headless: qgis_process run miningeco:installdependencies -- "
                "INSTALL_SHAP=true; it picks the newest shap that fits QGIS's numpy: 0.49 on numpy 1.x, the newest "
                "on numpy 2), then run this tool again.")


def shap_missing_message() -> str | None:
    """None when ``shap`` imports, else why not and how to install it (shap also needs numba and llvmlite)."""
    try:
        import shap  # noqa: F401
    except Exception as err:  # noqa: BLE001 - ImportError, or a numba / numpy mismatch raising at import
        detail = "" if isinstance(err, ModuleNotFoundError) and getattr(err, "name", "") == "shap" else \
            f" ({type(err).__name__}: {str(err)[:200]})"
        return MISSING_SHAP.format(detail=detail)
    return None
