# Copyright: scalelab contributors
# Apache-2.0
"""Per controller, where its time went: waiting in the work queue against reconciling, over the run.

controller-runtime names a controller's work queue after the controller, so `workqueue_*{name}` and
`controller_runtime_reconcile_*{controller}` of one job meet on that name. Seconds spent = the integral of a
histogram's `_sum` rate; items = the integral of its `_count` rate; their ratio is the mean per item, exact over any
span (a mean of per-minute means would weigh a quiet minute like a busy one). Busy workers = reconcile seconds per
second; against `max_concurrent_reconciles` that is how much of the controller's concurrency the run used.
"""

from __future__ import annotations

from ansible_collections.scalelab.capi.plugins.module_utils.observe.cost import by, integral, mean

# Snapshot queries (prometheus.DEFAULT_QUERIES takes them): the sums and counts the means are made of.
QUERIES = {
    "workqueue_wait_seconds_rate": "sum by (job, name) (rate(workqueue_queue_duration_seconds_sum[1m]))",
    "workqueue_dequeued_rate": "sum by (job, name) (rate(workqueue_queue_duration_seconds_count[1m]))",
    "reconcile_seconds_rate": "sum by (job, controller) (rate(controller_runtime_reconcile_time_seconds_sum[1m]))",
    # Not the recording rule scalelab:reconcile_rate: evaluated every 10 s, it lags the others by up to that much.
    "reconcile_count_rate": "sum by (job, controller) (rate(controller_runtime_reconcile_time_seconds_count[1m]))",
    "reconcile_workers": "max by (job, controller) (controller_runtime_max_concurrent_reconciles)",
}
# Fewer items than this over the run: no mean (a controller that handled three objects says nothing about queues).
MIN_ITEMS = 5


def _per(snap: dict, query: str, label: str, fn, start: float, end: float) -> dict[str, float]:
    """{"<job>/<label value>": fn(points)} of one query."""
    return by(snap, query, lambda labels: f"{labels.get('job', '')}/{labels.get(label, '')}", fn, start, end)


def _ratio(num: float | None, den: float | None) -> float | None:
    return round(num / den, 4) if num is not None and den and den >= MIN_ITEMS else None


def controllers(snap: dict, window: dict) -> dict[str, dict]:
    """{"<job>/<controller>": mean queue wait and mean reconcile per item, items, busy workers and their share of
    the controller's workers} over the run and the minute after it (as far as the tail reaches: the rates lag)."""
    start, end = float(window["start"]), float(window["end"])
    counted = min(end + 60.0, end + float(window.get("tail") or 0))
    span = counted - start
    waited = _per(snap, "workqueue_wait_seconds_rate", "name", integral, start, counted)
    dequeued = _per(snap, "workqueue_dequeued_rate", "name", integral, start, counted)
    busy = _per(snap, "reconcile_seconds_rate", "controller", integral, start, counted)
    reconciles = _per(snap, "reconcile_count_rate", "controller", integral, start, counted)
    workers = _per(snap, "reconcile_workers", "controller", mean, start, counted)
    out = {}
    # Controllers only (they have reconcile metrics): the API server's own work queues are not the lab's subject.
    for key in sorted(set(reconciles) | set(workers)):
        items = dequeued.get(key) or reconciles.get(key) or 0.0
        if items < MIN_ITEMS:
            continue
        busy_avg = busy[key] / span if key in busy and span > 0 else None
        w = workers.get(key)
        out[key] = {
            "items": round(items),
            "queue_wait_seconds": _ratio(waited.get(key), dequeued.get(key)),
            "reconcile_seconds": _ratio(busy.get(key), reconciles.get(key)),
            "busy_workers": None if busy_avg is None else round(busy_avg, 3),
            "workers": None if w is None else round(w),
            "utilization": round(busy_avg / w, 3) if busy_avg is not None and w else None,
        }
    return out


def busiest(table: dict[str, dict]) -> tuple[str, dict] | None:
    """The controller whose workers were busiest (the first to run out of them), else the one that waited longest."""
    for field in ("utilization", "queue_wait_seconds"):
        known = [(k, r) for k, r in table.items() if r.get(field) is not None]
        if known:
            return max(known, key=lambda kr: (kr[1][field], kr[0]))
    return None


def series(snap: dict, t0: float) -> dict[str, dict[str, list[tuple[float, float]]]]:
    """Per controller, per minute: mean queue wait and mean reconcile seconds ({"wait": [(t, s)], "reconcile": ...}),
    from the same sums and counts (a point where nothing was dequeued has no mean)."""

    def points(query: str, label: str) -> dict[str, dict[float, float]]:
        out: dict[str, dict[float, float]] = {}
        for s in (snap.get(query) or {}).get("series", []):
            key = f"{s['labels'].get('job', '')}/{s['labels'].get(label, '')}"
            acc = out.setdefault(key, {})
            for t, v in s.get("points", []):
                if v is not None:
                    acc[float(t)] = acc.get(float(t), 0.0) + v
        return out

    out: dict[str, dict] = {}
    for what, num_q, den_q, label in (
        ("wait", "workqueue_wait_seconds_rate", "workqueue_dequeued_rate", "name"),
        ("reconcile", "reconcile_seconds_rate", "reconcile_count_rate", "controller"),
    ):
        nums, dens = points(num_q, label), points(den_q, label)
        for key, num in nums.items():
            den = dens.get(key, {})
            pts = [(t - t0, num[t] / den[t]) for t in sorted(num) if den.get(t)]
            if pts:
                out.setdefault(key, {})[what] = pts
    return out
