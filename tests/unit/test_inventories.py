"""Every lab inventory parses (ansible-inventory --graph), has the groups the playbooks target, reads the local
knobs and overrides only its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)

# inventory -> (management hosts, farm hosts, the variables that make it this lab)
LABS = {
    "local": (["localhost"], ["localhost"], {"management_cluster_backend": "host"}),
    "kind": (["localhost"], ["localhost"], {"management_cluster_backend": "kind"}),
    "openstack": (["localhost"], [], {"scale_openstack_vms": True, "scale_scenario": "metal3"}),
    "baremetal": (["localhost"], ["farm-1", "farm-2"], {"management_cluster_backend": "existing"}),
}


def _inventory(lab: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [os.path.join(BIN, "ansible-inventory"), "-i", os.path.join(ROOT, "inventories", lab), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


@pytest.mark.parametrize("lab", sorted(LABS))
def test_inventory_graph_and_groups(lab):
    graph = _inventory(lab, "--graph")
    assert graph.returncode == 0 and "@management:" in graph.stdout and "@farm:" in graph.stdout, graph.stderr
    assert "WARNING" not in graph.stderr, graph.stderr
    doc = json.loads(_inventory(lab, "--list").stdout)
    management, farm, own = LABS[lab]
    assert doc["management"]["hosts"] == management
    assert doc.get("farm", {}).get("hosts", []) == farm
    host = management[0]
    hostvars = doc["_meta"]["hostvars"][host]
    for k, v in own.items():
        assert hostvars.get(k) == v, (lab, k)
    # The knobs of inventories/local are read by every lab (one file, linked).
    assert hostvars["capi_stack_kube_api_qps"] == 100
