# Copyright: scalelab contributors
# Apache-2.0
"""The scale report: per-kind timelines gathered with paginated lists, written as JSON and Markdown.

The JSON holds only what the cluster says (no "generated at"), so gathering twice from a settled lab gives the
same document and a second run changes nothing.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time

from ansible_collections.scalelab.capi.plugins.module_utils.errors import ScalelabError
from ansible_collections.scalelab.capi.plugins.module_utils.kube.client import KubeClient, KubeError
from ansible_collections.scalelab.capi.plugins.module_utils.results import phase, runs, stages
from ansible_collections.scalelab.capi.plugins.module_utils.results.host_timeline import HostAccumulator
from ansible_collections.scalelab.capi.plugins.module_utils.results.timeline import (
    Accumulator,
    format_time,
    parse_time,
)
from ansible_collections.scalelab.capi.plugins.module_utils.sets.clusters import CLUSTER_NAME_LABEL
from ansible_collections.scalelab.capi.plugins.module_utils.sets.phases import marks as phase_marks
from ansible_collections.scalelab.capi.plugins.module_utils.sets.phases import measures as phase_measures
from ansible_collections.scalelab.capi.plugins.module_utils.sets.phases import title as phase_title
from ansible_collections.scalelab.capi.plugins.module_utils.sets.shapes import read as read_shapes

SCHEMA = 1
KINDS = ("Cluster", "KubeadmControlPlane", "MachineDeployment", "Machine", "Metal3Machine", "BareMetalHost")
CLUSTER_KINDS = KINDS[:5]
GROUPS = {
    "Cluster": "cluster.x-k8s.io",
    "KubeadmControlPlane": "controlplane.cluster.x-k8s.io",
    "MachineDeployment": "cluster.x-k8s.io",
    "Machine": "cluster.x-k8s.io",
    "Metal3Machine": "infrastructure.cluster.x-k8s.io",
    "BareMetalHost": "metal3.io",
}
RETURNED_NOT_READY = 5
# Top-level keys written by other modules into the same JSON, kept when scale_results rewrites it.
ATTACHED_KEYS = ("prometheus", "profiles")
# The Markdown's last section, written by scale_report (links to the report and its plots), kept the same way.
REPORT_MARK = "<!-- scalelab.capi.scale_report: the report and its plots -->"
# Set by gather (and taken out by run) when a cluster of the run carries a phase's mark (cluster_phase) - for a
# phase's own results, a later phase's mark: what was measured before it changed the clusters stands.
PHASED = "_phased"


def with_section(text: str, old: str | None, mark: str = REPORT_MARK) -> str:
    """`text` ending with the section of `old` that starts at `mark` (none when old has none), one blank line
    before it, as scale_report writes it."""
    return text.rstrip("\n") + "\n\n" + old[old.index(mark) :] if old and mark in old else text


def without_section(old: str, mark: str = REPORT_MARK) -> str:
    return old[: old.index(mark)] if mark in old else old


class ResultsError(ScalelabError):
    """Bad input or an unusable path; the message names the option."""


def owner_cluster(obj: dict) -> tuple[str, str]:
    """(namespace, cluster name) an object belongs to: the cluster-name label, spec.clusterName, or its owner.

    Objects a ClusterClass creates do not carry the set label, so they are matched to the selected Clusters;
    a KubeadmControlPlane from a plain template may lack the label but is owned by its Cluster.
    """
    md = obj.get("metadata") or {}
    name = (md.get("labels") or {}).get(CLUSTER_NAME_LABEL) or (obj.get("spec") or {}).get("clusterName")
    if not name:
        owner = next((o for o in md.get("ownerReferences") or [] if o.get("kind") == "Cluster"), {})
        name = owner.get("name", "")
    return md.get("namespace", ""), name or ""


def _items(client: KubeClient, api_version: str | None, kind: str, selector: str, page_size: int):
    """Every object of a kind in every namespace, page by page; nothing when the API does not serve it."""
    if api_version is None:
        return
    try:
        path = client.path(api_version, kind)
    except KubeError as e:
        if e.status == 404:  # group served without this kind: an empty result, like an unserved group
            return
        raise
    for page in client.list_pages(path, label_selector=selector, limit=page_size):
        for item in page:
            item.setdefault("apiVersion", api_version)  # lists of built-in types omit it; readiness needs it
            yield item


def _earlier(item: dict, since: str, counts: dict, kind: str) -> bool:
    """Whether the object predates the run (created before `since`): counted in `earlier`, not timed."""
    if since and (item.get("metadata") or {}).get("creationTimestamp", since) < since:
        counts[kind] = counts.get(kind, 0) + 1
        return True
    return False


def gather(client: KubeClient, params: dict, since: str = "") -> dict:
    """The report document: one list per kind, Clusters first (their names select the other kinds). With `since`
    (a creationTimestamp), Clusters and hosts created before it belong to earlier runs: counted, not timed."""
    if params["page_size"] < 1:
        raise ResultsError(f"page_size={params['page_size']} must be >= 1")
    phase_opts = params.get("phase")
    # A phase after creation is timed on the Clusters and the Machines it replaced (results/phase.py).
    kinds = ["Cluster", "Machine"] if phase_opts else list(dict.fromkeys(params["kinds"]))
    unknown = [k for k in kinds if k not in GROUPS]
    if unknown:
        raise ResultsError(f"kinds={unknown} must be among {', '.join(KINDS)}")
    selector = params["label_selector"]
    with_clusters = any(k in CLUSTER_KINDS for k in kinds)
    served: dict[str, str | None] = {}
    for kind in ({"Cluster"} if with_clusters else set()) | set(kinds):
        group = GROUPS[kind]
        if group not in served:
            versions = client.served_versions(group)
            served[group] = f"{group}/{versions[0]}" if versions else None
    results = {}
    earlier: dict[str, int] = {}
    cluster_result = None
    breakdown = stages.Stages()
    phased = False
    if phase_opts:
        results, phased = _phase(client, served[GROUPS["Cluster"]], selector, params["page_size"], phase_opts)
        kinds, cluster_result = [], results["Cluster"]
    elif with_clusters:
        clusters = Accumulator("Cluster")
        names: set[tuple[str, str]] = set()
        # Clusters are read whenever a Cluster API kind is: they select the objects of the other kinds.
        for item in _items(client, served[GROUPS["Cluster"]], "Cluster", selector, params["page_size"]):
            if _earlier(item, since, earlier, "Cluster"):
                continue
            phased = phased or bool(phase_marks(item))
            record = clusters.add(item)
            breakdown.cluster(record)
            names.add((record.namespace, record.name))
        cluster_result = clusters.result()
    for kind in kinds:
        if kind == "Cluster":
            results[kind] = cluster_result
            continue
        # Hosts carry a set label themselves (their own set's, in the metal3 scenario); other kinds are the Clusters'.
        hosts = kind == "BareMetalHost"
        acc = HostAccumulator() if hosts else Accumulator(kind)
        kind_selector = (params.get("host_label_selector") or selector) if hosts else ""
        for item in _items(client, served[GROUPS[kind]], kind, kind_selector, params["page_size"]):
            if hosts and _earlier(item, since, earlier, kind):
                continue
            owner = None if hosts else owner_cluster(item)
            if hosts or not selector or owner in names:
                record = acc.add(item)
                if owner is not None:
                    breakdown.owned(kind, owner, record)
        results[kind] = acc.result()
    if cluster_result is not None and not phase_opts:
        cluster_result["stages"] = breakdown.result()
    doc = {
        "schema": SCHEMA,
        "run": dict(params["metadata"] or {}),
        "api_version": {kind: served[GROUPS[kind]] for kind in results},
        "kinds": results,
        "summary": summary(cluster_result, results.get("BareMetalHost")),
    }
    if phase_opts:
        doc["phase"] = {k: v for k, v in phase_opts.items() if v is not None and k != "deleted"}
    if earlier:
        doc["earlier"] = earlier
    if phased:
        doc[PHASED] = True
    return doc


def later_phase(clusters: list[dict], name: str) -> bool:
    """Whether another phase touched a Cluster after phase `name` did (its results are final then)."""
    for c in clusters:
        marks = phase_marks(c)
        own = marks.pop(name, None)
        if own is not None and any(t is not None and t > own for t in marks.values()):
            return True
    return False


def _phase(
    client: KubeClient, api_version: str | None, selector: str, page_size: int, phase_opts: dict
) -> tuple[dict, bool]:
    """A phase's results: the selected Clusters and their Machines, timed from the phase's mark (a delete's: what
    cluster_bulk saw, the objects being gone); and whether a later phase touched them since."""
    if phase_opts.get("name") == "delete":
        clusters: list[dict] = []  # gone: phase_opts.deleted says how each went
    else:
        clusters = list(_items(client, api_version, "Cluster", selector, page_size))
    machines_of: dict[tuple[str, str], list[dict]] = {}
    names = {(c["metadata"].get("namespace", ""), c["metadata"]["name"]) for c in clusters}
    for m in _items(client, api_version, "Machine", "", page_size) if clusters else ():
        owner = owner_cluster(m)
        if owner in names:
            machines_of.setdefault(owner, []).append(m)
    # A template set's shape is in its control planes and pools (read with the Clusters' selector).
    shapes = read_shapes(client, api_version, selector, clusters, limit=page_size)[0] if clusters else None
    try:
        return phase.timed(clusters, machines_of, phase_opts, shapes), later_phase(clusters, phase_opts["name"])
    except ValueError as e:
        raise ResultsError(str(e)) from e


def summary(cluster_result: dict | None, host_result: dict | None = None) -> dict:
    out: dict = {}
    if cluster_result is not None:
        ttr = cluster_result["time_to_ready"]
        out = {"clusters": cluster_result["count"], "clusters_ready": cluster_result["ready"]}
        for q in ("p50", "p90", "p99", "max"):
            out[f"cluster_{q}_seconds"] = ttr[q]
        out["drift_pct"] = cluster_result["drift"]["drift_pct"]
    if host_result is not None:
        out.update(hosts=host_result["count"], hosts_available=host_result["available"])
        out["hosts_provisioned"] = host_result["provisioned"]
        for q in ("p50", "p90", "p99", "max"):
            out[f"host_available_{q}_seconds"] = host_result["time_to_available"][q]
        for q in ("p50", "p99"):
            out[f"host_provision_{q}_seconds"] = host_result["provision"][q]
        out["host_drift_pct"] = host_result["drift"]["drift_pct"]
    return out


def returned(doc: dict) -> dict:
    """The document for the module's return value: per-object lists cut to a few."""
    cut = {}
    for kind, r in doc["kinds"].items():
        field = "stuck_objects" if kind == "BareMetalHost" else "not_ready_objects"
        # Per-object series are for plots: the file has them, the return value does not.
        cut[kind] = {**{k: v for k, v in r.items() if k != "series"}, field: r[field][:RETURNED_NOT_READY]}
    # Attached sections (a Prometheus snapshot holds thousands of points) stay in the file.
    return {**{k: v for k, v in doc.items() if k not in ATTACHED_KEYS}, "kinds": cut}


