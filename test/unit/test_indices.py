"""Spectral indices checked on hand-computed pixels (formulas: docs/INDICES.md)."""
import warnings
from math import sqrt

import numpy as np
import pytest

from mining_eco_plugin.core.indices import (
    INDICES,
    ROLES,
    WET_COEFFICIENTS,
    bands_for,
    compute_index,
)

# Two pixels: vegetated (P1) and bright soil (P2), reflectance 0..1.
#            B     G     R     NIR   SWIR1 SWIR2
P1 = dict(B=0.05, G=0.08, R=0.10, NIR=0.30, SWIR1=0.20, SWIR2=0.12)
P2 = dict(B=0.12, G=0.15, R=0.20, NIR=0.25, SWIR1=0.35, SWIR2=0.28)
BANDS = {role: np.array([P1[role], P2[role]]) for role in ROLES}

SI_BS = (-0.05 / 0.65, 0.18 / 0.92)
IBI = (  # terms 2S1/(S1+NIR), NIR/(NIR+R), G/(G+S1)
    (0.8 - 0.75 - 0.08 / 0.28) / (0.8 + 0.75 + 0.08 / 0.28),
    (0.7 / 0.6 - 0.25 / 0.45 - 0.3) / (0.7 / 0.6 + 0.25 / 0.45 + 0.3),
)
WET_OLI = (
    0.1511 * 0.05 + 0.1973 * 0.08 + 0.3283 * 0.10 + 0.3407 * 0.30 - 0.7117 * 0.20 - 0.4559 * 0.12,
    0.1511 * 0.12 + 0.1973 * 0.15 + 0.3283 * 0.20 + 0.3407 * 0.25 - 0.7117 * 0.35 - 0.4559 * 0.28,
)

# key -> (value at P1, value at P2), written by hand from the published formula.
EXPECTED = {
    "NDVI": (0.5, 0.05 / 0.45),  # Rouse 1974
    "DVI": (0.2, 0.05),  # Tucker
    "RVI": (3.0, 1.25),  # Jordan
    "EVI": (0.5 / 1.525, 0.125 / 1.55),  # Huete: 2.5(N-R)/(N+6R-7.5B+1)
    "ARVI": (1 / 3, -0.03 / 0.53),  # Kaufman & Tanre, RB = 2R-B = 0.15 / 0.28
    "WET": WET_OLI,  # default set OLI, Baig 2014
    "WET_TM": (  # Crist 1985, SWIR1 coefficient -0.6806
        -0.112845,
        0.0315 * 0.12 + 0.2021 * 0.15 + 0.3102 * 0.20 + 0.1594 * 0.25 - 0.6806 * 0.35 - 0.6109 * 0.28,
    ),
    "WET_ETM": (  # Huang 2002
        0.2626 * 0.05 + 0.2141 * 0.08 + 0.0926 * 0.10 + 0.0656 * 0.30 - 0.7629 * 0.20 - 0.5388 * 0.12,
        0.2626 * 0.12 + 0.2141 * 0.15 + 0.0926 * 0.20 + 0.0656 * 0.25 - 0.7629 * 0.35 - 0.5388 * 0.28,
    ),
    "WET_OLI": WET_OLI,  # Baig 2014
    "SI_BS": SI_BS,  # ningdong eq. 10
    "IBI": IBI,  # Xu 2008, ningdong eq. 11
    "NDBSI": ((SI_BS[0] + IBI[0]) / 2, (SI_BS[1] + IBI[1]) / 2),  # ningdong eq. 9
    "SI_BR": (sqrt(0.005), sqrt(0.024)),  # sqrt(B*R)
    "SI_GR": (sqrt(0.008), sqrt(0.03)),  # sqrt(G*R)
    "SI1": (sqrt(0.18), sqrt(0.35)),  # sqrt(G+R) as printed in the coastal seed
    "SI2": (sqrt(0.1064), sqrt(0.125)),  # Douaoui 2006
    "SI3": (sqrt(0.0164), 0.25),  # Douaoui 2006
    "SI4": (0.2 / 0.3, 1.4),  # SWIR1/NIR, coastal seed
    "S1": (0.5, 0.6),  # Abbas & Khan 2007: B/R
    "S2": (-1 / 3, -0.25),  # (B-R)/(B+R)
    "S3": (0.16, 0.25),  # G*R/B
    "S5": (0.0625, 0.16),  # B*R/G
    "S6": (0.375, 1 / 3),  # R*NIR/G
    "S8": (0.09, 0.175),  # (G+R)/2
    "S9": (0.24, 0.3),  # (G+R+NIR)/2
    "SSSI1": (0.08, 0.07),  # Bannari 2008: SWIR1-SWIR2
    "SSSI1_RN": (-0.2, -0.05),  # coastal variant R-NIR
    "SSSI2": (0.048, 0.056),  # Bannari 2008: (S1*S2-S2^2)/S1
    "SSSI2_RN": (-0.6, -0.0625),  # coastal variant (R*NIR-NIR^2)/R
    "NDSI": (-0.5, -0.05 / 0.45),  # (R-NIR)/(R+NIR)
    "NDMI": (0.2, -0.1 / 0.6),  # Gao 1996
    "CRSI": (sqrt(0.026 / 0.034), sqrt(0.032 / 0.068)),  # Scudiero 2014
    "SRSI": (sqrt(0.255), sqrt((0.05 / 0.45 - 1) ** 2 + 0.024)),  # sqrt((NDVI-1)^2+B*R)
    "SAI": (-0.0436 / 0.0048, 0.0825 / 0.013125),  # coastal seed
    "TRSI": (-0.05 / 0.45, 0.22 / 0.48),  # coastal seed
    "SBCI": (0.2 / sqrt(0.0164), 1.4),  # coastal seed
    "GOSI": (-0.15, -0.1),  # coastal seed
    "MNDWI": (-0.12 / 0.28, -0.4),  # Xu 2006
}


