# Copyright: scalelab contributors
# Apache-2.0
"""Runs of a set, each kept: <runs_dir>/<run id>/<set>.json (and .md, the report), a `latest` link to the newest and
an index, <runs_dir>/runs.jsonl, one JSON line per run (id, window, summary, machine, collection).

A run is what one invocation of a scenario wrote: the bulk modules return when their first write began
(first_write), and scale_results opens a new run for a start it has not seen. Without a start (a re-run that wrote
nothing) it refreshes the newest run, so a re-run over a settled lab changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from dataclasses import dataclass
from datetime import UTC, datetime

from ansible_collections.scalelab.capi.plugins.module_utils.errors import ScalelabError

INDEX = "runs.jsonl"
LATEST = "latest"
PREVIOUS = "previous"


class RunsError(ScalelabError):
    pass


@dataclass
class Run:
    id: str
    dir: str
    started: str  # the run's first write; empty when unknown (then its window starts at its first object)
    new: bool

    def returned(self) -> dict:
        return {"id": self.id, "dir": self.dir, "started": self.started, "new": self.new}


def parse_time(value: str, option: str) -> datetime:
    """An RFC 3339 time (what the bulk modules return, or a creationTimestamp); a ResultsError-like one-liner."""
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        t = None
    if t is None or t.tzinfo is None:
        raise RunsError(f"{option}={value}: not an RFC 3339 time with a zone, like 2026-12-05T17:02:11.482113Z")
    return t.astimezone(UTC)


def since(started: str) -> str:
    """The start as a creationTimestamp compares with it: whole seconds (the API server truncates)."""
    return parse_time(started, "run_started").strftime("%Y-%m-%dT%H:%M:%SZ") if started else ""


def run_id(started: str) -> str:
    """A sortable ID from the run's start: the same start always names the same run (a re-gather refreshes it)."""
    t = parse_time(started, "run_started") if started else datetime.now(UTC)
    stamp = t.strftime("%Y%m%dT%H%M%S.%fZ")
    return f"{t.strftime('%Y%m%dT%H%M%SZ')}-{hashlib.sha256(stamp.encode()).hexdigest()[:4]}"


def index(runs_dir: str) -> list[dict]:
    """The runs of a set, oldest first; empty when none was kept yet."""
    path = os.path.join(runs_dir, INDEX)
    try:
        with open(path, encoding="utf-8") as f:
            lines = [line for line in f if line.strip()]
    except FileNotFoundError:
        return []
    except OSError as e:
        raise RunsError(f"runs_dir={runs_dir}: cannot read {INDEX}: {e}") from e
    try:
        return [json.loads(line) for line in lines]
    except ValueError as e:
        raise RunsError(f"runs_dir={runs_dir}: {INDEX} is not JSON lines: {e}") from e


def open_run(runs_dir: str, started: str) -> Run:
    """The run results go to: the newest one when `started` is empty or its own, else a new one."""
    since(started)  # refused before anything is written
    runs = index(runs_dir)
    newest = runs[-1] if runs else None
    if newest and (not started or started == newest.get("started")):
        return Run(newest["id"], os.path.join(runs_dir, newest["id"]), newest.get("started", ""), False)
    known = next((r for r in runs if started and r.get("started") == started), None)
    if known:  # an older run gathered again (its start given explicitly)
        return Run(known["id"], os.path.join(runs_dir, known["id"]), started, False)
    rid = run_id(started)
    return Run(rid, os.path.join(runs_dir, rid), started, True)


def machine() -> dict:
    """The management host as the run found it: cores, memory, load averages (kept from the run's first gather)."""
    mem = 0
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    return {"hostname": platform.node(), "cores": os.cpu_count() or 0, "memory_bytes": mem, "load": load}


def entry(run: Run, doc: dict, file_name: str) -> dict:
    """The run's line in the index: enough to pick a baseline or plot a trend without opening each run."""
    meta = doc.get("run") or {}
    return {
        "id": run.id,
        "set": meta.get("set", ""),
        "started": meta.get("started", ""),
        "ended": meta.get("ended", ""),
        "path": f"{run.id}/{file_name}",
        "summary": doc.get("summary") or {},
        "machine": meta.get("machine") or {},
        "collection": meta.get("collection") or {},
    }


def record(runs_dir: str, line: dict) -> str:
    """The index text with the run's line added or replaced, oldest first (by start, then ID)."""
    runs = [r for r in index(runs_dir) if r.get("id") != line["id"]] + [line]
    runs.sort(key=lambda r: (r.get("started") or "", r.get("id") or ""))
    return "".join(json.dumps(r, sort_keys=True) + "\n" for r in runs)


def link_latest(runs_dir: str, rid: str, check_mode: bool) -> bool:
    """Point <runs_dir>/latest at the run (relative, replaced atomically); True if it changed."""
    path = os.path.join(runs_dir, LATEST)
    if os.path.islink(path) and os.readlink(path) == rid:
        return False
    if check_mode:
        return True
    tmp = f"{path}.{os.getpid()}"
    os.symlink(rid, tmp)
    os.replace(tmp, path)
    return True


def previous(results_path: str) -> str:
    """The same document (creation's, or a phase's such as upgrade-v1.35.5.json) of the latest run before the one at
    results_path (<runs_dir>/<id>/<file>) that has it, from the index; empty when there is none or results_path is
    not a kept run at all."""
    run_dir = os.path.dirname(os.path.abspath(results_path))
    # the run's id through `latest` too (a link to a run directory beside it)
    runs_dir, rid = os.path.dirname(run_dir), os.path.basename(os.path.realpath(run_dir))
    ids = [r.get("id") for r in index(runs_dir)]
    if rid not in ids:
        return ""
    name = os.path.basename(results_path)
    for earlier in reversed(ids[: ids.index(rid)]):
        path = os.path.join(runs_dir, earlier, name)
        if os.path.isfile(path):
            return path
    return ""


def baseline(results_path: str, value: str | None) -> str:
    """A baseline option's path: the word `previous` is the run before results_path's in its set's index (empty
    when there is none); anything else is a path as given."""
    return previous(results_path) if value == PREVIOUS else (value or "")
