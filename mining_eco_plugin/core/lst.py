"""Land surface temperature (the RSEI heat component).

Pure numpy. Every function returns float32 degrees Celsius (emissivity: dimensionless) with NaN
for no data or undefined values, without RuntimeWarnings.

* :func:`st_to_celsius`: Landsat Collection 2 Level-2 surface temperature band
  (INDICES.md: K = DN * 0.00341802 + 149.0).
* :func:`ndvi_emissivity`: NDVI threshold method (Sobrino, Jimenez-Munoz & Paolini 2004,
  Remote Sens. Environ. 90:434-440).
* :func:`lst_radiative_transfer`: radiative transfer equation inversion, ningdong seed
  eqs. 6-8 (the seed calls epsilon the "surface-specific reflectance"; it is the land
  surface *emissivity*, see INDICES.md "Other known seed slips").
* :func:`lst_single_channel`: emissivity-corrected brightness temperature (Artis & Carnahan
  1982, Remote Sens. Environ. 12:313-329).
"""
from __future__ import annotations

import numpy as np

from .radiometry import L2_ST_OFFSET, L2_ST_SCALE

KELVIN_0C = 273.15
# rho = h c / sigma_B = 6.626e-34 J s * 2.998e8 m/s / 1.38e-23 J/K = 1.4388e-2 m K
RHO_M_K = 1.4388e-2


def _f64(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def st_to_celsius(dn) -> np.ndarray:
    """Collection 2 Level-2 ST band to deg C: ``DN * 0.00341802 + 149.0 - 273.15``.

    DN 0 is the fill value -> NaN (also NaN input). Source: INDICES.md "Scaling" / USGS
    Landsat C2 L2 Science Product Guide.
    """
    a = np.asarray(dn)
    with np.errstate(all="ignore"):
        out = (a.astype(np.float64, copy=False) * L2_ST_SCALE + L2_ST_OFFSET - KELVIN_0C)
        bad = a == 0
        if a.dtype.kind == "f":
            bad |= np.isnan(a)
    out = out.astype(np.float32)
    out[bad] = np.nan
    return out


def ndvi_emissivity(ndvi, ndvi_soil=0.2, ndvi_veg=0.5, eps_soil=0.97, eps_veg=0.99) -> np.ndarray:
    """Land surface emissivity from NDVI, threshold method of Sobrino et al. (2004):

    * NDVI < ndvi_soil (bare soil): ``eps = eps_soil``
    * NDVI > ndvi_veg (full vegetation): ``eps = eps_veg``
    * otherwise (mixed): ``eps = 0.004 * Pv + 0.986`` with the proportion of vegetation
      ``Pv = ((NDVI - ndvi_soil) / (ndvi_veg - ndvi_soil))**2`` (Carlson & Ripley 1997).

    NaN NDVI -> NaN. Requires ndvi_veg > ndvi_soil.
    """
    if not ndvi_veg > ndvi_soil:
        raise ValueError(f"NDVI thresholds must satisfy soil < vegetation (got {ndvi_soil}, {ndvi_veg}).")
    v = _f64(ndvi)
    with np.errstate(all="ignore"):
        pv = ((v - ndvi_soil) / (ndvi_veg - ndvi_soil)) ** 2
        eps = 0.004 * pv + 0.986
        eps = np.where(v < ndvi_soil, eps_soil, eps)
        eps = np.where(v > ndvi_veg, eps_veg, eps)
        eps = np.where(np.isnan(v), np.nan, eps)
    return eps.astype(np.float32)


def lst_radiative_transfer(radiance, emissivity, k1, k2, tau=1.0, up=0.0, down=0.0) -> np.ndarray:
    """LST (deg C) by inverting the radiative transfer equation (ningdong eqs. 6-8).

    Eq. 6: ``L = [eps B(T) + (1 - eps) L_down] tau + L_up``, inverted (eq. 7) to the radiance
    of a black body at the surface temperature::

        B_T = (L - L_up - tau (1 - eps) L_down) / (tau eps)

    and eq. 8 (inverse Planck with the band constants): ``LST = K2 / ln(K1 / B_T + 1) - 273.15``.

    ``eps`` is the land surface emissivity (the seed calls it "reflectance"; that is a slip).
    ``tau`` atmospheric transmittance, ``up`` / ``down`` up- and down-welling atmospheric
    radiance (W m-2 sr-1 um-1), e.g. from the NASA atmospheric correction parameter calculator.
    With tau=1, up=down=0 this is ``K2 / ln(K1 eps / L + 1)``. NaN where L, eps are NaN,
    eps <= 0 or B_T <= 0; ValueError when tau <= 0.
    """
    tau = float(tau)
    if not tau > 0:
        raise ValueError(f"Atmospheric transmittance tau must be > 0 (got {tau}).")
    L = _f64(radiance)
    eps = _f64(emissivity)
    with np.errstate(all="ignore"):
        bt = (L - float(up) - tau * (1.0 - eps) * float(down)) / (tau * eps)
        ok = np.isfinite(bt) & (bt > 0) & (eps > 0)
        t = float(k2) / np.log(float(k1) / np.where(ok, bt, 1.0) + 1.0) - KELVIN_0C
        out = np.where(ok, t, np.nan)
    return out.astype(np.float32)


def lst_single_channel(bt_kelvin, emissivity, wavelength_um) -> np.ndarray:
    """LST (deg C) from brightness temperature, Artis & Carnahan (1982)::

        T = BT / (1 + (lambda BT / rho) ln eps)

    with lambda the effective wavelength of the thermal band (m; given in um) and
    ``rho = h c / sigma_B = 1.4388e-2 m K``. NaN where BT or eps are NaN, BT <= 0,
    eps <= 0 or the denominator is <= 0.
    """
    if wavelength_um is None or not float(wavelength_um) > 0:
        raise ValueError("The single-channel method needs the thermal band's effective wavelength (um).")
    lam = float(wavelength_um) * 1e-6
    bt = _f64(bt_kelvin)
    eps = _f64(emissivity)
    with np.errstate(all="ignore"):
        ok0 = np.isfinite(bt) & np.isfinite(eps) & (bt > 0) & (eps > 0)
        denom = 1.0 + (lam * bt / RHO_M_K) * np.log(np.where(ok0, eps, 1.0))
        ok = ok0 & (denom > 0)
        t = bt / np.where(ok, denom, 1.0) - KELVIN_0C
        out = np.where(ok, t, np.nan)
    return out.astype(np.float32)
