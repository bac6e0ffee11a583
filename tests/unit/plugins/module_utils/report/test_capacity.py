from __future__ import annotations

import json

import pytest
from ansible_collections.scalelab.capi.plugins.module_utils.report import capacity

SEARCH = {
    "start": 10.0,
    "min": 1.0,
    "max": 240.0,
    "factor": 2.0,
    "resolution": 0.25,
    "steps": 6,
    "rate_clusters": 30,
    "sizes": [100, 200, 400],
    "memory_budget": 0.8,
}


def step(value, ok, clusters=30):
    return {"value": float(value), "ok": ok, "clusters": clusters, "peaks": {}, "values": {}, "broken": []}


def search(sustainable: float, p: dict | None = None) -> list[dict]:
    """Run the rate search against a lab that keeps up with anything up to `sustainable` clusters/min."""
    p = p or SEARCH
    done: list[dict] = []
    while (r := capacity.next_rate(done, p)) is not None:
        done.append(step(r, r <= sustainable))
        done.sort(key=lambda s: s["value"])
    return done


@pytest.mark.parametrize(
    ("sustainable", "knee", "tried"),
    [
        # Doubling 10 -> 20 -> 40 (broken), then midpoints 30 (met), 35 (broken): 35/30 is within 25%.
        (32.0, 30.0, [10, 20, 30, 35, 40]),
        # Even the start breaks: halve to 5 (met), then 7.5 (met), 8.8 (broken), within 25% of 7.5... stop.
        (8.0, 7.5, [5, 7.5, 8.8, 10]),
        # Keeps up with everything: doubling stops at the maximum.
        (1000.0, 240.0, [10, 20, 40, 80, 160, 240]),
        # Nothing met down to the minimum: no knee.
        (0.5, None, [1, 1.2, 2.5, 5, 10]),
    ],
)
def test_rate_search_against_a_simulated_lab(sustainable, knee, tried):
    done = search(sustainable)
    assert [s["value"] for s in done] == tried
    assert capacity.knee(done) == knee
    assert len(done) <= SEARCH["steps"]


def test_a_rate_met_above_a_broken_one_is_not_the_knee():
    done = [step(10, True), step(20, False), step(30, True)]
    assert capacity.knee(done) == 10.0
    assert capacity.next_rate(done, SEARCH) == 15.0


@pytest.mark.parametrize(
    ("sizes_done", "want"),
    [
        ([], 100),
        ([step(100, True, 100)], 200),
        ([step(100, True, 100), step(200, False, 200)], None),
        ([step(n, True, n) for n in (100, 200, 400)], None),
    ],
)
def test_size_steps_stop_at_the_first_broken(sizes_done, want):
    assert capacity.next_size(sizes_done, SEARCH["sizes"]) == want


def doc(drift, mem, clusters=30, earlier=0, ready=None):
    ready = clusters if ready is None else ready
    d = {
        "summary": {"clusters": clusters, "clusters_ready": ready, "drift_pct": drift},
        "kinds": {"Cluster": {"not_ready": clusters - ready}},
        "prometheus": {
            "summary": {
                "node_memory_used_ratio_max": mem,
                "reconcile_p99_seconds_max": 0.2,
                "apiserver_mutating_p99_seconds_max": 0.3,
                "managers": {
                    "capi-core": {"cpu_cores_max": 0.5, "rss_mib_max": 120.0, "reconcile_p99_seconds_max": 0.2}
                },
            }
        },
    }
    if earlier:
        d["earlier"] = {"Cluster": earlier}
    return d


def write(tmp_path, name, d):
    (tmp_path / name).write_text(json.dumps(d))


def test_plan_reads_the_steps_kept_and_reuses_them(tmp_path):
    gates = capacity.DEFAULT_GATES
    write(tmp_path, "rate-10.json", doc(1.0, 0.3))
    write(tmp_path, "rate-20.json", doc(3.0, 0.3))
    write(tmp_path, "rate-40.json", doc(42.0, 0.3))
    write(tmp_path, "rate-30.json", doc(4.0, 0.3))
    write(tmp_path, "rate-35.json", doc(9.0, 0.3, ready=29))
    write(tmp_path, "notes.json", {"x": 1})  # not a step
    write(tmp_path, "size-100.json", doc(2.0, 0.5, clusters=100))
    write(tmp_path, "size-200.json", doc(2.0, 0.85, clusters=100, earlier=100))  # over the memory budget
    (tmp_path / "size-400.json").write_text("{}")  # cut short: run again (but the search stopped before it)
    found = capacity.steps(str(tmp_path), gates, 0.8)
    assert [s["value"] for s in found["rate"]] == [10, 20, 30, 35, 40]
    assert [s["ok"] for s in found["rate"]] == [True, True, True, False, False]
    assert "objects_failed = 1 breaks <= 0" in found["rate"][3]["broken"]
    assert capacity.knee(found["rate"]) == 30.0
    assert [s["clusters"] for s in found["size"]] == [100, 200]
    assert found["size"][1]["broken"] == ["node_memory_used_ratio_max = 0.85 breaks <= 0.8"]
    assert capacity.plan(found, SEARCH) is None and capacity.largest(found["size"]) == 100
    md = capacity.markdown(found, gates, 0.8, None, "both searches are done")
    for text in (
        "| 30 **(knee)** |",
        "Sustainable: **30 clusters/min**",
        "| 100 **(largest held)** | 0.5 / 120 | 50% | yes |",
        "At 200: node_memory_used_ratio_max = 0.85 breaks <= 0.8.",
        "Held: **100 clusters** within every gate.",
        "Done: both searches are done.",
    ):
        assert text in md
    # Thresholds as given (no exponent), the memory budget among them.
    assert "Gates: `drift_pct <= 10000`, `node_memory_used_ratio_max <= 0.99`" in capacity.markdown(
        found, {"drift_pct": 10000}, 0.99, None
    )
    # One size to go when the last was met: grown at the knee's pace.
    (tmp_path / "size-200.json").unlink()
    nxt = capacity.plan(capacity.steps(str(tmp_path), gates, 0.8), SEARCH)
    assert nxt == {"phase": "size", "rate": 30.0, "clusters": 200, "batch_size": 5, "batch_pause": 10}


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ({"start": 0}, "start=0 must be above 0"),
        ({"factor": 1}, "factor=1 must be above 1"),
        ({"start": 500}, "start=500 must be from min=1.0 to max=240.0"),
        ({"resolution": 1.5}, "resolution=1.5 must be between 0 and 1"),
        ({"rate_clusters": 1}, "rate_clusters=1 >= 2"),
        ({"sizes": [0, 10]}, r"sizes=\[0, 10\] must be whole numbers >= 1"),
        ({"memory_budget": 1.5}, "memory_budget=1.5 must be a share"),
    ],
)
def test_bad_options_are_refused_naming_them(override, match):
    with pytest.raises(capacity.CapacityError, match=match):
        capacity.check({**SEARCH, **override})


@pytest.mark.parametrize(("rate", "want"), [(30, (5, 10)), (4, (1, 15)), (240, (40, 10)), (0.5, (1, 120))])
def test_pacing_is_batches_of_about_ten_seconds(rate, want):
    p = capacity.pacing(rate)
    assert (p["batch_size"], p["batch_pause"]) == want
    assert p["batch_size"] * 60 / p["batch_pause"] == pytest.approx(rate, rel=0.2)
