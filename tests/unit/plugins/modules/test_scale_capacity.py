"""Runs scale_capacity as Ansible does (conftest.run_module) on a directory of steps, as capacity.yml keeps them."""

from __future__ import annotations

import json
import time


def step(tmp_path, name, drift, clusters=4, earlier=0, mem=0.3):
    doc = {
        "summary": {"clusters": clusters, "clusters_ready": clusters, "drift_pct": drift},
        "kinds": {"Cluster": {"not_ready": 0}},
        "prometheus": {
            "summary": {
                "node_memory_used_ratio_max": mem,
                "reconcile_p99_seconds_max": 0.1,
                "apiserver_mutating_p99_seconds_max": 0.1,
                "managers": {
                    "capi-core": {"cpu_cores_max": 0.2, "rss_mib_max": 90.0, "reconcile_p99_seconds_max": 0.1}
                },
            }
        },
    }
    if earlier:
        doc["earlier"] = {"Cluster": earlier}
    (tmp_path / name).write_text(json.dumps(doc))


def test_the_search_goes_step_by_step_and_reuses_what_it_has(tmp_path, run_module):
    opts = {"directory": str(tmp_path / "cap"), "rate_start": 20, "rate_steps": 2, "rate_clusters": 4, "sizes": [4, 8]}
    md = str(tmp_path / "cap" / "capacity.md")
    first = run_module("scale_capacity", markdown_path=md, **opts)
    assert first["next"] == {
        "phase": "rate",
        "rate": 20.0,
        "clusters": 4,
        "batch_size": 3,
        "batch_pause": 9,
        "path": str(tmp_path / "cap" / "rate-20.json"),
    }, first
    assert first["changed"] and "rate: 4 clusters at 20 clusters/min." in (tmp_path / "cap" / "capacity.md").read_text()
    again = run_module("scale_capacity", markdown_path=md, **opts)
    assert not again["changed"], again
    step(tmp_path / "cap", "rate-20.json", 2.0)
    assert run_module("scale_capacity", **opts)["next"]["rate"] == 40.0
    step(tmp_path / "cap", "rate-40.json", 30.0)
    # Two rates: the rate search is done, the size search starts at the knee's pace.
    out = run_module("scale_capacity", **opts)
    assert out["knee_rate"] == 20.0 and out["next"]["phase"] == "size" and out["next"]["clusters"] == 4, out
    step(tmp_path / "cap", "size-4.json", 1.0)
    step(tmp_path / "cap", "size-8.json", 1.0, earlier=4)
    done = run_module("scale_capacity", check=True, markdown_path=md, **opts)
    assert done["next"] is None and done["reason"] == "both searches are done" and done["held"] == 8, done
    assert done["changed"] and "Held: not measured yet." in (tmp_path / "cap" / "capacity.md").read_text()  # check mode


def test_no_step_starts_after_the_deadline(tmp_path, run_module):
    out = run_module("scale_capacity", directory=str(tmp_path), deadline=time.time() - 1)
    assert out["next"] is None and out["reason"].startswith("the time limit passed"), out


def test_bad_options_are_refused_in_one_line(tmp_path, run_module):
    out = run_module("scale_capacity", directory=str(tmp_path), rate_start=500)
    assert out["failed"] and out["msg"] == "start=500.0 must be from min=1.0 to max=240.0", out
    out = run_module("scale_capacity", directory=str(tmp_path), gates={"drift_pct": "low"})
    assert out["failed"] and out["msg"] == "gates.drift_pct='low' is not a number", out
