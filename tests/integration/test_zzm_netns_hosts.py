"""Labs beyond one machine, on five hosts made here as network namespaces (hack/netns-hosts: a veth on a bridge and
an sshd each, reached over SSH like remote machines): two management clusters run the metal3 scenario at once,
each with its apiserver on its own address, three farm hosts without a management cluster serve their clusters
(dealt round-robin: mgmt-1 <- farm-1, farm-3; mgmt-2 <- farm-2), and the two results are merged on the controller.

Runs between the two single-host labs (after test_zz_teardown, before test_zzz_*): nothing here listens outside
the namespaces, and the in-memory provider's fixed ports are per namespace."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time

import pytest
import requests
import yaml

from .lab import BIN, ROOT, Lab, listeners_of

NETNS = os.path.join(ROOT, "hack", "netns-hosts")
ADDR = {
    "mgmt-1": "10.77.0.11",
    "mgmt-2": "10.77.0.12",
    "farm-1": "10.77.0.13",
    "farm-2": "10.77.0.14",
    "farm-3": "10.77.0.15",
}
SERVES = {"mgmt-1": ["farm-1", "farm-3"], "mgmt-2": ["farm-2"]}
FARMS = ("farm-1", "farm-2", "farm-3")
SET, HOSTS_SET, NS = "nm3", "nm3h", "netns-m3"
VARS = {
    "binaries_stack": "capi-1.7",
    "scale_scenario": "metal3",
    "scale_clusters": 2,
    # Prometheus and friends on both management hosts would double the converge; lab17 covers them.
    "scale_observability": False,
    "scale_set_name": SET,
    "scale_hosts_set_name": HOSTS_SET,
    "scale_hosts_namespace": NS,
    "apiserver_farm_node_heartbeat": "5s",
}
CAPI = "/apis/cluster.x-k8s.io/v1beta1"
INFRA = "/apis/infrastructure.cluster.x-k8s.io/v1beta1"


class Management(Lab):
    """A management cluster on a namespace host: its directory is on the shared filesystem, its API on its address."""

    def __init__(self, host: str, tmp_dir: str):
        super().__init__(f"netns-{host}", tmp_dir, {"apiserver": 6443})
        self.host = host

    @property
    def api(self) -> str:
        return f"https://{ADDR[self.host]}:6443"


def farm_dir(host: str) -> str:
    return os.path.expanduser(f"~/.local/share/scalelab/farm-{host}")


def netns_pids(i: int) -> list[int]:
    out = subprocess.run(["ip", "netns", "pids", f"sl-h{i}"], capture_output=True, text=True, check=True).stdout
    return [int(p) for p in out.split()]


def comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


@pytest.fixture(scope="module")
def netns_lab(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("netns"))
    env = dict(os.environ, NETNS_STATE=os.path.join(tmp, "state"), NETNS_PYTHON=os.path.join(BIN, "python"))
    subprocess.run(["bash", os.path.join(NETNS, "down.sh")], env=env, check=True)  # an interrupted run's hosts
    up = subprocess.run(["bash", os.path.join(NETNS, "up.sh"), "5", "2"], env=env, capture_output=True, text=True)
    assert up.returncode == 0, up.stdout + up.stderr
    inventory = os.path.join(env["NETNS_STATE"], "hosts.yml")
    merged = os.path.join(tmp, "merged")
    lab = Lab("netns", tmp, {}, {})
    # Only the scenario's vars: extra vars would override each host's management_cluster_name (its directory).
    lab.vars = {**VARS, "scale_merged_results_dir": merged}
    lab.write_vars()
    lab.inventory, lab.merged = inventory, merged
    lab.mgmt = {h: Management(h, tmp) for h in SERVES}
    # Directories an interrupted run left on the shared filesystem (their processes went with the namespaces).
    if any(os.path.exists(d) for d in [m.dir for m in lab.mgmt.values()] + [farm_dir(f) for f in FARMS]):
        assert lab.playbook("teardown.yml", "-i", inventory)["rc"] == 0
    started = time.monotonic()
    lab.converge = lab.playbook("scale.yml", "-i", inventory)
    lab.converge_seconds = time.monotonic() - started
    assert lab.converge["rc"] == 0, lab.converge["stdout"][-5000:] + lab.converge["stderr"][-2000:]
    yield lab
    subprocess.run(["bash", os.path.join(NETNS, "down.sh")], env=env, check=True)


def test_both_management_clusters_run_the_scenario_with_the_farms_dealt_to_them(netns_lab, tmp_path):
    for host, farms in SERVES.items():
        mgmt = netns_lab.mgmt[host]
        clusters = mgmt.objects(f"{CAPI}/namespaces/{NS}/clusters", f"scalelab.io/set={SET}")
        assert sorted(c["metadata"]["name"] for c in clusters) == [f"{SET}-0001", f"{SET}-0002"]
        for c in clusters:
            ready = {x["type"]: x["status"] for x in c["status"]["conditions"]}
            assert ready["Ready"] == "True", (host, c["status"])
        # cluster_bulk's endpoint_pool: cluster i on farm (i-1) % n of this management cluster's farms.
        m3c = sorted(mgmt.objects(f"{INFRA}/namespaces/{NS}/metal3clusters"), key=lambda m: m["metadata"]["name"])
        endpoints = [(m["metadata"]["name"], m["spec"]["controlPlaneEndpoint"]) for m in m3c]
        expected_hosts = [ADDR[farms[0]], ADDR[farms[1 % len(farms)]]]
        assert [e["host"] for _, e in endpoints] == expected_hosts, (host, endpoints)
        for m in mgmt.objects(f"{CAPI}/namespaces/{NS}/machines"):
            cluster = m["metadata"]["labels"]["cluster.x-k8s.io/cluster-name"]
            url, kw = mgmt.workload(NS, cluster, tmp_path)
            assert url.split("//")[1].split(":")[0] in [ADDR[f] for f in farms]
            node = requests.get(f"{url}/api/v1/nodes/{m['status']['nodeRef']['name']}", **kw)
            assert node.status_code == 200, node.text
            assert node.json()["spec"]["providerID"] == m["spec"]["providerID"]
    assert netns_lab.converge_seconds > 0
    print(f"netns lab converge: {netns_lab.converge_seconds:.0f}s")


def test_each_farm_runs_on_its_own_host_in_its_own_supervisord(netns_lab):
    ours = os.readlink("/proc/self/ns/net")
    with open(os.path.expanduser("~/.cache/scalelab/bin/apiserver-farm/apiserver-farm"), "rb") as f:
        built = hashlib.sha256(f.read()).hexdigest()
    for i, farm in enumerate(FARMS, start=3):
        addr, d = ADDR[farm], farm_dir(farm)
        servers = requests.get(f"http://{addr}:9480/farm/servers", timeout=10).json()
        served_by = next(m for m, fs in SERVES.items() if farm in fs)
        assert servers and all(s["endpoint"].startswith(f"{addr}:") and s["listening"] for s in servers), servers
        assert all(s["nodes"] == 1 for s in servers), servers
        # The farm's own supervisord (no management cluster here), the binary the controller built, the
        # kubeconfig of the management cluster it serves (0600, its API on that host's address).
        sup = subprocess.run(
            [f"{d}/venv/bin/supervisorctl", "-c", f"{d}/supervisor/supervisord.conf", "pid", "apiserver-farm"],
            capture_output=True,
            text=True,
        )
        pid = int(sup.stdout.strip())
        assert pid in netns_pids(i) and os.readlink(f"/proc/{pid}/ns/net") != ours
        with open(f"{d}/apiserver-farm", "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == built
        assert os.stat(f"{d}/management.kubeconfig").st_mode & 0o777 == 0o600
        with open(f"{d}/management.kubeconfig") as f:
            assert yaml.safe_load(f)["clusters"][0]["cluster"]["server"] == f"https://{ADDR[served_by]}:6443"
        addrs = listeners_of(pid)
        assert f"{addr}:30000" in addrs and f"{addr}:9480" in addrs and "127.0.0.1:9481" in addrs, addrs
        assert [a for a in addrs if not a.startswith((f"{addr}:", "127.0.0.1:"))] == [], addrs


def test_results_are_merged_over_both_management_clusters(netns_lab):
    with open(os.path.join(netns_lab.merged, f"{SET}.json")) as f:
        doc = json.load(f)
    assert doc["run"]["management_clusters"] == ["mgmt-1", "mgmt-2"]
    s = doc["summary"]
    assert (s["clusters"], s["clusters_ready"], s["hosts"], s["hosts_provisioned"]) == (4, 4, 4, 4)
    assert s["cluster_p50_seconds"] > 0
    assert doc["kinds"]["Metal3Machine"]["count"] == 4 and doc["kinds"]["Metal3Machine"]["ready"] == 4
    for host in SERVES:
        assert doc["sources"][host]["summary"]["clusters_ready"] == 2
        with open(os.path.join(netns_lab.merged, f"{SET}-{host}.json")) as f:
            own = json.load(f)
        assert own["run"]["farms"] == [{"host": ADDR[f], "port_min": 30000, "port_max": 30999} for f in SERVES[host]]
    # Percentiles over every cluster, not an average of the two: the merged max is the larger of the two.
    assert s["cluster_max_seconds"] == max(doc["sources"][h]["summary"]["cluster_max_seconds"] for h in SERVES)
    with open(os.path.join(netns_lab.merged, f"{SET}.md")) as f:
        md = f.read()
    assert md.startswith("# Scale results: mgmt-1, mgmt-2") and "| mgmt-2 | 2 | 2 |" in md
    assert "merged report of mgmt-1, mgmt-2" in netns_lab.converge["stdout"]


def test_teardown_leaves_nothing_on_any_host(netns_lab):
    res = netns_lab.playbook("teardown.yml", "-i", netns_lab.inventory)
    assert res["rc"] == 0, res["stdout"][-4000:] + res["stderr"][-2000:]
    for mgmt in netns_lab.mgmt.values():
        assert not os.path.exists(mgmt.dir) and mgmt.processes() == []
    for farm in FARMS:
        assert not os.path.exists(farm_dir(farm))
    # Only each host's sshd (and Ansible's persistent SSH session) is left in the namespaces.
    for i in range(1, 6):
        assert {comm(p) for p in netns_pids(i)} <= {"sshd", ""}, (i, [comm(p) for p in netns_pids(i)])
