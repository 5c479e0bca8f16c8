"""Install Python packages for the plugin with pip, into a folder of its own (no QGIS import here).

Why this way:

* QGIS's Python is the system Python on Linux. Debian 12 and newer mark it "externally managed"
  (PEP 668): ``pip install --user`` is refused. ``pip install --target <folder>`` is allowed.
* ``--target`` ignores what is installed and would reinstall every dependency (numpy, scipy,
  scikit-learn too, in versions that may not fit QGIS's compiled modules). So the choice of what to
  install is made first, by pip's own resolver, in a dry run that sees QGIS's Python as it is:
  ``pip install --dry-run --report <json>`` (exempt from PEP 668 in pip >= 23.0.1) with the plugin
  folder on PYTHONPATH (so what is there counts as installed) and a constraints file pinning every
  distribution QGIS's Python already has to its installed version (so pip picks the newest release
  of skops whose requirements fit numpy / scikit-learn as they are, and never replaces anything).
  Then exactly the reported packages, nothing QGIS has, are installed with
  ``pip install --no-deps --target``.
* Nothing half-installed: the install goes into a staging folder beside the target (a hard-link copy
  of the current folder plus the new packages); every new package is import-checked in a separate
  Python with only that folder added; then the staging folder replaces the target (two renames).
  Cancelling kills pip (its whole process group) and deletes the staging folder.

The Python that runs pip is the interpreter of the running Python (inside QGIS desktop
``sys.executable`` can be the QGIS program): ``sys.executable`` / ``sys._base_executable`` when they
are a python, else ``python<major>.<minor>`` beside ``sys.exec_prefix``, else on PATH; it must report
the same major.minor version. The environment variable ``MINING_ECO_PYTHON`` (``PYTHON_ENV``) overrides
the choice (e.g. a Python without pip, to see the refusal).
"""
from __future__ import annotations

import csv
import glob
import importlib
import importlib.machinery
import importlib.metadata
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field

#: Environment variable naming the Python executable to run pip with (overrides the automatic choice).
PYTHON_ENV = "MINING_ECO_PYTHON"
#: Never installed by the plugin, whatever pip says: QGIS's own compiled scientific stack.
PROTECTED = ("numpy", "scipy", "scikit-learn")
#: pip >= 22.2 has --dry-run and --report.
MIN_PIP = (22, 2)
#: Top-level names that are not real modules of a package (never import-checked).
NOT_MODULES = {"tests", "test", "testing", "docs", "doc", "examples", "benchmarks", "bin", "scripts"}
STAGING_PREFIX = ".staging-"
#: pip's --target inside the staging folder (merged into it afterwards; not a module name)
NEW_SUBFOLDER = ".pip-new"
OLD_SUFFIX = ".old-"
#: Leftovers of a run that was killed (staging / old folders) older than this are removed.
STALE_SECONDS = 24 * 3600

NETWORK_ERRORS = (
    "newconnectionerror", "failed to establish a new connection", "connecttimeouterror", "connection refused",
    "max retries exceeded", "temporary failure in name resolution", "name or service not known",
    "nodename nor servname", "getaddrinfo failed", "proxyerror", "sslerror", "certificate verify failed",
    "read timed out", "connection timed out", "network is unreachable", "no route to host",
    "could not fetch url", "connection broken by", "remotedisconnected", "connectionreseterror")


class InstallError(ValueError):
    """The installation cannot be done; the message names the problem and the fix. Nothing was changed."""


class Cancelled(Exception):
    """The user cancelled; pip was stopped and nothing was changed."""


@dataclass(frozen=True)
class Request:
    """A package the plugin wants: pip requirement, distribution name, module that must import."""
    requirement: str
    distribution: str
    module: str
    purpose: str = ""


