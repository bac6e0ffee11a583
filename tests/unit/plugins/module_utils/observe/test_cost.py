from __future__ import annotations

import pytest
from ansible_collections.scalelab.capi.plugins.module_utils.observe import cost
from ansible_collections.scalelab.capi.plugins.module_utils.report import gates, headline, html

T0 = 1_800_000_000


def pts(values, step=10, t0=T0):
    return [[t0 + i * step, v] for i, v in enumerate(values)]


@pytest.mark.parametrize(
    ("fn", "points", "start", "end", "expected"),
    [
        # half a core for 100 s: 50 CPU-seconds
        (cost.integral, pts([0.5] * 11), T0, T0 + 100, 50.0),
        # a ramp 0 -> 1 over 100 s: the trapezoids add up to its area
        (cost.integral, pts([i / 10 for i in range(11)]), T0, T0 + 100, 50.0),
        # only the points inside the window count
        (cost.integral, pts([9, 1, 1, 1, 9]), T0 + 10, T0 + 30, 20.0),
        # a gap (a target down) is left out, not read as zero
        (cost.integral, [[T0, 1.0], [T0 + 10, None], [T0 + 20, 1.0]], T0, T0 + 20, 20.0),
        (cost.integral, pts([1.0]), T0, T0 + 100, None),
        (cost.growth, pts([100, 90, 150, 130]), T0, T0 + 30, 30.0),
        (cost.growth, pts([100, 90, 150, 130]), T0 + 10, T0 + 20, 60.0),
        (cost.growth, pts([100]), T0, T0 + 30, None),
        (cost.mean, pts([1, 2, 3, 6]), T0 + 10, T0 + 30, 11 / 3),
        (cost.mean, pts([1, 2]), T0 + 50, T0 + 60, None),
    ],
)
def test_sums_over_points(fn, points, start, end, expected):
    assert fn(points, start, end) == pytest.approx(expected) if expected is not None else fn(points, start, end) is None


def series(labels, points):
    return {"labels": labels, "stats": {}, "points": points}


# A 200 s run (T0 .. T0+200) with a 200 s tail at a 10 s step: capi-core at 0.5 cores then 0.1 at rest, KCP at 1
# core then 0.2; capi-core's RSS grows 40 MiB; 4 POST and 10 GET per second then 0 and 2; etcd grows 1 MiB.
RUN, TAIL = 21, 20
SNAP = {
    "process_cpu_cores": {
        "series": [
            series({"job": "capi-core"}, pts([0.5] * RUN + [0.1] * TAIL)),
            series({"job": "capi-control-plane"}, pts([1.0] * RUN + [0.2] * TAIL)),
        ]
    },
    "process_resident_memory_bytes": {
        "series": [series({"job": "capi-core"}, pts([i * 2 * 2**20 for i in range(RUN)] + [40 * 2**20] * TAIL))]
    },
    "apiserver_requests_rate": {
        "series": [
            series({"verb": "POST"}, pts([4.0] * RUN + [0.0] * TAIL)),
            series({"verb": "GET"}, pts([10.0] * RUN + [2.0] * TAIL)),
        ]
    },
    "etcd_db_size_bytes": {"series": [series({}, pts([2**20 + i * 2**20 / 20 for i in range(RUN)]))]},
}
WINDOW = {"start": T0, "end": T0 + 200, "tail": 200, "step": 10}


def test_cost_per_object_divides_the_runs_totals():
    c = cost.cost(SNAP, WINDOW, {"cluster": 10, "machine": 20})
    # rates over the run and the minute after it (they lag): capi-core 0.5 x 200 + (0.5 + 0.1) / 2 x 10 + 0.1 x 50
    assert c["totals"]["cpu_seconds"] == {"total": 324.0, "capi-control-plane": 216.0, "capi-core": 108.0}
    assert c["totals"]["api_requests"] == {"total": 2980, "GET": 2160, "POST": 820}
    assert c["totals"]["rss_mib"]["capi-core"] == 40.0
    assert c["totals"]["etcd_kib"] == 1024.0
    cluster, machine = c["per"]["cluster"], c["per"]["machine"]
    assert cluster["cpu_seconds"] == {"total": 32.4, "capi-control-plane": 21.6, "capi-core": 10.8}
    assert machine["cpu_seconds"]["total"] == 16.2
    assert cluster["rss_mib"] == {"total": 4.0, "capi-core": 4.0}
    assert cluster["api_requests"] == {"total": 298.0, "GET": 216.0, "POST": 82.0}
    assert cluster["etcd_kib"] == 102.4
    # at rest (from a minute after the last ready, less a step, to the tail's end): 0.3 cores and 2 GETs a second for
    # 10 clusters
    assert c["steady_seconds"] == 150
    assert cluster["steady_cpu_seconds_per_hour"] == {"total": 108.0, "capi-control-plane": 72.0, "capi-core": 36.0}
    assert cluster["steady_api_requests_per_hour"] == {"total": 720.0, "GET": 720.0, "POST": 0.0}


