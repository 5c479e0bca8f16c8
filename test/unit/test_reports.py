"""Unit tests for mining_eco_plugin.reports (HTML + PNG writers)."""
import base64
import re

import numpy as np
import pytest

from mining_eco_plugin.reports import histogram_png, write_html_report

PNG_SIG = b"\x89PNG\r\n\x1a\n"


def test_histogram_png(tmp_path):
    counts = np.array([5, 10, 3, 0, 7])
    edges = np.linspace(0, 1, 6)
    out = tmp_path / "hist.png"
    histogram_png(out, counts, edges, "RSEI <2024>", "RSEI",
                  colors=["#d7191c", "#fdae61", "#ffffbf", "#a6d96a", "#1a9641"])
    data = out.read_bytes()
    assert data.startswith(PNG_SIG) and len(data) > 1000
    histogram_png(str(tmp_path / "plain.png"), counts, edges, "t", "x")
    assert (tmp_path / "plain.png").read_bytes().startswith(PNG_SIG)
    with pytest.raises(ValueError):
        histogram_png(tmp_path / "bad.png", counts, edges[:-1], "t", "x")
    with pytest.raises(ValueError):
        histogram_png(tmp_path / "bad.png", counts, edges, "t", "x", colors=["red"])
    assert not (tmp_path / "bad.png").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hist.png", "plain.png"]


def test_write_html_report(tmp_path):
    png = tmp_path / "h.png"
    histogram_png(png, [1, 2, 3], [0, 0.5, 0.8, 1.0], "hist", "RSEI")
    rows = [
        {"grade": 1, "label": "Worst <&>", "area_km2": 0.0009, "percent": 12.345678},
        {"grade": 2, "label": "Poor", "area_km2": 1234567.0, "percent": float("nan")},
    ]
    report = tmp_path / "sub" / "report.html"
    write_html_report(report, "RSEI <Ningdong> & 2024", [
        ("Summary", "PC1 explains 71.8 % of the variance.\n\nSecond <paragraph>."),
        ("Grades", rows),
        ("Histogram", str(png)),
        ("Histogram (Path)", png),
        ("Parameters", {"clip_percent": 0.0, "seed": 20130707}),
    ])
    text = report.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert '<meta charset="utf-8">' in text
    assert "<title>RSEI &lt;Ningdong&gt; &amp; 2024</title>" in text
    assert "<h1>RSEI &lt;Ningdong&gt; &amp; 2024</h1>" in text
    assert "RSEI <Ningdong>" not in text
    assert "Worst &lt;&amp;&gt;" in text
    assert "Second &lt;paragraph&gt;." in text
    assert text.count("<table>") == 2
    assert "<th>area_km2</th>" in text
    assert ">12.3457<" in text and ">0.0009<" in text and ">1.235e+06<" in text and ">NaN<" in text
    imgs = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert len(imgs) == 2
    assert base64.b64decode(imgs[0]).startswith(PNG_SIG)
    assert base64.b64decode(imgs[0]) == png.read_bytes()


def test_html_report_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        write_html_report(tmp_path / "r.html", "t", [("img", str(tmp_path / "missing.png"))])
    with pytest.raises(TypeError):
        write_html_report(tmp_path / "r.html", "t", [("bad", 42)])
    assert not (tmp_path / "r.html").exists()
    # a sentence mentioning a png is just text
    write_html_report(tmp_path / "r.html", "t", [("note", "See the file chart.png"), ("empty", [])])
    text = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "See the file chart.png" in text and "No rows." in text
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]
