"""The bad-input catalogue: modules and roles given wrong types, out-of-range counts, colliding or invalid names,
unknown versions, unreachable or incomplete clusters, colliding or taken ports, a host that does not answer. Each is
refused with one message naming the option and its value, on the running lab, and leaves no object and no process
behind (the lab's processes are the same ones after).

Cases of other files count too: test_metal3 (bmh_bulk's), test_management_cluster (bind address, stack),
test_sweep (matrix), test_farm (prometheus_snapshot's).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from .lab import Lab, said

TOPOLOGY = {"class_name": "scalelab-in-memory", "version": "v1.35.4"}
SET = "itbad"
NOWHERE = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
    "users": [{"name": "u", "user": {}}],
    "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
    "current-context": "x",
}
# Catalogue rows kept for the notes: (where, input, message).
TRIED: list[tuple[str, str, str]] = []


def _nowhere() -> str:
    fd, path = tempfile.mkstemp(suffix=".kubeconfig")
    with os.fdopen(fd, "w") as f:
        json.dump(NOWHERE, f)
    return path


# module, arguments (KUBE is replaced by the lab's kubeconfig), what the message must say.
MODULE_CASES = [
    ("cluster_bulk", {"count": -1}, "count=-1 must be >= 0"),
    ("cluster_bulk", {"count": "many"}, "argument 'count' is of type str and we were unable to convert to int"),
    ("cluster_bulk", {"count": 2, "concurrency": 0}, "concurrency=0 must be >= 1"),
    ("cluster_bulk", {"count": 2, "burst": 0}, "burst=0 must be >= 1"),
    ("cluster_bulk", {"count": 2, "qps": -1}, "qps=-1.0 must be >= 0"),
    ("cluster_bulk", {"count": 2, "batch_size": -1}, "batch_size=-1 must be >= 0"),
    ("cluster_bulk", {"count": 2, "state": "gone"}, "value of state must be one of: absent, present, got: gone"),
    (
        "cluster_bulk",
        {"count": 2, "template": "kind: Cluster\n"},
        "parameters are mutually exclusive: template|topology",
    ),
    ("cluster_bulk", {"count": 2, "topology": None}, "state is present but any of the following are missing"),
    ("cluster_bulk", {"count": 3, "name_pattern": "{name}"}, "names must be unique"),
    ("cluster_bulk", {"count": 2, "name_pattern": "{name}_{index}"}, "not a DNS label"),
    ("cluster_bulk", {"count": 2, "name": "Bad_Name"}, "name='Bad_Name' must be a DNS label"),
    ("cluster_bulk", {"count": 2, "namespace": "Bad_NS"}, "namespace='Bad_NS' must be a DNS label"),
    ("cluster_bulk", {"count": 2, "topology": {**TOPOLOGY, "workers": -1}}, "topology.workers=-1 must be >= 0"),
    (
        "cluster_bulk",
        {"count": 2, "topology": {**TOPOLOGY, "control_plane_replicas": 0}},
        "topology.control_plane_replicas=0 must be >= 1",
    ),
    ("cluster_bulk", {"count": 1, "topology": {**TOPOLOGY, "version": "not-a-version"}}, "is refused"),
    (
        "cluster_bulk",
        {"count": 1, "topology": {**TOPOLOGY, "class_name": "no-such-class"}},
        "topology.class_name='no-such-class': no ClusterClass of that name in namespace default",
    ),
    ("cluster_bulk", {"count": 1, "topology": None, "template": "kind: Cluster\n"}, "lacks apiVersion or kind"),
    ("cluster_bulk", {"count": 1, "kubeconfig": "/nonexistent/admin.kubeconfig"}, "kubeconfig=/nonexistent/admin"),
    ("cluster_bulk", {"count": 1, "kubeconfig": "NOWHERE", "retry_timeout": 2}, "cannot reach https://127.0.0.1:1"),
    ("cluster_wait", {"count": -1}, "count=-1 must be >= 0"),
    ("cluster_wait", {"count": 2, "timeout": 0}, "timeout=0.0 must be > 0 (seconds)"),
    ("cluster_wait", {"count": 2, "stall_timeout": -5}, "stall_timeout=-5.0 must be > 0 (seconds)"),
    # The test lab has no Metal3 stack: its CRDs are missing.
    ("bmh_bulk", {"count": 2}, "serves no"),
    ("bmh_bulk", {"count": -2}, "count=-2 must be >= 0"),
    ("bmh_bulk", {"count": 2, "bmc_network": "not-a-cidr"}, "bmc_network='not-a-cidr'"),
    ("bmh_wait", {"count": 2, "provisioning_state": "flying"}, "value of provisioning_state must be one of"),
    ("prometheus_snapshot", {"max_points": 1}, "max_points=1 must be at least 2"),
    ("prometheus_snapshot", {"start": "20", "end": "10"}, "end=10.0 must be after start=20.0"),
    ("prometheus_snapshot", {"tail": -5}, "tail=-5.0 must not be negative"),
    ("scale_gate", {"gates": {"drift_pct": "five"}}, "gates.drift_pct='five' is not a number"),
    ("scale_gate", {"path": "/nonexistent.json", "gates": {"drift_pct": 5}}, "path=/nonexistent.json: cannot read"),
    ("scale_compare", {"baseline": "/nonexistent.json"}, "baseline=/nonexistent.json: cannot read"),
    ("prometheus_snapshot", {"start": "1795788309000"}, "start='1795788309000' looks like milliseconds"),
    ("prometheus_snapshot", {"end": str(int(time.time()) + 86400)}, "s in the future: Prometheus has no samples there"),
    ("prometheus_snapshot", {"url": "127.0.0.1:11490"}, "url='127.0.0.1:11490' must be an http(s) URL"),
    ("bmh_bulk", {"count": 2, "bmc_password": ""}, "bmc_password is empty: the BMC credential Secret BMO reads"),
    ("bmh_bulk", {"count": 2, "wait": {"count": 5}}, "wait.count=5 must be between 0 and count=2"),
    (
        "cluster_bulk",
        {"count": 1, "endpoint_pool": [{"host": "farm.example", "port_min": 30000, "port_max": 30010}]},
        "endpoint_pool[0].host='farm.example' must be an IP address",
    ),
    (
        "cluster_bulk",
        {"count": 2, "pacing": "adaptive", "batch_size": 1},
        "batch_size=1, batch_pause=0.0: pacing=adaptive sets its own pace; leave batch_size and batch_pause at 0",
    ),
    ("bmh_bulk", {"count": 2, "pacing_window": 0}, "pacing_window=0 must be >= 1"),
    ("scale_sizing", {}, "the runs hold 0 size(s) (none): a fit needs 3 or more sizes of runs with a Prometheus"),
    ("scale_sizing", {"min_sizes": 2}, "min_sizes=2 must be at least 3"),
    ("scale_sizing", {"targets": [1000, 0]}, "targets=[1000, 0] must be one or more positive numbers of objects"),
    ("scale_sizing", {"stated": {"capi-core": {"cpu_cores": 4}}}, "stated.capi-core={'cpu_cores': 4} must be a dict"),
    ("scale_sizing", {"runs_dir": "/nonexistent"}, "parameters are mutually exclusive: paths|runs_dir"),
    ("scale_sizing", {"paths": None, "runs_dir": "/nonexistent"}, "runs_dir=/nonexistent: no runs.jsonl with a run"),
    ("go_binary", {}, "go.mod is missing (a wrapper module is go.mod + go.sum)"),
    ("cluster_phase", {"phase": "scale_workers"}, "replicas=None: phase=scale_workers needs the worker replicas, >= 0"),
    ("cluster_phase", {"phase": "scale_workers", "replicas": -2}, "replicas=-2: phase=scale_workers needs"),
    ("lab_audit", {"ports": [70000]}, "ports=[70000]: a port is 1-65535"),
    ("lab_audit", {"dir": "/"}, "dir=/: the root or home directory is not a lab directory"),
    ("lab_audit", {"keep": ["results", ".."]}, "keep=['..']: an entry is a plain name in dir"),
]


def _module_args(lab: Lab, module: str, args: dict, tmp_path) -> dict:
    results = tmp_path / "r.json"
    results.write_text(json.dumps({"summary": {"drift_pct": 1.0}}))
    base = {
        "cluster_bulk": {"kubeconfig": lab.kubeconfig, "name": SET, "topology": TOPOLOGY},
        "cluster_wait": {"kubeconfig": lab.kubeconfig, "name": SET},
        "cluster_phase": {"kubeconfig": lab.kubeconfig, "name": SET},
        "bmh_bulk": {"kubeconfig": lab.kubeconfig, "name": SET, "namespace": SET},
        "bmh_wait": {"kubeconfig": lab.kubeconfig, "name": SET},
        "prometheus_snapshot": {"url": "http://127.0.0.1:11490", "start": "10", "end": "20", "path": str(results)},
        "scale_gate": {"path": str(results)},
        "scale_compare": {"path": str(results)},
        "scale_sizing": {"paths": [str(results)]},
        "lab_audit": {"dir": lab.dir},
        # A source directory without go.mod (the temporary directory of this test).
        "go_binary": {"src": str(tmp_path), "package": "./cmd/x", "dest": str(tmp_path / "x"), "version": "v0"},
    }[module]
    out = {**base, **args}
    if out.get("kubeconfig") == "NOWHERE":
        out["kubeconfig"] = _nowhere()
    return {k: v for k, v in out.items() if v is not None}


def _nothing_left(lab: Lab, pids: set[int]) -> None:
    assert set(lab.processes()) == pids, "a process came or went"
    assert lab.objects("/apis/cluster.x-k8s.io/v1beta2/clusters", f"scalelab.io/set={SET}") == []
    assert lab.request("GET", f"/api/v1/namespaces/{SET}").status_code == 404
    assert lab.objects("/api/v1/namespaces", f"scalelab.io/set={SET}") == []


@pytest.fixture(scope="module")
def catalogue():
    yield TRIED
    with open(os.path.join(tempfile.gettempdir(), "scalelab-bad-inputs.json"), "w") as f:
        json.dump(TRIED, f, indent=1)


@pytest.mark.parametrize(("module", "args", "message"), MODULE_CASES, ids=lambda v: str(v)[:40])
def test_a_bad_module_input_is_refused_naming_it_and_leaves_nothing(lab, catalogue, tmp_path, module, args, message):
    pids = set(lab.processes())
    res = lab.module(module, **_module_args(lab, module, args, tmp_path))
    assert res["rc"] != 0 and res.get("failed") is True, res
    assert message in res["msg"], res["msg"]
    assert "Traceback" not in res.get("module_stderr", "") + res["msg"]
    TRIED.append((module, json.dumps(args), res["msg"].splitlines()[0][:200]))
    _nothing_left(lab, pids)


def _taken_port() -> socket.socket:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s


# scale.yml with one bad variable on the running lab: refused by a preflight before anything changes.
PLAYBOOK_CASES = [
    ({"scale_scenario": "bogus"}, "value of scale_scenario must be one of: clusters, hosts, metal3, got: bogus"),
    ({"binaries_build_jobs": 0}, "binaries_build_jobs=0 must be a whole number from 1 to 8"),
    ({"scale_hosts": 2, "scale_hosts_provisioned": 5}, "scale_hosts_provisioned=5 must be <= scale_hosts=2"),
    (
        {"management_cluster_backend": "bogus"},
        "management_cluster_backend must be one of: host, kind, existing, got: bogus",
    ),
    (
        {"management_cluster_apiserver_port": 11379},
        "management_cluster_etcd_client_port and management_cluster_apiserver_port are both 11379",
    ),
    ({"management_cluster_controller_manager_port": "TAKEN"}, "management_cluster_controller_manager_port="),
    (
        {"management_cluster_etcd_bind_address": "10.0.0.1"},
        "management_cluster_etcd_bind_address=10.0.0.1 must be a loopback",
    ),
    # Only the condition that failed is said (the role's other checks hold).
    ({"capi_stack_kube_api_qps": -3}, "capi_stack: capi_stack_kube_api_qps=-3 must be a number > 0"),
    # Plain-HTTP listeners without authentication never leave loopback.
    ({"capi_stack_bind_address": "192.0.2.10"}, "capi_stack: capi_stack_bind_address=192.0.2.10 must be a loopback"),
    (
        {"observability_bind_address": "0.0.0.0"},
        "observability: observability_bind_address=0.0.0.0 must be a loopback address (Prometheus,",
    ),
]


@pytest.mark.parametrize(("extra", "message"), PLAYBOOK_CASES, ids=lambda v: str(v)[:40])
def test_a_bad_lab_variable_is_refused_before_anything_changes(lab, catalogue, extra, message):
    pids = set(lab.processes())
    held = None
    if "TAKEN" in extra.values():
        held = _taken_port()
        port = held.getsockname()[1]
        extra = {k: (port if v == "TAKEN" else v) for k, v in extra.items()}
        message += f"{port} is in use by another process (pid {os.getpid()}"
    lab.write_vars(**extra)
    try:
        res = lab.playbook("scale.yml")
    finally:
        lab.write_vars()
        if held:
            held.close()
    assert res["rc"] != 0, res["stdout"][-2000:]
    assert message in " ".join(res["stdout"].split()), res["stdout"][-3000:]
    assert res["recap"].get("changed", 0) == 0, said(res)
    TRIED.append(("scale.yml", json.dumps(extra), message))
    _nothing_left(lab, pids)


def test_a_farm_host_that_does_not_answer_stops_the_run_before_anything_changes(lab, catalogue, tmp_path):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        """all:
  children:
    management:
      hosts:
        localhost: {ansible_connection: local, ansible_python_interpreter: "{{ ansible_playbook_python }}"}
    farm:
      hosts:
        ghost-farm: {ansible_host: 127.0.0.1, ansible_port: 1, ansible_user: nobody, ansible_connection: ssh}
