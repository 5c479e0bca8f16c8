"""All the files of one run, committed together at its end (issue 11, defects 1 and 11).

A run stages every output (rasters and their .qml / .aux.xml, tables, reports, model files, folders of
outputs) in a hidden staging folder beside its destination, so on the same file system, under the
destination's own name. Nothing is visible at a destination until ``commit``, which moves every staged file
into place with ``os.replace`` in one final step, after everything was produced. ``rollback`` (a failure or a
cancel at any step, also in ``commit``) deletes the staging folders and the folders the run created: the run
leaves nothing behind, and files that were already at the destinations are as they were.

Every destination is checked up front (its folder exists, is a folder and is writable; the path is not a
folder), so that the common path errors stop a run before any work. Files are created with the user's umask
(``0666 & ~umask``, as any program's files), never with ``mkstemp``'s 0600.

Pure Python (no QGIS, no GDAL): the raster engine, the report writers and the algorithms all use it.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
import uuid

STAGE_PREFIX = ".mining-eco-"
STAGE_SUFFIX = ".staging"
_BACKUP = ".mining-eco-replaced-"

# staged path -> destination, of every open transaction (staged paths are unique: each lives in a staging
# folder of its own), for code that only has a staged path (e.g. the styling of an output layer)
_OPEN: dict[str, str] = {}
_LOCK = threading.Lock()


class OutputError(ValueError):
    """An output path that cannot be written, worded for the user (names the parameter and the fix)."""


def create_file(folder: str, prefix: str, suffix: str = "") -> tuple[int, str]:
    """Like ``tempfile.mkstemp`` (an open descriptor and the path of a new, unique file in ``folder``), but the
    file gets the user's umask (``0666 & ~umask``) instead of 0600: it is meant to become an output."""
    for _ in range(100):
        path = os.path.join(folder, f"{prefix}{uuid.uuid4().hex[:12]}{suffix}")
        try:
            return os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666), path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary file name in {folder}")


def final_path(path):
    """The destination of a staged path of an open transaction (also of a file in a staged folder); anything
    else unchanged."""
    if not isinstance(path, str) or not path:
        return path
    with _LOCK:
        hit = _OPEN.get(path)
        if hit is not None:
            return hit
        for staged, dest in _OPEN.items():
            if path.startswith(staged + os.sep) or path.startswith(staged + "|"):
                return dest + path[len(staged):]
    return path


def _describe(err: OSError) -> str:
    return err.strerror or str(err)


