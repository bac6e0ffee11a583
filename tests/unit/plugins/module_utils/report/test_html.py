from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys

import pytest
from ansible_collections.scalelab.capi.plugins.module_utils.report import html

ROOT = str(pathlib.Path(__file__).resolve().parents[5])

T0 = 1795788000.0


def snapshot(n=30):
    def series(job, f, **labels):
        return {"labels": {"job": job, **labels}, "stats": {}, "points": [[T0 + 10 * i, f(i)] for i in range(n)]}

    return {
        "window": {"start": T0, "end": T0 + 10 * (n - 1), "step": 10},
        "summary": {"managers": {"capi-core": {"cpu_cores_max": 1.2, "rss_mib_max": 80.0}}},
        "queries": {
            "workqueue_depth": {
                "series": [
                    series("capi-core", lambda i: i * 2.0, name="cluster"),
                    series("capi-core", lambda i: 1.0, name="machine"),
                ]
            },
            "reconcile_p99_seconds": {"series": [series("metal3-capm3", lambda i: 0.1 if i < 20 else 40.0)]},
            "process_cpu_cores": {"series": [series("capi-core", lambda i: 0.05 * i)]},
            "process_resident_memory_bytes": {"series": [series("capi-core", lambda i: 80.0 * 2**20)]},
            "apiserver_mutating_p99_seconds": {
                "series": [{"labels": {}, "stats": {}, "points": [[T0, 0.2], [T0 + 10, None]]}]
            },
        },
    }


def doc(n=40):
    ready = [10.0 + i * 0.5 for i in range(n)]
    return {
        "run": {"set": "unit", "clusters": n},
        "summary": {"clusters": n, "clusters_ready": n, "cluster_p99_seconds": 29.0, "drift_pct": 180.0},
        "kinds": {
            "Cluster": {
                "not_ready": 0,
                "time_to_ready": {"p50": 20.0, "p90": 27.0, "p99": 29.0},
                "drift": {"window": 4, "first_mean": 10.75, "last_mean": 28.25, "drift_pct": 162.8},
                "series": {"t0": T0, "created": [float(i) for i in range(n)], "ready": ready},
            },
            "BareMetalHost": {
                "stuck": 0,
                "drift": {},
                "series": {"t0": T0, "created": [0.0, 1.0], "available": [5.0, 6.0], "provisioned": [None, 30.0]},
            },
        },
        "prometheus": snapshot(),
        "profiles": {
            "jobs": {
                "capi-core": {
                    "cpu": {
                        "cpu_seconds": 2.5,
                        "profiled_seconds": 10,
                        "top_flat": [
                            {
                                "function": "sigs.k8s.io/cluster-api/util/certs.NewPrivateKey",
                                "flat": 1.5,
                                "flat_pct": 60,
                                "cum": 1.5,
                                "cum_pct": 60,
                            },
                            {"function": "runtime.mallocgc", "flat": 0.5, "flat_pct": 20, "cum": 0.9, "cum_pct": 36},
                        ],
                        "top_cum": [
                            {"function": "runtime.goexit", "flat": 0, "flat_pct": 0, "cum": 2.4, "cum_pct": 96},
                            {
                                "function": "sigs.k8s.io/cluster-api/util/certs.NewPrivateKey",
                                "flat": 1.5,
                                "flat_pct": 60,
                                "cum": 1.5,
                                "cum_pct": 60,
                            },
                        ],
                    },
                    "heap": None,
                }
            }
        },
    }


def offline(text: str) -> bool:
    """Nothing the page loads comes from elsewhere: no external script, stylesheet, image or frame."""
    return re.search(r"""<(script|link|img|iframe)\b[^>]*\b(src|href)=""", text) is None and "@import" not in text


def test_saturation_names_the_api_server_for_its_run_wide_series():
    d = doc()
    d["prometheus"]["queries"]["apiserver_429_rate"] = {
        "series": [{"labels": {}, "points": [[T0, 0.0], [T0 + 50, 0.04]]}]
    }
    first = html.saturation(d)[0]
    assert (first["signal"], first["job"], first["first_seconds"]) == ("apiserver_429_rate", "kube-apiserver", 50.0)


def test_saturation_orders_signals_by_first_crossing():
    rows = html.saturation(doc())
    first = rows[0]
    assert (first["signal"], first["job"], first["first_seconds"]) == ("workqueue_depth", "capi-core", 60.0)
    assert first["peak"] == 58.0 and first["peak_seconds"] == 290.0  # deepest queue per timestamp, not the sum
    assert [(r["signal"], r["first_seconds"]) for r in rows[1:]] == [
        ("process_cpu_cores", 190.0),
        ("reconcile_p99_seconds", 200.0),
    ]
    assert html.saturation({"summary": {}}) == []