"""
    )
    pids = set(lab.processes())
    res = lab.playbook("scale.yml", "-i", str(inventory))
    assert res["rc"] != 0
    out = " ".join(res["stdout"].split())
    assert "ghost-farm (groups farm, ansible_host=127.0.0.1) does not answer" in out, res["stdout"][-3000:]
    assert "Scale lab" not in res["stdout"]  # the first play that changes anything never started
    TRIED.append(("scale.yml", "farm host ghost-farm at 127.0.0.1:1", "ghost-farm (groups farm, ...) does not answer"))
    _nothing_left(lab, pids)


@pytest.mark.parametrize("playbook", ["scale.yml", "sweep.yml", "capacity.yml", "teardown.yml"])
def test_an_inventory_without_a_management_host_is_refused_not_skipped(lab, catalogue, tmp_path, playbook):
    # A group named otherwise: every play on group management would be skipped and the run end "ok", doing nothing.
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        """all:
  children:
    mgmt:
      hosts:
        localhost: {ansible_connection: local}
"""
    )
    pids = set(lab.processes())
    res = lab.playbook(playbook, "-i", str(inventory))
    out = " ".join(res["stdout"].split())
    want = f"inventory {inventory} has no host in group management (its groups: mgmt)"
    assert res["rc"] != 0 and want in out, res["stdout"][-3000:]
    assert re.findall(r"^PLAY \[(.*)\]", res["stdout"], re.M) == ["Check the inventory"]
    TRIED.append((playbook, "inventory whose group is mgmt", want.replace(str(inventory), "<inventory>")))
    _nothing_left(lab, pids)


def test_a_host_without_the_python_libraries_stops_the_run_naming_them(lab, catalogue, tmp_path):
    # A bare venv: its interpreter has the standard library only, as a fresh host's python3 without pip installs.
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        f"""all:
  children:
    management:
      hosts:
        localhost: {{ansible_connection: local, ansible_python_interpreter: "{bare}/bin/python"}}
