"""Runs scale_gate and scale_compare as Ansible does (conftest.run_module) on results files."""

from __future__ import annotations

import json


def results(tmp_path, name, p99, drift, ready=10, reconcile=1.0):
    doc = {
        "summary": {"clusters": 10, "clusters_ready": ready, "cluster_p99_seconds": p99, "drift_pct": drift},
        "kinds": {"Cluster": {"not_ready": 10 - ready}},
        "prometheus": {
            "summary": {
                "apiserver_429_rate_max": 0.0,
                "targets_down": [],
                "managers": {"capi-core": {"reconcile_p99_seconds_max": reconcile}},
            }
        },
    }
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(doc))
    return str(path)


GATES = {"drift_pct": 5, "objects_failed": 0, "apiserver_429_rate_max": 0, "reconcile_p99_seconds_max.capi-core": 2}


def test_gates_hold(tmp_path, run_module):
    out = run_module("scale_gate", path=results(tmp_path, "ok", 100, 2.3), gates=GATES)
    assert not out.get("failed") and out["passed"] and not out["changed"], out
    assert [g["gate"] for g in out["gates"]] == sorted(GATES)


def test_broken_gates_fail_with_one_line_each(tmp_path, run_module):
    path = results(tmp_path, "bad", 100, 12.0, ready=8, reconcile=9.0)
    out = run_module("scale_gate", path=path, gates={**GATES, "host_drift_pct": 5})
    assert out["failed"] and not out["passed"]
    lines = out["msg"].splitlines()
    assert lines[0] == "4 of 5 SLO gates broke:"
    assert lines[1:] == [
        "drift_pct = 12 breaks <= 5",
        "host_drift_pct was not measured (needs <= 5)",
        "objects_failed = 2 breaks <= 0",
        "reconcile_p99_seconds_max.capi-core = 9 breaks <= 2",
    ]
    report = run_module("scale_gate", path=path, gates=GATES, fail=False)
    assert not report.get("failed") and len(report["broken"]) == 3


def test_gate_inputs_are_named(tmp_path, run_module):
    assert "path=/nonexistent.json" in run_module("scale_gate", path="/nonexistent.json", gates=GATES)["msg"]
    bad = run_module("scale_gate", path=results(tmp_path, "ok", 1, 1), gates={"drift_pct": "low"})
    assert bad["failed"] and "gates.drift_pct='low'" in bad["msg"]
    assert "gates is empty" in run_module("scale_gate", path=results(tmp_path, "ok", 1, 1), gates={})["msg"]


def test_compare_flags_a_slower_run_and_writes_markdown_once(tmp_path, run_module):
    base = results(tmp_path, "base", 100, 2.0)
    slow = results(tmp_path, "slow", 160, 2.1)
    md = str(tmp_path / "cmp.md")
    out = run_module("scale_compare", path=slow, baseline=base, markdown_path=md)
    assert out["changed"] and out["regressed"] == ["cluster_p99_seconds"], out
    assert any(line.split()[:1] == ["cluster_p99_seconds"] and "regressed" in line for line in out["table"])
    with open(md) as f:
        text = f.read()
    assert "| cluster_p99_seconds | 100 | 160 | +60.0 | regressed |" in text
    assert not run_module("scale_compare", path=slow, baseline=base, markdown_path=md)["changed"]
    check = run_module("scale_compare", check=True, path=slow, baseline=base, markdown_path=str(tmp_path / "c.md"))
    assert check["changed"] and not (tmp_path / "c.md").exists()
    failed = run_module("scale_compare", path=slow, baseline=base, fail_on_regression=True)
    assert failed["failed"] and "cluster_p99_seconds" in failed["msg"]
    same = run_module("scale_compare", path=base, baseline=base, fail_on_regression=True)
    assert not same.get("failed") and {r["verdict"] for r in same["rows"]} == {"same"}
    assert "baseline=/nope.json" in run_module("scale_compare", path=slow, baseline="/nope.json")["msg"]


def test_report_judges_gates_and_baseline_once_and_fails_after_writing(tmp_path, run_module):
    base = results(tmp_path, "base", 100, 2.0)
    slow = results(tmp_path, "slow", 160, 12.0)
    md = tmp_path / "slow-comparison.md"
    args = {"path": slow, "output_dir": str(tmp_path / "r"), "gates": GATES, "baseline": base}
    told = run_module("scale_report", **args, comparison_path=str(md))
    assert not told.get("failed") and told["changed"], told
    assert told["broken"] == ["drift_pct = 12 breaks <= 5"] and told["regressed"] == [
        "cluster_p99_seconds",
        "drift_pct",
    ]
    assert any(line.split()[:1] == ["cluster_p99_seconds"] and "regressed" in line for line in told["table"])
    assert "| cluster_p99_seconds | 100 | 160 | +60.0 | regressed |" in md.read_text()
    assert not run_module("scale_report", **args, comparison_path=str(md))["changed"]
    gate = run_module("scale_report", **args, fail_on_gates=True)
    assert gate["failed"] and gate["msg"].splitlines() == [
        "1 of 4 SLO gates broke:",
        "drift_pct = 12 breaks <= 5",
        f"report: {tmp_path / 'r' / 'report.html'}",
    ]
    assert (tmp_path / "r" / "report.html").exists()
    reg = run_module("scale_report", **args, fail_on_gates=True, fail_on_regression=True)
    assert reg["failed"] and reg["msg"].startswith("2 metrics regressed beyond 10%: cluster_p99_seconds, drift_pct")
    held = run_module("scale_report", **{**args, "path": base}, fail_on_gates=True, fail_on_regression=True)
    assert not held.get("failed") and held["broken"] == [] and held["regressed"] == [], held
    check = run_module("scale_report", check=True, **args, comparison_path=str(tmp_path / "c.md"))
    assert check["changed"] and not (tmp_path / "c.md").exists()
    assert run_module("scale_report", **{**args, "baseline": "/nope.json"})["msg"].startswith("baseline=/nope.json")
