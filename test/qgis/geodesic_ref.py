"""Independent reference for pixel areas of lat/lon grids: pyproj's geodesic polygon area (Karney's algorithms,
GeographicLib) of the cell outline with a vertex every ``step`` degrees. A parallel is not a geodesic: Geod on the
four corners alone is off by 1.6e-6 for a 0.25 deg cell at the equator, hence the densified outline. Nothing here
imports the plugin."""
from __future__ import annotations

import numpy as np
import pyproj   # python3-pyproj, installed by scripts/setup.sh (a Debian package on 12 and 13)


def cell_area_m2(lat0, lat1, lon0, lon1, geod=None, step=0.001) -> float:
    """Area (m2) of the cell between the parallels lat0, lat1 and the meridians lon0, lon1 on ``geod``
    (a pyproj.Geod; WGS84 by default)."""
    geod = geod or pyproj.Geod(ellps="WGS84")
    n = max(2, int(round(abs(lon1 - lon0) / step)) + 1)
    m = max(2, int(round(abs(lat1 - lat0) / step)) + 1)
    lons, lats = np.linspace(lon0, lon1, n), np.linspace(lat0, lat1, m)
    xs = np.concatenate([lons, np.full(m - 2, lon1), lons[::-1], np.full(m - 2, lon0)])
    ys = np.concatenate([np.full(n, lat0), lats[1:-1], np.full(n, lat1), lats[::-1][1:-1]])
    area, _perimeter = geod.polygon_area_perimeter(xs, ys)
    return abs(area)
