"""Every palette of the plugin, as data: colour ramps for continuous outputs, class tables for
classified ones. Styling code (``styles.qgis_styles``) reads these; nothing else defines colours.
"""

# Continuous ramps: (position 0..1, colour) stops, low value first.
RAMPS = {
    # red (bare, stressed) -> yellow -> green (dense vegetation / good ecology)
    "ecology": [(0.0, "#a50026"), (0.25, "#f46d43"), (0.5, "#fee08b"), (0.75, "#a6d96a"), (1.0, "#006837")],
    # dark blue (cool) -> yellow -> dark red (hot)
    "temperature": [(0.0, "#313695"), (0.25, "#74add1"), (0.5, "#ffffbf"), (0.75, "#f46d43"), (1.0, "#a50026")],
    # white-cream (low) -> brown (high salinity / dryness)
    "salinity": [(0.0, "#ffffe5"), (0.25, "#fee391"), (0.5, "#fe9929"), (0.75, "#cc4c02"), (1.0, "#662506")],
    # brown (dry) -> white -> blue (wet / water)
    "moisture": [(0.0, "#8c510a"), (0.25, "#d8b365"), (0.5, "#f5f5f5"), (0.75, "#5ab4ac"), (1.0, "#01665e")],
    "neutral": [(0.0, "#440154"), (0.25, "#3b528b"), (0.5, "#21918c"), (0.75, "#5ec962"), (1.0, "#fde725")],
}

# Which ramp each product uses (anything not listed: "neutral").
PRODUCT_RAMP = {
    "NDVI": "ecology", "DVI": "ecology", "RVI": "ecology", "EVI": "ecology", "ARVI": "ecology",
    "RSEI": "ecology", "SRSI": "salinity",
    "WET": "moisture", "WET_TM": "moisture", "WET_ETM": "moisture", "WET_OLI": "moisture",
    "NDMI": "moisture", "MNDWI": "moisture",
    "LST": "temperature",
    "SI_BS": "salinity", "IBI": "salinity", "NDBSI": "salinity",
    "SI_BR": "salinity", "SI_GR": "salinity", "SI1": "salinity", "SI2": "salinity", "SI3": "salinity",
    "SI4": "salinity", "S1": "salinity", "S2": "salinity", "S3": "salinity", "S5": "salinity",
    "S6": "salinity", "S8": "salinity", "S9": "salinity", "SSSI1": "salinity", "SSSI1_RN": "salinity",
    "SSSI2": "salinity", "SSSI2_RN": "salinity", "NDSI": "salinity", "CRSI": "salinity",
    "SAI": "salinity", "TRSI": "salinity", "SBCI": "salinity", "GOSI": "salinity",
}

# Classified outputs: (value, label, colour), worst first.
CLASSES = {
    "rsei_grade": [
        (1, "Worst (0-0.2)", "#d7191c"),
        (2, "Poor (0.2-0.4)", "#fdae61"),
        (3, "Moderate (0.4-0.6)", "#ffffbf"),
        (4, "Good (0.6-0.8)", "#a6d96a"),
        (5, "Excellent (0.8-1)", "#1a9641"),
    ],
}


def ramp_for(product: str) -> str:
    return PRODUCT_RAMP.get(product.upper(), "neutral")


# --- group "change": transfer matrix (miningeco:transfermatrix) ---------------------------------
# Change map (codes from * 10^k + to): unchanged transitions grey; a changed pixel takes the colour
# of the class it changed TO (qualitative list below, cycled by the class's position), mixed with
# white by up to TRANSITION_MAX_LIGHTEN for later "from" classes so that the arrivals into one class
# stay distinguishable.
TRANSITION_UNCHANGED = "#c8c8c8"
TRANSITION_MAX_LIGHTEN = 0.55
QUALITATIVE = [
    "#e41a1c", "#377eb8", "#4daf4a", "#984ea3", "#ff7f00", "#a65628", "#f781bf", "#1b9e77",
    "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#b8a000", "#17becf",
]
# Transfer-matrix heatmap (PNG): ramp of the off-diagonal (transferred) cells; the diagonal
# (unchanged) cells are drawn in TRANSITION_UNCHANGED.
HEATMAP_RAMP = [(0.0, "#fff7ec"), (0.35, "#fdbb84"), (0.7, "#e34a33"), (1.0, "#7f0000")]


