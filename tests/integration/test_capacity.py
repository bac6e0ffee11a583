"""capacity.yml on the test lab, as small as it goes: one rate (3 clusters), one size (3 clusters), one report; a
second run reuses both steps. Bad capacity knobs: tests/integration/test_bad_inputs.py."""

from __future__ import annotations

import json
import os

from .lab import said

CAPACITY = {
    "scale_capacity_name": "itcap",
    "scale_capacity_rate": 60,
    "scale_capacity_rate_steps": 1,
    "scale_capacity_rate_clusters": 3,
    "scale_capacity_sizes": [3],
    # Three clusters give a noisy drift: the test judges the search's plumbing, not this machine's knee.
    "scale_capacity_gates": {"objects_failed": 0, "drift_pct": 10000},
    "scale_capacity_memory_budget": 0.99,
}


def test_capacity_finds_a_rate_and_a_size_and_reuses_them(lab, tmp_path):
    extra = tmp_path / "capacity.json"
    extra.write_text(json.dumps(CAPACITY))
    res = lab.playbook("capacity.yml", "-e", f"@{extra}")
    assert res["rc"] == 0, res["stdout"][-4000:] + res["stderr"][-2000:]
    out = os.path.join(lab.dir, "results", "itcap")
    with open(os.path.join(out, "rate-60.json")) as f:
        rate = json.load(f)
    # 3 clusters at 60/min: one batch (cluster_bulk paced 10 every 10 s), judged on the step's own snapshot.
    assert rate["summary"]["clusters_ready"] == 3 and rate["run"]["phase"] == "rate", rate["run"]
    assert rate["prometheus"]["summary"]["node_memory_used_ratio_max"] > 0
    # Where the step's time went (v1beta2): stages adding up to time to ready; Cluster API core's cluster controller.
    stages, drift = rate["kinds"]["Cluster"]["stages"], rate["kinds"]["Cluster"]["drift"]
    assert stages["clusters"] == 3 and abs(sum(stages["first"].values()) - drift["first_mean"]) < 0.01, stages
    assert stages["interval"]["infrastructure"]["count"] == 3
    core = rate["prometheus"]["summary"]["controllers"]["capi-core/cluster"]
    assert core["items"] >= 5 and core["reconcile_seconds"] > 0 and core["workers"] >= 1, core
    with open(os.path.join(out, "size-3.json")) as f:
        size = json.load(f)
    assert size["summary"]["clusters_ready"] == 3 and size["run"]["rate_per_minute"] == 60.0
    with open(os.path.join(out, "capacity.md")) as f:
        md = f.read()
    assert "| 60 **(knee)** |" in md and "Sustainable: **60 clusters/min**" in md, md
    assert "| 3 **(largest held)** |" in md and "Done: both searches are done." in md, md
    assert "sustainable rate: 60.0 clusters/min" in res["stdout"] and "clusters held: 3" in res["stdout"]
    # Both sets are gone: the rate step's after it, the size search's at the end.
    for s in ("itcap-rate", "itcap-size"):
        assert lab.objects("/apis/cluster.x-k8s.io/v1beta2/clusters", f"scalelab.io/set={s}") == []
    # Again: every step is reused (no cluster created, no results rewritten), the report unchanged.
    stamps = {n: os.stat(os.path.join(out, n)).st_mtime_ns for n in ("rate-60.json", "size-3.json", "capacity.md")}
    again = lab.playbook("capacity.yml", "-e", f"@{extra}")
    assert again["rc"] == 0 and again["recap"].get("changed", 0) == 0, said(again)
    assert {n: os.stat(os.path.join(out, n)).st_mtime_ns for n in stamps} == stamps
