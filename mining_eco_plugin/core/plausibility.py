"""Plausibility of a scene's radiometry: refuse what is impossible, warn about what is only implausible.

Pure numpy. A wrong choice of input product (Sentinel-2 DN read as Landsat Level-2, Level-1 DN read as
Level-2, the MTL of another sensor, reflectance in percent read as 0-1) gives numbers that look like results:
NDVI -0.35 instead of 0.75, an LST of -23 deg C in July. :class:`RadiometryCheck` sees every block of a scene
as it is converted (``BlockProducts`` calls it; in a block pass each block gets its own ``fresh()`` check and the
LST tallies are summed as the pass's partial result) and

* raises :class:`ImplausibleRadiometry` (a ValueError, worded for the user: the band, what was seen, the
  likely causes) on what cannot be real:

  - a Level-1 DN above the band's QCALMAX (:data:`radiometry.QCALMAX_DEFAULT`, or the MTL's
    QUANTIZE_CAL_MAX_BAND_x): e.g. Landsat 8 DN (up to 65535) with a Landsat 7 MTL (QCALMAX 255);
  - most of a block's reflectance (more than :data:`IMPLAUSIBLE_SHARE` of its valid pixels, at least
    :data:`MIN_CHECKED_PIXELS` of them) above :data:`REFLECTANCE_MAX`, below :data:`REFLECTANCE_MIN`, or
    below :data:`VISIBLE_NIR_REFLECTANCE_MIN` in the blue, green, red or NIR band;

* collects warnings (``warnings()``, for ``feedback.pushWarning``) about an implausible scene mean LST:
  below :data:`LST_MIN_C` or above :data:`LST_MAX_C` at any date, or below :data:`LST_SUMMER_MIN_C` in a
  summer month (June - August north of the equator, December - February south of it, between 60 S and 60 N)
  when the acquisition date and latitude are known. An LST of -23 deg C can be a real January in Zhundong:
  only a July (or a southern January) that cold is flagged.

The non-finite or negative constants of an MTL file are refused where they are read
(``radiometry.MtlError``).
"""
from __future__ import annotations

import math

import numpy as np

#: Largest reflectance a block may mostly have. Reflectance (TOA or surface) of real surfaces stays below ~1.2
#: (fresh snow, bright cloud at a low sun); most of a block above 1.5 is DN or scaled data (percent, x 10000)
#: read as reflectance, or the wrong product / sensor.
REFLECTANCE_MAX = 1.5
#: Smallest reflectance a block of any reflective band may mostly have (noise makes dark water slightly negative,
#: never this far).
REFLECTANCE_MIN = -0.5
#: Smallest reflectance a block of the blue, green, red or NIR band may mostly have. Landsat Level-2 scaling
#: (DN x 0.0000275 - 0.2) maps DN below 3637 to less than -0.1: Sentinel-2 L2A DN (about 1000 - 5000) or
#: Landsat 5/7 Level-1 DN (0 - 255) read as Landsat Level-2 give -0.2 to -0.06, and NDVI -0.35 instead of 0.75.
#: Surface reflectance of land and water in these bands is not mostly below -0.1 (the SWIR bands of water can
#: be slightly negative after atmospheric correction, hence REFLECTANCE_MIN for them).
VISIBLE_NIR_REFLECTANCE_MIN = -0.1
#: "Most of a block": more than this share of its valid pixels.
IMPLAUSIBLE_SHARE = 0.5
#: Blocks with fewer valid pixels of a band are not judged (a few specular or edge pixels are not a scene).
MIN_CHECKED_PIXELS = 64
#: Scene mean LST (deg C) colder than this is implausible at any date (no Landsat scene of land averages
#: below it; a thermal band in deg C read as kelvin gives about -250).
LST_MIN_C = -60.0
#: Scene mean LST (deg C) hotter than this is implausible (the hottest deserts reach about 70 deg C at single
#: pixels, not as a scene mean).
LST_MAX_C = 70.0
#: Scene mean LST (deg C) colder than this in a summer month between 60 S and 60 N is implausible: Level-1
#: thermal DN read as Level-2 (DN x 0.00341802 + 149 K) give about -40 to -20 deg C.
LST_SUMMER_MIN_C = -10.0
#: Latitude (degrees) beyond which the summer rule does not apply (ice sheets stay below freezing in summer).
SUMMER_RULE_MAX_LATITUDE = 60.0

VISIBLE_NIR = ("B", "G", "R", "NIR")
ROLE_NAMES = {"B": "blue", "G": "green", "R": "red", "NIR": "NIR", "SWIR1": "SWIR1", "SWIR2": "SWIR2",
              "T": "thermal"}
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")