def test_build_writes_a_self_contained_report_once(tmp_path):
    base = doc()
    base["summary"]["cluster_p99_seconds"] = 20.0
    out = str(tmp_path / "r")
    changed, res = html.build(doc(), out, "Unit <run>", {"drift_pct": 5, "objects_failed": 0}, base, "base.json")
    assert changed
    names = sorted(os.path.basename(p) for p in res["plots"])
    assert names == sorted(
        [
            "clusters-over-time.png",
            "time-to-ready.png",
            "drift.png",
            "hosts-over-time.png",
            "host-drift.png",
            "reconcile-p99.png",
            "queue-depth.png",
            "cpu.png",
            "memory.png",
            "apiserver.png",
            "profiles.png",
        ]
    )
    for p in res["plots"]:
        with open(p, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    with open(res["html"]) as f:
        text = f.read()
    assert text.count('<div class="plot">') == res["charts"] == 11 and offline(text)
    charts = json.loads(re.search(r'<script type="application/json" id="charts">(.*?)</script>', text).group(1))
    assert len(charts) == 11 and all(c["data"] and c["layout"]["title"]["text"] for c in charts)
    assert "Unit &lt;run&gt;" in text and "FAIL (1)" in text and "drift_pct = 180 breaks &lt;= 5" in text
    assert "1 regressed" in text and "certs.NewPrivateKey" in text and "runtime.goexit" not in text
    assert res["saturated_first"]["job"] == "capi-core" and res["regressed"] == ["cluster_p99_seconds"]
    again, _dummy = html.build(doc(), out, "Unit <run>", {"drift_pct": 5, "objects_failed": 0}, base, "base.json")
    assert not again  # same data, same bytes


def test_build_without_snapshot_or_series_still_reports(tmp_path):
    bare = {"summary": {"clusters": 1}, "kinds": {"Cluster": {"not_ready": 1}}}
    changed, res = html.build(bare, str(tmp_path / "b"), "bare")
    assert changed and res["plots"] == [] and res["saturated_first"] is None and res["gates"] is None
    with open(res["html"]) as f:
        assert "no Prometheus snapshot" in f.read()


def test_check_mode_writes_nothing(tmp_path):
    changed, res = html.build(doc(), str(tmp_path / "c"), "check", check_mode=True)
    assert changed and not os.path.exists(tmp_path / "c")


def test_unwritable_output_names_the_option(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(html.ReportError, match="output_dir="):
        html.build(doc(), str(tmp_path / "file" / "sub"), "x")


def test_an_unchanged_report_is_not_redrawn_until_an_input_or_a_file_changes(tmp_path):
    out = str(tmp_path / "r")
    changed, first = html.build(doc(), out, "run", {"drift_pct": 5})
    assert changed
    # A fresh interpreter (as a module run is): the same inputs return the last result without importing matplotlib.
    code = (
        "import json, sys\n"
        "from ansible_collections.scalelab.capi.plugins.module_utils.report import html\n"
        f"doc = json.loads({json.dumps(json.dumps(doc()))})\n"
        f"changed, res = html.build(doc, {out!r}, 'run', {{'drift_pct': 5}})\n"
        "print(json.dumps([changed, res, 'matplotlib' in sys.modules]))\n"
    )
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, ".collections"))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    changed, again, drew = json.loads(proc.stdout)
    assert (changed, drew) == (False, False) and again == json.loads(json.dumps(first))
    # other gates, a removed plot or an edited report: drawn again, and the files are whole
    assert html.build(doc(), out, "run", {"drift_pct": 500})[1]["broken"] == []
    os.unlink(first["plots"][0])
    assert html.build(doc(), out, "run", {"drift_pct": 500})[0] is True and os.path.exists(first["plots"][0])
    with open(first["html"], "a") as f:
        f.write("edited")
    assert html.build(doc(), out, "run", {"drift_pct": 500})[0] is True
    with open(first["html"]) as f:
        assert not f.read().endswith("edited")


def test_a_signal_over_its_threshold_from_the_start_crossed_at_zero_not_before():
    # Prometheus aligns a range query's first point to its step: it can fall just before the window's start.
    d = {
        "prometheus": {
            "window": {"start": T0},
            "queries": {
                "workqueue_depth": {
                    "series": [{"labels": {"job": "capi-core"}, "points": [[T0 - 0.5, 12.0], [T0 + 9.5, 30.0]]}]
                }
            },
        }
    }
    row = html.saturation(d)[0]
    assert (row["first_seconds"], row["peak_seconds"]) == (0.0, 9.5)
