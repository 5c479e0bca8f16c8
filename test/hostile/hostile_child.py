"""One hostile case through processing.run in a process of its own (cases marked ``isolate``: long fits that may
ignore the cancel, memory bombs). Reads {tool, params, timeout, grace, rss_limit, cancel_on_progress} as JSON on
stdin, prints one line ``HOSTILE_RESULT <json>`` (exc_type, message, warnings, errors, result, hang, seconds).

Bounded: a watchdog thread cancels the feedback after ``timeout`` s (or when the resident memory grew by more than
``rss_limit``) and, if the run has not returned ``grace`` s later, prints the result as a hang and ends the process
with os._exit - which works whatever the main thread is doing (C code, a join on worker threads). The parent
also kills the process if no result came after timeout + grace + 60 s.
"""
from __future__ import annotations

import json
import os
import resource
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def _rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize()


def emit(payload):
    sys.stdout.write("HOSTILE_RESULT " + json.dumps(payload, default=str) + "\n")
    sys.stdout.flush()


def main():
    job = json.loads(sys.stdin.read())
    sys.path[:0] = [ROOT, os.path.join(ROOT, "test", "qgis"), os.path.join(ROOT, "test")]
    from qgis.core import QgsApplication
    app = QgsApplication([], False)
    app.initQgis()
    sys.path.append("/usr/share/qgis/python/plugins")
    from processing.core.Processing import Processing
    Processing.initialize()
    import processing
    from mining_eco_plugin.provider import MiningEcoProvider
    provider = MiningEcoProvider()           # kept referenced: the registry does not keep the Python object alive
    if not QgsApplication.processingRegistry().addProvider(provider):
        emit({"exc_type": "ChildProcessError", "message": "could not register the provider"})
        os._exit(0)

    from failures import recording_feedback
    fb = recording_feedback(cancel_on_progress=job["cancel_on_progress"])
    state = {"done": False, "start": time.monotonic()}
    rss0 = _rss()

    def payload(**extra):
        return dict({"warnings": fb.warnings, "errors": fb.errors, "cancelled": fb.cancelled_at is not None,
                     "seconds": time.monotonic() - state["start"]}, **extra)

    def watch():
        while not state["done"]:
            time.sleep(0.1)
            grown = _rss() - rss0
            if time.monotonic() - state["start"] > job["timeout"]:
                reason = f"still running after {job['timeout']:.0f} s"
            elif grown > job["rss_limit"]:
                reason = f"memory grew by {grown / 1024 ** 3:.1f} GiB"
            else:
                continue
            fb.cancel()
            end = time.monotonic() + job["grace"]
            while time.monotonic() < end and not state["done"]:
                time.sleep(0.1)
            if not state["done"]:
                emit(payload(hang=f"{reason}; ignored the cancel for {job['grace']:.0f} s (process ended)"))
                os._exit(0)
            state["hang"] = reason
            return

    threading.Thread(target=watch, daemon=True).start()
    out = {}
    try:
        res = processing.run(f"miningeco:{job['tool']}", job["params"], feedback=fb)
        out["result"] = {k: (v if isinstance(v, (int, float, str, type(None), list)) else str(v)) for k, v in res.items()}
    except BaseException as err:  # noqa: BLE001 - reported to the parent
        out["exc_type"] = type(err).__name__
        out["message"] = str(err)
    state["done"] = True
    emit(payload(hang=state.get("hang"), **out))
    os._exit(0)      # no QGIS teardown: nothing more to learn


if __name__ == "__main__":
    main()
