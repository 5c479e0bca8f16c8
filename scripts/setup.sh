#!/usr/bin/env bash
# Installs everything Mining Eco needs on Debian 12, Debian 13 or sid: QGIS from Debian's packages and a venv
# (with --system-site-packages, so it sees PyQGIS) holding the test tools.
set -euo pipefail
VENV=${VENV:-.venv}
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
APT_PACKAGES="qgis python3-qgis qgis-providers python3-gdal python3-numpy python3-scipy \
python3-sklearn python3-matplotlib python3-pandas python3-pyproj python3-distributed python3-venv python3-pip zip unzip"
if [ "${1:-}" = --print-apt-packages ]; then echo "$APT_PACKAGES"; exit 0; fi
need_apt=""
/usr/bin/python3 -c "import qgis.core, osgeo.gdal, sklearn, scipy, matplotlib, pandas, pyproj, distributed" >/dev/null 2>&1 || need_apt=1
command -v qgis_process.bin >/dev/null 2>&1 || need_apt=1
command -v zip >/dev/null 2>&1 || need_apt=1
command -v unzip >/dev/null 2>&1 || need_apt=1
if [ -n "$need_apt" ]; then
  echo "setup: installing Debian packages: $APT_PACKAGES"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $APT_PACKAGES >/dev/null
fi
if [ ! -x "$VENV/bin/python" ]; then
  /usr/bin/python3 -m venv --system-site-packages "$VENV"
fi
# what QGIS's Python has from Debian stays as it is: pip may not upgrade or shadow it in the venv
CONSTRAINTS="$VENV/debian-constraints.txt"
/usr/bin/python3 - > "$CONSTRAINTS" <<'PYEOF'
import importlib.metadata as m
for name in ("numpy", "scipy", "scikit-learn", "pandas", "matplotlib", "dask", "distributed"):
    print(f"{name}=={m.version(name)}")
PYEOF
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -c "$CONSTRAINTS" -r requirements-dev.txt
"$VENV/bin/python" -c "import qgis.core, pytest_qgis" >/dev/null
touch "$VENV/.setup-done"
echo "setup: ready ($VENV, QGIS $("$VENV/bin/python" -c 'from qgis.core import Qgis; print(Qgis.QGIS_VERSION)'))"
