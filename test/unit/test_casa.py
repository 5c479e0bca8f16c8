"""CASA NPP core (mining_eco_plugin/core/casa.py): every step against hand computations in plain
Python ``math`` (each test names the formula source), the published numbers of Zhu et al. 2007's
parameter table and of changhe (seed) Table 2, and numpy references for the statistics."""
import math

import numpy as np
import pytest

from mining_eco_plugin.core import casa

CLCD = casa.CLCD_DEFAULTS


def col(values):
    """(m,) list -> (m, 1) array: one pixel."""
    return np.asarray(values, dtype=np.float64)[:, None]


# ---------------------------------------------------------------- FPAR ----------------------


def test_fpar_bounds_at_class_percentiles():
    """Zhu et al. 2007 / Potter et al. 1993: FPAR = FPAR_min at NDVI_min (5 % percentile) and
    FPAR_max at NDVI_max (95 %), for both the NDVI and the SR form; clipped outside."""
    c = CLCD[4]  # grassland: 0.023 .. 0.634
    lo, hi = c.sr_bounds()
    ndvi = np.array([c.ndvi_min, c.ndvi_max, -0.3, 0.9, 1.0])
    for f in (casa.fpar_ndvi(ndvi, c.ndvi_min, c.ndvi_max),
              casa.fpar_sr(ndvi, lo, hi),
              casa.fpar(ndvi, c.ndvi_min, c.ndvi_max, lo, hi)):
        assert f[0] == pytest.approx(0.001, abs=1e-12)
        assert f[1] == pytest.approx(0.95, abs=1e-12)
        assert f[2] == 0.001 and f[3] == 0.95 and f[4] == 0.95


def test_fpar_midpoint_by_hand():
    """Hand computation of Zhu et al. 2007's FPAR at NDVI = 0.4 for cropland (0.023 .. 0.610):
    FPAR_NDVI and FPAR_SR linear between the bounds, averaged with alpha = 0.5."""
    ndvi, nmin, nmax = 0.4, 0.023, 0.610
    f_ndvi = (ndvi - nmin) / (nmax - nmin) * (0.95 - 0.001) + 0.001
    sr = (1 + ndvi) / (1 - ndvi)
    srmin, srmax = (1 + nmin) / (1 - nmin), (1 + nmax) / (1 - nmax)
    f_sr = (sr - srmin) / (srmax - srmin) * (0.95 - 0.001) + 0.001
    expected = 0.5 * f_ndvi + 0.5 * f_sr
    assert casa.fpar_ndvi(ndvi, nmin, nmax) == pytest.approx(f_ndvi, rel=1e-12)
    assert casa.fpar_sr(ndvi, srmin, srmax) == pytest.approx(f_sr, rel=1e-12)
    got = casa.fpar(np.array([ndvi]), np.array([nmin]), np.array([nmax]), np.array([srmin]),
                    np.array([srmax]))
    assert got[0] == pytest.approx(expected, rel=1e-12)
    # the SR form is convex in NDVI: below the NDVI form between the bounds
    assert f_sr < f_ndvi
    # alpha = 1 -> NDVI form only, alpha = 0 -> SR form only
    assert casa.fpar(ndvi, nmin, nmax, srmin, srmax, weight=1.0) == pytest.approx(f_ndvi)
    assert casa.fpar(ndvi, nmin, nmax, srmin, srmax, weight=0.0) == pytest.approx(f_sr)


def test_sr_conversion_matches_zhu_table():
    """SR = (1 + NDVI)/(1 - NDVI) (Potter et al. 1993); Zhu et al. 2007's table lists SR_min 1.05
    for NDVI_min 0.023, SR_max 4.67 for NDVI_max 0.647 and 4.13 for 0.610 (2 decimals)."""
    assert casa.sr_from_ndvi(0.023) == pytest.approx(1.05, abs=0.005)
    assert casa.sr_from_ndvi(0.647) == pytest.approx(4.67, abs=0.005)
    assert casa.sr_from_ndvi(0.610) == pytest.approx(4.13, abs=0.005)
    assert casa.sr_from_ndvi(0.0) == 1.0 and math.isinf(casa.sr_from_ndvi(1.0))
    c = casa.CasaClass(1, "x", 0.5, 0.1, 0.5)
    assert c.sr_bounds() == pytest.approx((1.1 / 0.9, 1.5 / 0.5))
    given = casa.CasaClass(1, "x", 0.5, 0.1, 0.5, sr_min=1.08, sr_max=7.0)
    assert given.sr_bounds() == (1.08, 7.0)


# ---------------------------------------------------------------- temperature ---------------


def test_t_eps1_by_hand():
    """Potter et al. 1993: T_eps1 = 0.8 + 0.02 T_opt - 0.0005 T_opt^2 -> 1.0 at 20 C, 0.95 at
    30 C, 0.8 at 0 C; Zhu et al. 2007: 0 in months at or below -10 C."""
    assert casa.t_eps1(20.0) == pytest.approx(1.0)
    assert casa.t_eps1(30.0) == pytest.approx(0.95)
    assert casa.t_eps1(0.0) == pytest.approx(0.8)
    per_month = casa.t_eps1(np.array([20.0]), np.array([[-12.0], [-10.0], [-9.9], [15.0]]))
    assert per_month[:, 0] == pytest.approx([0.0, 0.0, 1.0, 1.0])
    no_rule = casa.t_eps1(np.array([20.0]), np.array([[-12.0]]), cold_limit=None)
    assert no_rule[0, 0] == pytest.approx(1.0)


def test_t_eps2_at_optimum_and_half_value_rule():
    """Potter et al. 1993's curve at T = T_opt is 1.1814/((1 + e^-2)(1 + e^-3)) = 0.9912 for any
    T_opt; Zhu et al. 2007's rule: more than 10 C above or 13 C below T_opt -> half of that."""
    peak = 1.1814 / (1 + math.exp(-2)) / (1 + math.exp(-3))
    assert peak == pytest.approx(0.9912, abs=1e-4)
    for t_opt in (5.0, 20.0, 28.0):
        assert casa.t_eps2(t_opt, t_opt) == pytest.approx(peak, rel=1e-12)
        assert casa.t_eps2(t_opt + 10.5, t_opt) == pytest.approx(peak / 2, rel=1e-12)
        assert casa.t_eps2(t_opt - 13.5, t_opt) == pytest.approx(peak / 2, rel=1e-12)
        # exactly +10 / -13 keep the curve (strict inequality), computed by hand
        at_plus10 = 1.1814 / (1 + math.exp(0.2 * (-20))) / (1 + math.exp(0.0))
        at_minus13 = 1.1814 / (1 + math.exp(0.2 * 3)) / (1 + math.exp(0.3 * -23))
        assert casa.t_eps2(t_opt + 10, t_opt) == pytest.approx(at_plus10, rel=1e-12)
        t = t_opt - 13
        curve = 1.1814 / (1 + math.exp(0.2 * (t_opt - 10 - t))) / (1 + math.exp(0.3 * (-t_opt - 10 + t)))
        assert casa.t_eps2(t, t_opt) == pytest.approx(curve, rel=1e-12)
        assert at_minus13 == pytest.approx(curve, rel=1e-12)
    # without the rule: the bare curve, which is below the peak away from T_opt
    bare = casa.t_eps2(35.0, 20.0, half_rule=False)
    assert bare == pytest.approx(1.1814 / (1 + math.exp(0.2 * (-25))) / (1 + math.exp(0.3 * 5)))
    assert bare < peak / 2


