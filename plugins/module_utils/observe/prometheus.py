# Copyright: scalelab contributors
# Apache-2.0
"""Prometheus snapshots: range queries over a run's window, kept as statistics and downsampled points.

A report made from the snapshot needs no live Prometheus. The snapshot holds only what Prometheus answers for a
fixed past window, so taking it twice gives the same document (the module waits until the window has settled:
samples scraped just before its end arrive a scrape later).
"""

from __future__ import annotations

import hashlib
import json
import math
import time

from ansible_collections.scalelab.capi.plugins.module_utils.errors import ScalelabError
from ansible_collections.scalelab.capi.plugins.module_utils.kube.retry import RetryPolicy, call_with_retry
from ansible_collections.scalelab.capi.plugins.module_utils.observe import queues, soak
from ansible_collections.scalelab.capi.plugins.module_utils.results import document, timeline
from ansible_collections.scalelab.capi.plugins.module_utils.results.stats import percentile

try:
    import requests
except ImportError:  # pragma: no cover - reported by the module
    requests = None

# The seed metrics of a scale run (recording rules of roles/observability/files/rules), by name.
DEFAULT_QUERIES = {
    "up": "up",
    "reconcile_p99_seconds": "scalelab:reconcile_p99_seconds",
    "reconcile_rate": "scalelab:reconcile_rate",
    "reconcile_errors_rate": "scalelab:reconcile_errors_rate",
    "workqueue_depth": "scalelab:workqueue_depth",
    "workqueue_queue_p99_seconds": "scalelab:workqueue_queue_p99_seconds",
    "process_cpu_cores": "scalelab:process_cpu_cores",
    "process_resident_memory_bytes": "scalelab:process_resident_memory_bytes",
    # A new start time is a restart (the supervisor brought a crashed or killed manager back).
    "process_start_time_seconds": "max by (job, instance) (process_start_time_seconds)",
    "client_requests_rate": "scalelab:client_requests_rate",
    "client_requests_429_rate": "scalelab:client_requests_429_rate",
    "client_rate_limiter_p99_seconds": "scalelab:client_rate_limiter_p99_seconds",
    "apiserver_mutating_p99_seconds": "scalelab:apiserver_mutating_p99_seconds",
    "apiserver_readonly_p99_seconds": "scalelab:apiserver_readonly_p99_seconds",
    "apiserver_requests_rate": "scalelab:apiserver_requests_rate",
    "apiserver_5xx_ratio": "scalelab:apiserver_5xx_ratio",
    "apiserver_429_rate": "scalelab:apiserver_429_rate",
    "objects": "scalelab:objects",
    "etcd_db_size_bytes": "scalelab:etcd_db_size_bytes",
    "etcd_wal_fsync_p99_seconds": "scalelab:etcd_wal_fsync_p99_seconds",
    "etcd_leader_changes": "scalelab:etcd_leader_changes",
    # The management host itself (node_exporter): is the lab measuring the controllers or its own CPU?
    "node_cpu_busy_ratio": 'max(1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[1m])))',
    "node_load_per_core": 'max(node_load1 / on (instance) count by (instance) (node_cpu_seconds_total{mode="idle"}))',
    "node_memory_used_ratio": "max(1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)",
    # Per controller: queue wait and reconcile time (observe.queues).
    **queues.QUERIES,
    # Per component: goroutines, for the soak's slopes (observe.soak).
    **soak.QUERIES,
}
# The run-wide peaks of the summary, each the largest value of any series of the query named without "_max"; the
# same names are the metrics report.gates judges.
RUN_METRICS = (
    "apiserver_mutating_p99_seconds_max",
    "apiserver_5xx_ratio_max",
    "apiserver_429_rate_max",
    "client_requests_429_rate_max",
    "etcd_db_size_bytes_max",
    "etcd_wal_fsync_p99_seconds_max",
    "node_cpu_busy_ratio_max",
    "node_load_per_core_max",
    "node_memory_used_ratio_max",
)
# Prometheus refuses a range query of more than 11,000 points per series.
MAX_RESOLUTION = 11000


class SnapshotError(ScalelabError):
    """Bad input or an unreachable Prometheus; the message names the option or the query."""


# Unix seconds past this are milliseconds (or microseconds) given by mistake: 1e11 s is the year 5138.
_MILLISECONDS = 1e11
# A window ending later than this after now has no samples yet (a clock a few seconds ahead is fine).
_FUTURE_SLACK = 300.0