# --- group "ecology": EG index and RSEI x EG coupling (miningeco:egindex, miningeco:coupling) -----
# Raw EG (ningdong eq. 14) is a negative indicator, grade 1 best .. 7 worst: green (low) -> red (high).
RAMPS["eg_grade"] = [(0.0, "#006837"), (0.25, "#a6d96a"), (0.5, "#fee08b"), (0.75, "#f46d43"), (1.0, "#a50026")]
PRODUCT_RAMP.update({"EG": "eg_grade", "EG_NORMALISED": "ecology"})
# Coupling codes EG_level * 10 + RSEI_level (ningdong Figure 15), in the order of the weighted sum:
# 11 worst (red) .. 33 best (green); labels as core.coupling.code_label.
CLASSES["eg_rsei_coupling"] = [
    (11, "11 EG low / RSEI low (LL, worst)", "#a50026"),
    (12, "12 EG low / RSEI medium", "#d73027"),
    (13, "13 EG low / RSEI high", "#f46d43"),
    (21, "21 EG medium / RSEI low", "#fdae61"),
    (22, "22 EG medium / RSEI medium", "#fee08b"),
    (23, "23 EG medium / RSEI high", "#d9ef8b"),
    (31, "31 EG high / RSEI low", "#a6d96a"),
    (32, "32 EG high / RSEI medium", "#66bd63"),
    (33, "33 EG high / RSEI high (HH, best)", "#1a9850"),
]


# --- group "change": per-pixel trend (miningeco:trend) ------------------------------------------
# Diverging ramp for signed trend statistics (Theil-Sen slope, Mann-Kendall S and Z), centred on 0:
# decrease red -> no change pale yellow -> increase green (higher = better for RSEI / NDVI).
RAMPS["trend"] = [(0.0, "#a50026"), (0.25, "#f46d43"), (0.5, "#ffffbf"), (0.75, "#66bd63"), (1.0, "#006837")]
# Mann-Kendall p-value: dark (small p, significant) -> pale (p = 1).
RAMPS["pvalue"] = [(0.0, "#08306b"), (0.05, "#2171b5"), (0.1, "#6baed6"), (0.5, "#deebf7"), (1.0, "#f7fbff")]
# Trend classes (core.trend: 1 significant decrease, 2 no significant change, 3 significant increase).
CLASSES["trend_class"] = [
    (1, "Significant decrease", "#d7191c"),
    (2, "No significant change", "#e0e0e0"),
    (3, "Significant increase", "#1a9641"),
]


# --- group "salinity": variable screening chart (miningeco:vipscreening) --------------------------
# Bars of variables that pass a threshold, bars that do not, and the threshold line.
SCREENING_COLOURS = {"pass": "#cc4c02", "fail": "#bdbdbd", "threshold": "#08306b"}


# --- group "salinity": model application (miningeco:applymodel) -----------------------------------
# Predicted salt content uses RAMPS["salinity"]. Default salinity grades (core.salinity: 1/2/4/6 g/kg,
# coastal Table 5, upper-inclusive); colours as in the coastal seed's Figure 6 (green non-saline /
# slight -> yellow, orange, red). A user table with another number of grades samples RAMPS["salinity"].
CLASSES["salinity_grade"] = [
    (1, "Non-saline (<= 1 g/kg)", "#1a9641"),
    (2, "Slightly saline (1-2 g/kg)", "#a6d96a"),
    (3, "Moderately saline (2-4 g/kg)", "#ffffbf"),
    (4, "Severely saline (4-6 g/kg)", "#fdae61"),
    (5, "Saline soil (> 6 g/kg)", "#d7191c"),
]


# --- group "drivers": local (moving-window) correlation (miningeco:localcorrelation) -----------------
# Pearson r, -1 .. 1: negative blue -> 0 white -> positive red (diverging, symmetric about 0).
RAMPS["correlation"] = [(0.0, "#2166ac"), (0.25, "#92c5de"), (0.5, "#f7f7f7"), (0.75, "#f4a582"), (1.0, "#b2182b")]
# core.correlation classes: 1 significant negative, 2 not significant, 3 significant positive.
CLASSES["local_correlation"] = [
    (1, "Significant negative correlation", "#2166ac"),
    (2, "No significant correlation", "#e0e0e0"),
    (3, "Significant positive correlation", "#b2182b"),
]


# --- group "drivers": random-forest factorial contributions (miningeco:rfcontribution) ------------
# Bars per driver category, in category order: red, green, blue as the RGB composite of relative
# contributions in changhe 2.4.2 (category 1 = R, 2 = G, 3 = B); further categories grey shades.
RF_CATEGORY_COLOURS = ["#d7301f", "#238b45", "#2171b5", "#737373", "#bdbdbd", "#525252"]


# --- group "productivity": CASA NPP (miningeco:casanpp) ---------------------------------------------
# Annual / monthly NPP (gC m-2): pale yellow (none) -> light green -> dark green (high productivity).
RAMPS["npp"] = [(0.0, "#ffffe5"), (0.25, "#d9f0a3"), (0.5, "#78c679"), (0.75, "#238443"), (1.0, "#004529")]
PRODUCT_RAMP["NPP"] = "npp"
# Dominant-category map (changhe 2.4.2, 60 % rule; codes of core.rf_contribution.dominant_codes): a single
# category in its colour above; the pair of the two largest contributions in the mix of their RGB channels
# as the RGB composite shows it (red + green yellow, red + blue magenta, green + blue cyan), lighter so that
# single dominance stands out. Pairs of categories beyond the third cycle through QUALITATIVE.
RF_PAIR_COLOURS = {(0, 1): "#fec44f", (0, 2): "#de77ae", (1, 2): "#41b6c4"}