#: The ranges the test suite runs with (requirements-dev.txt; a unit test keeps them equal): pip picks the newest
#: release inside them that fits QGIS's numpy / scikit-learn (Debian 12, numpy 1.24: skops 0.11).
SKOPS = Request("skops>=0.10,<0.17", "skops", "skops.io", "model files of the Salinity tools")
XGBOOST = Request("xgboost-cpu>=2.1,<4", "xgboost-cpu", "xgboost", "XGBoost gradient boosting (Train model)")
#: kriging of point samples (miningeco:kriging): GSTools 1.5 - 1.7 run on numpy 1.24 (Debian 12) and numpy 2
GSTOOLS = Request("gstools>=1.5,<2", "gstools", "gstools", "kriging of point samples (Kriging)")
#: Optuna's TPE search of the Train model tool (pure Python; with SQLAlchemy, Alembic, Mako, colorlog): 4.x - 5.x
#: run on Python 3.11 / numpy 1.24 (Debian 12) and Python 3.13 / numpy 2 (Debian 13)
OPTUNA = Request("optuna>=4,<6", "optuna", "optuna", "Optuna hyperparameter tuning (Train model)")
#: SHAP explanations (Train model, Apply model). shap 0.50 and newer declare numpy >= 2, so pip's resolver picks
#: 0.49.1 on numpy 1.24 (Debian 12; it imports and is exact there) and the newest on numpy 2 (Debian 13, sid). It
#: needs numba / llvmlite (Debian's python3-numba when QGIS's Python has it, else wheels that fit numpy).
SHAP = Request("shap>=0.48,<1", "shap", "shap", "SHAP explanations (Train model, Apply model)")


@dataclass
class PythonInfo:
    path: str
    version: str
    prefix: str
    pip_version: str = ""


@dataclass
class Result:
    folder: str
    requested: list = field(default_factory=list)     # [{"package", "status", "version", "location"}]
    installed: list = field(default_factory=list)     # [(name, version)] installed by this run
    imports: list = field(default_factory=list)       # [{"package", "modules", "result"}]
    python: PythonInfo | None = None
    index: str = ""
    seconds: float = 0.0


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# PEP 440 version syntax (the specification's reference regex): only such versions go into constraints
_VERSION = re.compile(r"""
    v?(?:(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)*
    (?:[-_\.]?(?:alpha|a|beta|b|preview|pre|c|rc)[-_\.]?[0-9]*)?
    (?:-[0-9]+|[-_\.]?(?:post|rev|r)[-_\.]?[0-9]*)?
    (?:[-_\.]?dev[-_\.]?[0-9]*)?)
    (?:\+[a-z0-9]+(?:[-_\.][a-z0-9]+)*)?""", re.VERBOSE | re.IGNORECASE)


def _norm(path: str) -> str:
    return os.path.normcase(os.path.realpath(path))


def _inside(path: str, folder: str) -> bool:
    path, folder = _norm(path), _norm(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


# ------------------------------------------------------------------------------------------------ what QGIS has
def module_importable(module: str) -> bool:
    try:
        importlib.import_module(module)
    except Exception:  # noqa: BLE001 - any failure means "not usable"
        return False
    return True


def module_version(distribution: str, module: str) -> tuple[str, str]:
    """(version, location) of an importable module, '' when unknown."""
    mod = sys.modules.get(module.split(".")[0])
    location = os.path.dirname(os.path.dirname(getattr(mod, "__file__", "") or "")) if mod else ""
    for name in (distribution, module.split(".")[0]):
        try:
            return importlib.metadata.version(name), location
        except importlib.metadata.PackageNotFoundError:
            continue
    return str(getattr(mod, "__version__", "")), location


def installed_distributions(exclude: str = "") -> dict:
    """{canonical name: (name, version)} of every distribution this Python sees on sys.path, the first
    of each name (the one that imports), leaving out those inside ``exclude`` (the plugin folder)."""
    found = {}
    for dist in importlib.metadata.distributions():
        try:
            name, version = dist.metadata["Name"], dist.version
        except Exception:  # noqa: BLE001 - a broken metadata file
            continue
        if not name or not version:
            continue
        key = canonical(name)
        if key in found:
            continue
        where = str(dist.locate_file(""))
        found[key] = (name, version, where)
    return {k: (n, v) for k, (n, v, where) in found.items() if not (exclude and where and _inside(where, exclude))}


def constraints_text(dists: dict) -> str:
    """pip constraints pinning ``dists`` ({key: (name, version)}) and the protected stack."""
    pins = dict(dists)
    for key, module in (("numpy", "numpy"), ("scipy", "scipy"), ("scikit-learn", "sklearn")):
        if key not in pins:   # a Python whose numpy has no metadata: pin what imports
            try:
                pins[key] = (key, importlib.import_module(module).__version__)
            except Exception:  # noqa: BLE001
                pass
    lines = [f"{name}=={version}" for _k, (name, version) in sorted(pins.items())
             if _VERSION.fullmatch(version.strip()) and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name)]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------ which Python
