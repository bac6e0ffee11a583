# Copyright: scalelab contributors
# Apache-2.0
"""One report over several management clusters (the sharded pattern): merge the JSON reports scale_results wrote.

Percentiles and drift are recomputed over every object, from each report's per-object series (creation offset and
duration, in creation order), not averaged: the P99 of two shards is not the mean of their P99s. Counts are summed.
What the series do not hold (condition spreads, BMO operation durations) stays in each source's own report.
"""

from __future__ import annotations

from ansible_collections.scalelab.capi.plugins.module_utils.results import document, stats
from ansible_collections.scalelab.capi.plugins.module_utils.results.timeline import format_time, series


class MergeError(document.ResultsError):
    """A source report that cannot be merged; the message names it."""


def read_sources(paths: dict[str, str]) -> dict[str, dict]:
    """name -> report document, read from each path."""
    if len(paths) < 1:
        raise MergeError("merge must name at least one report (name: path)")
    docs = {}
    for name, path in paths.items():
        try:
            docs[name] = document.load(path, f"merge.{name}")
        except document.ResultsError as e:
            raise MergeError(str(e)) from e
        if not isinstance(docs[name].get("kinds"), dict):
            raise MergeError(f"merge.{name}={path}: not a scale_results report (no 'kinds')")
    return docs


class _Entry:
    __slots__ = ("created", "values")

    def __init__(self, created: float | None, values: dict):
        self.created = created
        self.values = values


def _entries(name: str, kind: str, r: dict, fields: tuple[str, ...]) -> list[_Entry]:
    s = r.get("series")
    if not isinstance(s, dict) or any(f not in s for f in ("created", *fields)):
        raise MergeError(
            f"merge.{name}: kind {kind} has no per-object series {('created', *fields)} (a report of an older "
            "scale_results): gather it again"
        )
    t0 = s.get("t0")
    out = []
    for i, off in enumerate(s["created"]):
        created = None if off is None or t0 is None else t0 + off
        out.append(_Entry(created, {f: s[f][i] for f in fields}))
    return out


def _ordered(entries: list[_Entry]) -> list[_Entry]:
    return sorted(entries, key=lambda e: (e.created is None, e.created or 0.0))


def _values(ordered: list[_Entry], field: str) -> list[float]:
    """The field's values reached, in creation order."""
    return [e.values[field] for e in ordered if e.values[field] is not None]


def _span(ordered: list[_Entry], field: str) -> tuple[float | None, float | None]:
    """First creation, and the latest creation + field (when the last object got there)."""
    created = [e.created for e in ordered if e.created is not None]
    done = [e.created + e.values[field] for e in ordered if None not in (e.created, e.values[field])]
    return (min(created) if created else None), (max(done) if done else None)


def _prefixed(name: str, objs: list[dict]) -> list[dict]:
    # The object's namespace is prefixed by its management cluster: names repeat across shards.
    return [{**o, "namespace": f"{name}/{o.get('namespace', '')}"} for o in objs]


def merge_kind(kind: str, per_source: dict[str, dict], top: int = 20) -> dict:
    """The merged result of one Cluster API kind (time to ready) from each source's result."""
    entries, failing = [], []
    for name, r in per_source.items():
        entries += _entries(name, kind, r, ("ready",))
        failing += _prefixed(name, r.get("not_ready_objects", []))
    ordered = _ordered(entries)
    ready = _values(ordered, "ready")
    first, last = _span(ordered, "ready")
    return {
        "count": len(ordered),
        "ready": len(ready),
        "not_ready": len(ordered) - len(ready),
        "time_to_ready": stats.summary(ready),
        "drift": stats.drift(ready),
        "conditions": {},
        "not_ready_objects": failing[:top],
        "first_created": format_time(first),
        "last_ready": format_time(last),
        "span_seconds": round(last - first, 3) if first is not None and last is not None else None,
        "series": series(ordered, first, {"ready": lambda e: e.values["ready"]}),
    }


