"""Running one hostile case, bounded in time and memory, and classifying what happened.

A case (``Case``) is data: the tool, a name, its category, a function building the parameters from a
per-case context (``Ctx``: the shared inputs, a private input folder ``inp`` and an empty output folder
``out``), what is expected and the words the message must hold.

Expectations:

* ``error``: the run must fail with a QgsProcessingException whose message holds every entry of ``words``
  (an entry ``"A|B"`` is satisfied by either), none of ``unwords``, no Python traceback or raw exception
  name, and at most ``max_len`` characters; nothing may be left in ``out``, the inputs (``inp``, the shared
  data, the Marburg scene) must be unchanged byte for byte, and no new file may appear in the session's
  temporary folder.
* ``ok``: a valid edge input: the run must succeed and ``check(ctx, result)`` (a comparison with a value
  computed by hand, or independently with GDAL / numpy) must pass; no temporary or hidden file in ``out``,
  inputs unchanged.
* ``warn``: an implausible but possible input: either a clean refusal as for ``error``, or a run that
  pushes a warning holding the words (and passes ``check`` if given).
* ``either``: a clean refusal as for ``error``, or a completed run that passes ``check`` (e.g. an output in a
  missing folder: refusing it and creating the folder are both fine, half of the outputs are not);
* ``cancel``: the feedback cancels itself at the first progress report; the run must end within the
  case's time with a QgsProcessingException about the cancel and leave nothing, as for ``error``.

Time and memory: a watchdog thread cancels the feedback after ``timeout`` seconds (or when the process
grew by more than ``RSS_LIMIT`` bytes), and if the run still has not returned ``GRACE`` seconds later,
raises KeyboardInterrupt in the main thread (``_thread.interrupt_main``; delivered at the next Python
bytecode, i.e. inside any Python loop of the plugin, scikit-learn or zipfile). Either counts as a hang.
qgis_process runs get a subprocess timeout and an address-space limit instead.

Outcome kinds, in order of precedence (a case is counted under the first that applies; every problem
found is listed): hang, raw traceback, silently wrong, leftover files, valid input refused, unclear
message; else clean error / correct result / clean cancel.
"""
from __future__ import annotations

import _thread
import os
import re
import resource
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from failures import recording_feedback  # noqa: F401 - the battery's recorder (test/failures.py)
from hostile_data import diff_snapshots, snapshot

HANG = "hang"
TRACEBACK = "raw traceback"
WRONG = "silently wrong"
LEFTOVER = "leftover files"
REFUSED = "valid input refused"
UNCLEAR = "unclear message"
CLEAN = "clean error"
CORRECT = "correct result"
CANCELLED = "clean cancel"
PRECEDENCE = (HANG, TRACEBACK, WRONG, LEFTOVER, REFUSED, UNCLEAR)
GOOD = (CLEAN, CORRECT, CANCELLED)

#: seconds after the cancel before the main thread is interrupted
GRACE = 5.0
#: growth of the resident memory of the test process that counts as runaway (the zip bomb unpacks to 3 GiB)
RSS_LIMIT = 2 * 1024 ** 3
#: address-space limit of a qgis_process run
CLI_AS_LIMIT = 8 * 1024 ** 3
TRACEBACK_TEXT = re.compile(r"Traceback \(most recent call last\)")
RAW_EXCEPTION = re.compile(
    r"\b(?:AttributeError|TypeError|KeyError|IndexError|ZeroDivisionError|"
    r"RuntimeError|MemoryError|FileExistsError|IsADirectoryError|NotADirectoryError|PermissionError|"
    r"FileNotFoundError|UnboundLocalError|NameError|LinAlgError|OverflowError|AssertionError|KeyboardInterrupt|"
    r"UnicodeDecodeError|BadZipFile|JSONDecodeError|UnpicklingError|RecursionError)\b")
#: what QGIS itself keeps in the temporary folder (a child process ends without QGIS's clean-up)
QGIS_TEMP = re.compile(r"^(qt_temp[-.]|oauth2-cache|processing_|QGIS|runtime-|qgis)")
PROGRESS = re.compile(r"^\s*(?:\d+\.\.\.|\.\.\.)[\d.]*\s*$")
ECHO = re.compile(r"^[A-Z][A-Z0-9_]*:\t")
TEMP_NAME = re.compile(r"(^\.|\.part\b|\.tmp|^tmp|~$|\.rsei-|mining-eco)")