PROBE = ("import sys, json\n"
         "print(json.dumps({'v': list(sys.version_info[:3]), 'prefix': sys.prefix, 'exe': sys.executable}))")


def _no_window():
    return getattr(subprocess, "CREATE_NO_WINDOW", 0) if os.name == "nt" else 0


def _probe(path: str, env=None) -> PythonInfo | None:
    try:
        run = subprocess.run([path, "-c", PROBE], capture_output=True, text=True, timeout=60, env=env,
                             stdin=subprocess.DEVNULL, creationflags=_no_window())
        info = json.loads(run.stdout.strip().splitlines()[-1])
        return PythonInfo(path, ".".join(map(str, info["v"])), info["prefix"])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError, KeyError, TypeError):
        return None


def _looks_like_python(path: str) -> bool:
    return bool(path) and os.path.basename(path).lower().startswith("python")


def candidates() -> list[str]:
    """Executables that may be the running Python, most likely first (not yet checked)."""
    major, minor = sys.version_info[:2]
    out = [p for p in (sys.executable, getattr(sys, "_base_executable", "")) if _looks_like_python(p)]
    exe_dir = os.path.dirname(sys.executable or "")
    for prefix in dict.fromkeys(p for p in (sys.exec_prefix, sys.prefix, getattr(sys, "base_exec_prefix", "")) if p):
        if os.name == "nt":
            out += [os.path.join(prefix, "python.exe"), os.path.join(prefix, f"python{major}.exe")]
        else:
            out += [os.path.join(prefix, "bin", f"python{major}.{minor}"), os.path.join(prefix, "bin", f"python{major}")]
    if exe_dir:   # OSGeo4W's bin, QGIS.app's Contents/MacOS
        names = ("python3.exe", "python.exe") if os.name == "nt" else (f"python{major}.{minor}", f"python{major}")
        out += [os.path.join(exe_dir, n) for n in names] + [os.path.join(exe_dir, "bin", n) for n in names]
    out += [shutil.which(n) or "" for n in (f"python{major}.{minor}", f"python{major}", "python")]
    seen, result = set(), []
    for p in out:
        if p and os.path.isfile(p) and os.access(p, os.X_OK) and _norm(p) not in seen:
            seen.add(_norm(p))
            result.append(p)
    return result


def find_python(log=lambda s: None) -> PythonInfo:
    """The Python executable of the running interpreter (same major.minor), to run pip with."""
    want = "%d.%d" % sys.version_info[:2]
    chosen = os.environ.get(PYTHON_ENV, "").strip()
    if chosen:
        path = chosen if os.path.isfile(chosen) else (shutil.which(chosen) or chosen)
        info = _probe(path)
        if info is None:
            raise InstallError(f"the environment variable {PYTHON_ENV} names '{chosen}', which does not run as "
                               f"Python. Unset {PYTHON_ENV} (the tool then finds QGIS's Python itself) or set it "
                               f"to the python executable of QGIS's Python {want}.")
        if ".".join(info.version.split(".")[:2]) != want:
            raise InstallError(f"{PYTHON_ENV}={chosen} is Python {info.version}, but QGIS runs Python {want}: "
                               f"packages installed with it would not fit. Set {PYTHON_ENV} to a Python {want} "
                               "executable (or unset it).")
        log(f"Python for pip: {info.path} (Python {info.version}, from {PYTHON_ENV})")
        return info
    prefixes = {_norm(p) for p in (sys.prefix, sys.exec_prefix, getattr(sys, "base_prefix", "")) if p}
    fallback, tried = None, []
    for path in candidates():
        info = _probe(path)
        tried.append(path)
        if info is None or ".".join(info.version.split(".")[:2]) != want:
            continue
        if _norm(info.prefix) in prefixes:
            log(f"Python for pip: {info.path} (Python {info.version}, prefix {info.prefix})")
            return info
        fallback = fallback or info
    if fallback is not None:
        log(f"Python for pip: {fallback.path} (Python {fallback.version}; its prefix {fallback.prefix} is not "
            f"QGIS's {sys.prefix}: set {PYTHON_ENV} if this is the wrong Python)")
        return fallback
    raise InstallError(f"no Python {want} executable was found to run pip with (QGIS runs Python {want} from "
                       f"{sys.exec_prefix}; tried: {', '.join(tried) or 'none'}). Set the environment variable "
                       f"{PYTHON_ENV} to the python executable that QGIS uses and run the tool again.")