def dumps(doc: dict) -> str:
    return json.dumps(doc, sort_keys=True, indent=2, default=str) + "\n"


def _num(v, suffix: str = "") -> str:
    return "-" if v is None else f"{v:.1f}{suffix}"


def _cell(v) -> str:
    # A table cell: one line, pipes escaped.
    return str(v if v is not None else "").replace("|", "\\|").replace("\n", " ").strip() or "-"


def table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _dummy in header) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _drift(d: dict) -> str:
    if d["drift_pct"] is None:
        return "-" if d["first_mean"] is None else f"{d['first_mean']:.1f} s -> {d['last_mean']:.1f} s"
    return f"{d['drift_pct']:+.1f}% ({d['first_mean']:.1f} s -> {d['last_mean']:.1f} s, {d['window']} each)"


def _pct(v) -> str:
    return "-" if v is None else f"{v:+.1f}%"


def _quantiles(d: dict, key: str = "{}", qs: tuple[str, ...] = ("p50", "p90", "p99", "max")) -> list[str]:
    """The P50/P90/P99/max cells (or those of qs) of a stats summary; key names them ("cluster_{}_seconds")."""
    return [_num(d[key.format(q)]) for q in qs]


def _title(what: str, shown: int, total: int) -> str:
    """The title of a list cut to its first objects."""
    return f"{what} ({shown} of {total})" if shown < total else what