@dataclass
class Case:
    tool: str
    name: str
    category: str
    params: Callable
    expect: str = "error"
    words: tuple = ()
    unwords: tuple = ()
    check: Callable | None = None
    cli: bool = False
    timeout: float = 40.0
    max_len: int | None = None
    prepare: Callable | None = None      # prepare(monkeypatch) before the run (e.g. smaller blocks)
    isolate: bool = False                # run processing.run in a process of its own (hostile_child.py)
    note: str = ""

    @property
    def id(self):
        return f"{self.tool}-{self.name}"


# ----------------------------------------------------------------------------- read-only folders
def make_read_only(folder):
    """Make ``folder`` unwritable. Not root: chmod 555. Root (chmod does not restrict root): the immutable
    attribute (chattr +i; refuses even root), verified by trying to create a file. Returns (path to use,
    mechanism, undo); where chattr is not possible, the path is /proc, a pseudo file system on which nobody can
    create files (the case then tests 'a folder nobody can write', not chmod)."""
    os.makedirs(folder, exist_ok=True)
    if os.geteuid() != 0:
        os.chmod(folder, 0o555)
        return folder, "chmod 555", lambda: os.chmod(folder, 0o755)
    try:
        subprocess.run(["chattr", "+i", folder], check=True, capture_output=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return "/proc", "/proc (root, chattr unavailable)", lambda: None

    def undo():
        subprocess.run(["chattr", "-i", folder], capture_output=True, timeout=20)
    probe = os.path.join(folder, ".probe")
    try:
        open(probe, "w").close()
    except OSError:
        return folder, "chattr +i (root)", undo
    os.remove(probe)
    undo()
    return "/proc", "/proc (root, chattr ineffective)", lambda: None


RO_MECHANISMS = set()


class Ctx:
    """What a case's parameter builder gets: the shared data ``d``, a private input folder ``inp`` and an empty
    output folder ``out``."""

    def __init__(self, data, base):
        self.d = data
        self.base = str(base)
        self.inp = os.path.join(self.base, "in")
        self.out = os.path.join(self.base, "out")
        os.makedirs(self.inp)
        os.makedirs(self.out)
        self._undo = []

    def o(self, name):
        return os.path.join(self.out, name)

    def i(self, name):
        return os.path.join(self.inp, name)

    def copy(self, src, name=None):
        """A private copy of ``src`` (and its .csvt sidecar) in ``inp``."""
        import shutil
        dst = self.i(name or os.path.basename(src))
        shutil.copyfile(src, dst)
        if os.path.exists(src + "t"):
            shutil.copyfile(src + "t", dst + "t")
        return dst

    def under_file(self, name):
        """A path below a regular file: inp/afile.txt/<name>."""
        f = self.i("afile.txt")
        if not os.path.exists(f):
            with open(f, "w") as fh:
                fh.write("a regular file\n")
        return os.path.join(f, name)

    def a_dir(self, name):
        """An existing directory named like an output file: inp/<name>/ (holding one file)."""
        d = self.i(name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "keep.txt"), "w") as fh:
            fh.write("x\n")
        return d

    def read_only(self, name):
        """A path in a folder nobody may write (see make_read_only)."""
        folder, how, undo = make_read_only(self.i("readonly"))
        RO_MECHANISMS.add(how)
        self._undo.append(undo)
        return os.path.join(folder, name)

    def missing(self, name):
        return os.path.join(self.out, "no_such_folder", name)

    def close(self):
        for undo in self._undo:
            undo()
        self._undo = []


# ----------------------------------------------------------------------------- feedback and watchdog
def _rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize()


class Watchdog:
    """Cancels ``feedback`` after ``timeout`` s or RSS growth > RSS_LIMIT; interrupts the main thread GRACE s
    later if the run is still going."""

    def __init__(self, feedback, timeout):
        self.feedback, self.timeout = feedback, timeout
        self.fired = None
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self):
        self._start, self._rss0 = time.monotonic(), _rss()
        self._thread.start()
        return self

    def _watch(self):
        while not self._done.wait(0.1):
            grown = _rss() - self._rss0
            if time.monotonic() - self._start > self.timeout:
                self.fired = f"still running after {self.timeout:.0f} s"
            elif grown > RSS_LIMIT:
                self.fired = f"memory grew by {grown / 1024 ** 3:.1f} GiB"
            else:
                continue
            self.feedback.cancel()
            if self._done.wait(GRACE):
                return
            self.fired += f"; ignored the cancel for {GRACE:.0f} s"
            for _ in range(15):          # again every 2 s: the first may land where it is swallowed
                with self._lock:
                    if self._done.is_set():
                        return
                    _thread.interrupt_main()
                if self._done.wait(2.0):
                    return
            return

    def __exit__(self, *exc):
        with self._lock:
            self._done.set()
        self._thread.join()
        return False