def pip_version(python: PythonInfo, env) -> str:
    """pip's version for ``python``; InstallError (with the fix) when pip is missing or too old."""
    try:
        run = subprocess.run([python.path, "-m", "pip", "--version"], capture_output=True, text=True, timeout=120,
                             env=env, stdin=subprocess.DEVNULL, creationflags=_no_window())
        text, code = (run.stdout + run.stderr).strip(), run.returncode
    except (OSError, subprocess.SubprocessError) as err:
        text, code = str(err), -1
    match = re.match(r"pip (\d+)\.(\d+)", text)
    if code != 0 or not match:
        detail = text.splitlines()[-1] if text else f"exit code {code}"
        raise InstallError(
            f"pip is not available for QGIS's Python ({python.path}, Python {python.version}): '{python.path} -m pip' "
            f"fails ({detail}). Install pip for that Python - Debian / Ubuntu: sudo apt install python3-pip; "
            f"Windows (OSGeo4W): add the python3-pip package in the OSGeo4W installer; elsewhere: "
            f"{python.path} -m ensurepip --user - then run this tool again. Nothing was installed.")
    if (int(match.group(1)), int(match.group(2))) < MIN_PIP:
        raise InstallError(f"pip {match.group(1)}.{match.group(2)} of {python.path} is too old (this tool needs pip "
                           f"{MIN_PIP[0]}.{MIN_PIP[1]} or newer for its dry run). Upgrade pip for that Python (Debian /"
                           " Ubuntu: a newer python3-pip package) and run this tool again.")
    return text.split()[1]


BREAK_FLAG = "--break-system-packages"


def knows_option(python: PythonInfo, env, option: str) -> bool:
    """Whether ``pip install`` of ``python`` has ``option`` (e.g. --break-system-packages: pip >= 23.0.1)."""
    try:
        run = subprocess.run([python.path, "-m", "pip", "install", "--help"], capture_output=True, text=True,
                             timeout=120, env=env, stdin=subprocess.DEVNULL, creationflags=_no_window())
    except (OSError, subprocess.SubprocessError):
        return False
    return option in run.stdout


# ------------------------------------------------------------------------------------------------ running pip
def _kill(proc):
    """Stop ``proc`` and everything it started."""
    if proc.poll() is not None:
        return
    try:
        if os.name == "nt":
            subprocess.run(["taskkill", "/T", "/F", "/PID", str(proc.pid)], capture_output=True, timeout=30,
                           creationflags=_no_window())
        else:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
    except (OSError, subprocess.SubprocessError):
        proc.kill()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_command(cmd, env, cwd, log, cancelled, debug=lambda s: None, label="") -> tuple[int, str]:
    """Run ``cmd``, passing each output line to ``log``; (exit code, all output). ``cancelled()`` is polled:
    when it turns True the process (group) is killed and Cancelled raised. ``debug`` gets the process id
    and ``label`` (default: the command line)."""
    kwargs = {"creationflags": _no_window() | subprocess.CREATE_NEW_PROCESS_GROUP} if os.name == "nt" \
        else {"start_new_session": True}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env=env, cwd=cwd, text=True, encoding="utf-8", errors="replace", **kwargs)
    debug(f"process {proc.pid}: {label or ' '.join(cmd)}")
    lines: queue.Queue = queue.Queue()

    def reader():
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    output = []
    try:
        while True:
            if cancelled():
                raise Cancelled()
            try:
                line = lines.get(timeout=0.2)
            except queue.Empty:
                continue
            if line is None:
                break
            output.append(line)
            log(line)
        while proc.poll() is None:
            if cancelled():
                raise Cancelled()
            time.sleep(0.1)
    except BaseException:
        _kill(proc)
        raise
    finally:
        thread.join(5)
        proc.stdout.close()
    return proc.returncode, "\n".join(output)


