"""Stage lab-teardown (after every test of the itest lab): teardown removes clusters, the Cluster API stack and
the management cluster, and keeps the runs' results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from .lab import listeners_of, listening_sockets, said

pytestmark = pytest.mark.stage("lab-teardown")


def test_teardown_leaves_no_process_port_or_directory(lab):
    # With its API server stopped (the quick start tears down a live lab): one probe, then the processes go.
    assert "stopped" in lab.supervisorctl("stop", "kube-apiserver").stdout
    started = time.monotonic()
    res = lab.playbook("teardown.yml")
    seconds = time.monotonic() - started
    assert res["rc"] == 0, res["stdout"][-3000:]
    assert "API is unreachable: [Errno 111] Connection refused" in res["stdout"], res["stdout"][-3000:]
    # Two retry budgets (2 x 120 s) before the fix; now a 10 s probe and the removal itself.
    assert seconds < 120, f"teardown took {seconds:.0f} s"
    print(f"TEARDOWN with the API stopped: {seconds:.1f} s")
    assert lab.processes() == []
    # The runs' results outlive the lab (management_cluster_keep): every run this session made is still listed.
    assert lab.left() == ["results"], lab.left()
    runs_dir = os.path.join(lab.dir, "results", lab.vars["scale_set_name"])
    with open(os.path.join(runs_dir, "runs.jsonl")) as f:
        runs = [json.loads(line) for line in f]
    assert runs and all(os.path.isfile(os.path.join(runs_dir, run["path"])) for run in runs), runs
    base = lab.vars["capi_stack_port_base"]
    ours = set(lab.ports.values()) | set(range(base, base + 40))
    addrs = [a for found in listening_sockets().values() for a in found]
    assert not [a for a in addrs if int(a.rsplit(":", 1)[1]) in ours], addrs
    assert not [a for a in addrs if a.endswith(":19000")], "in-memory workload servers still listening"
    again = lab.playbook("teardown.yml")
    assert again["rc"] == 0 and again["recap"]["changed"] == 0, said(again)
    assert "Nothing is left" in again["stdout"]


def test_teardown_audit_names_what_survived(lab):
    """A process of the lab that no role knows of (listening on a port) survives the teardown: the audit names it,
    its port and the directory it keeps, and the teardown fails."""
    os.makedirs(lab.dir, mode=0o700, exist_ok=True)  # the results of the test before are in it
    code = "import socket, time; s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); time.sleep(300)"
    stray = subprocess.Popen([sys.executable, "-c", code, f"{lab.dir}/stray"])
    try:
        deadline = time.monotonic() + 10
        while not listeners_of(stray.pid):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        port = listeners_of(stray.pid)[0]
        res = lab.playbook("teardown.yml")
        assert res["rc"] != 0
        out = res["stdout"]
        assert f"process {stray.pid}: " in out and f"listening: {port}" in out, out[-3000:]
    finally:
        stray.kill()
        stray.wait()
    res = lab.playbook("teardown.yml")
    assert res["rc"] == 0 and lab.left() == ["results"], res["stdout"][-3000:]


def test_teardown_with_nothing_kept_removes_the_whole_directory(lab):
    res = lab.playbook("teardown.yml", "-e", '{"management_cluster_keep": []}')
    assert res["rc"] == 0 and not os.path.exists(lab.dir), said(res)
