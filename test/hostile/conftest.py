"""Fixtures of the hostile-input battery and its tally (printed at the end of every pytest run that ran a case).

The tally counts each case once, under the first problem kind that applies (hostile_run.PRECEDENCE); the
list below it gives every failing case with its problems. ``python test/hostile/tally.py`` runs the battery
alone and prints the same, grouped by problem kind and by tool. ``HOSTILE_REPORT=<file>``: also write every
case's outcome as JSON lines to that file.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
from collections import Counter, defaultdict

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hostile_data import Data  # noqa: E402
import hostile_run  # noqa: E402

RECORDS = []


@pytest.fixture(scope="session")
def hostile_data(tmp_path_factory):
    return Data(tmp_path_factory.mktemp("hostile_data"))


@pytest.fixture(scope="session")
def hostile_tmp_root(tmp_path_factory):
    return str(tmp_path_factory.mktemp("hostile_tmp"))


@pytest.fixture
def hostile_tempdir(hostile_tmp_root):
    """A private temporary folder (tempfile and TMPDIR) during a case, so that files the plugin leaves in the
    temporary folder are seen without other processes' files on this machine; restored after the case."""
    folder = hostile_tmp_root
    old_dir, old_env = tempfile.tempdir, os.environ.get("TMPDIR")
    tempfile.tempdir = folder
    os.environ["TMPDIR"] = folder
    yield folder
    tempfile.tempdir = old_dir
    if old_env is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = old_env


@pytest.fixture(scope="session")
def hostile_cli(qgis_process_in, tmp_path_factory):
    """qgis_process.bin in a profile of its own in which skops is importable (the plugin's package folder of the
    profile holds a link to the test venv's skops: what miningeco:installdependencies would install), so that
    the Salinity model tools run instead of asking for skops."""
    import skops
    config = tmp_path_factory.mktemp("hostile_qgis_config")
    from mining_eco_plugin import deps
    folder = os.path.join(str(config), "profiles", "default", deps.SUBFOLDER, deps.folder_name())
    os.makedirs(folder)
    os.symlink(os.path.dirname(skops.__file__), os.path.join(folder, "skops"))
    return qgis_process_in(config)


def pytest_runtest_logreport(report):
    hostile = "/hostile/" in report.nodeid.replace("\\", "/") and "[" in report.nodeid \
        and "base_run" not in report.nodeid
    if report.when == "call" and any(name == "hostile" for name, _ in report.user_properties):
        RECORDS.extend(value for name, value in report.user_properties if name == "hostile")
    elif report.failed and hostile:     # the battery itself failed (fixture, child process): counted, not hidden
        RECORDS.append({"id": report.nodeid.split("[")[-1].rstrip("]"), "tool": "?", "category": "?", "via": "?",
                        "kind": "setup error", "problems": [["setup error", str(report.longrepr)[-300:]]]})


def tally_lines(records):
    lines = []
    kinds = Counter(r["kind"] for r in records)
    order = list(hostile_run.GOOD) + list(hostile_run.PRECEDENCE) + sorted(set(kinds) - set(
        hostile_run.GOOD) - set(hostile_run.PRECEDENCE))
    lines.append(f"hostile-input battery: {len(records)} cases "
                 f"({sum(r['via'] == 'processing.run' for r in records)} processing.run, "
                 f"{sum(r['via'] == 'qgis_process' for r in records)} qgis_process) over "
                 f"{len({r['tool'] for r in records})} tools")
    lines.append("  " + ", ".join(f"{kinds[k]} {k}" for k in order if kinds[k] or k in hostile_run.PRECEDENCE))
    left = [r for r in records if any(k == hostile_run.LEFTOVER and "failed run left" in t for k, t in r["problems"])]
    changed = [r for r in records if any(k == hostile_run.LEFTOVER and "inputs or temporary" in t
                                         for k, t in r["problems"])]
    lines.append(f"  whatever their kind above: {len(left)} failed runs left files in the output folder, "
                 f"{len(changed)} runs changed an input or left a temporary file")
    per_tool = defaultdict(Counter)
    for r in records:
        per_tool[r["tool"]]["bad" if r["kind"] not in hostile_run.GOOD else "good"] += 1
    lines.append("  per tool (cases, of which failing): " + ", ".join(
        f"{t} {c['good'] + c['bad']}/{c['bad']}" for t, c in sorted(per_tool.items())))
    if hostile_run.AUX_XML_BESIDE_INPUTS:
        lines.append(f"  observation, not counted: {len(hostile_run.AUX_XML_BESIDE_INPUTS)} input rasters got a GDAL "
                     ".aux.xml file beside them, written by QGIS itself (checked: processing's parameterAsLayerList loads "
                     "them as QgsRasterLayer; GDAL flushes the statistics it computed to .aux.xml when the layer is "
                     "released); removed after each case")
    if hostile_run.RO_MECHANISMS:
        lines.append("  read-only folders made with: " + ", ".join(sorted(hostile_run.RO_MECHANISMS)))
    return lines


def failing_lines(records):
    lines = []
    for kind in hostile_run.PRECEDENCE + ("setup error",):
        bad = [r for r in records if r["kind"] == kind]
        if not bad:
            continue
        lines.append(f"{kind} ({len(bad)}):")
        for r in sorted(bad, key=lambda r: (r["tool"], r["id"])):
            first = [text for k, text in r["problems"] if k == kind] or [r["problems"][0][1]]
            lines.append(f"  {r['via'][:3]} {r['id']}: {first[0][:230]}")
    return lines


def pytest_terminal_summary(terminalreporter):
    if not RECORDS:
        return
    report = os.environ.get("HOSTILE_REPORT")
    if report:
        with open(report, "w") as fh:
            for r in RECORDS:
                fh.write(json.dumps(r) + "\n")
    terminalreporter.section("hostile-input battery")
    for line in tally_lines(RECORDS) + failing_lines(RECORDS):
        terminalreporter.write_line(line)
