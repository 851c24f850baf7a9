"""edgevid bench end to end: JSON schema, compare, recommend, HTML in a real browser, task bench."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys

import pytest

from edgevid.bench.compare import compare
from edgevid.bench.html import pareto, render
from edgevid.bench.recommend import recommend
from edgevid.bench.report import validate


def cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "edgevid", *args], capture_output=True, text=True, timeout=600, **kw)


@pytest.fixture(scope="module")
def model_doc(tmp_path_factory, real_model):
    out = tmp_path_factory.mktemp("bench") / "m.json"
    proc = cli("bench", "--model", str(real_model("blazeface_short")), "--runs", "30", "--duration", "0.2",
               "--threads", "1", "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "p50 ms" in proc.stdout and "tflite" in proc.stdout and "openvino" in proc.stdout
    return json.loads(out.read_text())


def test_model_bench_json_follows_the_schema(model_doc):
    validate(model_doc)
    rows = {r["backend"]: r for r in model_doc["results"]}
    assert set(rows) == {"tflite", "openvino"}  # onnxruntime does not read .tflite
    assert rows["tflite"]["reference"] and rows["tflite"]["latency_ms"]["n"] == 30
    assert rows["openvino"]["precision"] in ("f32", "bf16", "f16")  # what actually ran, not a guess
    assert rows["tflite"]["max_rel_diff_vs_reference"] == 0.0
    assert 0 <= rows["openvino"]["max_rel_diff_vs_reference"] < 0.15  # bf16 by default here: close, not equal (0.07 seen)
    for r in rows.values():
        assert r["load"]["create_s"] > 0 and r["load"]["peak_rss_mb"] > 50
        assert r["throughput"]["fps"] > 0
    host = model_doc["host"]
    assert host["cores"] >= 1 and "onnxruntime" in host["versions"] and len(host["loadavg"]) == 2


def test_schema_validation_catches_missing_fields(model_doc):
    broken = copy.deepcopy(model_doc)
    del broken["results"][0]["latency_ms"]["p99"]
    with pytest.raises(ValueError, match="p99"):
        validate(broken)
    broken = copy.deepcopy(model_doc)
    broken["schema_version"] = 99
    with pytest.raises(ValueError, match="schema_version"):
        validate(broken)


def test_compare_flags_a_regression_and_not_noise(model_doc):
    same = compare(model_doc, model_doc)
    assert same and not any(r["regression"] for r in same)
    slower = copy.deepcopy(model_doc)
    factors = []
    for r in slower["results"]:
        lat = r["latency_ms"]
        # slower by more than this measurement's own 95% band, however loaded the machine was while it ran:
        # a band wider than the slow-down is noise, which compare must not flag (checked below)
        factors.append(max(1.5, 1.2 * lat["ci95_high"] / lat["ci95_low"]))
        for k in ("p50", "ci95_low", "ci95_high"):
            lat[k] *= factors[-1]
    verdicts = compare(slower, model_doc)
    assert [r["p50_change"] for r in verdicts] == pytest.approx([f - 1 for f in factors], abs=1e-4)
    assert all(r["regression"] for r in verdicts)
    noisy = copy.deepcopy(model_doc)
    for r in noisy["results"]:  # a p50 20% up inside a band twice as wide: not a regression
        lat = r["latency_ms"]
        lat["p50"], lat["ci95_low"], lat["ci95_high"] = lat["p50"] * 1.2, lat["p50"] * 0.5, lat["p50"] * 2.0
    assert not any(r["regression"] for r in compare(noisy, model_doc))
    assert all(r["improvement"] for r in compare(model_doc, slower))


def _row(name, p50, fps, acc):
    return {"backend": name, "device": "CPU", "variant": "v", "precision": "f32", "compression": "none",
            "size_mb": 1.0, "latency_ms": {"p50": p50}, "throughput": {"fps": fps},
            "accuracy": {"vs_reference": acc, "below_floor": acc < 0.99}}


def test_recommendation_respects_the_accuracy_floor():
    doc = {"results": [_row("fast-but-wrong", 1.0, 900, 0.80), _row("steady", 2.0, 400, 0.995),
                       _row("wide", 3.0, 700, 1.0)]}
    assert recommend(doc, "latency")["backend"] == "steady"
    assert recommend(doc, "throughput")["backend"] == "wide"
    assert recommend({"results": [_row("bad", 1.0, 1, 0.5)]}) is None
    assert sorted(pareto([(1.0, 0.8), (2.0, 0.995), (3.0, 1.0), (3.5, 0.9)])) == [0, 1, 2]


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium here (.ci/run installs Debian's chromium)")
def test_html_report_renders_in_headless_chromium(model_doc, tmp_path):
    doc = copy.deepcopy(model_doc)
    doc["recommendation"] = recommend(doc)
    page = tmp_path / "report.html"
    page.write_text(render(doc))
    proc = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    dom = proc.stdout
    assert proc.returncode == 0 and "<table id=\"results\"" in dom, proc.stderr[-2000:]
    assert dom.count("<tr>") == 1 + len(doc["results"])
    assert 'id="latency-plot"' in dom and dom.count('class="box"') == len(doc["results"])
    assert 'id="pareto-plot"' in dom and 'id="recommended"' in dom
    assert doc["recommendation"]["config"] in dom
    shot = tmp_path / "report.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    f"--user-data-dir={tmp_path / 'profile2'}", f"--screenshot={shot}", "--window-size=1000,1400",
                    page.as_uri()], capture_output=True, timeout=120)
    assert shot.is_file() and shot.stat().st_size > 10_000  # a real rendering, not a blank page


@pytest.mark.slow
def test_task_bench_on_the_builtin_sample(tmp_path):
    out = tmp_path / "t.json"
    proc = cli("bench", "face", "--runs", "15", "--duration", "0.1", "--json", str(out), "--html", str(tmp_path / "r.html"))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    validate(doc)
    assert doc["kind"] == "task" and doc["subject"] == "face" and doc["source"].endswith(".avi")
    rows = {r["backend"]: r for r in doc["results"]}
    assert {"tflite", "openvino"} <= set(rows)
    assert any(s["backend"] == "onnxruntime" and "cannot read" in s["reason"] for s in doc["skipped"])
    for r in rows.values():
        assert r["video"]["frames"] == 60 and r["video"]["fps"] > 0
        assert set(r["video"]["stage_ms_per_frame"]) >= {"decode", "preprocess", "infer", "postprocess"}
        assert r["accuracy"]["metric"].startswith("detection F1")
    assert rows["tflite"]["accuracy"]["vs_reference"] == 1.0  # tflite f32 *is* the reference runtime
    assert rows["openvino"]["accuracy"]["vs_reference"] >= 0.9


def test_an_ir_counts_its_weights(tmp_path):
    """An OpenVINO IR's size is its .xml plus its .bin: the weights are the bytes a device stores."""
    ov = pytest.importorskip("openvino")
    from edgevid.bench.run import _size_mb
    from edgevid.testing.models import real_model_path

    xml = tmp_path / "face.xml"
    ov.save_model(ov.convert_model(str(real_model_path("blazeface_short"))), str(xml))
    both = (xml.stat().st_size + xml.with_suffix(".bin").stat().st_size) / 2**20
    assert xml.with_suffix(".bin").stat().st_size > 100_000
    assert _size_mb([xml]) == round(both, 3)
