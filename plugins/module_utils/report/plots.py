# Copyright: scalelab contributors
# Apache-2.0
"""The report's plots, drawn with matplotlib (Agg, no display) from a results JSON alone.

Every plot is a PNG whose bytes depend only on the data (no timestamps, no software version in the metadata), so a
second report of the same run rewrites nothing.
"""

from __future__ import annotations

import importlib.util
import io

# Imported when a plot is drawn (~1 s): a report whose inputs are unchanged is not redrawn (report.build).
HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
_PYPLOT = None


def _pyplot():
    global _PYPLOT
    if _PYPLOT is None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot

        _PYPLOT = matplotlib.pyplot
    return _PYPLOT


PNG_METADATA = {"Software": None}
MIB = 2**20


def figure(title: str, xlabel: str, ylabel: str):
    fig, ax = _pyplot().subplots(figsize=(8, 3.6), dpi=100)
    ax.set_title(title, fontsize=11)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    return fig, ax


def png(fig) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", metadata=PNG_METADATA)
    _pyplot().close(fig)
    return buf.getvalue()


def _cumulative(times: list[float]) -> tuple[list[float], list[int]]:
    xs = sorted(times)
    return [0.0, *xs], [0, *range(1, len(xs) + 1)]


def objects_over_time(series: dict, milestones: dict[str, str], title: str, what: str) -> bytes | None:
    """Cumulative count of objects created and reaching each milestone (series key -> label) over time."""
    created = [c for c in series.get("created", []) if c is not None]
    if not created:
        return None
    fig, ax = figure(title, "seconds since the first was created", what)
    ax.step(*_cumulative(created), where="post", label="created")
    for key, label in milestones.items():
        vals = series.get(key, [])
        # Times to a milestone are durations from creation, except where the series is absolute ("provisioned").
        at = [
            v if key == "provisioned" else c + v
            for c, v in zip(series["created"], vals, strict=True)
            if v is not None and c is not None
        ]
        if at:
            ax.step(*_cumulative(at), where="post", label=label)
    ax.legend(loc="lower right", fontsize=8)
    return png(fig)