@dataclass
class Outcome:
    result: object = None
    exc_type: str | None = None       # class name of the exception processing.run raised, None on success
    message: str = ""
    seconds: float = 0.0
    hang: str | None = None
    feedback: object = None
    output: str = ""          # qgis_process: stdout + stderr
    returncode: int | None = None


def run_processing(tool, params, timeout, feedback):
    from qgis.core import QgsProcessingException  # noqa: F401 (type checked in classify)
    import processing
    out = Outcome(feedback=feedback)
    start = time.monotonic()
    wd = Watchdog(feedback, timeout)
    try:
        try:
            with wd:
                out.result = processing.run(f"miningeco:{tool}", params, feedback=feedback)
        except KeyboardInterrupt:
            if not wd.fired:
                raise
        except BaseException as err:  # noqa: BLE001 - every exception is an outcome to classify
            out.exc_type = type(err).__name__
            out.message = str(err)
    except KeyboardInterrupt:           # delivered just after the run returned
        if not wd.fired:
            raise
    out.seconds = time.monotonic() - start
    out.hang = wd.fired
    return out


def run_isolated(tool, params, timeout, cancel_on_progress, tempdir, config):
    """processing.run in a child process (hostile_child.py): a hang ends that process, not the session."""
    import json
    import sys
    from types import SimpleNamespace
    job = {"tool": tool, "params": params, "timeout": timeout, "grace": GRACE, "rss_limit": RSS_LIMIT,
           "cancel_on_progress": cancel_on_progress}
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QGIS_CUSTOM_CONFIG_PATH=str(config))
    if tempdir:
        env["TMPDIR"] = tempdir
    out = Outcome()
    start = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                            "hostile_child.py")],
                              input=json.dumps(job), env=env, capture_output=True, text=True,
                              timeout=timeout + GRACE + 60, errors="replace")
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("HOSTILE_RESULT ")]
        if not lines:
            out.exc_type = "ChildProcessError"
            out.message = f"the child process ended ({proc.returncode}) without a result: {proc.stderr[-1500:]}"
            res = {}
        else:
            res = json.loads(lines[-1][len("HOSTILE_RESULT "):])
    except subprocess.TimeoutExpired:
        res = {"hang": f"child process still running after {timeout + GRACE + 60:.0f} s (killed)"}
    if out.exc_type == "ChildProcessError" or res.get("exc_type") == "ChildProcessError":
        raise RuntimeError(f"the battery's child process failed: {out.message or res.get('message')}")
    out.result = res.get("result")
    out.exc_type = out.exc_type or res.get("exc_type")
    out.message = out.message or res.get("message") or ""
    out.hang = res.get("hang")
    out.seconds = time.monotonic() - start
    out.feedback = SimpleNamespace(warnings=res.get("warnings", []), errors=res.get("errors", []),
                                   cancelled_at=1.0 if res.get("cancelled") else None)
    return out


# ----------------------------------------------------------------------------- qgis_process
def cli_args(alg, params):
    """``KEY=value`` arguments: several layers or fields repeat the key, enum choices and matrix cells are comma
    separated (the forms qgis_process 3.22 and later accept)."""
    args = []
    for key, value in params.items():
        if value is None:
            continue
        d = alg.parameterDefinition(key)
        kind = d.type() if d is not None else ""
        if isinstance(value, (list, tuple)):
            if kind == "multilayer" or (kind == "field" and d.allowMultiple()):
                args += [f"{key}={v}" for v in value]
            else:
                args.append(f"{key}={','.join(map(str, value))}")
        elif isinstance(value, bool):
            args.append(f"{key}={'true' if value else 'false'}")
        else:
            args.append(f"{key}={value}")
    return args


def _limit_address_space():
    resource.setrlimit(resource.RLIMIT_AS, (CLI_AS_LIMIT, CLI_AS_LIMIT))