def merge_hosts(per_source: dict[str, dict], top: int = 20) -> dict:
    """The merged BareMetalHost result: time to available and provisioning over every host."""
    entries, stuck, states = [], [], {}
    for name, r in per_source.items():
        src = _entries(name, "BareMetalHost", r, ("available", "provision"))
        t0 = r["series"].get("t0")
        # "provisioned" is an offset from the source's first creation: rebase it on absolute time.
        for e, p in zip(src, r["series"].get("provisioned", [None] * len(src)), strict=True):
            e.values["provisioned_at"] = None if p is None or t0 is None else t0 + p
        entries += src
        stuck += _prefixed(name, r.get("stuck_objects", []))
        for state, n in r.get("states", {}).items():
            states[state] = states.get(state, 0) + n
    ordered = _ordered(entries)
    available, provision = _values(ordered, "available"), _values(ordered, "provision")
    first, last = _span(ordered, "available")
    return {
        "count": len(ordered),
        "states": dict(sorted(states.items())),
        "available": len(available),
        "provisioned": sum(1 for e in ordered if e.values["provisioned_at"] is not None),
        "time_to_available": stats.summary(available),
        "drift": stats.drift(available),
        "provision": stats.summary(provision),
        "provision_drift": stats.drift(provision),
        "phases": {},
        "stuck": sum(int(r.get("stuck", 0)) for r in per_source.values()),
        "stuck_objects": stuck[:top],
        "first_created": format_time(first),
        "last_available": format_time(last),
        "span_seconds": round(last - first, 3) if first is not None and last is not None else None,
        "series": series(
            ordered,
            first,
            {
                "available": lambda e: e.values["available"],
                "provisioned": lambda e: (
                    None if e.values["provisioned_at"] is None else e.values["provisioned_at"] - first
                ),  # noqa: E501
                "provision": lambda e: e.values["provision"],
            },
        ),
    }


def merge(docs: dict[str, dict]) -> dict:
    """The merged document: the kinds every source reports, merged; each source's run and summary under sources."""
    kinds = [k for k in document.KINDS if all(k in d["kinds"] for d in docs.values())]
    merged = {}
    for kind in kinds:
        per_source = {name: d["kinds"][kind] for name, d in docs.items()}
        merged[kind] = merge_hosts(per_source) if kind == "BareMetalHost" else merge_kind(kind, per_source)
    first = next(iter(docs.values()))
    api = {k: v for k, v in first.get("api_version", {}).items() if k in merged}
    run = {k: v for k, v in first.get("run", {}).items() if k in ("scenario", "set", "stack")}
    run["management_clusters"] = list(docs)
    return {
        "schema": document.SCHEMA,
        "run": run,
        "api_version": api,
        "kinds": merged,
        "summary": document.summary(merged.get("Cluster"), merged.get("BareMetalHost")),
        "sources": {name: {"run": d.get("run", {}), "summary": d.get("summary", {})} for name, d in docs.items()},
    }


def markdown(doc: dict) -> str:
    """The merged report: one line per management cluster, then the report over all of them."""
    body = document.markdown(doc).split("\n", 2)
    rows = []
    for name, src in doc["sources"].items():
        s = src["summary"]
        rows.append(
            [
                name,
                s.get("clusters", "-"),
                s.get("clusters_ready", "-"),
                document._num(s.get("cluster_p50_seconds")),
                document._num(s.get("cluster_p99_seconds")),
                document._pct(s.get("drift_pct")),
                s.get("hosts", "-"),
                s.get("hosts_available", "-"),
            ]
        )
    header = ["management cluster", "clusters", "ready", "P50 s", "P99 s", "drift", "hosts", "available"]
    table = document._table(header, rows)
    head = ["# Scale results: " + ", ".join(doc["sources"]), "", "## Management clusters", "", *table, ""]
    note = (
        "Below, over every management cluster: percentiles and drift recomputed over all objects in creation order; "
        "condition spreads and BMO operations are in each cluster's own report."
    )
    return "\n".join(head + [note, ""]) + body[2]


def run(params: dict, check_mode: bool) -> tuple[bool, dict, dict]:
    """Merge, then write the JSON and the Markdown if they differ: (changed, result, diff)."""
    doc = merge(read_sources(params["merge"]))
    diff = {"before": document.load(params["path"], required=False).get("summary", {}), "after": doc["summary"]}
    changed = False
    for opt, text in (("path", document.dumps(doc)), ("markdown_path", markdown(doc))):
        if not params.get(opt):
            continue
        try:
            changed |= document.write_if_changed(params[opt], text, check_mode)
        except OSError as e:
            raise MergeError(f"{opt}={params[opt]}: cannot write it: {e}") from e
    result = {"report": document.returned(doc), "path": params["path"]}
    result["markdown_path"] = params.get("markdown_path") or ""
    return changed, result, diff
