"""Testinfra verify of the hosts scenario: the Metal3 managers as supervised processes and the hosts they manage."""

from __future__ import annotations

import json

NAME = "molecule-metal3"
API = "https://127.0.0.1:47443"
BASE = 45450
# BMO: +1 health, +2 metrics (webhooks off). CAPM3: +11 health, +12 metrics/diagnostics (+10 webhook: every address).
LOOPBACK_PORTS = {"metal3-baremetal-operator": [BASE + 1, BASE + 2], "metal3-capm3": [BASE + 11, BASE + 12]}


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


def test_hosts_are_available_and_one_provisioned(host):
    items = get(host, "/apis/metal3.io/v1alpha1/namespaces/molecule-metal3/baremetalhosts")["items"]
    states = sorted(h["status"]["provisioning"]["state"] for h in items)
    assert states == ["available", "available", "available", "provisioned"], states


def test_host_results_were_written(host):
    doc = json.loads(host.file(f"{lab_dir(host)}/results/molecule-hosts.json").content_string)
    assert doc["summary"]["hosts"] == 4 and doc["summary"]["hosts_provisioned"] == 1
    assert host.file(f"{lab_dir(host)}/results/molecule-hosts.md").contains("BareMetalHost")


def test_kubeconfig_is_private(host):
    assert host.file(f"{lab_dir(host)}/admin.kubeconfig").mode == 0o600