@pytest.mark.parametrize(
    ("window", "counts", "converged", "units", "steady"),
    [
        ({**WINDOW, "tail": 0}, {"cluster": 10}, True, ["cluster"], False),  # no tail: no steady state
        ({**WINDOW, "tail": 40}, {"cluster": 10}, True, ["cluster"], False),  # the tail's rates still hold the run
        # the default one-minute tail at a 15 s step: one step at rest, the minute the playbook gathers in - none
        ({**WINDOW, "tail": 60, "step": 15}, {"cluster": 10}, True, ["cluster"], False),
        ({**WINDOW, "tail": 169}, {"cluster": 10}, True, ["cluster"], False),  # 119 s at rest: two minutes needed
        ({**WINDOW, "tail": 170}, {"cluster": 10}, True, ["cluster"], True),
        (WINDOW, {}, True, [], True),  # nothing created (a window given by hand): totals only
        (WINDOW, {"host": 5}, True, ["host"], True),
        (WINDOW, {"cluster": 10}, False, ["cluster"], False),  # some still converging: the tail is not at rest
    ],
)
def test_what_is_divided_and_when_steady_state_is_measured(window, counts, converged, units, steady):
    c = cost.cost(SNAP, window, counts, converged=converged)
    assert sorted(c["per"]) == units
    assert bool(c["steady_seconds"]) == steady
    for p in c["per"].values():
        assert ("steady_cpu_seconds_per_hour" in p) == steady


def test_created_counts_the_runs_own_objects():
    doc = {"kinds": {"Cluster": {"count": 3}, "Machine": {"count": 6}, "BareMetalHost": {"count": 0}, "X": {}}}
    assert cost.created(doc) == {"cluster": 3, "machine": 6}
    assert cost.created({}) == {}


@pytest.mark.parametrize(
    ("kinds", "converged"),
    [
        ({"Cluster": {"count": 3, "not_ready": 0}, "Machine": {"count": 3, "not_ready": 0}}, True),
        ({"Cluster": {"count": 1000, "not_ready": 175}}, False),
        ({"Cluster": {"count": 3, "not_ready": 0}, "BareMetalHost": {"count": 5, "not_ready": 2}}, False),
        ({"MachineDeployment": {"count": 3, "not_ready": 3}}, True),  # not a unit of cost
        ({}, True),
    ],
)
def test_steady_state_needs_every_object_the_run_created_ready(kinds, converged):
    assert cost.converged({"kinds": kinds}) is converged


def test_gates_and_baselines_read_cost_under_flat_names():
    c = cost.cost(SNAP, WINDOW, {"cluster": 10})
    m = gates.metrics({"prometheus": {"summary": {"cost": c}}})
    assert m["cpu_seconds_per_cluster"] == 32.4
    assert m["cpu_seconds_per_cluster.capi-core"] == 10.8
    assert m["api_requests_per_cluster.POST"] == 82.0
    assert m["etcd_kib_per_cluster"] == 102.4
    assert m["cpu_seconds_per_cluster_hour"] == 108.0
    rows = gates.evaluate_gates(m, {"cpu_seconds_per_cluster": 25})
    assert rows[0]["reason"] == "cpu_seconds_per_cluster = 32.4 breaks <= 25"
    assert headline.human("cpu_seconds_per_cluster.capi-core") == "CPU-seconds per cluster: capi-core"
    assert headline.human("api_requests_per_host_hour") == "API requests per host at steady state, per hour"


def test_the_report_says_what_a_cluster_cost():
    doc = {"summary": {"clusters": 10}, "prometheus": {"summary": {"cost": cost.cost(SNAP, WINDOW, {"cluster": 10})}}}
    answers = {q: a for q, a, _dummy in headline.lines(doc, ("", ""), [], None, None, "")}
    assert answers["Cost per cluster (10 created)"] == (
        "32.4 CPU-s, 4 MiB of memory, 298 API requests, most CPU: capi-control-plane 21.6 s"
    )
    page = html.render(doc, [], None, None, "", "t")
    assert "<h2>Cost per object</h2>" in page and "steady CPU-seconds per hour: capi-core" in page
    assert "Cost per object" not in html.render({"summary": {}}, [], None, None, "", "t")


def test_two_like_runs_with_the_default_tail_compare_alike():
    """Two runs alike but for what the playbook asks of the API server in the minute after the last ready (listing
    the set, snapshotting Prometheus; here 6 GETs a second in the one step the old steady window held, 2 in the
    other): with the default one-minute tail neither has steady-state numbers, so the comparison flags nothing."""
    window = {"start": T0, "end": T0 + 200, "tail": 60, "step": 15}

    def snap(gets_after):
        tail = [2.0, 2.0, 2.0, gets_after, 2.0]  # T0 + 210 .. 270: the fourth is T0 + 255, a step short of a minute
        return {"apiserver_requests_rate": {"series": [series({"verb": "GET"}, pts([10.0] * 14 + tail, step=15))]}}

    quiet, busy = (cost.metrics(cost.cost(snap(g), window, {"cluster": 10})) for g in (2.0, 6.0))
    assert not any(name.endswith("_hour") or "_hour." in name for name in {*quiet, *busy}), (quiet, busy)
    rows = gates.compare(busy, quiet, 10.0)
    assert [r["metric"] for r in rows if r["verdict"] == "regressed"] == [], rows
