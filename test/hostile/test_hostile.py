"""The hostile-input battery (issue 11): every case of hostile_cases.CASES through processing.run, and the
cases marked ``cli`` also through qgis_process. One test function per check kind:

* ``test_refused_cleanly``: inputs that must be refused (QgsProcessingException naming the input, no traceback,
  nothing left behind, inputs unchanged);
* ``test_valid_edge_matches_hand_value``: valid edge inputs, results compared with hand values;
* ``test_implausible_input_is_refused_or_warned``: possible but implausible inputs (a clean refusal or a
  warning naming the likely cause);
* ``test_refused_cleanly_or_completed``: inputs a tool may refuse or honour (an output in a missing folder:
  refused, or the folder created and every output written; never half of them);
* ``test_cancel_leaves_nothing``: cancelled at the first progress report, nothing left, within the time;
* ``test_qgis_process_refuses_cleanly``: the ``cli`` subset, headless, no "Traceback", nothing left.

Every case is bounded in time (watchdog / subprocess timeout; see hostile_run). The outcome of each case is
recorded for the tally (conftest.py; ``python test/hostile/tally.py``).
"""
from __future__ import annotations

import os

import pytest

import hostile_run as hr
from hostile_cases import BASE, CASES, RASTER_BASE
from paths import DATA

MARBURG = os.path.join(DATA, "marburg")
TOOLS = ("composite", "spectralindices", "lst", "rsei", "rseicomponents", "rseiseries", "egindex", "coupling",
         "transfermatrix", "classareas", "trend", "timeseries", "samplerasters", "kriging", "vipscreening", "indexsearch", "trainmodel",
         "applymodel", "casanpp", "geodetector", "localcorrelation", "mlrcontribution", "rfcontribution",
         "installdependencies", "estarfm")


def _ids(cases):
    return [c.id for c in cases]


ERRORS = [c for c in CASES if c.expect == "error"]
EDGES = [c for c in CASES if c.expect == "ok"]
WARNS = [c for c in CASES if c.expect == "warn"]
EITHERS = [c for c in CASES if c.expect == "either"]
CANCELS = [c for c in CASES if c.expect == "cancel"]
CLI = [c for c in CASES if c.cli]


def _run(case, request, tmp_path, monkeypatch, data, tempdir, via="processing.run", cli=None):
    ctx = hr.Ctx(data, tmp_path)
    try:
        params = case.params(ctx)
        snaps = hr.Snapshots([ctx.inp, data.root, MARBURG], tempdir if via == "processing.run" else None)
        if via == "processing.run" and case.isolate:
            outcome = hr.run_isolated(case.tool, params, case.timeout, case.expect == "cancel", tempdir,
                                      os.path.join(str(tmp_path), "qgis_config"))
        elif via == "processing.run":
            if case.prepare is not None:
                case.prepare(monkeypatch)
            fb = hr.recording_feedback(cancel_on_progress=case.expect == "cancel")
            outcome = hr.run_processing(case.tool, params, case.timeout, fb)
        else:
            outcome = hr.run_cli(cli, case.tool, params, case.timeout + 30)
        kind, problems = hr.classify(case, ctx, outcome, snaps, via)
    finally:
        ctx.close()
    request.node.user_properties.append(("hostile", {
        "id": case.id, "tool": case.tool, "category": case.category, "expect": case.expect, "via": via,
        "kind": kind, "problems": problems, "seconds": round(outcome.seconds, 2),
        "message": hr.last_lines(outcome.message if via == "processing.run" else outcome.output)}))
    assert kind in hr.GOOD, f"{case.id} ({case.category}, {via}): {kind}\n" + "\n".join(
        f"  [{k}] {text}" for k, text in problems)


def test_every_tool_of_the_provider_is_covered(provider):
    ids = {a.name() for a in provider.algorithms()}
    assert ids == set(TOOLS)
    for tool in TOOLS:
        assert [c for c in CASES if c.tool == tool], tool
        assert [c for c in CLI if c.tool == tool], f"{tool}: no qgis_process case"
    assert len(CASES) + len(CLI) >= 250


BASES = [(t, BASE[t]) for t in TOOLS] + [(f"{t}-rasters", b) for t, b in RASTER_BASE.items()]


@pytest.mark.parametrize("name,base", BASES, ids=[n for n, _ in BASES])
def test_base_run_is_valid(name, base, provider, tmp_path, hostile_data, hostile_tempdir):
    """Every case changes one thing of its tool's base run: the base run itself must succeed (otherwise a case
    could be refused for the wrong reason). Not a hostile case: not in the tally."""
    import processing
    ctx = hr.Ctx(hostile_data, tmp_path)
    tool = name.split("-")[0]
    processing.run(f"miningeco:{tool}", base(ctx), feedback=hr.recording_feedback())
    assert os.listdir(ctx.out)


@pytest.mark.parametrize("case", ERRORS, ids=_ids(ERRORS))
def test_refused_cleanly(case, provider, request, tmp_path, monkeypatch, hostile_data, hostile_tempdir):
    _run(case, request, tmp_path, monkeypatch, hostile_data, hostile_tempdir)
    assert not os.path.exists("/tmp/mining_eco_pwned")


@pytest.mark.parametrize("case", EDGES, ids=_ids(EDGES))
def test_valid_edge_matches_hand_value(case, provider, request, tmp_path, monkeypatch, hostile_data, hostile_tempdir):
    _run(case, request, tmp_path, monkeypatch, hostile_data, hostile_tempdir)


@pytest.mark.parametrize("case", WARNS, ids=_ids(WARNS))
def test_implausible_input_is_refused_or_warned(case, provider, request, tmp_path, monkeypatch, hostile_data,
                                                hostile_tempdir):
    _run(case, request, tmp_path, monkeypatch, hostile_data, hostile_tempdir)


@pytest.mark.parametrize("case", EITHERS, ids=_ids(EITHERS))
def test_refused_cleanly_or_completed(case, provider, request, tmp_path, monkeypatch, hostile_data, hostile_tempdir):
    _run(case, request, tmp_path, monkeypatch, hostile_data, hostile_tempdir)


@pytest.mark.parametrize("case", CANCELS, ids=_ids(CANCELS))
def test_cancel_leaves_nothing(case, provider, request, tmp_path, monkeypatch, hostile_data, hostile_tempdir):
    _run(case, request, tmp_path, monkeypatch, hostile_data, hostile_tempdir)


@pytest.mark.parametrize("case", CLI, ids=_ids(CLI))
def test_qgis_process_refuses_cleanly(case, provider, request, tmp_path, monkeypatch, hostile_data, hostile_cli):
    _run(case, request, tmp_path, monkeypatch, hostile_data, None, via="qgis_process", cli=hostile_cli)