def parse_time(value, option: str, now: float | None = None) -> float:
    """Unix seconds from a number, a numeric string or an RFC 3339 time (a trailing Z is UTC); refused when it is
    in milliseconds or in the future."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        at = float(value)
    else:
        text = str(value).strip()
        try:
            at = float(text)
        except ValueError:
            parsed = timeline.parse_time(text)
            if parsed is None:
                raise SnapshotError(f"{option}={value!r} is neither unix seconds nor an RFC 3339 time") from None
            at = parsed
    if at > _MILLISECONDS:
        raise SnapshotError(f"{option}={value!r} looks like milliseconds: give unix seconds")
    now = time.time() if now is None else now
    if at > now + _FUTURE_SLACK:
        raise SnapshotError(f"{option}={value!r} is {at - now:.0f} s in the future: Prometheus has no samples there")
    return at


# The options of a run's window, documented once in plugins/doc_fragments/window.py: start and end, or neither and
# the window the results at path record (run_window). A module spreads it into its ARGUMENT_SPEC.
WINDOW_ARGUMENT_SPEC = {
    "end": {"type": "str", "default": ""},
    "path": {"type": "path", "required": True},
    "start": {"type": "str", "default": ""},
}


def run_window(p: dict) -> tuple[float, float]:
    """Options start and end as unix seconds; both empty: the window the results at option path record."""
    if p["start"] or p["end"]:
        return parse_time(p["start"], "start"), parse_time(p["end"], "end")
    start, end = document.window(document.load(p["path"], "path"))
    if not (start and end):
        raise SnapshotError(
            f"path={p['path']}: the results record no run window (no object created and ready or available): "
            "give start and end"
        )
    return parse_time(start, "start"), parse_time(end, "end")


def choose_step(start: float, end: float, step: float, max_points: int) -> float:
    """The step: as given, else the window over max_points rounded up to whole seconds (at least 1 s)."""
    if end <= start:
        raise SnapshotError(f"end={end} must be after start={start}")
    if step <= 0:
        step = max(1.0, math.ceil((end - start) / max(1, max_points)))
    if (end - start) / step > MAX_RESOLUTION:
        raise SnapshotError(f"step={step} gives more than {MAX_RESOLUTION} points over {end - start:.0f} s: raise step")
    return step


def _num(v: str) -> float | None:
    f = float(v)
    return None if math.isnan(f) or math.isinf(f) else f


def _round(v: float | None, digits: int = 6) -> float | None:
    if v is None or v == 0:
        return v
    return round(v, digits - 1 - int(math.floor(math.log10(abs(v)))))


def downsample(points: list[list], max_points: int) -> list[list]:
    """At most max_points points, evenly picked, always keeping the first and the last."""
    n = len(points)
    if n <= max_points or max_points < 2:
        return points if max_points >= 2 else points[-1:]
    idx = sorted({round(i * (n - 1) / (max_points - 1)) for i in range(max_points)})
    return [points[i] for i in idx]


def series_entry(result: dict, max_points: int) -> dict:
    """One matrix series: its labels, min/avg/max/P50/P99/last of its values, and downsampled points."""
    points = [[int(t), _num(v)] for t, v in result.get("values", [])]
    present = [v for _dummy, v in points if v is not None]
    values = sorted(present)
    # How often the value moved: restarts for a start time (a gap while a process was down does not count).
    changes = sum(a != b for a, b in zip(present, present[1:], strict=False))
    stats: dict = {"samples": len(values), "changes": changes}
    if values:
        stats.update(
            min=_round(values[0]),
            avg=_round(sum(values) / len(values)),
            max=_round(values[-1]),
            p50=_round(percentile(values, 50)),
            p99=_round(percentile(values, 99)),
            last=_round(next(v for _dummy, v in reversed(points) if v is not None)),
        )
    return {
        "labels": dict(sorted(result.get("metric", {}).items())),
        "stats": stats,
        "points": [[t, _round(v)] for t, v in downsample(points, max_points)],
    }


class Prometheus:
    """The HTTP API of one Prometheus, through the shared retry policy."""

    def __init__(self, url: str, timeout: float, policy: RetryPolicy | None = None):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.policy = policy or RetryPolicy(deadline=timeout)
        self.session = requests.Session()

    def _call(self, path: str, **kw):
        try:
            return call_with_retry(lambda: self.session.get(self.url + path, timeout=self.timeout, **kw), self.policy)
        except (requests.ConnectionError, requests.Timeout) as e:
            raise SnapshotError(f"url={self.url}: cannot reach Prometheus: {e}") from e

    def _get(self, path: str, params: dict) -> dict:
        resp = self._call(path, params=params)
        try:
            body = resp.json()
        except ValueError as e:
            raise SnapshotError(f"url={self.url}: {path} answered {resp.status_code}, not JSON") from e
        if body.get("status") != "success":
            raise QueryError(body.get("error") or f"HTTP {resp.status_code}")
        return body["data"]

    def ready(self) -> None:
        resp = self._call("/-/ready")
        if resp.status_code != 200:
            raise SnapshotError(f"url={self.url}: Prometheus is not ready ({resp.status_code})")

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict]:
        data = self._get("/api/v1/query_range", {"query": expr, "start": start, "end": end, "step": step})
        if data.get("resultType") != "matrix":
            raise QueryError(f"answered a {data.get('resultType')}, not a range")
        return data["result"]

    def close(self) -> None:
        self.session.close()


class QueryError(ScalelabError):
    """Prometheus refused one query (bad PromQL, too many samples): reported per query, not fatal."""


def snapshot(prom: Prometheus, queries: dict, start: float, end: float, step: float, max_points: int) -> dict:
    """Every query over [start, end]: {name: {expr, series: [...], error}}, sorted by name and series labels."""
    out = {}
    for name in sorted(queries):
        expr = queries[name]
        try:
            result = prom.query_range(expr, start, end, step)
            series = sorted((series_entry(r, max_points) for r in result), key=lambda s: sorted(s["labels"].items()))
            out[name] = {"expr": expr, "series": series, "error": None}
        except QueryError as e:
            out[name] = {"expr": expr, "series": [], "error": str(e)}
    return out


def inputs_digest(queries: dict, max_points: int) -> str:
    """What a snapshot of a window depends on besides the window and the URL: the queries and the point budget."""
    return hashlib.sha256(json.dumps([queries, max_points], sort_keys=True).encode()).hexdigest()


def reusable(old, url: str, window: dict, inputs: str) -> bool:
    """A stored snapshot of this window, URL and inputs, whose every query answered (one that failed is retried)."""
    return (
        isinstance(old, dict)
        and old.get("url") == url
        and old.get("window") == window
        and old.get("inputs") == inputs
        and isinstance(old.get("queries"), dict)
        and "cost" in old.get("summary", {})  # taken before cost per object was kept: taken again
        and all(isinstance(q, dict) and not q.get("error") and "series" in q for q in old["queries"].values())
    )


def settle(end: float, seconds: float, now=time.time, sleep=time.sleep) -> float:
    """Wait until `seconds` have passed since end (late scrapes land); returns the seconds waited."""
    wait = end + seconds - now()
    if wait > 0:
        sleep(wait)
        return wait
    return 0.0


def by_job(snap: dict, name: str, stat: str = "max") -> dict:
    """{job: stat} of one query's series (the largest when a job has several), for summaries."""
    out: dict = {}
    for s in snap.get(name, {}).get("series", []):
        job = s["labels"].get("job", "")
        v = s["stats"].get(stat)
        if v is not None and (job not in out or v > out[job]):
            out[job] = v
    return dict(sorted(out.items()))


