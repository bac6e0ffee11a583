"""What the benchmark scripts share: run one of our modules ad hoc on localhost and return its result."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, ".venv", "bin")
LAB_KUBECONFIG = os.path.expanduser("~/.local/share/scalelab/scalelab/admin.kubeconfig")


def module(module_name: str, **args) -> dict:
    """scalelab.capi.<module_name> with args, as a playbook task would run it; exits with its message when it fails."""
    env = dict(os.environ, ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="json")
    cmd = [f"{BIN}/ansible", "localhost", "-m", f"scalelab.capi.{module_name}", "-a", json.dumps(args)]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, check=False)
    # cluster_wait's progress lines come before the JSON document.
    doc = out.stdout[out.stdout.find("\n{") + 1 :] if not out.stdout.startswith("{") else out.stdout
    res = json.loads(doc)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    if res.get("failed"):
        sys.exit(f"{module_name} failed: {res.get('msg')}")
    return res


def rawcreate(kubeconfig: str, *args: str) -> dict:
    """Build benchmarks/rawcreate (its own go.mod) and run it; returns its JSON (created, failed, seconds)."""
    binary = os.path.expanduser("~/.cache/scalelab/bench/rawcreate")
    subprocess.run(["go", "build", "-mod=readonly", "-o", binary, "."], cwd=f"{ROOT}/benchmarks/rawcreate", check=True)
    out = subprocess.run([binary, "-kubeconfig", kubeconfig, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def timed_bash(script: str) -> float:
    """Seconds one bash script takes (the shell workflows the benchmarks compare with)."""
    t0 = time.monotonic()
    subprocess.run(["bash", "-c", script], check=True)
    return time.monotonic() - t0
