"""The check every bad-input test makes: a QgsProcessingException that names the input (every word
given), no traceback in the message, and nothing left in the output folder."""
import os

import pytest
from qgis.core import QgsProcessingException


def assert_fails_cleanly(call, folder, *words):
    """Run ``call()``; returns the error message."""
    with pytest.raises(QgsProcessingException) as err:
        call()
    msg = str(err.value)
    for w in words:
        assert w in msg, f"{w!r} not in: {msg}"
    assert "Traceback" not in msg
    assert os.listdir(folder) == [], os.listdir(folder)
    return msg
