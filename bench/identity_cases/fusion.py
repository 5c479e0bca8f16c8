"""Identity case of ESTARFM (bench/identity.py): the fused image on threads and on worker processes."""


def estarfm(data, out):
    shape = (200, 240)
    fine_tm = data.floats("estarfm_fine_tm", shape=shape, seed=31, low=0.05, high=0.45)
    fine_tn = data.floats("estarfm_fine_tn", shape=shape, seed=32, low=0.10, high=0.55)
    coarse_tp = data.floats("estarfm_coarse_tp", shape=shape, seed=33, low=0.08, high=0.50)
    return "miningeco:estarfm", {
        "FINE_TM": fine_tm, "COARSE_TM": fine_tm, "FINE_TN": fine_tn, "COARSE_TN": fine_tn, "COARSE_TP": [coarse_tp],
        "DATES": "2000-04-01,2000-08-01,2000-06-01", "HALF_WINDOW": 5, "DN_MIN": 0, "DN_MAX": 1,
        "OUTPUT_FOLDER": f"{out}/fused", "OUTPUT_TABLE": f"{out}/change.csv"}


CASES = {"estarfm": estarfm}