def test_optimum_temperature_month_of_max_ndvi():
    """Zhu et al. 2007: T_opt is the temperature of the month of maximum NDVI (hand-picked
    months; ties -> first, NaN NDVI skipped, all-NaN -> NaN)."""
    ndvi = np.array([[0.2, 0.5, np.nan, np.nan],
                     [0.7, 0.5, 0.3, np.nan],
                     [0.4, 0.1, np.nan, np.nan]])
    temp = np.array([[1.0, 2.0, 3.0, 4.0],
                     [21.0, 22.0, 23.0, 24.0],
                     [11.0, 12.0, 13.0, 14.0]])
    t_opt = casa.optimum_temperature(ndvi, temp)
    assert t_opt[:3].tolist() == [21.0, 2.0, 23.0] and np.isnan(t_opt[3])


# ---------------------------------------------------------------- water ---------------------


def test_heat_index_and_thornthwaite_by_hand():
    """Thornthwaite 1948: I = sum (T/5)^1.514 over months with T > 0, a = cubic in I,
    Ep0 = 16 (10 T / I)^a mm/month, 0 for T <= 0: hand computation in math."""
    temps = [-3.5, -0.5, 5.5, 12.5, 18, 22, 23.5, 22, 17, 11.5, 4.5, -1.5]
    i_hand = sum((t / 5) ** 1.514 for t in temps if t > 0)
    a = 6.75e-7 * i_hand ** 3 - 7.71e-5 * i_hand ** 2 + 1.792e-2 * i_hand + 0.49239
    ep0_hand = [16 * (10 * t / i_hand) ** a if t > 0 else 0.0 for t in temps]
    i = casa.heat_index(col(temps))
    assert i[0] == pytest.approx(i_hand, rel=1e-12)
    assert casa.thornthwaite_pet(col(temps), i)[:, 0] == pytest.approx(ep0_hand, rel=1e-12)
    # at T = I/10 the ratio is 1: Ep0 = 16 mm whatever a is
    assert casa.thornthwaite_pet(np.array([[i_hand / 10]]), i)[0, 0] == pytest.approx(16.0)


def test_regional_eet_and_net_radiation_limits():
    """Zhou & Zhang 1995: EET(P = Rn) = 3/4 P by hand; EET -> Rn for P >> Rn and -> 0 at P = 0;
    Rn = sqrt(Ep0 P)(0.369 + 0.598 sqrt(Ep0/P)) equals 0.369 sqrt(Ep0 P) + 0.598 Ep0 and is
    0.598 Ep0 at P = 0."""
    assert casa.regional_eet(40.0, 40.0) == pytest.approx(30.0)
    assert casa.regional_eet(1e7, 50.0) == pytest.approx(50.0, rel=1e-4)
    assert casa.regional_eet(50.0, 1e7) == pytest.approx(50.0, rel=1e-4)
    assert casa.regional_eet(0.0, 50.0) == 0.0 and casa.regional_eet(0.0, 0.0) == 0.0
    ep0, p = 90.0, 60.0
    rn_paper = math.sqrt(ep0 * p) * (0.369 + 0.598 * math.sqrt(ep0 / p))
    assert casa.net_radiation(ep0, p) == pytest.approx(rn_paper, rel=1e-12)
    assert casa.net_radiation(ep0, 0.0) == pytest.approx(0.598 * ep0)
    p_, r_ = 35.0, rn_paper
    eet_hand = p_ * r_ * (p_ ** 2 + r_ ** 2 + p_ * r_) / ((p_ + r_) * (p_ ** 2 + r_ ** 2))
    assert casa.regional_eet(p_, r_) == pytest.approx(eet_hand, rel=1e-12)


def _eet_minus_ep0(p, ep0):
    rn = math.sqrt(ep0 * p) * (0.369 + 0.598 * math.sqrt(ep0 / p))
    eet = p * rn * (p * p + rn * rn + p * rn) / ((p + rn) * (p * p + rn * rn))
    return eet - ep0


def test_w_eps_limits():
    """Potter et al. 1993: W_eps = 0.5 + 0.5 EET/PET runs from 0.5 (dry: P = 0 -> EET = 0) to 1
    (EET = PET).  The precipitation that makes EET = Ep0 (so PET = (EET + Ep0)/2 = EET) is
    found by bisection on Zhou & Zhang's formulas in plain math; W_eps there is 1."""
    temps = [0.5, 2.0, 8.0, 14.0, 19.0, 23.0, 25.0, 23.0, 18.0, 12.0, 6.0, 1.0]
    t = col(temps)
    dry = casa.w_eps(t, np.zeros_like(t))
    assert dry[:, 0] == pytest.approx([0.5] * 12)
    i = casa.heat_index(t)[0]
    ep0_jul = casa.thornthwaite_pet(np.array([[25.0]]), np.array([i]))[0, 0]
    lo, hi = 1e-6, 1e5
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if _eet_minus_ep0(mid, ep0_jul) < 0 else (lo, mid)
    p = np.full_like(t, 30.0)
    p[6, 0] = 0.5 * (lo + hi)
    w = casa.w_eps(t, p, clip=False)
    assert w[6, 0] == pytest.approx(1.0, abs=1e-9)
    # wetter than that: EET > Ep0; clipped to 1 by default, above 1 without the clip
    p[6, 0] = 5000.0
    assert casa.w_eps(t, p)[6, 0] == 1.0
    assert casa.w_eps(t, p, clip=False)[6, 0] > 1.0
    w_all = casa.w_eps(t, p)
    assert np.all((w_all >= 0.5) & (w_all <= 1.0))


def test_w_eps_frozen_months_take_previous_month():
    """Zhu et al. 2007 convention: a month with T <= 0 C (Thornthwaite Ep0 = 0, EET/PET
    undefined) takes the W_eps of the previous month, cyclically for the leading months; a
    number given instead is used as is; a pixel with no unfrozen month gets 1."""
    temps = col([-5.0, -1.0, 6.0, 12.0, 18.0, 0.0, 22.0, 20.0, 15.0, 9.0, 3.0, -2.0])
    precip = col([5.0, 8.0, 20.0, 30.0, 50.0, 60.0, 130.0, 110.0, 70.0, 30.0, 15.0, 4.0])
    w = casa.w_eps(temps, precip)[:, 0]
    unfrozen = casa.w_eps(temps, precip, frozen=0.0)[:, 0]
    assert w[0] == w[1] == w[11] == unfrozen[10]   # Nov carried to Dec, Jan, Feb
    assert w[5] == unfrozen[4]                      # June at 0 C takes May
    assert casa.w_eps(temps, precip, frozen=1.0)[0, 0] == 1.0
    cold = casa.w_eps(col([-5.0, -3.0]), col([10.0, 10.0]))
    assert cold[:, 0].tolist() == [1.0, 1.0]


# ---------------------------------------------------------------- NPP -----------------------

CHANGHE_T = [-3.5, -0.5, 5.5, 12.5, 18.0, 22.0, 23.5, 22.0, 17.0, 11.5, 4.5, -1.5]
CHANGHE_P = [6, 10, 20, 32, 50, 75, 135, 115, 70, 35, 17, 5]
CHANGHE_SOL = [260, 290, 390, 480, 560, 560, 520, 480, 390, 340, 270, 240]


def test_apar_uses_the_par_fraction():
    """changhe eq. 3: APAR = SOL x FPAR x 0.5; NPP is linear in the PAR fraction."""
    c = CLCD[1]
    params = casa.class_parameters(np.array([1]), CLCD)
    ndvi = col([0.2, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.6, 0.5, 0.3, 0.25, 0.2])
    args = (ndvi, col(CHANGHE_T), col(CHANGHE_P), col(CHANGHE_SOL), params)
    npp, comp = casa.npp_monthly(*args, components=True)
    lo, hi = c.sr_bounds()
    f = casa.fpar(ndvi, c.ndvi_min, c.ndvi_max, lo, hi)
    assert comp["apar"] == pytest.approx(col(CHANGHE_SOL) * f * 0.5, rel=1e-6)
    full = casa.npp_monthly(*args, par_fraction=1.0)
    assert full == pytest.approx(2 * npp, rel=1e-6)


