# Copyright: scalelab contributors
# Apache-2.0
"""One report over several management clusters (the sharded pattern): merge the JSON reports scale_results wrote.

Percentiles and drift are recomputed over every object, from each report's per-object series (creation offset and
duration, in creation order), not averaged: the P99 of two shards is not the mean of their P99s. Counts are summed.
What the series do not hold (condition spreads, BMO operation durations) stays in each source's own report.
Each object is rebuilt from the series as the record one report is computed from (without its name: names repeat
across shards), so the report's own accumulators compute the merged numbers.
"""

from __future__ import annotations

from ansible_collections.scalelab.capi.plugins.module_utils.results import document, timeline
from ansible_collections.scalelab.capi.plugins.module_utils.results.host_timeline import HostAccumulator, HostTimeline


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


def _entries(name: str, kind: str, r: dict, fields: tuple[str, ...]) -> list[tuple[float | None, dict]]:
    """(creation time, {field: value}) of every object of a source's per-object series."""
    s = r.get("series")
    if not isinstance(s, dict) or any(f not in s for f in ("created", *fields)):
        raise MergeError(
            f"merge.{name}: kind {kind} has no per-object series {('created', *fields)} (a report of an older "
            "scale_results): gather it again"
        )
    t0 = s.get("t0")
    return [(_at(t0, off), {f: s[f][i] for f in fields}) for i, off in enumerate(s["created"])]


def _at(start: float | None, seconds: float | None) -> float | None:
    """The time `seconds` after `start`; None when either is unknown."""
    return None if start is None or seconds is None else start + seconds


def _prefixed(name: str, objs: list[dict]) -> list[dict]:
    # The object's namespace is prefixed by its management cluster: names repeat across shards.
    return [{**o, "namespace": f"{name}/{o.get('namespace', '')}"} for o in objs]


def merge_kind(kind: str, per_source: dict[str, dict], top: int = 20) -> dict:
    """The merged result of one Cluster API kind (time to ready) from each source's result."""
    acc, failing = timeline.Accumulator(kind), []
    for name, r in per_source.items():
        for created, v in _entries(name, kind, r, ("ready",)):
            # name, namespace, created, ready_at, seconds_to_ready, transitions, failing
            acc.records.append(timeline.Timeline("", "", created, _at(created, v["ready"]), v["ready"], (), None))
        failing += _prefixed(name, r.get("not_ready_objects", []))
    # The objects not ready are the sources' own (the series do not hold their conditions).
    return {**acc.result(), "not_ready_objects": failing[:top]}


def merge_hosts(per_source: dict[str, dict], top: int = 20) -> dict:
    """The merged BareMetalHost result: time to available and provisioning over every host."""
    acc, stuck, states = HostAccumulator(), [], {}
    for name, r in per_source.items():
        src = _entries(name, "BareMetalHost", r, ("available", "provision"))
        t0 = r["series"].get("t0")
        # "provisioned" is an offset from the source's first creation: rebase it on absolute time.
        for (created, v), p in zip(src, r["series"].get("provisioned", [None] * len(src)), strict=True):
            available_at = _at(created, v["available"])
            # name, namespace, created, state, available_at, seconds_to_available, provision_seconds, provisioned_at,
            # phases, error
            host = HostTimeline("", "", created, "", available_at, v["available"], v["provision"], _at(t0, p), (), None)
            acc.records.append(host)
        stuck += _prefixed(name, r.get("stuck_objects", []))
        for state, n in r.get("states", {}).items():
            states[state] = states.get(state, 0) + n
    # States, provisioned hosts and stuck hosts are the sources' own (BMO operations are not merged: phases {}).
    return {
        **acc.result(),
        "states": dict(sorted(states.items())),
        "provisioned": sum(1 for h in acc.records if h.provisioned_at is not None),
        "stuck": sum(int(r.get("stuck", 0)) for r in per_source.values()),
        "stuck_objects": stuck[:top],
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
        row = [name, s.get("clusters", "-"), s.get("clusters_ready", "-")]
        row += [document._num(s.get(f"cluster_{q}_seconds")) for q in ("p50", "p99")]
        rows.append([*row, document._pct(s.get("drift_pct")), s.get("hosts", "-"), s.get("hosts_available", "-")])
    header = ["management cluster", "clusters", "ready", "P50 s", "P99 s", "drift", "hosts", "available"]
    table = document.table(header, rows)
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
    changed, result = document.write_report(params, doc, markdown(doc), check_mode, MergeError)
    return changed, result, diff