def pip_env(extra_paths=(), index_url: str = "") -> dict:
    """The environment of the pip subprocesses: ``extra_paths`` first on PYTHONPATH; pip settings that
    would break ``--target`` or a dry run neutralised; with ``index_url`` only that index (extra
    indexes and find-links of pip's configuration ignored: a space is pip's "empty list")."""
    env = dict(os.environ)
    paths = [p for p in extra_paths if p] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if paths:
        env["PYTHONPATH"] = os.pathsep.join(paths)
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_USER="0", PIP_REQUIRE_VIRTUALENV="0", PIP_NO_INPUT="1",
               PYTHONDONTWRITEBYTECODE="1", PYTHONIOENCODING="utf-8", PYTHONUNBUFFERED="1")
    for key in ("PIP_TARGET", "PIP_PREFIX", "PIP_ROOT", "PIP_DRY_RUN", "PIP_REPORT", "PIP_QUIET"):
        env.pop(key, None)
    if index_url:
        env.update(PIP_EXTRA_INDEX_URL=" ", PIP_FIND_LINKS=" ", PIP_NO_INDEX="0")
    return env


_NETWORK_DETAIL = (r"Failed to establish a new connection: [^')]*", r"Connection to [^']*? timed out",
                   r"Read timed out[^')]*", r"(?:SSLError|ProxyError)\([^)]*", r"Could not fetch URL [^\n]*")


def _network_error(output: str) -> str:
    """The network error in pip's output, short (e.g. 'Failed to establish a new connection: [Errno 111]
    Connection refused')."""
    for pattern in _NETWORK_DETAIL:
        match = re.search(pattern, output, re.IGNORECASE)
        if match:
            return match.group(0).strip()[:300]
    low = output.lower()
    start = min(low.find(w) for w in NETWORK_ERRORS if w in low)
    return output[start:].splitlines()[0].strip()[:300]


def diagnose(code: int, output: str, requirements, index: str, timeout: int, stack: str) -> InstallError:
    """The InstallError for a failed pip run (what went wrong and what to do)."""
    lines = output.splitlines()
    low = output.lower()
    tail = " | ".join(line.strip() for line in lines if line.strip().startswith("ERROR"))[-1200:] or \
        " | ".join(line.strip() for line in lines[-5:])
    wanted = ", ".join(requirements)
    if "resolutionimpossible" in low or "conflicting dependencies" in low:
        cause = []
        for line in lines[next((i + 1 for i, line in enumerate(lines) if "conflict is caused by" in line),
                               len(lines)):]:
            if not line.strip():
                break
            cause.append(line.strip())
        tail = "; ".join(cause)[:1200] or tail
        return InstallError(f"no release of {wanted} fits the packages QGIS's Python has ({stack}); pip says: {tail}. "
                            "Nothing was installed. Use a newer QGIS (a newer numpy / scikit-learn), or install a "
                            "fitting version by hand into the plugin folder.")
    if any(w in low for w in NETWORK_ERRORS):
        return InstallError(f"the package index cannot be reached ({index}; timeout {timeout} s): "
                            f"{_network_error(output)}. Check the internet connection and proxy "
                            "settings, or give a reachable package index (a mirror) in INDEX_URL, then run this "
                            "tool again. Nothing was installed.")
    if "no matching distribution" in low or "could not find a version" in low:
        return InstallError(f"the package index ({index}) offers no release of {wanted} for this Python and "
                            f"platform ({tail}). Check INDEX_URL (a mirror must hold these packages). Nothing "
                            "was installed.")
    return InstallError(f"pip failed (exit code {code}): {tail}. Nothing was installed.")


