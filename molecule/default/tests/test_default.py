"""Testinfra verify of the host management cluster and the clusters scenario made by converge."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "common"))
from observability_checks import check_stack, no_private_key_in_written_files, non_loopback_listeners  # noqa: E402

# The lab to verify: molecule's default scenario (molecule.yml), or the one SCALELAB_VERIFY names (JSON with these
# keys; tests/quickstart verifies the default inventory's clusters lab with it). observability_base: the
# observability stack's port base, null when the converge ran without it (scale_observability=false).
LAB = {
    "name": "molecule",
    "etcd_ports": [13379, 13380, 13381],
    "apiserver_port": 13443,
    "controller_manager_port": 13257,
    "capi_base": 13400,
    "set": "molecule",
    "clusters": 2,
    "observability_base": None,
} | json.loads(os.environ.get("SCALELAB_VERIFY", "{}"))
NAME, SET, N = LAB["name"], LAB["set"], LAB["clusters"]
PORTS = {
    "etcd": LAB["etcd_ports"],
    "kube-apiserver": [LAB["apiserver_port"]],
    "kube-controller-manager": [LAB["controller_manager_port"]],
}
# Cluster API managers: base + 10*i; +1 health, +2 metrics, +3 pprof on loopback (+0 webhook: upstream binds all).
MANAGERS = {
    m: LAB["capi_base"] + 10 * i
    for i, m in enumerate(["capi-core", "capi-bootstrap", "capi-control-plane", "capi-in-memory"])
}


def lab_dir(host):
    return f"{host.user().home}/.local/share/scalelab/{NAME}"


def supervisorctl(host, *args):
    d = lab_dir(host)
    return host.run(f"{d}/venv/bin/supervisorctl -c {d}/supervisor/supervisord.conf " + " ".join(args))


# Runs on the target with its own Python: stdlib urllib and ssl, client certificate auth.
_CLIENT = """
import json, ssl, sys, urllib.request, urllib.error
d, port, method, path, body = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=d + "/pki/ca.crt")
ctx.load_cert_chain(d + "/pki/admin.crt", d + "/pki/admin.key")
req = urllib.request.Request("https://127.0.0.1:" + port + path, method=method, data=body.encode() or None,
                             headers={"Content-Type": "application/json"})
try:
    with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
        status, content = r.status, r.read().decode()
except urllib.error.HTTPError as e:
    status, content = e.code, e.read().decode()
