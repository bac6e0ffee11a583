"""Testinfra verify of the metal3 scenario: the Metal3 managers and the API server farm as supervised processes,
the hosts they manage and the Metal3 clusters the farm serves."""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "common"))
from observability_checks import check_stack, get_json, no_private_key_in_written_files, non_loopback_listeners  # noqa: E402

# The lab to verify: molecule's metal3 scenario (molecule.yml), or the one SCALELAB_VERIFY names (JSON with these
# keys; tests/quickstart verifies the default inventory's lab with it).
LAB = {
    "name": "molecule-metal3",
    "api": "https://127.0.0.1:14443",
    "metal3_base": 14450,
    "capi_base": 14400,
    "farm_base": 14480,
    "farm_port_min": 14500,
    "observability_base": 14490,
    "namespace": "molecule-metal3",
    "set": "molecule-m3",
    "clusters": 2,
    "spare_hosts": 1,
} | json.loads(os.environ.get("SCALELAB_VERIFY", "{}"))
NAME, API, BASE, NS, SET, N = LAB["name"], LAB["api"], LAB["metal3_base"], LAB["namespace"], LAB["set"], LAB["clusters"]
FARM_PORTS = [LAB["farm_port_min"] + i for i in range(N)]
# BMO: +1 health, +2 metrics (webhooks off). CAPM3: +11 health, +12 metrics/diagnostics (+10 webhook: every address).
LOOPBACK_PORTS = {
    "metal3-baremetal-operator": [BASE + 1, BASE + 2],
    "metal3-capm3": [BASE + 11, BASE + 12],
    # The farm: metrics, health, and one fake API server per cluster.
    "apiserver-farm": [LAB["farm_base"], LAB["farm_base"] + 1, *FARM_PORTS],
}


def lab_dir(host):
    return f"{host.user().home}/.local/share/scalelab/{NAME}"


# Runs on the target with its own Python: stdlib urllib and ssl, client certificate auth.
_CLIENT = """
import json, ssl, sys, urllib.request
d, api, path = sys.argv[1:4]
ctx = ssl.create_default_context(cafile=d + "/pki/ca.crt")
ctx.load_cert_chain(d + "/pki/admin.crt", d + "/pki/admin.key")
with urllib.request.urlopen(api + path, context=ctx, timeout=10) as r:
    print(r.read().decode())
"""


def get(host, path):
    res = host.run("python3 -c %s %s %s %s", _CLIENT, lab_dir(host), API, path)
    assert res.rc == 0, res.stderr
    return json.loads(res.stdout)


def test_metal3_managers_run_and_listen_on_loopback(host):
    d = lab_dir(host)
    out = host.run(f"{d}/venv/bin/supervisorctl -c {d}/supervisor/supervisord.conf status").stdout
    sockets = host.socket.get_listening_sockets()
    for program, ports in LOOPBACK_PORTS.items():
        assert any(line.startswith(program) and "RUNNING" in line for line in out.splitlines()), out
        for port in ports:
            assert [s for s in sockets if s.endswith(f":{port}")] == [f"tcp://127.0.0.1:{port}"], port


def test_bmo_runs_in_test_mode(host):
    conf = host.file(f"{lab_dir(host)}/supervisor/conf.d/metal3-baremetal-operator.conf")
    assert conf.contains("--test-mode=true")
    assert host.file(f"{lab_dir(host)}/logs/metal3-baremetal-operator.log").exists


def test_hosts_are_provisioned_for_the_clusters_and_the_spares_available(host):
    items = get(host, f"/apis/metal3.io/v1alpha1/namespaces/{NS}/baremetalhosts")["items"]
    states = sorted(h["status"]["provisioning"]["state"] for h in items)
    assert states == ["available"] * LAB["spare_hosts"] + ["provisioned"] * N, states
    consumers = sorted((h["spec"].get("consumerRef") or {}).get("kind", "") for h in items)
    assert consumers == [""] * LAB["spare_hosts"] + ["Metal3Machine"] * N


def test_clusters_are_ready_and_machines_have_farm_nodes(host):
    clusters = get(host, f"/apis/cluster.x-k8s.io/v1beta1/namespaces/{NS}/clusters")["items"]
    assert len(clusters) == N
    for c in clusters:
        assert c["spec"]["controlPlaneEndpoint"]["host"] == "127.0.0.1"
        assert c["spec"]["controlPlaneEndpoint"]["port"] in FARM_PORTS
        assert {x["type"]: x["status"] for x in c["status"]["conditions"]}["Ready"] == "True"
    machines = get(host, f"/apis/cluster.x-k8s.io/v1beta1/namespaces/{NS}/machines")["items"]
    assert len(machines) == N
    assert all(m["status"]["nodeRef"]["name"] and m["spec"]["providerID"].startswith("metal3://") for m in machines)


def test_farm_lists_the_clusters_it_serves(host):
    out = host.run(
        "python3 -c %s",
        f"import urllib.request as u; print(u.urlopen('http://127.0.0.1:{LAB['farm_base']}/farm/servers').read().decode())",
    )
    assert out.rc == 0, out.stderr
    servers = json.loads(out.stdout)
    assert sorted(s["endpoint"] for s in servers) == [f"127.0.0.1:{p}" for p in FARM_PORTS]
    assert all(s["listening"] and s["nodes"] == 1 for s in servers), servers


def test_results_were_written(host):
    doc = json.loads(host.file(f"{lab_dir(host)}/results/{SET}/latest/{SET}.json").content_string)
    assert doc["summary"]["clusters_ready"] == N and doc["summary"]["hosts"] == N + LAB["spare_hosts"]
    assert doc["kinds"]["Metal3Machine"]["ready"] == N
    assert host.file(f"{lab_dir(host)}/results/{SET}/latest/{SET}.md").contains("Metal3Machine")


def test_kubeconfig_is_private(host):
    assert host.file(f"{lab_dir(host)}/admin.kubeconfig").mode == 0o600


def test_observability_stack_scrapes_every_component_and_kept_the_run(host):
    obs = LAB["observability_base"]
    check_stack(host, lab_dir(host), obs, f"{lab_dir(host)}/results/{SET}/latest/{SET}.json")
    active = get_json(host, f"http://127.0.0.1:{obs}/api/v1/targets?state=active")["data"]["activeTargets"]
    jobs = {t["labels"]["job"] for t in active}
    assert {"metal3-baremetal-operator", "metal3-capm3", "apiserver-farm", "kube-state-metrics"} <= jobs


def test_only_upstream_fixed_listeners_leave_loopback(host):
    # Upstream binds the managers' webhook servers (base+0) and the in-memory provider's workload API servers on
    # every address; everything of ours (BMO, CAPM3 metrics/health, the farm, observability) is on loopback.
    capi = LAB["capi_base"]
    webhooks = {
        ("capi-core", capi),
        ("capi-bootstrap", capi + 10),
        ("capi-control-plane", capi + 20),
        ("capi-in-memory", capi + 30),
        ("metal3-capm3", BASE + 10),
    }
    for program, addr in non_loopback_listeners(host, lab_dir(host)):
        port = int(addr.rsplit(":", 1)[1])
        assert (program, port) in webhooks or (program == "capi-in-memory" and port >= 19000), (program, addr)


def test_no_private_key_in_what_the_lab_writes(host):
    no_private_key_in_written_files(lab_dir(host))
