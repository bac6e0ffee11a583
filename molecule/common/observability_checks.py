"""Verify checks of the observability stack shared by the Molecule scenarios (testinfra `host`, a lab name)."""

from __future__ import annotations

import json
import os
import sys

PROGRAMS = ["prometheus", "kube-state-metrics", "node-exporter", "profile-collector"]

_GET = """
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=10) as r:
    print(r.read().decode())
"""

# Every listening socket with its owner's pid, from ss (iproute2).
_LISTENERS = "ss -ltnpH"


def get_json(host, url):
    res = host.run("python3 -c %s %s", _GET, url)
    assert res.rc == 0, res.stderr
    return json.loads(res.stdout)


def lab_pids(host, lab_dir) -> dict[int, str]:
    """pid -> program of every program of the lab's supervisord."""
    ctl = f"{lab_dir}/venv/bin/supervisorctl -c {lab_dir}/supervisor/supervisord.conf"
    out = host.run(f"{ctl} status").stdout
    pids = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) > 3 and parts[1] == "RUNNING" and parts[2] == "pid":
            pids[int(parts[3].rstrip(","))] = parts[0]
    return pids


def non_loopback_listeners(host, lab_dir) -> list[tuple[str, str]]:
    """(program, address) of every listener of the lab's programs that is not on a loopback address."""
    pids = lab_pids(host, lab_dir)
    out = []
    for line in host.run(_LISTENERS).stdout.splitlines():
        cols = line.split()
        local, users = cols[3], " ".join(cols[5:])
        for pid, program in pids.items():
            if f"pid={pid}," in users and not (local.startswith("127.") or local.startswith("[::1]")):
                out.append((program, local))
    return sorted(set(out))


def check_stack(host, lab_dir, base, results_json):
    """Programs running, every scrape target up, the run's snapshot and profile tops in the results."""
    status = host.run(f"{lab_dir}/venv/bin/supervisorctl -c {lab_dir}/supervisor/supervisord.conf status").stdout
    for program in PROGRAMS:
        assert any(line.startswith(program + " ") and "RUNNING" in line for line in status.splitlines()), status
    targets = get_json(host, f"http://127.0.0.1:{base}/api/v1/targets?state=active")["data"]["activeTargets"]
    assert targets and all(t["health"] == "up" for t in targets), [
        (t["labels"]["job"], t["lastError"]) for t in targets
    ]
    doc = json.loads(host.file(results_json).content_string)
    managers = doc["prometheus"]["summary"]["managers"]
    assert managers["capi-core"]["cpu_cores_max"] > 0 and managers["capi-core"]["rss_mib_max"] > 10
    assert doc["prometheus"]["queries"]["reconcile_p99_seconds"]["series"]
    assert doc["prometheus"]["summary"]["targets_down"] == []
    # The host itself (node_exporter): the report says whether the run saturated the machine.
    peaks = doc["prometheus"]["summary"]
    assert 0 < peaks["node_cpu_busy_ratio_max"] <= 1 and 0 < peaks["node_memory_used_ratio_max"] < 1, peaks
    assert peaks["node_load_per_core_max"] > 0, peaks
    tops = doc["profiles"]["jobs"]
    assert tops["kube-apiserver"]["cpu"]["top_flat"] and tops["capi-core"]["heap"]["inuse_bytes"] > 0
    assert host.file(f"{lab_dir}/observability/pki/monitoring.key").mode == 0o600
    assert host.file(f"{lab_dir}/observability").mode == 0o700


def no_private_key_in_written_files(lab_dir: str) -> None:
    """Logs, results, reports, configuration and Prometheus' data hold none of the lab's private keys (the scan of
    tests/integration/lab.py, run on the lab Molecule made; the Molecule host is this machine)."""
    root = os.path.join(os.path.dirname(__file__), "..", "..")
    sys.path.insert(0, os.path.abspath(root))
    from tests.integration.lab import files_leaking, key_material, written_files

    material = key_material(lab_dir)
    assert len(material) >= 8 and len(written_files(lab_dir)) > 10, (sorted(material), lab_dir)
    assert files_leaking(lab_dir, material) == {}
