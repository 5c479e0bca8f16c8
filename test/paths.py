"""Paths of the real test data (importable from every test folder as ``paths``)."""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "test", "data")
MARBURG = os.path.join(DATA, "marburg")
L8 = os.path.join(MARBURG, "LC08_L1TP_195025_20130707_20170503_01_T1")
L7 = os.path.join(MARBURG, "LE07_L1TP_195025_20010730_20170204_01_T1")