def summary(snap: dict) -> dict:
    """Per manager: peak CPU cores, peak RSS MiB, worst reconcile P99, deepest work queue and restarts; run-wide
    apiserver and etcd peaks; the targets that were ever down."""
    restarts: dict = {}
    for s in snap.get("process_start_time_seconds", {}).get("series", []):
        job = s["labels"].get("job", "")
        restarts[job] = restarts.get(job, 0) + s["stats"].get("changes", 0)
    per_job = {
        "cpu_cores_max": by_job(snap, "process_cpu_cores"),
        "cpu_cores_avg": by_job(snap, "process_cpu_cores", "avg"),
        "rss_mib_max": {k: round(v / 2**20, 1) for k, v in by_job(snap, "process_resident_memory_bytes").items()},
        "reconcile_p99_seconds_max": by_job(snap, "reconcile_p99_seconds"),
        "workqueue_depth_max": by_job(snap, "workqueue_depth"),
        "restarts": restarts,
    }
    jobs = sorted(set(per_job["cpu_cores_max"]) | set(per_job["rss_mib_max"]))
    down = sorted(j for j, v in by_job(snap, "up", "min").items() if v < 1)
    return {
        "managers": {j: {k: v.get(j) for k, v in per_job.items()} for j in jobs},
        # A run-wide peak: the largest of any series (by_job's per-job peaks are the series' largest).
        **{name: max(by_job(snap, name.removesuffix("_max")).values(), default=None) for name in RUN_METRICS},
        "targets_down": down,
    }
