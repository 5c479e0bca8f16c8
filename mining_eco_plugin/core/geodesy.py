"""Exact areas of latitude / longitude cells on an ellipsoid of revolution (pure numpy).

The area of the part of an ellipsoid (semi-major axis ``a``, flattening ``f``, e^2 = f (2 - f))
between the equator and the geodetic latitude phi, per radian of longitude, is ``a^2 q(phi) / 2`` with

    q(phi) = (1 - e^2) [ sin(phi) / (1 - e^2 sin^2(phi)) + atanh(e sin(phi)) / e ]

(Snyder 1987, "Map projections - a working manual", USGS Prof. Paper 1395, eq. 3-12; q = 2 sin(phi) on
a sphere). With the authalic latitude beta, sin(beta) = q(phi) / q(90 deg), and the authalic radius
R_q = a sqrt(q(90 deg) / 2) (Snyder eqs. 3-11, 3-13) this is the same as

    area = R_q^2 * dlon * (sin(beta_2) - sin(beta_1)),

the area of the cell between parallels phi_1 < phi_2 and dlon radians of longitude: exact on the
ellipsoid, no sphere approximation (a sphere of radius 6371007.2 m with geodetic latitudes is 0.45 %
too large at the equator and 0.74 % too small at 70 deg against WGS84). Checked against
``pyproj.Geod(...).polygon_area_perimeter`` on densified cell outlines in the tests.
"""
from __future__ import annotations

import numpy as np


def _q(sin_phi, e2):
    """Snyder's q of eq. 3-12 for sin(phi), numerically stable for small e (e -> 0 gives 2 sin(phi))."""
    if e2 == 0.0:
        return 2.0 * sin_phi
    e = np.sqrt(e2)
    return (1.0 - e2) * (sin_phi / (1.0 - e2 * sin_phi * sin_phi) + np.arctanh(e * sin_phi) / e)


def authalic_radius(a: float, f: float) -> float:
    """R_q = a sqrt(q(90 deg) / 2): the radius of the sphere with the ellipsoid's surface area (Snyder eq. 3-13)."""
    e2 = f * (2.0 - f)
    return float(a * np.sqrt(_q(1.0, e2) / 2.0))


def authalic_latitude(lat_deg, a: float = 1.0, f: float = 0.0) -> np.ndarray:
    """Authalic latitude beta (degrees) of the geodetic latitudes ``lat_deg``: sin(beta) = q(phi) / q(90 deg)."""
    e2 = f * (2.0 - f)
    s = np.sin(np.radians(np.asarray(lat_deg, dtype=np.float64)))
    return np.degrees(np.arcsin(np.clip(_q(s, e2) / _q(1.0, e2), -1.0, 1.0)))


def cell_areas_m2(lat_edges_deg, dlon_deg: float, a: float, f: float) -> np.ndarray:
    """Areas (m2, in the units of ``a`` squared) of the cells between consecutive latitude edges
    ``lat_edges_deg`` (n + 1 geodetic latitudes, in any order; values outside +-90 are clipped: the
    caller checks the extent), each ``dlon_deg`` wide, on the ellipsoid with semi-major axis ``a`` and
    flattening ``f`` (0 = sphere of radius a): ``a^2 / 2 * dlon * |q(phi_2) - q(phi_1)|`` (module docstring).
    Returns n areas."""
    if not (np.isfinite(a) and a > 0 and np.isfinite(f) and 0.0 <= f < 1.0):
        raise ValueError(f"invalid ellipsoid: semi-major axis {a}, flattening {f}")
    e2 = f * (2.0 - f)
    lat = np.radians(np.clip(np.asarray(lat_edges_deg, dtype=np.float64), -90.0, 90.0))
    q = _q(np.sin(lat), e2)
    return 0.5 * a * a * np.radians(abs(float(dlon_deg))) * np.abs(np.diff(q))