def run_cli(qgis_process, tool, params, timeout):
    from qgis.core import QgsApplication
    alg = QgsApplication.processingRegistry().algorithmById(f"miningeco:{tool}")
    cmd = [qgis_process.exe, "run", f"miningeco:{tool}", "--", *cli_args(alg, params)]
    out = Outcome()
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, env=qgis_process.env, capture_output=True, text=True, timeout=timeout,
                              preexec_fn=_limit_address_space, errors="replace")
        out.returncode = proc.returncode
        out.output = proc.stdout + "\n" + proc.stderr
    except subprocess.TimeoutExpired as err:
        out.hang = f"qgis_process still running after {timeout:.0f} s (killed)"
        out.output = ((err.stdout or b"").decode(errors="replace") if isinstance(err.stdout, bytes)
                      else (err.stdout or ""))
    out.seconds = time.monotonic() - start
    return out


# ----------------------------------------------------------------------------- classification
def has_word(text, entry):
    """``entry``: alternatives separated by "|"; alternatives of 6 or more characters match ignoring case."""
    low = text.lower()
    return any(w in text or (len(w) >= 6 and w.lower() in low) for w in entry.split("|"))


def list_tree(folder):
    found = []
    for base, dirs, files in os.walk(folder):
        found += [os.path.relpath(os.path.join(base, n), folder) + "/" for n in dirs]
        found += [os.path.relpath(os.path.join(base, n), folder) for n in files]
    return sorted(found)


#: GDAL .aux.xml files that appeared beside input rasters: written by QGIS itself (processing loads the inputs as
#: QgsRasterLayer, e.g. parameterAsLayerList; GDAL flushes the statistics computed for the layer to .aux.xml when it
#: is released - seen without any plugin code running); reported in the tally as an observation, not counted as
#: leftovers of the plugin, and removed again after each case
AUX_XML_BESIDE_INPUTS = set()


class Snapshots:
    """Inputs and the temporary folder before a run, compared after it."""

    def __init__(self, folders, tempdir):
        self.folders, self.tempdir = folders, tempdir
        self.before = snapshot(folders)
        self.temp_before = set(os.listdir(tempdir)) if tempdir else set()

    def changes(self):
        after = snapshot(self.folders)
        for p in set(after) - set(self.before):
            if p.endswith(".aux.xml") and os.path.exists(p[:-len(".aux.xml")]):
                AUX_XML_BESIDE_INPUTS.add(p[:-len(".aux.xml")])
                os.remove(p)
                del after[p]
        lines = diff_snapshots(self.before, after)
        if self.tempdir:
            lines += [f"new temporary file {os.path.join(self.tempdir, n)}"
                      for n in sorted(set(os.listdir(self.tempdir)) - self.temp_before) if not QGIS_TEMP.match(n)]
        return lines


