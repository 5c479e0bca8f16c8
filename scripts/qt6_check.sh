#!/usr/bin/env bash
# `make qt6-check`: runs QGIS's own PyQt5 -> PyQt6 migration script (scripts/pyqt5_to_pyqt6/ of the QGIS
# sources) over a copy of the plugin in its QGIS-3-compatible mode (its default: without
# --qgis3-incompatible-changes, which would write code that only QGIS 4 runs) and fails when it would change
# anything: unscoped Qt enums, exec_(), PyQt5 imports, QRegExp, resources_rc imports, removed Qt 5 API.
# QGIS's own enums are checked by test/unit/test_qt6_ready.py (the script needs a Qt 6 QGIS for those).
#
# The script is not part of this repository. It comes at run time from Debian's archive: the QGIS source
# package of $QT6_CHECK_SUITE (trixie: QGIS 3.40 LTR), found and downloaded by apt with a private source list
# (the host's Debian mirror and keyring; apt checks the suite's signature and the files' hashes). Only
# */scripts/pyqt5_to_pyqt6/* is extracted and kept, in a cache folder outside the clone, per source version;
# the 150 MB tarball is deleted. The script runs in a venv (also cached) with PyQt6 from PyPI, which it
# introspects to learn the scope of every Qt enum; QGIS itself is not importable there (on purpose: the
# system's QGIS is built on Qt 5).
#
# Output: the diff the script would apply, its warnings, and one summary line; exit 0 when clean, 1 when not,
# 2 when the check itself could not run.
#
# Settings (environment): QT6_CHECK_CACHE (/var/cache/mining-eco-qt6 as root, else
# ${XDG_CACHE_HOME:-~/.cache}/mining-eco-qt6), QT6_CHECK_SUITE (trixie), QT6_CHECK_SOURCE (qgis),
# QT6_CHECK_MIRROR (the host's Debian mirror), QT6_CHECK_PYTHON (/usr/bin/python3), QT6_CHECK_PLUGIN
# (mining_eco_plugin).
set -euo pipefail
cd "$(dirname "$0")/.."
START=$SECONDS

SUITE=${QT6_CHECK_SUITE:-trixie}
SOURCE=${QT6_CHECK_SOURCE:-qgis}
PLUGIN=${QT6_CHECK_PLUGIN:-mining_eco_plugin}
if [ "$(id -u)" = 0 ]; then CACHE_DEFAULT=/var/cache/mining-eco-qt6; else
  CACHE_DEFAULT=${XDG_CACHE_HOME:-$HOME/.cache}/mining-eco-qt6; fi
CACHE=${QT6_CHECK_CACHE:-$CACHE_DEFAULT}
PY=${QT6_CHECK_PYTHON:-/usr/bin/python3}
[ -x "$PY" ] || PY=$(command -v python3)
# the migration script's imports: PyQt6 with QScintilla (it imports PyQt6.Qsci) and tokenize-rt
PIP_PINS="PyQt6==6.9.1 PyQt6-Qt6==6.9.1 PyQt6-QScintilla==2.14.1 tokenize-rt==6.2.0"

die() { echo "qt6-check: $*" >&2; echo "Qt 6 migration check: could not run ($*)"; exit 2; }
[ -d "$PLUGIN" ] || die "no folder $PLUGIN"
mkdir -p "$CACHE" || die "cannot create the cache folder $CACHE"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/qt6-check.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
# one run at a time fills the cache (several clones on one machine share it)
exec 9>"$CACHE/.lock"
flock -w 900 9 || die "another qt6-check has held $CACHE/.lock for 15 minutes"

# -- 1. the migration script, from the QGIS source package of $SUITE --------------------------------------
# the host's Debian mirror and its keyring: the first deb822 stanza (or one-line entry) whose URI ends in /debian
read -r HOST_MIRROR HOST_KEYRING < <(awk '
  FNR == 1 { if (uri != "") exit; key = "" }
  /^[[:space:]]*#/ { next }
  /^[[:space:]]*$/ { if (uri != "") exit; key = ""; next }
  /^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/ && uri == "") uri = $i }
  /^Signed-By:/ { key = $2 }
  /^deb(-src)? / && uri == "" { for (i = 2; i <= NF; i++) { if ($i ~ /^\[?signed-by=/) { k = $i;
      sub(/.*signed-by=/, "", k); sub(/\]$/, "", k); key = k } if ($i ~ /\/debian\/?$/) { uri = $i; exit } } }
  END { print (uri == "" ? "-" : uri), (key == "" ? "-" : key) }' \
  /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list /etc/apt/sources.list 2>/dev/null || true)
