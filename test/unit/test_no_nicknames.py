"""Users never see the project's nicknames of the reference studies ("ningdong", "zhundong", "changhe", "coastal"):
reports, logs and messages cite them by author, year and journal (issue 11, item 15; references.py). Developer
docstrings and comments may use them. Place names (Ningdong, Zhundong, Changhe Basin) are capitalised and allowed.

Checked on the source: every string constant of the plugin that is not a docstring."""
from __future__ import annotations

import ast
import pathlib
import re

PLUGIN = pathlib.Path(__file__).resolve().parents[2] / "mining_eco_plugin"
NICKNAME = re.compile(r"\b(ningdong|zhundong|changhe|coastal)\b")     # lower case: the nicknames, not the places


def _user_strings(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docs.add(id(body[0].value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            yield node.lineno, node.value


def test_no_study_nickname_in_a_string_users_see():
    hits = [f"{p.relative_to(PLUGIN)}:{line}: {m.group(0)!r} in {text[:80]!r}"
            for p in sorted(PLUGIN.rglob("*.py")) for line, text in _user_strings(p)
            for m in [NICKNAME.search(text)] if m]
    assert not hits, "\n".join(hits)


def test_the_check_finds_a_nickname():
    # the check itself must be able to fail: a string constant with a nickname is found, a docstring is not
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        p = pathlib.Path(d) / "m.py"
        p.write_text('"""ningdong in a docstring."""\nX = "as in the ningdong study"\n', encoding="utf-8")
        found = [t for _l, t in _user_strings(p) if NICKNAME.search(t)]
    assert found == ["as in the ningdong study"]