#: Likely causes of out-of-range reflectance, by radiometry mode (core.scene.RADIOMETRY_MODES) and direction.
_CAUSES = {
    ("L2", "low"): "these are not Landsat Collection 2 Level-2 surface reflectance DN: Sentinel-2 L2A DN (choose "
                   "the Sentinel-2 sensor and radiometry), Level-1 DN (choose Landsat Level-1 with the MTL file), "
                   "or data already scaled to reflectance (choose 'Already reflectance')",
    ("L2", "high"): "these are not Landsat Collection 2 Level-2 DN: another product or sensor, or data scaled "
                    "otherwise (choose the matching radiometry, or Custom scale and offset)",
    ("L1_MTL", "low"): "the DN do not fit this MTL file: the wrong level (Level-2 DN read as Level-1), the MTL of "
                       "another sensor or scene, or a band mapping that puts another band in this role",
    ("L1_MTL", "high"): "the DN do not fit this MTL file: the wrong level (Level-2 DN read as Level-1), the MTL of "
                        "another sensor or scene, or a band mapping that puts another band in this role",
    ("S2_L2A", "low"): "these are not Sentinel-2 L2A DN, or S2_BOA_ADD_OFFSET is wrong (-1000 from processing "
                       "baseline 04.00, 0 before)",
    ("S2_L2A", "high"): "these are not Sentinel-2 L2A DN (Landsat DN, or data scaled otherwise)",
    ("REFLECTANCE", "low"): "the values are not reflectance 0-1: DN or scaled data (choose the product's "
                            "radiometry, or Custom scale and offset)",
    ("REFLECTANCE", "high"): "the values are not reflectance 0-1: DN, or reflectance scaled to percent or x 10000 "
                             "(choose the product's radiometry, or Custom with SCALE 0.01 or 0.0001)",
    ("CUSTOM", "low"): "SCALE and OFFSET do not turn these values into reflectance 0-1 (check them, or choose the "
                       "product's radiometry)",
    ("CUSTOM", "high"): "SCALE and OFFSET do not turn these values into reflectance 0-1 (check them, or choose the "
                        "product's radiometry)",
}
_LST_COLD_CAUSES = {
    "L2": "Level-1 thermal DN read as Level-2 (choose Landsat Level-1 with the MTL file), or clouds left unmasked "
          "(give QA_BAND)",
    "L1_MTL": "the MTL of another scene or sensor, or clouds left unmasked (give QA_BAND)",
}
_LST_HOT_CAUSES = {
    "L2": "not a Level-2 ST band (another band or product in the thermal role)",
    "L1_MTL": "Level-2 ST DN read as Level-1 radiance (choose Landsat Collection 2 Level-2), or the MTL of another "
              "scene or sensor",
}


class ImplausibleRadiometry(ValueError):
    """A scene's values cannot be what the chosen radiometry says (the message names the band and the causes)."""


def summer_months(latitude: float | None) -> tuple[int, ...]:
    """The summer months (1-12) at ``latitude`` (degrees): June - August north of the equator, December -
    February south of it; none beyond +-SUMMER_RULE_MAX_LATITUDE or when the latitude is unknown."""
    if latitude is None or not math.isfinite(latitude) or abs(latitude) > SUMMER_RULE_MAX_LATITUDE:
        return ()
    return (6, 7, 8) if latitude >= 0 else (12, 1, 2)