def _host_section(r: dict) -> list[str]:
    out = ["Hosts per state: " + (", ".join(f"{k} {v}" for k, v in r["states"].items()) or "none"), ""]
    rows = [
        [label, t["count"], *_quantiles(t), _drift(d)]
        for label, t, d in (
            ("creation -> available", r["time_to_available"], r["drift"]),
            ("provisioning", r["provision"], r["provision_drift"]),
        )
    ]
    rows += [[f"operation {op}", t["count"], *_quantiles(t), "-"] for op, t in r["phases"].items()]
    out += table(["seconds", "hosts", "P50", "P90", "P99", "max", "drift first 10% vs last 10%"], rows)
    if r.get("first_created"):
        out += ["", f"First created {r['first_created']}, last available {r['last_available'] or '-'}."]
    if r["stuck_objects"]:
        out += ["", f"{_title('Not settled or in error', len(r['stuck_objects']), r['stuck'])}:", ""]
        out += table(
            ["host", "state", "error type", "message"],
            [[f"{o['namespace']}/{o['name']}", o["state"], o["error_type"], o["message"]] for o in r["stuck_objects"]],
        )
    return out


def _stages_section(b: dict) -> list[str]:
    """Where the ready clusters' time went: each stage's interval, first vs last 10% created, and what grew."""
    first, last, growth = b["first"], b["last"], b["growth_seconds"]
    rows = [
        [
            stages.LABELS[n],
            *_quantiles(b["interval"][n], qs=("p50", "p99")),
            _num(first[n]),
            _num(last[n]),
            _signed(growth[n]),
        ]
        for n in b["stages"]
    ]
    total = sum(growth.values())
    rows.append(["total", "", "", _num(sum(first.values())), _num(sum(last.values())), _signed(total)])
    out = ["", f"Where the time goes ({b['clusters']} ready clusters; seconds from the milestone before):", ""]
    out += table(["stage", "P50", "P99", f"first {b['window']}", f"last {b['window']}", "growth"], rows)
    if b["grew_most"]:
        n = b["grew_most"]
        out += ["", f"Grew most: **{stages.LABELS[n]}**, {_signed(growth[n])} s of the total's {_signed(total)} s."]
    return out