# ------------------------------------------------------------------------------------------------ folder work
def dist_infos(folder: str) -> dict:
    """{canonical name: (name, version, dist-info path)} of the distributions in ``folder``."""
    out = {}
    for info in glob.glob(os.path.join(glob.escape(folder), "*.dist-info")):
        name = version = ""
        try:
            with open(os.path.join(info, "METADATA"), encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    if not line.strip():
                        break
                    if line.startswith("Name:"):
                        name = line[5:].strip()
                    elif line.startswith("Version:"):
                        version = line[8:].strip()
        except OSError:
            continue
        if name:
            out[canonical(name)] = (name, version, info)
    return out


def _record(info: str) -> list[str]:
    try:
        with open(os.path.join(info, "RECORD"), encoding="utf-8", newline="") as fh:
            return [row[0] for row in csv.reader(fh) if row]
    except OSError:
        return []


def top_level(folder: str, info: str) -> list[str]:
    """Top-level module names of a distribution installed in ``folder``."""
    names = []
    path = os.path.join(info, "top_level.txt")
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as fh:
            names = [line.strip().replace("\\", "/").split("/")[0] for line in fh if line.strip()]
    else:
        for entry in _record(info):
            parts = entry.replace("\\", "/").split("/")
            first = parts[0]
            if first in ("..", "__pycache__") or first.endswith((".dist-info", ".data")):
                continue
            if len(parts) > 1:
                names.append(first)
            elif first.endswith(".py"):
                names.append(first[:-3])
            elif first.endswith((".so", ".pyd")):
                names.append(first.split(".")[0])
    return sorted({n for n in names if n.isidentifier() and n not in NOT_MODULES})


def remove_distribution(folder: str, info: str) -> None:
    """Delete an installed distribution (its RECORD files and dist-info) from ``folder``."""
    dirs = set()
    for entry in _record(info):
        path = os.path.normpath(os.path.join(folder, entry))
        if not _inside(path, folder) or _inside(path, info):
            continue
        if os.path.isfile(path) or os.path.islink(path):
            os.remove(path)
            dirs.add(os.path.dirname(path))
    for d in sorted(dirs, key=len, reverse=True):     # package folders left empty (or only __pycache__)
        while _inside(d, folder) and _norm(d) != _norm(folder) and os.path.isdir(d):
            if [n for n in os.listdir(d) if n != "__pycache__"]:
                break
            shutil.rmtree(d, ignore_errors=True)
            d = os.path.dirname(d)
    shutil.rmtree(info, ignore_errors=True)


def _link_or_copy(src, dst):
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def clean_leftovers(target: str) -> None:
    """Delete staging / old folders of runs that were killed long ago (beside ``target``)."""
    parent, base = os.path.dirname(target), os.path.basename(target)
    if not os.path.isdir(parent):
        return
    now = time.time()
    for name in os.listdir(parent):
        if name.startswith(STAGING_PREFIX + base) or name.startswith(base + OLD_SUFFIX):
            path = os.path.join(parent, name)
            try:
                if now - os.path.getmtime(path) > STALE_SECONDS:
                    shutil.rmtree(path, ignore_errors=True)
            except OSError:
                pass


def merge_into(source: str, folder: str) -> None:
    """Move everything of ``source`` into ``folder`` (folders merged, files replaced), then delete ``source``."""
    for name in os.listdir(source):
        src, dst = os.path.join(source, name), os.path.join(folder, name)
        if os.path.isdir(src) and not os.path.islink(src) and os.path.isdir(dst) and not os.path.islink(dst):
            merge_into(src, dst)
        else:
            if os.path.isdir(dst) and not os.path.islink(dst):
                shutil.rmtree(dst)
            elif os.path.lexists(dst):
                os.remove(dst)
            os.replace(src, dst)
    os.rmdir(source)


def replace_folder(staging: str, target: str) -> None:
    """Move ``staging`` into place as ``target`` (the old one renamed away first, deleted after)."""
    old = None
    if os.path.exists(target):
        old = f"{target}{OLD_SUFFIX}{uuid.uuid4().hex[:8]}"
        try:
            os.rename(target, old)
        except OSError as err:
            raise InstallError(f"the plugin folder {target} cannot be replaced ({err}); a file in it is probably in "
                               "use (Windows keeps loaded modules locked). Restart QGIS and run this tool again "
                               "before using the Salinity model tools. Nothing was changed.") from None
    try:
        os.rename(staging, target)
    except OSError:
        if old:
            os.rename(old, target)
        raise
    if old:
        shutil.rmtree(old, ignore_errors=True)


VERIFY = """
import importlib, importlib.metadata, json, sys
checks = json.loads(sys.argv[1])
out = []
for dist, modules in checks:
    errors = []
    for name in modules:
        try:
            importlib.import_module(name)
        except BaseException as err:
            errors.append(f"{name}: {type(err).__name__}: {err}")
    try:
        version = importlib.metadata.version(dist)
    except Exception:
        version = ""
    out.append({"package": dist, "modules": modules, "errors": errors, "version": version})
print("@@VERIFY@@" + json.dumps(out))
"""


# ------------------------------------------------------------------------------------------------ the installer
class Installer:
    """Installs the missing ones of ``requests`` into ``target``; see the module docstring.

    ``log(text)`` gets pip's output and the steps, ``progress(percent)`` the progress, ``cancelled()`` is
    polled; ``debug(text)`` gets the commands run."""

    def __init__(self, target, index_url="", timeout=60, log=print, progress=lambda p: None,
                 cancelled=lambda: False, debug=lambda s: None):
        self.target = os.path.abspath(target)
        self.index_url = (index_url or "").strip()
        self.timeout = int(timeout)
        self.log, self.progress, self.cancelled, self.debug = log, progress, cancelled, debug

    def _check(self):
        if self.cancelled():
            raise Cancelled()

    def _index_args(self):
        return ["--index-url", self.index_url] if self.index_url else []

    def _net_args(self):
        return ["--timeout", str(self.timeout), "--retries", "2", "--progress-bar", "off", "--no-input"]

    def _index_text(self, output=""):
        if self.index_url:
            return self.index_url
        looking = [line.split(":", 1)[1].strip() for line in output.splitlines()
                   if line.startswith("Looking in indexes:")]
        return looking[0] if looking else "pip's configured package index"

    def _pip(self, python, args, env, cwd):
        self._check()
        return run_command([python.path, "-m", "pip", *args], env, cwd, self.log, self.cancelled, self.debug)

    def run(self, requests) -> Result:
        start = time.monotonic()
        result = Result(self.target, index=self.index_url or "pip's configured package index")
        from . import add_to_sys_path, refresh_imports
        add_to_sys_path(self.target)     # what an earlier run installed counts as present
        missing = []
        for req in requests:
            if module_importable(req.module):
                version, location = module_version(req.distribution, req.module)
                result.requested.append({"package": req.distribution, "status": "already importable",
                                         "version": version, "location": location})
                self.log(f"{req.distribution}: already importable ({version}, {location})")
            else:
                missing.append(req)
        self.progress(5)
        if not missing:
            self.log("Nothing to install.")
            result.seconds = time.monotonic() - start
            return result

        work = tempfile.mkdtemp(prefix="mining-eco-pip-")
        try:
            self._install(missing, result, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        add_to_sys_path(self.target)
        refresh_imports(self.target)
        for req in missing:
            if not module_importable(req.module):
                raise InstallError(f"{req.distribution} was installed into {self.target}, but QGIS's Python cannot "
                                   f"import {req.module} in this session. Restart QGIS.")
            version, location = module_version(req.distribution, req.module)
            result.requested.append({"package": req.distribution, "status": "installed now", "version": version,
                                     "location": location})
        result.seconds = time.monotonic() - start
        self.progress(100)
        return result

    def _install(self, missing, result, work):
        python = find_python(self.log)
        result.python = python
        self.progress(8)
        self._check()
        exists = os.path.isdir(self.target)
        env = pip_env([self.target] if exists else [], self.index_url)
        python.pip_version = pip_version(python, env)
        self.log(f"pip {python.pip_version}")
        self.progress(10)

        # -- 1. what to install: pip's resolver against QGIS's Python as it is -----------------------------
        present = installed_distributions(exclude=self.target)
        stack = ", ".join(f"{k} {present[k][1]}" for k in PROTECTED if k in present) or "numpy, scipy, scikit-learn"
        constraints = os.path.join(work, "constraints.txt")
        with open(constraints, "w", encoding="utf-8") as fh:
            fh.write(constraints_text(present))
        report = os.path.join(work, "report.json")
        requirements = [r.requirement for r in missing]
        args = ["install", "--dry-run", "--report", report, "-c", constraints, *self._net_args(),
                *self._index_args(), *requirements]
        self.log(f"Choosing versions that fit {stack} (pip dry run): {' '.join(requirements)}")
        code, output = self._pip(python, args, env, work)
        if code != 0 and "externally-managed-environment" in output and knows_option(python, env, BREAK_FLAG):
            # a pip that refuses even a dry run: the flag is harmless there (nothing is installed)
            code, output = self._pip(python, args[:1] + [BREAK_FLAG] + args[1:], env, work)
        if code != 0 or not os.path.isfile(report):
            raise diagnose(code, output, requirements, self._index_text(output), self.timeout, stack)
        result.index = self._index_text(output)
        with open(report, encoding="utf-8") as fh:
            items = json.load(fh).get("install", [])
        plan = []
        for item in items:
            name, version = item["metadata"]["name"], item["metadata"]["version"]
            if canonical(name) in PROTECTED or canonical(name) in present:
                self.log(f"{name} {version}: QGIS's Python has it ({present.get(canonical(name), ('', '?'))[1]}), "
                         "not installed")
                continue
            plan.append((name, version))
        if not plan:
            raise InstallError(f"pip considers {', '.join(requirements)} installed for {python.path}, but QGIS's "
                               f"Python cannot import {', '.join(r.module for r in missing)}. Set {PYTHON_ENV} to "
                               "the python executable QGIS runs and run this tool again.")
        self.log("To install: " + ", ".join(f"{n} {v}" for n, v in plan))
        self.progress(35)

        # -- 2. install into a staging copy of the folder ---------------------------------------------------
        parent = os.path.dirname(self.target)
        os.makedirs(parent, exist_ok=True)
        clean_leftovers(self.target)
        staging = os.path.join(parent, f"{STAGING_PREFIX}{os.path.basename(self.target)}-{uuid.uuid4().hex[:8]}")
        os.mkdir(staging)
        try:
            self._stage(python, plan, missing, staging, result)
            self._check()
            replace_folder(staging, self.target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        result.installed = plan
        self.progress(97)

    def _stage(self, python, plan, missing, staging, result):
        if os.path.isdir(self.target):
            shutil.copytree(self.target, staging, symlinks=True, copy_function=_link_or_copy, dirs_exist_ok=True)
        there = dist_infos(staging)
        for name, _version in plan:           # an older copy of a package being replaced
            if canonical(name) in there:
                remove_distribution(staging, there[canonical(name)][2])
        # pip's --target would replace whole top-level folders that exist (bin/, a shared namespace package):
        # install into an empty folder inside the staging one and merge it in, file by file
        fresh = os.path.join(staging, NEW_SUBFOLDER)
        args = ["install", "--no-deps", "--target", fresh, "--no-compile", "--no-warn-script-location",
                *self._net_args(), *self._index_args(), *[f"{n}=={v}" for n, v in plan]]
        self.log("Installing (pip install --no-deps --target): " + " ".join(f"{n}=={v}" for n, v in plan))
        code, output = self._pip(python, args, pip_env([], self.index_url), staging)
        if code != 0:
            raise diagnose(code, output, [f"{n}=={v}" for n, v in plan], self._index_text(output), self.timeout,
                           "")
        merge_into(fresh, staging)
        self.progress(80)

        # -- 3. check: nothing QGIS has is shadowed, every new package imports --------------------------------
        there = dist_infos(staging)
        wanted = {canonical(n) for n, _v in plan}
        lost = sorted(wanted - set(there))
        if lost:
            raise InstallError(f"pip reported success but did not install {', '.join(lost)}. Nothing was changed.")
        outside = [p for p in sys.path if p and not _inside(p, self.target) and not _inside(p, staging)]
        checks = []
        for key in sorted(wanted):
            name, _version, info = there[key]
            modules = top_level(staging, info)
            for module in modules:
                spec = importlib.machinery.PathFinder.find_spec(module, outside)
                if spec is not None or module in sys.builtin_module_names:
                    where = getattr(spec, "origin", None) or "built in"
                    raise InstallError(f"{name} would hide the module {module} that QGIS's Python already has "
                                       f"({where}); it was not installed. Nothing was changed.")
            checks.append((name, [m for m in modules if not m.startswith("_")]))
        for req in missing:                  # the module the plugin needs, e.g. skops.io
            checks.append((req.distribution, [req.module]))
        code, output = run_command([python.path, "-c", VERIFY, json.dumps(checks)], pip_env([staging]),
                                   staging, lambda s: None, self.cancelled, self.debug,
                                   f"{python.path}: import check of {', '.join(n for n, _m in checks)}")
        marker = [line for line in output.splitlines() if line.startswith("@@VERIFY@@")]
        if code != 0 or not marker:
            raise InstallError(f"the import check of the new packages failed: {output[-800:]}. Nothing was changed.")
        failed = []
        for row in json.loads(marker[-1][len("@@VERIFY@@"):]):
            result.imports.append({"package": row["package"], "modules": ", ".join(row["modules"]),
                                   "result": "; ".join(row["errors"]) or "imports"})
            failed += row["errors"]
        if failed:
            raise InstallError("the new packages do not import: " + "; ".join(failed)[:1500] +
                               ". Nothing was changed.")
        self.log("Import check: " + ", ".join(f"{r['package']} ok" for r in result.imports))
        self.progress(90)
