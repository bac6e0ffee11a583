"""Idempotent converge time of playbooks/scale.yml on a running lab: runs it N times, prints the median wall time,
the number of tasks run and the slowest tasks (issue: a converge that changes nothing should take seconds).

    benchmarks/converge.py [--scenario clusters|metal3] [--runs 3] [--first] [-- extra ansible-playbook args]

--first converges once before measuring (a lab from nothing: not counted). Every measured run must report
changed=0, else the script says which tasks changed and exits 1: a converge that changes things is not idempotent
and its time means nothing here.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLAYBOOK = [os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), "playbooks/scale.yml"]


def _seconds(duration: dict) -> float:
    start, end = (datetime.fromisoformat(duration[k].replace("Z", "+00:00")) for k in ("start", "end"))
    return (end - start).total_seconds()


def run(args: list[str]) -> dict:
    """One ansible-playbook run with the JSON callback: wall time, tasks run, changed tasks, per-task seconds."""
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1")
    t0 = time.monotonic()
    out = subprocess.run(PLAYBOOK + args, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    wall = time.monotonic() - t0
    # progress lines of the wait modules may come before the document
    doc = json.loads(out.stdout[out.stdout.find("{") :])
    tasks, changed = [], []
    for play in doc["plays"]:
        for task in play["tasks"]:
            hosts = task["hosts"]
            ran = {h: r for h, r in hosts.items() if not r.get("skipped")}
            if not ran:
                continue
            name = f"{play['play']['name']} / {task['task']['name']}"
            tasks.append((_seconds(task["task"]["duration"]), name, len(ran)))
            changed += [f"{name} ({h})" for h, r in ran.items() if r.get("changed")]
    if out.returncode != 0:
        failed = [
            f"{t['task']['name']} ({h}): {r.get('msg', '')}"
            for play in doc["plays"]
            for t in play["tasks"]
            for h, r in t["hosts"].items()
            if r.get("failed") and not r.get("ignore_errors")
        ]
        sys.exit(f"ansible-playbook failed (rc={out.returncode}): {'; '.join(failed)[-3000:]} {out.stderr[-1000:]}")
    return {"wall": wall, "tasks": tasks, "changed": changed}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    p.add_argument("--scenario", default="clusters", choices=["clusters", "hosts", "metal3"])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--first", action="store_true", help="converge once first (not measured)")
    p.add_argument("--top", type=int, default=12, help="slowest tasks to list")
    p.add_argument("--save", help="write the median run's tasks (seconds, hosts, name) to this TSV file")
    p.add_argument("extra", nargs="*", help="more ansible-playbook arguments (after --)")
    a = p.parse_args()
    args = ["-e", f"scale_scenario={a.scenario}", *a.extra]
    if a.first:
        first = run(args)
        print(f"first converge: {first['wall']:.1f} s, {len(first['tasks'])} tasks, {len(first['changed'])} changed")
    runs = []
    for i in range(a.runs):
        r = run(args)
        print(f"run {i + 1}: {r['wall']:.1f} s, {len(r['tasks'])} tasks, changed={len(r['changed'])}", flush=True)
        if r["changed"]:
            sys.exit("not idempotent, changed: " + "; ".join(r["changed"]))
        runs.append(r)
    median = sorted(runs, key=lambda r: r["wall"])[len(runs) // 2]
    walls = [r["wall"] for r in runs]
    task_seconds = sum(t[0] for t in median["tasks"])
    print(
        f"\n{a.scenario}: median {statistics.median(walls):.1f} s of {a.runs} runs (min {min(walls):.1f}, max "
        f"{max(walls):.1f}); {len(median['tasks'])} tasks run; task time {task_seconds:.1f} s, "
        f"{median['wall'] - task_seconds:.1f} s outside tasks (start-up, includes, facts)"
    )
    if a.save:
        with open(a.save, "w") as f:
            f.writelines(f"{t[0]:.2f}\t{t[2]}\t{t[1]}\n" for t in median["tasks"])
    print("slowest tasks of the median run (seconds, hosts):")
    for seconds, name, hosts in sorted(median["tasks"], reverse=True)[: a.top]:
        print(f"  {seconds:6.2f}  {hosts}  {name}")


if __name__ == "__main__":
    main()