def _signed(v) -> str:
    return "-" if v is None else f"{v:+.1f}"


def markdown(doc: dict) -> str:
    """A readable report: run metadata, the headline, then per kind its numbers and what is not ready."""
    s = doc["summary"]
    ph = doc.get("phase") or {}
    out = [f"# Scale results: {phase_title(ph)}" if ph else "# Scale results", ""]
    if doc.get("run"):
        out += ["## Run", ""]
        for k, v in sorted(doc["run"].items()):
            if isinstance(v, dict) and v and all(isinstance(x, dict) for x in v.values()):
                # e.g. managers -> flags: one line each, as the command line reads
                out.append(f"- **{k}**:")
                for name, flags in sorted(v.items()):
                    out.append(f"  - {name}: `" + " ".join(f"--{f}={flags[f]}" for f in sorted(flags)) + "`")
            elif isinstance(v, (dict, list)):
                out.append(f"- **{k}**: `{json.dumps(v, sort_keys=True, default=str)}`")
            else:
                out.append(f"- **{k}**: {v}")
        out.append("")
    if any((doc.get("earlier") or {}).values()):
        left = ", ".join(f"{n} {k}(s)" for k, n in sorted(doc["earlier"].items()))
        out += [
            f"Created before this run began ({doc['run'].get('started')}), so counted out of its timings: {left}.",
            "",
        ]
    out += ["## Summary", ""]
    if "clusters" in s:
        out += table(
            ["clusters", "ready", "P50 s", "P90 s", "P99 s", "max s", "drift"],
            [[s["clusters"], s["clusters_ready"], *_quantiles(s, "cluster_{}_seconds"), _pct(s["drift_pct"])]],
        )
        out += [
            "",
            f"Seconds {phase_measures(ph)}; drift compares the mean of the first and the last 10% touched."
            if ph
            else "Seconds from creation to ready; drift compares the mean of the first and the last 10% created.",
        ]
    if "hosts" in s:
        row = [s["hosts"], s["hosts_available"], s["hosts_provisioned"]]
        row += [*_quantiles(s, "host_available_{}_seconds", ("p50", "p99")), _pct(s["host_drift_pct"])]
        row += _quantiles(s, "host_provision_{}_seconds", ("p50", "p99"))
        head = ["hosts", "available", "provisioned", "to available P50 s", "P99 s", "drift", "provision P50 s", "P99 s"]
        out += table(head, [row])
        out += ["", "Hosts: seconds from creation to the end of inspection; provisioning from its start to its end."]
    # In the kinds' own order, whether the document was just gathered or read back (JSON keys sorted).
    for kind, r in sorted(doc["kinds"].items(), key=lambda kv: (KINDS.index(kv[0]) if kv[0] in KINDS else 99, kv[0])):
        out += ["", f"## {kind}", "", f"API: {doc.get('api_version', {}).get(kind) or 'not served'}", ""]
        if kind == "BareMetalHost":
            out += _host_section(r)
            continue
        out += table(
            ["count", "ready", "not ready", "P50 s", "P90 s", "P99 s", "max s", "drift first 10% vs last 10%"],
            [[r["count"], r["ready"], r["not_ready"], *_quantiles(r["time_to_ready"]), _drift(r["drift"])]],
        )
        if r.get("first_created"):
            out += ["", f"First created {r['first_created']}, last ready {r['last_ready'] or '-'}."]
        if r.get("conditions"):
            out += ["", "Conditions True, seconds after creation:", ""]
            out += table(
                ["condition", "count", "P50", "P90", "max"],
                [
                    [c, v["count"], *_quantiles(v, qs=("p50", "p90", "max"))]
                    for c, v in sorted(r["conditions"].items(), key=lambda kv: (kv[1]["p50"] or 0, kv[0]))
                ],
            )
        if (r.get("stages") or {}).get("clusters"):
            out += _stages_section(r["stages"])
        if r["not_ready_objects"]:
            out += ["", f"{_title('Not ready', len(r['not_ready_objects']), r['not_ready'])}:", ""]
            out += table(
                ["object", "condition", "reason", "message"],
                [
                    [f"{o['namespace']}/{o['name']}", *(o["condition"].get(k) for k in ("type", "reason", "message"))]
                    for o in r["not_ready_objects"]
                ],
            )
    return "\n".join(out) + "\n"