@pytest.fixture
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def test_every_index_has_a_hand_checked_case():
    assert list(EXPECTED) == list(INDICES)


@pytest.mark.parametrize("key", list(INDICES))
def test_index_hand_values(key, no_warnings):
    out = compute_index(key, BANDS)
    assert out.dtype == np.float32 and out.shape == (2,)
    np.testing.assert_allclose(out, EXPECTED[key], rtol=2e-6, atol=1e-7)
    # the function stored on the SpectralIndex gives the same, from float32 input too
    bands32 = {r: v.astype(np.float32) for r, v in BANDS.items()}
    np.testing.assert_allclose(INDICES[key].func(bands32), EXPECTED[key], rtol=1e-5, atol=1e-6)


def test_wet_sets():
    for wet_set, key in (("TM", "WET_TM"), ("ETM", "WET_ETM"), ("etm+", "WET_ETM"), ("OLI", "WET_OLI")):
        np.testing.assert_allclose(
            compute_index("wet", BANDS, wet_set=wet_set), EXPECTED[key], rtol=2e-6, atol=1e-7
        )
    with pytest.raises(KeyError, match="TM"):
        compute_index("WET", BANDS, wet_set="MSS")


def test_wet_tm_uses_crist_coefficient_not_seed_typo():
    assert WET_COEFFICIENTS["TM"][4] == -0.6806
    typo = -0.112845 + 0.0100 * 0.20  # -0.6706 * SWIR1 instead of -0.6806 * SWIR1
    assert abs(compute_index("WET_TM", BANDS)[0] - typo) > 1e-3


def test_undefined_pixels_are_nan_without_warnings(no_warnings):
    zero = np.zeros(3)
    b = {r: np.array([0.1, 0.2, 0.3]) for r in ROLES}
    b["NIR"] = zero.copy()
    b["R"] = np.array([0.0, 0.0, 0.1])
    ndvi = compute_index("NDVI", b)  # 0/0, 0/0, -0.1/0.1
    assert np.isnan(ndvi[:2]).all() and ndvi[2] == pytest.approx(-1.0)
    assert np.isnan(compute_index("RVI", {"R": zero, "NIR": zero + 0.3})).all()  # x/0 -> NaN, not inf
    # CRSI: NIR*R - G*B < 0 -> NaN
    crsi = compute_index("CRSI", dict(B=[0.3, 0.05], G=[0.3, 0.08], R=[0.1, 0.1], NIR=[0.1, 0.3]))
    assert np.isnan(crsi[0]) and crsi[1] == pytest.approx(sqrt(0.026 / 0.034))
    # float32 overflow of a huge ratio -> NaN
    assert np.isnan(compute_index("RVI", {"R": [1e-300], "NIR": [1.0]})).all()


def test_all_indices_finite_or_nan_on_edge_pixels(no_warnings):
    rng = np.random.default_rng(0)
    b = {r: rng.uniform(-0.05, 0.6, (40, 50)) for r in ROLES}
    for r in ROLES:  # zeros, NaN nodata and negatives (over-corrected SR) in each band
        b[r][0, :] = 0.0
        b[r][1, :] = np.nan
        b[r][2, :] = -0.01
    for key in INDICES:
        out = compute_index(key, b)
        assert out.dtype == np.float32 and out.shape == (40, 50)
        assert not np.isinf(out).any(), key
        assert np.isnan(out[1]).all(), key  # NaN input propagates


def test_nan_input_propagates_only_where_used():
    b = {r: v.copy() for r, v in BANDS.items()}
    b["B"][0] = np.nan
    assert not np.isnan(compute_index("NDVI", b)).any()  # NDVI ignores B
    evi = compute_index("EVI", b)
    assert np.isnan(evi[0]) and not np.isnan(evi[1])


def test_keys_case_insensitive_and_aliases():
    b = {"red": BANDS["R"], "Nir": BANDS["NIR"]}
    np.testing.assert_allclose(compute_index("ndvi", b), EXPECTED["NDVI"], rtol=2e-6)


def test_unknown_key_and_missing_band():
    with pytest.raises(KeyError, match="NDVI"):  # message lists valid keys
        compute_index("NDVX", BANDS)
    with pytest.raises(KeyError, match="SWIR1"):
        compute_index("NDMI", {"NIR": BANDS["NIR"]})


def test_bands_for():
    assert bands_for(["NDVI"]) == ("R", "NIR")
    assert bands_for(["mndwi", "EVI"]) == ("B", "G", "R", "NIR", "SWIR1")
    assert bands_for(["WET"]) == ROLES
    assert bands_for([]) == ()


def test_metadata_consistent():
    for key, idx in INDICES.items():
        assert idx.key == key and idx.title and idx.formula and idx.source
        assert set(idx.bands) <= set(ROLES)
        idx.func({r: BANDS[r] for r in idx.bands})  # needs no other band
    assert "LST" not in INDICES