"""
    )
    pids = set(lab.processes())
    res = lab.playbook("scale.yml", "-i", str(inventory))
    assert res["rc"] != 0
    out = " ".join(res["stdout"].split())
    py = f"{bare}/bin/python"
    libs = "cryptography, kubernetes, matplotlib, plotly, requests, yaml"
    want = f"{py} lacks {libs} (for the tasks of groups management on localhost)"
    assert want in out and f'{py} -m pip install "cryptography>=41.0.0" "kubernetes>=29.0.0"' in out, res["stdout"][
        -3000:
    ]
    assert "Scale lab" not in res["stdout"]  # the first play that changes anything never started
    TRIED.append(("scale.yml", "management host whose python lacks the libraries", want.replace(str(bare), "<venv>")))
    _nothing_left(lab, pids)


# The playbooks' knobs (roles/scale), each refused by the first play - on this controller, before any host is
# touched - in one line naming the variable, its value and what is allowed: (playbook, extra vars, message).
_M3 = {"scale_scenario": "metal3", "binaries_stack": "capi-1.7"}
KNOB_CASES = [
    ("scale.yml", {"scale_clusters": "ten"}, 'scale_clusters="ten" must be a whole number'),
    ("scale.yml", {"scale_clusters": 2.5}, "scale_clusters=2.5 must be a whole number"),
    ("scale.yml", {"scale_clusters": True}, "scale_clusters=True must be from 0 to 100000"),
    ("scale.yml", {"scale_clusters": -1}, "scale_clusters=-1 must be from 0 to 100000"),
    ("scale.yml", {"scale_control_plane_replicas": 2}, "scale_control_plane_replicas=2 must be odd"),
    ("scale.yml", {"scale_control_plane_replicas": 0}, "scale_control_plane_replicas=0 must be from 1 to 9"),
    ("scale.yml", {"scale_workers": -1}, "scale_workers=-1 must be from 0 to 1000"),
    ("scale.yml", {"scale_qps": -3}, "scale_qps=-3 must be from 0 to 100000"),
    ("scale.yml", {"scale_qps": "fast"}, 'scale_qps="fast" must be a number'),
    ("scale.yml", {"scale_burst": 0}, "scale_burst=0 must be from 1 to 100000"),
    ("scale.yml", {"scale_concurrency": 1000}, "scale_concurrency=1000 must be from 1 to 256"),
    ("scale.yml", {"scale_batch_size": -5}, "scale_batch_size=-5 must be from 0 to 100000"),
    ("scale.yml", {"scale_batch_pause": -1}, "scale_batch_pause=-1 must be from 0 to 3600"),
    ("scale.yml", {"scale_wait_timeout": "30m"}, 'scale_wait_timeout="30m" must be a whole number'),
    ("scale.yml", {"scale_wait_timeout": 0}, "scale_wait_timeout=0 must be from 1 to 86400"),
    ("scale.yml", {"scale_hosts": -1}, "scale_hosts=-1 must be from 0 to 100000"),
    ("scale.yml", {"scale_set_name": "Bad_Set"}, "scale_set_name=Bad_Set must be a DNS label"),
    (
        "scale.yml",
        {"scale_set_name": "s" * 41},
        "a DNS label (lowercase letters, digits and -) of 1-40 characters",
    ),
    ("scale.yml", {"scale_namespace": "Bad NS"}, "scale_namespace=Bad NS must be a DNS label"),
    ("scale.yml", {"scale_hosts_namespace": ""}, "scale_hosts_namespace= must be a DNS label"),
    (
        "scale.yml",
        {"scale_kubernetes_version": "1.35"},
        "scale_kubernetes_version=1.35 must be empty",
    ),
    (
        "scale.yml",
        {"scale_hosts_image": {"url": "127.0.0.1/x.qcow2", "checksum": "http://127.0.0.1/x.sha256sum"}},
        "must have url and checksum, http(s) URLs",
    ),
    ("scale.yml", {"scale_observability": "maybe"}, 'scale_observability="maybe" must be true or false'),
    ("scale.yml", {"scale_slo_gates": "p99<5"}, 'scale_slo_gates="p99<5" must be a mapping'),
    (
        "scale.yml",
        {"scale_slo_gates": {"drift_pc": 5, "drift_pct": 5, "cpu_cores_max.capi-core": 1}},
        "scale_slo_gates names drift_pc: not a metric of the results; the metrics are ",
    ),
    ("scale.yml", {"scale_tolerance_pct": -5}, "scale_tolerance_pct=-5 must be from 0 to 1000"),
    ("scale.yml", {"scale_snapshot_tail": -1}, "scale_snapshot_tail=-1 must be from 0 to 3600"),
    (
        "scale.yml",
        {"scale_scenario": "hosts", "binaries_stack": "capi-1.14"},
        "scale_scenario=hosts needs binaries_stack=capi-1.7 ",
    ),
    (
        "scale.yml",
        {**_M3, "scale_clusters": 3, "scale_metal3_hosts": 2},
        "scale_metal3_hosts=2 must be 0 (one host per machine) or >= 3",
    ),
    (
        "scale.yml",
        {"scale_pacing": "adaptive", "scale_batch_size": 10},
        "scale_batch_size=10, scale_batch_pause=0: scale_pacing=adaptive sets its own pace; leave both at 0",
    ),
    ("scale.yml", {"scale_pacing": "vegas"}, "scale_pacing must be one of: fixed, adaptive, got: vegas"),
    (
        "scale.yml",
        {"scale_clusters": -1, "scale_qps": -3},
        "scale_clusters=-1 must be from 0 to 100000; scale_qps=-3 must be",
    ),
    ("sweep.yml", {"scale_sweep_matrix": {"scale_clusters": []}}, "must map each knob to a non-empty list of values"),
    (
        "sweep.yml",
        {"scale_sweep_matrix": {"scale_clusters": [1, 2, 3, 4, 5], "capi_stack_concurrency": [1, 2, 3, 4]}},
        "makes 20 points, at most 16",
    ),
    (
        "sweep.yml",
        {"sweep_matrix": {"scale_clusters": [1]}},
        "sweep_matrix and sweep_name are now scale_sweep_",
    ),
    ("sweep.yml", {"scale_sweep_name": "Sweep!"}, "scale_sweep_name=Sweep! must be a DNS label"),
    ("teardown.yml", {"scale_delete_timeout": 0}, "scale_delete_timeout=0 must be from 1 to 86400"),
    (
        "capacity.yml",
        {"scale_capacity_gates": {"drift_percent": 5}, "scale_capacity_rate": 500},
        "scale_capacity_rate=500 must be at most scale_capacity_rate_max=240; scale_capacity_gates names drift_percent",
    ),
    ("capacity.yml", {"scale_capacity_sizes": []}, "scale_capacity_sizes=[] must be a non-empty list of whole numbers"),
    ("capacity.yml", {"scale_capacity_memory_budget": 2}, "scale_capacity_memory_budget=2 must be from 0.05 to 1"),
    (
        "scale.yml",
        {"scale_phases": [{"name": "rollout", "version": "v1.35.5"}]},
        "last at most one {name: delete} (optional gates, baseline): rollout takes no version",
    ),
    (
        "scale.yml",
        {"scale_phases": [{"name": "scale_workers", "replicas": -1}]},
        'scale_phases=[{"name": "scale_workers", "replicas": -1}] must be a list of {name: upgrade, version: like '
        "v1.35.5} or {name: rollout} or {name: scale_workers, replicas: 0 or more}",
    ),
    (
        "scale.yml",
        {"scale_phases": [{"name": "delete", "baseline": ""}]},
        'delete baseline="": needs a results JSON path or previous',
    ),
    (
        "scale.yml",
        {"scale_phases": [{"name": "delete"}, {"name": "scale_workers", "replicas": 1}]},
        "and last at most one {name: delete} (optional gates, baseline)",
    ),
    (
        "scale.yml",
        {"scale_phases": [{"name": "scale_workers", "replicas": 2}, {"name": "scale_workers", "replicas": 0}]},
        "each name at most once (a phase's mark on a cluster is per name)",
    ),
    (
        "scale.yml",
        {"scale_phases": [{"name": "upgrade", "version": "v1.35.5", "gates": {"p99": 1}}]},
        "phases run on scale_scenario=clusters or metal3 (got clusters), their gates on the metrics of the results",
    ),
    (
        "scale.yml",
        {"scale_scenario": "hosts", "binaries_stack": "capi-1.7", "scale_phases": [{"name": "rollout"}]},
        "phases run on scale_scenario=clusters or metal3 (got hosts)",
    ),
    # A Metal3 set's upgrade makes each replacement Machine on a spare host first: none, and it would wait forever.
    (
        "scale.yml",
        {
            "scale_scenario": "metal3",
            "binaries_stack": "capi-1.7",
            "scale_clusters": 2,
            "scale_phases": [{"name": "upgrade", "version": "v1.35.5"}, {"name": "scale_workers", "replicas": 1}],
        },
        'scale_metal3_hosts=0 must be >= 5 for scale_phases=[{"name": "upgrade", "version": "v1.35.5"}, {"name": '
        '"scale_workers", "replicas": 1}]: a host per Machine of the set\'s largest shape, and one spare',
    ),
    (
        "scale.yml",
        {
            "scale_scenario": "metal3",
            "binaries_stack": "capi-1.7",
            "scale_clusters": 4,
            "scale_metal3_hosts": 4,
            "scale_phases": [{"name": "rollout"}],
        },
        'scale_metal3_hosts=4 must be >= 5 for scale_phases=[{"name": "rollout"}]',
    ),
    # The teardown's management cluster goes last: its bad option stops the teardown before the clusters go.
    (
        "teardown.yml",
        {"management_cluster_keep": ["results", "../etc"]},
        'management_cluster_keep=["results", "../etc"] must be a list of plain names of entries',
    ),
    ("teardown.yml", {"management_cluster_keep": "results"}, 'management_cluster_keep="results" must be a list'),
    (
        "capacity.yml",
        {"scale_observability": False},
        "capacity.yml judges each step by its Prometheus snapshot (scale_observability true, the host backend)",
    ),
]


@pytest.fixture(scope="module")
def knob_runs(lab, tmp_path_factory):
    """(the lab's processes before, each KNOB_CASES run and its seconds): two at a time - each is a ~2 s refusal on
    this controller, its variables in a file of its own beside the lab's - so the catalogue takes half as long."""
    pids = set(lab.processes())
    tmp = tmp_path_factory.mktemp("knobs")

    def run(i: int) -> tuple[dict, float]:
        playbook, extra, _message = KNOB_CASES[i]
        path = tmp / f"knob-{i}.json"
        path.write_text(json.dumps(extra))
        started = time.monotonic()
        res = lab.playbook(playbook, "-e", f"@{path}")
        return res, time.monotonic() - started

    with ThreadPoolExecutor(max_workers=2) as pool:
        return pids, list(pool.map(run, range(len(KNOB_CASES))))


@pytest.mark.parametrize(
    ("index", "playbook", "extra", "message"),
    [(i, *case) for i, case in enumerate(KNOB_CASES)],
    ids=lambda v: str(v)[:40],
)
def test_a_bad_knob_is_refused_in_seconds_before_any_host_is_touched(
    lab, catalogue, knob_runs, index, playbook, extra, message
):
    pids, runs = knob_runs
    res, seconds = runs[index]
    out = " ".join(res["stdout"].split())
    assert res["rc"] != 0, res["stdout"][-2000:]
    assert message in out, res["stdout"][-3000:]
    # The first play refused it: no other play started, nothing changed, and the whole line is one line.
    plays = re.findall(r"^PLAY \[(.*)\]", res["stdout"], re.M)
    assert plays == ["Check the inventory", "Check the knobs"], res["stdout"][-3000:]
    assert res["recap"].get("changed", 0) == 0, said(res)
    assert any(message in line for line in res["stdout"].splitlines()), "the message spans lines"
    assert seconds < 10, f"refused after {seconds:.1f} s"
    TRIED.append((playbook, json.dumps(extra), message, round(seconds, 1)))
    _nothing_left(lab, pids)