def _same(old: str, new: str) -> bool:
    if old == new:
        return True
    try:  # a reformatted but equal JSON file is not rewritten
        return json.loads(old) == json.loads(new)
    except ValueError:
        return False


def read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        return None


def _unchanged(path: str, data: str | bytes) -> bool:
    try:
        if isinstance(data, bytes):
            with open(path, "rb") as f:
                return f.read() == data
        old = read_text(path)
    except FileNotFoundError:
        return False
    return old is not None and _same(old, data)


def write_if_changed(path: str, data: str | bytes, check_mode: bool = False) -> bool:
    """Write text (or bytes: a plot) unless the file holds it (or equal JSON), atomically, mode 0644; True if it
    changed (would)."""
    if _unchanged(path, data):
        return False
    if check_mode:
        return True
    # the results directory comes with its first file (a task of its own cost every converge ~0.6 s)
    os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o755, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=f".{os.path.basename(path)}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode("utf-8"))
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; reports are for everyone
        os.replace(tmp, path)  # readers never see a half-written report
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return True


def load(path: str, option: str = "", required: bool = True) -> dict:
    """The one reader of a results document. required: an unreadable or non-object file is a ResultsError naming
    the option; otherwise it reads as empty (a first run, before anything was written)."""
    try:
        doc = json.loads(read_text(path) or ("" if required else "{}"))
    except (OSError, ValueError) as e:
        if not required:
            return {}
        raise ResultsError(f"{option}={path}: cannot read a results JSON: {e}") from e
    if isinstance(doc, dict):
        return doc
    if not required:
        return {}
    raise ResultsError(f"{option}={path}: not a results JSON (a {type(doc).__name__})")


def part(path: str, key: str):
    """One part of a results document (None when the file or the part is missing)."""
    return load(path, required=False).get(key)


def attach(path: str, key: str, value, check_mode: bool = False) -> bool:
    """Set one part of a results document (created when missing), keeping the others; True if it changed."""
    doc = load(path, required=False)
    doc[key] = value
    return write_if_changed(path, dumps(doc), check_mode)


def window(doc: dict) -> tuple[str, str]:
    """The run's window: its first write (run.started, when the bulk modules said when) or else the first creation,
    to the last ready (or available) time; empty strings when the run has no such times."""
    kinds = [k for k in (doc.get("kinds") or {}).values() if isinstance(k, dict)]
    starts = [k["first_created"] for k in kinds if k.get("first_created")]
    ends = [k[f] for k in kinds for f in ("last_ready", "last_available") if k.get(f)]
    started = (doc.get("run") or {}).get("started") if isinstance(doc.get("run"), dict) else ""
    start, end = started or (min(starts) if starts else ""), max(ends) if ends else ""
    # Kubernetes keeps whole seconds: a run done in its first write's second reads as ending before it started; it
    # ended by the next whole second.
    first, last = parse_time(start), parse_time(end)
    if first is not None and last is not None and last < first:
        end = format_time(math.ceil(first))
    return start, end


