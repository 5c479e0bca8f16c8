"""Identity cases of the scene composite (bench/identity.py): products written by test/productdata.py from the
real Marburg Landsat 8 scene (the same image at three built dates under three covering QA_PIXEL cloud masks, and
two overlapping footprints of neighbouring path/rows), composited by medoid with a dilation (halo 2) and by BAP
(halo of 100 pixels, larger than the scene) on a study area."""


def _products(data):
    import os
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                    "test"))
    import productdata as pd
    folder = data.path("composite_products")
    if not os.path.isdir(folder):
        os.makedirs(folder)
        g = pd.scene_grid(pd.L8)
        for date, qa in zip(("2013-06-12", "2013-07-07", "2013-08-24"),
                            pd.cloud_qa_set((g.height, g.width), 3, seed=3, cover=0.3)):
            pd.write_landsat_product(os.path.join(folder, "dates"), pd.L8, "C2L2", date=date, qa=qa)
        pd.split_footprints(os.path.join(folder, "footprints"), pd.L8, date="2013-07-23")
        pd.study_area(os.path.join(folder, "area.gpkg"))
    return folder


def _outputs(out):
    return {"OUTPUT_FOLDER": f"{out}/composites", "OUTPUT_TABLE": f"{out}/table.csv"}


def composite_medoid_dilated(data, out):
    """Three cloudy dates and two footprints, medoid, masks grown by 2 pixels."""
    folder = _products(data)
    return "miningeco:composite", {"PRODUCT_FOLDER": folder, "DILATION": 2, **_outputs(out)}


def composite_bap_area(data, out):
    """The same products, best available pixel on the concave study area (its halo covers the whole scene)."""
    folder = _products(data)
    return "miningeco:composite", {"PRODUCT_FOLDER": folder, "METHOD": 3, "STUDY_AREA": f"{folder}/area.gpkg",
                                   **_outputs(out)}


CASES = {"composite_medoid_dilated": composite_medoid_dilated, "composite_bap_area": composite_bap_area}
