"""Stable interfaces (issue 11, defect 18): every tool's parameter ids, their types and the options of every
enum parameter, in order, are pinned in test/interface_snapshot.json.

Parameter ids are the words of every qgis_process call, script and saved .model3; an enum is passed by its
option's number (SENSOR=2), so options are appended, never renumbered, removed or reordered. A change to
the snapshot is therefore a change of the plugin's interface: make it on purpose, regenerate the snapshot
(``QT_QPA_PLATFORM=offscreen .venv/bin/python test/test_interface_snapshot.py``) and write it in the
changelog (CHANGELOG.md and metadata.txt)."""
from __future__ import annotations

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SNAPSHOT = os.path.join(HERE, "interface_snapshot.json")
HOW = ("If this change is deliberate, regenerate the snapshot (QT_QPA_PLATFORM=offscreen .venv/bin/python "
       "test/test_interface_snapshot.py) and write the change in the changelog (CHANGELOG.md, metadata.txt): scripts "
       "and saved models use these ids and option numbers. Never renumber enum options: append new ones.")


def interface(provider):
    """{algorithm id: {parameter id: {"type": ..., "options": [...] (enums only)}}} of the provider."""
    out = {}
    for alg in sorted(provider.algorithms(), key=lambda a: a.id()):
        params = {}
        for definition in alg.parameterDefinitions():
            entry = {"type": definition.type()}
            if definition.type() == "enum":
                entry["options"] = list(definition.options())
            params[definition.name()] = entry
        out[alg.id()] = params
    return out


def _load():
    with open(SNAPSHOT, encoding="utf-8") as f:
        return json.load(f)


def test_the_snapshot_covers_every_tool(provider):
    snapshot = _load()
    assert sorted(snapshot) == sorted(a.id() for a in provider.algorithms()), HOW
    assert sum(len(p) for p in snapshot.values()) > 300           # not vacuous: about 300 parameters


def _option_change(a, b):
    """What happened to an enum's options ``a`` -> ``b``, in words (with only the options that changed)."""
    moved = [(i, b.index(o)) for i, o in enumerate(a) if o in b and b.index(o) != i]
    if moved:
        return f"options RENUMBERED (saved models and scripts change meaning): {moved} (old -> new number)"
    if len(b) < len(a):
        return f"options REMOVED (saved models and scripts break): {a[len(b):]}"
    reworded = [f"{i}: {a[i]!r} -> {b[i]!r}" for i in range(len(a)) if a[i] != b[i]]
    added = [f"{i}: {b[i]!r}" for i in range(len(a), len(b))]
    return "; ".join(([f"option labels reworded, numbers unchanged: {', '.join(reworded)}"] if reworded else []) +
                     ([f"options appended: {', '.join(added)}"] if added else []))


def differences(snapshot, now):
    """What changed between two interfaces, one line per change."""
    problems = []
    for alg_id in sorted(set(snapshot) | set(now)):
        old, new = snapshot.get(alg_id), now.get(alg_id)
        if old is None or new is None:
            problems.append(f"{alg_id}: tool {'added' if old is None else 'removed'}")
            continue
        for pid in sorted(set(old) - set(new)):
            problems.append(f"{alg_id}: parameter {pid} removed or renamed")
        for pid in sorted(set(new) - set(old)):
            problems.append(f"{alg_id}: parameter {pid} added")
        for pid in sorted(set(old) & set(new)):
            if old[pid]["type"] != new[pid]["type"]:
                problems.append(f"{alg_id}: {pid} changed type {old[pid]['type']} -> {new[pid]['type']}")
            a, b = old[pid].get("options"), new[pid].get("options")
            if a != b:
                problems.append(f"{alg_id}: {pid} {_option_change(a or [], b or [])}")
    return problems


def test_parameter_ids_types_and_enum_options_are_as_pinned(provider):
    problems = differences(_load(), interface(provider))
    assert not problems, "The plugin's interface changed:\n  " + "\n  ".join(problems) + "\n" + HOW


def test_the_comparison_sees_every_kind_of_change(provider):
    """Not vacuous: a swapped pair of options, an appended option, a renamed id and a new type are all seen."""
    snapshot = _load()
    changed = json.loads(json.dumps(snapshot))
    sensor = changed["miningeco:rsei"]["SENSOR"]["options"]
    sensor[0], sensor[1] = sensor[1], sensor[0]
    changed["miningeco:lst"]["SENSOR"]["options"].append("Landsat 10")
    changed["miningeco:trend"]["YEAR_LIST"] = changed["miningeco:trend"].pop("YEARS")
    changed["miningeco:coupling"]["SAMPLE_SIZE"]["type"] = "string"
    changed["miningeco:trend"]["CONFIDENCE"]["options"][2] = "99.9 %"
    changed["miningeco:geodetector"]["METHOD"]["options"].pop()
    found = "\n".join(differences(snapshot, changed))
    assert "miningeco:trend: CONFIDENCE option labels reworded, numbers unchanged: 2: '99 %' -> '99.9 %'" in found
    assert "miningeco:geodetector: METHOD options REMOVED" in found
    assert "miningeco:rsei: SENSOR options RENUMBERED" in found
    assert "miningeco:lst: SENSOR options appended: 5: 'Landsat 10'" in found
    assert "miningeco:trend: parameter YEARS removed or renamed" in found
    assert "miningeco:trend: parameter YEAR_LIST added" in found
    assert "miningeco:coupling: SAMPLE_SIZE changed type number -> string" in found
    assert differences(snapshot, snapshot) == []


if __name__ == "__main__":   # regenerate the snapshot from the current code
    sys.path.insert(0, os.path.dirname(HERE))
    from qgis.core import QgsApplication
    app = QgsApplication([], False)
    app.initQgis()
    from mining_eco_plugin.provider import MiningEcoProvider
    prov = MiningEcoProvider()
    QgsApplication.processingRegistry().addProvider(prov)
    data = interface(prov)
    with open(SNAPSHOT, "w", encoding="utf-8") as f:     # one line per parameter: diffs read as changes
        f.write("{\n" + ",\n".join(
            f" {json.dumps(alg)}: {{\n" + ",\n".join(f"  {json.dumps(pid)}: {json.dumps(entry, ensure_ascii=False)}"
                                                  for pid, entry in sorted(params.items())) + "\n }"
            for alg, params in sorted(data.items())) + "\n}\n")
    print(SNAPSHOT)