class RadiometryCheck:
    """Checks the blocks of one scene (module docstring).

    ``mode``: the radiometry mode ("L2", "L1_MTL", "S2_L2A", "REFLECTANCE", "CUSTOM"); ``labels``: role ->
    how the band is named to the user (e.g. "RED (LC08_..._B4.TIF, band 1)"); ``date``: the acquisition date
    "YYYY-MM-DD" or None; ``latitude``: the scene's centre latitude (degrees) or None.
    """

    def __init__(self, mode: str, labels: dict | None = None, date: str | None = None,
                 latitude: float | None = None):
        self.mode = mode
        self.labels = dict(labels or {})
        self.date = date
        self.latitude = latitude
        self.lst_sum = 0.0
        self.lst_count = 0

    def _band(self, role):
        name = ROLE_NAMES.get(role, role)
        label = self.labels.get(role)
        return f"{label} ({name} band)" if label else f"The {name} band"

    def check_dn(self, role: str, dn: np.ndarray, dn_max: float | None):
        """ImplausibleRadiometry when a valid DN of ``role`` exceeds the band's QCALMAX ``dn_max``."""
        if dn_max is None:
            return
        a = np.asarray(dn)
        with np.errstate(invalid="ignore"):
            over = np.isfinite(a) & (a > dn_max)      # nan / inf are no data (masked), not DN
        n = int(np.count_nonzero(over))
        if n:
            raise ImplausibleRadiometry(
                f"{self._band(role)}: {n} pixel(s) hold DN up to {float(a[over].max()):g}, above the band's QCALMAX "
                f"= {dn_max:g} in the MTL file, which no Level-1 DN of that sensor can exceed. Likely: the MTL of "
                "another sensor (e.g. Landsat 8 DN, up to 65535, with a Landsat 5/7 MTL, QCALMAX 255) or Level-2 "
                "DN read as Level-1. Give the MTL file of these bands and the matching sensor preset.")

    def check_reflectance(self, role: str, refl: np.ndarray):
        """ImplausibleRadiometry when most of the block's valid reflectance of ``role`` is out of range."""
        r = np.asarray(refl)
        valid = np.isfinite(r)
        n = int(np.count_nonzero(valid))
        if n < MIN_CHECKED_PIXELS:
            return
        v = r[valid]
        low_limit = VISIBLE_NIR_REFLECTANCE_MIN if role in VISIBLE_NIR else REFLECTANCE_MIN
        for direction, share, limit in (("high", np.count_nonzero(v > REFLECTANCE_MAX) / n, REFLECTANCE_MAX),
                                        ("low", np.count_nonzero(v < low_limit) / n, low_limit)):
            if share > IMPLAUSIBLE_SHARE:
                word = "above" if direction == "high" else "below"
                cause = _CAUSES.get((self.mode, direction), "the chosen radiometry does not fit these values")
                raise ImplausibleRadiometry(
                    f"{self._band(role)}: {100 * share:.0f} % of the valid pixels of a block have a reflectance "
                    f"{word} {limit:g} (median {float(np.median(v)):.3g}) after the chosen radiometric conversion; "
                    f"real surfaces do not. Likely: {cause}.")

    def fresh(self) -> "RadiometryCheck":
        """A check with this one's settings and no LST seen yet. A block pass gives each block its own (blocks
        share no state); the blocks' :meth:`tally` are then summed and added with :meth:`add_tally`."""
        return RadiometryCheck(self.mode, self.labels, self.date, self.latitude)

    def tally(self) -> tuple[float, int]:
        """The LST seen so far: (sum in deg C, pixel count); a partial result of a block pass."""
        return self.lst_sum, self.lst_count

    def add_tally(self, tally: tuple[float, int]):
        """Add the LST of other blocks (the sum of their :meth:`tally`) to the scene mean."""
        self.lst_sum += float(tally[0])
        self.lst_count += int(tally[1])

    def add_lst(self, lst_c: np.ndarray):
        """Add a block of LST (deg C) to the scene mean."""
        v = np.asarray(lst_c, dtype=np.float64)
        v = v[np.isfinite(v)]
        self.lst_sum += float(v.sum())
        self.lst_count += int(v.size)

    @property
    def mean_lst(self) -> float | None:
        return self.lst_sum / self.lst_count if self.lst_count else None

    def warnings(self) -> list[str]:
        """Warnings about the scene mean LST (module docstring); [] when it is plausible or was not computed."""
        mean = self.mean_lst
        if mean is None:
            return []
        month = None
        if self.date:
            try:
                month = int(str(self.date)[5:7])
            except ValueError:
                month = None
        when = f"acquired {self.date}" if self.date else "acquisition date unknown"
        cold = _LST_COLD_CAUSES.get(self.mode, "the thermal band is not in kelvin (e.g. deg C or DN), or clouds "
                                               "left unmasked")
        hot = _LST_HOT_CAUSES.get(self.mode, "the thermal band is not in kelvin, or another band is in its role")
        if mean < LST_MIN_C:
            return [f"The mean land surface temperature of the scene is {mean:.1f} deg C ({when}), colder than "
                    f"{LST_MIN_C:g} deg C, which no land scene averages. Likely: {cold}."]
        if mean > LST_MAX_C:
            return [f"The mean land surface temperature of the scene is {mean:.1f} deg C ({when}), hotter than "
                    f"{LST_MAX_C:g} deg C. Likely: {hot}."]
        if month in summer_months(self.latitude) and mean < LST_SUMMER_MIN_C:
            hemisphere = "N" if self.latitude >= 0 else "S"
            return [f"The mean land surface temperature of this {MONTHS[month - 1]} scene ({when}, "
                    f"{abs(self.latitude):.1f} deg {hemisphere}) is {mean:.1f} deg C, colder than "
                    f"{LST_SUMMER_MIN_C:g} deg C, which is implausible in summer. Likely: {cold}."]
        return []
