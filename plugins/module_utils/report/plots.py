# Copyright: scalelab contributors
# Apache-2.0
"""The report's plots, from a results JSON alone: each described once as data (a chart: traces and marks) and drawn
twice - a PNG with matplotlib (scale.md links it) and an interactive chart in the HTML report (report.interactive).

Every PNG's bytes depend only on the data (no timestamps, no software version in the metadata), so a second report
of the same run rewrites nothing.
"""

from __future__ import annotations

import importlib.util
import io

from ansible_collections.scalelab.capi.plugins.module_utils.observe import queues
from ansible_collections.scalelab.capi.plugins.module_utils.results import stages

# Imported when a plot is drawn (~1 s): a report whose inputs are unchanged is not redrawn (report.build).
HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
_PYPLOT = None

PNG_METADATA = {"Software": None}
MIB = 2**20
# One color per stage of results.stages, in order.
STAGE_COLORS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860")
# A mark's line style, by the names plotly uses.
_DASH = {"dash": "--", "dashdot": "-.", "dot": ":", "solid": "-"}


def _pyplot():
    global _PYPLOT
    if _PYPLOT is None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot

        _PYPLOT = matplotlib.pyplot
    return _PYPLOT


def chart(
    title: str, x: str, y: str, traces: list[dict], marks: list[dict] | None = None, legend: str = "best"
) -> dict:
    """One panel. A trace: {kind: step|line|points|hist|bar|barh|stack, name, x, y, color, bins} (stack: bars on
    top of the traces before); a mark: a vertical line
    {kind: vline, x, name, dash, color} or a band of the x axis with its mean {kind: band, x0, x1, y, name, color}."""
    return {"title": title, "x": x, "y": y, "traces": traces, "marks": marks or [], "legend": legend}


def trace(kind: str, x: list, y: list | None = None, name: str | None = None, **style) -> dict:
    return {"kind": kind, "x": x, "y": y, "name": name, **style}


def _draw(ax, c: dict, small: bool) -> None:
    ax.set_title(c["title"], fontsize=9 if small else 11)
    ax.set_xlabel(c["x"], fontsize=7 if small else None)
    ax.set_ylabel(c["y"])
    labelled = False
    bottom: list[float] = []  # the top of the bars stacked so far
    for t in c["traces"]:
        kind, name, color = t["kind"], t.get("name"), t.get("color")
        labelled |= name is not None and kind not in ("hist", "bar", "barh")
        if kind == "step":
            ax.step(t["x"], t["y"], where="post", label=name, color=color)
        elif kind == "line":
            ax.plot(t["x"], t["y"], label=name, linewidth=1.2, color=color)
        elif kind == "points":
            ax.plot(t["x"], t["y"], ".", markersize=3, label=name, color=color)
        elif kind == "hist":
            ax.hist(t["x"], bins=t["bins"], color=color, alpha=0.8)
        elif kind == "bar":
            ax.bar(range(len(t["x"])), t["y"], color=color)
            ax.set_xticks(range(len(t["x"])), t["x"], fontsize=7, rotation=15)
        elif kind == "stack":
            bottom = bottom or [0.0] * len(t["y"])
            ax.bar(range(len(t["x"])), t["y"], bottom=bottom, label=name, color=color)
            ax.set_xticks(range(len(t["x"])), t["x"], fontsize=7, rotation=15)
            bottom = [b + v for b, v in zip(bottom, t["y"], strict=True)]
        elif kind == "barh":
            ax.barh([str(v)[-70:] for v in t["y"]], t["x"], color=color)
            ax.tick_params(axis="y", labelsize=6)
    if c["traces"][0]["kind"] != "barh":
        ax.grid(True, alpha=0.3)
    for m in c["marks"]:
        labelled = True
        if m["kind"] == "vline":
            ax.axvline(m["x"], color=m.get("color"), linestyle=_DASH[m.get("dash", "solid")], label=m["name"])
        else:
            ax.axvspan(m["x0"], m["x1"], color=m["color"], alpha=0.15, label=m["name"])
            ax.hlines(m["y"], m["x0"], m["x1"], colors=m["color"])
    if labelled:
        many = sum(1 for t in c["traces"] if t.get("name")) > 4
        ax.legend(fontsize=7 if many else 8, ncol=2 if many else 1, loc=c["legend"])


def png(panels: list[dict]) -> bytes:
    """The panels one above the other in one PNG."""
    n = len(panels)
    fig, axes = _pyplot().subplots(n, 1, figsize=(8, 3.6 if n == 1 else 2.2 * n), dpi=100, squeeze=False)
    for ax, c in zip(axes[:, 0], panels, strict=True):
        _draw(ax, c, small=n > 1)
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", metadata=PNG_METADATA)
    _pyplot().close(fig)
    return buf.getvalue()


def _cumulative(times: list[float]) -> tuple[list[float], list[int]]:
    xs = sorted(times)
    return [0.0, *xs], [0, *range(1, len(xs) + 1)]


def objects_over_time(series: dict, milestones: dict[str, str], title: str, what: str) -> dict | None:
    """Cumulative count of objects created and reaching each milestone (series key -> label) over time."""
    created = [c for c in series.get("created", []) if c is not None]
    if not created:
        return None
    traces = [trace("step", *_cumulative(created), name="created")]
    for key, label in milestones.items():
        vals = series.get(key, [])
        # Times to a milestone are durations from creation, except where the series is absolute ("provisioned").
        at = [
            v if key == "provisioned" else c + v
            for c, v in zip(series["created"], vals, strict=True)
            if v is not None and c is not None
        ]
        if at:
            traces.append(trace("step", *_cumulative(at), name=label))
    return chart(title, "seconds since the first was created", what, traces, legend="lower right")


