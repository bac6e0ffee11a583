# Copyright: scalelab contributors
# Apache-2.0
"""What a report says first, before any table or plot: how many objects reached ready and how fast, whether time to
ready drifted, what saturated first, whether the host itself was saturated, gates and the baseline - in words, from
the results JSON alone. Also the human names of the metrics (the gates' names stay beside them)."""

from __future__ import annotations

from datetime import datetime

from ansible_collections.scalelab.capi.plugins.module_utils.observe import queues, soak
from ansible_collections.scalelab.capi.plugins.module_utils.results import stages

# Metric name -> what a person calls it. Per-job names (<metric>.<job>) read as the metric's name for the job.
HUMAN = {
    "clusters": "clusters",
    "clusters_ready": "clusters ready",
    "clusters_ready_ratio": "share of clusters ready",
    "cluster_p50_seconds": "cluster time to ready, P50 (s)",
    "cluster_p90_seconds": "cluster time to ready, P90 (s)",
    "cluster_p99_seconds": "cluster time to ready, P99 (s)",
    "cluster_max_seconds": "cluster time to ready, slowest (s)",
    "drift_pct": "drift of cluster time to ready, first 10% vs last 10% (%)",
    "hosts": "hosts",
    "hosts_available": "hosts available",
    "hosts_provisioned": "hosts provisioned",
    "host_available_p50_seconds": "host time to available, P50 (s)",
    "host_available_p90_seconds": "host time to available, P90 (s)",
    "host_available_p99_seconds": "host time to available, P99 (s)",
    "host_available_max_seconds": "host time to available, slowest (s)",
    "host_provision_p50_seconds": "host provisioning, P50 (s)",
    "host_provision_p99_seconds": "host provisioning, P99 (s)",
    "host_drift_pct": "drift of host time to available (%)",
    "objects_failed": "objects not ready or stuck",
    "targets_down": "scrape targets down",
    "apiserver_mutating_p99_seconds_max": "API server write P99, worst (s)",
    "apiserver_5xx_ratio_max": "API server 5xx share, worst",
    "apiserver_429_rate_max": "API server 429s per second, worst",
    "client_requests_429_rate_max": "429s received by the managers per second, worst",
    "etcd_db_size_bytes_max": "etcd database size, largest (bytes)",
    "etcd_wal_fsync_p99_seconds_max": "etcd WAL fsync P99, worst (s)",
    "node_cpu_busy_ratio_max": "host CPU busy, peak share",
    "node_load_per_core_max": "host load per core, peak",
    "node_memory_used_ratio_max": "host memory used, peak share",
    "cpu_cores_max": "manager CPU, peak cores",
    "rss_mib_max": "manager memory, peak RSS (MiB)",
    "reconcile_p99_seconds_max": "reconcile P99, worst (s)",
    "workqueue_depth_max": "work queue depth, deepest",
    "restarts": "manager restarts",
    "rss_mib_per_hour": "memory growth at rest, MiB per hour (soak)",
    "goroutines_per_hour": "goroutine growth at rest, per hour (soak)",
    **{
        f"{what}_per_{unit}{hour}": f"{words} per {unit}{' at steady state, per hour' if hour else ''}"
        for unit in ("cluster", "machine", "host")
        for what, words, hour in (
            ("cpu_seconds", "CPU-seconds", ""),
            ("rss_mib", "memory growth (MiB)", ""),
            ("api_requests", "API requests", ""),
            ("etcd_kib", "etcd growth (KiB)", ""),
            ("cpu_seconds", "CPU-seconds", "_hour"),
            ("api_requests", "API requests", "_hour"),
        )
    },
}
HOST_SIGNALS = ("node_cpu_busy_ratio", "node_load_per_core", "node_memory_used_ratio")
# A controller whose workers were this busy on average over the run had no room left: more workers, or a faster
# client, before reading its queue wait as the controller's.
BUSY = 0.8


def human(metric: str) -> str:
    """The metric's name for a person: `cpu_cores_max.capi-core` -> `manager CPU, peak cores: capi-core`."""
    base, _dummy, job = metric.partition(".")
    name = HUMAN.get(base, base.replace("_", " "))
    return f"{name}: {job}" if job else name


def duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    m, s = divmod(seconds, 60)
    if m < 60:
        return f"{m} min {s:02d} s"
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min"


