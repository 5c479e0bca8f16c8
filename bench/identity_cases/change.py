"""Identity cases of the Change tools (bench/identity.py)."""


def trend(data, out):
    years = [data.floats(f"series_{y}", seed=y, low=0.2 + 0.01 * (y - 2000), high=0.6 + 0.01 * (y - 2000))
             for y in range(2000, 2012)]
    return "miningeco:trend", {
        "INPUTS": years, "YEARS": ",".join(str(y) for y in range(2000, 2012)),
        **{pid: f"{out}/{pid.lower()}.tif" for pid in ("OUTPUT_SLOPE", "OUTPUT_CLASS", "OUTPUT_Z", "OUTPUT_P",
                                                         "OUTPUT_S", "OUTPUT_COUNT")},
        "OUTPUT_TABLE": f"{out}/classes.csv"}


CASES = {"trend": trend}