def run(params: dict, check_mode: bool) -> tuple[bool, dict, dict]:
    """Gather, then write the JSON and the Markdown if they differ (with runs_dir: in the run's directory, and the
    run's line in the index): (changed, result, diff)."""
    started = params.get("run_started") or ""
    run_ = None
    if params.get("runs_dir"):
        run_ = runs.open_run(params["runs_dir"], started)
        name = os.path.basename(os.path.normpath(params["runs_dir"]))
        params = {**params, "path": os.path.join(run_.dir, f"{name}.json")}
        params["markdown_path"] = os.path.join(run_.dir, f"{name}.md")
        started = run_.started
    since = runs.since(started)  # a malformed run_started is refused before the cluster is read
    t0 = time.monotonic()
    with KubeClient(params["kubeconfig"], params["context"]) as client:
        try:
            doc = gather(client, params, since)
        except KubeError as e:
            raise ResultsError(f"kubeconfig={params['kubeconfig']}: {e}") from e
        except OSError as e:  # requests' connection errors are OSErrors
            raise ResultsError(f"kubeconfig={params['kubeconfig']}: cannot reach {client.server}: {e}") from e
    seconds = round(time.monotonic() - t0, 3)
    # Sections other modules attach (prometheus_snapshot, profile_top) survive a re-gather.
    old = load(params["path"], required=False)
    phased = doc.pop(PHASED, False)
    if (phased and old.get("kinds")) or measured_whole(old):
        # What the run measured is final once a phase after it changed its clusters (Machines replaced) or once it
        # found every object ready: a re-gather would time what happened since (a condition flapping as an API
        # server or a manager restarts), not the run. A run gathered before all were ready is completed by a re-run.
        doc = old
    for key in ATTACHED_KEYS:
        if key in old:
            doc[key] = old[key]
    doc["run"]["started"] = started
    doc["run"]["started"], doc["run"]["ended"] = window(doc)
    if run_ is not None:
        run_.started = doc["run"]["started"]
        # The machine and the code as the run's first gather found them: a re-gather keeps them (load changes by
        # the minute; a commit made since did not make this run).
        first = old.get("run") or {}
        doc["run"].update(id=run_.id, machine=first.get("machine") or runs.machine())
        if first.get("collection"):
            doc["run"]["collection"] = first["collection"]
    diff = {"before": old.get("summary", {}), "after": doc["summary"]}
    text = with_section(markdown(doc), read_text(params["markdown_path"]) if params.get("markdown_path") else None)
    changed, result = write_report(params, doc, text, check_mode)
    if run_ is not None:
        changed |= _record_run(params["runs_dir"], run_, doc, os.path.basename(params["path"]), check_mode)
        result["run"] = run_.returned()
    result.update(seconds=seconds, window=dict(zip(("start", "end"), window(doc), strict=True)))
    return changed, result, diff


def measured_whole(doc: dict) -> bool:
    """Whether a results document found every object it times ready (Cluster API kinds; hosts' documents, whose
    end depends on the scenario, are always gathered again)."""
    kinds = (doc.get("kinds") or {}).values()
    return (
        sum(r.get("count", 0) for r in kinds) > 0
        and all("not_ready" in r for r in kinds)
        and not any(r["not_ready"] for r in kinds)
    )


def _record_run(runs_dir: str, run_: runs.Run, doc: dict, file_name: str, check_mode: bool) -> bool:
    """The run's line in the index and the `latest` link (the newest run's, which this one is unless an older run
    was gathered again); True if either changed."""
    text = runs.record(runs_dir, runs.entry(run_, doc, file_name))
    try:
        changed = write_if_changed(os.path.join(runs_dir, runs.INDEX), text, check_mode)
        newest = json.loads(text.splitlines()[-1])["id"]
        return runs.link_latest(runs_dir, newest, check_mode) or changed
    except OSError as e:
        raise ResultsError(f"runs_dir={runs_dir}: cannot write the run index or link: {e}") from e


def write_report(params: dict, doc: dict, text: str, check_mode: bool, error: type = ResultsError) -> tuple[bool, dict]:
    """Write the JSON (option path) and the Markdown text (option markdown_path, when given) if they differ;
    (changed, the module's result). A file that cannot be written is an `error` naming its option."""
    changed = False
    for opt, data in (("path", dumps(doc)), ("markdown_path", text)):
        if not params.get(opt):
            continue
        try:
            changed |= write_if_changed(params[opt], data, check_mode)
        except OSError as e:
            raise error(f"{opt}={params[opt]}: cannot write it: {e}") from e
    return changed, {
        "report": returned(doc),
        "path": params["path"],
        "markdown_path": params.get("markdown_path") or "",
    }
