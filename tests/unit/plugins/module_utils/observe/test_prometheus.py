from __future__ import annotations

import math

import pytest
from ansible_collections.scalelab.capi.plugins.module_utils.observe import prometheus


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1795788309, 1795788309.0),
        ("1795788309.5", 1795788309.5),
        ("2026-11-27T10:00:00Z", 1795773600.0),
        ("2026-11-27T11:00:00+01:00", 1795773600.0),
        ("2026-11-27T10:00:00", 1795773600.0),  # no zone: UTC, as the reports write times
    ],
)
def test_parse_time(value, expected):
    assert prometheus.parse_time(value, "start") == expected


NOW = 1795788309.0


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (1795788309000, r"^start=1795788309000 looks like milliseconds: give unix seconds$"),
        ("1795788309000.0", r"looks like milliseconds"),
        (NOW + 3600, r"^start=1795791909.0 is 3600 s in the future: Prometheus has no samples there$"),
        ("2027-01-01T00:00:00Z", r"is \d+ s in the future"),
    ],
)
def test_parse_time_refuses_milliseconds_and_the_future(value, match):
    with pytest.raises(prometheus.SnapshotError, match=match):
        prometheus.parse_time(value, "start", now=NOW)


def test_parse_time_allows_a_clock_a_little_ahead():
    assert prometheus.parse_time(NOW + 60, "end", now=NOW) == NOW + 60


def test_parse_time_names_the_option():
    with pytest.raises(prometheus.SnapshotError, match="end='yesterday'"):
        prometheus.parse_time("yesterday", "end")


@pytest.mark.parametrize(
    ("start", "end", "step", "max_points", "expected"),
    [(0, 1200, 0, 120, 10), (0, 30, 0, 120, 1), (0, 1201, 0, 120, 11), (0, 600, 15, 120, 15)],
)
def test_choose_step(start, end, step, max_points, expected):
    assert prometheus.choose_step(start, end, step, max_points) == expected


def test_choose_step_refuses_bad_windows():
    with pytest.raises(prometheus.SnapshotError, match="must be after"):
        prometheus.choose_step(10, 10, 0, 100)
    with pytest.raises(prometheus.SnapshotError, match="raise step"):
        prometheus.choose_step(0, 86400, 1, 100)


@pytest.mark.parametrize(("n", "k"), [(10, 20), (10, 10), (100, 5), (1000, 120), (3, 2)])
def test_downsample_keeps_ends_and_bound(n, k):
    pts = [[i, float(i)] for i in range(n)]
    out = prometheus.downsample(pts, k)
    assert len(out) == min(n, k)
    assert out[0] == pts[0] and out[-1] == pts[-1]
    assert [p[0] for p in out] == sorted({p[0] for p in out})


def test_series_entry_stats_skip_nan():
    result = {
        "metric": {"job": "capi-core", "__name__": "x"},
        "values": [[100, "1"], [110, "NaN"], [120, "3"], [130, "2"], [140, "+Inf"]],
    }
    e = prometheus.series_entry(result, 120)
    assert e["labels"] == {"__name__": "x", "job": "capi-core"}
    assert e["stats"] == {
        "samples": 3,
        "changes": 2,  # 1 -> 3 across the gap, 3 -> 2
        "min": 1.0,
        "avg": 2.0,
        "max": 3.0,
        "p50": 2.0,
        "p99": pytest.approx(2.98),
        "last": 2.0,
    }
    assert e["points"] == [[100, 1.0], [110, None], [120, 3.0], [130, 2.0], [140, None]]
    empty = prometheus.series_entry({"metric": {}, "values": [[1, "NaN"]]}, 120)
    assert empty["stats"] == {"samples": 0, "changes": 0}


@pytest.mark.parametrize(
    ("values", "changes"),
    [
        (["5", "5", "5"], 0),  # never restarted
        (["5", "NaN", "5"], 0),  # a scrape missed: no restart
        (["5", "5", "9", "9"], 1),  # restarted once
        (["5", "9", "NaN", "12"], 2),  # twice, once while a scrape was missed
    ],
)
def test_changes_count_new_values_only(values, changes):
    result = {"metric": {"job": "capi-core"}, "values": [[100 + 10 * i, v] for i, v in enumerate(values)]}
    assert prometheus.series_entry(result, 120)["stats"]["changes"] == changes


