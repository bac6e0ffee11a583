"""Wall time of a first run's builds, one at a time against binaries_build_jobs (default 2): the binaries role builds
the given components of a stack into an empty binaries cache with each value of jobs, Go's own caches as they are
(warm on a machine that built them once: what a fresh scalelab directory meets). Prints each wall time and the ratio.

  .venv/bin/python benchmarks/go_builds.py [--stack capi-1.14] [--jobs 1 2] [--components kubectl capi-core ...]

The defaults are what the clusters scenario's Cluster API stack builds (capi_stack/tasks/host.yml). Run it on a
quiet machine: the builds take the cores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLAYBOOK = os.path.join(ROOT, ".venv", "bin", "ansible-playbook")
PLAY = """- hosts: localhost
  gather_facts: true
  gather_subset: [min]
  tasks:
    - ansible.builtin.include_role:
        name: scalelab.capi.binaries
"""


def build(tmp: str, stack: str, components: list[str], jobs: int, cache: str) -> float:
    """Seconds of one run of the role into the empty binaries cache tmp/cache."""
    play = os.path.join(tmp, "play.yml")
    with open(play, "w") as f:
        f.write(PLAY)
    extra = {
        "binaries_stack": stack,
        "binaries_components": components,
        "binaries_build_jobs": jobs,
        "binaries_cache_dir": os.path.join(tmp, cache),
    }
    started = time.monotonic()
    proc = subprocess.run(
        [PLAYBOOK, play, "-e", json.dumps(extra)], cwd=ROOT, capture_output=True, text=True, check=False
    )
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(f"jobs={jobs}: the build failed\n{proc.stdout[-3000:]}")
    return seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    p.add_argument("--stack", default="capi-1.14")
    p.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    p.add_argument(
        "--components",
        nargs="+",
        default=["kubectl", "cluster-api", "kubeadm-bootstrap", "kubeadm-control-plane", "capi-in-memory"],
    )
    a = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="go-builds-") as tmp:
        # Once untimed: Go's build cache holds every package after it, as on a machine that built the stack before.
        build(tmp, a.stack, a.components, 2, "warm-up")
        times = {}
        for jobs in a.jobs:
            times[jobs] = build(tmp, a.stack, a.components, jobs, f"jobs-{jobs}")
            print(f"jobs={jobs}: {times[jobs]:.1f} s for {len(a.components)} binaries of {a.stack}")
    first = times[a.jobs[0]]
    for jobs in a.jobs[1:]:
        print(f"jobs={jobs} / jobs={a.jobs[0]}: {times[jobs] / first:.2f}")


if __name__ == "__main__":
    main()