def _seconds_between(start: str, end: str) -> float | None:
    try:
        a = datetime.fromisoformat(start.replace("Z", "+00:00"))
        b = datetime.fromisoformat(end.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return None
    return (b - a).total_seconds()


def _num(v, unit: str = " s") -> str:
    return "-" if v is None else f"{_amount(v)}{unit}"


def lines(
    doc: dict,
    window: tuple[str, str],
    saturated: list[dict],
    gate_rows: list[dict] | None,
    comparison: list[dict] | None,
    baseline: str,
) -> list[tuple[str, str, str]]:
    """(question, answer, class) - class "bad" marks what needs a look, "good" what passed, "" the rest."""
    s, run = doc.get("summary", {}), doc.get("run", {}) or {}
    out: list[tuple[str, str, str]] = []
    if "clusters" in s:
        n, ready = s["clusters"], s.get("clusters_ready", 0)
        out.append(("Clusters ready", f"{ready} of {n}", "good" if n and ready == n else "bad"))
    if "hosts" in s:
        n, avail, prov = s["hosts"], s.get("hosts_available", 0), s.get("hosts_provisioned", 0)
        cls = "good" if n and avail + prov >= n else "bad"
        out.append(("Hosts available / provisioned", f"{avail} / {prov} of {n}", cls))
    earlier = doc.get("earlier") or {}
    if any(earlier.values()):
        counted = ", ".join(f"{v} {k}(s)" for k, v in sorted(earlier.items()))
        out.append(("Made by earlier runs (not timed)", counted, ""))
    took = _seconds_between(*window) if all(window) else None
    if took is not None:
        out.append(("Wall time", f"{duration(took)} (first write to last ready)", ""))
    if "cluster_p50_seconds" in s:
        out.append(
            (
                "Cluster time to ready",
                f"P50 {_num(s['cluster_p50_seconds'])}, P99 {_num(s.get('cluster_p99_seconds'))}, "
                f"slowest {_num(s.get('cluster_max_seconds'))}",
                "",
            )
        )
    if s.get("host_available_p50_seconds") is not None:
        out.append(
            (
                "Host time to available",
                f"P50 {_num(s['host_available_p50_seconds'])}, P99 {_num(s.get('host_available_p99_seconds'))}",
                "",
            )
        )
    for key, what in (("drift_pct", "clusters"), ("host_drift_pct", "hosts")):
        if s.get(key) is not None:
            out.append((f"Drift ({what})", f"{s[key]:+.1f}% from the first 10% created to the last 10%", ""))
    grew = _stage_grew(((doc.get("kinds") or {}).get("Cluster") or {}).get("stages") or {})
    if grew:
        out.append(grew)
    ctl = [r for r in saturated if r["signal"] not in HOST_SIGNALS]
    host = [r for r in saturated if r["signal"] in HOST_SIGNALS]
    if not doc.get("prometheus"):
        out.append(("First bottleneck", "not measured (no Prometheus snapshot in this run)", ""))
    elif ctl:
        r = ctl[0]
        out.append(
            ("First bottleneck", f"{r['job']}: {r['meaning']}, {duration(r['first_seconds'])} into the run", "bad")
        )
    else:
        out.append(("First bottleneck", "none: no manager, API server or etcd signal crossed its threshold", "good"))
    out.append(("Host saturated", _host(doc, host, run.get("machine") or {}), "bad" if host else ""))
    rest = _soak(((doc.get("prometheus") or {}).get("summary") or {}).get("soak") or {})
    if rest:
        out.append(rest)
    busy = _busiest(((doc.get("prometheus") or {}).get("summary") or {}).get("controllers") or {})
    if busy:
        out.append(busy)
    spent = _cost((((doc.get("prometheus") or {}).get("summary") or {}).get("cost") or {}).get("per") or {})
    if spent:
        out.append(spent)
    if gate_rows:
        broken = [g for g in gate_rows if not g["ok"]]
        words = "; ".join(f"{human(g['gate'])} ({g['reason']})" for g in broken[:3])
        verdict = f"FAIL - {len(broken)} of {len(gate_rows)}: {words}" if broken else f"PASS - all {len(gate_rows)}"
        out.append(("SLO gates", verdict, "bad" if broken else "good"))
    if comparison is not None:
        regressed = [r for r in comparison if r["verdict"] == "regressed"]
        words = ", ".join(human(r["metric"]) for r in regressed[:3])
        answer = f"{len(regressed)} regressed" + (f": {words}" if words else "") + f" (against {baseline})"
        out.append(("Against the baseline", answer, "bad" if regressed else "good"))
    return out


def _amount(v) -> str:
    """3 significant digits, whole numbers from 100 up (no exponent): 0.0123, 4.56, 789, 1,234."""
    if v is None:
        return "-"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def _cost(per: dict) -> tuple[str, str, str] | None:
    """What one object cost, for the first unit measured (a cluster before a host): every component's CPU-seconds
    and memory growth, the API requests, and the component that spent the most CPU."""
    unit = next((u for u in ("cluster", "host", "machine") if u in per), None)
    if unit is None:
        return None
    p = per[unit]
    cpu = {k: v for k, v in (p.get("cpu_seconds") or {}).items() if k != "total"}
    parts = [
        f"{_amount((p.get('cpu_seconds') or {}).get('total'))} CPU-s",
        f"{_amount((p.get('rss_mib') or {}).get('total'))} MiB of memory",
        f"{_amount((p.get('api_requests') or {}).get('total'))} API requests",
    ]
    if cpu:
        job = max(cpu, key=cpu.get)
        parts.append(f"most CPU: {job} {_amount(cpu[job])} s")
    return (f"Cost per {unit} ({p['objects']} created)", ", ".join(parts), "")


def _stage_grew(b: dict) -> tuple[str, str, str] | None:
    """Which stage of provisioning grew from the first clusters created to the last (results.stages)."""
    if not b.get("clusters") or b.get("growth_seconds") is None:
        return None
    total = sum(b["growth_seconds"].values())
    if not b.get("grew_most"):
        return ("Which step grew", f"none: the last {b['window']} took no longer than the first {b['window']}", "")
    name = b["grew_most"]
    words = f"{stages.LABELS[name]}, {b['growth_seconds'][name]:+.1f} s of the total's {total:+.1f} s"
    return ("Which step grew", f"{words} (first {b['window']} created vs last {b['window']})", "")


def _soak(s: dict) -> tuple[str, str, str] | None:
    """What grew while the lab rested (observe.soak): the slopes above two standard errors, or none."""
    if not s.get("jobs"):
        return None
    grew = soak.growing(s)
    if not grew:
        return (
            "Growing at rest",
            f"nothing over {duration(s['seconds'])} of soak (every slope within 2 errors of 0)",
            "good",
        )
    words = "; ".join(
        f"{job} memory {b:+.3g} MiB/h (+- {se:.2g})"
        if name.startswith("rss")
        else f"{job} goroutines {b:+.3g}/h (+- {se:.2g})"
        for job, name, b, se in grew[:3]
    )
    return ("Growing at rest", f"{words} over {duration(s['seconds'])} of soak", "bad")


def _busiest(table: dict) -> tuple[str, str, str] | None:
    """The controller whose workers were busiest over the run, with its queue wait and reconcile time."""
    found = queues.busiest(table)
    if found is None:
        return None
    key, r = found
    parts = []
    if r.get("utilization") is not None:
        parts.append(f"{100 * r['utilization']:.0f}% of its {r['workers']} workers busy on average")
    parts.append(f"an item waited {_num(r.get('queue_wait_seconds'))} in its queue")
    parts.append(f"a reconcile took {_num(r.get('reconcile_seconds'))}")
    busy = (r.get("utilization") or 0) >= BUSY
    return ("Busiest controller", f"{key}: " + ", ".join(parts), "bad" if busy else "")


def _host(doc: dict, crossed: list[dict], machine: dict) -> str:
    size = ""
    if machine.get("cores"):
        size = f" ({machine['cores']} cores, {machine.get('memory_bytes', 0) / 2**30:.1f} GiB)"
    if crossed:
        first = crossed[0]
        return f"yes{size}: {first['meaning']} from {duration(first['first_seconds'])} into the run" + "".join(
            f"; {r['meaning']} from {duration(r['first_seconds'])}" for r in crossed[1:]
        )
    peaks = (doc.get("prometheus") or {}).get("summary") or {}
    cpu, mem = peaks.get("node_cpu_busy_ratio_max"), peaks.get("node_memory_used_ratio_max")
    if cpu is None and mem is None:
        load = machine.get("load") or []
        return f"not measured{size}" + (f"; load at the end {load[0]:g}" if load else "")
    return f"no{size}: CPU peak {_pct(cpu)}, memory peak {_pct(mem)}"


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.0f}%"