MIRROR=${QT6_CHECK_MIRROR:-${HOST_MIRROR:--}}
[ "$MIRROR" != - ] || MIRROR=http://deb.debian.org/debian
KEYRING=${HOST_KEYRING:--}
[ -f "$KEYRING" ] || KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
[ -f "$KEYRING" ] || die "no Debian archive keyring ($KEYRING): apt-get install debian-archive-keyring"

APT_DIR=$CACHE/apt
mkdir -p "$APT_DIR/sources" "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial"
printf 'Types: deb-src\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: %s\n' \
  "$MIRROR" "$SUITE" "$KEYRING" > "$APT_DIR/sources/$SUITE-src.sources"
# only this source list and this state; the host's apt settings (proxies, retries) still apply
APT=(apt-get -q -o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$APT_DIR/sources"
     -o "Dir::State::Lists=$APT_DIR/lists" -o "Dir::Cache=$APT_DIR/cache" -o Dir::State::status=/dev/null
     -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null -o Acquire::Retries=3)

if "${APT[@]}" update > "$TMP/apt-update.log" 2>&1; then
  # apt-get update exits 0 when it cannot reach the mirror; it keeps the index it had
  grep -E '^(W|E|Err):' "$TMP/apt-update.log" | sed 's/^/qt6-check: apt-get update: /' >&2 || true
else
  if ls "$APT_DIR/lists/"*Sources* >/dev/null 2>&1; then
    echo "qt6-check: apt-get update of $SUITE failed; using the index from the last run" >&2
  else
    cat "$TMP/apt-update.log" >&2; die "apt-get update of $SUITE sources ($MIRROR) failed"
  fi
fi
DL=$TMP/download
mkdir -p "$DL"
[ "$(id -u)" != 0 ] || ! id _apt >/dev/null 2>&1 || chown _apt "$DL"  # apt downloads as _apt when root
URIS=$(cd "$DL" && "${APT[@]}" source --print-uris -qq "$SOURCE" 2>"$TMP/apt-source.log") ||
  { cat "$TMP/apt-source.log" >&2; die "apt-get source $SOURCE ($SUITE) failed"; }
ORIG=$(printf '%s\n' "$URIS" | awk '$2 ~ /\.orig\.tar\./ { print $2; exit }')
[ -n "$ORIG" ] || die "no orig tarball of $SOURCE in $SUITE"
UPSTREAM=$(printf '%s' "$ORIG" | sed -E 's/^[^_]+_//; s/\.orig\.tar\..*$//; s/\+(dfsg|ds).*$//')
SCRIPT_DIR=$CACHE/scripts/${ORIG%.orig.tar.*}
SCRIPT=$SCRIPT_DIR/pyqt5_to_pyqt6.py
if [ ! -f "$SCRIPT" ]; then
  echo "qt6-check: downloading $ORIG from $MIRROR ($SUITE) for scripts/pyqt5_to_pyqt6/" >&2
  (cd "$DL" && "${APT[@]}" source --download-only -qq "$SOURCE" > "$TMP/apt-download.log" 2>&1) ||
    { cat "$TMP/apt-download.log" >&2; die "download of $ORIG failed"; }
  mkdir -p "$TMP/extract"
  tar -xf "$DL/$ORIG" -C "$TMP/extract" --wildcards '*/scripts/pyqt5_to_pyqt6/*' ||
    die "$ORIG has no scripts/pyqt5_to_pyqt6/"
  rm -rf "$DL"
  found=$(find "$TMP/extract" -path '*/scripts/pyqt5_to_pyqt6/pyqt5_to_pyqt6.py' | head -1)
  [ -n "$found" ] || die "$ORIG has no scripts/pyqt5_to_pyqt6/pyqt5_to_pyqt6.py"
  mkdir -p "$CACHE/scripts"
  rm -rf "$SCRIPT_DIR.new" && cp -r "$(dirname "$found")" "$SCRIPT_DIR.new" && mv "$SCRIPT_DIR.new" "$SCRIPT_DIR"