def check_file_destination(path: str, label: str):
    """OutputError unless a file can be created at ``path``: its folder exists, is a folder and is writable,
    and ``path`` is not a folder."""
    path = os.path.abspath(path)
    folder = os.path.dirname(path)
    if not os.path.exists(folder):
        above = folder
        while not os.path.lexists(above) and os.path.dirname(above) != above:
            above = os.path.dirname(above)
        if os.path.lexists(above) and not os.path.isdir(above):
            raise OutputError(f"{label}: {above} is a file, not a folder, so {path} cannot be written under it. "
                              "Choose an output path in a folder.")
        raise OutputError(f"{label}: the folder {folder} does not exist. Choose an output path in an existing "
                          "folder.")
    if not os.path.isdir(folder):
        raise OutputError(f"{label}: {folder} is a file, not a folder, so {os.path.basename(path)} cannot be "
                          "written under it. Choose an output path in a folder.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"{label}: cannot write into {folder} (permission denied). Choose a writable folder.")
    if os.path.isdir(path):
        raise OutputError(f"{label}: {path} is a folder. Give a file name.")


def check_folder_destination(path: str, label: str) -> list[str]:
    """OutputError unless a folder can be made (or used) at ``path``; the folders that would be made,
    outermost first (``path`` last, when it does not exist)."""
    path = os.path.abspath(path)
    missing = []
    probe = path
    while not os.path.exists(probe):
        missing.append(probe)
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    if not os.path.isdir(probe):
        raise OutputError(f"{label}: {probe} is a file, not a folder, so the folder {path} cannot be made. "
                          "Choose another output folder.")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise OutputError(f"{label}: cannot write into {probe} (permission denied), so the folder {path} cannot "
                          "be filled. Choose a writable folder.")
    return missing[::-1]


class OutputTransaction:
    """The outputs of one run: staged beside their destinations, committed together or not at all.

    ``stage_file(dest, label)`` gives the path to write instead of ``dest`` (in a hidden staging folder in
    ``dest``'s folder, under ``dest``'s name, so that companions such as ``.qml``, ``.aux.xml`` or a
    shapefile's ``.dbf`` written beside it land there too and move with it). ``stage_folder(dest, label)``
    gives a folder to fill instead of the folder ``dest``. ``commit()`` moves everything into place;
    ``rollback()`` removes everything. As a context manager, leaving it without ``commit`` rolls back.
    """

    def __init__(self):
        self._stages: dict[str, str] = {}       # destination folder -> its staging folder
        self._staged: dict[str, str] = {}       # staged path -> destination
        self._companions: dict[str, tuple] = {}  # destination -> suffixes whose stale files go at commit
        self._created: list[str] = []           # folders made by this run (removed by rollback)
        self._undo = []                         # callables run by rollback (e.g. drop a table written in place)
        self.done = False

    # -- staging ------------------------------------------------------------------------------------------
    def _stage_dir(self, folder: str, label: str) -> str:
        if self.done:
            raise RuntimeError("this output transaction is closed")
        stage = self._stages.get(folder)
        if stage is None:
            try:
                stage = tempfile.mkdtemp(prefix=STAGE_PREFIX, suffix=STAGE_SUFFIX, dir=folder)
            except OSError as err:
                raise OutputError(f"{label}: cannot write into {folder} ({_describe(err)}). Choose a writable "
                                  "folder.") from None
            self._stages[folder] = stage
        return stage

    def _register(self, staged: str, final: str):
        self._staged[staged] = final
        with _LOCK:
            _OPEN[staged] = final

    def final(self, value):
        """``value`` (a path, a list of paths or anything else) with staged paths replaced by their
        destinations (also a file that QGIS wrote beside a staged path, e.g. with an extension added); also
        after commit."""
        if isinstance(value, (list, tuple)):
            return type(value)(self.final(v) for v in value)
        if not isinstance(value, str) or not value:
            return value
        for staged, dest in self._staged.items():
            if value == staged:
                return dest
            if value.startswith(staged + os.sep) or value.startswith(staged + "|"):
                return dest + value[len(staged):]
        for folder, stage in self._stages.items():
            if value.startswith(stage + os.sep):
                return os.path.join(folder, value[len(stage) + 1:])
        return value

    def unstage(self, text: str) -> str:
        """``text`` (e.g. an error message) with every staging folder replaced by its destination folder."""
        for folder, stage in self._stages.items():
            text = text.replace(stage, folder)
        return text

    @property
    def destinations(self):
        """The destinations of everything staged (files and folders)."""
        return list(self._staged.values())

    def staged_for(self, dest: str):
        """The staged path of destination ``dest``, or None."""
        dest = os.path.abspath(dest)
        return next((s for s, f in self._staged.items() if f == dest), None)

    def stage_file(self, dest: str, label: str, companions=()) -> str:
        """The path to write instead of ``dest`` (checked first). ``companions``: suffixes of files that belong
        to ``dest`` (e.g. ".aux.xml"); a stale one at the destination is removed at commit unless the run
        wrote it too."""
        dest = os.path.abspath(dest)
        staged = self.staged_for(dest)
        if staged is not None:
            return staged
        check_file_destination(dest, label)
        staged = os.path.join(self._stage_dir(os.path.dirname(dest), label), os.path.basename(dest))
        self._register(staged, dest)
        if companions:
            self._companions[dest] = tuple(companions)
        return staged

    def stage_folder(self, dest: str, label: str) -> str:
        """A new, empty folder to fill instead of the folder ``dest`` (which may or may not exist yet)."""
        dest = os.path.abspath(dest)
        staged = self.staged_for(dest)
        if staged is not None:
            return staged
        missing = check_folder_destination(dest, label)
        for folder in missing[:-1] if missing and missing[-1] == dest else missing:   # its missing parents
            try:
                os.mkdir(folder)
            except OSError as err:
                raise OutputError(f"{label}: cannot make the folder {folder} ({_describe(err)}).") from None
            self._created.append(folder)
        staged = os.path.join(self._stage_dir(os.path.dirname(dest), label), os.path.basename(dest))
        os.mkdir(staged)
        self._register(staged, dest)
        return staged

    def on_rollback(self, undo):
        """Run ``undo()`` on rollback (for an output that cannot be staged, e.g. a table added to an existing
        GeoPackage)."""
        self._undo.append(undo)

    # -- commit / rollback --------------------------------------------------------------------------------
    def _moves(self):
        """(staged, destination) of every file and folder to move; (None, destination) for a stale companion."""
        moves = []
        for folder, stage in self._stages.items():
            for name in sorted(os.listdir(stage)):
                if name.startswith(_BACKUP):
                    continue
                src, dst = os.path.join(stage, name), os.path.join(folder, name)
                if os.path.isdir(src) and not os.path.islink(src) and os.path.isdir(dst):
                    # an existing folder: what the run wrote into it replaces its namesakes, the rest stays
                    moves += [(os.path.join(src, n), os.path.join(dst, n)) for n in sorted(os.listdir(src))]
                else:
                    moves.append((src, dst))
        covered = {dst for _src, dst in moves}
        for dest, suffixes in self._companions.items():
            moves += [(None, dest + s) for s in suffixes if dest + s not in covered and os.path.lexists(dest + s)]
        return moves

    def commit(self):
        """Move every staged file into place. All or nothing: if a move fails, the files moved so far go back,
        the files they replaced are restored, the run is rolled back and OutputError is raised."""
        if self.done:
            return
        moved, replaced = [], []        # (staged, destination), (backup, destination)
        try:
            for src, dst in self._moves():
                if os.path.isdir(dst) and not os.path.islink(dst):    # never replace a folder (nor delete it)
                    raise IsADirectoryError(21, "a folder is in the way", dst)
                if os.path.lexists(dst):       # kept aside until every move succeeded (restored otherwise)
                    backup = os.path.join(self._stage_dir(os.path.dirname(dst), "OUTPUT"),
                                          f"{_BACKUP}{uuid.uuid4().hex[:12]}")
                    os.replace(dst, backup)
                    replaced.append((backup, dst))
                if src is not None:
                    os.replace(src, dst)
                    moved.append((src, dst))
        except OSError as err:
            for src, dst in reversed(moved):
                try:
                    os.replace(dst, src)
                except OSError:
                    pass
            for backup, dst in reversed(replaced):
                try:
                    os.replace(backup, dst)
                except OSError:
                    pass
            self.rollback()
            where = f": {err.filename}" if getattr(err, "filename", None) else ""
            raise OutputError(f"the outputs could not be moved into place ({_describe(err)}{where}); nothing was "
                              "written.") from None
        self._close()

    def rollback(self):
        """Remove every staged file and staging folder, undo what could not be staged and remove the folders
        this run made. Safe to call twice, and after commit (then it does nothing)."""
        if self.done:
            return
        for undo in reversed(self._undo):
            try:
                undo()
            except Exception:  # noqa: BLE001 - best effort: the run's own error is what the user must see
                pass
        self._close()
        for folder in reversed(self._created):
            try:
                os.rmdir(folder)
            except OSError:
                pass

    def _close(self):
        for stage in self._stages.values():
            shutil.rmtree(stage, ignore_errors=True)
        with _LOCK:
            for staged in self._staged:
                _OPEN.pop(staged, None)
        self.done = True

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if not self.done:
            self.rollback()
        return False