def test_one_month_npp_by_hand():
    """A full month (July) of one cropland pixel computed step by step with plain math from the
    formulas of Potter et al. 1993, Zhu et al. 2007 and Zhou & Zhang 1995 (see core/casa.py)."""
    ndvi = [0.15, 0.15, 0.16, 0.18, 0.25, 0.40, 0.58, 0.64, 0.48, 0.25, 0.17, 0.15]
    temps, precip, sol = CHANGHE_T, CHANGHE_P, CHANGHE_SOL
    k = 6  # July
    # FPAR, cropland (eps_max 0.542, NDVI 0.023 .. 0.610)
    nmin, nmax, eps_max = 0.023, 0.610, 0.542
    f_ndvi = (ndvi[k] - nmin) / (nmax - nmin) * 0.949 + 0.001
    sr = lambda v: (1 + v) / (1 - v)  # noqa: E731
    f_sr = (sr(ndvi[k]) - sr(nmin)) / (sr(nmax) - sr(nmin)) * 0.949 + 0.001
    fpar_ = min(max(0.5 * f_ndvi + 0.5 * f_sr, 0.001), 0.95)
    apar = sol[k] * fpar_ * 0.5
    # temperature: NDVI peaks in August (0.64) -> T_opt = 22.0
    t_opt = temps[ndvi.index(max(ndvi))]
    assert t_opt == 22.0
    te1 = 0.8 + 0.02 * t_opt - 0.0005 * t_opt ** 2
    t = temps[k]
    te2 = 1.1814 / (1 + math.exp(0.2 * (t_opt - 10 - t))) / (1 + math.exp(0.3 * (-t_opt - 10 + t)))
    # water: Thornthwaite Ep0, Zhou & Zhang Rn and EET
    i = sum((t / 5) ** 1.514 for t in temps if t > 0)
    a = 6.75e-7 * i ** 3 - 7.71e-5 * i ** 2 + 1.792e-2 * i + 0.49239
    ep0 = 16 * (10 * temps[k] / i) ** a
    p = precip[k]
    rn = math.sqrt(ep0 * p) * (0.369 + 0.598 * math.sqrt(ep0 / p))
    eet = p * rn * (p ** 2 + rn ** 2 + p * rn) / ((p + rn) * (p ** 2 + rn ** 2))
    pet = (eet + ep0) / 2
    w = 0.5 + 0.5 * min(eet / pet, 1.0)
    npp_hand = apar * eps_max * te1 * te2 * w
    got, comp = casa.npp_monthly(col(ndvi), col(temps), col(precip), col(sol),
                                 casa.class_parameters(np.array([1]), CLCD), components=True)
    assert comp["fpar"][k, 0] == pytest.approx(fpar_, rel=1e-6)  # float32 parameters
    assert comp["t_eps1"][k, 0] == pytest.approx(te1, rel=1e-12)
    assert comp["t_eps2"][k, 0] == pytest.approx(te2, rel=1e-12)
    assert comp["w_eps"][k, 0] == pytest.approx(w, rel=1e-12)
    assert got.dtype == np.float32
    assert float(got[k, 0]) == pytest.approx(npp_hand, rel=1e-6)
    assert 40 < npp_hand < 120  # gC m-2 in a peak month: the range of CASA studies in N China


def test_nan_inputs_give_nan_npp_and_water_gives_zero():
    """NaN in any input month -> NaN NPP for that month only; eps_max = 0 (water default,
    documented in CLCD_DEFAULTS) -> NPP 0."""
    codes = np.array([1, 5, np.nan])
    params = casa.class_parameters(codes, CLCD)
    ndvi = np.tile(col([0.2, 0.3, 0.5, 0.6]), (1, 3))
    t = np.tile(col([5.0, 12.0, 20.0, 22.0]), (1, 3))
    p = np.tile(col([20.0, 40.0, 90.0, 110.0]), (1, 3))
    s = np.tile(col([400.0, 480.0, 560.0, 520.0]), (1, 3))
    p[1, 0] = np.nan
    npp = casa.npp_monthly(ndvi, t, p, s, params)
    assert np.isnan(npp[1, 0]) and np.all(np.isfinite(npp[[0, 2, 3], 0]))
    assert np.all(npp[:, 1] == 0.0)
    assert np.all(np.isnan(npp[:, 2]))
    assert np.isnan(casa.annual_npp(npp)[0])
    assert casa.annual_npp(npp, allow_missing=True)[0] == pytest.approx(np.nansum(npp[:, 0]), rel=1e-6)


def test_synthetic_changhe_table2_order_of_magnitude():
    """Order-of-magnitude check against changhe Table 2 (simulated NPP 2010-2015, gC m-2 yr-1):
    forest 429.38 > grassland 286.93 > farmland 244.40 > construction 167.52 (mean 290.13).

    Inputs (all TYPICAL values, not measurements of the basin):
    * climate of the Changhe basin (Jincheng, SE Shanxi, ~35.6 N, 700-1100 m): monthly mean
      temperature, precipitation and total solar radiation of a temperate semi-arid monsoon
      climate, as typical climate normals of south-east Shanxi (annual mean ~10.9 C, ~570 mm with
      a July-August maximum, ~4800 MJ m-2 yr-1): see CHANGHE_T / _P / _SOL above;
    * one 12-month NDVI profile per class, plausible for 30 m NDVI there: mixed pine-oak forest
      (winter 0.32, peak 0.82), grassland on loess hills (0.20 .. 0.58, green from April to
      October), single-season cropland (spring maize, bare 0.15 until May, peak 0.64 in August),
      construction land (rural settlements with gardens, 0.14 .. 0.33);
    * the default CLCD parameters (Zhu et al. 2006/2007; construction = CLCD 8 "impervious").

    What it validates: with the default parameters the model puts the classes in the seed's
    order and each annual NPP within a factor 2 of Table 2 (units, the 0.5 PAR fraction and the
    stress factors are of the right magnitude; a wrong unit or a missing factor of 10 or 12
    would fail).  What it does not: it is not a reproduction of the seed's map (no real
    Changhe NDVI or climate rasters), and the grassland > farmland order comes from the NDVI
    profiles chosen (the longer green season of grassland), not from the parameters, which
    differ only in NDVI_max (0.634 vs 0.610).  The model gives 1.3-1.8 times the seed's values
    with these typical inputs.
    """
    profiles = {
        2: [0.32, 0.33, 0.38, 0.50, 0.68, 0.78, 0.82, 0.82, 0.74, 0.58, 0.42, 0.34],
        4: [0.20, 0.20, 0.24, 0.33, 0.45, 0.53, 0.58, 0.58, 0.50, 0.38, 0.26, 0.21],
        1: [0.15, 0.15, 0.16, 0.18, 0.25, 0.40, 0.58, 0.64, 0.48, 0.25, 0.17, 0.15],
        8: [0.14, 0.14, 0.16, 0.20, 0.26, 0.30, 0.33, 0.33, 0.28, 0.22, 0.16, 0.14],
    }
    table2 = {2: 429.38, 4: 286.93, 1: 244.40, 8: 167.52}
    codes = np.array(list(profiles))
    ndvi = np.array([profiles[c] for c in codes]).T
    n = len(codes)
    rep = lambda v: np.repeat(np.asarray(v, dtype=float)[:, None], n, axis=1)  # noqa: E731
    for name, values, kind in (("NDVI", ndvi, "ndvi"), ("T", CHANGHE_T, "temperature"),
                               ("P", CHANGHE_P, "precipitation"), ("SOL", CHANGHE_SOL, "radiation")):
        assert casa.check_plausible(name, values, kind) == []
    npp = casa.npp_monthly(ndvi, rep(CHANGHE_T), rep(CHANGHE_P), rep(CHANGHE_SOL),
                           casa.class_parameters(codes, CLCD))
    annual = dict(zip(codes.tolist(), casa.annual_npp(npp).tolist()))
    print({CLCD[c].name: round(v, 1) for c, v in annual.items()})
    assert annual[2] > annual[4] > annual[1] > annual[8]
    for c, ref in table2.items():
        assert ref / 2 <= annual[c] <= ref * 2, (CLCD[c].name, annual[c], ref)
    mean4 = sum(annual.values()) / 4
    assert 290.13 / 2 <= mean4 <= 290.13 * 2