def distribution(values: list[float], stats: dict, title: str) -> dict | None:
    if not values:
        return None
    hist = trace("hist", values, bins=min(40, max(5, len(values) // 5)), color="#4c72b0")
    marks = [
        {"kind": "vline", "x": stats[q], "name": f"{q.upper()} {stats[q]:.1f} s", "dash": dash, "color": "#c44e52"}
        for q, dash in (("p50", "dash"), ("p90", "dashdot"), ("p99", "dot"))
        if stats.get(q) is not None
    ]
    return chart(title, "seconds", "objects", [hist], marks)


def by_creation_order(values: list[float | None], drift: dict, title: str) -> dict | None:
    """Time to ready of each object in creation order, the first and last windows and their means marked."""
    pts = [(i + 1, v) for i, v in enumerate(values) if v is not None]
    if not pts:
        return None
    dots = trace("points", [p[0] for p in pts], [p[1] for p in pts], color="#4c72b0")
    n, k, marks = len(values), drift.get("window") or 0, []
    if k and drift.get("first_mean") is not None:
        first, last = drift["first_mean"], drift["last_mean"]
        # each band spans its members' dots (half a step either side: a window of one is not a line)
        marks = [
            {
                "kind": "band",
                "x0": 0.5,
                "x1": k + 0.5,
                "y": first,
                "name": f"first {k}: mean {first:.1f} s",
                "color": "#55a868",
            },
            {
                "kind": "band",
                "x0": n - k + 0.5,
                "x1": n + 0.5,
                "y": last,
                "name": f"last {k}: mean {last:.1f} s",
                "color": "#c44e52",
            },
        ]
        pct = drift.get("drift_pct")
        title = f"{title} (drift {pct:+.1f}%)" if pct is not None else title
    return chart(title, "creation order", "seconds", [dots], marks)


def stages_by_creation(b: dict) -> dict | None:
    """Each cohort's mean seconds per stage (results.stages), stacked: which step grew from the first to the last."""
    cohorts = b.get("cohorts") or []
    if not cohorts:
        return None
    x = [f"{c['from']}-{c['to']}" if c["to"] > c["from"] else str(c["from"]) for c in cohorts]
    traces = [
        trace("stack", x, [c["mean_seconds"][n] for c in cohorts], name=stages.LABELS[n], color=color)
        for n, color in zip(b["stages"], STAGE_COLORS, strict=False)
    ]
    return chart(
        "Where provisioning time goes", "clusters in creation order", "mean seconds", traces, legend="upper left"
    )


def controller_times(snap: dict, top: int = 6) -> list[dict] | None:
    """Per minute, the mean queue wait and the mean reconcile time of the controllers that handled most items."""
    t0 = (snap.get("window") or {}).get("start")
    table = (snap.get("summary") or {}).get("controllers") or {}
    if t0 is None or not table:
        return None
    per = queues.series(snap.get("queries") or {}, float(t0))
    keys = [k for k in sorted(table, key=lambda k: (-table[k]["items"], k)) if k in per][:top]
    panels = []
    for what, title in (("wait", "Queue wait per item"), ("reconcile", "Reconcile time")):
        traces = [
            trace("line", [t for t, _v in per[k][what]], [v for _t, v in per[k][what]], name=k)
            for k in keys
            if what in per[k]
        ]
        if traces:
            panels.append(chart(title, "seconds since the window opened", "seconds", traces, legend="upper left"))
    return panels or None


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
) -> dict | None:
    """Lines of snapshot queries over the run's window, one per job (or per query when it has no job)."""
    t0 = snapshot.get("window", {}).get("start")
    if t0 is None:
        return None
    traces = []
    for name, label in queries:
        for job, pts in by_job(snapshot.get("queries", {}).get(name, {}), reduce).items():
            traces.append(
                trace(
                    "line", [t - t0 for t, _dummy in pts], [v / scale for _dummy, v in pts], name=label.format(job=job)
                )
            )
    if not traces:
        return None
    return chart(title, "seconds since the window opened", ylabel, traces, legend="upper left")


def profile_bars(profiles: dict, top: int = 8) -> list[dict] | None:
    """Top CPU functions (own time) of each profiled component, one panel each."""
    jobs = [(j, e["cpu"]) for j, e in sorted(profiles.get("jobs", {}).items()) if e.get("cpu") and e["cpu"]["top_flat"]]
    if not jobs:
        return None
    panels = []
    for job, cpu in jobs:
        rows = cpu["top_flat"][:top][::-1]
        bars = trace("barh", [r["flat"] for r in rows], [r["function"] for r in rows], color="#8172b2")
        title = f"{job}: {cpu['cpu_seconds']:.1f} CPU s in {cpu['profiled_seconds']:.0f} s profiled"
        panels.append(chart(title, "CPU seconds (own)", "", [bars]))
    return panels


def all_plots(doc: dict) -> list[tuple[str, str, list[dict]]]:
    """(file stem, caption, panels) of every plot the document has data for, in report order."""
    kinds, snap = doc.get("kinds", {}), doc.get("prometheus", {})
    out = []

    def add(stem: str, caption: str, panels: dict | list[dict] | None) -> None:
        if panels:
            out.append((stem, caption, panels if isinstance(panels, list) else [panels]))

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
        add(
            "stages",
            "Where provisioning time goes: each stage's mean per tenth of the clusters in creation order",
            stages_by_creation(c.get("stages") or {}),
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
        add(
            "controllers",
            "Per controller (the most items): the mean queue wait and reconcile time of each minute",
            controller_times(snap),
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
