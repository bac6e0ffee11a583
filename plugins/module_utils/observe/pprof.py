# Copyright: scalelab contributors
# Apache-2.0
"""Top functions of the CPU and heap profiles captured during a run (roles/observability's profile collector).

`go tool pprof -top` does the work: it merges every CPU profile of a component taken within the window, and reads
the last heap profile. Its text output is parsed here into numbers (seconds, bytes, percentages).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess

from ansible_collections.scalelab.capi.plugins.module_utils.errors import ScalelabError

_FILE_RE = re.compile(r"^(cpu|heap)-(\d+)\.pb\.gz$")
_ROW_RE = re.compile(
    r"^\s*(?P<flat>[\d.]+)(?P<flat_unit>[a-zA-Z]*)\s+(?P<flat_pct>[\d.]+)%\s+(?P<sum_pct>[\d.]+)%\s+"
    r"(?P<cum>[\d.]+)(?P<cum_unit>[a-zA-Z]*)\s+(?P<cum_pct>[\d.]+)%\s+(?P<function>.+?)\s*$"
)
_TOTAL_RE = re.compile(r"of (?P<total>[\d.]+)(?P<unit>[a-zA-Z]*) total")
# pprof's units: time for CPU profiles, bytes for heap profiles.
UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "min": 60.0,
    "hrs": 3600.0,
    "B": 1,
    "kB": 1024,
    "MB": 1024**2,
    "GB": 1024**3,
    "TB": 1024**4,
    "": 1,
}


class ProfileError(ScalelabError):
    """Bad input or a failing pprof; the message names the option or the file."""


def to_number(value: str, unit: str) -> float:
    if unit not in UNITS:
        raise ProfileError(f"pprof printed an unknown unit {unit!r}")
    return round(float(value) * UNITS[unit], 6)


def parse_top(text: str) -> dict:
    """{total, rows: [{function, flat, flat_pct, cum, cum_pct}]} from `go tool pprof -top` output."""
    total = None
    rows = []
    for line in text.splitlines():
        m = _TOTAL_RE.search(line)
        if m and total is None:
            total = to_number(m["total"], m["unit"])
            continue
        m = _ROW_RE.match(line)
        if m:
            rows.append(
                {
                    "function": m["function"],
                    "flat": to_number(m["flat"], m["flat_unit"]),
                    "flat_pct": float(m["flat_pct"]),
                    "cum": to_number(m["cum"], m["cum_unit"]),
                    "cum_pct": float(m["cum_pct"]),
                }
            )
    return {"total": total, "rows": rows}


def captures(directory: str, start: float, end: float) -> dict:
    """{job: {cpu: [paths], heap: [paths]}} of the captures stamped within [start, end], oldest first."""
    out: dict = {}
    if not os.path.isdir(directory):
        return out
    for job in sorted(os.listdir(directory)):
        jdir = os.path.join(directory, job)
        if not os.path.isdir(jdir):
            continue
        found: dict = {"cpu": [], "heap": []}
        for name in sorted(os.listdir(jdir)):
            m = _FILE_RE.match(name)
            if m and start <= int(m[2]) <= end:
                found[m[1]].append(os.path.join(jdir, name))
        if found["cpu"] or found["heap"]:
            out[job] = found
    return out


def pprof_top(go: str, files: list[str], nodes: int, extra: list[str], timeout: float) -> dict:
    """`go tool pprof -top` of the files; nodes=0 prints every node."""
    cmd = [go, "tool", "pprof", "-top", f"-nodecount={nodes}", "-symbolize=none", *extra, *files]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ProfileError(f"go={go}: cannot run `go tool pprof`: {e}") from e
    if proc.returncode != 0:
        raise ProfileError(f"go tool pprof failed on {files[0]} (+{len(files) - 1}): {proc.stderr.strip()[-500:]}")
    return parse_top(proc.stdout)


def inputs_digest(found: dict, go: str, nodes: int, seconds: float) -> str:
    """What a summary depends on: the captures (path, size, mtime) and the options; equal digests, equal summaries."""
    files = []
    for job in sorted(found):
        for kind in ("cpu", "heap"):
            for path in found[job][kind]:
                st = os.stat(path)
                files.append([path, st.st_size, st.st_mtime_ns])
    return hashlib.sha256(json.dumps([files, go, nodes, seconds]).encode()).hexdigest()


def summarize(
    go: str,
    directory: str,
    start: float,
    end: float,
    nodes: int,
    seconds: float,
    timeout: float = 300,
    found: dict | None = None,
) -> dict:
    """Per job: CPU (merged profiles: profiled seconds, CPU seconds, cores while profiled, top by flat and by cum)
    and heap (the last capture: in-use bytes, top by flat). found: captures() of the window, when already listed."""
    out = {}
    for job, files in (captures(directory, start, end) if found is None else found).items():
        entry: dict = {"cpu": None, "heap": None}
        if files["cpu"]:
            # One pprof run over every node (merging the profiles is its cost), ranked both ways here.
            flat = pprof_top(go, files["cpu"], 0, [], timeout)
            by_cum = sorted(flat["rows"], key=lambda r: (-r["cum"], r["function"]))  # pprof -cum order
            profiled = len(files["cpu"]) * seconds
            entry["cpu"] = {
                "profiles": len(files["cpu"]),
                "profiled_seconds": profiled,
                "cpu_seconds": flat["total"],
                "cores": round(flat["total"] / profiled, 3) if flat["total"] is not None and profiled else None,
                "top_flat": flat["rows"][:nodes],
                "top_cum": by_cum[:nodes],
            }
        if files["heap"]:
            heap = pprof_top(go, files["heap"][-1:], nodes, ["-sample_index=inuse_space"], timeout)
            entry["heap"] = {
                "file": os.path.basename(files["heap"][-1]),
                "inuse_bytes": heap["total"],
                "top_flat": heap["rows"],
            }
        out[job] = entry
    return out