def test_npp_input_shapes_must_agree():
    """A month missing in one block input is an error naming the inputs (issue 6)."""
    params = casa.class_parameters(np.array([1]), CLCD)
    with pytest.raises(ValueError, match="TEMPERATURE"):
        casa.npp_monthly(col([0.3] * 12), col([10.0] * 11), col([20.0] * 12), col([400.0] * 12),
                         params)


# ---------------------------------------------------------------- checks --------------------


def test_check_months_names_the_odd_input():
    """issue 6: mismatched month counts are a clear error naming the input that differs."""
    ok = {"NDVI": 12, "TEMPERATURE": 12, "PRECIPITATION": 12, "SOLAR_RADIATION": 12}
    assert casa.check_months(ok) == 12
    with pytest.raises(ValueError) as err:
        casa.check_months({**ok, "TEMPERATURE": 11})
    msg = str(err.value)
    assert "TEMPERATURE has 11" in msg and "have 12" in msg and "NDVI" in msg
    with pytest.raises(ValueError, match="PRECIPITATION has no months"):
        casa.check_months({**ok, "PRECIPITATION": 0})


def test_check_plausible_hard_and_soft_issues():
    """issue 6: Kelvin temperatures, NDVI outside [-1, 1] and negative precipitation /
    radiation are errors; a radiation in the wrong unit is a warning (typical monthly totals
    300-800 MJ/m2 in summer; daily totals 5-30 MJ/m2/day; W/m2 means 50-300)."""
    kelvin = np.array([265.2, 280.0, 300.1, np.nan])
    with pytest.raises(ValueError) as err:
        casa.check_plausible("TEMPERATURE", kelvin, "temperature")
    assert str(err.value) == ("TEMPERATURE looks like Kelvin (values 265-300): give degrees "
                              "Celsius (subtract 273.15)")
    with pytest.raises(ValueError, match="implausible"):
        casa.check_plausible("TEMPERATURE", np.array([-50.0, 150.0]), "temperature")
    assert casa.check_plausible("TEMPERATURE", np.array([-25.0, 35.0]), "temperature") == []
    with pytest.raises(ValueError, match=r"NDVI has values .* outside \[-1, 1\].*0\.0001"):
        casa.check_plausible("NDVI", np.array([120.0, 8000.0]), "ndvi")
    with pytest.raises(ValueError, match="outside"):
        casa.check_plausible("NDVI", np.array([-1.2, 0.5]), "ndvi")
    with pytest.raises(ValueError, match="PRECIPITATION has negative"):
        casa.check_plausible("PRECIPITATION", np.array([-1.0, 30.0]), "precipitation")
    assert casa.check_plausible("PRECIPITATION", np.array([0.0, 3000.0]), "precipitation")
    with pytest.raises(ValueError, match="SOLAR_RADIATION has negative"):
        casa.check_plausible("SOLAR_RADIATION", np.array([-5.0, 500.0]), "radiation")
    daily = casa.check_plausible("SOLAR_RADIATION", np.array([8.0, 25.0]), "radiation")
    assert len(daily) == 1 and "daily" in daily[0]
    wm2 = casa.check_plausible("SOLAR_RADIATION", np.array([90.0, 240.0]), "radiation")
    assert len(wm2) == 1 and "W/m2" in wm2[0]
    assert casa.check_plausible("SOLAR_RADIATION", np.array([240.0, 560.0]), "radiation") == []
    assert casa.check_plausible("SOLAR_RADIATION", np.array([np.nan]), "radiation") == []


# ---------------------------------------------------------------- class table ---------------


def test_default_table_round_trip_and_zhu_values():
    """Zhu et al. 2006 eps_max (cropland / grassland 0.542, shrub 0.429, mixed forest 0.475) and
    Zhu et al. 2007 NDVI_min 0.023; the matrix default parses back to CLCD_DEFAULTS."""
    cells = casa.default_table_cells()
    assert len(cells) == 9 * 7
    assert casa.parse_class_table(cells) == CLCD
    assert (CLCD[1].eps_max, CLCD[4].eps_max, CLCD[3].eps_max, CLCD[2].eps_max) == \
        (0.542, 0.542, 0.429, 0.475)
    assert {c.ndvi_min for c in CLCD.values()} == {0.023}
    assert CLCD[5].eps_max == 0 and CLCD[6].eps_max == 0
    assert sorted(CLCD) == list(range(1, 10))


def test_parse_class_table_values_and_errors():
    """Bad cells are errors naming CLASS_TABLE, the row and the column (issue 6, DESIGN: class
    tables are editable matrix parameters)."""
    row = ["11", "Orchard", "0.6", "0.05", "0.7", "1.1", "5.5"]
    table = casa.parse_class_table(row + ["12", "", "0.5", "0.023", "0.6", "", None])
    assert table[11] == casa.CasaClass(11, "Orchard", 0.6, 0.05, 0.7, 1.1, 5.5)
    assert table[12].name == "class 12" and table[12].sr_min is None
    cases = [
        (row[:6], "not a multiple of 7"),
        (["1.5"] + row[1:], "row 1, column code"),
        (row + ["x"] + row[1:], "row 2, column code: 'x' is not a number"),
        (row[:2] + ["abc"] + row[3:], "row 1, column eps_max: 'abc' is not a number"),
        (row[:2] + ["-0.1"] + row[3:], "column eps_max"),
        (row[:3] + ["0.8"] + row[4:], "row 1, column ndvi_max"),
        (row[:4] + ["1.5"] + row[5:], "row 1, column ndvi_max: 1.5 is outside"),
        (row[:4] + [""] + row[5:], "row 1, column ndvi_max is empty"),
        (row[:5] + ["6", "5.5"], "row 1, column sr_max"),
        (row + row, "row 2, column code: code 11 appears twice"),
        ([], "CLASS_TABLE is empty"),
    ]
    for cells, words in cases:
        with pytest.raises(ValueError) as err:
            casa.parse_class_table(cells)
        assert "CLASS_TABLE" in str(err.value) and words in str(err.value), (words, str(err.value))


def test_class_parameters_per_pixel_and_missing_codes():
    """Per-pixel lookup equals the table entries; codes without a row are listed in the error
    (issue 6: "land-cover codes without parameters")."""
    codes = np.array([[1, 2], [4, 0]], dtype=np.uint8)
    params = casa.class_parameters(codes, CLCD, nodata_mask=codes == 0)
    assert params["eps_max"].dtype == np.float32
    assert params["eps_max"][0].tolist() == pytest.approx([0.542, 0.475])
    assert params["ndvi_max"][1, 0] == pytest.approx(0.634)
    assert params["sr_min"][0, 0] == pytest.approx(1.023 / 0.977)
    assert all(np.isnan(v[1, 1]) for v in params.values())
    with pytest.raises(ValueError) as err:
        casa.class_parameters(np.array([1, 11, 12, 12, 4]), CLCD)
    assert str(err.value) == ("LANDCOVER codes 11, 12 have no parameters in CLASS_TABLE: "
                              "add rows for them")
    with pytest.raises(ValueError, match="LANDCOVER code 0 has no parameters"):
        casa.class_parameters(codes, CLCD)
    with pytest.raises(ValueError, match="non-integer"):
        casa.class_parameters(np.array([1.0, 2.5]), CLCD)


