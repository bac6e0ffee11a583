"""A 1x2 sweep on the test lab: both points run, their sets are deleted between points, one comparison report."""

from __future__ import annotations

import json
import os

from .lab import said

SWEEP = {"scale_sweep_name": "itsweep", "scale_sweep_matrix": {"capi_stack_concurrency": [10, 5]}, "scale_clusters": 2}


def test_sweep_runs_every_point_and_writes_one_comparison(lab, tmp_path):
    extra = tmp_path / "sweep.json"
    extra.write_text(json.dumps(SWEEP))
    stamp = os.path.join(lab.dir, "capi", ".converged-capi-stack")
    before = os.stat(stamp).st_mtime_ns
    res = lab.playbook("sweep.yml", "-e", f"@{extra}")
    assert res["rc"] == 0, res["stdout"][-4000:] + res["stderr"][-2000:]
    # The points converged this lab's own Cluster API stack (its stamp records the last point's flags), not the
    # directory of a lab named by default.
    with open(stamp) as f:
        recorded = json.load(f)
    assert os.stat(stamp).st_mtime_ns > before, recorded
    assert "--cluster-concurrency=5" in recorded["data"]["managers"][0]["command"], recorded["data"]["managers"][0]
    out = os.path.join(lab.dir, "results", "itsweep")
    for i in (1, 2):
        with open(os.path.join(out, f"p{i}.json")) as f:
            doc = json.load(f)
        assert doc["summary"]["clusters_ready"] == 2 and doc["run"]["point"] == {
            "capi_stack_concurrency": [10, 5][i - 1]
        }
        assert doc["prometheus"]["summary"]["managers"]["capi-core"]["cpu_cores_max"] > 0
        assert os.path.exists(os.path.join(out, f"p{i}-report", "report.html"))
    with open(os.path.join(out, "sweep.md")) as f:
        md = f.read()
    assert "capi_stack_concurrency=10" in md and "capi_stack_concurrency=5" in md and "cluster_p99_seconds" in md
    with open(os.path.join(out, "sweep.html")) as f:
        assert f.read().count('<div class="plot">') >= 3
    assert "report: " in res["stdout"] and "cluster_p99_seconds" in res["stdout"]
    # Reset between points: neither point's clusters are left.
    for i in (1, 2):
        assert lab.objects("/apis/cluster.x-k8s.io/v1beta2/clusters", f"scalelab.io/set=itsweep-p{i}") == []
    # The last point's knob is what the managers run with now.
    assert "--cluster-concurrency=5" in " ".join(open(f"/proc/{lab.pid('capi-core')}/cmdline").read().split("\0"))


def test_a_bad_matrix_is_refused_before_anything_runs(lab, tmp_path):
    extra = tmp_path / "bad.json"
    extra.write_text(json.dumps({"scale_sweep_matrix": {"capi_stack_colour": ["blue"]}}))
    res = lab.playbook("sweep.yml", "-e", f"@{extra}")
    assert res["rc"] != 0 and "capi_stack_colour" in res["stdout"], res["stdout"][-2000:]
    assert res["recap"].get("changed", 0) == 0, said(res)
