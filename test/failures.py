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


def recording_feedback(cancel_on_progress=False):
    """A QgsProcessingFeedback that keeps what a run reports: ``infos``, ``warnings``, ``errors``, ``lines`` (infos
    and warnings in their order), ``progress``; with ``cancel_on_progress`` it cancels at the first progress report
    (``cancelled_at``: when, time.monotonic())."""
    import time

    from qgis.core import QgsProcessingFeedback

    class Recording(QgsProcessingFeedback):
        def __init__(self):
            super().__init__()
            self.warnings, self.errors, self.infos, self.lines, self.progress = [], [], [], [], []
            self.cancelled_at = None
            self.progressChanged.connect(self._on_progress)

        def _on_progress(self, p):
            self.progress.append(p)
            if cancel_on_progress and self.cancelled_at is None:
                self.cancelled_at = time.monotonic()
                self.cancel()

        def pushWarning(self, text):  # noqa: N802
            self.warnings.append(text)
            self.lines.append(text)
            super().pushWarning(text)

        def reportError(self, text, fatalError=False):  # noqa: N802, N803
            self.errors.append(text)
            super().reportError(text, fatalError)

        def pushInfo(self, text):  # noqa: N802
            self.infos.append(text)
            self.lines.append(text)
            super().pushInfo(text)

    return Recording()