# ---------------------------------------------------------------- statistics ----------------


def test_running_class_stats_equal_numpy_per_class():
    """Streaming per-class statistics over uneven blocks equal numpy's mean / std (ddof 0 and 1)
    / min / max of each class and of all pixels; CV = sd/mean x 100 (changhe 3.1:
    110.18 / 290.13 = 37.98 %)."""
    rng = np.random.default_rng(6)
    values = rng.normal(290.0, 110.0, 10_000)
    values[rng.random(values.size) < 0.05] = np.nan
    codes = rng.integers(1, 5, values.size)
    names = {1: "Cropland", 2: "Forest", 4: "Grassland"}
    for ddof in (0, 1):
        acc = casa.RunningClassStats(ddof=ddof)
        for lo, hi in ((0, 7), (7, 3000), (3000, 3001), (3001, 10_000)):
            acc.add(values[lo:hi], codes[lo:hi])
        rows = acc.rows(names)
        assert [r["code"] for r in rows] == [1, 2, 3, 4, None]
        assert rows[2]["name"] == "class 3" and rows[-1]["name"] == "All"
        ok = np.isfinite(values)
        for r in rows:
            sel = ok if r["code"] is None else ok & (codes == r["code"])
            v = values[sel]
            assert r["n"] == v.size
            assert r["mean"] == pytest.approx(v.mean(), rel=1e-12)
            assert r["sd"] == pytest.approx(v.std(ddof=ddof), rel=1e-10)
            assert r["cv"] == pytest.approx(v.std(ddof=ddof) / v.mean() * 100, rel=1e-10)
            assert (r["min"], r["max"]) == (v.min(), v.max())
        one_go = casa.class_statistics(values, codes, names, ddof=ddof)
        for a, b in zip(rows, one_go):
            assert a["n"] == b["n"] and a["mean"] == pytest.approx(b["mean"], rel=1e-12)
            assert a["sd"] == pytest.approx(b["sd"], rel=1e-10)
    seed = casa.class_statistics(np.array([290.13 - 110.18, 290.13 + 110.18]), np.array([1, 1]))
    assert seed[0]["cv"] == pytest.approx(37.98, abs=0.005)
    empty = casa.RunningClassStats().rows()
    assert len(empty) == 1 and empty[0]["n"] == 0


def test_npp_is_per_pixel_whatever_the_block():
    """The raster engine walks blocks: NPP of a pixel must not depend on the other pixels of
    its block (T_opt, Thornthwaite's I and the frozen-month rule are per pixel).  Reference:
    the same pixels computed one at a time, float32 inputs as read from rasters."""
    rng = np.random.default_rng(66)
    m, n = 12, 300
    ndvi = rng.uniform(-0.1, 0.9, (m, n)).astype(np.float32)
    temp = (np.array(CHANGHE_T)[:, None] + rng.normal(0, 3, (m, n))).astype(np.float32)
    precip = rng.uniform(0, 150, (m, n)).astype(np.float32)
    sol = rng.uniform(200, 600, (m, n)).astype(np.float32)
    ndvi[rng.random((m, n)) < 0.03] = np.nan
    codes = rng.integers(1, 10, n)
    params = casa.class_parameters(codes, CLCD)
    block = casa.npp_monthly(ndvi, temp, precip, sol, params)
    for j in range(0, n, 37):
        one = casa.npp_monthly(ndvi[:, j:j + 1], temp[:, j:j + 1], precip[:, j:j + 1],
                               sol[:, j:j + 1], {k: v[j:j + 1] for k, v in params.items()})
        np.testing.assert_array_equal(one[:, 0], block[:, j])


# ---------------------------------------------------------------- fused computation ---------


#: the published coefficients, typed from the papers (not read from core.casa): Potter et al. 1993
#: (T_eps1 0.8 / 0.02 / 0.0005; T_eps2 1.1814, rates 0.2 / 0.3, shifts 10 / 10), Thornthwaite 1948
#: (I = sum (T/5)^1.514, Ep0 = 16 (10 T / I)^a, a's cubic), Zhou & Zhang 1995 (Rn 0.369 / 0.598)
PUBLISHED = dict(t_eps1_c0=0.8, t_eps1_c1=0.02, t_eps1_c2=0.0005, t_eps2_scale=1.1814,
                 t_eps2_low_rate=0.2, t_eps2_high_rate=0.3, t_eps2_low_shift=10.0,
                 t_eps2_high_shift=10.0, heat_divisor=5.0, heat_exponent=1.514, ep0_scale=16.0,
                 ep0_t_factor=10.0, a_coeffs=(6.75e-7, -7.71e-5, 1.792e-2, 0.49239),
                 rn_sqrt_coeff=0.369, rn_ep0_coeff=0.598)


def per_formula_npp(ndvi, temp, precip, sol, eps_max, nmin, nmax, smin, smax, *, par=0.5,
                    fpar_min=0.001, fpar_max=0.95, weight=0.5, heat=None, frozen="previous",
                    half_rule=True, cold=-10.0, above=10.0, below=13.0, k=None):
    """Monthly NPP written formula by formula (float64 numpy, per-pixel loops where a rule picks
    months), independent of core.casa: changhe eqs. 2-4; FPAR of Zhu et al. 2007 (NDVI and SR
    forms, clipped, averaged); T_eps1 / T_eps2 of Potter et al. 1993 with Zhu et al. 2007's
    -10 C and half-value rules; W_eps from Zhou & Zhang 1995 with Thornthwaite 1948's Ep0 in
    the power form 16 (10 T / I)^a, Rn in the paper's form sqrt(Ep0 P)(0.369 + 0.598
    sqrt(Ep0 / P)) (its limit 0.598 Ep0 at P = 0), frozen months (Ep0 = 0) taking the previous
    month that is neither frozen nor NaN, cyclically, else 1 (the convention of core.casa.w_eps).
    ``k``: coefficients replacing those of PUBLISHED (same names)."""
    kc = {**PUBLISHED, **(k or {})}
    nd, t, p, s = (np.asarray(x, dtype=np.float64) for x in (ndvi, temp, precip, sol))
    m, n = t.shape
    t_opt = np.full(n, np.nan)
    for j in range(n):
        if not np.all(np.isnan(nd[:, j])):
            t_opt[j] = t[int(np.nanargmax(nd[:, j])), j]        # first month of maximum NDVI
    if heat is None:
        heat = np.array([sum((v / kc["heat_divisor"]) ** kc["heat_exponent"] for v in t[:, j] if v > 0)
                         if not np.all(np.isnan(t[:, j])) else np.nan for j in range(n)])
    heat = np.broadcast_to(np.asarray(heat, dtype=np.float64), (n,))
    a3, a2, a1, a0 = kc["a_coeffs"]
    a = a3 * heat ** 3 + a2 * heat ** 2 + a1 * heat + a0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ep0 = np.where((t > 0) & (heat > 0), kc["ep0_scale"] * (kc["ep0_t_factor"] * t / heat) ** a, 0.0)
        ep0[np.isnan(t) | np.isnan(heat)] = np.nan
        rn = np.where(p > 0, np.sqrt(ep0 * p) * (kc["rn_sqrt_coeff"] + kc["rn_ep0_coeff"] * np.sqrt(ep0 / p)),
                      kc["rn_ep0_coeff"] * ep0)
        den = (p + rn) * (p ** 2 + rn ** 2)
        eet = np.where(den > 0, p * rn * (p ** 2 + rn ** 2 + p * rn) / den, 0.0)
        pet = (eet + ep0) / 2.0
        w = 0.5 + 0.5 * np.clip(eet / pet, 0.0, 1.0)
    nan_month = np.isnan(t) | np.isnan(p)
    frozen_month = (ep0 <= 0) & ~nan_month
    w_used = w.copy()
    for j in range(n):
        for k in range(m):
            if not frozen_month[k, j]:
                continue
            if frozen != "previous":
                w_used[k, j] = frozen
                continue
            w_used[k, j] = 1.0
            for back in range(1, m):
                kk = (k - back) % m
                if not frozen_month[kk, j] and not nan_month[kk, j]:
                    w_used[k, j] = w[kk, j]
                    break
    w_used[nan_month] = np.nan

    def scaled(x, lo, hi):
        return np.clip((x - lo) / (hi - lo) * (fpar_max - fpar_min) + fpar_min, fpar_min, fpar_max)

    def curve(tt, to):
        return (kc["t_eps2_scale"] / (1.0 + np.exp(kc["t_eps2_low_rate"] * (to - kc["t_eps2_low_shift"] - tt)))
                / (1.0 + np.exp(kc["t_eps2_high_rate"] * (-to - kc["t_eps2_high_shift"] + tt))))

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        sr = (1.0 + nd) / (1.0 - nd)
        f = np.clip(weight * scaled(nd, nmin, nmax) + (1.0 - weight) * scaled(sr, smin, smax),
                    fpar_min, fpar_max)
        te1 = np.broadcast_to(kc["t_eps1_c0"] + kc["t_eps1_c1"] * t_opt - kc["t_eps1_c2"] * t_opt ** 2,
                              t.shape).copy()
        if cold is not None:
            te1[t <= cold] = 0.0
        te2 = curve(t, t_opt)
        if half_rule:
            te2 = np.where((t - t_opt > above) | (t_opt - t > below), 0.5 * curve(t_opt, t_opt), te2)
        npp = s * f * par * eps_max * te1 * te2 * w_used
    npp[np.isnan(nd) | np.isnan(t) | np.isnan(p) | np.isnan(s)] = np.nan
    return npp