def distribution(values: list[float], stats: dict, title: str) -> bytes | None:
    if not values:
        return None
    fig, ax = figure(title, "seconds", "objects")
    ax.hist(values, bins=min(40, max(5, len(values) // 5)), color="#4c72b0", alpha=0.8)
    for q, style in (("p50", "--"), ("p90", "-."), ("p99", ":")):
        if stats.get(q) is not None:
            ax.axvline(stats[q], color="#c44e52", linestyle=style, label=f"{q.upper()} {stats[q]:.1f} s")
    ax.legend(fontsize=8)
    return png(fig)


def by_creation_order(values: list[float | None], drift: dict, title: str) -> bytes | None:
    """Time to ready of each object in creation order, the first and last windows and their means marked."""
    pts = [(i + 1, v) for i, v in enumerate(values) if v is not None]
    if not pts:
        return None
    fig, ax = figure(title, "creation order", "seconds")
    ax.plot([p[0] for p in pts], [p[1] for p in pts], ".", markersize=3, color="#4c72b0")
    n, k = len(values), drift.get("window") or 0
    if k and drift.get("first_mean") is not None:
        ax.axvspan(1, k, color="#55a868", alpha=0.15, label=f"first {k}: mean {drift['first_mean']:.1f} s")
        ax.hlines(drift["first_mean"], 1, k, colors="#55a868")
        ax.axvspan(n - k + 1, n, color="#c44e52", alpha=0.15, label=f"last {k}: mean {drift['last_mean']:.1f} s")
        ax.hlines(drift["last_mean"], n - k + 1, n, colors="#c44e52")
        pct = drift.get("drift_pct")
        ax.set_title(f"{title} (drift {pct:+.1f}%)" if pct is not None else title, fontsize=11)
        ax.legend(fontsize=8)
    return png(fig)


def owner(query_name: str) -> str:
    """Who a run-wide series (no job label) is about: the API server's and etcd's recording rules, the host's."""
    for prefix, who in (("etcd_", "etcd"), ("apiserver_", "kube-apiserver"), ("node_", "host")):
        if query_name.startswith(prefix):
            return who
    return "run"


def by_job(query: dict, reduce=max, default: str = "run") -> dict[str, list[tuple[float, float]]]:
    """{job: [(t, value)]} of a snapshot query, several series of one job reduced per timestamp."""
    acc: dict[str, dict[float, list[float]]] = {}
    for s in query.get("series", []):
        job = s["labels"].get("job", default)
        for t, v in s.get("points", []):
            if v is not None:
                acc.setdefault(job, {}).setdefault(t, []).append(v)
    return {job: sorted((t, reduce(vs)) for t, vs in pts.items()) for job, pts in sorted(acc.items())}


def timeseries(
    snapshot: dict, queries: list[tuple[str, str]], title: str, ylabel: str, scale: float = 1.0, reduce=max
) -> bytes | None:
    """Lines of snapshot queries over the run's window, one per job (or per query when it has no job)."""
    t0 = snapshot.get("window", {}).get("start")
    lines = []
    for name, label in queries:
        for job, pts in by_job(snapshot.get("queries", {}).get(name, {}), reduce).items():
            lines.append((label.format(job=job), pts))
    if not lines or t0 is None:
        return None
    fig, ax = figure(title, "seconds since the window opened", ylabel)
    for label, pts in lines:
        ax.plot([t - t0 for t, _ in pts], [v / scale for _, v in pts], label=label, linewidth=1.2)
    ax.legend(fontsize=7, ncol=2, loc="upper left")
    return png(fig)


def profile_bars(profiles: dict, top: int = 8) -> bytes | None:
    """Top CPU functions (own time) of each profiled component, one panel each."""
    jobs = [(j, e["cpu"]) for j, e in sorted(profiles.get("jobs", {}).items()) if e.get("cpu") and e["cpu"]["top_flat"]]
    if not jobs:
        return None
    fig, axes = _pyplot().subplots(len(jobs), 1, figsize=(8, 2.2 * len(jobs)), dpi=100, squeeze=False)
    for ax, (job, cpu) in zip(axes[:, 0], jobs, strict=True):
        rows = cpu["top_flat"][:top][::-1]
        ax.barh([r["function"][-70:] for r in rows], [r["flat"] for r in rows], color="#8172b2")
        ax.set_title(f"{job}: {cpu['cpu_seconds']:.1f} CPU s in {cpu['profiled_seconds']:.0f} s profiled", fontsize=9)
        ax.tick_params(axis="y", labelsize=6)
        ax.set_xlabel("CPU seconds (own)", fontsize=7)
    return png(fig)


def all_plots(doc: dict) -> list[tuple[str, str, bytes]]:
    """(file stem, caption, PNG) of every plot the document has data for, in report order."""
    kinds, snap = doc.get("kinds", {}), doc.get("prometheus", {})
    out = []

    def add(stem: str, caption: str, png: bytes | None) -> None:
        if png is not None:
            out.append((stem, caption, png))

    c = kinds.get("Cluster")
    if c and c.get("series"):
        add(
            "clusters-over-time",
            "Clusters created and ready over time",
            objects_over_time(c["series"], {"ready": "ready"}, "Clusters over time", "clusters"),
        )
        ready = [v for v in c["series"].get("ready", []) if v is not None]
        add(
            "time-to-ready",
            "Provisioning time (creation to ready): distribution and P50/P90/P99",
            distribution(ready, c.get("time_to_ready", {}), "Cluster time to ready"),
        )
        add(
            "drift",
            "Provisioning time by creation order, first and last 10% marked",
            by_creation_order(c["series"].get("ready", []), c.get("drift", {}), "Time to ready by creation order"),
        )
    h = kinds.get("BareMetalHost")
    if h and h.get("series"):
        add(
            "hosts-over-time",
            "BareMetalHosts created, available and provisioned over time",
            objects_over_time(
                h["series"],
                {"available": "available", "provisioned": "provisioned"},
                "BareMetalHosts over time",
                "hosts",
            ),
        )
        add(
            "host-drift",
            "Host time to available by creation order",
            by_creation_order(h["series"].get("available", []), h.get("drift", {}), "Host time to available"),
        )
    if snap:
        add(
            "reconcile-p99",
            "Reconcile P99 per manager (worst controller)",
            timeseries(snap, [("reconcile_p99_seconds", "{job}")], "Reconcile P99", "seconds"),
        )
        add(
            "queue-depth",
            "Work-queue depth per manager (deepest queue)",
            timeseries(snap, [("workqueue_depth", "{job}")], "Work-queue depth", "items"),
        )
        add("cpu", "CPU per process", timeseries(snap, [("process_cpu_cores", "{job}")], "CPU", "cores"))
        add(
            "memory",
            "Resident memory per process",
            timeseries(snap, [("process_resident_memory_bytes", "{job}")], "Memory", "MiB", scale=MIB),
        )
        add(
            "apiserver",
            "API server request P99 and 429s per second",
            timeseries(
                snap,
                [
                    ("apiserver_mutating_p99_seconds", "mutating P99 (s)"),
                    ("apiserver_readonly_p99_seconds", "read-only P99 (s)"),
                    ("apiserver_429_rate", "429/s (server)"),
                    ("client_requests_429_rate", "429/s {job}"),
                ],
                "API server latency and 429s",
                "seconds or per second",
            ),
        )
    if doc.get("profiles"):
        add(
            "profiles",
            "Top CPU functions per component (own time, profiles of the window)",
            profile_bars(doc["profiles"]),
        )
    return out
