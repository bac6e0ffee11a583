#!/usr/bin/python
# Copyright: scalelab contributors
# Apache-2.0
from __future__ import annotations

DOCUMENTATION = r"""
---
module: profile_top
short_description: Put the top CPU and heap functions of each component, profiled during a run, into its results JSON
version_added: 0.5.0
description:
  - Reads the profiles the C(scalelab.capi.observability) role's collector captured (O(dir)/<job>/cpu-<unix>.pb.gz
    and heap-<unix>.pb.gz) within the window O(start) to O(end).
  - Per component (job) it merges every CPU profile of the window with C(go tool pprof) and keeps the profiled and
    CPU seconds, the cores used while profiled and the O(nodes) top functions by own (flat) and by cumulative time;
    from the last heap profile, the in-use bytes and the top functions by in-use memory.
  - Writes them under O(key) of the JSON file O(path), keeping its other keys. The same captures give the same
    document, so a second run changes nothing. No capture in the window gives an empty mapping, not a failure.
author: scalelab contributors (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - scalelab.capi.attributes
  - scalelab.capi.window
attributes:
  check_mode:
    support: full
    details: Writes nothing and reports whether O(path) would change.
  diff_mode:
    support: none
options:
  dir:
    description: Directory of the captures (the fact C(observability_profiles_dir)).
    type: path
    required: true
  go:
    description: Go toolchain whose C(go tool pprof) reads the profiles (the fact C(binaries_go_path)).
    type: str
    default: go
  key:
    description: Top-level key of O(path) to write.
    type: str
    default: profiles
  lookback:
    description: Seconds before O(start) whose captures count too (a capture is stamped when it starts, so the
      collector's interval takes the one running when the window opened).
    type: float
    default: 0
  nodes:
    description: Functions kept per list.
    type: int
    default: 15
  seconds:
    description: Length of each CPU capture (the role's C(observability_profile_seconds)), to turn CPU seconds
      into cores.
    type: float
    default: 10
requirements: [go (its pprof tool)]
"""

EXAMPLES = r"""
- name: Top functions of every manager during the run
  scalelab.capi.profile_top:
    dir: "{{ observability_profiles_dir }}"
    go: "{{ binaries_go_path }}"
    path: ~/.local/share/scalelab/scalelab/results/scale.json  # the run's window is read from it
"""

RETURN = r"""
summary:
  description: Per job the cores used while profiled, the top flat and cumulative CPU function and the in-use heap
    bytes.
  type: dict
  returned: always
  sample:
    capi-control-plane: {cores: 0.62, top_flat: crypto/internal/fips140/bigmod.addMulVVW1024,
                         top_cum: sigs.k8s.io/cluster-api/util/certs.NewPrivateKey, heap_inuse_bytes: 31457280}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.scalelab.capi.plugins.module_utils import errors
from ansible_collections.scalelab.capi.plugins.module_utils.observe import pprof, prometheus
from ansible_collections.scalelab.capi.plugins.module_utils.results import document

ARGUMENT_SPEC = {
    **prometheus.WINDOW_ARGUMENT_SPEC,
    "dir": {"type": "path", "required": True},
    "go": {"type": "str", "default": "go"},
    "key": {"type": "str", "default": "profiles", "no_log": False},
    "lookback": {"type": "float", "default": 0},
    "nodes": {"type": "int", "default": 15},
    "seconds": {"type": "float", "default": 10},
}


def _first(rows: list) -> str | None:
    return rows[0]["function"] if rows else None


def short(tops: dict) -> dict:
    out = {}
    for job, e in tops.items():
        cpu, heap = e.get("cpu") or {}, e.get("heap") or {}
        out[job] = {
            "cores": cpu.get("cores"),
            "top_flat": _first(cpu.get("top_flat", [])),
            # The first cumulative rows are the runtime and the reconcile loop; the first of ours is the news.
            "top_cum": next(
                (r["function"] for r in cpu.get("top_cum", []) if not r["function"].startswith("runtime.")), None
            ),
            "heap_inuse_bytes": heap.get("inuse_bytes"),
        }
    return out


def run(p: dict, check_mode: bool) -> tuple[bool, dict]:
    try:
        start, end = prometheus.run_window(p)
    except errors.ScalelabError as e:
        raise pprof.ProfileError(str(e)) from e
    if end < start:
        raise pprof.ProfileError(f"end={p['end']} must not be before start={p['start']}")
    if p["nodes"] < 1 or p["seconds"] <= 0 or p["lookback"] < 0:
        raise pprof.ProfileError(
            f"nodes={p['nodes']} and seconds={p['seconds']} must be positive, lookback={p['lookback']} not negative"
        )
    found = pprof.captures(p["dir"], start - p["lookback"], end)
    inputs = pprof.inputs_digest(found, p["go"], p["nodes"], p["seconds"])
    window = {"start": start, "end": end}
    # The same captures and options give the same summary: a re-run reads it back instead of running pprof (~3 s).
    old = document.part(p["path"], p["key"])
    if isinstance(old, dict) and old.get("inputs") == inputs and old.get("window") == window and "jobs" in old:
        return False, {"summary": short(old["jobs"]), "path": p["path"]}
    tops = pprof.summarize(p["go"], p["dir"], start - p["lookback"], end, p["nodes"], p["seconds"], found=found)
    try:
        changed = document.attach(p["path"], p["key"], {"window": window, "jobs": tops, "inputs": inputs}, check_mode)
    except OSError as e:
        raise pprof.ProfileError(f"path={p['path']}: cannot write it: {e}") from e
    return changed, {"summary": short(tops), "path": p["path"]}


def main() -> None:
    errors.run_module(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True), run)


if __name__ == "__main__":
    main()