def fused_test_inputs(n=3000, seed=7):
    """float32 (12, n) NDVI / T / P / SOL with the cases the rules treat specially: pixels frozen
    all year, months at or below -10 C and at 0 C, T exactly 10 C above and 13 C below T_opt and
    just beyond, P = 0 (also in every month of some pixels) and very wet months, tied NDVI maxima,
    NDVI at / below the class minimum and near 1, NaN in each input and all-NaN pixels; codes
    1-9 (CLCD defaults, water with eps_max 0)."""
    rng = np.random.default_rng(seed)
    m = 12
    season = np.sin(np.pi * (np.arange(m) - 2.5) / 11.0)[:, None]
    t = (-6.0 + 30.0 * season + rng.normal(0, 4, (m, n))).round(1)
    ndvi = np.clip(0.1 + 0.6 * season * rng.uniform(0.3, 1.0, n) + rng.normal(0, 0.03, (m, n)), -0.2, 0.99)
    p = rng.gamma(2.0, 25.0, (m, n))
    sol = rng.uniform(150, 650, (m, n))
    t[:, :100] = -rng.uniform(0, 20, (m, 100))                 # frozen all year (I = 0)
    t[0, 100:200] = 0.0                                        # exactly 0 C: Ep0 = 0, frozen
    t[1, 200:300] = -10.0                                      # exactly the cold limit
    ndvi[:, 300:400] = 0.2
    ndvi[6, 300:400] = 0.8                                     # T_opt = July
    t[6, 300:400] = 20.0
    t[[7, 8, 9, 10], 300:400] = [[30.0], [30.5], [7.0], [6.5]]  # +10, > +10, -13, < -13
    ndvi[5, 400:450] = ndvi[6, 400:450] = 0.9                  # tie: the first month counts
    ndvi[3, 450:500] = 0.023                                   # at the class NDVI_min
    ndvi[4, 450:500] = -0.5
    p[rng.random((m, n)) < 0.08] = 0.0
    p[:, 500:550] = 0.0                                        # no rain at all
    p[6, 550:600] = 5000.0                                     # EET > Ep0: clipped to W = 1
    ndvi[rng.random((m, n)) < 0.01] = np.nan
    t[rng.random((m, n)) < 0.005] = np.nan
    p[rng.random((m, n)) < 0.005] = np.nan
    sol[rng.random((m, n)) < 0.005] = np.nan
    ndvi[:, 600:610] = np.nan
    t[:, 610:620] = np.nan
    codes = rng.integers(1, 10, n)
    return [x.astype(np.float32) for x in (ndvi, t, p, sol)], codes


@pytest.mark.parametrize("options", [
    {},
    {"frozen": 1.0, "half_rule": False, "cold_limit": None},
    {"weight": 1.0, "par_fraction": 0.48, "fpar_min": 0.0, "fpar_max": 1.0},
    {"weight": 0.0, "heat_index_value": 55.0},
])
def test_fused_npp_equals_the_per_formula_implementation(options):
    """core.casa.npp_monthly (fused: ln T shared by I and Ep0 = exp(a ln T + c), T_eps2 from one
    exponential, per-pixel terms once) equals per_formula_npp above (power and two-exponential
    forms, written from the papers) within float32 rounding: at most half a float32 ulp (2^-24
    relative: the rounding of the float64 value) from the float64 reference, NaN exactly where it
    is NaN, 0 exactly where it is 0; and the float32 result of the components path (one core
    function per formula) to 1 ulp (measured: identical on 430 000 pixel-months)."""
    (ndvi, t, p, sol), codes = fused_test_inputs()
    params = casa.class_parameters(codes, CLCD)
    ref_kw = {"frozen": options.get("frozen", "previous"), "half_rule": options.get("half_rule", True),
              "cold": options.get("cold_limit", -10.0), "weight": options.get("weight", 0.5),
              "par": options.get("par_fraction", 0.5), "fpar_min": options.get("fpar_min", 0.001),
              "fpar_max": options.get("fpar_max", 0.95), "heat": options.get("heat_index_value")}
    ref = per_formula_npp(ndvi, t, p, sol, *(params[k].astype(np.float64) for k in
                                             ("eps_max", "ndvi_min", "ndvi_max", "sr_min", "sr_max")),
                          **ref_kw)
    got = casa.npp_monthly(ndvi, t, p, sol, params, **options)
    assert got.dtype == np.float32 and got.shape == ref.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    ok = ~np.isnan(ref)
    np.testing.assert_array_equal(got[ok] == 0, ref[ok] == 0)
    assert np.all(np.abs(got[ok] - ref[ok]) <= 2.0 ** -24 * (1 + 1e-6) * np.abs(ref[ok]))
    # the rules acted on these inputs (else the comparison would not cover them)
    assert np.isnan(ref[:, 600:620]).all() and (ref[:, :100][~np.isnan(ref[:, :100])] >= 0).all()
    assert (ref[ok] == 0).sum() > 100 and ok.sum() > 0.9 * ok.size
    comp, _ = casa.npp_monthly(ndvi, t, p, sol, params, components=True, **options)
    ulp = np.abs(got[ok].view(np.int32).astype(np.int64) - comp[ok].view(np.int32).astype(np.int64))
    assert ulp.max() <= 1 and (ulp > 0).mean() < 1e-3


