from __future__ import annotations

import pytest
from ansible_collections.scalelab.capi.plugins.module_utils.observe.prometheus import RUN_METRICS
from ansible_collections.scalelab.capi.plugins.module_utils.report import gates, headline, html
from ansible_collections.scalelab.capi.plugins.module_utils.results import document

SUMMARY = {"clusters": 20, "clusters_ready": 20, "cluster_p50_seconds": 12.0, "cluster_p99_seconds": 31.5,
           "cluster_max_seconds": 33.0, "drift_pct": 4.1}  # fmt: skip
WINDOW = ("2026-12-05T17:00:00Z", "2026-12-05T17:03:12Z")


def sat(signal, job, first, meaning="m"):
    return {"signal": signal, "job": job, "meaning": meaning, "first_seconds": first}


def answers(doc, saturated=(), gate_rows=None, comparison=None, window=WINDOW):
    return {q: (a, c) for q, a, c in headline.lines(doc, window, list(saturated), gate_rows, comparison, "b.json")}


@pytest.mark.parametrize(
    "seconds, text", [(0.4, "0 s"), (59, "59 s"), (61, "1 min 01 s"), (3599, "59 min 59 s"), (7260, "2 h 01 min")]
)
def test_duration(seconds, text):
    assert headline.duration(seconds) == text


@pytest.mark.parametrize(
    "metric, name",
    [
        ("drift_pct", "drift of cluster time to ready, first 10% vs last 10% (%)"),
        ("cpu_cores_max.capi-core", "manager CPU, peak cores: capi-core"),
        ("something_new", "something new"),
    ],
)
def test_human(metric, name):
    assert headline.human(metric) == name


def test_every_judged_metric_has_a_human_name():
    names = {*RUN_METRICS, *gates.MANAGER_METRICS, *gates.HIGHER_IS_BETTER, "objects_failed", "targets_down"}
    q = dict.fromkeys(("p50", "p90", "p99", "max"), 1.0)
    names |= set(document.summary({"count": 1, "ready": 1, "time_to_ready": q, "drift": {"drift_pct": 0}}, _hosts()))
    assert sorted(n for n in names if n not in headline.HUMAN) == []


def _hosts():
    q = dict.fromkeys(("p50", "p90", "p99", "max"), 1.0)
    return {
        "count": 1,
        "available": 1,
        "provisioned": 0,
        "time_to_available": q,
        "provision": q,
        "drift": {"drift_pct": 0},
    }


@pytest.mark.parametrize(
    "doc, saturated, expect",
    [
        # all ready, no snapshot: counts and times answered, the bottleneck and host not measured
        (
            {"summary": SUMMARY},
            [],
            {
                "Clusters ready": ("20 of 20", "good"),
                "Wall time": ("3 min 12 s (first write to last ready)", ""),
                "Cluster time to ready": ("P50 12 s, P99 31.5 s, slowest 33 s", ""),
                "Drift (clusters)": ("+4.1% from the first 10% created to the last 10%", ""),
                "First bottleneck": ("not measured (no Prometheus snapshot in this run)", ""),
                "Host saturated": ("not measured", ""),
            },
        ),
        # some not ready; a controller signal after a host one: the bottleneck is the controller's, the host says yes
        (
            {
                "summary": {**SUMMARY, "clusters_ready": 17},
                "prometheus": {"summary": {}},
                "run": {"machine": {"cores": 2, "memory_bytes": 8 * 2**30, "load": [8.0, 6.0, 3.0]}},
            },
            [
                sat("node_cpu_busy_ratio", "host", 30, "the host's CPUs 90%+ busy"),
                sat("workqueue_depth", "capi-control-plane", 95, "work queue deeper than the default 10 workers"),
            ],
            {
                "Clusters ready": ("17 of 20", "bad"),
                "First bottleneck": (
                    "capi-control-plane: work queue deeper than the default 10 workers, 1 min 35 s into the run",
                    "bad",
                ),
                "Host saturated": ("yes (2 cores, 8.0 GiB): the host's CPUs 90%+ busy from 30 s into the run", "bad"),
            },
        ),
        # a snapshot where nothing crossed: peaks said
        (
            {
                "summary": SUMMARY,
                "prometheus": {"summary": {"node_cpu_busy_ratio_max": 0.62, "node_memory_used_ratio_max": 0.4}},
            },
            [],
            {
                "First bottleneck": ("none: no manager, API server or etcd signal crossed its threshold", "good"),
                "Host saturated": ("no: CPU peak 62%, memory peak 40%", ""),
            },
        ),
        # a later run of a grown set, and hosts
        (
            {"summary": {"hosts": 10, "hosts_available": 6, "hosts_provisioned": 4}, "earlier": {"BareMetalHost": 5}},
            [],
            {
                "Hosts available / provisioned": ("6 / 4 of 10", "good"),
                "Made by earlier runs (not timed)": ("5 BareMetalHost(s)", ""),
            },
        ),
    ],
)
def test_the_answers(doc, saturated, expect):
    got = answers(doc, saturated)
    assert {q: got.get(q) for q in expect} == expect


def test_gates_and_baseline_verdicts():
    rows = gates.evaluate_gates({"drift_pct": 12.0, "clusters_ready": 20.0}, {"drift_pct": 5, "clusters_ready": 20})
    cmp = [{"metric": "cluster_p99_seconds", "verdict": "regressed"}, {"metric": "drift_pct", "verdict": "same"}]
    got = answers({"summary": SUMMARY}, gate_rows=rows, comparison=cmp)
    assert got["SLO gates"] == (
        "FAIL - 1 of 2: drift of cluster time to ready, first 10% vs last 10% (%) (drift_pct = 12 breaks <= 5)",
        "bad",
    )
    assert got["Against the baseline"] == ("1 regressed: cluster time to ready, P99 (s) (against b.json)", "bad")
    ok = answers({"summary": SUMMARY}, gate_rows=gates.evaluate_gates({"drift_pct": 1.0}, {"drift_pct": 5}))
    assert ok["SLO gates"] == ("PASS - all 1", "good") and "Against the baseline" not in ok


def test_the_report_answers_before_any_other_section():
    doc = {"summary": SUMMARY, "run": {"started": WINDOW[0]}, "kinds": {"Cluster": {"last_ready": WINDOW[1]}}}
    page = html.render(doc, [], None, None, "", "t")
    assert page.index('<table class="answers">') < page.index("<h2>")
    assert '<th>Wall time</th><td class="">3 min 12 s' in page
    assert "<td>cluster time to ready, P99 (s)</td><td>cluster_p99_seconds</td>" in page


def test_seconds_past_a_thousand_are_written_whole_not_with_an_exponent():
    doc = {"summary": dict(SUMMARY, cluster_p50_seconds=355.2, cluster_p99_seconds=984.4, cluster_max_seconds=1019.0)}
    got = answers(doc)["Cluster time to ready"][0]
    assert "P50 355 s, P99 984 s, slowest 1,019 s" in got, got