def classify(case, ctx, outcome, snaps, via="processing.run"):
    """(kind, [problems]) of a finished case."""
    problems = []       # (kind, text)
    cli = via == "qgis_process"
    if outcome.hang:
        problems.append((HANG, outcome.hang))
    if cli:
        failed = outcome.returncode not in (0, None) or outcome.hang is not None
        # without the echo of the inputs ("KEY:\tvalue"), which names every parameter
        message = "\n".join(ln for ln in outcome.output.splitlines() if not ECHO.match(ln))
        m = TRACEBACK_TEXT.search(outcome.output)
        if m:
            problems.append((TRACEBACK, f"qgis_process printed {m.group(0)!r}: "
                                        f"{_around(outcome.output, m.start())}"))
    else:
        failed = outcome.exc_type is not None
        message = outcome.message
        fb = outcome.feedback
        log = "\n".join(fb.errors) if fb is not None else ""
        if failed and outcome.exc_type != "QgsProcessingException" and not outcome.hang:
            problems.append((TRACEBACK, f"{outcome.exc_type} escaped processing.run: {message[:300]}"))
        elif failed and not outcome.hang:
            m = TRACEBACK_TEXT.search(message) or TRACEBACK_TEXT.search(log)
            if m:
                text = message if TRACEBACK_TEXT.search(message) else log
                problems.append((TRACEBACK, f"{m.group(0)!r} in the message: {_last_line(text)}"))
    expect = case.expect
    if expect in ("error", "cancel"):
        if not failed:
            what = "ignored the cancel and completed" if expect == "cancel" else "ran and reported success"
            problems.append((HANG if expect == "cancel" else WRONG, f"{what} ({_results(outcome)})"))
        else:
            if not outcome.hang:
                problems += _message_problems(case, message, cli)
            if expect == "cancel" and not outcome.hang:
                fb = outcome.feedback
                if fb is not None and fb.cancelled_at is None:
                    problems.append((UNCLEAR, "failed before any progress report (nothing was cancelled): "
                                              + _last_line(message)))
                elif fb is not None and not re.search("[Cc]ancel", message):
                    problems.append((UNCLEAR, f"cancelled run failed without saying so: {_last_line(message)}"))
        left = list_tree(ctx.out)
        if left and failed:      # (the outputs of a run that wrongly succeeded are not leftovers)
            problems.append((LEFTOVER, f"failed run left in the output folder: {left[:8]}"))
    elif expect in ("ok", "warn", "either"):
        if failed and not outcome.hang:
            if expect in ("warn", "either"):
                problems += _message_problems(case, message, cli)   # a clean refusal is fine
            elif not any(k == TRACEBACK for k, _ in problems):
                problems.append((REFUSED, f"refused a valid input: {_last_line(message)}"))
            left = list_tree(ctx.out)
            if left:
                problems.append((LEFTOVER, f"failed run left in the output folder: {left[:8]}"))
        elif not failed:
            if expect == "warn" and cli:
                if not all(has_word(message, e) for e in case.words):
                    problems.append((WRONG, f"ran without refusing or warning about {list(case.words)}"))
            if expect == "warn" and not cli:
                warnings = outcome.feedback.warnings
                warned = [w for w in warnings if all(has_word(w, e) for e in case.words)]
                if not warnings:
                    problems.append((WRONG, "ran without refusing or warning"))
                elif not warned:
                    problems.append((UNCLEAR, f"warned without naming {list(case.words)}: "
                                              f"{[w[:160] for w in warnings][:3]}"))
            if case.check is not None and not cli:
                try:
                    case.check(ctx, outcome.result)
                except AssertionError as err:
                    problems.append((WRONG, f"result differs from the hand value: {str(err)[:400]}"))
                except Exception as err:  # noqa: BLE001 - a check that cannot read the output: wrong output
                    problems.append((WRONG, f"output unreadable by the check: {type(err).__name__}: {err}"[:400]))
            temp = [n for n in list_tree(ctx.out) if TEMP_NAME.search(os.path.basename(n.rstrip("/")))]
            if temp:
                problems.append((LEFTOVER, f"temporary files left beside the outputs: {temp[:8]}"))
    changes = snaps.changes()
    if changes:
        problems.append((LEFTOVER, "inputs or temporary folder changed: " + "; ".join(changes[:6])))
    for kind in PRECEDENCE:
        if any(k == kind for k, _ in problems):
            return kind, problems
    if expect in ("warn", "either") and failed:
        return CLEAN, problems
    return {"error": CLEAN, "ok": CORRECT, "warn": CORRECT, "either": CORRECT, "cancel": CANCELLED}[expect], problems


def _message_problems(case, message, cli):
    problems = []
    m = RAW_EXCEPTION.search(message)
    if m and not TRACEBACK_TEXT.search(message):
        problems.append((UNCLEAR, f"raw exception text {m.group(0)!r} in the message: {_last_line(message)}"))
    missing = [w for w in case.words if not has_word(message, w)]
    if missing:
        problems.append((UNCLEAR, f"message lacks {missing}: {_last_line(message)}"))
    bad = [w for w in case.unwords if w in message]
    if bad:
        problems.append((UNCLEAR, f"message says {bad}: {_last_line(message)}"))
    if case.max_len and len(message) > case.max_len and not cli:
        problems.append((UNCLEAR, f"message of {len(message)} characters (> {case.max_len})"))
    return problems


def _results(outcome):
    if outcome.result is None:
        return "exit 0" if outcome.returncode == 0 else "no result"
    return ", ".join(f"{k}={str(v)[:60]}" for k, v in list(outcome.result.items())[:6])


def last_lines(text, n=400):
    """The message without the progress dots and echo, last characters."""
    lines = [ln for ln in (text or "").splitlines() if ln.strip() and not ECHO.match(ln) and not PROGRESS.match(ln)]
    return "\n".join(lines)[-n:]


def _last_line(text):
    lines = [ln.strip() for ln in (text or "").strip().splitlines() if ln.strip()]
    keep = [ln for ln in lines if not ln.startswith(("File ", "^", "~"))]
    return " | ".join(keep[-3:])[:400] if keep else "(empty message)"


def _around(text, pos):
    return text[max(0, pos - 100):pos + 200].replace("\n", " | ")