def test_fused_npp_boundaries_by_hand():
    """The T_eps2 half-value boundaries (Zhu et al. 2007: strictly more than 10 C above or 13 C
    below T_opt), the cold limit (T_eps1 = 0 at <= -10 C) and P = 0 (W_eps = 0.5) in the fused
    path, against the plain-math curve of test_t_eps2_at_optimum_and_half_value_rule."""
    (ndvi, t, p, sol), codes = fused_test_inputs(n=700)
    params = casa.class_parameters(codes, CLCD)
    _npp, comp = casa.npp_monthly(ndvi, t, p, sol, params, components=True)
    got = casa.npp_monthly(ndvi, t, p, sol, params)
    j = 300 + int(np.flatnonzero(np.isfinite(got[:, 300:400]).all(axis=0)
                                 & (params["eps_max"][300:400] > 0))[0])
    peak = 1.1814 / (1 + math.exp(-2)) / (1 + math.exp(-3))
    te2 = comp["t_eps2"][:, j]
    curve = lambda tt: 1.1814 / (1 + math.exp(0.2 * (20 - 10 - tt))) / (1 + math.exp(0.3 * (-20 - 10 + tt)))  # noqa: E731
    assert te2[7] == pytest.approx(curve(30.0), rel=1e-12) and te2[9] == pytest.approx(curve(7.0), rel=1e-12)
    assert te2[8] == pytest.approx(peak / 2, rel=1e-12) and te2[10] == pytest.approx(peak / 2, rel=1e-12)
    # the fused NPP equals NPP rebuilt from these components at the boundary months
    want = comp["apar"][:, j] * comp["eps"][:, j]
    assert got[[7, 8, 9, 10], j] == pytest.approx(want[[7, 8, 9, 10]], rel=2.0 ** -23)
    cold = np.flatnonzero(t[1, 200:300] == -10.0)[0] + 200
    assert got[1, cold] == 0.0 or np.isnan(got[1, cold])
    dry = casa.npp_monthly(ndvi[:, 500:550], t[:, 500:550], p[:, 500:550], sol[:, 500:550],
                           {k: v[500:550] for k, v in params.items()}, components=True)[1]["w_eps"]
    assert np.all(dry[np.isfinite(dry)] == 0.5)


@pytest.mark.parametrize("code_set", [[1, 2, 3, 4, 5, 6, 7, 8, 9], [3, 7, 250], [-5, 0, 70000, 2 ** 40]])
def test_running_class_stats_any_codes_equal_numpy(code_set):
    """Per-class n / mean / sd / min / max over blocks equal numpy's on each class's values, for
    contiguous, sparse and wide (span > 65536: the np.unique path) integer codes, NaN skipped."""
    rng = np.random.default_rng(len(code_set))
    values = rng.gamma(3.0, 100.0, 20_000)
    values[rng.random(values.size) < 0.03] = np.nan
    codes = np.asarray(code_set, dtype=np.int64)[rng.integers(0, len(code_set), values.size)]
    acc = casa.RunningClassStats()
    for lo, hi in ((0, 5), (5, 12_345), (12_345, 20_000)):
        acc.add(values[lo:hi], codes[lo:hi])
    rows = acc.rows()
    assert [r["code"] for r in rows[:-1]] == sorted(code_set)
    for r in rows:
        v = values[np.isfinite(values) & ((codes == r["code"]) if r["code"] is not None else True)]
        assert r["n"] == v.size and (r["min"], r["max"]) == (v.min(), v.max())
        assert r["mean"] == pytest.approx(v.mean(), rel=1e-12)
        assert r["sd"] == pytest.approx(v.std(), rel=1e-10)


def test_class_parameters_lookup_equals_the_table_per_pixel():
    """class_parameters: each pixel gets its own row of the table (dict lookup per pixel, float32),
    NaN where the code is nodata; sparse codes and an absent-from-block class."""
    table = {c.code: c for c in CLCD.values()}
    table[250] = casa.CasaClass(250, "mine", 0.3, 0.05, 0.5, 1.2, 2.8)
    rng = np.random.default_rng(3)
    codes = rng.choice([1, 2, 4, 8, 250], size=(40, 30))
    nodata = rng.random(codes.shape) < 0.1
    got = casa.class_parameters(codes, table, nodata_mask=nodata)
    for key, pick in (("eps_max", lambda c: c.eps_max), ("ndvi_min", lambda c: c.ndvi_min),
                      ("ndvi_max", lambda c: c.ndvi_max), ("sr_min", lambda c: c.sr_bounds()[0]),
                      ("sr_max", lambda c: c.sr_bounds()[1])):
        want = np.array([[np.nan if nd else pick(table[int(c)]) for c, nd in zip(rc, rn)]
                         for rc, rn in zip(codes, nodata)], dtype=np.float32)
        np.testing.assert_array_equal(got[key], want)
        assert got[key].shape == codes.shape and got[key].dtype == np.float32
    with pytest.raises(ValueError, match="code 77 has no parameters"):
        casa.class_parameters(np.array([1, 77]), table)


def test_fused_pieces_and_reused_buffers_do_not_change_the_result(monkeypatch):
    """The fused path cuts the pixels into pieces of FUSED_CHUNK and reuses per-thread buffers:
    pieces of 7 and 1000 pixels, 12 then 5 then 12 months, and a piece smaller than the buffers
    give the float32 values of the components path (one core function per formula) to 1 ulp."""
    (ndvi, t, p, sol), codes = fused_test_inputs(n=700, seed=11)
    params = casa.class_parameters(codes, CLCD)
    for chunk, months, width in ((7, 12, 700), (1000, 5, 700), (1000, 12, 700), (1000, 12, 33)):
        monkeypatch.setattr(casa, "FUSED_CHUNK", chunk)
        args = [a[:months, :width] for a in (ndvi, t, p, sol)]
        sub = {k: v[:width] for k, v in params.items()}
        got = casa.npp_monthly(*args, sub)
        want, _ = casa.npp_monthly(*args, sub, components=True)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        ok = ~np.isnan(want)
        ulp = np.abs(got[ok].view(np.int32).astype(np.int64) - want[ok].view(np.int32).astype(np.int64))
        assert ulp.max(initial=0) <= 1, (chunk, months, width)


CHANGED_CONSTANTS = [            # (CasaConstants field, a changed value); rate pairs: 2:3 (one exponential) and not
    ("t_eps1_c0", 0.7), ("t_eps1_c1", 0.03), ("t_eps1_c2", 0.001), ("t_eps2_scale", 1.184),
    ("t_eps2_low_rate", 0.25), ("t_eps2_high_rate", 0.35), ("t_eps2_low_shift", 8.0), ("t_eps2_high_shift", 12.0),
    ("heat_divisor", 4.5), ("heat_exponent", 1.6), ("ep0_scale", 15.0), ("ep0_t_factor", 9.0),
    ("a_coeffs", (6.0e-7, -7.0e-5, 1.7e-2, 0.5)), ("rn_sqrt_coeff", 0.35), ("rn_ep0_coeff", 0.62),
]


def _assert_like_reference(got, ref):
    """Within the float32 rounding of the float64 reference; NaN and 0 exactly where it has them."""
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    ok = ~np.isnan(ref)
    np.testing.assert_array_equal(got[ok] == 0, ref[ok] == 0)
    assert np.all(np.abs(got[ok] - ref[ok]) <= 2.0 ** -24 * (1 + 1e-6) * np.abs(ref[ok]))