print(json.dumps({"status": status, "content": content}))
"""


def api(host, method, path, body=None):
    res = host.run(
        "python3 -c %s %s %s %s %s %s",
        _CLIENT,
        lab_dir(host),
        str(LAB["apiserver_port"]),
        method,
        path,
        json.dumps(body) if body else "",
    )
    assert res.rc == 0, res.stderr
    out = json.loads(res.stdout)
    with contextlib.suppress(ValueError):
        out["json"] = json.loads(out["content"])
    return out


def test_processes_are_running(host):
    out = supervisorctl(host, "status").stdout
    for program in PORTS:
        assert any(line.startswith(program) and "RUNNING" in line for line in out.splitlines()), out


def test_every_listener_is_loopback_only(host):
    sockets = host.socket.get_listening_sockets()
    manager_ports = [[b + 1, b + 2, b + 3] for b in MANAGERS.values()]
    for ports in [*PORTS.values(), *manager_ports]:
        for port in ports:
            bound = [s for s in sockets if s.endswith(f":{port}")]
            assert bound == [f"tcp://127.0.0.1:{port}"], bound


def test_api_reports_the_pinned_version(host):
    roles = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "binaries")
    with open(os.path.join(roles, "defaults", "main.yml")) as f:
        stack = yaml.safe_load(f)["binaries_stack"]
    with open(os.path.join(roles, "vars", "stacks.yml")) as f:
        pinned = yaml.safe_load(f)["_binaries_stacks"][stack]["versions"]["kubernetes"]
    assert api(host, "GET", "/version")["json"]["gitVersion"] == pinned
    assert api(host, "GET", "/readyz")["content"] == "ok"


def test_namespace_lifecycle_proves_the_controller_manager(host):
    assert api(host, "POST", "/api/v1/namespaces", {"metadata": {"name": "molecule-verify"}})["status"] == 201
    assert api(host, "DELETE", "/api/v1/namespaces/molecule-verify")["status"] == 200
    for _dummy in range(60):
        if api(host, "GET", "/api/v1/namespaces/molecule-verify")["status"] == 404:
            return
        time.sleep(1)
    raise AssertionError("namespace molecule-verify was never finalized")


def test_private_files_are_0600(host):
    d = lab_dir(host)
    paths = [f"{d}/admin.kubeconfig", f"{d}/controller-manager.kubeconfig", f"{d}/supervisor/supervisor.sock"]
    paths += [f"{d}/pki/{k}.key" for k in ("ca", "apiserver", "admin", "sa", "front-proxy-ca")]
    for path in paths:
        assert host.file(path).mode == 0o600, path
    assert host.file(d).mode == 0o700


def test_cluster_api_managers_run_and_are_ready(host):
    out = supervisorctl(host, "status").stdout
    for program, base in MANAGERS.items():
        assert any(line.startswith(program) and "RUNNING" in line for line in out.splitlines()), out
        assert (
            host.run(f"python3 -c \"import urllib.request as u; u.urlopen('http://127.0.0.1:{base + 1}/readyz')\"").rc
            == 0
        )


def test_the_main_job_clusters_are_available(host):
    clusters = api(
        host, "GET", f"/apis/cluster.x-k8s.io/v1beta2/namespaces/default/clusters?labelSelector=scalelab.io/set={SET}"
    )
    items = clusters["json"]["items"]
    assert len(items) == N
    for c in items:
        assert {x["type"]: x["status"] for x in c["status"]["conditions"]}["Available"] == "True"


def test_results_were_written(host):
    doc = json.loads(host.file(f"{lab_dir(host)}/results/{SET}/latest/{SET}.json").content_string)
    assert doc["kinds"]["Cluster"]["count"] == N and doc["kinds"]["Cluster"]["ready"] == N
    assert host.file(f"{lab_dir(host)}/results/{SET}/latest/{SET}.md").contains("Cluster")


def test_the_run_is_kept_with_its_identity(host):
    runs_dir = f"{lab_dir(host)}/results/{SET}"
    runs = [json.loads(line) for line in host.file(f"{runs_dir}/runs.jsonl").content_string.splitlines()]
    assert len(runs) == 1, runs  # one converge, one run
    (run,) = runs
    assert host.file(f"{runs_dir}/latest").linked_to == f"{runs_dir}/{run['id']}"
    doc = json.loads(host.file(f"{runs_dir}/{run['path']}").content_string)
    # Its window starts at cluster_bulk's first write, before the first cluster was created (whole seconds).
    assert run["started"] and doc["run"]["started"] == run["started"] and run["ended"] > run["started"]
    assert run["started"][:19] <= doc["kinds"]["Cluster"]["first_created"][:19], (run, doc["kinds"]["Cluster"])
    assert run["summary"] == doc["summary"] and run["summary"]["clusters_ready"] == N
    assert run["machine"]["cores"] >= 1 and run["machine"]["memory_bytes"] > 0 and len(run["machine"]["load"]) == 3
    with open(os.path.join(os.path.dirname(__file__), "..", "..", "..", "galaxy.yml")) as f:
        assert run["collection"]["version"] == yaml.safe_load(f)["version"]
    assert len(run["collection"]["commit"]) == 40, run["collection"]


def test_webhook_key_is_private(host):
    assert host.file(f"{lab_dir(host)}/capi/pki/ca.key").mode == 0o600
    assert host.file(f"{lab_dir(host)}/capi/pki/webhook/tls.key").mode == 0o600


def test_the_results_hold_a_snapshot_exactly_when_the_observability_stack_ran(host):
    results = f"{lab_dir(host)}/results/{SET}/latest/{SET}.json"
    if LAB["observability_base"] is None:
        doc = json.loads(host.file(results).content_string)
        assert "prometheus" not in doc and "profiles" not in doc and doc["kinds"]["Cluster"]["ready"] == N
        assert not host.file(f"{lab_dir(host)}/observability").exists
    else:
        check_stack(host, lab_dir(host), LAB["observability_base"], results)
    assert host.file(f"{lab_dir(host)}/results/{SET}/latest/{SET}-report/report.html").exists


def test_only_upstream_fixed_listeners_leave_loopback(host):
    # Upstream binds the managers' webhook servers (base+0) and the in-memory provider's workload API servers
    # (19000, 20000 up) on every address; everything of ours is on loopback.
    webhooks = {f"{p}:{b}" for p, b in MANAGERS.items()}
    for program, addr in non_loopback_listeners(host, lab_dir(host)):
        port = int(addr.rsplit(":", 1)[1])
        assert f"{program}:{port}" in webhooks or (program == "capi-in-memory" and port >= 19000), (program, addr)


def test_no_private_key_in_what_the_lab_writes(host):
    no_private_key_in_written_files(lab_dir(host))
