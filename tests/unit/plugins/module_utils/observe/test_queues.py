from __future__ import annotations

import pytest
from ansible_collections.scalelab.capi.plugins.module_utils.observe import queues
from ansible_collections.scalelab.capi.plugins.module_utils.report import headline, html, plots

T0 = 1_800_000_000
WINDOW = {"start": T0, "end": T0 + 100, "tail": 60, "step": 10}


def flat(value, until=160):
    """A rate holding `value` from the window's start to `until` seconds, a point every 10 s."""
    return [[T0 + t, value] for t in range(0, until + 1, 10)]


def q(label, **series):
    """A query with one series per `<job>__<name>` key (the job and the queue or controller name)."""
    out = []
    for key, points in series.items():
        job, name = key.split("__")
        out.append({"labels": {"job": job, label: name.replace("_", "/")}, "points": points})
    return {"series": out}


def snap(wait, dequeued, busy, reconciles, workers):
    return {
        "workqueue_wait_seconds_rate": q("name", **wait),
        "workqueue_dequeued_rate": q("name", **dequeued),
        "reconcile_seconds_rate": q("controller", **busy),
        "reconcile_count_rate": q("controller", **reconciles),
        "reconcile_workers": q("controller", **workers),
    }


def test_means_are_sums_over_counts_and_busy_workers_a_share():
    s = snap(
        # cluster: 2 items/s each waiting 3 s (6 s of waiting per second); 8 of 10 workers busy, 2 reconciles/s.
        wait={"capi-core__cluster": flat(6.0), "kube-apiserver__autoregister": flat(1.0)},
        dequeued={"capi-core__cluster": flat(2.0), "kube-apiserver__autoregister": flat(1.0)},
        busy={"capi-core__cluster": flat(8.0), "capi-core__topology_cluster": flat(0.5)},
        reconciles={"capi-core__cluster": flat(2.0), "capi-core__topology_cluster": flat(1.0)},
        workers={"capi-core__cluster": flat(10), "capi-core__topology_cluster": flat(10), "capi-core__idle": flat(10)},
    )
    t = queues.controllers(s, WINDOW)
    # Counted over the run and the minute after it (160 s): the API server's own queue is not a controller's; an
    # idle controller handled too few items to say anything.
    assert sorted(t) == ["capi-core/cluster", "capi-core/topology/cluster"]
    assert t["capi-core/cluster"] == {
        "items": 320,
        "queue_wait_seconds": 3.0,
        "reconcile_seconds": 4.0,
        "busy_workers": 8.0,
        "workers": 10,
        "utilization": 0.8,
    }
    # No queue metrics: items from its reconciles, and no wait.
    assert t["capi-core/topology/cluster"]["queue_wait_seconds"] is None
    assert t["capi-core/topology/cluster"]["items"] == 160
    assert queues.busiest(t)[0] == "capi-core/cluster"
    answer = headline._busiest(t)
    assert answer == (
        "Busiest controller",
        "capi-core/cluster: 80% of its 10 workers busy on average, an item waited 3 s in its queue, "
        "a reconcile took 4 s",
        "bad",
    )
    page = html._queues_section(t)
    assert "<h2>Controllers: queue wait against reconcile time</h2>" in page
    assert page.index("capi-core/cluster") < page.index("capi-core/topology/cluster")


@pytest.mark.parametrize(
    ("window", "items"),
    [
        # A tail shorter than a minute: counted to the tail's end.
        ({"start": T0, "end": T0 + 100, "tail": 20, "step": 10}, 240),
        # No tail: the run alone.
        ({"start": T0, "end": T0 + 100, "tail": 0, "step": 10}, 200),
    ],
)
def test_span_follows_the_tail(window, items):
    s = snap({}, {}, {}, {"m__c": flat(2.0)}, {})
    assert queues.controllers(s, window)["m/c"]["items"] == items


def test_per_minute_series_skip_minutes_with_nothing_dequeued():
    dequeued = flat(2.0, 50) + [[T0 + 60, 0.0]]
    s = snap({"m__c": flat(4.0, 60)}, {"m__c": dequeued}, {"m__c": flat(1.0, 60)}, {"m__c": flat(4.0, 60)}, {})
    per = queues.series(s, T0)
    assert per["m/c"]["wait"] == [(float(t), 2.0) for t in range(0, 51, 10)]
    assert per["m/c"]["reconcile"][-1] == (60.0, 0.25)
    panels = plots.controller_times({"window": WINDOW, "queries": s, "summary": {"controllers": {"m/c": {"items": 9}}}})
    assert [p["title"] for p in panels] == ["Queue wait per item", "Reconcile time"]
    assert plots.controller_times({"window": WINDOW, "queries": s, "summary": {}}) is None
    assert queues.busiest({}) is None and headline._busiest({}) is None