@pytest.mark.parametrize("field, value", CHANGED_CONSTANTS + [("pair", (0.3, 0.45))])
def test_every_coefficient_is_a_keyword_and_acts_as_the_reference(field, value):
    """Issue 6 "every constant a parameter": each coefficient of core.casa.CasaConstants, changed, moves the
    fused and the components NPP exactly as per_formula_npp (written from the papers, the same coefficient
    changed) computes; the result differs from the published-constant result (the keyword acts).  "pair": rates
    0.3 / 0.45 (2:3, the one-exponential T_eps2 of the fused path with g = 0.15)."""
    (ndvi, t, p, sol), codes = fused_test_inputs(n=800, seed=3)
    params = casa.class_parameters(codes, CLCD)
    changed = ({"t_eps2_low_rate": value[0], "t_eps2_high_rate": value[1]} if field == "pair"
               else {field: value})
    constants = casa.CasaConstants(**changed)
    ref = per_formula_npp(ndvi, t, p, sol, *(params[k].astype(np.float64) for k in
                                             ("eps_max", "ndvi_min", "ndvi_max", "sr_min", "sr_max")), k=changed)
    fused = casa.npp_monthly(ndvi, t, p, sol, params, constants=constants)
    comp, _ = casa.npp_monthly(ndvi, t, p, sol, params, constants=constants, components=True)
    _assert_like_reference(fused, ref)
    _assert_like_reference(comp, ref)
    default = casa.npp_monthly(ndvi, t, p, sol, params)
    ok = np.isfinite(ref) & (ref > 0)
    assert (default[ok] != fused[ok]).mean() > 0.05, field


@pytest.mark.parametrize("options, ref_kw", [
    ({"cold_limit": -5.0}, {"cold": -5.0}),
    ({"t_eps2_above": 8.0}, {"above": 8.0}),
    ({"t_eps2_below": 11.0}, {"below": 11.0}),
    ({"frozen": 1.0}, {"frozen": 1.0}),
    ({"heat_index_value": 48.0}, {"heat": 48.0}),
])
def test_rule_keywords_act_as_the_reference(options, ref_kw):
    """The rules the algorithm exposes (T_eps1 cold limit, the half-value thresholds above / below T_opt, the
    frozen-month W_eps, an annual heat index) change fused and components NPP as per_formula_npp with the same
    value; the result differs from the default one."""
    (ndvi, t, p, sol), codes = fused_test_inputs(n=800, seed=4)
    params = casa.class_parameters(codes, CLCD)
    ref = per_formula_npp(ndvi, t, p, sol, *(params[k].astype(np.float64) for k in
                                             ("eps_max", "ndvi_min", "ndvi_max", "sr_min", "sr_max")), **ref_kw)
    fused = casa.npp_monthly(ndvi, t, p, sol, params, **options)
    _assert_like_reference(fused, ref)
    _assert_like_reference(casa.npp_monthly(ndvi, t, p, sol, params, components=True, **options)[0], ref)
    default = casa.npp_monthly(ndvi, t, p, sol, params)
    ok = np.isfinite(ref)
    assert (default[ok] != fused[ok]).any()


def test_module_constants_are_the_published_values():
    """The module defaults equal PUBLISHED (typed from the papers) and CasaConstants() holds them."""
    assert {f: getattr(casa.DEFAULT_CONSTANTS, f) for f in PUBLISHED} == PUBLISHED
    assert (casa.T_EPS1_COLD_LIMIT, casa.T_EPS2_ABOVE, casa.T_EPS2_BELOW, casa.W_EPS_FROZEN) == \
        (-10.0, 10.0, 13.0, "previous")
    assert casa.CasaConstants() == casa.DEFAULT_CONSTANTS


# ---------------------------------------------------------------- NDVI outside [-1, 1] -------


def test_screen_ndvi_boundary_half_is_screened_more_is_refused():
    """Issue 6 "NDVI outside [-1, 1] is a clear error", review D3: a scaled NDVI (x 10000) puts nearly every land
    value above 1, negative Level-2 reflectance over dark water gives a few values outside (mostly below -1).
    Rule (hand-counted here): per block and month, more than half of the valid (non-NaN) values above 1 -> error;
    otherwise every value outside [-1, 1] becomes -1, counted per month; a block of open water entirely below -1
    is screened, not refused."""
    labels = ["NDVI month 1 (ndvi.tif, band 1)", "NDVI month 2 (ndvi.tif, band 2)"]
    half = np.array([[0.3, -3.235, 1.7, 1.9], [0.2, 0.4, np.nan, 0.5]], dtype=np.float32)   # 2 of 4 above 1
    counts = casa.screen_ndvi(half, labels)
    assert counts.tolist() == [3, 0]
    np.testing.assert_array_equal(half[0], np.array([0.3, -1.0, -1.0, -1.0], dtype=np.float32))
    assert np.isnan(half[1, 2]) and half[1, 3] == np.float32(0.5)
    nan_not_valid = np.array([[np.nan, np.nan, 5000.0, 0.3]])                  # 1 of 2 valid: exactly half
    assert casa.screen_ndvi(nan_not_valid, labels).tolist() == [1]
    water = np.array([[-3.2, -1.5, -2.0, -40.0]])                               # all outside, none above 1
    assert casa.screen_ndvi(water, labels).tolist() == [4] and np.all(water == -1.0)
    more = np.array([[0.2, 0.4, 0.1], [-7619.0, 6689.0, 4000.0]])              # month 2: 2 of 3 above 1
    with pytest.raises(ValueError) as err:
        casa.screen_ndvi(more, labels)
    msg = str(err.value)
    for words in ("NDVI month 2 (ndvi.tif, band 2)", "2 of 3 valid values", "from -7619 to 6689",
                  "multiply by 0.0001", "outside [-1, 1]"):
        assert words in msg, (words, msg)
    three_of_five = np.array([[np.nan, 0.5, 2.0, 3.0, 4.0, 0.1]])              # 3 of 5 valid above 1
    with pytest.raises(ValueError, match="3 of 5 valid values"):
        casa.screen_ndvi(three_of_five, labels)
    untouched = np.array([[-1.0, 1.0, np.nan]])
    assert casa.screen_ndvi(untouched, labels).tolist() == [0] and untouched[0, 0] == -1.0


def test_ndvi_minus_one_gives_fpar_min_and_the_warning_counts():
    """NDVI -1 (the screened value) gives FPAR_min from the NDVI form (below every class's NDVI_min) and from the
    SR form (SR = (1 - 1)/(1 + 1) = 0, below SR_min), so FPAR = 0.001 (Zhu et al. 2007 bounds, by hand); the run's
    warning names the months and counts; none when nothing was screened."""
    c = CLCD[5]
    lo, hi = c.sr_bounds()
    assert casa.fpar(-1.0, c.ndvi_min, c.ndvi_max, lo, hi) == pytest.approx(0.001, abs=1e-15)
    text = casa.ndvi_screen_warning(np.array([0, 3, 0, 12]), ["m1", "month 2 (b2)", "m3", "month 4 (b4)"])
    assert text.startswith("NDVI: 15 value(s) outside [-1, 1]") and "3 in month 2 (b2); 12 in month 4 (b4)" in text
    assert "dark water" in text and "m1" not in text
    assert casa.ndvi_screen_warning(np.zeros(3, dtype=int), ["a", "b", "c"]) is None


def test_range_text_is_unambiguous():
    """Review D3: the NDVI range of check_plausible reads "from -3.235 to 0.9", not "-3.235-0.9"."""
    with pytest.raises(ValueError) as err:
        casa.check_plausible("NDVI", np.array([-3.235, 0.2, 0.9]), "ndvi")
    assert "NDVI has values from -3.235 to 0.9 outside [-1, 1]" in str(err.value)
    with pytest.raises(ValueError) as err:
        casa.check_plausible("NDVI", np.array([-7619.0, 6689.0]), "ndvi")
    assert "from -7619 to 6689" in str(err.value) and "multiply by 0.0001" in str(err.value)