fi

# -- 2. the venv: PyQt6 and tokenize-rt from PyPI -------------------------------------------------------------
PY_VERSION=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
VENV=$CACHE/venv-py$PY_VERSION-$(printf '%s' "$PIP_PINS" | sha256sum | cut -c1-10)
if [ ! -f "$VENV/.ready" ]; then
  echo "qt6-check: creating $VENV ($PIP_PINS)" >&2
  rm -rf "$VENV"
  "$PY" -m venv "$VENV" || die "python3 -m venv failed (apt-get install python3-venv)"
  # shellcheck disable=SC2086
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check $PIP_PINS > "$TMP/pip.log" 2>&1 ||
    { cat "$TMP/pip.log" >&2; die "pip install $PIP_PINS failed"; }
  touch "$VENV/.ready"
fi
"$VENV/bin/python" -c "import PyQt6.QtWidgets, PyQt6.Qsci, PyQt6.QtQuickWidgets, tokenize_rt" 2>"$TMP/import.log" ||
  { cat "$TMP/import.log" >&2; die "PyQt6 does not import (missing system libraries such as libgl1, libegl1?)"; }

flock -u 9

# -- 3. run it on a copy of the plugin, with a canary that it must fix --------------------------------------
mkdir -p "$TMP/before" "$TMP/after/zz_canary"
cp -rL "$PLUGIN" "$TMP/before/"   # -L: the links to the top-level metadata.txt and resources.qrc as files
find "$TMP/before" -name __pycache__ -prune -exec rm -rf {} +
cp -r "$TMP/before/$(basename "$PLUGIN")" "$TMP/after/"
# the canary: if the script silently stopped resolving Qt enums, this line would stay as it is
printf 'from qgis.PyQt.QtCore import Qt\nALIGN = Qt.AlignLeft\n' > "$TMP/after/zz_canary/canary.py"
set +e
(cd "$TMP/after" && "$VENV/bin/python" "$SCRIPT" .) > "$TMP/run.log" 2>&1
rc=$?
set -e
if [ $rc -gt 1 ] || grep -q '^Traceback' "$TMP/run.log"; then
  cat "$TMP/run.log" >&2; die "the migration script failed (exit $rc)"
fi
grep -q 'Qt\.AlignmentFlag\.AlignLeft' "$TMP/after/zz_canary/canary.py" ||
  { cat "$TMP/run.log" >&2; die "the migration script did not scope Qt.AlignLeft: it resolves no Qt enum"; }

# the script's warnings (resources_rc, QRegExp, removed API it cannot rewrite, ...), without the canary and its
# note that QGIS is not importable (expected: QGIS's enums are test/unit/test_qt6_ready.py's part)
grep -v -e 'zz_canary' -e '^QGIS classes not available for introspection' "$TMP/run.log" > "$TMP/warnings.log" || true
(cd "$TMP" && diff -ru before after -x zz_canary) > "$TMP/diff.txt" || true
sed -E 's/^((---|\+\+\+) [^\t]+)\t.*/\1/' "$TMP/diff.txt"   # without the copies' time stamps
sed -e "s#^\./##" "$TMP/warnings.log"

files=$(grep -c '^+++ ' "$TMP/diff.txt" || true)
lines=$(awk '/^-/ && !/^--- / { n++ } END { print n + 0 }' "$TMP/diff.txt")
warnings=$(grep -c . "$TMP/warnings.log" || true)
what="QGIS $UPSTREAM pyqt5_to_pyqt6.py"
if [ "$files" = 0 ] && [ "$warnings" = 0 ]; then
  echo "Qt 6 migration check ($what): clean ($((SECONDS - START)) s)"
  exit 0
fi
echo "Qt 6 migration check ($what): $lines line(s) in $files file(s) to change, $warnings warning(s)" \
  "($((SECONDS - START)) s)"
exit 1
