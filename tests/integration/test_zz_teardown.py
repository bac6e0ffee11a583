"""Runs last (file order): teardown removes clusters, the Cluster API stack and the management cluster."""

from __future__ import annotations

import os

from .lab import listening_sockets


def test_teardown_leaves_no_process_port_or_directory(lab):
    res = lab.playbook("teardown.yml")
    assert res["rc"] == 0, res["stdout"][-3000:]
    assert lab.processes() == []
    assert not os.path.exists(lab.dir)
    base = lab.vars["capi_stack_port_base"]
    ours = set(lab.ports.values()) | set(range(base, base + 40))
    addrs = [a for found in listening_sockets().values() for a in found]
    assert not [a for a in addrs if int(a.rsplit(":", 1)[1]) in ours], addrs
    assert not [a for a in addrs if a.endswith(":19000")], "in-memory workload servers still listening"
    again = lab.playbook("teardown.yml")
    assert again["rc"] == 0 and again["recap"]["changed"] == 0
