from __future__ import annotations

import os

from ansible_collections.scalelab.capi.plugins.module_utils.report import sweep


def point(p99, ready=10, cpu=None):
    doc = {
        "summary": {"clusters": 10, "clusters_ready": ready, "cluster_p99_seconds": p99, "drift_pct": 1.0},
        "kinds": {"Cluster": {"not_ready": 10 - ready}},
    }
    if cpu is not None:
        doc["prometheus"] = {"summary": {"managers": {"capi-core": {"cpu_cores_max": cpu}}}}
    return doc


POINTS = [("qps=20", point(100.0, cpu=0.5)), ("qps=100", point(50.0, cpu=1.0)), ("qps=200", point(60.0, ready=9))]


def test_rows_are_relative_to_the_first_point():
    rows = {r["metric"]: r for r in sweep.rows(POINTS)}
    assert rows["cluster_p99_seconds"]["values"] == [100.0, 50.0, 60.0]
    assert rows["cluster_p99_seconds"]["vs_first_pct"] == [0.0, -50.0, -40.0]
    assert rows["objects_failed"]["values"] == [0.0, 0.0, 1.0]
    assert rows["objects_failed"]["vs_first_pct"] == [None, None, None]  # no percentage against zero
    assert rows["cpu_cores_max"]["values"] == [0.5, 1.0, None]
    assert "rss_mib_max" not in rows  # no point measured it
    assert [r["metric"] for r in sweep.rows(POINTS)] == [m for m in sweep.KEY_METRICS if m in rows]


def test_table_and_files(tmp_path):
    lines = sweep.table(POINTS, sweep.rows(POINTS))
    assert lines[0].split() == ["metric", "qps=20", "qps=100", "qps=200"]
    assert any(line.startswith("cluster_p99_seconds") and "50 (-50%)" in line for line in lines)
    out = str(tmp_path / "s")
    changed, res = sweep.build(POINTS, out, "Sweep qps")
    assert changed and res["table"] == lines
    assert sorted(os.listdir(out)) == [
        "cluster_p99_seconds.png",
        "cpu_cores_max.png",
        "drift_pct.png",
        "sweep.html",
        "sweep.md",
    ]
    with open(res["html"]) as f:
        assert f.read().count('<div class="plot">') == 3
    assert not sweep.build(POINTS, out, "Sweep qps")[0]
