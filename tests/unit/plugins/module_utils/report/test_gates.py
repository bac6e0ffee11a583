from __future__ import annotations

import pytest
from ansible_collections.scalelab.capi.plugins.module_utils.report import gates

DOC = {
    "summary": {"clusters": 10, "clusters_ready": 9, "cluster_p99_seconds": 120.0, "drift_pct": 4.5, "hosts": None},
    "kinds": {"Cluster": {"not_ready": 1}, "Machine": {"not_ready": 2}, "BareMetalHost": {"stuck": 3}},
    "prometheus": {
        "summary": {
            "apiserver_429_rate_max": 0.0,
            "apiserver_mutating_p99_seconds_max": 0.8,
            "targets_down": ["apiserver-farm"],
            "managers": {
                "capi-core": {"cpu_cores_max": 0.5, "rss_mib_max": 80.0, "reconcile_p99_seconds_max": 2.0},
                "metal3-capm3": {"cpu_cores_max": 0.2, "rss_mib_max": None, "reconcile_p99_seconds_max": 40.0},
            },
        }
    },
}


def test_metrics_flatten_summary_kinds_and_snapshot():
    m = gates.metrics(DOC)
    assert m["clusters_ready_ratio"] == 0.9
    assert m["objects_failed"] == 6
    assert m["reconcile_p99_seconds_max"] == 40.0 and m["reconcile_p99_seconds_max.capi-core"] == 2.0
    assert m["cpu_cores_max"] == 0.5 and m["targets_down"] == 1
    assert "hosts" not in m and "rss_mib_max.metal3-capm3" not in m  # null numbers are not metrics
    assert gates.metrics({}) == {}


@pytest.mark.parametrize(
    ("gate", "threshold", "ok"),
    [
        ("drift_pct", 5, True),
        ("drift_pct", 4, False),
        ("objects_failed", 0, False),
        ("apiserver_429_rate_max", 0, True),
        ("reconcile_p99_seconds_max", 30, False),
        ("reconcile_p99_seconds_max.capi-core", 30, True),
        ("clusters_ready_ratio", 1.0, False),  # higher is better: 0.9 < 1.0 breaks it
        ("clusters_ready_ratio", 0.9, True),
    ],
)
def test_gates(gate, threshold, ok):
    (row,) = gates.evaluate_gates(gates.metrics(DOC), {gate: threshold})
    assert row["ok"] is ok and row["gate"] == gate
    assert ("meets" if ok else "breaks") in row["reason"]


def test_gate_on_an_unmeasured_metric_fails_and_says_so():
    (row,) = gates.evaluate_gates({}, {"host_drift_pct": 5})
    assert not row["ok"] and "was not measured" in row["reason"]


def test_gate_threshold_must_be_a_number():
    with pytest.raises(gates.SloError, match="gates.drift_pct='five'"):
        gates.evaluate_gates({}, {"drift_pct": "five"})


def test_compare_verdicts_follow_direction_and_tolerance():
    base = {
        "cluster_p99_seconds": 100.0,
        "clusters_ready_ratio": 1.0,
        "drift_pct": 2.0,
        "gone_metric": 1.0,
        "zero": 0.0,
    }
    cur = {"cluster_p99_seconds": 130.0, "clusters_ready_ratio": 0.8, "drift_pct": 2.1, "new_metric": 3.0, "zero": 0.0}
    rows = {r["metric"]: r for r in gates.compare(cur, base, 10)}
    assert rows["cluster_p99_seconds"]["verdict"] == "regressed" and rows["cluster_p99_seconds"]["delta_pct"] == 30.0
    assert rows["clusters_ready_ratio"]["verdict"] == "regressed"  # fewer ready is worse
    assert rows["drift_pct"]["verdict"] == "same"  # +5% is within the 10% tolerance
    assert rows["gone_metric"]["verdict"] == "gone" and rows["new_metric"]["verdict"] == "new"
    assert rows["zero"]["verdict"] == "same"
    faster = {r["metric"]: r for r in gates.compare({"cluster_p99_seconds": 50.0}, base, 10)}
    assert faster["cluster_p99_seconds"]["verdict"] == "improved"
    with pytest.raises(gates.SloError, match="tolerance_pct"):
        gates.compare(cur, base, -1)


def test_table_is_aligned():
    lines = gates.table(gates.compare({"a": 2.0}, {"a": 1.0}, 10))
    assert lines[0].split() == ["metric", "baseline", "current", "delta", "%", "verdict"]
    assert lines[1].split() == ["a", "1", "2", "+100.0", "regressed"]