def test_round_keeps_six_significant_digits():
    assert prometheus._round(0.000123456789) == 0.000123457
    assert prometheus._round(123456789.0) == 123457000.0
    assert prometheus._round(None) is None and prometheus._round(0.0) == 0.0
    assert not math.isnan(prometheus._round(1e-300))


def _series(job, **stats):
    return {"labels": {"job": job}, "stats": stats, "points": []}


def test_summary_per_manager_and_peaks():
    snap = {
        "process_cpu_cores": {"series": [_series("capi-core", max=0.5, avg=0.2), _series("etcd", max=0.1, avg=0.05)]},
        "process_resident_memory_bytes": {"series": [_series("capi-core", max=100 * 2**20)]},
        "reconcile_p99_seconds": {"series": [_series("capi-core", max=0.2), _series("capi-core", max=0.9)]},
        "workqueue_depth": {"series": [_series("capi-core", max=7)]},
        # Two instances of one job: one restarted once, one never.
        "process_start_time_seconds": {"series": [_series("capi-core", changes=1), _series("capi-core", changes=0)]},
        "apiserver_mutating_p99_seconds": {"series": [_series("", max=0.05)]},
        "apiserver_429_rate": {"series": [_series("", max=0)]},
        "up": {"series": [_series("etcd", min=1), _series("apiserver-farm", min=0)]},
    }
    s = prometheus.summary(snap)
    assert s["managers"]["capi-core"] == {
        "cpu_cores_max": 0.5,
        "cpu_cores_avg": 0.2,
        "rss_mib_max": 100.0,
        "reconcile_p99_seconds_max": 0.9,
        "workqueue_depth_max": 7,
        "restarts": 1,
    }
    assert s["managers"]["etcd"]["rss_mib_max"] is None and s["managers"]["etcd"]["restarts"] is None
    assert s["apiserver_mutating_p99_seconds_max"] == 0.05
    assert s["apiserver_429_rate_max"] == 0
    assert s["etcd_db_size_bytes_max"] is None
    assert s["targets_down"] == ["apiserver-farm"]


def test_settle_waits_only_the_rest():
    slept = []
    assert prometheus.settle(100, 30, now=lambda: 120, sleep=slept.append) == 10
    assert slept == [10]
    assert prometheus.settle(100, 30, now=lambda: 200, sleep=slept.append) == 0
    assert slept == [10]


def _stored(**over):
    doc = {
        "url": "http://p",
        "window": {"start": 1.0, "end": 2.0, "tail": 0, "step": 1.0},
        "inputs": prometheus.inputs_digest({"up": "up"}, 120),
        "summary": {"cost": {}},
        "queries": {"up": {"series": [], "error": None}},
    }
    return doc | over


@pytest.mark.parametrize(
    ("stored", "reusable"),
    [
        (_stored(), True),
        (None, False),
        (_stored(url="http://other"), False),
        (_stored(window={"start": 1.0, "end": 3.0, "tail": 0, "step": 1.0}), False),
        (_stored(inputs=prometheus.inputs_digest({"up": "up"}, 50)), False),
        (_stored(queries={"up": {"series": [], "error": "bad_data"}}), False),
        ({k: v for k, v in _stored().items() if k != "summary"}, False),
    ],
)
def test_a_stored_snapshot_is_reused_only_for_the_same_window_url_and_queries_all_answered(stored, reusable):
    window = {"start": 1.0, "end": 2.0, "tail": 0, "step": 1.0}
    assert prometheus.reusable(stored, "http://p", window, prometheus.inputs_digest({"up": "up"}, 120)) is reusable


def test_run_window_reads_the_results_when_start_and_end_are_empty(tmp_path):
    path = tmp_path / "r.json"
    path.write_text('{"kinds": {"Cluster": {"first_created": "1970-01-01T00:01:40Z", "last_ready": "200"}}}')
    p = {"start": "", "end": "", "path": str(path)}
    assert prometheus.run_window(p) == (100.0, 200.0)
    assert prometheus.run_window({**p, "start": "10", "end": "20"}) == (10.0, 20.0)
    path.write_text('{"kinds": {}}')
    with pytest.raises(prometheus.SnapshotError, match="^path=.*record no run window.*give start and end$"):
        prometheus.run_window(p)
